"""wandb as a view of the runs: each stage's config, summary metrics, tables, figures and
files, and the training curves of the Lightning-trained decoders.

Results always live on disk first; this only mirrors them. A failing wandb (not installed,
not logged in, disk full, a value it rejects) never stops a stage: the first error is
reported once on stderr, and nothing more is logged to wandb by the process. With
``logger.strict=true`` the error is raised instead (``TrackingError``). Off unless
``cfg.logger.wandb``; offline by default (``wandb sync wandb/offline-run-*`` uploads later).

Runs are grouped as a person browsing the project expects: group = suite (a Hydra multirun:
``<suite> sweep <sweep dir>``), job type = stage, tags ``dataset:<name>`` (and
``method:`` / ``scaling:`` / ``anchors:`` when a sweep key restricts the run), names that say
what ran (``smoke/stitch``, ``smoke/train_autoencoders/digits/ae_b16_s0``).
"""

from __future__ import annotations

import contextvars
import json
import math
import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

# conf/logger/*.yaml; a misspelt key is an error, not a setting silently ignored.
LOGGER_KEYS = {
    "wandb": "log to wandb at all (bool)",
    "project": "wandb project",
    "entity": "wandb entity (team or user; null: the default)",
    "mode": "offline | online | disabled",
    "dir": "folder that holds wandb/ (null: the working directory)",
    "strict": "a wandb error fails the stage instead of being reported once (bool)",
    "curves": "MLP heads and autoencoders log their training curves, one run each (bool)",
}
MODES = ("offline", "online", "disabled")


class TrackingError(RuntimeError):
    """wandb failed and ``logger.strict`` is true."""


@dataclass(frozen=True)
class LoggerSettings:
    wandb: bool = False
    project: str = "latentstitch"
    entity: str | None = None
    mode: str = "offline"
    dir: str | None = None
    strict: bool = False
    curves: bool = True


def logger_settings(section: Any) -> LoggerSettings:
    """A ``logger`` config section checked (None: logging off): unknown keys, modes and
    non-bools are a ValueError naming the key."""
    if section is None:
        return LoggerSettings()
    if OmegaConf.is_config(section):
        section = OmegaConf.to_container(section, resolve=True)
    if not isinstance(section, Mapping):
        raise TypeError(f"logger must be a mapping of {sorted(LOGGER_KEYS)}, got {section!r}")
    unknown = sorted(set(section) - set(LOGGER_KEYS))
    if unknown:
        raise ValueError(f"unknown logger key(s) {unknown}; valid: {', '.join(LOGGER_KEYS)}")
    values = {k: v for k, v in section.items() if v is not None or k in ("entity", "dir")}
    for key in ("wandb", "strict", "curves"):
        if key in values and not isinstance(values[key], bool):
            raise ValueError(f"logger.{key} must be true or false, got {values[key]!r}")
    if values.get("mode", "offline") not in MODES:
        raise ValueError(f"logger.mode must be one of {', '.join(MODES)}, got {values['mode']!r}")
    return LoggerSettings(**values)


# ---------------------------------------------------------------------------------------
# Failure handling: one report per process, then wandb is left alone.

_failure: dict[str, str | None] = {"first": None}


def logging_failed() -> str | None:
    """The first wandb error of this process (a message), or None."""
    return _failure["first"]


def reset_failure() -> None:
    """Forget an earlier failure (tests; a long-lived process that fixed its wandb)."""
    _failure["first"] = None


def _fail(what: str, err: BaseException, strict: bool) -> None:
    message = f"wandb logging failed while {what}: {type(err).__name__}: {err}"
    if strict:
        raise TrackingError(f"{message} (logger.strict=true)") from err
    if _failure["first"] is not None:
        return
    _failure["first"] = message
    print(
        f"warning: {message}\n  The stage's results are on disk and unaffected; nothing more is logged to "
        "wandb by this process. Set logger.strict=true to make this an error.",
        file=sys.stderr,
        flush=True,
    )


def _import_wandb():
    try:
        import wandb
    except ImportError as err:
        raise ImportError(
            f"wandb is not installed ({err}); install it (pip install wandb) or run with logger=none"
        ) from err
    return wandb


# ---------------------------------------------------------------------------------------
# Values wandb accepts.


def _plain(value: Any) -> Any:
    """A Python scalar wandb can store: missing (None, NaN, pd.NA, NaT) as None, numpy
    scalars as Python ones, containers as JSON text."""
    if value is None:
        return None
    if isinstance(value, (list, tuple, dict, set)):
        return json.dumps(value if not isinstance(value, set) else sorted(value, key=str), default=str)
    try:
        import pandas as pd

        if pd.isna(value):
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "item") and callable(value.item):  # numpy scalar
        try:
            value = value.item()
        except (TypeError, ValueError):
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else value
    if isinstance(value, (bool, int, float, str)):
        return value
    return str(value)


