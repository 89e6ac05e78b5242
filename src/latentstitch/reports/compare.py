"""Our tables next to the paper's: cell by cell where the setting is the same, and the ranking
of the translation methods per table, dataset and metric."""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
import pandas as pd
from scipy.stats import kendalltau

from latentstitch.reports.tables import ReportTable
from latentstitch.stitching import PAPER_METHODS

# Dataset ids of ours that differ from the paper's where the data is the same.
DEFAULT_PAPER_DATASETS = {"dbpedia_14": "dbpedia"}
# The autoencoder tables (3, 4, 8) print one CIFAR100 (no label granularity there).
_RECONSTRUCTION_TABLES = (3, 4, 8)
# The paper's translation methods; rankings compare these (those beyond the paper are ours only).
RANKED_METHODS = PAPER_METHODS
HIGHER_IS_BETTER = {
    "accuracy": True,
    "macro_f1": True,
    "lcos": True,
    "lmse": False,
    "rmse": False,
    "retrieval_top1": True,
    "retrieval_mrr": True,
}
# The paper prints two decimals; rankings compare values rounded alike, so ties mean the same.
RANK_DECIMALS = 2

COMPARISON_COLUMNS = [
    "paper_table",
    "table",
    "dataset",
    "paper_dataset",
    "method",
    "metric",
    "anchors",
    "paper_anchors",
    "n",
    "ours_mean",
    "ours_std",
    "paper_mean",
    "paper_std",
    "difference",
]


def paper_dataset(
    dataset: str, paper_table: int, paper: pd.DataFrame, mapping: Mapping[str, str] | None = None
) -> str | None:
    """The paper's dataset id that ``dataset`` stands for in ``paper_table``, or None.

    ``mapping`` (``suite.report.paper_datasets``) maps our ids to the paper's; ids that are
    the paper's own (``cifar10``, ``mnist``, ...) map to themselves. Raises ValueError when the
    mapping names a dataset the paper never reports.
    """
    mapping = dict(mapping or {})
    known = set(paper["dataset"].dropna())
    target = mapping.get(dataset, DEFAULT_PAPER_DATASETS.get(dataset, dataset))
    if dataset in mapping and target not in known:
        raise ValueError(
            f"suite.report.paper_datasets maps {dataset!r} to {target!r}, which no paper table reports; "
            f"the paper's datasets are {sorted(known)}"
        )
    if paper_table in _RECONSTRUCTION_TABLES and str(target).startswith("cifar100"):
        target = "cifar100"
    in_table = set(paper.loc[paper["table"] == paper_table, "dataset"].dropna())
    return target if target in in_table else None


def _paper_cells(tables: Sequence[ReportTable], paper: pd.DataFrame, paper_datasets: Mapping[str, str] | None):
    """(table, paper table number, dataset, paper dataset, our cells, the paper's cells of that
    table and dataset) for every dataset of a paper-analog table that the paper reports."""
    for table in tables:
        number = table.spec.paper_table
        if number is None or table.cells.empty:
            continue
        printed = paper[paper["table"] == number]
        for dataset, cells in table.cells.groupby("dataset", sort=False):
            target = paper_dataset(dataset, number, paper, paper_datasets)
            if target is not None:
                yield table, number, dataset, target, cells, printed[printed["dataset"] == target]


def compare_with_paper(
    tables: Sequence[ReportTable], paper: pd.DataFrame, paper_datasets: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Ours, the paper's and their difference (ours - paper) for every cell whose setting
    the paper reports: same paper table (head, scaling, decoder type), dataset (mapped by
    :func:`paper_dataset`), method and metric. Cells of tables without a paper analog, of
    datasets the paper lacks, and of methods it does not print (ridge) have no row.
    """
    parts = []
    for table, number, dataset, target, cells, theirs in _paper_cells(tables, paper, paper_datasets):
        joined = cells.merge(
            theirs[["method", "metric", "mean", "std", "anchors"]], on=["method", "metric"], suffixes=("", "_paper")
        )
        parts.append(
            pd.DataFrame(
                {
                    "paper_table": number,
                    "table": table.spec.key,
                    "dataset": dataset,
                    "paper_dataset": target,
                    "method": joined["method"],
                    "metric": joined["metric"],
                    "anchors": joined["anchors"],
                    "paper_anchors": joined["anchors_paper"],
                    "n": joined["n"],
                    "ours_mean": joined["mean"],
                    "ours_std": joined["std"],
                    "paper_mean": joined["mean_paper"].astype("float64"),
                    "paper_std": joined["std_paper"].astype("float64"),
                    "difference": joined["mean"] - joined["mean_paper"].astype("float64"),
                }
            )
        )
    if not parts:
        return pd.DataFrame(columns=COMPARISON_COLUMNS)
    return pd.concat(parts, ignore_index=True)[COMPARISON_COLUMNS]


def ranking(values: Mapping[str, float], higher_is_better: bool, decimals: int = RANK_DECIMALS) -> str:
    """Methods from best to worst, ``">"`` between ranks and ``"="`` within a tie of the
    values rounded to ``decimals``: ``"ortho > affine = linear > l-ortho"``."""
    rounded = {m: round(float(v), decimals) for m, v in values.items() if not pd.isna(v)}
    levels = sorted(set(rounded.values()), reverse=higher_is_better)
    return " > ".join(" = ".join(m for m in rounded if rounded[m] == level) for level in levels)


def method_rankings(
    tables: Sequence[ReportTable],
    paper: pd.DataFrame,
    paper_datasets: Mapping[str, str] | None = None,
    methods: Sequence[str] = RANKED_METHODS,
) -> pd.DataFrame:
    """For every paper-analog table, dataset with a paper counterpart and metric: the ranking
    of ``methods`` in ours and in the paper (over the methods both have), ours over every
    translation method we ran, and Kendall's tau-b between the two (NaN if undefined)."""
    records = []
    for table, number, dataset, target, cells, printed in _paper_cells(tables, paper, paper_datasets):
        for metric in table.spec.metrics:
            ours = cells[(cells["metric"] == metric) & cells["method"].isin([*methods, "ridge"])]
            ours = dict(zip(ours["method"], ours["mean"]))
            theirs = printed[printed["metric"] == metric]
            theirs = dict(zip(theirs["method"], theirs["mean"]))
            common = [m for m in methods if m in ours and m in theirs]
            if len(common) < 2:
                continue
            better = HIGHER_IS_BETTER[metric]
            a = [round(ours[m], RANK_DECIMALS) for m in common]
            b = [round(theirs[m], RANK_DECIMALS) for m in common]
            tau = kendalltau(a, b).statistic if len(set(a)) > 1 and len(set(b)) > 1 else np.nan
            records.append(
                {
                    "paper_table": number,
                    "table": table.spec.key,
                    "dataset": dataset,
                    "paper_dataset": target,
                    "metric": metric,
                    "ours": ranking({m: ours[m] for m in common}, better),
                    "paper": ranking({m: theirs[m] for m in common}, better),
                    "ours_all_methods": ranking(ours, better),
                    "kendall_tau": float(tau),
                }
            )
    columns = [
        "paper_table",
        "table",
        "dataset",
        "paper_dataset",
        "metric",
        "ours",
        "paper",
        "ours_all_methods",
        "kendall_tau",
    ]
    return pd.DataFrame(records, columns=columns)
