"""The thin CLI shared by every stage.

    python -m latentstitch.stages.<stage> --params params.yaml   # what dvc.yaml runs
    python -m latentstitch.stages.<stage> [hydra overrides...]   # Hydra: compose conf/, sweeps (-m)

Under DVC a stage reads params.yaml, the composed config DVC tracks (scripts/compose_params.py
writes it from conf/; `dvc exp run` recomposes it), so what ran is exactly what DVC saw.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from omegaconf import DictConfig, OmegaConf

from latentstitch.config import CONF_DIR


def stage_main(run: Callable[[DictConfig], Any], argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["--params"]:
        if len(argv) != 2:
            raise SystemExit("usage: --params PARAMS.yaml (no other arguments)")
        cfg = OmegaConf.load(argv[1])
        run(cfg)
        return
    import hydra

    sys.argv = [sys.argv[0], *argv]
    hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")(run)()