def _kind(value: Any) -> str:
    return "bool" if isinstance(value, bool) else "number" if isinstance(value, (int, float)) else "str"


def table_data(frame: Any) -> tuple[list[str], list[list[Any]]]:
    """``frame``'s columns and rows as wandb.Table takes them: every missing value None, every
    column of one kind (number, bool or text; a column mixing kinds becomes text)."""
    columns = [str(c) for c in frame.columns]
    values = [[_plain(v) for v in frame[c].tolist()] for c in frame.columns]
    for i, column in enumerate(values):
        kinds = {_kind(v) for v in column if v is not None}
        if len(kinds) > 1:
            values[i] = [None if v is None else str(v) for v in column]
    return columns, [list(row) for row in zip(*values)] if values else []


def summary_value(value: Any) -> Any:
    """A summary metric as wandb stores it; None when missing or not a scalar."""
    value = _plain(value)
    return value if isinstance(value, (bool, int, float, str)) else None


# ---------------------------------------------------------------------------------------
# One stage's run.


@dataclass
class RunContext:
    """Where a stage's runs go, and what they are called."""

    settings: LoggerSettings
    suite: str
    stage: str
    group: str
    name: str
    tags: list[str] = field(default_factory=list)
    datasets: list[str] = field(default_factory=list)
    hydra: dict[str, Any] = field(default_factory=dict)


def _hydra_job() -> dict[str, Any]:
    """Overrides, job number and sweep folder of the Hydra job this process runs, if any."""
    try:
        from hydra.core.hydra_config import HydraConfig
        from hydra.types import RunMode
    except ImportError:
        return {}
    if not HydraConfig.initialized():
        return {}
    hc = HydraConfig.get()
    job = {"overrides": list(hc.overrides.task), "multirun": hc.mode == RunMode.MULTIRUN}
    if job["multirun"]:
        job.update(job_num=int(hc.job.num), sweep_dir=str(hc.sweep.dir))
    return job


def _sweep_tags(cfg: Any) -> list[str]:
    tags = []
    translator = cfg.get("translator") if isinstance(cfg, Mapping) else None
    if translator is not None:
        method = translator.get("method") if isinstance(translator, Mapping) else translator
        tags.append(f"method:{method}")
    scaling = cfg.get("scaling") if isinstance(cfg, Mapping) else None
    if scaling is not None:
        tags.append(f"scaling:{scaling.get('name', scaling) if isinstance(scaling, Mapping) else scaling}")
    anchors = cfg.get("anchors") if isinstance(cfg, Mapping) else None
    if anchors is not None:
        counts = list(anchors) if OmegaConf.is_list(anchors) or isinstance(anchors, (list, tuple)) else [anchors]
        tags += [f"anchors:{int(a)}" for a in counts]
    return tags


def run_context(cfg: DictConfig, stage: str) -> RunContext:
    """The group, name and tags of ``stage``'s run under ``cfg`` (see the module docstring)."""
    settings = logger_settings(cfg.get("logger"))
    suite = str(OmegaConf.select(cfg, "suite.name", default="latentstitch"))
    datasets = [str(d) for d in (OmegaConf.select(cfg, "suite.datasets", default=None) or {})]
    hydra = _hydra_job()
    group, name = suite, f"{suite}/{stage}"
    if hydra.get("multirun"):
        sweep = Path(hydra["sweep_dir"])
        group = f"{suite} sweep {sweep.parent.name}/{sweep.name}"
        name = f"{suite}/{stage} #{hydra['job_num']} " + " ".join(hydra["overrides"])
    tags = [f"dataset:{d}" for d in datasets] + _sweep_tags(cfg)
    return RunContext(settings, suite, stage, group, name.strip()[:128], [t[:64] for t in tags], datasets, hydra)


_ACTIVE: contextvars.ContextVar[RunContext | None] = contextvars.ContextVar("latentstitch_stage_run", default=None)


