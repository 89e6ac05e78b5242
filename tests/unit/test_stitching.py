"""The stitching engine on a controlled synthetic case with a known answer."""

import numpy as np
import pytest
from scipy.stats import ortho_group
from sklearn.linear_model import LogisticRegression

from latentstitch.data import sample_anchors
from latentstitch.stitching import Decoder, Space, StitchSettings, stitch


def _blobs(rng, n, d, classes):
    centers = rng.normal(scale=3.0, size=(classes, d))
    labels = rng.integers(0, classes, size=n)
    return centers[labels] + rng.normal(size=(n, d)), labels


@pytest.fixture(scope="module")
def rotated_pair():
    """Target = known rotation of the source (+ small noise); a classifier on each space."""
    rng = np.random.default_rng(0)
    d, classes = 16, 4
    x, y = _blobs(rng, 1200, d, classes)
    rotation = ortho_group.rvs(d, random_state=1)
    t = x @ rotation + 0.01 * rng.normal(size=x.shape)
    src = Space("src", x[:1000], x[1000:])
    tgt = Space("tgt", t[:1000], t[1000:])
    heads = {
        name: LogisticRegression(max_iter=1000).fit(space.train, y[:1000])
        for name, space in (("src", src), ("tgt", tgt))
    }
    decoders = [Decoder("logreg", name, "classifier", heads[name].predict) for name in heads]
    return src, tgt, decoders, y[:1000], y[1000:]


def _value(table, **where):
    rows = table
    for key, value in where.items():
        rows = rows[rows[key] == value]
    assert len(rows) == 1, rows
    return rows["value"].iloc[0]


def test_ortho_matches_no_stitch_and_absolute_is_near_chance(rotated_pair):
    src, tgt, decoders, y_train, y_test = rotated_pair
    settings = StitchSettings(
        methods=("absolute", "ortho", "linear"), scalings=("standard", "l2"), anchor_counts=(50,), seeds=(0, 1)
    )
    table = stitch(
        [src, tgt],
        decoders,
        settings,
        y_test=y_test,
        anchor_indices=lambda count, seed: sample_anchors(y_train, count, seed),
    )
    no_stitch = _value(table, source="tgt", target="tgt", method="no-stitch", metric="accuracy")
    assert no_stitch > 0.9
    for seed in (0, 1):
        ortho = _value(
            table,
            source="src",
            target="tgt",
            decoder="logreg",
            method="ortho",
            scaling="standard",
            seed=seed,
            metric="accuracy",
        )
        assert abs(ortho - no_stitch) <= 0.01
        lcos = _value(
            table,
            source="src",
            target="tgt",
            decoder="latent",
            method="ortho",
            scaling="standard",
            seed=seed,
            metric="lcos",
        )
        # per-feature standard scaling is taken in each space's own frame, so the map between
        # standardized spaces is only near-orthogonal: close, not exact
        assert lcos > 0.95
    absolute = _value(table, source="src", target="tgt", decoder="logreg", method="absolute", metric="accuracy")
    assert absolute < 0.6  # 4 balanced classes: chance is 0.25; a rotation scrambles the head
    # every (pair, method, scaling, seed) is present once per metric, both directions
    fitted = table[table.method.isin(["ortho", "linear"]) & (table.decoder == "logreg")]
    assert len(fitted) == 2 * 2 * 2 * 2 * 2  # pairs x methods x scalings x seeds x (acc, f1)


def test_absolute_skipped_when_dims_differ_and_relative_uses_its_own_anchors(rotated_pair):
    src, tgt, decoders, y_train, y_test = rotated_pair
    wide = Space("wide", np.hstack([tgt.train, tgt.train[:, :4]]), np.hstack([tgt.test, tgt.test[:, :4]]))
    idx = sample_anchors(y_train, 40, 0)
    from latentstitch.translate import relative_projection

    rel_head = LogisticRegression(max_iter=1000).fit(relative_projection(wide.train, wide.train[idx]), y_train)
    decoders = [Decoder("logreg", "wide", "classifier", rel_head.predict, relative=True, anchor_key=(40, 0))]
    settings = StitchSettings(methods=("absolute", "relative"), anchor_counts=(40,), seeds=(0,))
    table = stitch(
        [src, wide],
        decoders,
        settings,
        y_test=y_test,
        anchor_indices=lambda count, seed: sample_anchors(y_train, count, seed),
    )
    assert not (table.method == "absolute").any()
    relative = _value(table, source="src", target="wide", method="relative", metric="accuracy")
    assert relative > 0.9  # relative projections of a rotated copy are (almost) identical


