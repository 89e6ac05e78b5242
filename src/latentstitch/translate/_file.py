"""The Translator file: one safetensors file, float64 tensors, a JSON record in its header
with the settings and a SHA-256 of everything that decides the outputs. Reading validates the
whole file and raises one ValueError naming the file and what is wrong with it.

Record (the header's ``__metadata__["latentstitch.translate.Translator"]``)::

    {"format": "latentstitch.translate.Translator", "version": 2,
     "settings": {...Translator.get_params()...}, "sha256": "<hex>"}

The hash covers the format, version and settings (canonical JSON) and, for every tensor in
name order, its name, dtype, shape and bytes; so a header edited to another scaling, a
relabelled dtype or a changed value all fail the check, before anything else is trusted.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
from pathlib import Path
from typing import Any

import torch

FORMAT = "latentstitch.translate.Translator"
VERSION = 2


def content_hash(settings: dict, tensors: dict[str, torch.Tensor]) -> str:
    """SHA-256 (hex) of the format, version, settings and every tensor's name, dtype, shape
    and bytes (CPU, contiguous, in name order)."""
    h = hashlib.sha256()
    h.update(json.dumps({"format": FORMAT, "version": VERSION, "settings": settings}, sort_keys=True).encode())
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        h.update(json.dumps([name, str(t.dtype), list(t.shape)]).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def write(path: str | os.PathLike, settings: dict, tensors: dict[str, torch.Tensor]) -> None:
    """Write ``tensors`` (float64) and the record for ``settings`` to ``path`` atomically."""
    import tempfile

    from safetensors.torch import save_file

    # clone: a scaling may share one tensor between two names (std scale = inverse scale)
    tensors = {k: v.detach().to(device="cpu", dtype=torch.float64).contiguous().clone() for k, v in tensors.items()}
    record = {"format": FORMAT, "version": VERSION, "settings": settings, "sha256": content_hash(settings, tensors)}
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        save_file(tensors, tmp, metadata={FORMAT: json.dumps(record)})
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


class FileError(ValueError):
    """A Translator file that cannot be trusted; the message names the file and the problem."""


def read(path: str | os.PathLike) -> tuple[dict, dict[str, torch.Tensor]]:
    """``(settings, tensors)`` of a Translator file, after checking its framing, its record
    and its content hash. Raises FileNotFoundError for a missing file and ``FileError`` (a
    ValueError) for anything malformed. The caller checks names, shapes and values."""
    from safetensors.torch import load as load_bytes

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"translator file not found: {path}")

    def bad(problem: str) -> FileError:
        return FileError(f"{path}: {problem}")

    data = path.read_bytes()
    # safetensors framing: an 8-byte little-endian header length, the JSON header, the data.
    if len(data) < 8:
        raise bad(f"not a safetensors file ({len(data)} bytes, truncated or empty)")
    (n,) = struct.unpack("<Q", data[:8])
    if n > len(data) - 8:
        raise bad(f"truncated or not a safetensors file (header of {n} bytes, file of {len(data)})")
    try:
        header = json.loads(data[8 : 8 + n])
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise bad(f"not a safetensors file (unreadable header: {e})") from None
    if not isinstance(header, dict):
        raise bad(f"not a safetensors file (header is a {type(header).__name__})")
    meta = header.get("__metadata__") or {}
    if not isinstance(meta, dict):
        raise bad(f"the header's __metadata__ is a {type(meta).__name__}, expected a JSON object")
    if FORMAT not in meta:
        raise bad(f"not a saved Translator (no {FORMAT!r} record in its header)")
    try:
        record = json.loads(meta[FORMAT])
    except (TypeError, json.JSONDecodeError) as e:
        raise bad(f"the {FORMAT!r} record is not valid JSON ({e})") from None
    if not isinstance(record, dict):
        raise bad(f"the {FORMAT!r} record is a {type(record).__name__}, expected a JSON object")
    version = record.get("version")
    if type(version) is not int:
        raise bad(f"format version {version!r} is a {type(version).__name__}, expected the integer {VERSION}")
    if version != VERSION:
        raise bad(
            f"format version {version}, expected {VERSION}"
            + (" (written by an older latentstitch: fit and save it again)" if version < VERSION else "")
        )
    if record.get("format") != FORMAT:
        raise bad(f"record format {record.get('format')!r}, expected {FORMAT!r}")
    for key, kind in (("settings", dict), ("sha256", str)):
        if not isinstance(record.get(key), kind):
            raise bad(f"record field {key!r} is {record.get(key)!r}, expected a {kind.__name__}")
    try:
        tensors = load_bytes(data)
    except Exception as e:  # safetensors raises its own SafetensorError (and others) for bad framing
        raise bad(f"corrupt tensor data ({type(e).__name__}: {e})") from None
    if content_hash(record["settings"], tensors) != record["sha256"]:
        raise bad("content hash mismatch: the settings or tensors were changed after saving")
    return record["settings"], tensors


def check_tensor(path: Path, name: str, t: Any, shape: tuple[int, ...], *, allow_inf: bool = False) -> torch.Tensor:
    """``t`` if it is a float64 tensor of ``shape`` with finite values (or inf where allowed)."""
    if t is None:
        raise FileError(f"{path}: tensor {name!r} is missing")
    if t.dtype != torch.float64:
        raise FileError(f"{path}: tensor {name!r} has dtype {t.dtype}, expected torch.float64")
    if tuple(t.shape) != shape:
        raise FileError(f"{path}: tensor {name!r} has shape {tuple(t.shape)}, expected {shape}")
    ok = ~torch.isnan(t) if allow_inf else torch.isfinite(t)
    if not bool(ok.all()):
        raise FileError(f"{path}: tensor {name!r} holds NaN{'' if allow_inf else ' or inf'} values")
    return t
