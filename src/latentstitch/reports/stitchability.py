"""The report's "Stitchability" section: can a pair be told to stitch well before stitching,
and which method to pick? Read from the stitch stage's outputs on disk
(``stitch/{dataset}.csv``, ``stitch/similarity/{dataset}.csv``, ``stitch/fit_seconds/{dataset}.csv``).

Per dataset and task (classification: per head, accuracy; reconstruction: per decoder
family, the latent cosine lcos), at standard scaling and the report's anchor count:

- one row per (source, target) pair: each measure on the anchors (mean over seeds) and on
  the test set, beside each translation method's result (mean over seeds);
- the Spearman correlation across pairs between each measure and each method's result
  (NaN with fewer than 3 pairs or a constant column);
- a scatter figure: each measure on the test set against each method's result;
- where each method beyond the paper (irp, kernel, mlp) beats ridge: pairs won, mean difference;
- the seconds each fit takes, per method (median over fits, time per translator).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy.stats import spearmanr

from latentstitch.io import write_text_atomic
from latentstitch.reports.figures import COLORS, save_figure
from latentstitch.reports.markdown import markdown_table
from latentstitch.reports.tables import METHOD_LABELS, TRANSLATION_METHODS
from latentstitch.similarity import MEASURES
from latentstitch.stitchability import TEST_ANCHORS, fit_seconds_path, similarity_path

SCALING = "standard"
NEW_METHODS = ("irp", "kernel", "mlp")
BASELINE = "ridge"
MIN_PAIRS = 3  # fewer pairs: no correlation
# Higher is more similar, except the Procrustes distance (an angle).
MEASURE_LABELS = {
    "cka": "CKA",
    "cka_debiased": "CKA (debiased)",
    "procrustes": "Procrustes distance",
    "svcca": "SVCCA",
    "mutual_knn": "mutual kNN",
}


def _anchor_count(setting: Any, dataset: str, available: Sequence[int]) -> int | None:
    """The report's anchor count for ``dataset`` (``suite.report.anchors``: an int, or a mapping
    with the dataset or ``default``), if it was run; else the largest run."""
    if not available:
        return None
    wanted = setting
    if isinstance(setting, dict):
        wanted = setting.get(dataset, setting.get("default"))
        if isinstance(wanted, dict):
            wanted = wanted.get("default")
    return int(wanted) if isinstance(wanted, int) and wanted in available else int(max(available))


def _groups(results: pd.DataFrame) -> list[tuple[str, pd.DataFrame, str, str]]:
    """(name, result rows, metric, what) per classification head and reconstruction family."""
    out = []
    cls = results[(results["task"] == "classification") & (results["metric"] == "accuracy")]
    for head, rows in cls.groupby("decoder", sort=False):
        out.append((f"classification_{head}", rows, "accuracy", f"classification, {head} heads, accuracy"))
    rec = results[(results["task"] == "reconstruction") & (results["metric"] == "lcos")]
    if not rec.empty:
        l2 = rec["decoder_l2"].astype(str).str.lower() == "true" if "decoder_l2" in rec else pd.Series(False, rec.index)
        for flag, rows in rec.groupby(l2.to_numpy(), sort=False):
            family = "l2dec" if flag else "plain"
            out.append(
                (
                    f"reconstruction_{family}",
                    rows,
                    "lcos",
                    f"autoencoders, {'L2-input' if flag else 'plain'} decoders, latent cosine (lcos)",
                )
            )
    return out


def pair_table(results: pd.DataFrame, sims: pd.DataFrame, anchors: int) -> tuple[pd.DataFrame, list[str], list[str]]:
    """One row per (source, target): measures (``{measure} anchors``, ``{measure} test``) and
    methods' results (mean over seeds). Returns it with the measure and method column names."""
    stitched = results[
        (results["scaling"] == SCALING) & (results["anchors"] == anchors) & results["method"].isin(TRANSLATION_METHODS)
    ]
    methods = [m for m in TRANSLATION_METHODS if m in set(stitched["method"])]
    by_method = stitched.groupby(["source", "target", "method"])["value"].mean().unstack("method")
    on_anchors = sims[(sims["split"] == "anchors") & (sims["anchors"] == anchors)]
    on_test = sims[(sims["split"] == "test") & (sims["anchors"] == TEST_ANCHORS)]
    parts = []
    for split, rows in (("anchors", on_anchors), ("test", on_test)):
        wide = rows.groupby(["source", "target", "measure"])["value"].mean().unstack("measure")
        wide.columns = [f"{m} {split}" for m in wide.columns]
        parts.append(wide)
    measures = [
        f"{m} {split}"
        for split in ("anchors", "test")
        for m in MEASURES
        if any(f"{m} {split}" in p.columns for p in parts)
    ]
    table = pd.concat([*parts, by_method[methods]], axis=1, join="inner")
    return table[[*measures, *methods]].reset_index(), measures, methods


