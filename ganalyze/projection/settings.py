"""The settings of ganalyze-project-train and ganalyze-project as typed schemas (conf/projection/*.yaml give the
defaults): every value checked for type, finiteness and range before any image is read or any model built."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Optional

from ganalyze.errors import ConfigError
from ganalyze.projection.nuisance_flow import COLOUR_SPACES, FLOW_KINDS, SIZE_READINGS
from ganalyze.typed_settings import setting


@dataclass
class DataSettings:
    """Which images: world variants or a folder of sub-folders, how many, at which resolution."""

    source: str = setting("world", example="world")
    sets: Optional[list[str]] = setting(None, example="[warm,cool]")
    per_set: int = setting(12000, minimum=1)
    held_out: int = setting(500, minimum=1)
    seed: int = setting(0, minimum=0)
    resolution: int = setting(32, minimum=4, maximum=1024)

    def __post_init__(self) -> None:
        if self.sets is not None and (not self.sets or len(set(self.sets)) != len(self.sets)):
            raise ConfigError(f"data.sets={self.sets} must name at least one data set, each once; "
                              "e.g. data.sets=[warm,cool].")


@dataclass
class LoopSettings:
    """One optimisation stage (the loop of ganalyze.projection.train.optimise)."""

    steps: int = setting(3000, minimum=1)
    batch_size: int = setting(64, minimum=1)
    lr: float = setting(1e-3, above=0.0, maximum=10.0, example="0.001")
    clip: float = setting(10.0, above=0.0)
    seed: int = setting(0, minimum=0)
    checkpoint_every: int = setting(250, minimum=1)


@dataclass
class AutoencoderLoop(LoopSettings):
    """The autoencoder's stage: the loop plus the weight of its KL term."""

    kl_weight: float = setting(0.001, minimum=0.0)


@dataclass
class AutoencoderModel:
    """AutoEncoder's constructor arguments (the resolution comes from data.resolution)."""

    latent_channels: int = setting(1, minimum=0)  # 0: no map, a global code decoded by broadcasting (broadcast.py)
    stages: int = setting(1, minimum=1, maximum=8)
    width: int = setting(16, minimum=1)
    global_dim: int = setting(8, minimum=0)
    decoder_depth: int = setting(1, minimum=1)
    object_centred: bool = False  # true (with latent_channels 0): pose, colour, quality and shape numbers (object_centred.py)
    glimpse: int = setting(16, minimum=8, maximum=256, example="16")  # object-centred: side of the view the shape is read from
    frame_weight: float = setting(10.0, minimum=0.0, example="10.0")  # object-centred: weight of the frame penalty
    hue_code: bool = False  # object-centred: colour numbers as hue, saturation, value (measured worse: docs/projection.md)
    degrade_weight: float = setting(0.0, minimum=0.0, example="10.0")  # object-centred: > 0 trains blur and content through self-degraded copies (degradation.py)
    fit_frame: bool = False  # object-centred: place each mask so the pose is the drawn object's centroid and size


@dataclass
class FlowModel:
    """ConditionalFlow's constructor arguments."""

    blocks: int = setting(6, minimum=1)
    hidden: int = setting(64, minimum=1)
    depth: int = setting(2, minimum=1)
    kernel_size: int = setting(3, minimum=1, example="3")
    global_blocks: int = setting(6, minimum=1)
    global_hidden: int = setting(64, minimum=1)
    context_dim: int = setting(16, minimum=0)
    embed_dim: int = setting(8, minimum=1)
    clamp: float = setting(2.0, above=0.0)
    positional: bool = True

    def __post_init__(self) -> None:
        if self.kernel_size % 2 == 0:
            raise ConfigError(f"flow.model.kernel_size={self.kernel_size} must be odd (the map keeps its size); "
                              "e.g. flow.model.kernel_size=3.")


@dataclass
class AutoencoderStage:
    model: AutoencoderModel = field(default_factory=AutoencoderModel)
    train: AutoencoderLoop = field(default_factory=AutoencoderLoop)
    pixel_noise: bool = False  # true: measure each data set's pixel noise after training; render adds it
    init: Optional[str] = setting(None, example="runs/projection/train/model/autoencoder")  # continue from these weights


@dataclass
class FlowStage:
    model: FlowModel = field(default_factory=FlowModel)
    train: LoopSettings = field(default_factory=LoopSettings)
    transport: float = setting(0.0, minimum=0.0)  # weight of the move of projected codes (train.transport_cost)
    kind: str = setting("coupling", example="coupling")  # object-centred codes: coupling, monotone, hybrid or conditional (nuisance_flow.py)
    components: int = setting(8, minimum=1, maximum=256)  # Gaussians per number of a monotone flow
    colour: str = setting("rgb", example="hsv")  # object colour numbers as σ-RGB, or hsv: hue, saturation, value moved monotonically
    size: str = setting("frame", example="drawn")  # the log-scale as the frame's, or drawn: the drawn object's log-size


