"""Cross-domain stitching (paper App. A, Figure 7): encoders applied to two domains of the same
images (the paper: CIFAR-10 and grayscale CIFAR-10; offline: Fashion-MNIST and its negative),
a head trained on each (encoder, domain) space, and every head stitched from every other space.

Spaces are named ``{encoder}@{domain}``; items are the same pictures in both domains, so
anchors are parallel by index across domains as across encoders.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from latentstitch.data import sample_anchors
from latentstitch.decoders import build_head
from latentstitch.reports.figures import COLORS, save_figure
from latentstitch.stitching import Decoder, Space, StitchSettings, stitch

# Kinds of stitched pairs, by what differs between the source space and the head's space.
PAIR_KINDS = ("other domain, same encoder", "other domain, other encoder", "same domain, other encoder")


def space_name(encoder: str, domain: str) -> str:
    return f"{encoder}@{domain}"


def pair_kind(source: str, target: str) -> str:
    """Which of :data:`PAIR_KINDS` the pair of ``{encoder}@{domain}`` space names is."""
    (enc_s, dom_s), (enc_t, dom_t) = (name.rsplit("@", 1) for name in (source, target))
    if dom_s == dom_t:
        return PAIR_KINDS[2]
    return PAIR_KINDS[0] if enc_s == enc_t else PAIR_KINDS[1]


def cross_domain_stitching(
    spaces: Sequence[Space],
    y_train: np.ndarray,
    y_test: np.ndarray,
    head_cfg: Mapping[str, Any],
    settings: StitchSettings,
    *,
    seed: int,
    accelerator: str = "auto",
) -> pd.DataFrame:
    """Train a ``head_cfg`` head (a conf/head mapping) on each space's train split and stitch
    every pair of spaces (``latentstitch.stitching.stitch``, anchors
    ``sample_anchors(y_train, count, seed)``); returns the classification rows (accuracy, macro
    F1; latent rows dropped) with the pair kind of each stitched row."""
    spaces = list(spaces)
    if len(spaces) < 2:
        raise ValueError(f"cross-domain stitching needs at least 2 spaces (encoder@domain), got {len(spaces)}")
    for space in spaces:
        if "@" not in space.name:
            raise ValueError(f"space names must be encoder@domain, got {space.name!r}")
        if len(space.train) != len(y_train) or len(space.test) != len(y_test):
            raise ValueError(
                f"space {space.name!r} has {len(space.train)} train / {len(space.test)} test rows, "
                f"the labels {len(y_train)} / {len(y_test)}"
            )
    decoders = []
    for space in spaces:
        head = build_head(head_cfg, seed=seed, accelerator=accelerator).fit(space.train, y_train)
        decoders.append(Decoder.head(str(head_cfg["kind"]), space.name, head))
    table = stitch(
        spaces, decoders, settings, y_test=y_test, anchor_indices=lambda count, s: sample_anchors(y_train, count, s)
    )
    table = table[table["decoder"] != "latent"].reset_index(drop=True)
    kinds = [pair_kind(s, t) if s != t else "no-stitch" for s, t in zip(table["source"], table["target"])]
    return table.assign(pair_kind=kinds)


def summarize(table: pd.DataFrame) -> pd.DataFrame:
    """Accuracy mean, std (ddof 1) and count per (pair kind, method, scaling)."""
    acc = table[table["metric"] == "accuracy"]
    return (
        acc.groupby(["pair_kind", "method", "scaling"], sort=False)["value"]
        .agg(mean="mean", std="std", n="count")
        .reset_index()
    )


def claim(table: pd.DataFrame, tolerance: float) -> dict[str, Any]:
    """The paper's Figure 7 point: translation stitches heads across domains. Holds when the
    best translation method's mean accuracy over the cross-domain pairs is within
    ``tolerance`` of the mean no-stitch accuracy and above the absolute baseline's."""
    cells = summarize(table)
    no_stitch = float(cells.loc[cells["method"] == "no-stitch", "mean"].mean())
    cross = cells[cells["pair_kind"].isin(PAIR_KINDS[:2])]
    translated = cross[~cross["method"].isin(["absolute", "no-stitch"])]
    if translated.empty:
        raise ValueError("no translated cross-domain pair in the table: figure7.methods needs a translation method")
    pooled = translated.groupby(["method", "scaling"])["mean"].mean()
    (method, scaling), best = pooled.idxmax(), float(pooled.max())
    absolute = cross.loc[cross["method"] == "absolute", "mean"]
    absolute_mean = float(absolute.mean()) if len(absolute) else None
    holds = no_stitch - best <= tolerance and (absolute_mean is None or best > absolute_mean)
    n_pairs = table.loc[table["pair_kind"].isin(PAIR_KINDS[:2]), ["source", "target"]].drop_duplicates().shape[0]
    line = (
        f"best translation {method} ({scaling} scaling) reaches {best:.3f} mean accuracy over {n_pairs} "
        f"cross-domain pairs vs no-stitch {no_stitch:.3f}"
        + (f" and absolute {absolute_mean:.3f}" if absolute_mean is not None else "")
        + f" (tolerance {tolerance})"
    )
    return {
        "holds": bool(holds),
        "line": line,
        "details": {
            "best_method": method,
            "best_scaling": scaling,
            "best_accuracy": best,
            "no_stitch_accuracy": no_stitch,
            "absolute_accuracy": absolute_mean,
            "cross_domain_pairs": n_pairs,
            "tolerance": tolerance,
        },
    }


