"""ganalyze-cross: every run's direction measured by every run's assessor (and the shapes world's true factors).

    ganalyze-cross RUN_DIR RUN_DIR ... out=REPORT_DIR [num_seeds=200] [num_alphas=9] [alpha_scale=1] [bootstrap=200]
                   [random=3] [batch_size=250] [seed=0] [device=cpu] [threads=1]

The runs must share one generator. Writes REPORT_DIR/cross.json, cross.csv and cross_matrix.png (ρ and the
slope normalised so the diagonal reads 1, each with a 95% bootstrap interval over the held-out seeds).
"""

from __future__ import annotations

from pathlib import Path

from ganalyze.cli.common import arguments, setup_torch
from ganalyze.cli.errors import reports_errors
from ganalyze.cross import CrossSettings, cross_matrix, save_report
from ganalyze.errors import ConfigError

INTS = ("num_seeds", "num_alphas", "bootstrap", "random", "batch_size", "seed", "threads")
FLOATS = ("alpha_scale",)


def parse(args: list[str]) -> tuple[list[str], dict[str, str]]:
    """Run folders (arguments without '=') and key=value options, checked against the known keys."""
    folders = [a for a in args if "=" not in a]
    options = dict(a.split("=", 1) for a in args if "=" in a)
    unknown = [k for k in options if k not in (*INTS, *FLOATS, "out", "device")]
    if unknown:
        raise ConfigError(f"unknown option {unknown[0]!r}; known: out, device, {', '.join(INTS + FLOATS)}.")
    if "out" not in options:
        raise ConfigError("ganalyze-cross needs out=<report folder> (where cross.json, cross.csv and the heat map go).")
    return folders, options


def number(options: dict[str, str], key: str, kind: type, default: float) -> float:
    """An option as ``kind``, or a ConfigError naming the bad value."""
    try:
        return kind(options.get(key, default))
    except ValueError:
        raise ConfigError(f"{key}={options[key]!r} must be a {'whole ' if kind is int else ''}number.") from None


@reports_errors("ganalyze-cross")
def main(argv: list[str] | None = None) -> None:
    """Entry point of ganalyze-cross."""
    args = arguments(argv, __doc__)
    if args is None:
        return
    folders, options = parse(args)
    defaults = CrossSettings()
    values = {key: number(options, key, int if key in INTS else float, getattr(defaults, key))
              for key in (*INTS, *FLOATS) if key != "threads"}
    device = setup_torch({"threads": number(options, "threads", int, 1), "device": options.get("device", "cpu")})
    report = cross_matrix(folders, CrossSettings(**values), device)
    paths = save_report(report, Path(options["out"]))
    for row in report["rows"]:
        own = row["entries"][row["assessor"]]
        print(f"{row['label']:>28}: ρ of its own assessor {own['spearman']:+.3f}, slope {own['slope']:+.4g}")
    print(f"cross matrix written to {paths['json'].parent}")


if __name__ == "__main__":
    main()
