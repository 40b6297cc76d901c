"""The settings of ganalyze-train and ganalyze-eval in one place: Hydra structured configs.

The dataclasses below (with TrainSettings, EvalSettings and FastPath, the ones the code uses) are registered in
Hydra's ConfigStore as the schema of conf/config.yaml, so defaults live once, Hydra refuses unknown keys and
wrong types, and each dataclass's ``__post_init__`` checks ranges. A raw config becomes typed settings once, at
the entry point (``to_settings``); Hydra's and OmegaConf's multi-line errors become one-paragraph ConfigErrors.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

from hydra import compose, initialize_config_module
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.errors import HydraException
from omegaconf import MISSING, BooleanNode, DictConfig, FloatNode, IntegerNode, ListConfig, OmegaConf, StringNode
from omegaconf.errors import ConfigKeyError, OmegaConfBaseException, ValidationError

from ganalyze.checkpoint import config_differences
from ganalyze.checks import is_number, whole
from ganalyze.errors import ConfigError, UnknownNameError
from ganalyze.evaluation import EvalSettings
from ganalyze.training import TrainSettings

SCHEMA = "ganalyze_schema"  # the name conf/config.yaml's defaults list gives the schema
ROLE_GROUPS = ("generator", "assessor", "transformer", "objective", "logger")
FREE_ON_EVAL = ("eval", "logger", "device", "threads")  # settings that cannot change a trained θ
FREE_ON_RESUME = FREE_ON_EVAL + ("train.steps", "train.checkpoint_every")  # ... nor the θ a run reached so far


@dataclass
class RunSettings:
    """Everything a ganalyze-train run is: the top level of its config (roles are Hydra ``_target_`` nodes).

    ``run_dir`` is the run folder (to continue a killed run: ``run_dir=<its folder> resume=true``); ``threads`` the
    torch CPU threads (on a busy 2-core machine two measured 8x slower than one); ``device`` cpu, cuda or cuda:N.
    """

    seed: int = 0
    device: str = "cpu"
    threads: int = 1
    run_name: str = "${assessor.name}"
    run_dir: str = "runs/${run_name}/${now:%Y-%m-%d_%H-%M-%S}"
    resume: bool = False
    train: TrainSettings = field(default_factory=TrainSettings)
    eval: EvalSettings = field(default_factory=EvalSettings)
    generator: Any = MISSING
    assessor: Any = MISSING
    transformer: Any = MISSING
    objective: Any = MISSING
    logger: Any = MISSING

    def __post_init__(self) -> None:
        self.seed = whole("seed", self.seed, minimum=0, example=0)
        self.threads = whole("threads", self.threads, example=1)
        if not str(self.run_dir).strip():
            raise ConfigError("run_dir is empty; give the run folder to write (e.g. run_dir=runs/mine).")
        for role in ROLE_GROUPS:
            if not isinstance(getattr(self, role), dict):
                raise ConfigError(f"{role}={getattr(self, role)!r} must be a config section with a _target_ "
                                  f"(e.g. {role}=<one of conf/{role}/*.yaml>).")


def register_schema() -> None:
    """Store RunSettings in Hydra's ConfigStore under SCHEMA (conf/config.yaml lists it first in its defaults)."""
    ConfigStore.instance().store(name=SCHEMA, node=RunSettings)


def group_options(group: str) -> list[str]:
    """The options of a config group: the package's YAML files plus configs stored by plugins."""
    folder = files("ganalyze.conf").joinpath(group)
    packaged = [p.name[:-5] for p in folder.iterdir() if p.name.endswith(".yaml")] if folder.is_dir() else []
    try:
        stored = [name.removesuffix(".yaml") for name in ConfigStore.instance().list(group)]
    except OSError:  # nothing stored for this group
        stored = []
    return sorted(set(packaged) | set(stored))


def group_config(group: str, name: str) -> DictConfig:
    """The package's own config ``conf/<group>/<name>.yaml`` (e.g. a logger for a command without Hydra)."""
    if name not in group_options(group):
        raise UnknownNameError(f"unknown {group} {name!r}; known: {', '.join(group_options(group))}.")
    return OmegaConf.load(files("ganalyze.conf").joinpath(group, f"{name}.yaml"))


def check_group_choices(args: Sequence[str]) -> None:
    """Fail with one paragraph on ``group=name`` command-line choices that name no config of the group.

    A comma-separated value is a multirun sweep (``-m assessor=a,b``): each of its names is checked.
    Skipped when the command line extends Hydra's search path (options may then live anywhere).
    """
    if any(a.lstrip("+").startswith("hydra.searchpath") for a in args):
        return
    for arg in args:
        key, sep, value = arg.partition("=")
        group = key.lstrip("+~")
        unknown = [name for name in value.split(",") if name not in group_options(group)] if group in ROLE_GROUPS else []
        if sep and unknown:
            hint = " or install a package that provides it (ganalyze.assessors entry point)" if group == "assessor" else ""
            raise UnknownNameError(
                f"unknown {group} {unknown[0]!r}; known {group}s: {', '.join(group_options(group))}. "
                f"A new one is a YAML file in conf/{group}/ with a _target_{hint}."
            )


