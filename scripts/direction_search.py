"""How high the direction bar's pooled ρ can go for a linear direction at all, by searching θ for it directly.

The bar of issue 6 is the pooled Spearman ρ between α and each seed's change of a variant classifier's
P(target) (scripts/eval_projection.py). GANalyze's objective does not maximise that number; this script does:
a (1+8) evolution strategy over θ, starting from a trained direction, keeps the candidate with the highest ρ
on 200 fit seeds (below 2**62, so disjoint from the held-out evaluation seeds), then measures ρ on the
held-out seeds, also with the found θ rescaled to 1, 1.5 and 2 times the start's length (is it the
direction or the length that passes?). It writes <out>/direction_search.json and a run folder
(<out>/config.yaml, <out>/transformer) that eval_projection.py measures like any trained direction
(class kept, typicality along α):

    OMP_NUM_THREADS=1 python scripts/direction_search.py runs/projection/direction_cool_p_s0 \\
        runs/projection/eval_p_s0/variant_classifier_warm_cool_centered runs/projection/direction_cool_search
    python scripts/eval_projection.py weights=ganalyze/weights/projection \\
        direction.run_dir=runs/projection/direction_cool_search out_dir=runs/projection/eval_search

``--max-length 1`` keeps θ no longer than the start's, asking whether another heading of the trained length
clears the bar. By default the judge is also what is searched on, so the result is an upper reference for
the bar, not a way to train directions; ``--search-with dataset_likeness`` searches on that assessor's
p(target | x) instead, and the judge only measures the held-out result.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path

os.environ.setdefault("TQDM_DISABLE", "1")  # one sweep per candidate: no progress bar for each

import numpy as np
import torch
from omegaconf import OmegaConf

from assessors import create_assessor
from ganalyze.build import build_generator
from ganalyze.evaluation import EvalSettings, alpha_grid, pooled_spearman, sweep
from ganalyze.projection.variant_classifier import TargetProbability, VariantClassifier
from ganalyze.sampling import held_out_seeds, latents_for_seeds
from ganalyze.transformers import load_transformer

FIT_SEEDS = range(100_000, 100_200)
CANDIDATES = 8  # per iteration
STEP = 0.1  # first mutation scale, relative to |θ|; ×1.5 after a success, ×0.8 after a failure
LENGTHS = (1.0, 1.5, 2.0)  # the found θ is also measured rescaled to these multiples of the start's |θ|


def capped(theta: torch.Tensor, limit: float | None) -> torch.Tensor:
    """θ shortened to length ``limit`` when longer (None: unchanged)."""
    return theta if limit is None else theta * min(1.0, limit / float(theta.norm()))


def main(run: Path, judge_folder: Path, out: Path, iterations: int = 50, target: str = "cool",
         max_length: float | None = None, search_with: str | None = None) -> dict:
    """Search θ (no longer than ``max_length`` × the start's |θ| when given) for the pooled ρ of the judge, or
    of the probability output of assessor ``search_with``, on fit seeds; report the judge's held-out ρ and
    write the found direction."""
    torch.set_num_threads(1)
    run_cfg = OmegaConf.load(run / "config.yaml")
    generator = build_generator(run_cfg.generator)
    transformer = load_transformer(run / "transformer")
    judge = TargetProbability(VariantClassifier.from_pretrained(judge_folder), target)
    scorer = judge if search_with is None else create_assessor(search_with, target=target, output="probability")
    settings = EvalSettings(num_seeds=len(FIT_SEEDS), alpha_scale=1.0, num_alphas=9)
    alphas = alpha_grid(tuple(run_cfg.train.alpha_range), 1.0, settings.num_alphas)
    every = np.ones(len(alphas), dtype=bool)
    fit, held = latents_for_seeds(generator, FIT_SEEDS), latents_for_seeds(generator, held_out_seeds(len(FIT_SEEDS)))

    def rho(theta: torch.Tensor, latents: tuple[torch.Tensor, torch.Tensor], by: torch.nn.Module = judge) -> float:
        with torch.no_grad():
            transformer.theta.copy_(theta)
        scores = sweep(generator, transformer, by, *latents, alphas, settings, None, "search").scores
        return pooled_spearman(alphas, scores, every)

    start = transformer.theta.detach().clone()
    theta, best = start.clone(), rho(start, fit, scorer)
    limit = None if max_length is None else max_length * float(start.norm())
    report = {"run": str(run), "judge": str(judge_folder), "target": target, "alphas": alphas.tolist(),
              "max_length": max_length, "searched_with": search_with or "judge",
              "start": {"fit": best, "held_out": rho(start, held), "norm": float(start.norm())}, "trace": []}
    step, gen = STEP * float(start.norm()), torch.Generator().manual_seed(0)
    for i in range(iterations):
        candidates = [capped(theta + step * torch.randn(theta.shape, generator=gen), limit) for _ in range(CANDIDATES)]
        values = [rho(c, fit, scorer) for c in candidates]
        j = int(np.argmax(values))
        if values[j] > best:
            best, theta, step = values[j], candidates[j], step * 1.5
        else:
            step *= 0.8
        report["trace"].append({"iteration": i, "fit": best, "norm": float(theta.norm())})
        print(f"iteration {i}: fit rho {best:.4f}, |theta| {float(theta.norm()):.2f}", flush=True)
    report["found"] = {"fit": best, "held_out": rho(theta, held), "norm": float(theta.norm())}
    report["found_rescaled"] = [{"norm": m * float(start.norm()),
                                 "held_out": rho(theta * m * start.norm() / theta.norm(), held)} for m in LENGTHS]
    with torch.no_grad():
        transformer.theta.copy_(theta)
    out.mkdir(parents=True, exist_ok=True)
    transformer.save_pretrained(out / "transformer")
    shutil.copy(run / "config.yaml", out / "config.yaml")
    (out / "direction_search.json").write_text(json.dumps(report, indent=2) + "\n")
    print(json.dumps({k: report[k] for k in ("start", "found", "found_rescaled")}, indent=2))
    return report


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="run folder of a linear direction (config.yaml, transformer/)")
    parser.add_argument("judge", type=Path, help="VariantClassifier folder: the judge searched on and measured by")
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--iterations", type=int, default=50)
    parser.add_argument("--target", default="cool", help="the data set the direction goes toward")
    parser.add_argument("--max-length", type=float, default=None, help="cap |θ| at this multiple of the start's")
    parser.add_argument("--search-with", default=None, choices=["dataset_likeness"],
                        help="search on this assessor's probability output instead of the judge")
    args = parser.parse_args()
    main(args.run, args.judge, args.out, args.iterations, args.target, args.max_length, args.search_with)
