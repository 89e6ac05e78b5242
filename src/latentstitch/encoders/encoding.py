"""Encode a dataset split with an encoder, and the resumable on-disk cache of encodings.

One file per (dataset, encoder, split): ``{encodings_dir}/{dataset}/{encoder}/{split}.safetensors``
(format: :func:`latentstitch.io.save_encodings`). A split is encoded in chunks; each finished
chunk is written atomically to ``{split}.partial/`` beside the file, so an interrupted run
resumes from the last finished chunk. A cached file whose metadata does not match what would
be computed now (encoder, revision, pooling, dataset, subset, labels, count, ...), whose
bytes are truncated, or whose content does not match its recorded hash (corrupted, even at the
same size) is rebuilt.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import struct
import time
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any, Optional, Union

import numpy as np

from latentstitch.data.base import Dataset
from latentstitch.encoders.spec import EncoderSpec
from latentstitch.io import CorruptedFileError, load_encodings, read_encodings_meta, save_encodings, write_json_atomic

if TYPE_CHECKING:
    from latentstitch.encoders.base import Encoder

SPLITS = ("train", "test")
DEFAULT_CHUNK_SIZE = 4096
_VERSIONED = ("latentstitch", "torch", "transformers", "timm", "numpy")


def encodings_path(encodings_dir: Union[str, os.PathLike], dataset_name: str, encoder_id: str, split: str) -> Path:
    """``{encodings_dir}/{dataset_name}/{encoder_id}/{split}.safetensors``."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    for what, name in (("dataset name", dataset_name), ("encoder id", encoder_id)):
        if not name or "/" in name or "\\" in name or name in (".", ".."):
            raise ValueError(f"{what} must be a plain, non-empty file name, got {name!r}")
    return Path(encodings_dir) / dataset_name / encoder_id / f"{split}.safetensors"


def _progress_bar(total: int, desc: str, enabled: bool, initial: int = 0):
    from tqdm.auto import tqdm

    return tqdm(total=total, initial=initial, desc=desc, unit="item", disable=not enabled, dynamic_ncols=True)


def _check_pair(dataset: Dataset, encoder: "Encoder", split: str):
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    if dataset.modality != encoder.modality:
        raise ValueError(
            f"encoder {encoder.id!r} encodes {encoder.modality} but dataset {dataset.name!r} is {dataset.modality}"
        )
    return dataset.split(split)


