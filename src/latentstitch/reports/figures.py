"""Figures of the report (PNG): analogs of the paper's Figures 3-6 and 8.

Drawn on bare ``matplotlib.figure.Figure`` objects (Agg canvas, no pyplot state), so they
work headless and in parallel; each file is written atomically.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from latentstitch.io import atomic_path
from latentstitch.reports.tables import NO_ANCHORS, NO_SCALING, TRANSLATION_METHODS, aggregate

# The paper's method colours are not given; one fixed colour per method across all figures.
COLORS = {
    "affine": "tab:blue",
    "linear": "tab:orange",
    "l-ortho": "tab:green",
    "ortho": "tab:red",
    "ridge": "tab:purple",
    "relative": "tab:brown",
    "absolute": "tab:gray",
    "no-stitch": "black",
    "irp": "tab:olive",
    "kernel": "tab:cyan",
    "mlp": "tab:pink",
}
DPI = 120


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Write ``fig`` as a PNG at ``path`` atomically; returns the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=DPI, bbox_inches="tight")
    return path


def sweep_cells(rows: pd.DataFrame, ddof: int) -> pd.DataFrame:
    """Mean +- std (pairs x seeds pooled) per (scaling, method, anchors) of one dataset,
    decoder and metric: the points of an anchors sweep; baselines keep anchors 0 / scaling none."""
    if rows["metric"].nunique() > 1:
        raise ValueError(f"an anchors sweep plots one metric, got {sorted(set(rows['metric']))}")
    return aggregate(rows, ["scaling", "method", "anchors"], ddof)


def plot_anchor_sweep(cells: pd.DataFrame, path: str | Path, *, title: str, ylabel: str) -> Path:
    """Figures 3 and 8: the metric vs the number of anchors per method, a mean +- std band
    over pairs x seeds, one panel per scaling; no-stitch and absolute as horizontal lines,
    the relative baseline (no scaling) in every panel."""
    scalings = sorted(set(cells["scaling"]) - {NO_SCALING}, key=lambda s: (s != "standard", s))
    if not scalings:
        raise ValueError("an anchors sweep needs translated results (a scaling other than 'none')")
    fig = Figure(figsize=(5.0 * len(scalings), 3.8), layout="constrained")
    axes = fig.subplots(1, len(scalings), sharey=True, squeeze=False)[0]
    for ax, scaling in zip(axes, scalings):
        for method in ("relative", *TRANSLATION_METHODS):
            wanted = NO_SCALING if method == "relative" else scaling
            line = cells[(cells["method"] == method) & (cells["scaling"] == wanted) & (cells["anchors"] != NO_ANCHORS)]
            if line.empty:
                continue
            line = line.sort_values("anchors")
            x, mean, std = line["anchors"].to_numpy(), line["mean"].to_numpy(), np.nan_to_num(line["std"].to_numpy())
            ax.plot(x, mean, marker="o", ms=3, color=COLORS[method], label=method)
            ax.fill_between(x, mean - std, mean + std, color=COLORS[method], alpha=0.15, linewidth=0)
        for method in ("no-stitch", "absolute"):
            base = cells[(cells["method"] == method) & (cells["anchors"] == NO_ANCHORS)]
            if not base.empty:
                ax.axhline(float(base["mean"].iloc[0]), color=COLORS[method], ls="--", lw=1, label=method)
        ax.set_xscale("log")
        counts = sorted(set(cells.loc[cells["anchors"] != NO_ANCHORS, "anchors"]))
        ax.set_xticks(counts, [str(c) for c in counts])
        ax.minorticks_off()
        ax.set_xlabel("number of anchors")
        ax.set_title(f"{scaling} scaling")
        ax.grid(alpha=0.3)
    axes[0].set_ylabel(ylabel)
    axes[-1].legend(fontsize="small", loc="best")
    fig.suptitle(title)
    return save_figure(fig, path)


def heatmap_matrix(rows: pd.DataFrame, *, method: str, scaling: str, anchors: int) -> pd.DataFrame:
    """Figure 5's matrix: rows source encoder, columns target decoder's encoder, the mean over
    seeds of ``method`` at ``scaling`` and ``anchors``; the diagonal is no-stitch.

    ``rows`` are one dataset's results for one head and one metric. Raises ValueError when
    there is no result for ``method``/``scaling``/``anchors``.
    """
    stitched = rows[(rows["method"] == method) & (rows["scaling"] == scaling) & (rows["anchors"] == anchors)]
    if stitched.empty:
        raise ValueError(f"no {method} results at {scaling} scaling and {anchors} anchors for the heatmap")
    own = rows[rows["method"] == "no-stitch"]
    encoders = list(dict.fromkeys([*own["source"], *stitched["source"], *stitched["target"]]))
    means = pd.concat([stitched, own]).groupby(["source", "target"])["value"].mean()
    matrix = means.unstack("target").reindex(index=encoders, columns=encoders)
    matrix.index.name, matrix.columns.name = "source encoder", "target decoder"
    return matrix


def plot_heatmap(matrix: pd.DataFrame, path: str | Path, *, title: str, label: str = "accuracy") -> Path:
    """Figure 5: the encoder x decoder matrix, annotated, with the mean of each row (as a
    source) and each column (as a decoder, stitched pairs only) as marginal bars."""
    values = matrix.to_numpy(dtype=np.float64)
    off_diagonal = np.where(np.eye(*values.shape, dtype=bool), np.nan, values)
    k = max(values.shape)
    fig = Figure(figsize=(2.0 + 0.9 * k, 1.6 + 0.8 * k), layout="constrained")
    grid = fig.add_gridspec(2, 2, width_ratios=[k, 1.2], height_ratios=[1.2, k])
    ax = fig.add_subplot(grid[1, 0])
    image = ax.imshow(values, cmap="viridis", vmin=np.nanmin(values), vmax=np.nanmax(values))
    for (i, j), v in np.ndenumerate(values):
        if not np.isnan(v):
            ax.text(
                j,
                i,
                f"{v:.2f}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if v < np.nanmean(values) else "black",
                fontweight="bold" if i == j else None,
            )
    ax.set_xticks(range(values.shape[1]), matrix.columns, rotation=45, ha="right")
    ax.set_yticks(range(values.shape[0]), matrix.index)
    ax.set_xlabel(f"{matrix.columns.name} (diagonal: no stitching)")
    ax.set_ylabel(matrix.index.name)
    top = fig.add_subplot(grid[0, 0], sharex=ax)
    top.bar(range(values.shape[1]), np.nanmean(off_diagonal, axis=0), color="tab:gray")
    top.set_ylabel("mean", fontsize="small")
    top.tick_params(labelbottom=False)
    right = fig.add_subplot(grid[1, 1], sharey=ax)
    right.barh(range(values.shape[0]), np.nanmean(off_diagonal, axis=1), color="tab:gray")
    right.set_xlabel("mean", fontsize="small")
    right.tick_params(labelleft=False)
    fig.colorbar(image, ax=[ax, right], label=label, shrink=0.8)
    fig.suptitle(title)
    return save_figure(fig, path)


def plot_reconstruction_grid(rows: Mapping[str, np.ndarray], path: str | Path, *, title: str) -> Path:
    """Figure 6: one row of images per entry of ``rows`` (label -> (k, h, w) or (k, h, w, c)
    floats in [0, 1]), e.g. the originals, then each method's stitched reconstructions."""
    if not rows:
        raise ValueError("a reconstruction grid needs at least one row of images")
    shapes = {label: np.shape(images) for label, images in rows.items()}
    if len(set(shapes.values())) != 1:
        raise ValueError(f"every row of the grid needs the same number and shape of images, got {shapes}")
    k, h, w = next(iter(shapes.values()))[:3]
    pad = max(1, h // 14)
    # one mosaic drawn once: far cheaper to render than a k x rows grid of axes
    tiles = np.stack([np.clip(np.asarray(images, dtype=np.float32), 0.0, 1.0) for images in rows.values()])
    padding = [(0, 0), (0, 0), (pad, pad), (pad, pad)] + [(0, 0)] * (tiles.ndim - 4)
    tiles = np.pad(tiles, padding, constant_values=1.0)
    n, _, th, tw = tiles.shape[:4]
    mosaic = tiles.swapaxes(1, 2).reshape(n * th, k * tw, *tiles.shape[4:])
    fig = Figure(figsize=(0.75 * k + 1.2, 0.75 * n + 0.5), layout="constrained")
    ax = fig.add_subplot()
    ax.imshow(mosaic, cmap="gray" if mosaic.ndim == 2 else None, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_yticks([th * (i + 0.5) for i in range(n)], list(rows))
    ax.set_xticks([])
    ax.tick_params(length=0)
    for spine in ax.spines.values():
        spine.set_visible(False)
    ax.set_title(title, fontsize="medium")
    return save_figure(fig, path)


def plot_norm_distributions(norms: Mapping[str, np.ndarray], path: str | Path, *, title: str, bins: int = 40) -> Path:
    """Figure 4: the distribution of the L2 norm of each encoder's encodings, one panel per
    encoder (their scales differ by orders of magnitude), with the mean marked."""
    if not norms:
        raise ValueError("norm distributions need at least one encoder")
    names: Sequence[str] = list(norms)
    fig = Figure(figsize=(3.0 * len(names), 2.6), layout="constrained")
    axes = fig.subplots(1, len(names), squeeze=False)[0]
    for ax, name in zip(axes, names):
        x = np.asarray(norms[name], dtype=np.float64)
        # about sqrt(n) bins for small test sets, at most `bins`
        ax.hist(x, bins=int(np.clip(np.sqrt(len(x)), 5, bins)), density=True, color="tab:blue", alpha=0.7)
        ax.axvline(x.mean(), color="black", ls="--", lw=1)
        ax.set_title(f"{name}\nmean {x.mean():.3g}, std {x.std():.2g}", fontsize="small")
        ax.set_xlabel("L2 norm")
    axes[0].set_ylabel("density")
    fig.suptitle(title)
    return save_figure(fig, path)