def correlations(table: pd.DataFrame, measures: Sequence[str], methods: Sequence[str]) -> pd.DataFrame:
    """Spearman's rho across pairs, measures in rows and methods in columns."""
    out = pd.DataFrame(index=list(measures), columns=list(methods), dtype=float)
    for m in measures:
        for method in methods:
            a, b = table[m].to_numpy(float), table[method].to_numpy(float)
            ok = np.isfinite(a) & np.isfinite(b)
            if ok.sum() >= MIN_PAIRS and np.ptp(a[ok]) > 0 and np.ptp(b[ok]) > 0:
                out.loc[m, method] = float(spearmanr(a[ok], b[ok]).statistic)
    out.index.name = "measure"
    return out


def versus_ridge(table: pd.DataFrame, methods: Sequence[str], higher_is_better: bool = True) -> pd.DataFrame:
    """For each method beyond the paper that ran beside ridge: pairs where it beats ridge, and
    the mean and range of its difference to ridge (the method's result minus ridge's)."""
    rows = []
    if BASELINE not in methods:
        return pd.DataFrame(columns=["method", "pairs won", "mean difference", "min difference", "max difference"])
    for method in (m for m in NEW_METHODS if m in methods):
        diff = table[method].to_numpy(float) - table[BASELINE].to_numpy(float)
        won = diff > 0 if higher_is_better else diff < 0
        rows.append(
            {
                "method": method,
                "pairs won": f"{int(won.sum())} / {len(diff)}",
                "mean difference": float(diff.mean()),
                "min difference": float(diff.min()),
                "max difference": float(diff.max()),
            }
        )
    return pd.DataFrame(rows, columns=["method", "pairs won", "mean difference", "min difference", "max difference"])


def fit_times(fits: pd.DataFrame, anchors: int) -> pd.DataFrame:
    """Seconds per translator (a ``fit_translators`` call's time over its targets): median
    and number of calls per (task, method), standard scaling, at ``anchors``."""
    rows = fits[(fits["scaling"] == SCALING) & (fits["anchors"] == anchors)]
    per = rows.assign(per_translator=rows["seconds"] / rows["translators"])
    out = per.groupby(["task", "method"], sort=False)["per_translator"].agg(["median", "count"]).reset_index()
    out["order"] = [TRANSLATION_METHODS.index(m) if m in TRANSLATION_METHODS else 99 for m in out["method"]]
    out = out.sort_values(["task", "order"]).drop(columns="order")
    out["method"] = [METHOD_LABELS.get(m, m) for m in out["method"]]
    return out.rename(columns={"median": "seconds per fit (median)", "count": "fit calls"})


def plot_scatter(
    table: pd.DataFrame, measures: Sequence[str], methods: Sequence[str], path: Path, *, title: str, ylabel: str
) -> Path:
    """One panel per measure (on the test set): each pair's measure against each method's result."""
    shown = [m for m in measures if m.endswith(" test")] or list(measures)
    fig = Figure(figsize=(3.4 * len(shown), 3.4), layout="constrained")
    axes = fig.subplots(1, len(shown), sharey=True, squeeze=False)[0]
    for ax, measure in zip(axes, shown):
        for method in methods:
            ax.scatter(
                table[measure],
                table[method],
                s=14,
                color=COLORS.get(method, "black"),
                label=METHOD_LABELS.get(method, method),
                alpha=0.8,
            )
        name = measure.removesuffix(" test")
        ax.set_xlabel(f"{MEASURE_LABELS.get(name, name)} (test set)")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(ylabel)
    axes[-1].legend(fontsize="x-small", loc="best")
    fig.suptitle(title)
    return save_figure(fig, path)


def _read(path: Path) -> pd.DataFrame | None:
    return pd.read_csv(path) if path.exists() else None