def test_stitch_rejects_misaligned_spaces_and_unknown_methods():
    a = Space("a", np.zeros((10, 3)), np.zeros((5, 3)))
    b = Space("b", np.zeros((9, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="same samples"):
        stitch([a, b], [], StitchSettings(), anchor_indices=lambda c, s: np.arange(c))
    with pytest.raises(ValueError, match="unknown method.*valid"):
        StitchSettings(methods=("procrustes",))
    with pytest.raises(ValueError, match="2-D"):
        Space("c", np.zeros(3), np.zeros((2, 3)))


def test_engine_equals_a_per_pair_loop_and_times_its_phases():
    """Fitting each source into all targets at once gives the numbers a per-pair loop of
    Translator fits gives; self-pairs are stitched on request."""
    from latentstitch import metrics
    from latentstitch.translate import Translator

    rng = np.random.default_rng(3)
    x, y = _blobs(rng, 500, 12, 3)
    spaces = [Space("a", x[:400], x[400:])]
    for name, d in (("b", 12), ("c", 7)):
        t = np.tanh(x @ rng.normal(size=(12, d)) / 3)
        spaces.append(Space(name, t[:400], t[400:]))
    heads = {s.name: LogisticRegression(max_iter=500).fit(s.train, y[:400]) for s in spaces}
    decoders = [Decoder("logreg", name, "classifier", h.predict) for name, h in heads.items()]
    settings = StitchSettings(
        methods=["linear", "l-ortho", "ortho", "ridge", "affine"],
        scalings=["standard", "l2"],
        anchor_counts=[50],
        seeds=[0, 1],
        translator_kwargs={"affine_steps": 20},
        self_pairs=True,
    )
    table = stitch(
        spaces,
        decoders,
        settings,
        y_test=y[400:],
        anchor_indices=lambda count, seed: sample_anchors(y[:400], count, seed),
    )
    for seed in (0, 1):
        idx = sample_anchors(y[:400], 50, seed)
        for src in spaces:
            for tgt in spaces:
                for method in settings.methods:
                    for scaling in settings.scalings:
                        z = (
                            Translator(method, scaling, seed=seed, affine_steps=20)
                            .fit(src.train[idx], tgt.train[idx])
                            .transform(src.test)
                        )
                        cell = dict(source=src.name, target=tgt.name, method=method, scaling=scaling, seed=seed)
                        assert _value(table, metric="lcos", **cell) == pytest.approx(
                            metrics.lcos(z, tgt.test), abs=1e-6
                        )
                        assert _value(table, metric="accuracy", **cell) == pytest.approx(
                            metrics.accuracy(y[400:], heads[tgt.name].predict(z)), abs=0.02
                        )
    assert set(table.attrs["seconds"]) >= {"fit", "transform", "latent metrics", "decode"}
    assert all(v >= 0 for v in table.attrs["seconds"].values())


def test_linear_heads_are_composed_with_the_translation_and_latent_rows_use_the_sample():
    """SVM heads decode through prepare(x) @ (coef_ @ weight): the very labels of
    head.predict(translator.transform(x)), without forming the translated test set; for a
    classification dataset lcos and lmse are over the retrieval sample (first q test points),
    for a reconstruction one over the whole test set."""
    from latentstitch import metrics
    from latentstitch.decoders import SVMHead
    from latentstitch.translate import Translator

    rng = np.random.default_rng(4)
    x, y = _blobs(rng, 700, 10, 4)
    spaces = [Space("a", x[:400], x[400:])]
    for name, d in (("b", 10), ("c", 6)):
        t = np.tanh(x @ rng.normal(size=(10, d)) / 3) + 0.05 * rng.normal(size=(700, d))
        spaces.append(Space(name, t[:400].astype(np.float32), t[400:].astype(np.float32)))
    heads = {s.name: SVMHead().fit(s.train, y[:400]) for s in spaces}
    decoders = [Decoder.head("svm", name, h) for name, h in heads.items()]
    assert all(d.readout is not None for d in decoders)
    q = 120
    settings = StitchSettings(
        methods=["absolute", "linear", "ortho", "ridge"],
        scalings=["standard", "l2"],
        anchor_counts=[60],
        seeds=[0],
        retrieval_queries=q,
    )
    table = stitch(
        spaces,
        decoders,
        settings,
        y_test=y[400:],
        anchor_indices=lambda count, seed: sample_anchors(y[:400], count, seed),
    )
    idx = sample_anchors(y[:400], 60, 0)
    for src in spaces:
        for tgt in spaces:
            if src is tgt:
                continue
            for method in ("linear", "ortho", "ridge"):
                for scaling in settings.scalings:
                    z = Translator(method, scaling).fit(src.train[idx], tgt.train[idx]).transform(src.test)
                    labels = heads[tgt.name].predict(z)
                    cell = dict(source=src.name, target=tgt.name, method=method, scaling=scaling)
                    assert _value(table, metric="accuracy", **cell) == metrics.accuracy(y[400:], labels)
                    assert _value(table, metric="macro_f1", **cell) == metrics.macro_f1(y[400:], labels)
                    assert _value(table, metric="lcos", **cell) == pytest.approx(
                        metrics.lcos(z[:q], tgt.test[:q]), abs=1e-6
                    )
                    assert _value(table, metric="lmse", **cell) == pytest.approx(
                        metrics.lmse(z[:q], tgt.test[:q]), rel=1e-5
                    )
    absolute = _value(table, source="a", target="b", decoder="svm", method="absolute", metric="accuracy")
    assert absolute == metrics.accuracy(y[400:], heads["b"].predict(spaces[0].test))

    # reconstruction decoders: lcos over the whole test set
    recon = [Decoder("ae", s.name, "reconstruction", lambda z: np.clip(z[:, :4], 0, 1)) for s in spaces[:2]]
    images = np.clip(spaces[0].test[:, :4], 0, 1)
    table = stitch(
        spaces[:2],
        recon,
        StitchSettings(methods=["linear"], anchor_counts=[60], retrieval_queries=q),
        images_test=images,
        anchor_indices=lambda count, seed: sample_anchors(y[:400], count, seed),
    )
    z = Translator("linear").fit(spaces[0].train[idx], spaces[1].train[idx]).transform(spaces[0].test)
    assert _value(table, source="a", target="b", decoder="latent", metric="lcos") == pytest.approx(
        metrics.lcos(z, spaces[1].test), abs=1e-6
    )
