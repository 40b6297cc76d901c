"""ganalyze-audit: bias audits of data sets, assessors and generators (one report per command, conf/audit.yaml).

    ganalyze-audit                                           # Name That Dataset on six world variants
    ganalyze-audit sources=[broad,broad]                     # identical variants, other seeds: must be at chance
    ganalyze-audit audit=disparity assessor.weights=FOLDER   # per-hue-group disparity of a size assessor
    ganalyze-audit audit=inclusiveness generator.folder=FOLDER sources=[rare_class]
    ganalyze-audit audit=disparity sources=[folder:photos] disparity.group_by=source disparity.truth=null
"""

from __future__ import annotations

import sys

from omegaconf import DictConfig, OmegaConf

from ganalyze.audit.report import run_audit
from ganalyze.build import build_logger
from ganalyze.cli.common import check_group_choices, group_options, setup_torch
from ganalyze.cli.errors import hydra_command, reports_errors
from ganalyze.errors import UnknownNameError


@reports_errors("ganalyze-audit")
def _check_args() -> None:
    """Unknown audit / generator / assessor / logger names fail before Hydra composes the config."""
    args = sys.argv[1:]
    check_group_choices(args)
    for arg in args:
        key, _, value = arg.partition("=")
        if key.lstrip("+") == "audit" and value not in group_options("audit"):
            raise UnknownNameError(f"unknown audit {value!r}; known audits: {', '.join(group_options('audit'))}.")


@hydra_command("ganalyze-audit", "audit", "out_dir")
def _main(cfg: DictConfig) -> None:
    """Run the configured audit; the report folder is ``out_dir``."""
    setup_torch(cfg)
    plain = OmegaConf.to_container(cfg, resolve=True)
    logger = build_logger(cfg.logger, cfg.out_dir, f"audit-{cfg.report}", plain, job_type="audit")
    try:
        run_audit(plain, logger)
    finally:
        logger.finish()


def main() -> None:
    """Entry point of ganalyze-audit (Hydra: every value can be overridden as key=value)."""
    _check_args()
    _main()


if __name__ == "__main__":
    main()
