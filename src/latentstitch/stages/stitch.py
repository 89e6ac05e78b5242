"""Stage stitch: every (source encoder, target decoder) pair of each suite dataset, every method,
scaling, anchor count and seed, into one tidy table per dataset.

    {results_dir}/stitch/{dataset}.csv      one table per dataset
    {results_dir}/stitch/summary.json       the datasets stitched (with their tasks), rows and
                                            seconds per phase: what the report reads
    {results_dir}/stitch/figures/           what the report's figures need beyond the tables:
        norms_{dataset}.safetensors         L2 norms of each encoder's test encodings (Figure 4)
        grid_{dataset}_{family}.safetensors, .json   Figure 6: test images, the target's own
            reconstructions, and the source's latents translated (per method and anchor count)
            and decoded by the target autoencoder
    {results_dir}/stitch/similarity/{dataset}.csv   every pair's similarity measures, on the
                                            anchors and on the test set (latentstitch.stitchability;
                                            ``suite.stitch.similarity``: false, or {k, keep, measures})
    {results_dir}/stitch/fit_seconds/{dataset}.csv  seconds of every fit_translators call
    {results_dir}/stitch/few_anchors/{dataset}.csv  the few-anchor sweep (``suite.stitch.few_anchors``)

The folder is built aside and swapped in whole: a failed run leaves the previous one intact.

Classification (Tables 1, 2, 5, 6): the suite's pretrained encoders with their trained heads
(and the relative heads of the stage train_relative_heads for the ``relative`` baseline).
Cross-modal (Figures 5, 9): datasets that declare each other ``paired_with`` (N24News text and
image; ``latentstitch.data.pairing`` checks them) also get ``{results_dir}/stitch/{a}+{b}.csv``,
every encoder of both into every head of both, with ``a``'s stitch settings (summary.json lists
them under ``cross_modal``).
Reconstruction (Tables 3, 4, 8): the dataset's autoencoders, stitched within the same decoder
family (plain or L2-normalized decoder input). Every row carries its provenance (dataset,
task, versions, git revision, config hash). Anchors and settings: ``latentstitch.stages.plan``.

Hydra sweeps (``python -m latentstitch.stages.stitch --multirun translator=ortho,linear
anchors=100,500``) write each job's tables into the job's own folder,
``multirun/<date>/<time>/<job>/stitch/``, never over the DVC outputs; ``collect_sweep``
concatenates them.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from latentstitch.config import group_config
from latentstitch.data import load_dataset, sample_anchors
from latentstitch.data.pairing import check_paired, cross_modal_pairs
from latentstitch.decoders import load_autoencoder, load_head
from latentstitch.fitting import accelerator_of
from latentstitch.io import atomic_dir, load_encodings, write_json_atomic
from latentstitch.layout import autoencoder_dir, cross_modal_table_path, head_dir, relative_head_dir, stitch_dir
from latentstitch.methods import register_configured
from latentstitch.plan import (
    anchor_plan,
    autoencoder_ids,
    autoencoder_subset,
    stitch_settings,
)
from latentstitch.provenance import provenance
from latentstitch.stages._cli import stage_main
from latentstitch.stitchability import SimilaritySettings, stitchability_part, write_stitchability
from latentstitch.stitching import Decoder, Space, stitch, with_device
from latentstitch.translate import Translator

FIGURE_METHODS = (
    "absolute",
    "affine",
    "linear",
    "l-ortho",
    "ortho",
    "ridge",
    "irp",
    "kernel",
    "mlp",
)  # Figure 6's rows


def stitch_output_dir(cfg: DictConfig) -> Path:
    """``{results_dir}/stitch``, or in a Hydra multirun the job's own ``<job dir>/stitch``:
    a sweep's jobs differ in their settings and must not overwrite each other (nor the tables
    DVC tracks)."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    if HydraConfig.initialized() and HydraConfig.get().mode == RunMode.MULTIRUN:
        return Path(HydraConfig.get().runtime.output_dir) / "stitch"
    return stitch_dir(cfg.paths.results_dir)


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


def _classification(cfg: DictConfig, dataset: str, dcfg: Any, phases: dict[str, float]) -> pd.DataFrame | None:
    encoders, heads = list(dcfg.get("encoders") or []), list(dcfg.get("heads") or [])
    if len(encoders) < 2 or not heads:
        return None
    encodings_dir = Path(cfg.paths.encodings_dir)
    spaces, y_train, y_test = _load_spaces(
        lambda enc, split: encodings_dir / dataset / enc / f"{split}.safetensors", encoders
    )
    plan = anchor_plan(cfg, dataset, "classification")
    settings = with_device(_with_method_grid(cfg, stitch_settings(cfg, dataset, "classification")), cfg)
    decoders = _head_decoders(cfg, dataset, encoders, heads, settings, plan, relative=True)
    anchor_fn = lambda count, seed: sample_anchors(y_train, count, seed, stratified=plan.stratified)  # noqa: E731
    table = stitch(spaces, decoders, settings, y_test=y_test, anchor_indices=anchor_fn)
    _add_seconds(phases, table)
    part = _stitchability(cfg, table, spaces, anchor_fn, plan, phases, task="classification")
    out = table.assign(task="classification")
    out.attrs["stitchability"] = [part]
    return out


