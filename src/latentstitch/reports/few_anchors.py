"""The report's "Beyond the paper: few anchors" section, from the stitch stage's few-anchor
tables on disk (``{results_dir}/stitch/few_anchors/{dataset}.csv``, ``latentstitch.few_anchors``).

A figure per dataset (accuracy vs anchors, one line per variant, the paper's uniform ortho
highlighted), the fewest anchors at which each variant reaches 95% of the reference (its
method's plain uniform accuracy at the largest count of at most 1,000), and, where ``linear``
is swept past the encoders' dimension, accuracy by n / d (least squares interpolates at n ~ d).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from latentstitch.reports.figures import save_figure

REFERENCE_ANCHORS = 1000
FRACTION = 0.95
METHOD_COLORS = {
    "ortho": "tab:blue",
    "ridge": "tab:green",
    "affine": "tab:red",
    "linear": "tab:purple",
    "l-ortho": "tab:orange",
}


def load_few_anchor_tables(folder: str | Path) -> pd.DataFrame | None:
    """All ``{folder}/*.csv`` as one table with a ``dataset`` column; None when there is none."""
    paths = sorted(Path(folder).glob("*.csv"))
    if not paths:
        return None
    return pd.concat([pd.read_csv(p).assign(dataset=p.stem) for p in paths], ignore_index=True)


def variant_means(rows: pd.DataFrame) -> pd.DataFrame:
    """Mean and std of accuracy over pairs x seeds per (dataset, method, anchor_strategy,
    refine, anchors), plus the mean n / d (anchors over the source's dim)."""
    rows = rows.assign(n_over_d=rows["anchors"] / rows["source_dim"])
    keys = ["dataset", "method", "anchor_strategy", "refine", "anchors"]
    out = rows.groupby(keys).agg(
        mean=("value", "mean"),
        std=("value", "std"),
        n=("value", "size"),
        n_over_d=("n_over_d", "mean"),
        accepted=("refine_accepted", "mean"),
    )
    return out.reset_index()


def fewest_anchors(means: pd.DataFrame) -> pd.DataFrame:
    """Per (dataset, method, strategy, refine): the fewest anchors whose mean accuracy reaches
    ``FRACTION`` of the reference (the method's plain uniform mean at the largest count <= 1,000);
    NaN when no count reaches it."""
    rows = []
    for (dataset, method), part in means.groupby(["dataset", "method"]):
        ref_rows = part[
            (part["anchor_strategy"] == "uniform")
            & (~part["refine"].astype(bool))
            & (part["anchors"] <= REFERENCE_ANCHORS)
        ]
        if ref_rows.empty:
            continue
        ref = ref_rows.sort_values("anchors").iloc[-1]
        for (strategy, refined), line in part.groupby(["anchor_strategy", "refine"]):
            line = line[line["anchors"] <= ref["anchors"]].sort_values("anchors")
            hit = line[line["mean"] >= FRACTION * ref["mean"]]
            rows.append(
                {
                    "dataset": dataset,
                    "method": method,
                    "anchor_strategy": strategy,
                    "refine": bool(refined),
                    "reference_anchors": int(ref["anchors"]),
                    "reference_accuracy": float(ref["mean"]),
                    "fewest_anchors": int(hit["anchors"].iloc[0]) if len(hit) else np.nan,
                }
            )
    return pd.DataFrame(rows)


def _label(method: str, strategy: str, refined: bool) -> str:
    return f"{method}, {strategy}{', refined' if refined else ''}"


def plot_few_anchors(means: pd.DataFrame, dataset: str, path: str | Path) -> Path:
    part = means[means["dataset"] == dataset]
    zero = part[part["anchors"] == 0]
    part = part[part["anchors"] > 0]
    fig = Figure(figsize=(6.4, 4.2), layout="constrained")
    ax = fig.subplots()
    # No anchors at all (unsupervised start, refined): a level, not a point of the log axis.
    for method, line in zero[zero["refine"].astype(bool)].groupby("method"):
        ax.axhline(
            line["mean"].iloc[0],
            color=METHOD_COLORS.get(method, "gray"),
            lw=1.2,
            ls=":",
            label=f"{method}, no anchors, refined",
        )
    for (method, strategy, refined), line in part.groupby(["method", "anchor_strategy", "refine"]):
        line = line.sort_values("anchors")
        paper = method == "ortho" and strategy == "uniform" and not refined
        ax.plot(
            line["anchors"],
            line["mean"],
            color="black" if paper else METHOD_COLORS.get(method, "gray"),
            lw=2.6 if paper else 1.2,
            ls="-" if refined or paper else "--",
            marker="o" if strategy == "uniform" else "s",
            ms=3,
            label=_label(method, strategy, bool(refined)) + (" (paper)" if paper else ""),
            zorder=3 if paper else 2,
        )
    ax.set_xscale("log")
    counts = sorted(set(part["anchors"]))
    ax.set_xticks(counts, [str(c) for c in counts])
    ax.minorticks_off()
    ax.set_xlabel("number of parallel anchors")
    ax.set_ylabel("accuracy (target head, translated test set)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize="x-small", ncol=2, loc="lower right")
    ax.set_title(f"{dataset}: few anchors (beyond the paper); dashed = plain, solid = refined")
    return save_figure(fig, path)


def few_anchors_section(folder: str | Path, report_dir: str | Path, digits: int = 3) -> str:
    """Markdown for the few-anchor sweep, figures into ``{report_dir}/figures/few_anchors_{dataset}.png``;
    empty when the stitch stage wrote no few-anchor table."""
    rows = load_few_anchor_tables(folder)
    if rows is None:
        return ""
    means = variant_means(rows)
    lines = [
        "",
        "## Beyond the paper: few anchors, anchor selection and self-learning refinement",
        "",
        "Not in the paper. Accuracy of the target's head on translated test encodings when the "
        "translator is fitted on few parallel anchors (`plain`), chosen uniformly (the paper's Figure 3) "
        "or as k-means centres of the source's train encodings (`kmeans`), and when it is then refined on "
        "the unpaired train encodings of both spaces (`refined`: `latentstitch.translate.refine`, mutual "
        "CSLS nearest neighbours, refit, repeat; it returns the plain translator when a held-out check on "
        "the anchors does not trust the mined pairs). Means over pairs x seeds; data: "
        "`stitch/few_anchors/{dataset}.csv` in the results folder.",
        "",
    ]
    fewest = fewest_anchors(means)
    if not fewest.empty:
        lines += [
            f"Fewest anchors reaching {FRACTION:.0%} of the reference: the method's plain uniform "
            f"accuracy at its largest count up to {REFERENCE_ANCHORS:,} anchors ('-' when no count "
            "reaches it):",
            "",
            "| dataset | method | reference | uniform | kmeans | uniform, refined | kmeans, refined |",
            "|---|---|---:|---:|---:|---:|---:|",
        ]
        for (dataset, method), part in fewest.groupby(["dataset", "method"]):
            cells = []
            for strategy, refined in (("uniform", False), ("kmeans", False), ("uniform", True), ("kmeans", True)):
                hit = part[(part["anchor_strategy"] == strategy) & (part["refine"] == refined)]
                value = hit["fewest_anchors"].iloc[0] if len(hit) else np.nan
                cells.append("-" if pd.isna(value) else f"{int(value):,}")
            ref = part.iloc[0]
            lines.append(
                f"| {dataset} | {method} | {ref['reference_accuracy']:.{digits}f} at "
                f"{int(ref['reference_anchors']):,} | " + " | ".join(cells) + " |"
            )
        lines.append("")
    lines += ["Plain -> refined accuracy by anchor count (uniform anchors):", ""]
    uniform = means[(means["anchor_strategy"] == "uniform") & (means["anchors"] > 0)]
    counts = sorted(set(uniform["anchors"]))
    lines += [
        "| dataset | method | " + " | ".join(f"{c:,}" for c in counts) + " |",
        "|---|---|" + "---:|" * len(counts),
    ]
    for (dataset, method), part in uniform.groupby(["dataset", "method"]):
        cells = []
        for c in counts:
            plain = part[(part["anchors"] == c) & (~part["refine"].astype(bool))]["mean"]
            ref = part[(part["anchors"] == c) & (part["refine"].astype(bool))]["mean"]
            cell = f"{plain.iloc[0]:.{digits}f}" if len(plain) else "-"
            if len(ref):
                cell += f" -> {ref.iloc[0]:.{digits}f}"
            cells.append(cell)
        lines.append(f"| {dataset} | {method} | " + " | ".join(cells) + " |")
    lines.append("")
    lines += _zero_anchors(means, digits)
    lines += _n_over_d(means, digits)
    report_dir = Path(report_dir)
    for dataset in sorted(set(means["dataset"])):
        name = f"figures/few_anchors_{dataset}.png"
        plot_few_anchors(means, dataset, report_dir / name)
        title = f"{dataset}: accuracy vs parallel anchors (beyond the paper)"
        lines += [f"### {title}", "", f"![{title}]({name})", ""]
    return "\n".join(lines)


def _n_over_d(means: pd.DataFrame, digits: int) -> list[str]:
    """linear around n = d: where a dataset's sweep includes linear, plain uniform accuracy of
    every method by anchors with n / d (the source's dim)."""
    plain = means[(means["anchor_strategy"] == "uniform") & (~means["refine"].astype(bool))]
    lines: list[str] = []
    for dataset, part in plain.groupby("dataset"):
        if "linear" not in set(part["method"]):
            continue
        methods = sorted(set(part["method"]), key=lambda m: (m != "linear", m))
        lines += [
            f"Least squares around n = d on {dataset} (plain, uniform anchors; n / d = anchors over the "
            "source's dim): `linear` interpolates the anchors when n approaches d, and its accuracy dips "
            "there (double descent). This is why the Table 1 analog can rank `linear` and `l-ortho` below "
            "the paper when its anchor count is close to the encoders' dims (n / d of each pair at the "
            "Table 1 anchor count: anchors / source dim).",
            "",
            "| anchors | n / d | " + " | ".join(methods) + " |",
            "|---:|---:|" + "---:|" * len(methods),
        ]
        for count, row in part.groupby("anchors"):
            values = {m: row[row["method"] == m]["mean"] for m in methods}
            lines.append(
                f"| {count:,} | {row['n_over_d'].iloc[0]:.2f} | "
                + " | ".join(f"{v.iloc[0]:.{digits}f}" if len(v) else "-" for v in values.values())
                + " |"
            )
        lines.append("")
    return lines


def _zero_anchors(means: pd.DataFrame, digits: int) -> list[str]:
    """The anchors = 0 rows (``few_anchors.zero_anchors``): the unsupervised start and its
    refinement, beside the plain and refined uniform accuracy at the fewest anchors swept."""
    zero = means[means["anchors"] == 0]
    if zero.empty:
        return []
    lines = [
        "From no parallel anchors at all (`latentstitch.translate.unsupervised_start`: pairs guessed "
        "by matching each sample's sorted similarities to the rest of its own pool, as VecMap's "
        "unsupervised start, then `refine`; there are no anchors to hold out, so refine's guard does "
        "not run): accuracy of the guessed start and of its refinement, next to the fewest uniform "
        "anchors swept, plain and refined.",
        "",
        "| dataset | method | no anchors: start | no anchors: refined | fewest anchors (plain -> refined) |",
        "|---|---|---:|---:|---|",
    ]
    for (dataset, method), part in zero.groupby(["dataset", "method"]):
        start = part[~part["refine"].astype(bool)]["mean"]
        refined = part[part["refine"].astype(bool)]["mean"]
        others = means[
            (means["dataset"] == dataset)
            & (means["method"] == method)
            & (means["anchor_strategy"] == "uniform")
            & (means["anchors"] > 0)
        ]
        fewest = "-"
        if len(others):
            n = int(others["anchors"].min())
            at = others[others["anchors"] == n]
            plain = at[~at["refine"].astype(bool)]["mean"]
            ref = at[at["refine"].astype(bool)]["mean"]
            fewest = f"{n:,}: " + (f"{plain.iloc[0]:.{digits}f}" if len(plain) else "-")
            fewest += f" -> {ref.iloc[0]:.{digits}f}" if len(ref) else ""

        def cell(v: pd.Series) -> str:
            return f"{v.iloc[0]:.{digits}f}" if len(v) and pd.notna(v.iloc[0]) else "-"

        lines.append(f"| {dataset} | {method} | {cell(start)} | {cell(refined)} | {fewest} |")
    lines.append("")
    return lines
