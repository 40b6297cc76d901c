"""Run one audit from a config (ganalyze-audit, conf/audit.yaml) and write its report folder.

Every report is report.json (all numbers and the config), CSV tables, a markdown table and a plot, written
atomically to ``out_dir``; with a logger configured the headline numbers, the table and the plot are logged too.
"""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import torch

from ganalyze.atomic import write_json, write_text
from ganalyze.audit.disparity import DisparitySettings, disparity, gender_shades_table, group_rows, plot_disparity
from ganalyze.audit.inclusiveness import (InclusivenessSettings, class_rows, data_class_weights, inclusiveness,
                                          markdown_table, plot_inclusiveness)
from ganalyze.audit.name_that_dataset import ClassifierSettings, factor_rows, name_that_dataset, plot_confusion
from ganalyze.audit.sources import ImageSet, from_generator, load_sources
from ganalyze.errors import ConfigError

REPORTS = ("name_that_dataset", "disparity", "inclusiveness")


def write_csv(path: Path, rows: Sequence[Mapping[str, Any]]) -> Path:
    """Rows of dicts as a CSV file (columns: the union of keys, in order of first appearance)."""
    columns = list(dict.fromkeys(k for row in rows for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns)
    writer.writeheader()
    writer.writerows(rows)
    return write_text(path, buffer.getvalue())


def _settings(cls: type, node: Mapping[str, Any] | None, section: str) -> Any:
    """A settings dataclass from a config section; an unknown key is a ConfigError naming the known ones."""
    node = dict(node or {})
    known = set(cls.__dataclass_fields__)
    unknown = sorted(set(node) - known)
    if unknown:
        raise ConfigError(f"{section} has unknown keys {unknown}; known keys: {sorted(known)}.")
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in node.items()})


