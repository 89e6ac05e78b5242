"""Nonlinear translators in the stitching engine, the pairs' similarity table the stitch stage
writes, and the report's stitchability section built from them."""

import numpy as np
import pandas as pd
import pytest
from scipy.stats import spearmanr

from latentstitch import metrics
from latentstitch.data import sample_anchors
from latentstitch.decoders import SVMHead
from latentstitch.provenance import provenance
from latentstitch.reports.stitchability import correlations, pair_table, stitchability_section, versus_ridge
from latentstitch.similarity import similarities
from latentstitch.stitchability import (
    SimilaritySettings,
    fit_seconds_path,
    pair_similarities,
    similarity_path,
    stitchability_part,
    write_stitchability,
)
from latentstitch.stitching import Decoder, Space, StitchSettings, stitch
from latentstitch.translate import Translator

METHODS = ("ortho", "ridge", "irp", "kernel", "mlp")


@pytest.fixture(scope="module")
def stitched():
    """Four spaces of the same blobs, increasingly distorted; an SVM head on each."""
    rng = np.random.default_rng(0)
    n, d, classes = 500, 10, 4
    centers = rng.normal(scale=3.0, size=(classes, d))
    y = rng.integers(0, classes, size=n)
    x = centers[y] + rng.normal(size=(n, d))
    spaces = [Space("a", x[:380], x[380:])]
    for name, dim, bend in (("b", 10, 0.5), ("c", 8, 2.0), ("d", 6, 4.0)):
        t = np.tanh(x @ rng.normal(size=(d, dim)) / (3 / bend)) + 0.05 * rng.normal(size=(n, dim))
        spaces.append(Space(name, t[:380], t[380:]))
    heads = {s.name: SVMHead().fit(s.train, y[:380]) for s in spaces}
    decoders = [Decoder.head("svm", name, h) for name, h in heads.items()]
    settings = StitchSettings(
        methods=["absolute", *METHODS], scalings=["standard"], anchor_counts=[60, 120], seeds=[0, 1]
    )

    def anchors(count, seed):
        return sample_anchors(y[:380], count, seed)

    table = stitch(spaces, decoders, settings, y_test=y[380:], anchor_indices=anchors)
    return spaces, heads, y, table, anchors


def _value(table, **where):
    rows = table
    for key, value in where.items():
        rows = rows[rows[key] == value]
    assert len(rows) == 1, rows
    return rows["value"].iloc[0]


def test_nonlinear_methods_are_transformed_then_decoded(stitched):
    spaces, heads, y, table, anchors = stitched
    idx = anchors(120, 1)
    for src in spaces:
        for tgt in spaces:
            if src is tgt:
                continue
            for method in ("irp", "kernel", "mlp"):
                t = Translator(method, "standard", seed=1).fit(src.train[idx], tgt.train[idx])
                labels = heads[tgt.name].predict(t.transform(src.test))
                cell = dict(source=src.name, target=tgt.name, method=method, anchors=120, seed=1)
                assert _value(table, metric="accuracy", **cell) == metrics.accuracy(y[380:], labels)
    fits = pd.DataFrame(table.attrs["fit_seconds"])
    # one fit_translators call per (method, anchors, seed, source), each into the 3 other spaces
    assert len(fits) == len(METHODS) * 2 * 2 * 4 and set(fits["translators"]) == {3}
    assert (fits["seconds"] > 0).all()


def test_pair_similarities_on_test_and_anchors(stitched):
    spaces, _, _, _, anchors = stitched
    sims = pair_similarities(spaces, anchors, [60, 120], [0, 1], SimilaritySettings(k=5))
    a, c = spaces[0], spaces[2]
    want = similarities(a.test, c.test, k=5)
    for source, target in (("a", "c"), ("c", "a")):
        got = sims[(sims["source"] == source) & (sims["target"] == target) & (sims["split"] == "test")]
        assert dict(zip(got["measure"], got["value"])) == pytest.approx(want)
    idx = anchors(60, 1)
    got = sims[
        (sims["source"] == "a")
        & (sims["target"] == "c")
        & (sims["split"] == "anchors")
        & (sims["anchors"] == 60)
        & (sims["seed"] == 1)
    ]
    assert dict(zip(got["measure"], got["value"])) == pytest.approx(similarities(a.train[idx], c.train[idx], k=5))
    # 6 unordered pairs, both orders, 5 measures, on the test set and 2 x 2 anchor draws
    assert len(sims) == 6 * 2 * 5 * (1 + 4)
    only = pair_similarities(spaces[:2], anchors, [60, 120], [0, 1], SimilaritySettings(k=5, anchors=(120,)))
    assert set(only.loc[only["split"] == "anchors", "anchors"]) == {120}


