"""Translator has scikit-learn's manners (issue 14) without importing scikit-learn:
get_params/set_params, clone, a readable repr, pickling, check_is_fitted, and Pipelines."""

import multiprocessing
import pickle

import numpy as np
import pytest
import torch

from latentstitch.translate import NotFittedError, Translator

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402
from sklearn.exceptions import NotFittedError as SkNotFittedError  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.utils.validation import check_is_fitted  # noqa: E402


@pytest.fixture
def anchors():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 8))
    return x, x @ rng.normal(size=(8, 5)), rng.normal(size=(9, 8))


def test_get_and_set_params():
    t = Translator("ridge", "l2", seed=4)
    assert (
        t.get_params()
        == t.get_params(deep=False)
        == {
            "method": "ridge",
            "scaling": "l2",
            "seed": 4,
            "ddof": 1,
            "affine_steps": 300,
            "affine_lr": 1e-3,
            "fit_dtype": None,
        }
    )
    assert t.set_params(method="linear", seed=np.int64(7)) is t
    assert (t.method, t.seed) == ("linear", 7)
    with pytest.raises(ValueError, match=r"invalid parameter\(s\) \['metod'\] for Translator; valid: method, scaling"):
        t.set_params(metod="ortho")
    with pytest.raises(ValueError, match="unknown method 'bogus'"):
        t.set_params(method="bogus", seed=1)
    assert (t.method, t.seed) == ("linear", 7)  # a rejected change leaves the settings as they were


def test_clone_is_unfitted_with_the_same_params(anchors):
    x, y, _ = anchors
    t = Translator("linear", seed=np.int64(3)).fit(x, y)
    c = clone(t)
    assert c is not t and c.get_params() == t.get_params() and not c.__sklearn_is_fitted__()
    np.testing.assert_array_equal(c.fit(x, y).transform(x), t.transform(x))


def test_repr_shows_what_differs_from_the_defaults():
    assert repr(Translator()) == "Translator(method='ortho', scaling='standard')"
    assert repr(Translator("affine", "l2", seed=3, affine_steps=50)) == (
        "Translator(method='affine', scaling='l2', seed=3, affine_steps=50)"
    )
    assert eval(repr(Translator("ridge", ddof=0))).get_params() == Translator("ridge", ddof=0).get_params()


def test_check_is_fitted(anchors):
    x, y, _ = anchors
    t = Translator()
    with pytest.raises(SkNotFittedError):
        check_is_fitted(t)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        t.transform(x)
    check_is_fitted(t.fit(x, y))


def test_pickle_round_trip(anchors, tmp_path):
    x, y, points = anchors
    t = Translator("ridge", "l2").fit(x, y)
    t.transform(torch.from_numpy(points).float())  # fills the per-device cache, which is not pickled
    back = pickle.loads(pickle.dumps(t))
    assert "_on_device" not in t.__getstate__()
    np.testing.assert_array_equal(back.transform(points), t.transform(points))
    assert back.get_params() == t.get_params() and back.alpha_ == t.alpha_
    joblib = pytest.importorskip("joblib")
    joblib.dump(t, tmp_path / "t.joblib")
    np.testing.assert_array_equal(joblib.load(tmp_path / "t.joblib").transform(points), t.transform(points))
    unfitted = pickle.loads(pickle.dumps(Translator("linear")))
    assert not unfitted.__sklearn_is_fitted__()


def _transform_in_child(t, points):
    return t.transform(points)


def test_multiprocessing_sends_a_fitted_translator(anchors):
    x, y, points = anchors
    t = Translator("ortho").fit(x, y)
    with multiprocessing.get_context("fork").Pool(1) as pool:
        out = pool.apply(_transform_in_child, (t, points))
    np.testing.assert_array_equal(out, t.transform(points))


def test_pipeline_with_x_side_preprocessing(anchors):
    # Where a Pipeline makes sense: preprocessing of the source space ending in a Translator,
    # fitted on (x anchors, y anchors); the pipeline's y is the target anchors.
    x, y, points = anchors
    pipe = make_pipeline(PCA(n_components=4), Translator("linear")).fit(x, y)
    pca = PCA(n_components=4).fit(x)
    expected = Translator("linear").fit(pca.transform(x), y).transform(pca.transform(points))
    np.testing.assert_allclose(pipe.transform(points), expected, atol=1e-12)
    np.testing.assert_allclose(Translator("linear").fit_transform(x, y), Translator("linear").fit(x, y).transform(x))


def test_stitching_pipeline_with_frozen_steps(anchors):
    # Stitching: a fitted translator in front of a head trained on y's space.
    frozen = pytest.importorskip("sklearn.frozen")
    x, y, points = anchors
    t = Translator("linear").fit(x, y)
    head = LogisticRegression().fit(y, (y[:, 0] > 0).astype(int))
    stitched = make_pipeline(frozen.FrozenEstimator(t), frozen.FrozenEstimator(head)).fit(points)
    np.testing.assert_array_equal(stitched.predict(points), head.predict(t.transform(points)))
