"""The few-anchor sweep (beyond the paper): settings from config, the sweep's rows, the report section."""

import numpy as np
import pandas as pd
import pytest

from latentstitch.few_anchors import (
    FEW_ANCHOR_COLUMNS,
    FewAnchorSettings,
    few_anchor_sweep,
)
from latentstitch.reports.few_anchors import (
    few_anchors_section,
    fewest_anchors,
    variant_means,
)
from latentstitch.stitching import Space


def _pair(seed=0, n_train=600, n_test=200, d=12):
    """Two spaces related by a rotation, 4 classes as clusters; the decoder is nearest class mean."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(4, d)) * 3
    labels = rng.integers(0, 4, size=n_train + n_test)
    x = centres[labels] + rng.normal(size=(len(labels), d)) * (0.7 ** np.arange(d))
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    y = x @ q
    means = np.stack([y[:n_train][labels[:n_train] == c].mean(0) for c in range(4)])

    def predict(z):
        return np.argmin(((z[:, None, :] - means[None]) ** 2).sum(-1), axis=1)

    source = Space("src", x[:n_train], x[n_train:])
    target = Space("tgt", y[:n_train], y[n_train:])
    return source, target, predict, labels[:n_train], labels[n_train:]


@pytest.mark.slow
def test_sweep_rows_cover_the_grid_and_refine_helps_from_few_anchors():
    source, target, predict, y_train, y_test = _pair()
    settings = FewAnchorSettings(
        pairs=[("src", "tgt")],
        counts=[3, 50],
        seeds=[0, 1],
        methods=["ortho", "ridge"],
        anchor_strategies=["uniform", "kmeans"],
        scaling="none",
    )
    table = few_anchor_sweep(source, target, "nearest-mean", predict, y_train, y_test, settings)
    assert list(table.columns) == FEW_ANCHOR_COLUMNS
    assert len(table) == 2 * 2 * 2 * 2 * 2  # seeds x strategies x counts x methods x refine
    assert set(table["refine"]) == {False, True} and set(table["anchor_strategy"]) == {"uniform", "kmeans"}
    assert table["refine_accepted"].isna().eq(~table["refine"]).all()
    assert (table["source_dim"] == 12).all() and (table["metric"] == "accuracy").all()
    few = table[table["anchors"] == 3]
    plain, refined = few[~few["refine"]]["value"].to_numpy(), few[few["refine"]]["value"].to_numpy()
    assert refined.mean() > plain.mean() + 0.05  # from 3 anchors, the pools recover the rotation in most cells
    kept = (~few[few["refine"]]["refine_accepted"].astype(bool)).to_numpy()
    np.testing.assert_array_equal(refined[kept], plain[kept])  # a refusal returns the start
    again = few_anchor_sweep(source, target, "nearest-mean", predict, y_train, y_test, settings)
    pd.testing.assert_frame_equal(table.drop(columns="seconds"), again.drop(columns="seconds"))


def test_settings_from_config():
    block = {
        "anchors": {"num": [5, 10], "seeds": [3]},
        "methods": ["ortho"],
        "refine_overrides": {"affine": {"iterations": 2}},
        "datasets": {
            "bbc": {"pairs": [["a", "b"]], "methods": ["ortho", "linear"]},
            "fm": {"pairs": [["a", "b"]], "anchors": {"num": [7]}},
        },
    }
    settings = FewAnchorSettings.from_config(block, "bbc")
    assert settings.counts == [5, 10] and settings.methods == ["ortho", "linear"] and settings.pairs == [("a", "b")]
    assert settings.seeds == [3]
    fm = FewAnchorSettings.from_config(block, "fm")
    assert fm.counts == [7] and fm.seeds == [3]  # a dataset's own counts keep the shared seeds
    assert settings.options_for("affine") == {"iterations": 2}
    assert FewAnchorSettings.from_config(block, "other") is None
    with pytest.raises(ValueError, match=r"unknown key\(s\) \['method'\]"):
        FewAnchorSettings.from_config({"datasets": {"bbc": {"pairs": [["a", "b"]], "method": ["x"]}}}, "bbc")
    with pytest.raises(ValueError, match="needs pairs"):
        FewAnchorSettings.from_config({"datasets": {"bbc": {}}}, "bbc")
    with pytest.raises(ValueError, match="unknown"):
        FewAnchorSettings(pairs=[("a", "b")], anchor_strategies=["random"])
    with pytest.raises(ValueError, match="unknown"):
        FewAnchorSettings(pairs=[("a", "b")], methods=["absolute"])


def test_counts_beyond_the_train_split_are_an_error():
    source, target, predict, y_train, y_test = _pair(n_train=100)
    settings = FewAnchorSettings(pairs=[("src", "tgt")], counts=[5, 200])
    with pytest.raises(ValueError, match=r"counts \[200\] exceed the train split of 100"):
        few_anchor_sweep(source, target, "h", predict, y_train, y_test, settings)


@pytest.mark.slow
def test_report_section(tmp_path):
    source, target, predict, y_train, y_test = _pair()
    settings = FewAnchorSettings(
        pairs=[("src", "tgt")],
        counts=[3, 10, 500],
        seeds=[0],
        methods=["ortho", "linear"],
        anchor_strategies=["uniform", "kmeans"],
        scaling="none",
    )
    folder = tmp_path / "few_anchors"
    folder.mkdir()
    few_anchor_sweep(source, target, "h", predict, y_train, y_test, settings).to_csv(folder / "toy.csv", index=False)
    report = tmp_path / "report"
    (report / "figures").mkdir(parents=True)
    text = few_anchors_section(folder, report)
    assert "Beyond the paper" in text and (report / "figures" / "few_anchors_toy.png").stat().st_size > 0
    assert "| toy | ortho |" in text and "n / d" in text
    means = variant_means(pd.read_csv(folder / "toy.csv").assign(dataset="toy"))
    fewest = fewest_anchors(means)
    ortho = fewest[(fewest["method"] == "ortho") & (fewest["anchor_strategy"] == "uniform")]
    assert ortho["reference_anchors"].iloc[0] == 500
    assert few_anchors_section(tmp_path / "absent", report) == ""


def test_plain_only_and_pool():
    source, target, predict, y_train, y_test = _pair(n_train=200, n_test=50)
    settings = FewAnchorSettings(
        pairs=[("src", "tgt")],
        counts=[20],
        methods=["ortho", "linear"],
        anchor_strategies=["uniform"],
        plain_only=["linear"],
        pool=80,
        scaling="none",
    )
    table = few_anchor_sweep(source, target, "h", predict, y_train, y_test, settings)
    assert sorted(zip(table["method"], table["refine"])) == [("linear", False), ("ortho", False), ("ortho", True)]
    assert table[table["refine"]]["refine_pairs"].iloc[0] <= 80
    with pytest.raises(ValueError, match="pool must be an int >= 2"):
        FewAnchorSettings(pairs=[("a", "b")], pool=1)
    with pytest.raises(ValueError, match="unknown method"):
        FewAnchorSettings(pairs=[("a", "b")], plain_only=["relative"])


def test_zero_anchor_rows_and_report(tmp_path):
    """``zero_anchors``: per seed and method, the unsupervised start (anchors 0, strategy
    "none") and its refinement; on a rotated pair of the same points the refined rows score as
    the target's own decoder does. The report shows them in their own table and as levels."""
    source, target, predict, y_train, y_test = _pair(n_train=400, n_test=100)
    settings = FewAnchorSettings(
        pairs=[("src", "tgt")],
        counts=[5],
        seeds=[0],
        methods=["ortho"],
        anchor_strategies=["uniform"],
        scaling="none",
        zero_anchors=["ortho"],
    )
    table = few_anchor_sweep(source, target, "h", predict, y_train, y_test, settings)
    zero = table[table["anchors"] == 0]
    assert len(zero) == 2 and set(zero["anchor_strategy"]) == {"none"} and set(zero["refine"]) == {False, True}
    no_stitch = float(np.mean(predict(target.test) == y_test))
    assert zero[zero["refine"]]["value"].iloc[0] == pytest.approx(no_stitch)
    assert (zero["refine_pairs"] > 0).all()
    folder = tmp_path / "few_anchors"
    folder.mkdir()
    table.to_csv(folder / "toy.csv", index=False)
    report = tmp_path / "report"
    (report / "figures").mkdir(parents=True)
    text = few_anchors_section(folder, report)
    assert "From no parallel anchors at all" in text
    assert f"| toy | ortho | {zero[~zero['refine']]['value'].iloc[0]:.3f} | {no_stitch:.3f} | 5: " in text
    with pytest.raises(ValueError, match="zero_anchors: unknown method"):
        FewAnchorSettings(pairs=[("a", "b")], zero_anchors=["nope"])
    block = {
        "zero_anchor_options": {"iterations": 20},
        "datasets": {"d": {"pairs": [["a", "b"]], "zero_anchors": ["ortho"]}},
    }
    settings = FewAnchorSettings.from_config(block, "d")
    assert settings.zero_anchors == ["ortho"] and settings.zero_anchor_options == {"iterations": 20}
