"""Report tables, the comparison with the paper and the figures, on synthetic stitch results."""

import itertools

import numpy as np
import pandas as pd
import pytest

from latentstitch.reports import figures
from latentstitch.reports.compare import compare_with_paper, method_rankings, paper_dataset, ranking
from latentstitch.reports.markdown import latex_table, markdown_table
from latentstitch.reports.paper import load_paper_values
from latentstitch.reports.tables import (
    TableSpec,
    anchor_setting,
    bottleneck,
    build_table,
    build_tables,
    format_cell,
    load_stitch_results,
    main_anchors,
    validate_results,
)

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
METHODS = ("affine", "linear", "l-ortho", "ortho", "ridge")
ENCODERS = {"e0": 8, "e1": 8, "e2": 4}  # e2's dim differs: no absolute rows with it
AUTOENCODERS = {False: ["ae_b8_s0", "ae_b8_s1", "ae_b4_s0", "ae_b4_s1"], True: ["ae_b8_s0_l2", "ae_b8_s1_l2"]}


def synthetic_results(seed=0, counts=(10, 20), seeds=(0, 1)):
    """Stitch-stage rows with random values: two classification datasets (svm heads, every
    method, both scalings), and autoencoders of two bottlenecks (plain) and one (L2 input)."""
    rng = np.random.default_rng(seed)
    rows = []

    def add(dataset, task, source, target, decoder, method, scaling, anchors, s, metric, low, high, l2=None):
        row = dict(
            source=source,
            target=target,
            decoder=decoder,
            method=method,
            scaling=scaling,
            anchors=anchors,
            seed=s,
            metric=metric,
            value=rng.uniform(low, high),
            task=task,
            dataset=dataset,
            suite="unit",
            git_revision="abc123",
            config_hash="cafe",
        )
        if l2 is not None:
            row["decoder_l2"] = l2
        rows.append(row)

    for dataset in ("fashion_mnist_offline", "bbc_news"):
        for e in ENCODERS:
            add(dataset, "classification", e, e, "svm", "no-stitch", "none", 0, 0, "accuracy", 0.8, 0.9)
        for s, t in itertools.permutations(ENCODERS, 2):
            if ENCODERS[s] == ENCODERS[t]:
                add(dataset, "classification", s, t, "svm", "absolute", "none", 0, 0, "accuracy", 0.1, 0.2)
                add(dataset, "classification", s, t, "latent", "absolute", "none", 0, 0, "lcos", 0.0, 0.1)
            for a, sd in itertools.product(counts, seeds):
                add(dataset, "classification", s, t, "svm", "relative", "none", a, sd, "accuracy", 0.4, 0.6)
                for scaling, method in itertools.product(("standard", "l2"), METHODS):
                    add(dataset, "classification", s, t, "svm", method, scaling, a, sd, "accuracy", 0.6, 0.9)
                    add(dataset, "classification", s, t, "latent", method, scaling, a, sd, "lcos", 0.6, 0.9)
    for l2, ids in AUTOENCODERS.items():
        args = ("fashion_mnist_offline", "reconstruction")
        for e in ids:
            add(*args, e, e, "ae", "no-stitch", "none", 0, 0, "rmse", 0.0, 0.01, l2)
        for s, t in itertools.permutations(ids, 2):
            if bottleneck(s) == bottleneck(t):
                add(*args, s, t, "ae", "absolute", "none", 0, 0, "rmse", 0.2, 0.3, l2)
                add(*args, s, t, "latent", "absolute", "none", 0, 0, "lcos", 0.1, 0.3, l2)
                add(*args, s, t, "latent", "absolute", "none", 0, 0, "lmse", 0.1, 0.3, l2)
            for a, sd, scaling, method in itertools.product(counts, seeds, ("standard", "l2"), METHODS):
                add(*args, s, t, "ae", method, scaling, a, sd, "rmse", 0.02, 0.05, l2)
                add(*args, s, t, "latent", method, scaling, a, sd, "lcos", 0.8, 0.95, l2)
                add(*args, s, t, "latent", method, scaling, a, sd, "lmse", 0.05, 0.1, l2)
    return pd.DataFrame(rows)