def test_similarity_settings_from_config():
    assert SimilaritySettings.from_config(None) == SimilaritySettings()
    assert not SimilaritySettings.from_config(False).enabled
    s = SimilaritySettings.from_config({"k": 5, "keep": 0.9, "measures": ["cka"]})
    assert (s.k, s.keep, s.measures, s.anchors) == (5, 0.9, ("cka",), None)
    assert SimilaritySettings.from_config({"anchors": [120]}).anchors == (120,)
    with pytest.raises(ValueError, match=r"unknown suite.stitch.similarity key\(s\) \['kk'\]; valid: anchors, k"):
        SimilaritySettings.from_config({"kk": 3})
    with pytest.raises(ValueError, match=r"unknown measure\(s\) \['cca'\]"):
        SimilaritySettings.from_config({"measures": ["cca"]})
    with pytest.raises(ValueError, match=r"must be false or a mapping"):
        SimilaritySettings.from_config("yes")


def test_report_section_from_the_stage_files(stitched, tmp_path):
    spaces, _, _, table, anchors = stitched
    stitch_dir, report_dir = tmp_path / "stitch", tmp_path / "report"
    part = stitchability_part(table, spaces, anchors, [60, 120], [0, 1], SimilaritySettings(k=5), task="classification")
    written = write_stitchability(stitch_dir, "blobs", [part], provenance({"suite": "unit"}))
    assert set(written) == {"similarity", "fit_seconds"}
    results = table.assign(task="classification", dataset="blobs")
    text, files = stitchability_section(stitch_dir, ["blobs"], results, {"default": 120}, report_dir)
    assert "### blobs: classification, svm heads, accuracy, 120 anchors" in text
    assert "irp (beyond paper)" in text and "seconds per fit" in text
    assert all((report_dir / f).is_file() for f in files)
    assert (report_dir / "figures/stitchability_blobs_classification_svm.png").read_bytes().startswith(b"\x89PNG")

    pairs = pd.read_csv(report_dir / "tables/stitchability_blobs_classification_svm.csv")
    assert len(pairs) == 12
    # a cell is the mean over seeds of the stitched accuracy at 120 anchors
    rows = results[
        (results["source"] == "b")
        & (results["target"] == "d")
        & (results["method"] == "kernel")
        & (results["anchors"] == 120)
        & (results["metric"] == "accuracy")
    ]
    assert pairs.set_index(["source", "target"]).loc[("b", "d"), "kernel"] == pytest.approx(rows["value"].mean())
    rho = pd.read_csv(report_dir / "tables/stitchability_blobs_classification_svm_spearman.csv", index_col=0)
    assert rho.loc["cka test", "ortho"] == pytest.approx(spearmanr(pairs["cka test"], pairs["ortho"]).statistic)
    assert list(rho.columns) == list(METHODS) and len(rho) == 10  # 5 measures x (anchors, test)
    assert ((rho.abs() <= 1) | rho.isna()).all().all()
    times = pd.read_csv(report_dir / "tables/stitchability_blobs_fit_seconds.csv")
    assert set(times["method"]) == {
        "ortho",
        "ridge",
        "irp (beyond paper)",
        "kernel (beyond paper)",
        "mlp (beyond paper)",
    }
    assert (times["fit calls"] == 2 * 4).all()

    # with the similarity off, the stage removes the table and the section is empty
    write_stitchability(stitch_dir, "blobs", [{"similarity": None, "fit_seconds": None}], {})
    assert not similarity_path(stitch_dir, "blobs").exists() and not fit_seconds_path(stitch_dir, "blobs").exists()
    assert stitchability_section(stitch_dir, ["blobs"], results, None, report_dir) == ("", [])


def test_correlations_and_versus_ridge_on_a_known_table():
    table = pd.DataFrame(
        {
            "source": list("abcd"),
            "target": list("bcda"),
            "cka test": [0.9, 0.8, 0.5, 0.1],
            "ridge": [0.9, 0.7, 0.6, 0.2],
            "kernel": [0.95, 0.6, 0.7, 0.3],
            "mlp": [0.5] * 4,
        }
    )
    rho = correlations(table, ["cka test"], ["ridge", "kernel", "mlp"])
    assert rho.loc["cka test", "ridge"] == pytest.approx(1.0)
    assert rho.loc["cka test", "kernel"] == pytest.approx(0.8)
    assert np.isnan(rho.loc["cka test", "mlp"])  # constant column
    assert np.isnan(correlations(table[:2], ["cka test"], ["ridge"]).loc["cka test", "ridge"])  # 2 pairs
    wins = versus_ridge(table, ["ridge", "kernel", "mlp"]).set_index("method")
    assert wins.loc["kernel", "pairs won"] == "3 / 4"
    assert wins.loc["kernel", "mean difference"] == pytest.approx(0.0375)  # (0.05 - 0.1 + 0.1 + 0.1) / 4
    assert wins.loc["mlp", "pairs won"] == "1 / 4"


