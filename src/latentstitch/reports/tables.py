"""Result tables in the paper's layout, aggregated from the stitch stage's tidy CSVs.

The paper reports, for each method, the mean +- std of all (encoder, decoder) pairs x seeds
pooled together (its no-stitch column pools every decoder on its own encoder); Tables 1, 2, 5,
6 put datasets in rows and methods in columns, Tables 3, 4, 8 methods in rows and
(dataset, metric) in columns. ``build_tables`` makes every analog the results allow.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from latentstitch.stitching import BASELINES
from latentstitch.stitching import TRANSLATION_METHODS as TRANSLATION_METHODS  # the methods but the baselines
from latentstitch.translate import MethodNames

# Column order of Tables 1, 2, 5, 6 (then the methods beyond the paper: ridge, the nonlinear
# ones, any added with translate.register_method); row order of 3, 4, 8. Views of
# latentstitch.translate.METHODS, whose order is the paper's.
METHODS = MethodNames(before=("no-stitch", *BASELINES))
# Shown only when run.
BEYOND_PAPER = MethodNames(where=lambda method: method.beyond_paper)
METHOD_LABELS = {
    "no-stitch": "No Stitching",
    "irp": "irp (beyond paper)",
    "kernel": "kernel (beyond paper)",
    "mlp": "mlp (beyond paper)",
}
RECONSTRUCTION_METRICS = ("lcos", "lmse", "rmse")
# How close translated encodings land to the target's own (the stitch stage's latent rows).
RETRIEVAL_METRICS = ("lcos", "retrieval_top1", "retrieval_mrr")
# Rows that depend on neither the scaling nor the anchors carry these values.
NO_SCALING = "none"
NO_ANCHORS = 0

REQUIRED_COLUMNS = (
    "dataset",
    "task",
    "source",
    "target",
    "decoder",
    "method",
    "scaling",
    "anchors",
    "seed",
    "metric",
    "value",
)
KEY_COLUMNS = (
    "dataset",
    "task",
    "decoder_l2",
    "source",
    "target",
    "decoder",
    "method",
    "scaling",
    "anchors",
    "seed",
    "metric",
)
TASKS = ("classification", "reconstruction")

# Our classification heads -> the paper's head they stand for. svm_fast (LinearSVC) is the
# fast linear SVM used where SVC's exact solver is too slow; it plays the SVM tables' role.
PAPER_HEADS = {"svm": "svm", "svm_fast": "svm", "mlp": "mlp"}
CLASSIFICATION_TABLES = {("svm", "standard"): 1, ("svm", "l2"): 2, ("mlp", "standard"): 5, ("mlp", "l2"): 6}
# (decoder L2-normalizes its input, pairs) -> paper table; all three use standard scaling.
RECONSTRUCTION_TABLES = {(False, "same"): 3, (True, "same"): 4, (False, "cross"): 8}

# The train_autoencoders stage's ids (its autoencoder_id): ae_b{bottleneck}_s{seed}[_l2].
# Parsed here rather than imported so that reports need no torch; a test pins the two together.
_AE_ID = re.compile(r"ae_b(?P<bottleneck>[1-9]\d*)_s(?P<seed>\d+)(?:_l2)?")


@dataclass(frozen=True)
class TableSpec:
    """Which result rows one table aggregates.

    ``decoder`` is a head name (classification) or ``"ae"`` (reconstruction; the latent
    metrics, rows with decoder ``"latent"``, come along). ``pairs`` restricts reconstruction
    pairs to autoencoders of the same (``"same"``) or a different (``"cross"``) bottleneck.
    """

    key: str
    title: str
    task: str
    decoder: str
    scaling: str
    decoder_l2: bool | None = None
    pairs: str | None = None
    paper_table: int | None = None
    metric_names: tuple[str, ...] | None = None  # default: accuracy, or lcos / lmse / rmse

    @property
    def metrics(self) -> tuple[str, ...]:
        if self.metric_names is not None:
            return self.metric_names
        return ("accuracy",) if self.task == "classification" else RECONSTRUCTION_METRICS


@dataclass
class ReportTable:
    """One aggregated table: ``cells`` has one row per (dataset, method, metric) with columns
    ``anchors`` (the anchor count of the translated cells), ``n`` (values pooled), ``mean``, ``std``.
    """

    spec: TableSpec
    cells: pd.DataFrame
    ddof: int

    def tidy(self) -> pd.DataFrame:
        """The cells with the table's settings attached: what the table's CSV holds."""
        s = self.spec
        settings = {
            "table": s.key,
            "paper_table": s.paper_table,
            "task": s.task,
            "decoder": s.decoder,
            "scaling": s.scaling,
            "decoder_l2": s.decoder_l2,
            "pairs": s.pairs,
            "ddof": self.ddof,
        }
        return self.cells.assign(**settings)[[*settings, *self.cells.columns]]

    def layout(self, digits: int = 3) -> pd.DataFrame:
        """The paper's layout as strings ("mean ± std"; "–" where there is no value).

        One metric (classification): datasets in rows, methods in columns, plus the anchor
        count. Several (reconstruction, latent retrieval): methods in rows, "<dataset> <metric>"
        in columns.
        """
        cells = self.cells.assign(
            text=[format_cell(m, s, digits) for m, s in zip(self.cells["mean"], self.cells["std"])]
        )
        datasets = list(dict.fromkeys(cells["dataset"]))
        present = set(cells["method"])
        # The paper's columns are always shown (a missing baseline is itself information);
        # ridge and the nonlinear methods only when they were run.
        methods = [m for m in METHODS if m not in BEYOND_PAPER or m in present]
        if len(self.spec.metrics) == 1:
            wide = cells.pivot(index="dataset", columns="method", values="text").reindex(
                index=datasets, columns=methods
            )
            wide.columns = [METHOD_LABELS.get(m, m) for m in methods]
            anchors = cells.groupby("dataset")["anchors"].max().reindex(datasets)
            wide.insert(0, "anchors", [str(int(a)) if a > 0 else "–" for a in anchors])
            wide.index.name = "Dataset"
        else:
            columns = [(d, m) for d in datasets for m in self.spec.metrics]
            wide = cells.pivot(index="method", columns=["dataset", "metric"], values="text")
            wide = wide.reindex(index=[m for m in methods if m in present], columns=pd.MultiIndex.from_tuples(columns))
            wide.columns = [f"{d} {m}" for d, m in columns]
            wide.index = [METHOD_LABELS.get(m, m) for m in wide.index]
            wide.index.name = "Method"
        return wide.fillna("–")


def format_number(x: float, digits: int = 3) -> str:
    """``x`` with ``digits`` decimals, or in scientific notation where those would print 0."""
    if x != 0 and abs(x) < 0.5 * 10.0**-digits:
        return f"{x:.{max(digits - 2, 1)}e}"
    return f"{x:.{digits}f}"


def format_cell(mean: float, std: float, digits: int = 3) -> str:
    """``"0.853 ± 0.012"``; the std is left out where it is undefined (a single value with ddof=1)."""
    if pd.isna(mean):
        return "–"
    if pd.isna(std):
        return format_number(mean, digits)
    return f"{format_number(mean, digits)} ± {format_number(std, digits)}"


def load_stitch_results(paths: Iterable[str | Path]) -> pd.DataFrame:
    """Concatenate the stitch stage's per-dataset CSVs into one validated frame.

    ``decoder_l2`` becomes a boolean column (False for classification rows, which have none).
    Raises ``FileNotFoundError`` for a missing file and ``ValueError`` for missing columns, an
    unknown task or method, non-numeric values, or one result recorded twice.
    """
    frames = []
    for path in paths:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"stitch results not found at {path}: run the stitch stage first")
        frame = pd.read_csv(path)
        missing = [c for c in REQUIRED_COLUMNS if c not in frame.columns]
        if missing:
            raise ValueError(f"{path} lacks columns {missing}; a stitch table has {list(REQUIRED_COLUMNS)}")
        frames.append(frame)
    if not frames:
        raise ValueError("no stitch results given: pass at least one CSV")
    return validate_results(pd.concat(frames, ignore_index=True))


def validate_results(results: pd.DataFrame) -> pd.DataFrame:
    """Check and normalize a tidy stitch table (see :func:`load_stitch_results`); returns a copy."""
    missing = [c for c in REQUIRED_COLUMNS if c not in results.columns]
    if missing:
        raise ValueError(f"stitch results lack columns {missing}; expected at least {list(REQUIRED_COLUMNS)}")
    out = results.copy()
    unknown_tasks = sorted(set(out["task"]) - set(TASKS))
    if unknown_tasks:
        raise ValueError(f"unknown task(s) {unknown_tasks} in stitch results; expected {list(TASKS)}")
    unknown_methods = sorted(set(out["method"]) - set(METHODS))
    if unknown_methods:
        raise ValueError(f"unknown method(s) {unknown_methods} in stitch results; expected {list(METHODS)}")
    out["decoder_l2"] = out["decoder_l2"].map(_as_bool) if "decoder_l2" in out else False
    out["value"] = pd.to_numeric(out["value"], errors="coerce")
    if out["value"].isna().any():
        bad = out[out["value"].isna()].iloc[0]
        raise ValueError(
            f"non-numeric or missing value in stitch results, e.g. dataset={bad['dataset']} "
            f"{bad['source']}->{bad['target']} {bad['method']} {bad['metric']}"
        )
    out["anchors"] = out["anchors"].astype("int64")
    out["seed"] = out["seed"].astype("int64")
    duplicated = out.duplicated(list(KEY_COLUMNS), keep=False)
    if duplicated.any():
        example = out.loc[duplicated, list(KEY_COLUMNS)].iloc[0].to_dict()
        raise ValueError(f"{int(duplicated.sum())} stitch results are recorded more than once, e.g. {example}")
    return out


def _as_bool(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if pd.isna(value):
        return False
    text = str(value).strip().lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise ValueError(f"decoder_l2 must be true or false, got {value!r}")


def bottleneck(ae_id: str) -> int:
    """The bottleneck size in an autoencoder id (``ae_b500_s0[_l2]``, the train_autoencoders stage's ids)."""
    match = _AE_ID.fullmatch(ae_id)
    if match is None:
        raise ValueError(f"{ae_id!r} is not an autoencoder id like 'ae_b500_s0' or 'ae_b500_s0_l2'")
    return int(match["bottleneck"])


def summarize(values: Sequence[float] | np.ndarray, ddof: int) -> tuple[float, float, int]:
    """(mean, std with ``ddof``, n) of pooled values; std is NaN when n <= ddof."""
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    if n == 0:
        raise ValueError("cannot summarize zero values")
    std = float(np.std(x, ddof=ddof)) if n > ddof else float("nan")
    return float(x.mean()), std, n


def aggregate(rows: pd.DataFrame, by: Sequence[str], ddof: int) -> pd.DataFrame:
    """Mean, std (``ddof``) and count of ``value`` over all rows of each ``by`` group.

    Every row is one (pair, seed) result, so this pools pairs and seeds as the paper does.
    """
    if isinstance(ddof, bool) or not isinstance(ddof, (int, np.integer)) or ddof < 0:
        raise ValueError(f"ddof must be a non-negative int, got {ddof!r}")
    records = []
    for key, group in rows.groupby(list(by), sort=False):
        mean, std, n = summarize(group["value"].to_numpy(), int(ddof))
        records.append({**dict(zip(by, key)), "n": n, "mean": mean, "std": std})
    return pd.DataFrame(records, columns=[*by, "n", "mean", "std"])


def anchor_setting(anchors: Any, dataset: str, table: TableSpec) -> int | None:
    """The main anchor count the config asks for (``suite.report.anchors``), or None.

    ``anchors`` is None, an int, or a mapping whose keys are dataset ids, table names
    (``table3`` for the paper's Table 3 analog, or our table key) and ``default``; a dataset's
    value may itself be an int or such a mapping. The most specific entry wins: the dataset's
    table entry, the dataset's own value or default, a table entry, the global default.
    """
    if anchors is None:
        return None
    names = [table.key] + ([f"table{table.paper_table}"] if table.paper_table else [])
    scopes = [anchors.get(dataset), anchors] if isinstance(anchors, Mapping) else [anchors]
    for scope in scopes:
        if scope is None:
            continue
        if not isinstance(scope, Mapping):
            return _anchor_count(scope, dataset)
        for name in [*names, "default"]:
            if scope.get(name) is not None and not isinstance(scope.get(name), Mapping):
                return _anchor_count(scope[name], dataset)
    return None


def _anchor_count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"suite.report.anchors for {where!r} must be a positive int, got {value!r}")
    return int(value)


