"""The inclusiveness audit on a SIMULATED biased generator: the shipped generator's output with a class thinned out.

    OMP_NUM_THREADS=1 python scripts/audit_simulated_generator.py --keep 0.2 --out runs/audit/incl_simulated

No generator trained on the rare-class world (conf/world/rare_class.yaml: stars 3%) reached a usable quality
within the time budget (docs/audits.md), so this stands in for one: the shipped generator draws M images with
its classes at the data's rates, then only ``--keep`` of the images asked to be ``--thin`` are kept, as a
generator that under-produces its rare class would. It is a simulation, labelled so in every output; the
audit's numbers are computed exactly as ganalyze-audit computes them (same sources, judge and features).
"""

from __future__ import annotations

import argparse
import os
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from ganalyze.atomic import write_json  # noqa: E402
from ganalyze.audit import ImageSet, from_generator, from_variant, inclusiveness  # noqa: E402
from ganalyze.audit.inclusiveness import data_class_weights  # noqa: E402
from ganalyze.audit.report import save_inclusiveness  # noqa: E402
from ganalyze.generators.shapes import ShapesGenerator  # noqa: E402
from ganalyze.world import SHAPE_NAMES  # noqa: E402


def thin_out(generated: ImageSet, class_id: int, keep: float, seed: int) -> ImageSet:
    """``generated`` with only a ``keep`` share (random, seeded) of the images asked for ``class_id``."""
    asked = generated.labels["class_id"]
    drop = (asked == class_id) & (np.random.default_rng(seed).random(len(asked)) >= keep)
    name = f"SIMULATED: shipped generator, {SHAPE_NAMES[class_id]}s thinned to {keep:.0%}"
    return ImageSet(name, generated.images[torch.from_numpy(~drop)], {"class_id": asked[~drop]})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", default="rare_class", help="the data the generator is judged against")
    parser.add_argument("--thin", default="star", choices=SHAPE_NAMES, help="the class the simulation under-produces")
    parser.add_argument("--keep", type=float, default=0.2, help="share of that class's images kept")
    parser.add_argument("--n", type=int, default=3000, help="data images and generated images drawn (as ganalyze-audit)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/audit/incl_simulated"))
    args = parser.parse_args()
    torch.set_num_threads(1)
    start = time.perf_counter()
    data = from_variant(args.variant, args.n, args.seed)
    full = from_generator(ShapesGenerator.from_pretrained(), args.n, args.seed + 1, name="shipped generator",
                          class_weights=data_class_weights(data))
    for label, generated in (("faithful", full), ("thinned", thin_out(full, SHAPE_NAMES.index(args.thin), args.keep, args.seed))):
        result, paths = save_inclusiveness({**inclusiveness(data, generated), "simulated": label == "thinned",
                                            "thinned_class": args.thin, "keep": args.keep}, args.out / label)
        result["seconds_so_far"] = time.perf_counter() - start
        write_json(args.out / label / "report.json", {**result, "config": vars(args) | {"out": str(args.out)}})
        print(f"{generated.name}: {result['summary']}")
        print(f"wrote {', '.join(str(p) for p in paths.values())}")


if __name__ == "__main__":
    main()
