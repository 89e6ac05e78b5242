"""Fitting the decoders of the pipeline's stages into verified artifact folders: classification
heads on cached encodings (train_heads) and the `relative` baseline's heads for the anchors in
use (train_relative_heads). Layout: :mod:`latentstitch.layout`; caching: :mod:`latentstitch.artifacts`.

Heads that are not kept train in parallel, ``n_jobs`` of their head config at a time (joblib
processes; null or -1: every core). Each head's own threads and its exact SVC's one-vs-one
workers share the rest of the cores (``n_jobs // workers`` each). ``n_jobs`` decides speed, not
what a head learns: it is no part of a head's fingerprint. Lightning-trained heads on a GPU
train one at a time.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from latentstitch.artifacts import artifact_problem, keep_or_build
from latentstitch.decoders import MLPHead, RelativeHead, build_head, save_head
from latentstitch.decoders.heads import head_class, resolve_n_jobs
from latentstitch.decoders.training import finish_logger, inference_device, make_logger
from latentstitch.io import load_encodings
from latentstitch.provenance import config_hash, provenance


def accelerator_of(cfg: DictConfig) -> str:
    """cfg.device (auto | cpu | cuda) as a Lightning accelerator name."""
    device = cfg.get("device", "auto")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {device!r}")
    return {"auto": "auto", "cpu": "cpu", "cuda": "gpu"}[device]


def load_split_encodings(encodings_dir: str | Path, dataset: str, encoder: str):
    """(x, y) of the train and test encodings, and their content hashes (what a fingerprint holds)."""
    paths = {s: Path(encodings_dir) / dataset / encoder / f"{s}.safetensors" for s in ("train", "test")}
    x_train, y_train, meta_train = load_encodings(paths["train"])
    x_test, y_test, meta_test = load_encodings(paths["test"])
    data_id = {"train": meta_train.get("content_sha256"), "test": meta_test.get("content_sha256")}
    return (x_train, y_train), (x_test, y_test), data_id


def anchors_sha256(indices: np.ndarray) -> str:
    import hashlib

    return hashlib.sha256(np.ascontiguousarray(indices, dtype=np.int64).tobytes()).hexdigest()


def _train_one(
    cfg: DictConfig,
    head_cfg: dict[str, Any],
    out: Path,
    name: str,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    anchor_idx: np.ndarray | None,
    group: str,
    n_jobs: int = 1,
) -> dict[str, Any]:
    """Fit one head (relative when ``anchor_idx`` is given), save it into ``out``, return its
    metrics. ``n_jobs``: workers the head may use itself (the exact SVC's one-vs-one subproblems)."""
    (x_train, y_train), (x_test, y_test) = train, test
    head = build_head(head_cfg, seed=int(cfg.seed), accelerator=accelerator_of(cfg), n_jobs=n_jobs)
    logger = make_logger(cfg.get("logger"), name=name, group=f"{cfg.suite.name}/{group}")
    # Only the Lightning-trained heads take a logger.
    fit_params = {"logger": logger} if isinstance(head, MLPHead) else {}
    if anchor_idx is not None:
        head = RelativeHead(head)
        fit_params["anchors"] = x_train[anchor_idx]
    start = time.perf_counter()
    try:
        head.fit(x_train, y_train, **fit_params)
    finally:
        finish_logger(logger)
    seconds = time.perf_counter() - start
    save_head(head, out)
    trained = head.head_ if anchor_idx is not None else head
    return {
        "kind": head.head_.kind if anchor_idx is not None else head.kind,
        "seed": int(cfg.seed),
        "n_train": len(y_train),
        "n_test": len(y_test),
        "dim": int(x_train.shape[1]),
        "train_accuracy": float(head.score(x_train, y_train)),
        "test_accuracy": float(head.score(x_test, y_test)),
        "fit_seconds": seconds,
        "epochs": getattr(trained, "n_epochs_", None),
        "anchor_indices": anchor_idx.tolist() if anchor_idx is not None else None,
    }


def split_n_jobs(head_cfg: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The head settings without ``n_jobs``, and the worker count it asks for (null or -1: every
    core, the default; k >= 1)."""
    settings = dict(head_cfg)
    return settings, resolve_n_jobs(settings.pop("n_jobs", None))


@dataclass
class HeadJob:
    """One head to keep or train: its folder, config (conf/head option), record, the encodings'
    content hashes, the encodings, the anchor indices of a relative head, and its summary key."""

    out: Path
    head_cfg: dict[str, Any]
    record: dict[str, Any]
    data_id: dict[str, Any]
    train: tuple[np.ndarray, np.ndarray]
    test: tuple[np.ndarray, np.ndarray]
    anchor_idx: np.ndarray | None
    key: str


def _fingerprint(cfg: DictConfig, settings: dict[str, Any], job: HeadJob) -> str:
    """Everything that decides the head: settings (without ``n_jobs``), seed, the encodings'
    content hashes, the record and, for a relative head, the anchor indices."""
    anchors = None if job.anchor_idx is None else anchors_sha256(job.anchor_idx)
    return config_hash(
        {"head_cfg": settings, "seed": int(cfg.seed), "data": job.data_id, "anchor_indices": anchors, **job.record}
    )


def _keep_or_train(
    cfg: DictConfig, job: HeadJob, settings: dict[str, Any], fingerprint: str, group: str, n_jobs: int
) -> tuple[dict[str, Any], dict[str, Any]]:
    summary: dict[str, Any] = {}
    metrics = keep_or_build(
        job.out,
        fingerprint,
        {**job.record, **provenance()},
        summary=summary,
        build=lambda staging: _train_one(
            cfg, settings, staging, job.key, job.train, job.test, job.anchor_idx, group, n_jobs=n_jobs
        ),
    )
    return metrics, summary


def _keep_or_train_in_worker(threads: int, *args: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    """``_keep_or_train`` in a joblib worker, its torch and BLAS threads capped at ``threads``."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    with threadpool_limits(threads):
        return _keep_or_train(*args)


def keep_or_train_heads(cfg: DictConfig, jobs: list[HeadJob], summary: dict[str, Any], group: str) -> None:
    """Keep every sound head folder of ``jobs`` (:func:`latentstitch.artifacts.artifact_problem`)
    and train the others, in parallel per head config (``n_jobs``); each trains into a staging
    folder swapped in whole (:func:`latentstitch.artifacts.keep_or_build`). Counts ``kept`` /
    ``trained`` (and ``rebuilt``) in ``summary`` and puts each head's test accuracy under
    ``summary["test_accuracy"][job.key]``."""
    pending: dict[str, list[tuple[HeadJob, dict[str, Any], str]]] = {}
    for job in jobs:
        settings, _ = split_n_jobs(job.head_cfg)
        fingerprint = _fingerprint(cfg, settings, job)
        if artifact_problem(job.out, fingerprint) is None:
            metrics, local = _keep_or_train(cfg, job, settings, fingerprint, group, 1)  # kept: reads the record
            _merge_summary(summary, local, job.key, metrics)
            continue
        pending.setdefault(str(job.record.get("head")), []).append((job, settings, fingerprint))
    for items in pending.values():
        settings, n_jobs = split_n_jobs(items[0][0].head_cfg)
        gpu = issubclass(head_class(settings), MLPHead) and inference_device(accelerator_of(cfg)).type == "cuda"
        workers = 1 if gpu else max(1, min(n_jobs, len(items)))
        inner = max(1, n_jobs // workers)
        args = [(cfg, job, s, fp, group, inner) for job, s, fp in items]
        if workers == 1:
            results = [_keep_or_train(*a) for a in args]
        else:
            from joblib import Parallel, delayed

            results = Parallel(n_jobs=workers, backend="loky")(
                delayed(_keep_or_train_in_worker)(inner, *a) for a in args
            )
        for (job, _, _), (metrics, local) in zip(items, results):
            _merge_summary(summary, local, job.key, metrics)


def _merge_summary(summary: dict[str, Any], local: dict[str, Any], key: str, metrics: dict[str, Any]) -> None:
    for name in ("kept", "trained"):
        summary[name] = summary.get(name, 0) + local.get(name, 0)
    if local.get("rebuilt"):
        summary.setdefault("rebuilt", {}).update(local["rebuilt"])
    summary.setdefault("test_accuracy", {})[key] = metrics["test_accuracy"]