def main_anchors(rows: pd.DataFrame, requested: int | None, where: str) -> int | None:
    """The anchor count of the table cells: ``requested``, or the largest one run if None.

    Returns None when the rows hold no anchor-dependent result. Raises ValueError when the
    requested count was not run, naming the counts that were.
    """
    counts = sorted(int(a) for a in set(rows["anchors"]) if a != NO_ANCHORS)
    if not counts:
        return None
    if requested is None:
        return counts[-1]
    if requested not in counts:
        raise ValueError(
            f"suite.report.anchors asks for {requested} anchors for {where}, but the stitch results "
            f"have {counts}: set it to one of them or add it to the suite's anchors"
        )
    return requested


def pair_kind(source: str, target: str) -> str:
    """``"same"`` when two autoencoders share their bottleneck size, else ``"cross"``."""
    return "same" if bottleneck(source) == bottleneck(target) else "cross"


def _select(results: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    rows = results[(results["task"] == spec.task) & results["metric"].isin(spec.metrics)]
    rows = rows[rows["scaling"].isin([spec.scaling, NO_SCALING])]
    if spec.task == "classification":
        return rows[rows["decoder"] == spec.decoder]
    rows = rows[(rows["decoder"].isin([spec.decoder, "latent"])) & (rows["decoder_l2"] == spec.decoder_l2)]
    kinds = [pair_kind(s, t) for s, t in zip(rows["source"], rows["target"])]
    # no-stitch (each decoder on its own encoder) is the reference of both pair kinds
    return rows[(np.asarray(kinds) == spec.pairs) | (rows["method"] == "no-stitch").to_numpy()]


def build_table(results: pd.DataFrame, spec: TableSpec, *, anchors: Any = None, ddof: int = 1) -> ReportTable:
    """Aggregate the rows of ``spec`` per (dataset, method, metric) at each dataset's main
    anchor count (see :func:`anchor_setting` and :func:`main_anchors`)."""
    rows = _select(results, spec)
    parts = []
    for dataset, group in rows.groupby("dataset", sort=False):
        count = main_anchors(group, anchor_setting(anchors, dataset, spec), f"{dataset} ({spec.key})")
        kept = group[group["anchors"].isin([NO_ANCHORS, count])]
        cells = aggregate(kept, ["dataset", "method", "metric"], ddof)
        anchor_of = kept.groupby("method")["anchors"].max()
        parts.append(cells.assign(anchors=cells["method"].map(anchor_of).astype("int64")))
    columns = ["dataset", "method", "metric", "anchors", "n", "mean", "std"]
    if not parts:
        return ReportTable(spec, pd.DataFrame(columns=columns), ddof)
    cells = pd.concat(parts, ignore_index=True)[columns]
    # datasets in the order they came, methods and metrics in the paper's order
    method_rank = cells["method"].map({m: i for i, m in enumerate(METHODS)}).to_numpy()
    metric_rank = cells["metric"].map({m: i for i, m in enumerate(spec.metrics)}).to_numpy()
    cells = cells.iloc[np.lexsort((metric_rank, method_rank, pd.factorize(cells["dataset"])[0]))]
    return ReportTable(spec, cells.reset_index(drop=True), ddof)


def table_specs(results: pd.DataFrame) -> list[TableSpec]:
    """Every table the results allow: one per (head, scaling) for classification, one per
    (decoder L2 input, pair kind, scaling) for reconstruction; paper analogs first."""
    specs = []
    cls = results[results["task"] == "classification"]
    heads = [d for d in dict.fromkeys(cls["decoder"]) if d != "latent"]
    scalings = sorted(set(results["scaling"]) - {NO_SCALING}, key=lambda s: (s != "standard", s))
    for head in heads:
        for scaling in scalings:
            if not ((cls["decoder"] == head) & (cls["scaling"] == scaling)).any():
                continue
            paper = CLASSIFICATION_TABLES.get((PAPER_HEADS.get(head, ""), scaling))
            name = f"Table {paper} analog" if paper else "No paper analog"
            specs.append(
                TableSpec(
                    key=f"classification_{head}_{scaling}",
                    title=f"{name}: cross-architecture stitching, {head} heads, {scaling} scaling (accuracy)",
                    task="classification",
                    decoder=head,
                    scaling=scaling,
                    paper_table=paper,
                )
            )
    latent = cls[(cls["decoder"] == "latent") & cls["metric"].isin(RETRIEVAL_METRICS)]
    for scaling in scalings:
        if (latent["scaling"] == scaling).any():
            specs.append(
                TableSpec(
                    key=f"retrieval_{scaling}",
                    title=(
                        f"No paper analog: the translated test encodings against the target's own, "
                        f"{scaling} scaling (mean cosine, and top-1 and MRR retrieval among themselves, "
                        f"of the first test points: suite.stitch.retrieval_queries)"
                    ),
                    task="classification",
                    decoder="latent",
                    scaling=scaling,
                    metric_names=RETRIEVAL_METRICS,
                )
            )
    rec = results[(results["task"] == "reconstruction") & (results["method"] != "no-stitch")]
    kinds = pd.Series([pair_kind(s, t) for s, t in zip(rec["source"], rec["target"])], index=rec.index, dtype=object)
    for l2 in (False, True):
        for pairs in ("same", "cross"):
            for scaling in scalings:
                mask = (rec["decoder_l2"] == l2) & (kinds == pairs) & (rec["scaling"] == scaling)
                if not mask.any():
                    continue
                paper = RECONSTRUCTION_TABLES.get((l2, pairs)) if scaling == "standard" else None
                name = f"Table {paper} analog" if paper else "No paper analog"
                decoder = "L2-normalized decoder input" if l2 else "plain decoders"
                across = "same bottleneck" if pairs == "same" else "different bottlenecks"
                specs.append(
                    TableSpec(
                        key=f"reconstruction_{'l2dec' if l2 else 'plain'}_{pairs}_{scaling}",
                        title=f"{name}: autoencoder stitching, {decoder}, pairs of {across}, {scaling} scaling",
                        task="reconstruction",
                        decoder="ae",
                        scaling=scaling,
                        decoder_l2=l2,
                        pairs=pairs,
                        paper_table=paper,
                    )
                )
    return sorted(specs, key=lambda s: (s.paper_table is None, s.paper_table or 0))


def build_tables(results: pd.DataFrame, *, anchors: Any = None, ddof: int = 1) -> list[ReportTable]:
    """Every table of :func:`table_specs`, aggregated (see :func:`build_table`)."""
    results = validate_results(results)
    return [build_table(results, spec, anchors=anchors, ddof=ddof) for spec in table_specs(results)]
