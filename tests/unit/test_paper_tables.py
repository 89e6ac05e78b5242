"""The transcription of the paper's tables: shape, spot values, and cross-table consistency."""

import pandas as pd
import pytest

from latentstitch.reports.paper import (
    COLUMNS,
    PAPER_TABLES,
    load_paper_table,
    load_paper_values,
)

CLASSIFICATION_TABLES = (1, 2, 5, 6)
RECONSTRUCTION_TABLES = (3, 4, 8)
KEY = ["table", "dataset", "method", "metric"]


@pytest.fixture(scope="module")
def values():
    return load_paper_values()


def _value(values, table, dataset, method, metric):
    row = values[
        (values["table"] == table)
        & (values["dataset"] == dataset)
        & (values["method"] == method)
        & (values["metric"] == metric)
    ]
    assert len(row) == 1, f"expected one row for {(table, dataset, method, metric)}, got {len(row)}"
    return row.iloc[0]


def test_columns_and_one_row_per_printed_value(values):
    assert tuple(values.columns) == COLUMNS
    assert not values.duplicated(KEY).any()
    assert values["mean"].notna().all()


def test_counts_per_table(values):
    # Classification: 9 datasets x 7 columns. Reconstruction: 4 datasets x 3 metrics x rows,
    # 5 rows in Tables 3 and 4 (absolute, affine, linear, l-ortho, ortho), 4 in Table 8 (no absolute).
    expected = {1: 63, 2: 63, 3: 60, 4: 60, 5: 63, 6: 63, 8: 48}
    assert values.groupby("table").size().to_dict() == expected
    assert set(values["table"]) == set(PAPER_TABLES)
    for table, count in expected.items():
        assert len(load_paper_table(table)) == count


def test_settings_columns(values):
    cls = values[values["table"].isin(CLASSIFICATION_TABLES)]
    rec = values[values["table"].isin(RECONSTRUCTION_TABLES)]
    assert set(cls["metric"]) == {"accuracy"}
    assert set(rec["metric"]) == {"lcos", "lmse", "rmse"}
    assert cls["std"].notna().all() and rec["std"].isna().all()
    assert values.groupby("table")["head"].unique().map(list).to_dict() == {
        1: ["svm"],
        2: ["svm"],
        3: ["ae"],
        4: ["ae"],
        5: ["mlp"],
        6: ["mlp"],
        8: ["ae"],
    }
    assert values.groupby("table")["scaling"].unique().map(list).to_dict() == {
        1: ["standard"],
        2: ["l2"],
        3: ["standard"],
        4: ["standard"],
        5: ["standard"],
        6: ["l2"],
        8: ["standard"],
    }
    assert set(values.loc[values["decoder_l2"], "table"]) == {4}
    anchors = values.groupby("table")["anchors"].unique().map(list).to_dict()
    assert anchors[3] == [1000] and anchors[8] == [500]
    assert all(pd.isna(anchors[t][0]) and len(anchors[t]) == 1 for t in (1, 2, 4, 5, 6))
    assert set(load_paper_table(8)["method"]) == {"affine", "linear", "l-ortho", "ortho"}


def test_metrics_in_range(values):
    acc = values.loc[values["metric"] == "accuracy", "mean"]
    assert acc.between(0, 1).all()
    lcos = values.loc[values["metric"] == "lcos", "mean"]
    assert lcos.between(-1, 1).all()
    assert (values.loc[values["metric"].isin(["lmse", "rmse"]), "mean"] >= 0).all()


@pytest.mark.parametrize(
    ("table", "dataset", "method", "metric", "mean", "std"),
    [
        (1, "cifar10", "ortho", "accuracy", 0.93, 0.04),
        (1, "imdb", "no-stitch", "accuracy", 0.61, 0.04),
        (2, "trec", "linear", "accuracy", 0.44, 0.20),
        (5, "cifar100_fine", "relative", "accuracy", 0.13, 0.09),
        (6, "dbpedia", "ortho", "accuracy", 0.49, 0.15),
        (3, "fashion_mnist", "affine", "lcos", 0.94, None),
        (3, "cifar100", "absolute", "lmse", 0.53, None),
        (4, "mnist", "l-ortho", "lcos", 0.89, None),
        (4, "mnist", "ortho", "lcos", 0.97, None),
        (4, "cifar100", "l-ortho", "rmse", 0.08, None),
        (4, "cifar100", "ortho", "rmse", 0.07, None),
        (8, "cifar100", "linear", "lmse", 0.52, None),
        (8, "fashion_mnist", "linear", "lmse", 1.10, None),
    ],
)
def test_spot_values_against_paper(values, table, dataset, method, metric, mean, std):
    row = _value(values, table, dataset, method, metric)
    assert row["mean"] == mean
    if std is None:
        assert pd.isna(row["std"])
    else:
        assert row["std"] == std


@pytest.mark.parametrize(("svm_or_mlp_standard", "same_head_l2"), [(1, 2), (5, 6)])
def test_scaling_independent_columns_match_across_tables(values, svm_or_mlp_standard, same_head_l2):
    # The paper prints no-stitch, absolute and relative identically in the standard-scaling and
    # L2 tables of the same head; a mismatch here is a transcription slip.
    cols = ["dataset", "method", "mean", "std"]
    shared = values["method"].isin(["no-stitch", "absolute", "relative"])
    a = values[shared & (values["table"] == svm_or_mlp_standard)][cols].reset_index(drop=True)
    b = values[shared & (values["table"] == same_head_l2)][cols].reset_index(drop=True)
    assert len(a) == 27
    pd.testing.assert_frame_equal(a, b)


def test_load_paper_table_rejects_bad_tables():
    with pytest.raises(ValueError, match=r"no transcribed paper table 7; available: \[1, 2, 3"):
        load_paper_table(7)
    with pytest.raises(TypeError, match=r"table must be an int, got str '1'"):
        load_paper_table("1")


def test_load_paper_values_reports_missing_or_foreign_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="paper values CSV not found"):
        load_paper_values(tmp_path / "absent.csv")
    foreign = tmp_path / "foreign.csv"
    foreign.write_text("table,value\n1,0.5\n")
    with pytest.raises(ValueError, match=r"columns \['table', 'value'\]; expected"):
        load_paper_values(foreign)
