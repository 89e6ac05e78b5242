"""Stage report: the paper-layout tables, the comparison with the paper, and the figures,
rebuilt from what the stitch and appendix stages wrote (it refits and decodes nothing).

    {results_dir}/report/   rewritten whole on each run (built aside, then swapped in)
        report.md                    every table inline, the comparison, every figure, linked
        comparison.md, comparison.csv, rankings.csv
        tables/{key}.md|.csv|.tex    one per table (CSV: tidy cells with mean, std, n, anchors)
        figures/*.png
    {results_dir}/metrics.json       headline numbers per table (``dvc metrics show / diff``)
    {results_dir}/plots/*.csv        the curves of Figures 3 and 8 (``dvc plots show``)

Reads ``{results_dir}/stitch/summary.json`` (which datasets were stitched), their tables
``{results_dir}/stitch/{dataset}.csv``, the figures' data under ``{results_dir}/stitch/figures/``
(Figure 4's norms, Figure 6's images), the appendix stage's outputs and the paper's values
(reports/paper/paper_values.csv).

Config keys read (all optional except ``suite.name`` and ``suite.datasets``):

- ``suite.report.paper_datasets``: ``{our dataset: paper dataset}``, e.g.
  ``{fashion_mnist_offline: fashion_mnist, mnist_5k: mnist}``; the paper's own ids
  (``cifar10``, ``trec``, ...) and ``dbpedia_14`` map by themselves.
- ``suite.report.anchors``: the anchor count of the tables' translated cells: an int, or a
  mapping with dataset ids, table names (``table3`` or our key, e.g.
  ``reconstruction_plain_cross_standard``) and ``default`` as keys (a dataset's value may be
  such a mapping too); unset: the largest count run. Figures 5 and 6 use the same count.
- ``suite.report.note``: a paragraph on how the suite departs from the paper (printed first).
- ``suite.report.ddof``: the std's delta degrees of freedom (default 1, the sample std).
- ``suite.report.digits``: decimals of our numbers (default 3; the paper's print with 2).
- ``suite.report.images``: test images in the Figure 6 grid (default 8).
- ``suite.tiny``, ``suite.datasets.<d>.{encoders, heads, autoencoders, subset}``, the
  ``datasets`` and ``encoders`` sections (the setup table), ``paths.results_dir``.

Figures drawn where the results allow: accuracy vs anchors (Figure 3; per dataset and head,
when more than one anchor count was run), reconstruction error vs anchors (Figure 8; per
dataset, decoder family and pair kind), the encoder x decoder heatmap (Figure 5; ortho,
standard scaling; across modalities for cross-modal pairs, from ``stitch/{a}+{b}.csv``,
Figures 5 and 9), reconstruction examples (Figure 6; per dataset and decoder family, two
autoencoders of the same bottleneck), latent norm distributions (Figure 4; per dataset).
Where the stitch stage wrote ``{results_dir}/stitch/similarity/{dataset}.csv`` (and
``fit_seconds/``), a "Stitchability" section follows (``latentstitch.reports.stitchability``:
per dataset the pairs' similarity measures beside each method's result, Spearman's rho,
scatter figures, the methods beyond the paper against ridge, seconds per fit).
When ``{results_dir}/appendix/summary.json`` exists, an "Appendix experiments" section follows
(``latentstitch.reports.appendix``: one claim line per figure, the figures copied in).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig, OmegaConf
from safetensors.numpy import load_file

from latentstitch.config import group_config
from latentstitch.io import atomic_dir, write_json_atomic, write_text_atomic
from latentstitch.layout import (
    cross_modal_table_path,
    metrics_path,
    plots_dir,
    report_dir,
    stitch_dir,
    stitch_table_path,
)
from latentstitch.methods import register_configured
from latentstitch.plan import autoencoder_subset
from latentstitch.provenance import git_revision
from latentstitch.reports import figures as fig
from latentstitch.reports.appendix import appendix_section
from latentstitch.reports.compare import compare_with_paper, method_rankings, paper_dataset
from latentstitch.reports.document import FigureEntry, ReportHeader, render_comparison, render_report
from latentstitch.reports.few_anchors import few_anchors_section
from latentstitch.reports.markdown import latex_table, markdown_table
from latentstitch.reports.paper import load_paper_values
from latentstitch.reports.stitchability import stitchability_section
from latentstitch.reports.tables import (
    TRANSLATION_METHODS,
    ReportTable,
    build_tables,
    load_stitch_results,
    pair_kind,
    validate_results,
)
from latentstitch.stages._cli import stage_main

HEATMAP_METHOD, HEATMAP_SCALING = "ortho", "standard"  # Figure 5: ortho with standard scaling


def _report_settings(cfg: DictConfig) -> dict[str, Any]:
    section = OmegaConf.select(cfg, "suite.report")
    settings = OmegaConf.to_container(section, resolve=True) if section is not None else {}
    unknown = sorted(set(settings) - {"paper_datasets", "anchors", "note", "ddof", "digits", "images"})
    if unknown:
        raise ValueError(
            f"unknown suite.report key(s) {unknown}; valid: anchors, ddof, digits, images, note, paper_datasets"
        )
    for key, default in (("ddof", 1), ("digits", 3), ("images", 8)):
        value = settings.get(key, default)
        if isinstance(value, bool) or not isinstance(value, int) or value < (0 if key == "ddof" else 1):
            raise ValueError(
                f"suite.report.{key} must be a {'non-negative' if key == 'ddof' else 'positive'} int, got {value!r}"
            )
        settings[key] = value
    settings.setdefault("paper_datasets", {})
    return settings


def _stitched_datasets(results_dir: Path) -> list[str]:
    """The datasets the stitch stage wrote a table for (its summary.json)."""
    path = stitch_dir(results_dir) / "summary.json"
    if not path.exists():
        raise FileNotFoundError(f"{path} not found: run the stitch stage first")
    return list(json.loads(path.read_text())["tables"])


def _setup(cfg: DictConfig, paper: pd.DataFrame, mapping: dict) -> tuple[pd.DataFrame, list[str]]:
    """One row per dataset (data, encoders, decoders, the paper's dataset) and the sentences
    saying which encoders and data are not the paper's."""
    tiny = bool(cfg.suite.get("tiny", False))
    rows, foreign_encoders, unmatched, stand_ins = [], [], [], []
    for name, dcfg in cfg.suite.datasets.items():
        dataset = group_config(cfg, "dataset", name)
        matched = sorted({d for t in sorted(set(paper["table"])) if (d := paper_dataset(name, t, paper, mapping))})
        if not matched:
            unmatched.append(name)
        elif matched != [name]:
            stand_ins.append(f"{name} for {' / '.join(matched)}")
        encoders = []
        for encoder in dcfg.get("encoders") or []:
            spec = group_config(cfg, "encoder", encoder)
            in_paper = spec.get("paper_table") == "Table 7" and not tiny
            if not in_paper:
                foreign_encoders.append(encoder)
            kind = "tiny random " + str(spec.get("family")) if tiny else str(spec.get("model", encoder))
            encoders.append(f"{encoder} ({kind}{', paper Table 7' if in_paper else ''})")
        grid = dcfg.get("autoencoders")
        decoders = list(dcfg.get("heads") or [])
        if grid:
            ae_subset = autoencoder_subset(dcfg)
            decoders.append(
                f"CNN autoencoders: bottlenecks {list(grid.bottlenecks)}, seeds {list(grid.seeds)}, "
                f"L2 decoder input {list(grid.get('l2', [False]))}, data: "
                + (f"subset {ae_subset}" if ae_subset else "all")
            )
        subset = OmegaConf.to_container(dcfg.subset, resolve=True) if dcfg.get("subset") else None
        rows.append(
            {
                "dataset": name,
                "paper's dataset": ", ".join(matched) or "none (not in the paper)",
                "data": f"{dataset.get('source', '')}" + (f", subset {subset}" if subset else ", all"),
                "encoders": "; ".join(encoders) or "–",
                "decoders": "; ".join(decoders) or "–",
            }
        )
    sentences = []
    if foreign_encoders:
        sentences.append(
            f"Encoders differ from the paper's (Table 7): {', '.join(dict.fromkeys(foreign_encoders))} "
            "are not among them, so our numbers are analogs, not reproductions."
        )
    if stand_ins:
        sentences.append(
            f"Datasets standing in for the paper's: {'; '.join(stand_ins)} "
            "(source, split and size in the data column below)."
        )
    if unmatched:
        sentences.append(f"Datasets the paper does not report (no comparison): {', '.join(unmatched)}.")
    subsets = [n for n, d in cfg.suite.datasets.items() if d.get("subset")]
    if subsets:
        sentences.append(f"Subsets of the data are used for {', '.join(subsets)} (sizes below).")
    return pd.DataFrame(rows), sentences


def _header(cfg: DictConfig, results: pd.DataFrame, settings: dict, paper: pd.DataFrame) -> ReportHeader:
    def unique(column: str) -> list[str]:
        return sorted(set(results[column].dropna().astype(str))) if column in results else []

    setup, sentences = _setup(cfg, paper, settings["paper_datasets"])
    versions = {
        name.removesuffix("_version"): ", ".join(unique(name))
        for name in ("latentstitch_version", "torch_version", "numpy_version", "sklearn_version")
        if unique(name)
    }
    return ReportHeader(
        suite=str(cfg.suite.name),
        result_revisions=unique("git_revision"),
        report_revision=git_revision(),
        config_hashes=unique("config_hash"),
        versions=versions,
        note=settings.get("note"),
        differences=sentences,
        setup=setup,
    )


def _write_table(table: ReportTable, out: Path, digits: int) -> dict[str, str]:
    key = table.spec.key
    layout = table.layout(digits)
    write_text_atomic(out / "tables" / f"{key}.md", f"# {table.spec.title}\n\n" + markdown_table(layout))
    write_text_atomic(out / "tables" / f"{key}.csv", table.tidy().to_csv(index=False))
    write_text_atomic(out / "tables" / f"{key}.tex", latex_table(layout, table.spec.title))
    return {"Markdown": f"tables/{key}.md", "CSV": f"tables/{key}.csv", "LaTeX": f"tables/{key}.tex"}


def _table_anchors(tables: list[ReportTable], key: str, dataset: str) -> int | None:
    for table in tables:
        if table.spec.key == key:
            counts = table.cells.loc[(table.cells["dataset"] == dataset) & (table.cells["anchors"] > 0), "anchors"]
            return int(counts.max()) if len(counts) else None
    return None


def _anchor_figures(results: pd.DataFrame, ddof: int, out: Path) -> list[FigureEntry]:
    """Figures 3 and 8, wherever more than one anchor count was run."""
    entries = []
    translated = results[results["method"].isin(TRANSLATION_METHODS)]
    cls = results[results["task"] == "classification"]
    for (dataset, head), rows in cls[cls["metric"] == "accuracy"].groupby(["dataset", "decoder"], sort=False):
        counts = set(translated.loc[(translated["dataset"] == dataset) & (translated["decoder"] == head), "anchors"])
        if len(counts) < 2:
            continue
        name = f"figures/anchors_{dataset}_{head}.png"
        fig.plot_anchor_sweep(
            fig.sweep_cells(rows, ddof),
            out / name,
            ylabel="accuracy",
            title=f"{dataset}: accuracy vs anchors ({head} heads)",
        )
        entries.append(FigureEntry(f"Figure 3 analog: {dataset}, {head} heads, accuracy vs number of anchors", name))
    rec = results[(results["task"] == "reconstruction") & (results["decoder"] == "ae") & (results["metric"] == "rmse")]
    if rec.empty:
        return entries
    kinds = np.array([pair_kind(s, t) for s, t in zip(rec["source"], rec["target"])])
    for (dataset, l2), rows in rec.groupby(["dataset", "decoder_l2"], sort=False):
        row_kinds = kinds[rec.index.get_indexer(rows.index)]
        for pairs in ("same", "cross"):
            chosen = rows[(row_kinds == pairs) | (rows["method"] == "no-stitch").to_numpy()]
            stitched = chosen[chosen["method"].isin(TRANSLATION_METHODS)]
            if stitched["anchors"].nunique() < 2:
                continue
            family = "l2dec" if l2 else "plain"
            name = f"figures/anchors_reconstruction_{dataset}_{family}_{pairs}.png"
            what = f"{'L2-input' if l2 else 'plain'} decoders, {pairs}-bottleneck pairs"
            fig.plot_anchor_sweep(
                fig.sweep_cells(chosen, ddof),
                out / name,
                ylabel="reconstruction MSE (rmse)",
                title=f"{dataset}: reconstruction error vs anchors ({what})",
            )
            entries.append(FigureEntry(f"Figure 8 analog: {dataset}, {what}, rmse vs number of anchors", name))
    return entries


def _heatmaps(results: pd.DataFrame, tables: list[ReportTable], out: Path) -> list[FigureEntry]:
    """Figure 5 per (dataset, head): ortho, standard scaling, the tables' anchor count."""
    entries = []
    cls = results[(results["task"] == "classification") & (results["metric"] == "accuracy")]
    for (dataset, head), rows in cls.groupby(["dataset", "decoder"], sort=False):
        anchors = _table_anchors(tables, f"classification_{head}_{HEATMAP_SCALING}", dataset)
        has = (rows["method"] == HEATMAP_METHOD) & (rows["scaling"] == HEATMAP_SCALING) & (rows["anchors"] == anchors)
        if anchors is None or not has.any():
            continue
        matrix = fig.heatmap_matrix(rows, method=HEATMAP_METHOD, scaling=HEATMAP_SCALING, anchors=anchors)
        name = f"figures/heatmap_{dataset}_{head}.png"
        fig.plot_heatmap(
            matrix, out / name, title=f"{dataset}: {HEATMAP_METHOD} stitching, {head} heads, {anchors} anchors"
        )
        entries.append(
            FigureEntry(
                f"Figure 5 analog: {dataset}, {head} heads, encoder x decoder accuracy "
                f"({HEATMAP_METHOD}, {anchors} anchors)",
                name,
            )
        )
        write_text_atomic(out / f"figures/heatmap_{dataset}_{head}.csv", matrix.to_csv())
    return entries


def _cross_modal_heatmaps(cfg: DictConfig, tables: list[ReportTable], out: Path) -> list[FigureEntry]:
    """Figures 5 and 9 across modalities: per cross-modal pair (``latentstitch.data.pairing``)
    and head, the full encoder x decoder grid of both modalities (ortho, standard scaling, the
    first dataset's table anchor count), from ``{results_dir}/stitch/{a}+{b}.csv`` (the pairs
    stitch's summary.json lists under ``cross_modal``)."""
    entries = []
    manifest = json.loads((stitch_dir(cfg.paths.results_dir) / "summary.json").read_text())
    for a, b in (entry["datasets"] for entry in manifest.get("cross_modal", {}).values()):
        results = validate_results(pd.read_csv(cross_modal_table_path(cfg.paths.results_dir, a, b)))
        cls = results[(results["task"] == "classification") & (results["metric"] == "accuracy")]
        for head, rows in cls.groupby("decoder", sort=False):
            ortho = rows[(rows["method"] == HEATMAP_METHOD) & (rows["scaling"] == HEATMAP_SCALING)]
            anchors = _table_anchors(tables, f"classification_{head}_{HEATMAP_SCALING}", a)
            if anchors is None or not (ortho["anchors"] == anchors).any():
                if ortho.empty:
                    continue
                anchors = int(ortho["anchors"].max())
            matrix = fig.heatmap_matrix(rows, method=HEATMAP_METHOD, scaling=HEATMAP_SCALING, anchors=anchors)
            name = f"figures/heatmap_{a}+{b}_{head}.png"
            fig.plot_heatmap(
                matrix,
                out / name,
                title=f"{a} + {b} (cross-modal): {HEATMAP_METHOD} stitching, {head} heads, {anchors} anchors",
            )
            entries.append(
                FigureEntry(
                    f"Figure {9 if head == 'mlp' else 5} analog, cross-modal: {a} + {b}, {head} "
                    f"heads, encoder x decoder accuracy ({HEATMAP_METHOD}, {anchors} anchors)",
                    name,
                )
            )
            write_text_atomic(out / f"figures/heatmap_{a}+{b}_{head}.csv", matrix.to_csv())
    return entries


def _norm_figures(cfg: DictConfig, out: Path) -> list[FigureEntry]:
    """Figure 4 per dataset: L2 norms of each encoder's test encodings (computed by stitch)."""
    entries = []
    figures = stitch_dir(cfg.paths.results_dir) / "figures"
    for dataset in json.loads((stitch_dir(cfg.paths.results_dir) / "summary.json").read_text()).get("norms", []):
        norms = load_file(str(figures / f"norms_{dataset}.safetensors"))
        encoders = [e for e in cfg.suite.datasets[dataset].get("encoders") or [] if e in norms]
        name = f"figures/norms_{dataset}.png"
        fig.plot_norm_distributions(
            {e: norms[e] for e in encoders}, out / name, title=f"{dataset}: L2 norm of the test encodings"
        )
        entries.append(FigureEntry(f"Figure 4 analog: {dataset}, latent norm distribution per encoder", name))
    return entries


def _grid_figures(cfg: DictConfig, tables: list[ReportTable], k: int, out: Path) -> list[FigureEntry]:
    """Figure 6 per dataset and decoder family, from the images the stitch stage decoded, at
    the tables' anchor count (else the largest run)."""
    entries = []
    figures = stitch_dir(cfg.paths.results_dir) / "figures"
    for dataset, dcfg in cfg.suite.datasets.items():
        grid = dcfg.get("autoencoders")
        if not grid:
            continue
        for l2 in grid.get("l2", [False]):
            family = "l2dec" if l2 else "plain"
            path = figures / f"grid_{dataset}_{family}.safetensors"
            if not path.exists():
                continue
            meta = json.loads(path.with_suffix(".json").read_text())
            images = load_file(str(path))
            if len(images["original"]) < k:
                raise ValueError(
                    f"{path} holds {len(images['original'])} figure images; suite.report.images asks for {k}"
                )
            counts = sorted({row["anchors"] for row in meta["rows"]})
            anchors = _table_anchors(tables, f"reconstruction_{family}_same_standard", dataset)
            count = anchors if anchors in counts else max(counts)
            rows = {"original": images["original"][:k], "no-stitch": images["no-stitch"][:k]}
            rows.update({row["method"]: images[row["key"]][:k] for row in meta["rows"] if row["anchors"] == count})
            what = f"{meta['source']} -> {meta['target']}, {count} anchors, seed {meta['seed']}"
            name = f"figures/reconstructions_{dataset}_{family}.png"
            decoders = "L2-input decoders" if l2 else "plain decoders"
            fig.plot_reconstruction_grid(rows, out / name, title=f"{dataset}: {what} ({decoders}, standard scaling)")
            entries.append(FigureEntry(f"Figure 6 analog: {dataset}, {decoders}, reconstruction examples", name))
    return entries


def _headline_metrics(tables: list[ReportTable]) -> dict[str, Any]:
    """Per table, the mean over its cells of each method's value: the numbers ``dvc metrics
    show`` lists and ``dvc metrics diff`` compares between experiments."""
    metrics: dict[str, Any] = {}
    for table in tables:
        tidy = table.tidy()
        if tidy.empty:
            continue
        per_method = tidy.groupby(["metric", "method"], sort=True)["mean"].mean()
        entry: dict[str, Any] = {}
        for (metric, method), value in per_method.items():
            if pd.notna(value):
                entry.setdefault(str(metric), {})[str(method)] = round(float(value), 6)
        metrics[table.spec.key] = entry
    return metrics


def _plot_tables(results: pd.DataFrame, ddof: int) -> dict[str, pd.DataFrame]:
    """Figures 3 and 8 as tables for ``dvc plots``: per curve, one row per anchor count and
    one column per method (mean over pairs and seeds, standard scaling; relative unscaled)."""
    curves: dict[str, pd.DataFrame] = {}
    cls = results[(results["task"] == "classification") & (results["metric"] == "accuracy")]
    groups = [(f"figure3_{dataset}_{head}", rows) for (dataset, head), rows in cls.groupby(["dataset", "decoder"])]
    rec = results[(results["task"] == "reconstruction") & (results["decoder"] == "ae") & (results["metric"] == "rmse")]
    if not rec.empty:
        kinds = np.array([pair_kind(s, t) for s, t in zip(rec["source"], rec["target"])])
        for (dataset, l2), rows in rec.groupby(["dataset", "decoder_l2"]):
            row_kinds = kinds[rec.index.get_indexer(rows.index)]
            for pairs in ("same", "cross"):
                groups.append((f"figure8_{dataset}_{'l2dec' if l2 else 'plain'}_{pairs}", rows[row_kinds == pairs]))
    for name, rows in groups:
        cells = fig.sweep_cells(rows, ddof) if len(rows) else None
        if cells is None:
            continue
        chosen = cells[
            ((cells["scaling"] == "standard") & cells["method"].isin(TRANSLATION_METHODS))
            | (cells["method"] == "relative")
        ]
        if chosen["anchors"].nunique() < 2:
            continue
        curves[name] = chosen.pivot_table(index="anchors", columns="method", values="mean").reset_index()
    return curves


def run(cfg: DictConfig) -> dict[str, Any]:
    """Build the whole report of the suite; returns the paths of its files."""
    register_configured(cfg)  # the user's own methods get report columns (latentstitch.methods)
    settings = _report_settings(cfg)
    results_dir = Path(cfg.paths.results_dir)
    datasets = _stitched_datasets(results_dir)
    if not datasets:
        raise ValueError(
            f"suite {cfg.suite.name!r} stitches no dataset (each needs >= 2 encoders with heads, "
            "or >= 2 autoencoders): nothing to report"
        )
    results = load_stitch_results([stitch_table_path(results_dir, d) for d in datasets])
    paper = load_paper_values()
    ddof, digits = settings["ddof"], settings["digits"]
    tables = build_tables(results, anchors=settings.get("anchors"), ddof=ddof)
    comparison = compare_with_paper(tables, paper, settings["paper_datasets"])
    rankings = method_rankings(tables, paper, settings["paper_datasets"])
    header = _header(cfg, results, settings, paper)

    final = report_dir(results_dir)
    with atomic_dir(final) as out:
        table_files = [(t, _write_table(t, out, digits)) for t in tables]
        write_text_atomic(out / "comparison.csv", comparison.to_csv(index=False))
        write_text_atomic(out / "rankings.csv", rankings.to_csv(index=False))
        write_text_atomic(out / "comparison.md", render_comparison(header, comparison, rankings, digits))
        (out / "figures").mkdir()
        figures = (
            _anchor_figures(results, ddof, out)
            + _heatmaps(results, tables, out)
            + _cross_modal_heatmaps(cfg, tables, out)
            + _grid_figures(cfg, tables, settings["images"], out)
            + _norm_figures(cfg, out)
        )
        links = {"comparison": "comparison.md", "comparison CSV": "comparison.csv", "rankings CSV": "rankings.csv"}
        stitchability, stitchability_files = stitchability_section(
            stitch_table_path(results_dir, datasets[0]).parent, datasets, results, settings.get("anchors"), out, digits
        )
        write_text_atomic(
            out / "report.md",
            render_report(header, table_files, comparison, rankings, figures, links=links, digits=digits)
            + few_anchors_section(results_dir / "stitch" / "few_anchors", out, digits)
            + stitchability
            + appendix_section(results_dir / "appendix", out),
        )
    write_json_atomic(metrics_path(results_dir), _headline_metrics(tables))
    with atomic_dir(plots_dir(results_dir)) as plots:
        for name, curve in _plot_tables(results, ddof).items():
            curve.to_csv(plots / f"{name}.csv", index=False)

    return {
        "report": str(final / "report.md"),
        "tables": [str(final / files["CSV"]) for _, files in table_files],
        "figures": [str(final / f.path) for f in figures],
        "comparison_cells": len(comparison),
        "stitchability": [str(final / f) for f in stitchability_files],
    }


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