def _head_decoders(cfg, dataset, encoders, heads, settings, plan, relative: bool) -> list[Decoder]:
    """Every trained head of ``dataset``'s ``encoders`` (and, with ``relative`` and the
    ``relative`` baseline in the settings, their relative heads of the stage train_relative_heads)
    as decoders."""
    results_dir = Path(cfg.paths.results_dir)
    decoders = []
    for encoder in encoders:
        for head in heads:
            fitted = load_head(head_dir(results_dir, dataset, encoder, head))
            decoders.append(Decoder.head(head, encoder, fitted))
            if "relative" not in settings.methods:
                continue
            if not relative or "relative" not in settings.methods:
                continue
            for count in plan.counts:  # trained by the stage train_relative_heads
                for seed in plan.seeds:
                    folder = relative_head_dir(results_dir, dataset, encoder, head, count, seed)
                    decoders.append(
                        Decoder(
                            head,
                            encoder,
                            "classifier",
                            load_head(folder).predict_relative,
                            relative=True,
                            anchor_key=(count, seed),
                        )
                    )
    return decoders


def _cross_modal(cfg: DictConfig, a: str, b: str, phases: dict[str, float]) -> pd.DataFrame:
    """Paper Section 5, Figures 5 and 9: the encoders of two datasets that hold the same samples
    in two modalities (``latentstitch.data.pairing``, checked here), stitched into every head
    of both, as one grid; the stitch settings are ``a``'s (the paper's: absolute and ortho at
    2000 anchors), without the ``relative`` baseline (its heads are trained per dataset). Rows
    carry ``source_dataset`` and ``target_dataset``."""
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
    settings = dataclasses.replace(settings, methods=[m for m in settings.methods if m != "relative"])
    decoders = [
        dec
        for d in (a, b)
        for dec in _head_decoders(cfg, d, encoders[d], list(datasets[d].heads), settings, plan, relative=False)
    ]
    table = stitch(
        spaces,
        decoders,
        settings,
        y_test=y_test,
        anchor_indices=lambda count, seed: sample_anchors(y_train, count, seed, stratified=plan.stratified),
    )
    _add_seconds(phases, table)
    return table.assign(
        task="classification", source_dataset=table["source"].map(where), target_dataset=table["target"].map(where)
    )


def _stitchability(
    cfg: DictConfig, table: pd.DataFrame, spaces: list[Space], anchor_fn, plan, phases: dict[str, float], **labels: Any
) -> dict[str, Any]:
    """The pairs' similarities (``suite.stitch.similarity``) and fit times, for the report."""
    start = time.perf_counter()
    settings = SimilaritySettings.from_config(_plain_select(cfg, "suite.stitch.similarity"))
    part = stitchability_part(table, spaces, anchor_fn, plan.counts, plan.seeds, settings, **labels)
    phases["similarity"] = phases.get("similarity", 0.0) + time.perf_counter() - start
    return part


def _with_method_grid(cfg: DictConfig, settings):
    """``settings`` with ``suite.stitch.method_grid`` (methods run on part of the grid only;
    see ``StitchSettings.method_grid``), when the suite sets it."""
    grid = _plain_select(cfg, "suite.stitch.method_grid")
    if grid is None:
        return settings
    if not isinstance(grid, dict):
        raise ValueError(f"suite.stitch.method_grid must be a mapping {{method: {{anchors, scalings}}}}, got {grid!r}")
    return dataclasses.replace(settings, method_grid=grid)


def _plain_select(cfg: DictConfig, key: str) -> Any:
    from omegaconf import OmegaConf

    node = OmegaConf.select(cfg, key)
    return OmegaConf.to_container(node, resolve=True) if OmegaConf.is_config(node) else node