def stitchability_section(
    stitch_dir: str | Path,
    datasets: Sequence[str],
    results: pd.DataFrame,
    anchors_setting: Any,
    report_dir: str | Path,
    digits: int = 3,
) -> tuple[str, list[str]]:
    """Markdown for the section and the files it wrote under ``report_dir`` (tables as CSV
    under ``tables/stitchability_*``, figures under ``figures/stitchability_*``). Empty
    when no dataset has a similarity table (the stitch stage ran with it off)."""
    stitch_dir, report_dir = Path(stitch_dir), Path(report_dir)
    lines = [
        "",
        "## Stitchability: similarity measures against stitching results",
        "",
        "Can a pair be told to stitch well before stitching, and which method to pick? Each pair's "
        "similarity (linear CKA and its debiased estimator, the angular Procrustes distance, SVCCA, "
        "mutual k-NN; `latentstitch.similarity`) on the fitting anchors and on the test set, beside each "
        f"method's stitched result at {SCALING} scaling (mean over seeds), and Spearman's rho across pairs "
        "(the Procrustes distance is a distance: a good predictor correlates negatively). "
        "irp, kernel and mlp are beyond the paper (as is ridge).",
        "",
    ]
    files: list[str] = []
    found = False
    for dataset in datasets:
        sims, fits = _read(similarity_path(stitch_dir, dataset)), _read(fit_seconds_path(stitch_dir, dataset))
        if sims is None:
            continue
        found = True
        rows = results[results["dataset"] == dataset]
        for key, group, metric, what in _groups(rows):
            task = key.split("_")[0]
            part = sims[sims["task"] == task]
            if task == "reconstruction" and "decoder_l2" in part:
                flag = key.endswith("l2dec")
                part = part[part["decoder_l2"].astype(str).str.lower() == str(flag).lower()]
            counts = sorted(set(part.loc[part["split"] == "anchors", "anchors"]) & set(group["anchors"]))
            anchors = _anchor_count(anchors_setting, dataset, counts)
            if anchors is None:
                continue
            table, measures, methods = pair_table(group, part, anchors)
            if table.empty or not methods:
                continue
            rho = correlations(table, measures, methods)
            name = f"stitchability_{dataset}_{key}"
            write_text_atomic(report_dir / "tables" / f"{name}.csv", table.to_csv(index=False))
            write_text_atomic(report_dir / "tables" / f"{name}_spearman.csv", rho.to_csv())
            files += [f"tables/{name}.csv", f"tables/{name}_spearman.csv"]
            shown = table.rename(columns={m: METHOD_LABELS.get(m, m) for m in methods}).set_index(["source", "target"])
            shown.index = [f"{s} -> {t}" for s, t in shown.index]
            shown.index.name = "pair"
            lines += [
                f"### {dataset}: {what}, {anchors} anchors",
                "",
                f"{len(table)} pairs. Measures on the anchors and on the test set; methods' {metric}.",
                "",
                markdown_table(shown.round(digits)),
                "",
                f"Spearman's rho across the {len(table)} pairs (rows: measure, columns: method; "
                f"– with fewer than {MIN_PAIRS} pairs or a constant column):",
                "",
                markdown_table(rho.rename(columns=lambda m: METHOD_LABELS.get(m, m)).round(2)),
                "",
            ]
            wins = versus_ridge(table, methods)
            if not wins.empty:
                lines += [
                    f"Methods beyond the paper against ridge ({metric}, method minus ridge, per pair):",
                    "",
                    markdown_table(wins.set_index("method").round(digits + 1)),
                    "",
                ]
            figure = f"figures/{name}.png"
            plot_scatter(
                table,
                measures,
                methods,
                report_dir / figure,
                ylabel=metric,
                title=f"{dataset}: {what}, {anchors} anchors",
            )
            files.append(figure)
            lines += [f"![{dataset}: similarity vs {metric}]({figure})", ""]
        if fits is not None and not fits.empty:
            counts = sorted(set(fits["anchors"]))
            anchors = _anchor_count(anchors_setting, dataset, counts)
            times = fit_times(fits, anchors)
            if not times.empty:
                name = f"stitchability_{dataset}_fit_seconds"
                write_text_atomic(report_dir / "tables" / f"{name}.csv", times.to_csv(index=False))
                files.append(f"tables/{name}.csv")
                lines += [
                    f"### {dataset}: seconds per fit, {anchors} anchors, {SCALING} scaling",
                    "",
                    "Wall time of `fit_translators` over its targets, per translator (median over the "
                    "stitch stage's calls; the stage's own machine and threads).",
                    "",
                    markdown_table(times.round(4), index=False),
                    "",
                ]
    return ("\n".join(lines) if found else ""), files