@pytest.fixture(scope="module")
def results():
    return validate_results(synthetic_results())


@pytest.fixture(scope="module")
def tables(results):
    return {t.spec.key: t for t in build_tables(results)}


@pytest.fixture(scope="module")
def paper():
    return load_paper_values()


def _cell(table, dataset, method, metric="accuracy"):
    cells = table.cells
    row = cells[(cells["dataset"] == dataset) & (cells["method"] == method) & (cells["metric"] == metric)]
    assert len(row) == 1, row
    return row.iloc[0]


def _values(results, **where):
    rows = results
    for key, value in where.items():
        rows = rows[rows[key].isin(value) if isinstance(value, (list, tuple)) else rows[key] == value]
    return rows["value"].to_numpy()


def test_cells_pool_pairs_and_seeds_like_numpy(results, tables):
    table = tables["classification_svm_standard"]
    # ortho: 6 ordered pairs x 2 seeds at the largest anchor count (the default), sample std
    x = _values(
        results,
        dataset="fashion_mnist_offline",
        decoder="svm",
        method="ortho",
        scaling="standard",
        anchors=20,
        metric="accuracy",
    )
    assert len(x) == 12
    cell = _cell(table, "fashion_mnist_offline", "ortho")
    assert (cell["n"], cell["anchors"]) == (12, 20)
    np.testing.assert_allclose([cell["mean"], cell["std"]], [x.mean(), x.std(ddof=1)], rtol=1e-12)
    # no-stitch pools each head on its own encoder; absolute only the equal-dim pairs
    own = _values(results, dataset="fashion_mnist_offline", decoder="svm", method="no-stitch")
    cell = _cell(table, "fashion_mnist_offline", "no-stitch")
    assert (cell["n"], cell["anchors"]) == (3, 0)
    np.testing.assert_allclose([cell["mean"], cell["std"]], [own.mean(), own.std(ddof=1)], rtol=1e-12)
    assert _cell(table, "fashion_mnist_offline", "absolute")["n"] == 2
    # reconstruction: the latent metric comes from the "latent" rows of same-bottleneck pairs
    same = results[
        (results["task"] == "reconstruction")
        & (results["decoder"] == "latent")
        & ~results["decoder_l2"]
        & (results["method"] == "linear")
        & (results["scaling"] == "standard")
        & (results["anchors"] == 20)
        & (results["metric"] == "lcos")
    ]
    same = same[[bottleneck(s) == bottleneck(t) for s, t in zip(same["source"], same["target"])]]["value"]
    assert len(same) == 8  # 4 same-bottleneck pairs of the 12, x 2 seeds
    cell = _cell(tables["reconstruction_plain_same_standard"], "fashion_mnist_offline", "linear", "lcos")
    np.testing.assert_allclose([cell["mean"], cell["std"]], [same.mean(), same.std(ddof=1)], rtol=1e-12)


def test_ddof_is_a_setting(results):
    spec = TableSpec("k", "t", "classification", "svm", "standard", paper_table=1)
    cell = _cell(build_table(results, spec, ddof=0), "bbc_news", "affine")
    x = _values(results, dataset="bbc_news", decoder="svm", method="affine", scaling="standard", anchors=20)
    np.testing.assert_allclose(cell["std"], x.std(ddof=0), rtol=1e-12)
    with pytest.raises(ValueError, match="ddof"):
        build_table(results, spec, ddof=-1)