def plot(table: pd.DataFrame, path: str, *, title: str) -> None:
    """Figure 7: mean accuracy (± std over pairs x seeds) per method and pair kind, the mean
    no-stitch accuracy as a black line."""
    cells = summarize(table)
    stitched = cells[cells["method"] != "no-stitch"]
    labels = [
        f"{m}" + ("" if s == "none" else f"\n{s}")
        for m, s in stitched[["method", "scaling"]].drop_duplicates().itertuples(index=False)
    ]
    keys = list(stitched[["method", "scaling"]].drop_duplicates().itertuples(index=False, name=None))
    kinds = [k for k in PAIR_KINDS if k in set(stitched["pair_kind"])]
    width = 0.8 / max(len(kinds), 1)
    fig = Figure(figsize=(max(5.0, 1.1 * len(keys) + 1.5), 3.8), layout="constrained")
    ax = fig.subplots()
    shades = dict(zip(PAIR_KINDS, ("tab:red", "tab:blue", "tab:gray")))
    for k, kind in enumerate(kinds):
        rows = stitched[stitched["pair_kind"] == kind].set_index(["method", "scaling"])
        x = [i + (k - (len(kinds) - 1) / 2) * width for i, key in enumerate(keys) if key in rows.index]
        present = [key for key in keys if key in rows.index]
        ax.bar(
            x,
            rows.loc[present, "mean"],
            width,
            yerr=rows.loc[present, "std"].fillna(0.0),
            color=shades[kind],
            label=kind,
            capsize=2,
        )
    no_stitch = cells.loc[cells["method"] == "no-stitch", "mean"].mean()
    ax.axhline(no_stitch, color=COLORS["no-stitch"], lw=1.0, label="no-stitch (mean)")
    ax.set_xticks(range(len(keys)), labels, fontsize=8)
    ax.set(ylabel="accuracy", ylim=(0, 1), title=title)
    ax.legend(fontsize=7)
    save_figure(fig, path)


def encode_rows(encoder: Any, inputs: Any, rows: np.ndarray, batch_size: int) -> np.ndarray:
    """``encoder``'s features of ``inputs[rows]`` (an image array or a list of texts)."""
    chosen = inputs[rows] if isinstance(inputs, np.ndarray) else [inputs[i] for i in rows]
    return encoder.embed(chosen, batch_size=batch_size, progress=None)