class Tracker:
    """One run's logging calls, each guarded: a wandb error is reported once (or raised when
    strict) and never reaches the caller otherwise. With no run, every call is a no-op."""

    def __init__(self, run: Any = None, *, strict: bool = False) -> None:
        self._run = run
        self.strict = strict

    @property
    def active(self) -> bool:
        return self._run is not None and logging_failed() is None

    def guard(self, what: str, fn: Callable[[], Any]) -> Any:
        """``fn()``, or None after reporting its error (see the module docstring)."""
        if not self.active:
            return None
        try:
            return fn()
        except Exception as err:  # noqa: BLE001 - any wandb error is a logging error
            _fail(what, err, self.strict)
            return None

    def log(self, metrics: Mapping[str, Any]) -> None:
        """One history step of scalar metrics."""
        self.guard(f"logging {', '.join(map(str, metrics))}", lambda: self._run.log(dict(metrics)))

    def summary(self, values: Mapping[str, Any]) -> None:
        """Headline numbers shown in the runs table (missing values are left out)."""

        def update() -> None:
            for key, value in values.items():
                value = summary_value(value)
                if value is not None:
                    self._run.summary[str(key)] = value

        self.guard("setting the summary", update)

    def table(self, key: str, frame: Any) -> None:
        """``frame`` as a wandb.Table (see ``table_data`` for the column types)."""

        def log() -> None:
            wandb = _import_wandb()
            columns, data = table_data(frame)
            self._run.log({key: wandb.Table(columns=columns, data=data)})

        self.guard(f"logging table {key!r}", log)

    def images(self, images: Mapping[str, tuple[Any, str | None]]) -> None:
        """``{key: (path or array, caption)}`` as wandb.Image, in one step."""
        if not images:
            return

        def log() -> None:
            wandb = _import_wandb()
            self._run.log(
                {
                    key: wandb.Image(str(img) if isinstance(img, Path) else img, caption=caption)
                    for key, (img, caption) in images.items()
                }
            )

        self.guard(f"logging {len(images)} images ({next(iter(images))}, ...)", log)

    def html(self, key: str, html: str) -> None:
        self.guard(f"logging {key!r}", lambda: self._run.log({key: _import_wandb().Html(html)}))

    def artifact(
        self, name: str, kind: str, paths: Sequence[Path], description: str = "", root: Path | None = None
    ) -> None:
        """Files (or folders) as one artifact; names inside relative to ``root`` when given."""

        def log() -> None:
            artifact = _import_wandb().Artifact(_artifact_name(name), type=kind, description=description)
            for path in paths:
                path = Path(path)
                inside = str(path.relative_to(root)) if root is not None else path.name
                if path.is_dir():
                    artifact.add_dir(str(path), name=inside)
                else:
                    artifact.add_file(str(path), name=inside)
            self._run.log_artifact(artifact)

        self.guard(f"logging artifact {name!r}", log)

    def finish(self, exit_code: int = 0) -> None:
        run, self._run = self._run, None
        if run is None:
            return
        if logging_failed() is not None:  # the run is broken: close it quietly, best effort
            with suppress(Exception):  # already reported once
                run.finish(exit_code=1)
            return
        self._run = run
        try:
            self.guard("finishing the run", lambda: run.finish(exit_code=exit_code))
        finally:
            self._run = None


def _artifact_name(name: str) -> str:
    """wandb artifact names allow letters, digits, dashes, underscores and dots."""
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in name)


def _init(
    settings: LoggerSettings, *, group: str, job_type: str, name: str, tags: Sequence[str], config: Mapping[str, Any]
) -> Any:
    wandb = _import_wandb()
    kwargs: dict[str, Any] = {
        "project": settings.project,
        "entity": settings.entity,
        "mode": settings.mode,
        "group": group[:128],
        "job_type": job_type[:64],
        "name": name[:128],
        "tags": list(dict.fromkeys(t[:64] for t in tags)),
        "config": dict(config),
        "reinit": "create_new",
    }
    if settings.dir is not None:
        Path(settings.dir).mkdir(parents=True, exist_ok=True)
        kwargs["dir"] = str(settings.dir)
    return wandb.init(**kwargs)


def _config_of(cfg: DictConfig, context: RunContext) -> dict[str, Any]:
    try:
        config = OmegaConf.to_container(cfg, resolve=True)
    except Exception:  # noqa: BLE001 - an unresolvable interpolation: log it as written
        config = OmegaConf.to_container(cfg, resolve=False)
    if context.hydra:
        config["hydra"] = context.hydra
    return config


