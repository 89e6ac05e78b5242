"""Cached artifacts you can trust: every file's content hash is recorded, and checked on reuse.

A cached artifact is a folder (a head, a relative head, an autoencoder) whose ``metrics.json``
is written last and holds

- ``fingerprint``: a hash of everything that decides the artifact (settings, seed, the content
  hash of the data it was fitted on, anchor indices, ...), and
- ``files``: ``{relative path: sha256}`` of every other file of the folder.

:func:`artifact_problem` says why a folder cannot be reused (missing, made with other settings,
a file missing or corrupted: same size or not); :func:`keep_or_build` keeps a sound folder and
otherwise builds a new one aside and swaps it in whole, so a failed build never leaves the
previous folder deleted without a replacement. Encodings files carry their own content hash
(``latentstitch.io``).
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from latentstitch.io import atomic_dir, write_json_atomic

RECORD = "metrics.json"


def file_sha256(path: str | Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def content_hashes(directory: str | Path) -> dict[str, str]:
    """``{relative path: sha256}`` of every file under ``directory`` but the record."""
    directory = Path(directory)
    return {
        p.relative_to(directory).as_posix(): file_sha256(p)
        for p in sorted(directory.rglob("*"))
        if p.is_file() and p.name != RECORD
    }


def artifact_problem(directory: str | Path, fingerprint: str) -> str | None:
    """Why the artifact folder cannot be reused for ``fingerprint``, or None when it can."""
    directory = Path(directory)
    path = directory / RECORD
    if not path.exists():
        return "missing"
    try:
        record = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError) as err:
        return f"unreadable {RECORD} ({err})"
    if record.get("fingerprint") != fingerprint:
        return "made with other settings or data (fingerprint differs)"
    files = record.get("files")
    if not isinstance(files, dict) or not files:
        return "no content hashes recorded (made by an older version)"
    for name, digest in files.items():
        if not (directory / name).is_file():
            return f"{name} is missing"
        if file_sha256(directory / name) != digest:
            return f"{name} is corrupted (its content hash differs from the recorded one)"
    return None


def keep_or_build(
    out: str | Path,
    fingerprint: str,
    record: dict[str, Any],
    build: Callable[[Path], dict[str, Any]],
    summary: dict[str, Any],
) -> dict[str, Any]:
    """The record of the artifact folder ``out``: kept when sound (:func:`artifact_problem`),
    else ``build(staging)`` writes a new one into a staging folder, whose record (``record``,
    what ``build`` returns, the fingerprint and the content hashes) is written last, and the
    staging folder replaces ``out`` whole. Counts ``kept`` / ``trained`` in ``summary`` and
    lists rebuilt artifacts with the reason under ``summary["rebuilt"]``."""
    out = Path(out)
    problem = artifact_problem(out, fingerprint)
    if problem is None:
        summary["kept"] = summary.get("kept", 0) + 1
        return json.loads((out / RECORD).read_text())
    if problem != "missing":
        print(f"rebuilding {out}: {problem}", file=sys.stderr)
        summary.setdefault("rebuilt", {})[str(out)] = problem
    with atomic_dir(out) as staging:
        built = build(staging)
        metrics = {**record, **built, "fingerprint": fingerprint, "files": content_hashes(staging)}
        write_json_atomic(staging / RECORD, metrics)
    summary["trained"] = summary.get("trained", 0) + 1
    return metrics