def _reconstruction(
    cfg: DictConfig, dataset: str, dcfg: Any, phases: dict[str, float], figures: Path
) -> pd.DataFrame | None:
    grid = dcfg.get("autoencoders")
    if not grid:
        return None
    results_dir = Path(cfg.paths.results_dir)
    plan = anchor_plan(cfg, dataset, "reconstruction")
    settings = with_device(_with_method_grid(cfg, stitch_settings(cfg, dataset, "reconstruction")), cfg)
    data = load_dataset(group_config(cfg, "dataset", dataset), subset=autoencoder_subset(dcfg))
    images_test = np.asarray(data.test.inputs, dtype=np.float32) / 255.0
    accelerator = accelerator_of(cfg)
    tables, parts = [], []
    for l2 in grid.get("l2", [False]):  # plain and L2-input decoders are separate families
        ids = autoencoder_ids(grid, bool(l2))
        if len(ids) < 2:
            continue
        spaces, y_train, _ = _load_spaces(
            lambda ae, split: autoencoder_dir(results_dir, dataset, ae) / f"{split}.safetensors", ids
        )
        decoders = [
            Decoder(
                "ae",
                ae,
                "reconstruction",
                load_autoencoder(autoencoder_dir(results_dir, dataset, ae), accelerator=accelerator).decode,
            )
            for ae in ids
        ]
        anchor_fn = lambda count, seed, y_train=y_train: sample_anchors(  # noqa: E731
            y_train, count, seed, stratified=plan.stratified
        )
        table = stitch(spaces, decoders, settings, images_test=images_test, anchor_indices=anchor_fn)
        _add_seconds(phases, table)
        parts.append(
            _stitchability(cfg, table, spaces, anchor_fn, plan, phases, task="reconstruction", decoder_l2=bool(l2))
        )
        tables.append(table.assign(task="reconstruction", decoder_l2=bool(l2)))
        _grid_images(cfg, dataset, ids, bool(l2), figures)
    if not tables:
        return None
    out = pd.concat(tables, ignore_index=True)
    out.attrs["stitchability"] = parts
    return out


def _grid_images(cfg: DictConfig, dataset: str, ids: list[str], l2: bool, figures: Path) -> None:
    """Figure 6's images for one decoder family: the largest bottleneck's first two
    autoencoders (source -> target), the target's first test images and own reconstructions,
    and the source's test latents translated (fitted on the anchors of the plan's first seed,
    standard scaling, for every anchor count) and decoded by the target."""
    from safetensors.numpy import load_file, save_file

    from latentstitch.layout import bottleneck_of

    pairs = [(s, t) for s in ids for t in ids if s != t and bottleneck_of(s) == bottleneck_of(t)]
    if not pairs:
        return
    source, target = max(pairs, key=lambda pair: bottleneck_of(pair[0]))
    results_dir = Path(cfg.paths.results_dir)
    plan = anchor_plan(cfg, dataset, "reconstruction")
    settings = stitch_settings(cfg, dataset, "reconstruction")
    seed = plan.seeds[0]
    target_dir = autoencoder_dir(results_dir, dataset, target)
    shown = load_file(str(target_dir / "reconstructions.safetensors"))
    k = len(shown["images"])
    x_source, y_source, _ = load_encodings(autoencoder_dir(results_dir, dataset, source) / "train.safetensors")
    x_target, _, _ = load_encodings(target_dir / "train.safetensors")
    z_source = load_encodings(autoencoder_dir(results_dir, dataset, source) / "test.safetensors")[0][:k]
    decoder = load_autoencoder(target_dir, accelerator=accelerator_of(cfg))
    images = {"original": shown["images"], "no-stitch": shown["reconstructions"]}
    rows = []
    for count in plan.counts:
        idx = sample_anchors(y_source, count, seed, stratified=plan.stratified)
        for method in FIGURE_METHODS:
            if method not in settings.methods:
                continue
            key = f"{method}@{count}"
            if method == "absolute":  # same bottleneck: the source's latents as they are
                images[key] = decoder.decode(z_source)
            else:
                translator = Translator(method=method, scaling="standard", seed=seed, **settings.translator_kwargs)
                translator.fit(x_source[idx], x_target[idx])
                images[key] = decoder.decode(np.asarray(translator.transform(z_source), dtype=np.float32))
            rows.append({"key": key, "method": method, "anchors": count})
    family = "l2dec" if l2 else "plain"
    save_file(
        {name: np.ascontiguousarray(v, dtype=np.float32) for name, v in images.items()},
        str(figures / f"grid_{dataset}_{family}.safetensors"),
    )
    write_json_atomic(
        figures / f"grid_{dataset}_{family}.json",
        {"source": source, "target": target, "seed": seed, "scaling": "standard", "rows": rows},
    )


def _norms(cfg: DictConfig, dataset: str, dcfg: Any, figures: Path) -> bool:
    """Figure 4's data: the L2 norm of every test encoding of each of the dataset's encoders."""
    from safetensors.numpy import save_file

    encoders = list(dcfg.get("encoders") or [])
    if not encoders:
        return False
    encodings_dir = Path(cfg.paths.encodings_dir)
    norms = {
        e: np.linalg.norm(load_encodings(encodings_dir / dataset / e / "test.safetensors")[0], axis=1) for e in encoders
    }
    save_file(
        {e: np.ascontiguousarray(n, dtype=np.float32) for e, n in norms.items()},
        str(figures / f"norms_{dataset}.safetensors"),
    )
    return True