@contextmanager
def stage_run(cfg: DictConfig, stage: str) -> Iterator[Tracker]:
    """The wandb run of ``stage`` when ``cfg.logger.wandb`` is true (else a no-op Tracker);
    decoders trained inside log their curves into the same project and group. Finished on
    exit (exit code 1 when the body raised)."""
    context = run_context(cfg, stage)
    if not context.settings.wandb:
        yield Tracker()
        return
    strict = context.settings.strict
    probe = Tracker(run=object(), strict=strict)  # guards the init like any other call
    run = probe.guard(
        f"starting the {stage} run",
        lambda: _init(
            context.settings,
            group=context.group,
            job_type=stage,
            name=context.name,
            tags=context.tags,
            config=_config_of(cfg, context),
        ),
    )
    tracker = Tracker(run, strict=strict)
    token = _ACTIVE.set(context)
    ok = False
    try:
        yield tracker
        ok = True
    finally:
        _ACTIVE.reset(token)
        tracker.finish(exit_code=0 if ok else 1)


def tracked_stage(stage: str, run: Callable[[DictConfig], Any]) -> Callable[[DictConfig], Any]:
    """``run`` inside ``stage``'s wandb run: the stage writes its results to disk, then what
    it wrote is logged (``latentstitch.reports.tracked``). A logging error never loses a result
    or fails the stage (unless ``logger.strict``)."""

    def tracked(cfg: DictConfig) -> Any:
        with stage_run(cfg, stage) as tracker:
            result = run(cfg)
            if tracker.active:
                from latentstitch.reports.tracked import log_stage

                tracker.guard(f"logging the outputs of stage {stage}", lambda: log_stage(tracker, stage, cfg, result))
        return result

    tracked.__name__ = getattr(run, "__name__", "run")
    tracked.__doc__ = run.__doc__
    return tracked


# ---------------------------------------------------------------------------------------
# Lightning: one run per trained decoder, its loss per epoch.


def decoder_logger(logger_cfg: Any, *, name: str, group: str | None = None) -> Any:
    """A Lightning logger writing ``name``'s training curves to a run of its own (same project
    and group as the stage), or False when wandb logging (or ``logger.curves``) is off.

    The run opens only when Lightning first logs (a head that never trains through Lightning
    opens none) and only ``finish_decoder_logger`` closes it: Lightning never finishes the
    stage's run. ``group`` ("<suite>/<stage>") names the group and job type when no stage run
    is active."""
    settings = logger_settings(logger_cfg)
    if not settings.wandb or not settings.curves or logging_failed() is not None:
        return False
    context = _ACTIVE.get()
    if context is not None:
        suite, stage, run_group, datasets = context.suite, context.stage, context.group, context.datasets
    else:
        suite, _, stage = (group or "latentstitch/decoders").partition("/")
        run_group, datasets = suite, []
    parts = name.split("/")
    tags = [f"dataset:{p}" for p in parts if p in datasets] + ["decoder"]
    try:
        _import_wandb()
        from pytorch_lightning.loggers import WandbLogger
    except ImportError as err:
        _fail("creating a Lightning logger", err, settings.strict)
        return False

    class DecoderLogger(WandbLogger):
        """WandbLogger whose run we open and close; its logging calls are guarded."""

        def __init__(self) -> None:
            super().__init__(project=settings.project, save_dir=settings.dir or ".")
            self._tracker: Tracker | None = None

        @property
        def experiment(self) -> Any:
            if self._tracker is None:

                def start() -> Any:
                    run = _init(
                        settings,
                        group=run_group,
                        job_type=stage,
                        name=f"{suite}/{stage}/{name}",
                        tags=tags,
                        config={"decoder": name, "suite": suite, "stage": stage},
                    )
                    run.define_metric("trainer/global_step")
                    run.define_metric("*", step_metric="trainer/global_step", step_sync=True)
                    return run

                run = Tracker(object(), strict=settings.strict).guard(f"starting the run of {name}", start)
                self._tracker = Tracker(run, strict=settings.strict)
                self._experiment = run
            return self._experiment if self._tracker.active else _Null()

        def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
            _ = self.experiment
            self._tracker.guard(
                f"logging the training curves of {name}", lambda: super(DecoderLogger, self).log_metrics(metrics, step)
            )

        def log_hyperparams(self, params: Any) -> None:
            _ = self.experiment
            self._tracker.guard(
                f"logging the settings of {name}", lambda: super(DecoderLogger, self).log_hyperparams(params)
            )

        def finish_run(self) -> None:
            if self._tracker is not None:
                self._tracker.finish()

    return DecoderLogger()


def finish_decoder_logger(logger: Any) -> None:
    """Close the run a ``decoder_logger`` opened (if it opened one); nothing else."""
    if logger and hasattr(logger, "finish_run"):
        logger.finish_run()


class _Null:
    """What a broken decoder run hands Lightning: every attribute a no-op."""

    def __getattr__(self, name: str) -> Any:
        return self

    def __call__(self, *args: Any, **kwargs: Any) -> _Null:
        return self