def test_paper_layouts(tables):
    assert {key: t.spec.paper_table for key, t in tables.items()} == {
        "classification_svm_standard": 1,
        "classification_svm_l2": 2,
        "reconstruction_plain_same_standard": 3,
        "reconstruction_l2dec_same_standard": 4,
        "reconstruction_plain_cross_standard": 8,
        "reconstruction_plain_same_l2": None,
        "reconstruction_plain_cross_l2": None,
        "reconstruction_l2dec_same_l2": None,
        "retrieval_standard": None,
        "retrieval_l2": None,
    }
    retrieval = tables["retrieval_standard"].layout()
    assert "No Stitching" not in retrieval.index and "ortho" in retrieval.index
    assert {c.rsplit(" ", 1)[1] for c in retrieval.columns} == {"lcos", "retrieval_top1", "retrieval_mrr"}
    layout = tables["classification_svm_standard"].layout()
    assert list(layout.index) == ["fashion_mnist_offline", "bbc_news"]
    assert list(layout.columns) == [
        "anchors",
        "No Stitching",
        "absolute",
        "relative",
        "affine",
        "linear",
        "l-ortho",
        "ortho",
        "ridge",
    ]
    assert layout.loc["bbc_news", "anchors"] == "20"
    assert all(" ± " in v for v in layout.iloc[:, 1:].to_numpy().ravel())
    # the columns that do not depend on scaling are the same in both scaling tables, as printed in the paper
    both = tables["classification_svm_l2"].layout()
    pd.testing.assert_frame_equal(
        layout[["No Stitching", "absolute", "relative"]], both[["No Stitching", "absolute", "relative"]]
    )
    assert not layout["ortho"].equals(both["ortho"])

    table3 = tables["reconstruction_plain_same_standard"].layout()
    assert list(table3.index) == ["No Stitching", "absolute", "affine", "linear", "l-ortho", "ortho", "ridge"]
    assert list(table3.columns) == [f"fashion_mnist_offline {m}" for m in ("lcos", "lmse", "rmse")]
    assert table3.loc["No Stitching", "fashion_mnist_offline lcos"] == "–"  # no-stitch has rmse only
    # Table 8: pairs across bottlenecks, so no absolute row (impossible across dims)
    assert "absolute" not in tables["reconstruction_plain_cross_standard"].layout().index


def test_tidy_csv_carries_settings(tables):
    tidy = tables["reconstruction_l2dec_same_standard"].tidy()
    assert {
        "table",
        "paper_table",
        "decoder_l2",
        "pairs",
        "ddof",
        "dataset",
        "method",
        "metric",
        "anchors",
        "n",
        "mean",
        "std",
    } <= set(tidy.columns)
    assert tidy["decoder_l2"].all() and set(tidy["pairs"]) == {"same"} and set(tidy["paper_table"]) == {4}


def test_anchor_settings(results):
    table1 = TableSpec("classification_svm_standard", "t", "classification", "svm", "standard", paper_table=1)
    table8 = TableSpec(
        "reconstruction_plain_cross_standard", "t", "reconstruction", "ae", "standard", False, "cross", 8
    )
    setting = {"default": 20, "table8": 10, "bbc_news": {"table1": 10}}
    assert anchor_setting(None, "bbc_news", table1) is None
    assert anchor_setting(10, "bbc_news", table1) == 10
    assert anchor_setting(setting, "fashion_mnist_offline", table1) == 20
    assert anchor_setting(setting, "fashion_mnist_offline", table8) == 10
    assert anchor_setting(setting, "bbc_news", table1) == 10
    assert anchor_setting({"fashion_mnist_offline": 10}, "bbc_news", table1) is None
    with pytest.raises(ValueError, match="positive int"):
        anchor_setting({"default": 0}, "bbc_news", table1)
    cells = build_table(results, table1, anchors=setting).cells
    assert dict(cells.groupby("dataset")["anchors"].max()) == {"bbc_news": 10, "fashion_mnist_offline": 20}
    with pytest.raises(ValueError, match=r"asks for 500 anchors.*\[10, 20\]"):
        build_table(results, table1, anchors=500)
    assert main_anchors(results[results["method"] == "no-stitch"], None, "x") is None


