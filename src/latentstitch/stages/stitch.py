"""Stage stitch: every (source encoder, target decoder) pair of each suite dataset, every method,
scaling, anchor count and seed, into one tidy table per dataset.

    {results_dir}/stitch/{dataset}.csv      rewritten whole on each run

Classification (Tables 1, 2, 5, 6): the suite's pretrained encoders with their trained heads
(and relative heads for the ``relative`` baseline). Reconstruction (Tables 3, 4, 8): the
dataset's autoencoders, stitched within the same decoder family (plain or L2-normalized
decoder input). Every row carries its provenance (dataset, task, versions, git revision,
config hash).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf

from latentstitch.data import load_dataset, sample_anchors
from latentstitch.decoders import load_autoencoder, load_head
from latentstitch.io import atomic_path, load_encodings
from latentstitch.provenance import provenance
from latentstitch.stages._cli import stage_main
from latentstitch.stages.train_autoencoders import autoencoder_dir, autoencoder_id
from latentstitch.stages.train_heads import accelerator_of, anchor_settings, head_dir, relative_head_dir
from latentstitch.stitching import Decoder, Space, StitchSettings, stitch
from latentstitch.tracking import stage_run

DEFAULT_METHODS = ["absolute", "relative", "affine", "linear", "l-ortho", "ortho", "ridge"]


def stitch_table_path(results_dir: str | Path, dataset: str) -> Path:
    return Path(results_dir) / "stitch" / f"{dataset}.csv"


def stitch_settings(cfg: DictConfig, counts: list[int], seeds: list[int], scope: Any = None) -> StitchSettings:
    stitch_cfg = OmegaConf.select(cfg, "suite.stitch") or {}
    if scope is not None and scope.get("stitch") is not None:
        stitch_cfg = OmegaConf.merge(stitch_cfg, scope.stitch)
    translator_kwargs = stitch_cfg.get("translator") or {}
    return StitchSettings(
        methods=list(stitch_cfg.get("methods", DEFAULT_METHODS)),
        scalings=list(stitch_cfg.get("scalings", ["standard", "l2"])),
        anchor_counts=counts,
        seeds=seeds,
        retrieval_queries=int(stitch_cfg.get("retrieval_queries", 1000)),
        translator_kwargs=OmegaConf.to_container(translator_kwargs, resolve=True)
        if isinstance(translator_kwargs, DictConfig) else dict(translator_kwargs),
    )


def _load_space(path_of, name: str) -> tuple[Space, np.ndarray, np.ndarray]:
    x_train, y_train, _ = load_encodings(path_of(name, "train"))
    x_test, y_test, _ = load_encodings(path_of(name, "test"))
    return Space(name, x_train, x_test), y_train, y_test


def _load_spaces(path_of, names: list[str]) -> tuple[list[Space], np.ndarray, np.ndarray]:
    """Encodings of the same dataset by several encoders; their labels must agree row by row."""
    spaces, labels = [], None
    for name in names:
        space, y_train, y_test = _load_space(path_of, name)
        if labels is None:
            labels = (y_train, y_test)
        elif not (np.array_equal(labels[0], y_train) and np.array_equal(labels[1], y_test)):
            raise ValueError(
                f"encodings of {name!r} are not row-aligned with {names[0]!r} (labels differ): "
                f"re-run the encode stage for this dataset"
            )
        spaces.append(space)
    return spaces, labels[0], labels[1]


def _classification(cfg: DictConfig, dataset: str, dcfg: Any) -> pd.DataFrame | None:
    encoders, heads = list(dcfg.get("encoders") or []), list(dcfg.get("heads") or [])
    if len(encoders) < 2 or not heads:
        return None
    results_dir, encodings_dir = Path(cfg.paths.results_dir), Path(cfg.paths.encodings_dir)
    spaces, y_train, y_test = _load_spaces(
        lambda enc, split: encodings_dir / dataset / enc / f"{split}.safetensors", encoders
    )
    counts, seeds, stratified = anchor_settings(cfg, dcfg)
    settings = stitch_settings(cfg, counts, seeds, dcfg)
    decoders = []
    for encoder in encoders:
        for head in heads:
            fitted = load_head(head_dir(results_dir, dataset, encoder, head))
            decoders.append(Decoder(head, encoder, "classifier", fitted.predict))
            if "relative" not in settings.methods:
                continue
            for count in counts:
                for seed in seeds:
                    rel = load_head(relative_head_dir(results_dir, dataset, encoder, head, count, seed))
                    decoders.append(Decoder(head, encoder, "classifier", rel.predict_relative,
                                            relative=True, anchor_key=(count, seed)))
    table = stitch(
        spaces, decoders, settings, y_test=y_test,
        anchor_indices=lambda count, seed: sample_anchors(y_train, count, seed, stratified=stratified),
    )
    return table.assign(task="classification")


def _reconstruction(cfg: DictConfig, dataset: str, dcfg: Any) -> pd.DataFrame | None:
    grid = dcfg.get("autoencoders")
    if not grid:
        return None
    results_dir = Path(cfg.paths.results_dir)
    counts, seeds, stratified = anchor_settings(cfg, dcfg, grid)
    settings = stitch_settings(cfg, counts, seeds, grid)
    subset = OmegaConf.to_container(dcfg.subset, resolve=True) if dcfg.get("subset") else None
    images_test = np.asarray(load_dataset(dataset, subset=subset).test.inputs, dtype=np.float32) / 255.0
    accelerator = accelerator_of(cfg)
    tables = []
    for l2 in grid.get("l2", [False]):  # plain and L2-input decoders are separate families
        ids = [autoencoder_id(int(b), int(s), bool(l2)) for b in grid.bottlenecks for s in grid.seeds]
        if len(ids) < 2:
            continue
        spaces, y_train, _ = _load_spaces(
            lambda ae, split: autoencoder_dir(results_dir, dataset, ae) / f"{split}.safetensors", ids
        )
        decoders = [
            Decoder("ae", ae, "reconstruction",
                    load_autoencoder(autoencoder_dir(results_dir, dataset, ae), accelerator=accelerator).decode)
            for ae in ids
        ]
        table = stitch(
            spaces, decoders, settings, images_test=images_test,
            anchor_indices=lambda count, seed: sample_anchors(y_train, count, seed, stratified=stratified),
        )
        tables.append(table.assign(task="reconstruction", decoder_l2=bool(l2)))
    return pd.concat(tables, ignore_index=True) if tables else None


def run(cfg: DictConfig) -> dict[str, Any]:
    """Stitch every suite dataset; writes one CSV per dataset and returns their paths and sizes."""
    results_dir = Path(cfg.paths.results_dir)
    summary: dict[str, Any] = {"tables": {}}
    stamp = provenance(cfg)
    with stage_run(cfg, "stitch") as tracker:
        for dataset, dcfg in cfg.suite.datasets.items():
            start = time.perf_counter()
            parts = [t for t in (_classification(cfg, dataset, dcfg), _reconstruction(cfg, dataset, dcfg))
                     if t is not None]
            if not parts:
                continue
            table = pd.concat(parts, ignore_index=True).assign(dataset=dataset, suite=cfg.suite.name, **stamp)
            path = stitch_table_path(results_dir, dataset)
            with atomic_path(path) as tmp:
                table.to_csv(tmp, index=False)
            seconds = time.perf_counter() - start
            summary["tables"][dataset] = {"path": str(path), "rows": len(table), "seconds": seconds}
            tracker.log({f"stitch/{dataset}/seconds": seconds})
            tracker.log_table(f"stitch/{dataset}", table)
    return summary


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
