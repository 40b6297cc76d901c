"""Training of the projection models: the autoencoder first, then the conditional flow on its frozen codes.

Both stages share one optimisation loop: seeded per step (the batch and the noise of step t depend only on
(seed, t)), cosine learning rate, gradient clipping, and an atomic checkpoint every few steps, so a killed
run resumed from its checkpoint ends with the same weights as an uninterrupted one.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn
from tqdm import tqdm

from ganalyze.atomic import write_json
from ganalyze.checkpoint import check_resumable, config_fingerprint, load_checkpoint, save_checkpoint
from ganalyze.errors import ConfigError
from ganalyze.projection.autoencoder import AutoEncoder
from ganalyze.projection.broadcast import build_autoencoder, load_autoencoder
from ganalyze.projection.datasets import LabelledImages
from ganalyze.projection.flow import ConditionalFlow, standard_normal_log_prob
from ganalyze.projection.model import ProjectionModel
from ganalyze.projection.nuisance_flow import NuisanceFlow
from ganalyze.projection.object_centred import TRAINING_KEYS

LossFn = Callable[[torch.Generator], dict[str, torch.Tensor]]
LogFn = Callable[[int, dict[str, float]], None]


def cosine_lr(step: int, steps: int, lr: float) -> float:
    """Learning rate at ``step``: cosine decay from ``lr`` to 0 over ``steps``."""
    return 0.5 * lr * (1 + math.cos(math.pi * step / steps))


def step_generator(seed: int, step: int) -> torch.Generator:
    """The random stream of one training step: a function of (seed, step) only, so resuming is exact."""
    return torch.Generator().manual_seed(seed * 1_000_003 + step)


def optimise(name: str, model: nn.Module, loss_fn: LossFn, cfg: dict[str, Any], checkpoint: Path,
             identity: dict[str, Any], log: LogFn | None = None) -> None:
    """Adam on ``model`` for cfg['steps'] steps of ``loss_fn``, resuming from ``checkpoint`` if it exists.

    ``identity`` is the config that defines the result (data, model, training); resuming a checkpoint made
    under another one is refused with a ConfigError naming the differences.
    """
    steps, lr, seed = int(cfg["steps"]), float(cfg["lr"]), int(cfg["seed"])
    every = int(cfg.get("checkpoint_every", 500))
    opt = torch.optim.Adam(model.parameters(), lr=lr)
    start = 0
    if checkpoint.is_file():
        state = load_checkpoint(checkpoint)
        check_resumable(state, identity, checkpoint)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        start = int(state["step"])
    model.train()
    bar = tqdm(range(start, steps), desc=name, initial=start, total=steps, mininterval=5.0)
    for step in bar:
        for group in opt.param_groups:
            group["lr"] = cosine_lr(step, steps, lr)
        parts = loss_fn(step_generator(seed, step))
        opt.zero_grad(set_to_none=True)
        parts["loss"].backward()
        nn.utils.clip_grad_norm_(model.parameters(), float(cfg.get("clip", 10.0)))
        opt.step()
        if step % 50 == 0:
            values = {k: float(v.detach()) for k, v in parts.items()}
            bar.set_postfix({k: f"{v:.4g}" for k, v in values.items()})
            if log is not None:
                log(step, {f"{name}/{k}": v for k, v in values.items()})
        if (step + 1) % every == 0 or step + 1 == steps:
            save_checkpoint({"model": model.state_dict(), "optimizer": opt.state_dict(), "step": step + 1,
                             "config_fingerprint": config_fingerprint(identity), "config_json": json.dumps(identity)}, checkpoint)
    model.eval()


def random_rows(n_rows: int, batch_size: int, gen: torch.Generator) -> torch.Tensor:
    """A batch of row indices drawn uniformly with replacement."""
    return torch.randint(n_rows, (batch_size,), generator=gen)


def start_from(ae: AutoEncoder, folder: Path) -> None:
    """Copy the weights of a trained autoencoder of the same architecture into ``ae`` (training continues from them;
    an object-centred one may continue under other TRAINING_KEYS, e.g. with degrade_weight turned on)."""
    trained = load_autoencoder(folder)
    architecture = lambda config: {k: v for k, v in config.items() if k not in TRAINING_KEYS}  # noqa: E731
    if architecture(trained.config) != architecture(ae.config):
        raise ConfigError(f"autoencoder.init={str(folder)!r} holds an autoencoder of {trained.config}, not the configured "
                          f"{ae.config}; give the model/autoencoder folder of a run with the same autoencoder.model.")
    ae.load_state_dict(trained.state_dict())


def train_autoencoder(data: LabelledImages, stage: dict[str, Any], identity: dict[str, Any], run: Path,
                      log: LogFn | None = None) -> AutoEncoder:
    """Fit the autoencoder to the union of the data sets (labels unused); saved to run/model/autoencoder."""
    model_cfg, cfg = stage["model"], stage["train"]
    torch.manual_seed(int(cfg["seed"]))
    ae = build_autoencoder(model_cfg)
    if stage.get("init"):
        start_from(ae, Path(stage["init"]))
    kl_weight, batch_size = float(cfg["kl_weight"]), int(cfg["batch_size"])

    def loss(gen: torch.Generator) -> dict[str, torch.Tensor]:
        images, _ = data.batch(random_rows(len(data), batch_size, gen))
        return ae.loss(images, kl_weight, generator=gen)

    optimise("autoencoder", ae, loss, cfg, run / "checkpoints" / "autoencoder.pt", identity, log)
    ae.save_pretrained(run / "model" / "autoencoder")
    return ae


@torch.no_grad()
def encode_all(ae: AutoEncoder, data: LabelledImages, batch_size: int = 500) -> tuple[torch.Tensor, torch.Tensor]:
    """Posterior means and log-variances of every image: (N, latent_dim) each."""
    means, logvars = [], []
    for start in tqdm(range(0, len(data), batch_size), desc="encoding", mininterval=5.0):
        mean, logvar = ae.posterior(data.batch(torch.arange(start, min(start + batch_size, len(data))))[0])
        means.append(mean)
        logvars.append(logvar)
    return torch.cat(means), torch.cat(logvars)


def transport_cost(flow: ConditionalFlow, codes: torch.Tensor, z: torch.Tensor, labels: torch.Tensor,
                   gen: torch.Generator) -> torch.Tensor:
    """Mean squared move per code dimension of codes projected onto another data set drawn at random,
    |T⁻¹(T(h | a) | b) − h|². Maximum likelihood alone leaves free how the data sets' flows pair codes up; this
    term picks, among flows that fit the data about as well, the one that moves codes least (as optimal
    transport does), so what the data sets share (the shape) is left alone while what differs moves."""
    k = len(flow.labels)
    others = (labels + torch.randint(1, k, labels.shape, generator=gen)) % k if k > 1 else labels
    return (flow.inverse(z, others) - codes).pow(2).mean()


def build_flow(ae: AutoEncoder, labels: list[str], stage: dict[str, Any]) -> ConditionalFlow:
    """The flow for ``ae``'s codes: a nuisance flow of stage['kind'] (the shape numbers kept) for an object-centred
    autoencoder, else the map and global flow; sized by stage['model'] (a nuisance flow reads its global_* sizes)."""
    model_cfg, seed = stage["model"], int(stage["train"]["seed"])
    if getattr(ae, "nuisance_dim", None) is None:
        return ConditionalFlow(ae.latent_shape, labels, global_dim=ae.global_dim, seed=seed, **model_cfg)
    flow = NuisanceFlow(labels, ae.nuisance_dim, ae.shape_dim, kind=stage.get("kind", "coupling"),
                        blocks=model_cfg["global_blocks"], hidden=model_cfg["global_hidden"], depth=model_cfg["depth"],
                        embed_dim=model_cfg["embed_dim"], clamp=model_cfg["clamp"],
                        components=int(stage.get("components", 8)), seed=seed, colour=stage.get("colour", "rgb"),
                        size=stage.get("size", "frame"))
    flow.attach(ae)
    return flow


def train_flow(ae: AutoEncoder, data: LabelledImages, stage: dict[str, Any], identity: dict[str, Any], run: Path,
               log: LogFn | None = None) -> ConditionalFlow:
    """Fit the conditional flow by maximum likelihood to codes sampled from the frozen autoencoder's posterior,
    plus stage['transport'] × the mean squared move per code dimension of each code projected onto another
    data set (see transport_cost)."""
    cfg, transport = stage["train"], float(stage.get("transport", 0.0))
    torch.manual_seed(int(cfg["seed"]))
    flow = build_flow(ae, data.names, stage)
    means, logvars = encode_all(ae, data)
    stds = (0.5 * logvars).exp()
    batch_size = int(cfg["batch_size"])

    def loss(gen: torch.Generator) -> dict[str, torch.Tensor]:
        rows = random_rows(len(data), batch_size, gen)
        codes = means[rows] + stds[rows] * torch.randn(means[rows].shape, generator=gen)
        labels = data.labels[rows]
        z, logdet = flow(codes, labels)
        nll = -(standard_normal_log_prob(z) + logdet).mean() / flow.dim
        if not transport:
            return {"loss": nll, "nll_per_dim": nll}
        move = transport_cost(flow, codes, z, labels, gen)
        return {"loss": nll + transport * move, "nll_per_dim": nll, "transport": move}

    optimise("flow", flow, loss, cfg, run / "checkpoints" / "flow.pt", identity, log)
    flow.save_pretrained(run / "model" / "flow")
    return flow


@torch.no_grad()
def pixel_noise(ae: AutoEncoder, data: LabelledImages, per_set: int = 1000) -> list[float]:
    """Pixel noise per data set beyond the decoder's own error: σ_y² = s_y² − min_k s_k², where s_y is the robust
    spread (1.4826 · median absolute residual) of the reconstruction residuals of up to ``per_set`` images of y.
    White noise touches every pixel, so it moves the median; the decoder's errors sit on few (edge) pixels."""
    spreads = []
    for i, _ in enumerate(data.names):
        rows = (data.labels == i).nonzero().flatten()[:per_set]
        images = data.batch(rows)[0]
        residual = torch.cat([ae(chunk) - chunk for chunk in images.split(250)])
        spreads.append(1.4826 * float(residual.abs().median()))
    floor = min(spreads)
    return [math.sqrt(max(0.0, s * s - floor * floor)) for s in spreads]