def parse_overrides(overrides: Sequence[str]) -> dict[str, Any]:
    """``key=value`` command-line overrides as {key: Python value}, or one ConfigError on a malformed one."""
    try:
        parsed = OverridesParser.create().parse_overrides(list(overrides))
    except HydraException as err:
        raise ConfigError(f"could not read the settings {' '.join(overrides)}: {one_line(err)}. "
                          "Write each as key=value (e.g. train.steps=100).") from err
    return {o.key_or_group: o.value() for o in parsed}


def one_line(err: BaseException) -> str:
    """An exception's message as one line (Hydra and OmegaConf spread theirs over several)."""
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return "; ".join(lines).rstrip(".")


def schema_node(key: str) -> Any:
    """The schema's default at dotted ``key`` (a value, or a DictConfig for a section); None where it has none."""
    node: Any = OmegaConf.to_container(OmegaConf.structured(RunSettings), resolve=False)
    for part in key.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return OmegaConf.create(node) if isinstance(node, (dict, list)) else node


def expected_kind(key: str, value: Any) -> str:
    """What the schema wants at dotted ``key`` in words (a number, a whole number, true or false, a section...)."""
    schema = OmegaConf.structured(RunSettings)
    parent, _, last = key.rpartition(".")
    owner = OmegaConf.select(schema, parent) if parent else schema
    node = owner._get_node(last) if isinstance(owner, DictConfig) else None
    if isinstance(node, DictConfig):
        return f"a section of settings, not one value (e.g. {key}.<name>=<value>)"
    if isinstance(node, ListConfig):
        return "a list of numbers"
    if isinstance(node, IntegerNode):
        return "a whole number" if is_number(value) else "a number"
    return {FloatNode: "a number", BooleanNode: "true or false", StringNode: "text"}.get(type(node), "another value")


def config_error(err: BaseException, overrides: Sequence[str] = ()) -> ConfigError:
    """Hydra's or OmegaConf's error on ``overrides`` as one paragraph naming the bad value and what would be right."""
    cause: BaseException | None = err
    while cause is not None and not isinstance(cause, OmegaConfBaseException):
        cause = cause.__cause__
    given = parse_overrides([o for o in overrides if "=" in o]) if overrides else {}
    if isinstance(cause, (ConfigKeyError, AttributeError)) and getattr(cause, "full_key", None):
        key = str(cause.full_key)
        parent = getattr(cause, "parent_node", None)
        where = key.rpartition(".")[0]
        known = ", ".join(str(k) for k in parent if k != "hydra") if isinstance(parent, DictConfig) else "no settings"
        arg = next((o for o in overrides if o.partition("=")[0].lstrip("+~") == key), f"{key}=...")
        return ConfigError(f"unknown setting {key!r}: {where or 'the top level'} has {known}. "
                           f"To add a new key on purpose, write +{arg.lstrip('+')}.")
    if isinstance(cause, ValidationError) and getattr(cause, "full_key", None):
        key = str(cause.full_key).split("[")[0]
        value = given.get(key, getattr(cause, "value", None))
        default = schema_node(key)
        shown = OmegaConf.to_container(default) if OmegaConf.is_config(default) else default
        if isinstance(shown, bool):
            shown = str(shown).lower()
        hint = "" if OmegaConf.is_dict(default) or default is None else f" (the default is {key}={shown})"
        return ConfigError(f"{key}={value!r} must be {expected_kind(key, value)}{hint}.")
    return ConfigError(f"the settings could not be composed: {one_line(cause or err)}.")


def strict_booleans(overrides: Sequence[str]) -> None:
    """Refuse yes/no/on/off/1/0 for true/false settings (OmegaConf would read any of them as a boolean)."""
    for key, value in parse_overrides([o for o in overrides if "=" in o and not o.startswith("~")]).items():
        if isinstance(schema_node(key), bool) and not isinstance(value, bool):
            raise ConfigError(f"{key}={value!r} must be true or false (the default is "
                              f"{key}={str(schema_node(key)).lower()}).")