def test_comparison_joins_the_same_paper_cell(tables, paper):
    comparison = compare_with_paper(list(tables.values()), paper, {"fashion_mnist_offline": "fashion_mnist"})
    ortho = comparison[(comparison["table"] == "classification_svm_standard") & (comparison["method"] == "ortho")]
    assert len(ortho) == 1
    row = ortho.iloc[0]
    assert (row["paper_table"], row["paper_dataset"], row["paper_mean"], row["paper_std"]) == (
        1,
        "fashion_mnist",
        0.85,
        0.02,
    )
    ours = _cell(tables["classification_svm_standard"], "fashion_mnist_offline", "ortho")
    assert row["ours_mean"] == ours["mean"] and row["difference"] == pytest.approx(ours["mean"] - 0.85)
    # the L2 table compares with Table 2, the autoencoder tables with Tables 3, 4 and 8
    l2 = comparison[(comparison["paper_table"] == 2) & (comparison["method"] == "linear")].iloc[0]
    assert (l2["paper_mean"], l2["paper_std"]) == (0.65, 0.23)
    t3 = comparison[
        (comparison["paper_table"] == 3) & (comparison["method"] == "absolute") & (comparison["metric"] == "lcos")
    ]
    assert t3["paper_mean"].tolist() == [0.17] and t3["paper_anchors"].tolist() == [1000]
    assert set(comparison["paper_table"]) == {1, 2, 3, 4, 8}
    # bbc_news is not in the paper; ridge and no-stitch reconstruction are not printed there
    assert "bbc_news" not in set(comparison["dataset"])
    assert "ridge" not in set(comparison["method"])
    assert not ((comparison["paper_table"] == 8) & (comparison["method"] == "absolute")).any()
    assert len(comparison[comparison["paper_table"] == 1]) == 7  # every paper column of F-MNIST


def test_paper_dataset_mapping(paper):
    assert paper_dataset("cifar100_fine", 1, paper) == "cifar100_fine"
    assert paper_dataset("cifar100_fine", 3, paper) == "cifar100"
    assert paper_dataset("dbpedia_14", 1, paper) == "dbpedia"
    assert paper_dataset("trec", 3, paper) is None
    assert paper_dataset("mnist_5k", 5, paper, {"mnist_5k": "mnist"}) == "mnist"
    assert paper_dataset("bbc_news", 1, paper) is None
    with pytest.raises(ValueError, match="fmnist.*paper's datasets"):
        paper_dataset("x", 1, paper, {"x": "fmnist"})


def test_rankings(tables, paper):
    assert ranking({"a": 0.91, "b": 0.854, "c": 0.851, "d": 0.95}, higher_is_better=True) == "d > a > b = c"
    assert ranking({"a": 0.02, "b": 0.05}, higher_is_better=False) == "a > b"
    rankings = method_rankings(list(tables.values()), paper, {"fashion_mnist_offline": "fashion_mnist"})
    row = rankings[(rankings["paper_table"] == 1)].iloc[0]
    # Table 1, F-MNIST: affine 0.86, ortho 0.85, linear 0.83, l-ortho 0.82
    assert row["paper"] == "affine > ortho > linear > l-ortho"
    assert set(row["ours_all_methods"].replace("=", ">").split(" > ")) == {*METHODS}
    assert set(rankings["paper_table"]) == {1, 2, 3, 4, 8}
    assert set(rankings.loc[rankings["paper_table"] == 3, "metric"]) == {"lcos", "lmse", "rmse"}


def test_rankings_agree_when_ours_equal_the_papers(results, paper):
    """An oracle: results set to the paper's Table 1 F-MNIST values rank identically (tau 1)."""
    printed = paper[(paper["table"] == 1) & (paper["dataset"] == "fashion_mnist")].set_index("method")["mean"]
    rows = results[(results["dataset"] == "fashion_mnist_offline") & (results["decoder"] == "svm")].copy()
    rows["value"] = rows["method"].map(printed).fillna(0.5)
    spec = TableSpec("classification_svm_standard", "t", "classification", "svm", "standard", paper_table=1)
    rankings = method_rankings([build_table(rows, spec)], paper, {"fashion_mnist_offline": "fashion_mnist"})
    assert rankings["ours"].iloc[0] == rankings["paper"].iloc[0]
    assert rankings["kendall_tau"].iloc[0] == pytest.approx(1.0)


