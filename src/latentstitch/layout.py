"""Where every pipeline artifact lives, and its id: the one place stages and reports agree on.

    {encodings_dir}/{dataset}/{encoder}/{split}.safetensors          encode
    {results_dir}/heads/{dataset}/{encoder}/{head}/                  train_heads
    {results_dir}/relative_heads/{dataset}/{encoder}/{head}/a{count}_s{seed}/   train_relative_heads
    {results_dir}/autoencoders/{dataset}/{ae_id}/                    train_autoencoders
    {results_dir}/stitch/{dataset}.csv, summary.json, figures/       stitch
    {results_dir}/appendix/                                          appendix
    {results_dir}/report/, metrics.json, plots/                      report

The stages and the outputs each declares are in :mod:`latentstitch.pipeline`.
"""

from __future__ import annotations

from pathlib import Path


def head_dir(results_dir: str | Path, dataset: str, encoder: str, head: str) -> Path:
    """Where the head ``head`` (a conf/head option) trained on ``encoder``'s encodings lives."""
    return Path(results_dir) / "heads" / dataset / encoder / head


def relative_head_dir(results_dir: str | Path, dataset: str, encoder: str, head: str, count: int, seed: int) -> Path:
    """Where the relative ``head`` for ``count`` anchors drawn with ``seed`` lives."""
    return Path(results_dir) / "relative_heads" / dataset / encoder / head / f"a{count}_s{seed}"


def autoencoder_id(bottleneck: int, seed: int, l2: bool) -> str:
    """The encoder id of an autoencoder in the results: ae_b500_s0[_l2]."""
    return f"ae_b{bottleneck}_s{seed}" + ("_l2" if l2 else "")


def autoencoder_dir(results_dir: str | Path, dataset: str, ae_id: str) -> Path:
    return Path(results_dir) / "autoencoders" / dataset / ae_id


def stitch_dir(results_dir: str | Path) -> Path:
    return Path(results_dir) / "stitch"


def stitch_table_path(results_dir: str | Path, dataset: str) -> Path:
    """The DVC-tracked table of ``dataset`` (what the report reads)."""
    return stitch_dir(results_dir) / f"{dataset}.csv"


def appendix_dir(results_dir: str | Path) -> Path:
    return Path(results_dir) / "appendix"


def report_dir(results_dir: str | Path) -> Path:
    return Path(results_dir) / "report"


def metrics_path(results_dir: str | Path) -> Path:
    """The headline numbers of the report's tables (``dvc metrics show``)."""
    return Path(results_dir) / "metrics.json"


def plots_dir(results_dir: str | Path) -> Path:
    """The curves of Figures 3 and 8 as CSV (``dvc plots show``)."""
    return Path(results_dir) / "plots"


def bottleneck_of(ae_id: str) -> int:
    """The bottleneck size in an autoencoder id (ae_b500_s0[_l2] -> 500)."""
    return int(ae_id.split("_")[1].removeprefix("b"))


def cross_modal_table_path(results_dir: str | Path, a: str, b: str) -> Path:
    """The table of the cross-modal pair (a, b): every encoder of both into every head of both."""
    return stitch_dir(results_dir) / f"{a}+{b}.csv"
