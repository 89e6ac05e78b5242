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
from latentstitch.data.errors import DatasetUnavailableError
from latentstitch.encoders.errors import EncoderUnavailableError
from latentstitch.tracking import TrackingError, tracked_stage

# Errors whose message already says what is missing and how to get it: one line, no traceback.
_USER_ERRORS = (DatasetUnavailableError, EncoderUnavailableError, FileNotFoundError, TrackingError)


def _guarded(run: Callable[[DictConfig], Any]) -> Callable[[DictConfig], Any]:
    def guarded(cfg: DictConfig) -> Any:
        try:
            return run(cfg)
        except _USER_ERRORS as err:
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(2) from None

    return guarded


def _stage_name(run: Callable[[DictConfig], Any]) -> str:
    module = run.__module__
    if module == "__main__":  # python -m latentstitch.stages.<stage>
        spec = getattr(sys.modules["__main__"], "__spec__", None)
        module = spec.name if spec is not None else module
    return module.rsplit(".", 1)[-1]


def stage_main(run: Callable[[DictConfig], Any], argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    # With logger=wandb the stage runs inside its wandb run and what it wrote is logged after.
    run = tracked_stage(_stage_name(run), run)
    if argv[:1] == ["--params"]:
        if len(argv) != 2:
            raise SystemExit("usage: --params PARAMS.yaml (no other arguments)")
        _guarded(run)(OmegaConf.load(argv[1]))
        return
    import hydra

    sys.argv = [sys.argv[0], *argv]
    hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")(_guarded(run))()
