"""The thin CLI shared by every stage.

    python -m latentstitch.stages.<stage> --params params.yaml   # what dvc.yaml runs
    python -m latentstitch.stages.<stage> [hydra overrides...]   # Hydra: compose conf/, sweeps (-m)

Under DVC a stage reads params.yaml, the composed config DVC tracks (scripts/compose_params.py
writes it from conf/), so what ran is exactly what DVC saw. Before any work the config is
checked (``latentstitch.params``): params.yaml fresh (conf/ unchanged since it was composed),
every key known to the schema, every named dataset / encoder / head / autoencoder resolvable;
a failed check is one line on stderr and exit code 2. (The pipeline's first stage, ``config``,
also checks the keys code decides and that every model is available: ``latentstitch.validation``.)
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

from omegaconf import DictConfig, OmegaConf

from latentstitch.config import CONF_DIR
from latentstitch.data.errors import DatasetUnavailableError
from latentstitch.encoders.errors import EncoderUnavailableError
from latentstitch.params import ConfigError, check_fresh, resolve_groups, validate
from latentstitch.tracking import TrackingError, tracked_stage

# Errors whose message already says what is missing and how to get it: one line, no traceback.
_USER_ERRORS = (ConfigError, DatasetUnavailableError, EncoderUnavailableError, FileNotFoundError, TrackingError)


def record_imports() -> None:
    """With LATENTSTITCH_RECORD_IMPORTS=<folder>, write the latentstitch source files this
    process imported to <folder>/<main module>.txt (the pipeline tests compare them with each
    stage's declared deps)."""
    folder = os.environ.get("LATENTSTITCH_RECORD_IMPORTS")
    if not folder:
        return
    main = getattr(getattr(sys.modules.get("__main__"), "__spec__", None), "name", None) or "unknown"
    target = os.path.join(folder, f"{main}.txt")
    files = sorted(
        {
            str(m.__file__)
            for name, m in list(sys.modules.items())
            if (name == "latentstitch" or name.startswith("latentstitch.")) and getattr(m, "__file__", None)
        }
    )
    with open(target, "a") as f:
        f.write("".join(f"{path}\n" for path in files))


def _guarded(
    run: Callable[[DictConfig], Any], checks: Callable[[DictConfig], DictConfig]
) -> Callable[[DictConfig], Any]:
    def guarded(cfg: DictConfig) -> Any:
        try:
            cfg = checks(cfg)
            return run(cfg)
        except _USER_ERRORS as err:
            print(f"error: {err}", file=sys.stderr)
            raise SystemExit(2) from None
        finally:
            record_imports()

    return guarded


def _check_params(path: str) -> Callable[[DictConfig], DictConfig]:
    def checks(cfg: DictConfig) -> DictConfig:
        validate(cfg)
        check_fresh(cfg, path)
        return cfg

    return checks


def _check_composed(cfg: DictConfig) -> DictConfig:
    resolved = resolve_groups(cfg)
    validate(resolved)
    return resolved


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
        _guarded(run, _check_params(argv[1]))(OmegaConf.load(argv[1]))
        return
    import hydra

    sys.argv = [sys.argv[0], *argv]
    hydra.main(config_path=str(CONF_DIR), config_name="config", version_base="1.3")(_guarded(run, _check_composed))()