@torch.no_grad()
def held_out_metrics(model: ProjectionModel, data: LabelledImages) -> dict[str, float]:
    """Reconstruction MSE, flow NLL per dimension, and the likelihood classifier's accuracy on held-out images."""
    images, labels = data.batch(torch.arange(len(data)))
    codes = model.autoencoder.encode(images)
    mse = (model.autoencoder.decode(codes) - images).pow(2).mean()
    ll = model.flow.class_log_likelihoods(codes)
    nll = -ll.gather(1, labels[:, None]).mean() / model.flow.dim
    accuracy = (ll.argmax(1) == labels).float().mean()
    return {"reconstruction_mse": float(mse), "flow_nll_per_dim": float(nll), "likelihood_accuracy": float(accuracy)}


def train_projection(data: LabelledImages, held_out: LabelledImages, cfg: dict[str, Any], run: Path,
                     log: LogFn | None = None) -> ProjectionModel:
    """Autoencoder, then flow (autoencoder frozen); writes run/model and run/train_metrics.json.

    ``cfg`` holds 'data', 'autoencoder' and 'flow' (each with 'model' and 'train'); a stage's checkpoint
    resumes only under the same data and stage config (the flow's also under the same autoencoder config).
    """
    ae_identity = {"data": cfg["data"], "autoencoder": cfg["autoencoder"]}
    model_ae = run / "model" / "autoencoder"
    ae_checkpoint = run / "checkpoints" / "autoencoder.pt"
    if (model_ae / "model.pt").is_file() and ae_checkpoint.is_file():  # a resumed run whose first stage is done
        check_resumable(load_checkpoint(ae_checkpoint), ae_identity, ae_checkpoint)
        ae = load_autoencoder(model_ae)
    else:
        ae = train_autoencoder(data, cfg["autoencoder"], ae_identity, run, log)
    ae.requires_grad_(False)
    ae_steps = int(cfg["autoencoder"]["train"]["steps"])  # the flow's steps are logged after the autoencoder's
    flow_log = None if log is None else lambda step, values: log(ae_steps + step, values)
    flow = train_flow(ae, data, cfg["flow"], {**ae_identity, "flow": cfg["flow"]}, run, flow_log)
    noise = pixel_noise(ae, data) if cfg["autoencoder"].get("pixel_noise", False) else None
    model = ProjectionModel(ae, flow, noise).eval()
    model.save_pretrained(run / "model")  # the noise file beside the two models
    metrics = {**held_out_metrics(model, held_out), "noise_std": model.noise_std.tolist()}
    write_json(run / "train_metrics.json", metrics)
    if flow_log is not None:
        flow_log(int(cfg["flow"]["train"]["steps"]), {f"held_out/{k}": v for k, v in metrics.items()})
    return model