def _few_anchors(cfg: DictConfig, dataset: str, dcfg: Any, phases: dict[str, float]) -> pd.DataFrame | None:
    """The few-anchor sweep of ``suite.stitch.few_anchors`` for ``dataset`` (None if not configured):
    each listed (source, target) pair with the target's first head."""
    from omegaconf import OmegaConf

    from latentstitch.few_anchors import FewAnchorSettings, few_anchor_sweep

    block = OmegaConf.select(cfg, "suite.stitch.few_anchors")
    if block is None:
        return None
    settings = FewAnchorSettings.from_config(OmegaConf.to_container(block, resolve=True), dataset)
    if settings is None:
        return None
    heads, encoders = list(dcfg.get("heads") or []), list(dcfg.get("encoders") or [])
    if not heads:
        raise ValueError(f"suite.stitch.few_anchors.datasets.{dataset}: the dataset has no heads to score with")
    start = time.perf_counter()
    results_dir, encodings_dir = Path(cfg.paths.results_dir), Path(cfg.paths.encodings_dir)
    tables = []
    for source, target in settings.pairs:
        missing = [e for e in (source, target) if e not in encoders]
        if missing:
            raise ValueError(
                f"suite.stitch.few_anchors.datasets.{dataset}.pairs: {missing} not among the "
                f"dataset's encoders {encoders}"
            )
        (src, tgt), y_train, y_test = _load_spaces(
            lambda enc, split: encodings_dir / dataset / enc / f"{split}.safetensors", [source, target]
        )
        head = load_head(head_dir(results_dir, dataset, target, heads[0]))
        tables.append(few_anchor_sweep(src, tgt, heads[0], head.predict, y_train, y_test, settings))
    phases["few anchors"] = time.perf_counter() - start
    return pd.concat(tables, ignore_index=True)


def run(cfg: DictConfig) -> dict[str, Any]:
    """Stitch every suite dataset; writes one CSV per dataset, the figures' data and
    ``summary.json``, and returns the summary (tables: path, rows, tasks, seconds per phase)."""
    register_configured(cfg)  # the user's own methods (latentstitch.methods)
    final = stitch_output_dir(cfg)
    summary: dict[str, Any] = {"suite": str(cfg.suite.name), "tables": {}, "norms": []}
    stamp = provenance(cfg)
    with atomic_dir(final) as out:
        figures = out / "figures"
        figures.mkdir()
        for dataset, dcfg in cfg.suite.datasets.items():
            if _norms(cfg, dataset, dcfg, figures):
                summary["norms"].append(dataset)
            start = time.perf_counter()
            phases: dict[str, float] = {}
            parts = [
                t
                for t in (
                    _classification(cfg, dataset, dcfg, phases),
                    _reconstruction(cfg, dataset, dcfg, phases, figures),
                )
                if t is not None
            ]
            if not parts:
                continue
            extras = [e for p in parts for e in p.attrs.get("stitchability", [])]
            table = pd.concat(parts, ignore_index=True).assign(dataset=dataset, suite=cfg.suite.name, **stamp)
            table.to_csv(out / f"{dataset}.csv", index=False)
            seconds = time.perf_counter() - start
            written = write_stitchability(out, dataset, extras, stamp)
            summary["tables"][dataset] = {
                "path": str(final / f"{dataset}.csv"),
                "rows": len(table),
                "tasks": sorted(set(table["task"])),
                "seconds": seconds,
                "phases": phases,
                "stitchability": {k: str(final / Path(v).relative_to(out)) for k, v in written.items()},
            }
            few = _few_anchors(cfg, dataset, dcfg, phases)
            if few is not None:
                (out / "few_anchors").mkdir(exist_ok=True)
                few.assign(dataset=dataset, suite=cfg.suite.name, **stamp).to_csv(
                    out / "few_anchors" / f"{dataset}.csv", index=False
                )
                summary["tables"][dataset].update(
                    {
                        "few_anchors": str(final / "few_anchors" / f"{dataset}.csv"),
                        "few_anchors_rows": len(few),
                        "seconds": time.perf_counter() - start,
                    }
                )
        for a, b in cross_modal_pairs(cfg.suite.datasets):
            start = time.perf_counter()
            phases = {}
            table = _cross_modal(cfg, a, b, phases).assign(dataset=f"{a}+{b}", suite=cfg.suite.name, **stamp)
            table.to_csv(out / f"{a}+{b}.csv", index=False)
            summary.setdefault("cross_modal", {})[f"{a}+{b}"] = {
                "path": str(cross_modal_table_path(cfg.paths.results_dir, a, b)),
                "rows": len(table),
                "seconds": time.perf_counter() - start,
                "phases": phases,
                "datasets": [a, b],
            }
        write_json_atomic(out / "summary.json", summary)
    return summary


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
