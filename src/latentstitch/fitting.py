"""Fitting the decoders of the pipeline's stages into verified artifact folders: classification
heads on cached encodings (train_heads) and the `relative` baseline's heads for the anchors in
use (train_relative_heads). Layout: :mod:`latentstitch.layout`; caching: :mod:`latentstitch.artifacts`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig

from latentstitch.artifacts import keep_or_build
from latentstitch.decoders import MLPHead, RelativeHead, build_head, save_head
from latentstitch.decoders.training import finish_logger, make_logger
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
) -> dict[str, Any]:
    """Fit one head (relative when ``anchor_idx`` is given), save it into ``out``, return its metrics."""
    (x_train, y_train), (x_test, y_test) = train, test
    head = build_head(head_cfg, seed=int(cfg.seed), accelerator=accelerator_of(cfg))
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


def keep_or_train_head(
    cfg: DictConfig, out: Path, head_cfg: dict[str, Any], record: dict[str, Any], data_id: dict[str, Any],
    train, test, anchor_idx: np.ndarray | None, summary: dict[str, Any], key: str, group: str,
) -> dict[str, Any]:
    """Keep the head folder ``out`` when sound for this fingerprint (head settings, seed, the
    encodings' content hashes, the record and, for a relative head, the anchor indices), else
    train it; the test accuracy goes to ``summary["test_accuracy"][key]``."""
    anchors = None if anchor_idx is None else anchors_sha256(anchor_idx)
    fingerprint = config_hash({"head_cfg": head_cfg, "seed": int(cfg.seed), "data": data_id,
                               "anchor_indices": anchors, **record})
    metrics = keep_or_build(
        out, fingerprint, {**record, **provenance()}, summary=summary,
        build=lambda staging: _train_one(cfg, head_cfg, staging, key, train, test, anchor_idx, group),
    )
    summary["test_accuracy"][key] = metrics["test_accuracy"]
    return metrics
