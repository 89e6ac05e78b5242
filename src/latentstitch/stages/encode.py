"""The `encode` stage: every suite dataset x its encoders x (train, test) into the encodings cache.

    python -m latentstitch.stages.encode [hydra overrides...]
    python -m latentstitch.stages.encode --params params.yaml      # as dvc.yaml runs it

Valid cache files are kept (no model is loaded for them); missing, stale, truncated or
corrupted ones (content hash, ``latentstitch.io``) are (re)computed, resuming interrupted ones,
and the reason is printed. Every dataset is loaded first, so an unknown or unavailable one
fails before any encoding. Encoders are built one at a time, in the order the suite first
names them, so only one model is in memory. Dataset and encoder settings come from the
config's ``datasets`` / ``encoders`` sections (params.yaml, resolved from conf/).
"""

from __future__ import annotations

import dataclasses
import sys
from typing import Any

from omegaconf import DictConfig, OmegaConf

from latentstitch.config import group_config
from latentstitch.data import load_dataset
from latentstitch.encoders import (
    build_encoder,
    encodings_path,
    ensure_encodings,
    load_spec,
)
from latentstitch.encoders.encoding import DEFAULT_CHUNK_SIZE, SPLITS, cache_problem
from latentstitch.stages._cli import stage_main

# Encoding settings (`encode.*` in the composed config) and their defaults.
_SETTINGS = {"batch_size": 32, "chunk_size": DEFAULT_CHUNK_SIZE, "amp": False, "progress": True}


def run(cfg: DictConfig) -> dict[str, Any]:
    """Encode the suite's datasets with their encoders; returns one row per (dataset, encoder, split).

    Reads ``suite.datasets`` (name -> ``encoders`` list, optional ``subset``, optional
    ``max_tokens``: an explicit cap on every text transformer's ``max_length`` for that dataset,
    recorded in the cache metadata; CPU suites use it on long articles), ``suite.tiny``,
    ``device``, ``paths.encodings_dir``, ``paths.models_dir`` and optional ``encode.*``
    settings (batch_size, chunk_size, amp, progress).
    """
    settings = {key: OmegaConf.select(cfg, f"encode.{key}", default=value) for key, value in _SETTINGS.items()}
    tiny = bool(OmegaConf.select(cfg, "suite.tiny", default=False))
    encodings_dir = cfg.paths.encodings_dir
    plan: dict[str, list[str]] = {}  # encoder id -> datasets, in the suite's order
    subsets: dict[str, Any] = {}
    max_tokens: dict[str, int | None] = {}
    for name, dataset_cfg in cfg.suite.datasets.items():
        subset = dataset_cfg.get("subset")
        subsets[name] = OmegaConf.to_container(subset) if isinstance(subset, DictConfig) else subset
        max_tokens[name] = dataset_cfg.get("max_tokens")
        for encoder_id in dataset_cfg.get("encoders") or []:
            plan.setdefault(encoder_id, []).append(name)

    # every dataset first: an unknown or unavailable one fails before any encoding
    datasets = {
        name: load_dataset(group_config(cfg, "dataset", name), subset=subsets[name])
        for name in subsets
        if any(name in names for names in plan.values())
    }
    rows = []
    for encoder_id, names in plan.items():
        base_spec = load_spec(group_config(cfg, "encoder", encoder_id))
        encoder = None
        for name in names:
            spec = _capped(base_spec, max_tokens[name])
            if encoder is not None and encoder.spec != spec:
                encoder = None  # another token cap: rebuild from the capped spec
            dataset = datasets[name]
            for split in SPLITS:
                path = encodings_path(encodings_dir, dataset.name, spec.id, split)
                problem = cache_problem(dataset, spec, split, encodings_dir, tiny=tiny, amp=settings["amp"])
                if problem is None:
                    status = "cached"
                else:
                    if problem != "missing":
                        print(f"re-encoding {path}: {problem}", file=sys.stderr)
                    if encoder is None:
                        encoder = build_encoder(spec, tiny=tiny, device=cfg.device, models_dir=cfg.paths.models_dir)
                    ensure_encodings(dataset, encoder, split, encodings_dir, **settings)
                    status = "encoded"
                rows.append(
                    {"dataset": dataset.name, "encoder": spec.id, "split": split, "path": str(path), "status": status}
                )
        del encoder  # free the model before building the next one
    return {"encodings": rows}


def _capped(spec, max_tokens: int | None):
    """``spec`` with its max_length capped at ``max_tokens`` (text transformers only)."""
    if max_tokens is None:
        return spec
    if int(max_tokens) < 1:
        raise ValueError(f"max_tokens must be a positive int, got {max_tokens!r}")
    if spec.max_length is None or spec.max_length <= int(max_tokens):
        return spec
    return dataclasses.replace(spec, max_length=int(max_tokens))


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