@dataclass
class ProjectTrainSettings:
    """ganalyze-project-train (conf/projection/train.yaml)."""

    data: DataSettings = field(default_factory=DataSettings)
    autoencoder: AutoencoderStage = field(default_factory=AutoencoderStage)
    flow: FlowStage = field(default_factory=FlowStage)
    sample_rows: int = setting(8, minimum=1, maximum=1000)
    sample_temperature: float = setting(0.8, above=0.0, maximum=100.0)
    threads: int = setting(1, minimum=1, maximum=1024)
    resume: bool = False
    run_dir: str = setting("runs/projection/train")
    logger: Any = None

    def __post_init__(self) -> None:
        resolution, stages = self.data.resolution, self.autoencoder.model.stages
        self.check_object_centred()
        if self.autoencoder.model.latent_channels == 0 and self.autoencoder.model.global_dim < 1:
            raise ConfigError("autoencoder.model.latent_channels=0 (a code without a map) needs "
                              "autoencoder.model.global_dim >= 1; e.g. autoencoder.model.global_dim=16.")
        if resolution % 2**stages or (resolution // 2**stages) % (2 if self.autoencoder.model.latent_channels == 1 else 1):
            raise ConfigError(f"data.resolution={resolution} must be divisible by 2**autoencoder.model.stages = "
                              f"{2**stages} (and the code map side even for a one-channel map); e.g. data.resolution=32.")

    def check_object_centred(self) -> None:
        """The object-centred layout and the flows for its codes: which settings go together."""
        model, flow = self.autoencoder.model, self.flow
        if flow.kind not in FLOW_KINDS:
            raise ConfigError(f"flow.kind={flow.kind!r} is not a flow for object-centred codes; choose one of "
                              f"{', '.join(FLOW_KINDS)} (e.g. flow.kind=monotone).")
        if model.object_centred and (model.latent_channels != 0 or model.global_dim < 1 or model.glimpse % 4):
            raise ConfigError(f"autoencoder.model.object_centred=true needs autoencoder.model.latent_channels=0 (no map; got "
                              f"{model.latent_channels}), autoencoder.model.global_dim >= 1 (the shape numbers; got "
                              f"{model.global_dim}) and autoencoder.model.glimpse a multiple of 4 (got {model.glimpse}); "
                              "e.g. autoencoder.model.latent_channels=0 autoencoder.model.global_dim=6.")
        if (flow.colour not in COLOUR_SPACES or flow.size not in SIZE_READINGS
                or (flow.kind == "coupling" and (flow.colour, flow.size) != ("rgb", "frame"))):
            raise ConfigError(f"flow.colour={flow.colour!r} must be one of {', '.join(COLOUR_SPACES)} and flow.size="
                              f"{flow.size!r} one of {', '.join(SIZE_READINGS)}; colour hsv and size drawn are moved by "
                              f"monotone maps, so they need flow.kind monotone, hybrid or conditional (got flow.kind="
                              f"{flow.kind}); e.g. flow.kind=hybrid flow.colour=hsv flow.size=drawn.")
        if flow.kind != "coupling" and (not model.object_centred or flow.transport):
            raise ConfigError(f"flow.kind={flow.kind} moves the numbers of an object-centred code one by one along quantile "
                              f"maps; it needs autoencoder.model.object_centred=true and flow.transport=0 (got "
                              f"object_centred={model.object_centred}, transport={flow.transport}); other codes use "
                              "flow.kind=coupling.")


@dataclass
class ProjectSettings:
    """ganalyze-project (conf/projection/project.yaml)."""

    weights: Optional[str] = setting(None, example="runs/projection/train/model")
    inputs: Optional[list[str]] = setting(None, example="[photos/a.png,photos/b.png]")
    source: str = setting("warm", example="warm")
    num_inputs: int = setting(8, minimum=1)
    num_samples: int = setting(8, minimum=1)
    temperature: float = setting(0.8, above=0.0, maximum=100.0)
    seed: int = setting(1000000, minimum=0)
    report: bool = False
    report_images: int = setting(500, minimum=2, maximum=100000)
    report_degraded_judge: Optional[str] = setting(None, example="runs/shape_classifier_lq/final")  # judge of low-quality targets
    threads: int = setting(1, minimum=1, maximum=1024)
    out_dir: str = setting("runs/projection/project")
    logger: Any = None