def encode(
    dataset: Dataset,
    encoder: "Encoder",
    split: str,
    *,
    batch_size: int = 32,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    amp: bool = False,
    sort_by_length: bool = True,
    progress: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Encodings (n, d) float32 and labels (n,) int64 of one split, in the split's order.

    Runs on the encoder's device under ``torch.inference_mode``; ``amp`` enables autocast.
    Texts are batched by token count within chunks of ``chunk_size`` items (which bounds the
    memory held by tokenized text) and restored to input order.
    """
    data = _check_pair(dataset, encoder, split)
    _check_sizes(batch_size, chunk_size)
    n = len(data)
    bar = _progress_bar(n, f"{dataset.name}/{encoder.id}/{split}", progress)
    parts = [
        encoder.embed(
            data.inputs[start : start + chunk_size],
            batch_size=batch_size,
            amp=amp,
            sort_by_length=sort_by_length,
            progress=bar,
        )
        for start in range(0, n, chunk_size)
    ]
    bar.close()
    x = np.concatenate(parts) if parts else np.empty((0, encoder.dim), dtype=np.float32)
    return x, np.asarray(data.labels, dtype=np.int64)


def _check_sizes(batch_size: int, chunk_size: int) -> None:
    for name, value in (("batch_size", batch_size), ("chunk_size", chunk_size)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")


def _expected(dataset: Dataset, describe: dict[str, Any], split: str, amp: bool) -> dict[str, Any]:
    """The metadata a valid cache file must carry; compared key by key after a JSON round trip."""
    labels = np.ascontiguousarray(dataset.split(split).labels, dtype=np.int64)
    record = {
        **describe,
        "amp": bool(amp),
        "dataset": dataset.name,
        "dataset_subset": dataset.meta.get("subset"),
        "dataset_domain": dataset.meta.get("domain"),
        "split": split,
        "count": int(labels.shape[0]),
        "labels_sha1": hashlib.sha1(labels.tobytes()).hexdigest(),
        # everything about the data (source, split seed, test fraction, ...) but its description
        "dataset_config_sha1": _config_sha1(dataset.meta.get("config")),
    }
    return json.loads(json.dumps(record, default=str))


def _config_sha1(config: Any) -> Optional[str]:
    if not isinstance(config, dict):
        return None
    kept = {k: v for k, v in config.items() if k != "paper_table"}
    return hashlib.sha1(json.dumps(kept, sort_keys=True, default=str).encode()).hexdigest()


def _safetensors_complete(path: Path) -> bool:
    """Whether the file holds every byte its safetensors header promises (not truncated)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) != 8:
            return False
        (header_len,) = struct.unpack("<Q", head)
        if 8 + header_len > size:
            return False
        header = json.loads(f.read(header_len))
    ends = [v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"]
    return size == 8 + header_len + max(ends, default=0)


def _cache_problem(path: Path, expected: dict[str, Any]) -> Optional[str]:
    """Why the cache file at ``path`` cannot be used, or None if it can."""
    if not path.exists():
        return "missing"
    try:
        if not _safetensors_complete(path):
            return "truncated"
        meta = read_encodings_meta(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"unreadable ({type(exc).__name__}: {exc})"
    for key, value in expected.items():
        if meta.get(key) != value:
            return f"{key} is {meta.get(key)!r}, expected {value!r}"
    if "content_sha256" not in meta:
        return "no content hash recorded (written by an older version)"
    try:
        load_encodings(path)
    except CorruptedFileError:
        return "corrupted (content hash differs from the recorded one)"
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return f"unreadable ({type(exc).__name__}: {exc})"
    return None


def cache_problem(
    dataset: Dataset,
    encoder: Union[EncoderSpec, "Encoder"],
    split: str,
    encodings_dir: Union[str, os.PathLike],
    *,
    tiny: bool = False,
    amp: bool = False,
) -> Optional[str]:
    """Why the cached encodings of (dataset, encoder, split) cannot be reused (missing, stale,
    truncated, corrupted, ...), or None when they can; judged from the config alone."""
    spec, tiny = (encoder.spec, encoder.tiny) if hasattr(encoder, "spec") else (encoder, tiny)
    expected = _expected(dataset, spec.describe(tiny=tiny), split, amp)
    if not tiny and spec.dim is not None:
        expected["dim"] = spec.dim
    return _cache_problem(encodings_path(encodings_dir, dataset.name, spec.id, split), expected)


def is_cached(
    dataset: Dataset,
    encoder: Union[EncoderSpec, "Encoder"],
    split: str,
    encodings_dir: Union[str, os.PathLike],
    *,
    tiny: bool = False,
    amp: bool = False,
) -> bool:
    """Whether a valid cache file exists, judged from the config alone (no model is loaded).

    ``encoder`` is a spec (from :func:`~latentstitch.encoders.spec.load_spec`) or an encoder.
    """
    return cache_problem(dataset, encoder, split, encodings_dir, tiny=tiny, amp=amp) is None


def _load_part(path: Path, count: int, dim: int) -> Optional[tuple[np.ndarray, float]]:
    """A finished chunk (encodings, seconds), or None if absent or unusable (it is redone)."""
    if not path.exists():
        return None
    try:
        if not _safetensors_complete(path):
            return None
        x, _, meta = load_encodings(path)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if x.shape != (count, dim):
        return None
    return x, float(meta.get("seconds", 0.0))


def _versions() -> dict[str, Optional[str]]:
    found = {}
    for name in _VERSIONED:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = None
    return found


def ensure_encodings(
    dataset: Dataset,
    encoder: "Encoder",
    split: str,
    encodings_dir: Union[str, os.PathLike],
    *,
    batch_size: int = 32,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    amp: bool = False,
    progress: bool = True,
) -> Path:
    """Path of the cached encodings of (dataset, encoder, split), computing what is missing.

    A valid cache file is returned as is. Otherwise the split is encoded chunk by chunk, each
    finished chunk kept in ``{split}.partial/`` (a rerun after an interruption resumes there),
    and the file is written atomically with its metadata record: encoder id, model, revision,
    pooling, max length, dim, count, dtype, seconds (compute time summed over chunks, resumed
    runs included), package versions, device, and the dataset's name, subset, domain and a
    hash of its labels.
    """
    data = _check_pair(dataset, encoder, split)
    _check_sizes(batch_size, chunk_size)
    path = encodings_path(encodings_dir, dataset.name, encoder.id, split)
    expected = {**_expected(dataset, encoder.describe(), split, amp), "dim": encoder.dim}
    if _cache_problem(path, expected) is None:
        return path

    partial = path.parent / f"{split}.partial"
    manifest = {**expected, "chunk_size": chunk_size}
    manifest_path = partial / "manifest.json"
    try:
        previous = json.loads(manifest_path.read_text())
    except (OSError, ValueError):
        previous = None
    if previous != manifest and partial.exists():
        # Chunks computed for another encoder, dataset or chunking: start over.
        shutil.rmtree(partial)
    if previous != manifest:
        write_json_atomic(manifest_path, manifest)

    n = len(data)
    labels = np.asarray(data.labels, dtype=np.int64)
    bounds = [(start, min(start + chunk_size, n)) for start in range(0, n, chunk_size)]
    bar = _progress_bar(n, f"{dataset.name}/{encoder.id}/{split}", progress)
    parts, seconds = [], 0.0
    for k, (start, stop) in enumerate(bounds):
        part_path = partial / f"{k:06d}.safetensors"
        done = _load_part(part_path, stop - start, encoder.dim)
        if done is None:
            began = time.perf_counter()
            x = encoder.embed(data.inputs[start:stop], batch_size=batch_size, amp=amp, progress=bar)
            spent = time.perf_counter() - began
            save_encodings(part_path, x, labels[start:stop], {"seconds": spent, "start": start, "stop": stop})
            done = (x, spent)
        else:
            bar.update(stop - start)
        parts.append(done[0])
        seconds += done[1]
    bar.close()

    x = np.concatenate(parts) if parts else np.empty((0, encoder.dim), dtype=np.float32)
    meta = {
        **expected,
        "seconds": round(seconds, 3),
        "versions": _versions(),
        "device": str(encoder.device),
        "batch_size": batch_size,
        "chunk_size": chunk_size,
        "dataset_meta": {k: dataset.meta.get(k) for k in ("source", "split_seed", "subset", "domain", "full_sizes")},
    }
    save_encodings(path, x, labels, meta)
    # Another process finishing the same file may have removed it already.
    shutil.rmtree(partial, ignore_errors=True)
    return path
