"""Stage stitch: every (source encoder, target decoder) pair of each suite dataset, every method,
scaling, anchor count and seed, into one tidy table per dataset.

    {results_dir}/stitch/{dataset}.csv      rewritten whole on each run
    {results_dir}/stitch/summary.json       rows and seconds per phase, per dataset
    {results_dir}/relative_heads/...        the `relative` baseline's decoders (kept across runs)

Classification (Tables 1, 2, 5, 6): the suite's pretrained encoders with their trained heads
(and relative heads for the ``relative`` baseline, trained here for the anchors in use).
Cross-modal (Figures 5, 9): datasets that declare each other ``paired_with`` (N24News text and
image; ``latentstitch.data.pairing`` checks them) also get ``{results_dir}/stitch/{a}+{b}.csv``,
every encoder of both into every head of both, with ``a``'s stitch settings.
Reconstruction (Tables 3, 4, 8): the dataset's autoencoders, stitched within the same decoder
family (plain or L2-normalized decoder input). Every row carries its provenance (dataset,
task, versions, git revision, config hash). Anchors and settings: ``latentstitch.stages.plan``.

Hydra sweeps (``python -m latentstitch.stages.stitch --multirun translator=ortho,linear
anchors=100,500``) write each job's tables into the job's own folder,
``multirun/<date>/<time>/<job>/stitch/``, never over the DVC outputs; ``collect_sweep``
concatenates them.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from latentstitch.data import load_dataset, sample_anchors
from latentstitch.data.pairing import check_paired, cross_modal_pairs
from latentstitch.decoders import load_autoencoder, load_head
from latentstitch.io import atomic_path, load_encodings, write_json_atomic
from latentstitch.provenance import provenance
from latentstitch.stages._cli import stage_main
from latentstitch.stages.train_autoencoders import autoencoder_dir, autoencoder_id, autoencoder_subset
from latentstitch.stages.plan import anchor_plan, stitch_settings
from latentstitch.stages.train_heads import accelerator_of, head_dir, train_relative_heads
from latentstitch.stitching import Decoder, Space, stitch, with_device
from latentstitch.tracking import stage_run


def stitch_table_path(results_dir: str | Path, dataset: str) -> Path:
    """The DVC-tracked table of ``dataset`` (what the report reads)."""
    return Path(results_dir) / "stitch" / f"{dataset}.csv"


def stitch_output_dir(cfg: DictConfig) -> Path:
    """``{results_dir}/stitch``, or in a Hydra multirun the job's own ``<job dir>/stitch``:
    a sweep's jobs differ in their settings and must not overwrite each other (nor the tables
    DVC tracks)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        return Path(HydraConfig.get().runtime.output_dir) / "stitch"
    return Path(cfg.paths.results_dir) / "stitch"


def collect_sweep(sweep_dir: str | Path) -> pd.DataFrame:
    """Every job's tables of a Hydra multirun (``<sweep_dir>/<job>/stitch/*.csv``) as one table,
    with a ``job`` column; raises FileNotFoundError when the folder holds none."""
    paths = sorted(Path(sweep_dir).glob("*/stitch/*.csv"))
    if not paths:
        raise FileNotFoundError(f"no stitch tables under {sweep_dir}/*/stitch/ (is it a multirun folder?)")
    return pd.concat([pd.read_csv(p).assign(job=p.parent.parent.name) for p in paths], ignore_index=True)


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


def _add_seconds(phases: dict[str, float], table: pd.DataFrame) -> None:
    for phase, seconds in table.attrs["seconds"].items():
        phases[phase] = phases.get(phase, 0.0) + seconds


def _classification(
    cfg: DictConfig, dataset: str, dcfg: Any, heads_summary: dict[str, Any], phases: dict[str, float]
) -> pd.DataFrame | None:
    encoders, heads = list(dcfg.get("encoders") or []), list(dcfg.get("heads") or [])
    if len(encoders) < 2 or not heads:
        return None
    results_dir, encodings_dir = Path(cfg.paths.results_dir), Path(cfg.paths.encodings_dir)
    spaces, y_train, y_test = _load_spaces(
        lambda enc, split: encodings_dir / dataset / enc / f"{split}.safetensors", encoders
    )
    plan = anchor_plan(cfg, dataset, "classification")
    settings = with_device(stitch_settings(cfg, dataset, "classification"), cfg)
    decoders = _head_decoders(cfg, dataset, encoders, heads, settings, plan, heads_summary, phases)
    table = stitch(
        spaces, decoders, settings, y_test=y_test,
        anchor_indices=lambda count, seed: sample_anchors(y_train, count, seed, stratified=plan.stratified),
    )
    _add_seconds(phases, table)
    return table.assign(task="classification")


def _head_decoders(cfg, dataset, encoders, heads, settings, plan, heads_summary, phases) -> list[Decoder]:
    """Every trained head of ``dataset``'s ``encoders`` (and their relative heads, when the
    ``relative`` baseline runs) as decoders."""
    results_dir = Path(cfg.paths.results_dir)
    decoders = []
    for encoder in encoders:
        for head in heads:
            fitted = load_head(head_dir(results_dir, dataset, encoder, head))
            decoders.append(Decoder.head(head, encoder, fitted))
            if "relative" not in settings.methods:
                continue
            start = time.perf_counter()
            folders = train_relative_heads(cfg, dataset, encoder, head, plan, heads_summary)
            phases["relative heads"] = phases.get("relative heads", 0.0) + time.perf_counter() - start
            for key, folder in folders.items():
                decoders.append(Decoder(head, encoder, "classifier", load_head(folder).predict_relative,
                                        relative=True, anchor_key=key))
    return decoders