def compose_config(overrides: Sequence[str] = ()) -> DictConfig:
    """ganalyze-train's config for command-line style ``overrides``, composed by Hydra against the schema.

    The same composition serves ``ganalyze-train`` and ``ganalyze.train``, so both give the same run.
    """
    from assessors.plugins import register_plugin_configs

    register_plugin_configs()  # assessors of installed plugin packages become assessor=<name> options
    check_group_choices(overrides)
    strict_booleans(overrides)
    try:
        if GlobalHydra.instance().is_initialized():  # inside a Hydra app or a user's own initialize()
            return compose("config", overrides=list(overrides))
        with initialize_config_module(version_base="1.3", config_module="ganalyze.conf"):
            return compose("config", overrides=list(overrides))
    except (HydraException, OmegaConfBaseException) as err:
        raise config_error(err, overrides) from err


def to_settings(cfg: DictConfig) -> RunSettings:
    """Typed, range-checked settings from a composed or saved config (the one place the raw config changes form)."""
    try:
        settings = OmegaConf.to_object(cfg)
    except OmegaConfBaseException as err:
        raise config_error(err) from err
    if not isinstance(settings, RunSettings):
        raise ConfigError(f"the config is a {type(settings).__name__}, not ganalyze-train's settings.")
    return settings


def saved_config(folder: str | Path) -> DictConfig:
    """The config a run folder's config.yaml records, merged onto the schema (keys added since get defaults)."""
    path = Path(folder) / "config.yaml"
    if not Path(folder).is_dir():
        raise ConfigError(f"run_dir={folder} does not exist; give the folder that ganalyze-train printed.")
    if not path.is_file():
        raise ConfigError(f"run_dir={folder} holds no config.yaml, so it holds no run to continue or evaluate; "
                          "give the folder that ganalyze-train printed (or drop resume=true to start a new run).")
    try:
        saved = OmegaConf.load(path)
        if not isinstance(saved, DictConfig) or not saved:
            raise ConfigError(f"{path} holds no run settings (it is empty or not a mapping); "
                              "the run folder is damaged: start a new run_dir.")
        return OmegaConf.merge(OmegaConf.structured(RunSettings), saved)
    except (OmegaConfBaseException, ValueError) as err:
        if isinstance(err, ConfigError):
            raise
        raise ConfigError(f"{path} does not hold valid run settings: {one_line(err)}.") from err


def is_free(key: str, free: Sequence[str]) -> bool:
    """Whether dotted ``key`` lies under one of the ``free`` settings (e.g. eval.num_seeds under eval)."""
    return any(key == f or key.startswith(f + ".") for f in free)


def with_overrides(saved: DictConfig, composed: DictConfig, overrides: Sequence[str], free: Sequence[str],
                   why: str) -> DictConfig:
    """``saved`` with the values ``composed`` took from ``overrides`` for the ``free`` keys; any other override
    that changes a saved value is refused, naming each change (``why`` says why; {keys} in it names the keys)."""
    result = saved.copy()
    changed: list[str] = []
    for arg in overrides:
        key = arg.partition("=")[0].lstrip("+~")
        if key in ("run_dir", "resume") or key.startswith("hydra"):
            continue
        new = OmegaConf.select(composed, key, default=None)
        plain_new = OmegaConf.to_container(new, resolve=True) if OmegaConf.is_config(new) else new
        if is_free(key, free):
            OmegaConf.update(result, key, plain_new, merge=False, force_add=True)
            continue
        old = OmegaConf.select(saved, key, default=None)
        plain_old = OmegaConf.to_container(old, resolve=True) if OmegaConf.is_config(old) else old
        changed += config_differences(plain_old, plain_new, key)
    if changed:
        keys = ", ".join(dict.fromkeys(line.partition(":")[0] for line in changed))
        raise ConfigError(f"{why.replace('{keys}', keys)} ({'; '.join(changed[:8])}{'; ...' if len(changed) > 8 else ''}). Only "
                          f"{', '.join(f + '*' if f == 'eval' else f for f in free)} may change; for other "
                          "settings start a new run_dir.")
    return result


def job_config(overrides: Sequence[str] = ()) -> DictConfig:
    """The config of a ganalyze-train job: composed from ``overrides``; with resume=true, the run folder's saved
    config instead, changed only where an override cannot alter the θ reached so far (more steps, eval, logger)."""
    cfg = compose_config(overrides)
    if not cfg.resume:
        return cfg
    given = parse_overrides([o for o in overrides if "=" in o])
    if "run_dir" not in given:
        raise ConfigError("resume=true continues a run, so it needs the run's folder: "
                          "ganalyze-train run_dir=<the folder ganalyze-train printed> resume=true.")
    folder = str(given["run_dir"])
    saved = saved_config(folder)
    why = (f"cannot resume from {folder}: resume=true continues the run with the settings saved in its config.yaml, "
           "and changing {keys} would change the θ it has reached")
    resumed = with_overrides(saved, cfg, overrides, FREE_ON_RESUME, why)
    resumed.run_dir, resumed.resume = folder, True
    return resumed