def run_name_that_dataset(cfg: Mapping[str, Any], out: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    """Load the sources, tell them apart, write confusion.png, factors.csv, report.json."""
    sets = load_sources(cfg["sources"], int(cfg["n"]), int(cfg["seed"]), int(cfg["resolution"]),
                        *_generator_for(cfg, [str(s) for s in cfg["sources"]]))
    result = name_that_dataset(sets, _settings(ClassifierSettings, cfg.get("name_that_dataset"), "name_that_dataset"),
                               int(cfg["seed"]))
    paths = {"plot": plot_confusion(result, out / "confusion.png"), "table": write_csv(out / "factors.csv", factor_rows(result))}
    low, high = result["interval"]
    summary = (f"Name That Dataset over {', '.join(result['groups'])}: held-out accuracy {result['accuracy']:.3f} "
               f"[{low:.3f}, {high:.3f}] (95% exact binomial), chance {result['chance']:.3f}: "
               + (f"above chance; most separating factor: {result['factor_ranking'][0]}." if result["above_chance"]
                  else "at chance: the classifier cannot tell them apart." if result["at_chance"] else "below chance."))
    return {**result, "summary": summary}, paths


def run_disparity(cfg: Mapping[str, Any], out: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    """Score the sources with the assessor per group; write disparity.png, groups.csv, table.md."""
    from ganalyze.build import build_assessor

    assessor = build_assessor(cfg["assessor"])
    name = str(cfg["assessor"].get("name") or cfg["assessor"].get("_target_"))
    if cfg["assessor"].get("weights"):
        name += f" ({cfg['assessor']['weights']})"
    sets = load_sources(cfg["sources"], int(cfg["n"]), int(cfg["seed"]), int(cfg["resolution"]),
                        *_generator_for(cfg, [str(s) for s in cfg["sources"]]))
    result = disparity(sets, assessor, _settings(DisparitySettings, cfg.get("disparity"), "disparity"),
                       int(cfg["seed"]), name)
    table = gender_shades_table(result)
    paths = {"plot": plot_disparity(result, out / "disparity.png"), "table": write_csv(out / "groups.csv", group_rows(result)),
             "markdown": write_text(out / "table.md", table)}
    return {**result, "summary": table.strip().splitlines()[-2]}, paths


def run_inclusiveness(cfg: Mapping[str, Any], out: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    """The generator against its data: attributes.csv, table.md, inclusiveness.png."""
    from ganalyze.build import build_generator

    node = cfg.get("inclusiveness") or {}
    prior = node.get("class_prior", "data")
    if prior not in ("data", "uniform"):
        raise ConfigError(f"inclusiveness.class_prior must be 'data' (draw the generator's classes at the data's "
                          f"rates) or 'uniform', got {prior!r}.")
    sets = load_sources(cfg["sources"], int(cfg["n"]), int(cfg["seed"]), int(cfg["resolution"]))
    data = sets[0] if len(sets) == 1 else ImageSet("+".join(s.name for s in sets), torch.cat([s.images for s in sets]))
    generator = build_generator(cfg["generator"])
    folder = (cfg["generator"].get("folder") or "shipped weights") if isinstance(cfg["generator"], Mapping) else ""
    generated = from_generator(generator, int(node.get("num_generated") or cfg["n"]), int(cfg["seed"]) + 1,
                               int(cfg["resolution"]), name=f"generator ({folder})",
                               class_weights=data_class_weights(data) if prior == "data" else None)
    settings = _settings(InclusivenessSettings, {k: v for k, v in node.items() if k not in ("class_prior", "num_generated")},
                         "inclusiveness")
    result = inclusiveness(data, generated, settings=settings)
    result["class_prior"] = prior
    return save_inclusiveness(result, out)


def save_inclusiveness(result: dict[str, Any], out: Path) -> tuple[dict[str, Any], dict[str, Path]]:
    """attributes.csv, table.md and inclusiveness.png of an inclusiveness result; the result with its summary line."""
    table = markdown_table(result)
    paths = {"plot": plot_inclusiveness(result, out / "inclusiveness.png"),
             "table": write_csv(out / "attributes.csv", class_rows(result)), "markdown": write_text(out / "table.md", table)}
    return {**result, "summary": table.strip().splitlines()[-1]}, paths


def _generator_for(cfg: Mapping[str, Any], specs: list[str]) -> tuple[Any, Mapping[str, Any]]:
    """The configured generator when a source asks for one (built only then), and its sampling options."""
    if "generator" not in specs:
        return None, {}
    from ganalyze.build import build_generator

    return build_generator(cfg["generator"]), {"name": "generator"}


RUNNERS: dict[str, Callable[[Mapping[str, Any], Path], tuple[dict[str, Any], dict[str, Path]]]] = {
    "name_that_dataset": run_name_that_dataset, "disparity": run_disparity, "inclusiveness": run_inclusiveness}


def headline_metrics(report: str, result: Mapping[str, Any]) -> dict[str, float]:
    """The numbers a logger gets: ``audit/<report>/...`` scalars."""
    key = f"audit/{report}"
    if report == "name_that_dataset":
        return {f"{key}/accuracy": result["accuracy"], f"{key}/chance": result["chance"],
                f"{key}/interval_low": result["interval"][0], f"{key}/interval_high": result["interval"][1]}
    if report == "disparity":
        g = result["largest_gap"]
        return {f"{key}/largest_gap": g["gap"], f"{key}/gap_low": g["interval"][0], f"{key}/gap_high": g["interval"][1],
                f"{key}/independence_ratio": result["independence"]["ratio"]}
    c = result["mode_coverage"]
    return {f"{key}/precision": result["overall"]["precision"], f"{key}/recall": result["overall"]["recall"],
            f"{key}/modes_covered": c["covered"], f"{key}/modes": c["modes"]}


def run_audit(cfg: Mapping[str, Any], logger: Any = None) -> dict[str, Any]:
    """Run the configured report, write report.json and its tables and plot to ``out_dir``, log them if asked."""
    report = cfg["report"]
    if report not in RUNNERS:
        raise ConfigError(f"report={report!r} is not an audit; choose one of {', '.join(REPORTS)}.")
    out = Path(cfg["out_dir"])
    start = time.perf_counter()
    result, paths = RUNNERS[report](cfg, out)
    result["seconds"] = time.perf_counter() - start
    paths["report"] = write_json(out / "report.json", {**result, "report": report, "config": dict(cfg)})
    if logger is not None:
        logger.log_metrics(headline_metrics(report, result))
        logger.log_images({f"audit/{report}/plot": paths["plot"]})
        with open(paths["table"], newline="") as handle:
            rows = list(csv.reader(handle))
        logger.log_table(f"audit/{report}/table", rows[0], rows[1:])
    print(result["summary"])
    print(f"{report} took {result['seconds']:.0f} s; wrote " + ", ".join(str(p) for p in paths.values()))
    return result