def cross_modal_table_path(results_dir: str | Path, a: str, b: str) -> Path:
    """The table of the cross-modal pair (a, b): every encoder of both into every head of both."""
    return Path(results_dir) / "stitch" / f"{a}+{b}.csv"


def _cross_modal(
    cfg: DictConfig, a: str, b: str, heads_summary: dict[str, Any], phases: dict[str, float]
) -> pd.DataFrame:
    """Paper Section 5, Figures 5 and 9: the encoders of two datasets that hold the same samples
    in two modalities (``latentstitch.data.pairing``, checked here), stitched into every head
    of both, as one grid; the stitch settings are ``a``'s (the paper's: absolute and ortho at
    2000 anchors). Rows carry ``source_dataset`` and ``target_dataset``."""
    datasets = cfg.suite.datasets
    check_paired(a, b, subset_a=datasets[a].get("subset"), subset_b=datasets[b].get("subset"))
    encodings_dir = Path(cfg.paths.encodings_dir)
    encoders = {d: list(datasets[d].encoders) for d in (a, b)}
    clash = set(encoders[a]) & set(encoders[b])
    if clash:
        raise ValueError(f"cross-modal pair {a!r} / {b!r}: encoder(s) {sorted(clash)} in both; names must be unique")
    where = {enc: d for d in (a, b) for enc in encoders[d]}
    spaces, y_train, y_test = _load_spaces(
        lambda enc, split: encodings_dir / where[enc] / enc / f"{split}.safetensors", [*encoders[a], *encoders[b]]
    )
    plan = anchor_plan(cfg, a, "classification")
    settings = with_device(stitch_settings(cfg, a, "classification"), cfg)
    decoders = [dec for d in (a, b)
                for dec in _head_decoders(cfg, d, encoders[d], list(datasets[d].heads), settings, plan,
                                          heads_summary, phases)]
    table = stitch(
        spaces, decoders, settings, y_test=y_test,
        anchor_indices=lambda count, seed: sample_anchors(y_train, count, seed, stratified=plan.stratified),
    )
    _add_seconds(phases, table)
    return table.assign(task="classification", source_dataset=table["source"].map(where),
                        target_dataset=table["target"].map(where))


def _reconstruction(cfg: DictConfig, dataset: str, dcfg: Any, phases: dict[str, float]) -> pd.DataFrame | None:
    grid = dcfg.get("autoencoders")
    if not grid:
        return None
    results_dir = Path(cfg.paths.results_dir)
    plan = anchor_plan(cfg, dataset, "reconstruction")
    settings = with_device(stitch_settings(cfg, dataset, "reconstruction"), cfg)
    images_test = np.asarray(load_dataset(dataset, subset=autoencoder_subset(dcfg)).test.inputs, dtype=np.float32) / 255.0
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
            anchor_indices=lambda count, seed: sample_anchors(y_train, count, seed, stratified=plan.stratified),
        )
        _add_seconds(phases, table)
        tables.append(table.assign(task="reconstruction", decoder_l2=bool(l2)))
    return pd.concat(tables, ignore_index=True) if tables else None


def run(cfg: DictConfig) -> dict[str, Any]:
    """Stitch every suite dataset; writes one CSV per dataset (and ``summary.json``) and
    returns their paths, sizes and seconds per phase."""
    out_dir = stitch_output_dir(cfg)
    summary: dict[str, Any] = {"tables": {}, "relative_heads": {"trained": 0, "kept": 0, "test_accuracy": {}}}
    stamp = provenance(cfg)
    with stage_run(cfg, "stitch") as tracker:
        for dataset, dcfg in cfg.suite.datasets.items():
            start = time.perf_counter()
            phases: dict[str, float] = {}
            parts = [t for t in (_classification(cfg, dataset, dcfg, summary["relative_heads"], phases),
                                 _reconstruction(cfg, dataset, dcfg, phases))
                     if t is not None]
            if not parts:
                continue
            table = pd.concat(parts, ignore_index=True).assign(dataset=dataset, suite=cfg.suite.name, **stamp)
            path = out_dir / f"{dataset}.csv"
            with atomic_path(path) as tmp:
                table.to_csv(tmp, index=False)
            seconds = time.perf_counter() - start
            summary["tables"][dataset] = {"path": str(path), "rows": len(table), "seconds": seconds,
                                          "phases": phases}
            tracker.log({f"stitch/{dataset}/seconds": seconds})
            tracker.log_table(f"stitch/{dataset}", table)
        for a, b in cross_modal_pairs(cfg.suite.datasets):
            start = time.perf_counter()
            phases = {}
            table = _cross_modal(cfg, a, b, summary["relative_heads"], phases).assign(
                dataset=f"{a}+{b}", suite=cfg.suite.name, **stamp)
            path = out_dir / cross_modal_table_path("", a, b).name
            with atomic_path(path) as tmp:
                table.to_csv(tmp, index=False)
            seconds = time.perf_counter() - start
            summary["tables"][f"{a}+{b}"] = {"path": str(path), "rows": len(table), "seconds": seconds,
                                             "phases": phases, "cross_modal": [a, b]}
            tracker.log({f"stitch/{a}+{b}/seconds": seconds})
        write_json_atomic(out_dir / "summary.json", summary)
    return summary


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
