"""Atomic file writes and the encodings cache format shared by every stage.

An encodings file is one safetensors file holding ``encodings`` (float32, (n, d)) and
``labels`` (int64, (n,)), with a JSON metadata record in the safetensors header. The record
holds ``content_sha256``, a hash of both tensors' bytes: ``load_encodings`` checks it, so a
corrupted file (even one of the same size) is an error naming it, never silently used.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

import numpy as np

_META_KEY = "latentstitch"


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it replaces ``path`` atomically.

    A crash or exception leaves ``path`` untouched (old content or absent), never half written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600 files; outputs get the usual permissions (0666 less the umask).
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


@contextmanager
def atomic_dir(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a fresh staging folder beside the folder ``path``; on success it replaces
    ``path`` whole (see ``swap_dir``). An exception leaves ``path`` as it was and removes the
    staging folder."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{final.name}.new.", dir=final.parent))
    try:
        yield staging
        swap_dir(staging, final)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def swap_dir(staging: str | os.PathLike, final: str | os.PathLike) -> None:
    """Replace the folder ``final`` by the complete ``staging`` one with two renames: a reader
    finds the old folder or the new one (or, between the renames, none), never a mix."""
    staging, final = Path(staging), Path(final)
    old = None
    if final.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{final.name}.old.", dir=final.parent))
        os.replace(final, old / final.name)
    os.replace(staging, final)
    if old is not None:
        shutil.rmtree(old)


def write_text_atomic(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def write_json_atomic(path: str | os.PathLike, obj: Any) -> None:
    write_text_atomic(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def save_encodings(path: str | os.PathLike, encodings: np.ndarray, labels: np.ndarray, meta: dict[str, Any]) -> None:
    """Write encodings (n, d) float32 and labels (n,) int64 with a metadata record, atomically."""
    from safetensors.numpy import save_file

    encodings = np.ascontiguousarray(encodings, dtype=np.float32)
    labels = np.ascontiguousarray(labels, dtype=np.int64)
    if encodings.ndim != 2:
        raise ValueError(f"encodings must be 2-D (n, d), got shape {encodings.shape}")
    if labels.shape != (encodings.shape[0],):
        raise ValueError(
            f"labels must have shape ({encodings.shape[0]},) to match encodings {encodings.shape}, got {labels.shape}"
        )
    record = dict(
        meta,
        count=int(encodings.shape[0]),
        dim=int(encodings.shape[1]),
        dtype="float32",
        content_sha256=content_sha256(encodings, labels),
    )
    header = {_META_KEY: json.dumps(record, sort_keys=True, default=str)}
    with atomic_path(path) as tmp:
        save_file({"encodings": encodings, "labels": labels}, str(tmp), metadata=header)


def content_sha256(encodings: np.ndarray, labels: np.ndarray) -> str:
    """The content hash of an encodings file: sha256 of the float32 encodings' bytes, then the
    int64 labels' bytes (C order)."""
    digest = hashlib.sha256(np.ascontiguousarray(encodings, dtype=np.float32).tobytes())
    digest.update(np.ascontiguousarray(labels, dtype=np.int64).tobytes())
    return digest.hexdigest()


class CorruptedFileError(ValueError):
    """A cached file whose content does not match the hash recorded when it was written."""


def read_encodings_meta(path: str | os.PathLike) -> dict[str, Any]:
    """The metadata record of an encodings file, without loading the tensors."""
    from safetensors import safe_open

    with safe_open(str(path), framework="np") as f:
        header = f.metadata() or {}
    if _META_KEY not in header:
        raise ValueError(f"{path} is not a latentstitch encodings file (no '{_META_KEY}' metadata)")
    return json.loads(header[_META_KEY])


def load_encodings(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """Read an encodings file; returns (encodings, labels, meta). Raises ValueError if inconsistent."""
    from safetensors.numpy import load_file

    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"encodings file not found: {path} (run the encode stage first)")
    meta = read_encodings_meta(path)
    tensors = load_file(str(path))
    x, y = tensors.get("encodings"), tensors.get("labels")
    if x is None or y is None:
        raise ValueError(f"{path} lacks 'encodings' or 'labels' tensors")
    if x.shape != (meta["count"], meta["dim"]) or y.shape != (meta["count"],):
        raise ValueError(
            f"{path} is inconsistent: encodings {x.shape}, labels {y.shape}, "
            f"metadata says count={meta['count']} dim={meta['dim']}"
        )
    recorded = meta.get("content_sha256")
    if recorded is not None and recorded != content_sha256(x, y):
        raise CorruptedFileError(
            f"{path} is corrupted: its content hash differs from the one recorded when it was "
            f"written; rerun the stage that writes it (encode, or train_autoencoders) to rebuild it"
        )
    return x, y, meta
