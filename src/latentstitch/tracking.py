"""wandb as a view of a stage's run: config, summary metrics and result tables.

Results always live on disk first; this only mirrors them. Off unless ``cfg.logger.wandb``;
offline by default (``wandb sync wandb/offline-run-*`` uploads later); tests disable it.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

from omegaconf import DictConfig, OmegaConf


class _NoRun:
    def log(self, *args: Any, **kwargs: Any) -> None:
        pass

    def log_table(self, key: str, frame: Any) -> None:
        pass


class _WandbRun:
    def __init__(self, run: Any) -> None:
        self._run = run

    def log(self, *args: Any, **kwargs: Any) -> None:
        self._run.log(*args, **kwargs)

    def log_table(self, key: str, frame: Any) -> None:
        import wandb

        self._run.log({key: wandb.Table(dataframe=frame)})


@contextmanager
def stage_run(cfg: DictConfig, stage: str) -> Iterator[_NoRun | _WandbRun]:
    """A wandb run grouped by suite and stage when enabled, else a no-op logger."""
    logger = cfg.get("logger") or {}
    if not logger.get("wandb", False):
        yield _NoRun()
        return
    import wandb

    run = wandb.init(
        project=logger.get("project", "latentstitch"),
        entity=logger.get("entity"),
        mode=logger.get("mode", "offline"),
        group=f"{cfg.suite.name}/{stage}",
        job_type=stage,
        config=OmegaConf.to_container(cfg, resolve=True),
        reinit="finish_previous",
    )
    try:
        yield _WandbRun(run)
    finally:
        run.finish()