def test_pair_table_keeps_pairs_with_both_measures_and_results(stitched):
    spaces, _, _, table, anchors = stitched
    sims = pair_similarities(spaces, anchors, [60], [0], SimilaritySettings(k=5))
    wide, measures, methods = pair_table(table, sims, 60)
    assert methods == ["ortho", "ridge", "irp", "kernel", "mlp"]
    assert measures[:2] == ["cka anchors", "cka_debiased anchors"] and measures[-1] == "mutual_knn test"
    assert len(wide) == 12 and not wide[measures + methods].isna().any().any()


def test_method_grid_runs_a_method_on_part_of_the_grid(stitched):
    spaces, heads, y, _, anchors = stitched
    decoders = [Decoder.head("svm", name, heads[name]) for name in ("a", "b")]
    settings = StitchSettings(
        methods=["ortho", "kernel"],
        scalings=["standard", "l2"],
        anchor_counts=[60, 120],
        seeds=[0, 1],
        method_grid={"kernel": {"anchors": [120], "scalings": ["standard"], "seeds": [1]}},
    )
    table = stitch(spaces[:2], decoders, settings, y_test=y[380:], anchor_indices=anchors)
    runs = table[table["metric"] == "accuracy"].groupby("method")[["anchors", "scaling", "seed"]]
    assert set(map(tuple, runs.get_group("kernel").to_numpy())) == {(120, "standard", 1)}
    assert set(map(tuple, runs.get_group("ortho").to_numpy())) == {
        (a, s, d) for a in (60, 120) for s in ("standard", "l2") for d in (0, 1)
    }
    with pytest.raises(ValueError, match=r"method_grid names 'relative', not a translation method"):
        StitchSettings(method_grid={"relative": {"anchors": [10]}})
    with pytest.raises(
        ValueError, match=r"method_grid\['mlp'\] must be a mapping with keys among anchors, scalings, seeds"
    ):
        StitchSettings(method_grid={"mlp": {"seed": [0]}})


def test_report_section_for_autoencoders_uses_lcos_per_decoder_family(tmp_path):
    # two decoder families of three "autoencoder" spaces each; the latent rows' lcos is the result
    rng = np.random.default_rng(7)
    base = rng.normal(size=(300, 8))
    parts, tables = [], []
    for l2 in (False, True):
        spaces = [
            Space(
                f"ae_b8_s{i}{'_l2' if l2 else ''}",
                *np.split(np.tanh(base @ rng.normal(size=(8, 8)) * (i + 1) / 2), [200]),
            )
            for i in range(3)
        ]
        decoders = [Decoder("ae", s.name, "reconstruction", lambda z: np.clip(z[:, :4], 0, 1)) for s in spaces]
        settings = StitchSettings(methods=["ortho", "ridge", "kernel"], anchor_counts=[50], seeds=[0, 1])

        def anchors(count, seed):
            return np.random.default_rng(seed).permutation(200)[:count]

        table = stitch(spaces, decoders, settings, images_test=np.clip(base[200:, :4], 0, 1), anchor_indices=anchors)
        parts.append(
            stitchability_part(
                table, spaces, anchors, [50], [0, 1], SimilaritySettings(k=5), task="reconstruction", decoder_l2=l2
            )
        )
        tables.append(table.assign(task="reconstruction", decoder_l2=l2))
    write_stitchability(tmp_path / "stitch", "toy", parts, {})
    results = pd.concat(tables, ignore_index=True).assign(dataset="toy")
    text, files = stitchability_section(tmp_path / "stitch", ["toy"], results, None, tmp_path / "report")
    assert "### toy: autoencoders, plain decoders, latent cosine (lcos), 50 anchors" in text
    assert "### toy: autoencoders, L2-input decoders, latent cosine (lcos), 50 anchors" in text
    pairs = pd.read_csv(tmp_path / "report/tables/stitchability_toy_reconstruction_l2dec.csv")
    assert len(pairs) == 6 and set(pairs["source"]) == {f"ae_b8_s{i}_l2" for i in range(3)}
    want = results[
        (results["decoder_l2"])
        & (results["method"] == "kernel")
        & (results["metric"] == "lcos")
        & (results["source"] == "ae_b8_s0_l2")
        & (results["target"] == "ae_b8_s2_l2")
    ]["value"].mean()
    got = pairs.set_index(["source", "target"]).loc[("ae_b8_s0_l2", "ae_b8_s2_l2"), "kernel"]
    assert got == pytest.approx(want)