def test_results_are_validated(tmp_path):
    frame = synthetic_results()
    with pytest.raises(ValueError, match="lack columns.*task"):
        validate_results(frame.drop(columns="task"))
    with pytest.raises(ValueError, match="unknown method.*procrustes"):
        validate_results(frame.assign(method="procrustes"))
    with pytest.raises(ValueError, match="recorded more than once"):
        validate_results(pd.concat([frame, frame.iloc[:1]]))
    with pytest.raises(ValueError, match="non-numeric"):
        validate_results(frame.assign(value="n/a"))
    path = tmp_path / "digits.csv"
    frame.to_csv(path, index=False)
    loaded = load_stitch_results([path])
    assert loaded["decoder_l2"].dtype == bool and len(loaded) == len(frame)
    with pytest.raises(FileNotFoundError, match="run the stitch stage"):
        load_stitch_results([tmp_path / "missing.csv"])


def test_bottleneck_parses_the_autoencoder_stage_ids():
    from latentstitch.layout import autoencoder_id

    for b, s, l2 in ((500, 0, False), (250, 12, True)):
        assert bottleneck(autoencoder_id(b, s, l2)) == b
    with pytest.raises(ValueError, match="not an autoencoder id"):
        bottleneck("minilm_l6")


def test_cell_format():
    assert format_cell(0.8531, 0.0123) == "0.853 ± 0.012"
    assert format_cell(0.8531, float("nan")) == "0.853"  # one value, ddof=1: no std
    assert format_cell(2.5e-5, 0.0) == "2.5e-05 ± 0.000"  # too small for 3 decimals
    assert format_cell(float("nan"), float("nan")) == "–"


def test_markdown_and_latex_rendering():
    frame = pd.DataFrame(
        {"a|b": ["x_1", "0.5 ± 0.1"], "n": [1, float("nan")]}, index=pd.Index(["r1", "r2"], name="row")
    )
    md = markdown_table(frame)
    assert md.splitlines()[0] == "| row | a\\|b | n |" and md.splitlines()[1] == "| --- | --- | --- |"
    assert "| r2 | 0.5 ± 0.1 | – |" in md
    tex = latex_table(frame, "cap_tion")
    assert r"\caption{cap\_tion}" in tex and r"0.5 $\pm$ 0.1" in tex and r"x\_1" in tex


def _is_png(path):
    data = path.read_bytes()
    return data.startswith(PNG_SIGNATURE) and len(data) > 1000


def test_figures_are_written(tmp_path, results):
    rows = results[(results["dataset"] == "bbc_news") & (results["decoder"] == "svm")]
    cells = figures.sweep_cells(rows, ddof=1)
    assert set(cells["anchors"]) == {0, 10, 20}
    assert _is_png(figures.plot_anchor_sweep(cells, tmp_path / "sweep.png", title="t", ylabel="accuracy"))

    matrix = figures.heatmap_matrix(rows, method="ortho", scaling="standard", anchors=20)
    assert list(matrix.index) == list(matrix.columns) == ["e0", "e1", "e2"]
    own = rows[rows["method"] == "no-stitch"].set_index("source")["value"]
    np.testing.assert_allclose(np.diag(matrix.to_numpy()), own.loc[list(matrix.index)].to_numpy())
    pair = _values(rows, source="e2", target="e0", method="ortho", scaling="standard", anchors=20)
    assert matrix.loc["e2", "e0"] == pytest.approx(pair.mean())
    assert _is_png(figures.plot_heatmap(matrix, tmp_path / "heatmap.png", title="t"))
    with pytest.raises(ValueError, match="no ortho results"):
        figures.heatmap_matrix(rows, method="ortho", scaling="standard", anchors=500)

    rng = np.random.default_rng(0)
    grid = {"original": rng.uniform(size=(4, 8, 8)), "ortho": rng.uniform(size=(4, 8, 8))}
    assert _is_png(figures.plot_reconstruction_grid(grid, tmp_path / "grid.png", title="t"))
    with pytest.raises(ValueError, match="same number and shape of images"):
        figures.plot_reconstruction_grid(
            {"a": grid["original"], "b": grid["ortho"][:2]}, tmp_path / "bad.png", title="t"
        )
    norms = {"e0": rng.normal(10, 1, 200), "e2": rng.normal(0.1, 0.01, 200)}
    assert _is_png(figures.plot_norm_distributions(norms, tmp_path / "norms.png", title="t"))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["grid.png", "heatmap.png", "norms.png", "sweep.png"]
