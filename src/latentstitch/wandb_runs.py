"""Read back the runs wandb wrote offline (``wandb/offline-run-*/run-<id>.wandb``), no server.

A ``.wandb`` file is a LevelDB-style log (a 7-byte ``:W&B`` header, then 32 KiB blocks of
records with a CRC-32 of type byte + payload) of ``wandb.proto.wandb_internal_pb2.Record``
messages: the run (config, group, job type, tags, name), history rows, summary updates,
files and artifacts. Tests use this to check what a stage logged; a person can use it to
look at an offline run before ``wandb sync``::

    python -m latentstitch.wandb_runs wandb/        # one line per run
"""

from __future__ import annotations

import json
import struct
import sys
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

_BLOCK, _HEADER = 32768, 7
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def records(path: str | Path) -> Iterator[Any]:
    """The Record messages of one ``.wandb`` file, in order; ValueError on a corrupt file."""
    from wandb.proto import wandb_internal_pb2 as pb

    data = Path(path).read_bytes()
    if len(data) < _HEADER or data[:4] != b":W&B":
        raise ValueError(f"{path} is not a wandb run file (no ':W&B' header)")
    _, magic, _ = struct.unpack("<4sHB", data[:_HEADER])
    if magic != 0xBEE1:
        raise ValueError(f"{path}: unknown wandb log magic {magic:#x}")
    pos, pending = _HEADER, b""
    while pos + _HEADER <= len(data):
        left = _BLOCK - pos % _BLOCK
        if left < _HEADER:  # the rest of a block too short for a header is padding
            pos += left
            continue
        checksum, length, kind = struct.unpack("<IHB", data[pos : pos + _HEADER])
        if length == 0 and kind == 0:
            break  # zero-filled tail of a file still being written
        chunk = data[pos + _HEADER : pos + _HEADER + length]
        if zlib.crc32(bytes([kind]) + chunk) & 0xFFFFFFFF != checksum:
            raise ValueError(f"{path}: checksum mismatch in the record at byte {pos}")
        pos += _HEADER + length
        if kind == _FULL:
            yield pb.Record.FromString(chunk)
        elif kind == _FIRST:
            pending = chunk
        elif kind == _MIDDLE:
            pending += chunk
        elif kind == _LAST:
            yield pb.Record.FromString(pending + chunk)
            pending = b""
        else:
            raise ValueError(f"{path}: unknown record kind {kind} at byte {pos}")


def _set(target: dict[str, Any], item: Any) -> None:
    keys = list(item.nested_key) or [item.key]
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = json.loads(item.value_json)


@dataclass
class OfflineRun:
    """What one offline run holds."""

    dir: Path
    id: str = ""
    name: str = ""
    project: str = ""
    group: str = ""
    job_type: str = ""
    tags: list[str] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)
    summary: dict[str, Any] = field(default_factory=dict)
    history: list[dict[str, Any]] = field(default_factory=list)
    files: list[str] = field(default_factory=list)
    artifacts: list[dict[str, Any]] = field(default_factory=list)
    exit_code: int | None = None

    def logged(self, kind: str) -> dict[str, Any]:
        """``{key: value}`` of every history value of wandb media type ``kind`` (e.g.
        "table-file", "image-file", "html-file"), the last one per key."""
        found = {}
        for row in self.history:
            for key, value in row.items():
                if isinstance(value, dict) and value.get("_type") == kind:
                    found[key] = value
        return found

    def metric(self, key: str) -> list[Any]:
        """Every value the history holds for ``key``, in order."""
        return [row[key] for row in self.history if key in row]


def read_run(run_dir: str | Path) -> OfflineRun:
    """The offline run in ``run_dir`` (a ``wandb/offline-run-*`` folder)."""
    run_dir = Path(run_dir)
    files = sorted(run_dir.glob("run-*.wandb"))
    if not files:
        raise FileNotFoundError(f"no run-*.wandb file in {run_dir}")
    run = OfflineRun(dir=run_dir)
    for path in files:
        for record in records(path):
            kind = record.WhichOneof("record_type")
            if kind == "run":
                r = record.run
                run.id, run.project, run.group, run.job_type = r.run_id, r.project, r.run_group, r.job_type
                run.name, run.tags = r.display_name, list(r.tags)
                for item in r.config.update:
                    _set(run.config, item)
            elif kind == "config":
                for item in record.config.update:
                    _set(run.config, item)
            elif kind == "summary":
                for item in record.summary.update:
                    _set(run.summary, item)
            elif kind == "history":
                row: dict[str, Any] = {}
                for item in record.history.item:
                    _set(row, item)
                run.history.append(row)
            elif kind == "files":
                run.files += [f.path for f in record.files.files]
            elif kind == "artifact":
                a = record.artifact
                run.artifacts.append(
                    {"type": a.type, "name": a.name, "files": [entry.path for entry in a.manifest.contents]}
                )
            elif kind == "exit":
                run.exit_code = record.exit.exit_code
    run.config.pop("_wandb", None)
    return run


def read_runs(wandb_dir: str | Path, wait: float = 0.0) -> list[OfflineRun]:
    """Every offline run under ``wandb_dir`` (the folder holding ``offline-run-*``), oldest first.

    ``wait``: seconds to wait for every run's exit record. ``run.finish()`` returns before
    wandb's service has flushed the file, so a read in the process that logged can race it."""
    deadline = time.monotonic() + wait
    while True:
        runs = [read_run(d) for d in sorted(Path(wandb_dir).glob("offline-run-*")) if d.is_dir()]
        if all(r.exit_code is not None for r in runs) or time.monotonic() >= deadline:
            return runs
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    for run in read_runs(argv[0] if argv else "wandb"):
        keys = [k for k in run.summary if not k.startswith("_")]
        print(
            f"{run.dir.name}  group={run.group!r} job_type={run.job_type!r} name={run.name!r} "
            f"tags={run.tags} exit={run.exit_code} summary keys={len(keys)} history rows={len(run.history)}"
        )


if __name__ == "__main__":
    main()
