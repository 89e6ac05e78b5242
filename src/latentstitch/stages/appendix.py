"""Stage appendix: the paper's appendix experiments on scale invariance, the method's picture
and cross-domain stitching, each with its figure and a check of the paper's claim.

    {results_dir}/appendix/          rewritten whole on each run (built aside, then swapped in)
        figure12.png|csv|json        rescaling injection inside a transformer (App. A.1)
        figure13.png|csv|json        input rescaling of ReLU / tanh / cosine MLP heads (App. A.1)
        figure2.png|csv|json         the translation steps on a toy space (Section 3.2)
        figure7.png|csv|json         cross-domain stitching (App. A)
        summary.json                 per figure: the paper's claim, whether it holds here, and
                                     the one line of numbers that decides it

Each experiment is a block of ``suite.appendix`` named after its figure; an absent block is
skipped. Every block names ``paper_figure``; the other keys:

- ``figure12``: ``dataset``, ``encoder`` (a HF text encoder of that suite dataset), ``head`` (a
  head the train_heads stage trained on it), ``layers`` (``all`` or a list; 0 = the embeddings
  entering the first block, L = the last block's output), ``alphas`` ({min, max, num}: a
  log-spaced grid), ``test_subset`` (test texts, a stratified sample drawn with ``seed``),
  ``tolerance`` (accuracy difference counted as "invariant").
- ``figure13``: ``dataset``, ``encoder`` (cached encodings of the suite), ``head`` (a
  conf/head option of kind mlp), optional ``head_overrides``, ``activations``, ``alphas``
  (the mean training norm is added to the grid), ``tolerance``.
- ``figure2``: ``points``, ``anchors``, ``scale``, ``distortion``, ``methods``, ``tolerance``
  (held-out relative error counted as exact without the distortion), optional ``translator``
  (Translator keyword arguments, e.g. ``affine_steps``).
- ``figure7``: ``dataset`` (a suite dataset whose encodings are cached: the first domain),
  ``other_domain`` (a dataset config holding the same items in a second domain, e.g.
  fashion_mnist_offline_inverted), ``encoders``, ``head`` (conf/head option), ``rows``
  ({train, test}: a stratified sample of the suite's rows, drawn with ``seed``; only these are
  encoded in the second domain), ``anchors``, ``seeds``, ``methods``, ``scalings``, optional
  ``translator``, ``tolerance``.

Also read: ``suite.tiny``, ``suite.datasets.<dataset>.subset``, ``seed``, ``device``,
``encode.batch_size``, ``paths.{results_dir, encodings_dir, models_dir}``, the heads of the
train_heads stage (Figure 12) and the encodings of the encode stage.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf

from latentstitch.appendix import cross_domain, mlp_scaling, rescaling, walkthrough
from latentstitch.appendix.invariance import alpha_grid
from latentstitch.config import group_config
from latentstitch.data import load_dataset, stratified_indices
from latentstitch.decoders import load_head
from latentstitch.encoders import build_encoder, load_spec
from latentstitch.fitting import accelerator_of
from latentstitch.io import (
    atomic_dir,
    load_encodings,
    write_json_atomic,
    write_text_atomic,
)
from latentstitch.layout import appendix_dir, head_dir
from latentstitch.methods import register_configured
from latentstitch.provenance import provenance
from latentstitch.stages._cli import stage_main
from latentstitch.stitching import Space, StitchSettings

# What the paper claims, in its words (App. A.1, A and Figure 2's caption); summary.json
# says whether our numbers bear each claim out.
PAPER_CLAIMS = {
    "figure12": "a pre-trained transformer is invariant to rescaling injection at any layer once alpha passes "
    "a threshold",
    "figure13": "ReLU and tanh MLPs are scale invariant; the cosine MLP only at the mean data scale and its "
    "periodic cycles",
    "figure2": "the translation steps bring the source onto the target, imperfectly only because of the distortion",
    "figure7": "translation stitches encoders and heads across domains (styles) of the same data",
}
TITLES = {
    "figure12": "rescaling injection",
    "figure13": "MLP input rescaling",
    "figure2": "synthetic walk-through",
    "figure7": "cross-domain stitching",
}


def _require(spec: Any, figure: str, *keys: str) -> None:
    missing = [k for k in keys if spec.get(k) is None]
    if missing:
        raise ValueError(
            f"suite.appendix.{figure} needs {', '.join(missing)} (see the stage's docstring, "
            f"src/latentstitch/stages/appendix.py)"
        )


def _encodings(cfg: DictConfig, dataset: str, encoder: str, split: str) -> tuple[np.ndarray, np.ndarray, dict]:
    return load_encodings(Path(cfg.paths.encodings_dir) / dataset / encoder / f"{split}.safetensors")


def _suite_subset(cfg: DictConfig, dataset: str, figure: str) -> dict | None:
    """The subset the encode stage drew of ``dataset`` (None: all of it)."""
    dcfg = OmegaConf.select(cfg, f"suite.datasets.{dataset}")
    if dcfg is None:
        raise ValueError(
            f"suite.appendix.{figure}.dataset {dataset!r} is not a suite dataset "
            f"({', '.join(cfg.suite.datasets)}): its encodings would not be cached"
        )
    return OmegaConf.to_container(dcfg.subset, resolve=True) if dcfg.get("subset") else None


def _same_labels(labels: np.ndarray, cached: np.ndarray, what: str) -> None:
    if not np.array_equal(np.asarray(labels), cached):
        raise ValueError(
            f"{what} is not row-aligned with the cached encodings (labels differ): re-run the encode stage"
        )


def _figure12(cfg: DictConfig, spec: Any, out: Path) -> dict[str, Any]:
    _require(spec, "figure12", "dataset", "encoder", "head", "alphas", "test_subset", "tolerance")
    dataset, encoder_id = str(spec.dataset), str(spec.encoder)
    encoder_spec = load_spec(group_config(cfg, "encoder", encoder_id))
    if encoder_spec.family not in ("hf_text", "clip_text"):
        raise ValueError(f"figure12 injects into a transformer text encoder; {encoder_id!r} is {encoder_spec.family}")
    x_test, y_test, meta = _encodings(cfg, dataset, encoder_id, "test")
    head = load_head(head_dir(cfg.paths.results_dir, dataset, encoder_id, str(spec.head)))
    texts = load_dataset(group_config(cfg, "dataset", dataset), subset=_suite_subset(cfg, dataset, "figure12")).test
    _same_labels(texts.labels, y_test, f"{dataset} (test)")
    rows = stratified_indices(y_test, min(int(spec.test_subset), len(y_test)), int(cfg.seed))
    # The representation the head was trained on is the cached one, token cap included.
    encoder_spec = dataclasses.replace(encoder_spec, max_length=int(meta.get("max_length", encoder_spec.max_length)))
    encoder = build_encoder(
        encoder_spec, tiny=bool(cfg.suite.get("tiny", False)), device=cfg.device, models_dir=cfg.paths.models_dir
    )
    n_blocks = len(rescaling.transformer_blocks(encoder.model))
    layers = list(range(n_blocks + 1)) if spec.get("layers", "all") == "all" else [int(x) for x in spec.layers]
    alphas = alpha_grid(spec.alphas)
    sweep = rescaling.rescaling_sweep(
        encoder,
        [texts.inputs[i] for i in rows],
        layers,
        alphas,
        batch_size=int(OmegaConf.select(cfg, "encode.batch_size", default=32)),
    )
    cached = x_test[rows]
    drift = float(np.abs(sweep.plain - cached).max() / np.abs(cached).max())
    if drift > 1e-3:
        raise ValueError(
            f"figure12: {encoder_id} recomputed here differs from its cached {dataset} test encodings "
            f"(max relative difference {drift:.2g}): re-run the encode stage"
        )
    y = y_test[rows]
    result = rescaling.RescalingAccuracy(
        layers,
        alphas,
        rescaling.accuracy_grid(head.predict, sweep.injected, y),
        float(np.mean(head.predict(sweep.plain) == y)),
        sweep.token_norms,
    )
    checked = rescaling.claim(result, float(spec.tolerance))
    write_text_atomic(out / "figure12.csv", result.table().to_csv(index=False))
    rescaling.plot(
        result, out / "figure12.png", title=f"{encoder_id} on {dataset} ({len(rows)} test texts), {spec.head} head"
    )
    what = f"{encoder_id} on {dataset}, {spec.head} head, {len(rows)} test texts"
    return {
        **checked,
        "what": what,
        "details": {
            **checked["details"],
            "layers": layers,
            "alphas": alphas.tolist(),
            "layer_mean_token_norms": sweep.token_norms.tolist(),
            "max_relative_difference_to_cache": drift,
        },
    }


def _figure13(cfg: DictConfig, spec: Any, out: Path) -> dict[str, Any]:
    _require(spec, "figure13", "dataset", "encoder", "head", "activations", "alphas", "tolerance")
    dataset, encoder_id = str(spec.dataset), str(spec.encoder)
    train = _encodings(cfg, dataset, encoder_id, "train")[:2]
    test = _encodings(cfg, dataset, encoder_id, "test")[:2]
    head_cfg = OmegaConf.to_container(group_config(cfg, "head", str(spec.head)), resolve=True)
    head_cfg.update(OmegaConf.to_container(spec.head_overrides, resolve=True) if spec.get("head_overrides") else {})
    alphas = alpha_grid(spec.alphas, extra=[mlp_scaling.mean_norm(train[0])])
    result = mlp_scaling.mlp_scaling(
        train, test, list(spec.activations), alphas, head_cfg, seed=int(cfg.seed), accelerator=accelerator_of(cfg)
    )
    checked = mlp_scaling.claim(result, float(spec.tolerance))
    write_text_atomic(out / "figure13.csv", result.table().to_csv(index=False))
    what = f"{encoder_id} features of {dataset}, {len(train[1])} train / {len(test[1])} test rows"
    mlp_scaling.plot(result, out / "figure13.png", title=f"MLP heads on {what}")
    return {
        **checked,
        "what": what,
        "details": {**checked["details"], "head": head_cfg, "epochs": result.epochs, "alphas": alphas.tolist()},
    }


def _figure2(cfg: DictConfig, spec: Any, out: Path) -> dict[str, Any]:
    _require(spec, "figure2", "points", "anchors", "scale", "distortion", "methods", "tolerance")
    translator = OmegaConf.to_container(spec.translator, resolve=True) if spec.get("translator") else {}
    toy, steps, errors = walkthrough.walkthrough(
        int(spec.points),
        int(spec.anchors),
        scale=float(spec.scale),
        distortion=float(spec.distortion),
        methods=list(spec.methods),
        seed=int(cfg.seed),
        translator_kwargs=translator,
    )
    checked = walkthrough.claim(errors, float(spec.tolerance))
    write_text_atomic(out / "figure2.csv", errors.to_csv(index=False))
    what = (
        f"{spec.points} toy points, 2-D source, 3-D target (rotation, scale {spec.scale}, distortion "
        f"{spec.distortion}), T fitted on {spec.anchors} anchors"
    )
    walkthrough.plot(toy, steps, out / "figure2.png", title=f"Translation steps: {what}")
    return {
        **checked,
        "what": what,
        "details": {**checked["details"], "translator": translator, "errors": errors.to_dict("records")},
    }


def _figure7(cfg: DictConfig, spec: Any, out: Path) -> dict[str, Any]:
    _require(
        spec,
        "figure7",
        "dataset",
        "other_domain",
        "encoders",
        "head",
        "rows",
        "anchors",
        "seeds",
        "methods",
        "tolerance",
    )
    dataset = str(spec.dataset)
    other = load_dataset(
        group_config(cfg, "dataset", str(spec.other_domain)), subset=_suite_subset(cfg, dataset, "figure7")
    )
    domain = other.meta.get("domain")
    if domain is None:
        raise ValueError(
            f"figure7.other_domain {spec.other_domain!r} sets no domain (e.g. domain: invert); "
            "it must hold the same items as the dataset in a second domain"
        )
    encoders = list(spec.encoders)
    labels = {split: other.split(split).labels for split in ("train", "test")}
    rows = {
        split: stratified_indices(y, min(int(spec.rows[split]), len(y)), int(cfg.seed)) for split, y in labels.items()
    }
    batch_size = int(OmegaConf.select(cfg, "encode.batch_size", default=32))
    spaces = []
    for encoder_id in encoders:
        cached = {split: _encodings(cfg, dataset, encoder_id, split) for split in ("train", "test")}
        for split, (_, y, _) in cached.items():
            _same_labels(labels[split], y, f"{spec.other_domain} ({split}) and {dataset}/{encoder_id}")
        spaces.append(
            Space(
                cross_domain.space_name(encoder_id, "original"),
                cached["train"][0][rows["train"]],
                cached["test"][0][rows["test"]],
            )
        )
        encoder = build_encoder(
            group_config(cfg, "encoder", encoder_id),
            tiny=bool(cfg.suite.get("tiny", False)),
            device=cfg.device,
            models_dir=cfg.paths.models_dir,
        )
        spaces.append(
            Space(
                cross_domain.space_name(encoder_id, str(domain)),
                *(
                    cross_domain.encode_rows(encoder, other.split(split).inputs, rows[split], batch_size)
                    for split in ("train", "test")
                ),
            )
        )
        del encoder  # one model in memory at a time
    translator = OmegaConf.to_container(spec.translator, resolve=True) if spec.get("translator") else {}
    settings = StitchSettings(
        methods=list(spec.methods),
        scalings=list(spec.get("scalings", ["standard"])),
        anchor_counts=[int(spec.anchors)],
        seeds=[int(s) for s in spec.seeds],
        translator_kwargs=translator,
    )
    head_cfg = OmegaConf.to_container(group_config(cfg, "head", str(spec.head)), resolve=True)
    table = cross_domain.cross_domain_stitching(
        spaces,
        labels["train"][rows["train"]],
        labels["test"][rows["test"]],
        head_cfg,
        settings,
        seed=int(cfg.seed),
        accelerator=accelerator_of(cfg),
    )
    checked = cross_domain.claim(table, float(spec.tolerance))
    write_text_atomic(out / "figure7.csv", table.to_csv(index=False))
    what = (
        f"{', '.join(encoders)} on {dataset} and {spec.other_domain} ({len(rows['train'])} train / "
        f"{len(rows['test'])} test rows), {spec.head} heads, {spec.anchors} anchors, seeds {list(spec.seeds)}"
    )
    cross_domain.plot(
        table, out / "figure7.png", title=f"Cross-domain stitching: {', '.join(encoders)}, original vs {domain}"
    )
    return {**checked, "what": what}


EXPERIMENTS: dict[str, Callable[[DictConfig, Any, Path], dict[str, Any]]] = {
    "figure12": _figure12,
    "figure13": _figure13,
    "figure2": _figure2,
    "figure7": _figure7,
}


def run(cfg: DictConfig) -> dict[str, Any]:
    """Run every configured appendix experiment; returns the summary written to summary.json."""
    register_configured(cfg)  # the user's own methods (latentstitch.methods)
    blocks = OmegaConf.select(cfg, "suite.appendix") or {}
    unknown = sorted(set(blocks) - set(EXPERIMENTS))
    if unknown:
        raise ValueError(f"unknown suite.appendix entries {unknown}; valid: {', '.join(EXPERIMENTS)}")
    summary: dict[str, Any] = {"suite": str(cfg.suite.name), "figures": {}, **provenance(blocks)}
    with atomic_dir(appendix_dir(cfg.paths.results_dir)) as out:
        for figure, experiment in EXPERIMENTS.items():
            spec = blocks.get(figure)
            if spec is None:
                continue
            _require(spec, figure, "paper_figure")
            start, cpu = time.perf_counter(), time.process_time()
            result = experiment(cfg, spec, out)
            seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu
            entry = {
                "paper_figure": int(spec.paper_figure),
                "title": TITLES[figure],
                "what": result["what"],
                "paper_claim": PAPER_CLAIMS[figure],
                "holds": bool(result["holds"]),
                "numbers": result["line"],
                "line": (
                    f"Figure {int(spec.paper_figure)} ({TITLES[figure]}; {result['what']}): the paper's claim "
                    f"{'holds' if result['holds'] else 'does not hold'} in this run: {result['line']}"
                ),
                "seconds": round(seconds, 1),
                "cpu_seconds": round(cpu_seconds, 1),
                "files": sorted(p.name for p in out.glob(f"{figure}.*")) + [f"{figure}.json"],
            }
            write_json_atomic(
                out / f"{figure}.json",
                {**entry, "details": result.get("details", {}), "config": OmegaConf.to_container(spec, resolve=True)},
            )
            summary["figures"][figure] = entry
        write_json_atomic(out / "summary.json", summary)
    return summary


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
