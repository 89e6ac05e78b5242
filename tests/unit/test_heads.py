"""SVM / MLP / relative heads on real data (scikit-learn digits as 64-dim "encodings")."""

import numpy as np
import pytest
import torch
from sklearn.datasets import load_digits
from sklearn.exceptions import NotFittedError

from latentstitch.config import load_group_config
from latentstitch.decoders import (
    LinearSVMHead,
    MLPHead,
    RelativeHead,
    SVMHead,
    build_head,
    load_head,
    save_head,
)

CHANCE = 0.1  # 10 balanced classes


@pytest.fixture(scope="module")
def digits():
    data = load_digits()
    x, y = (data.data / 16.0).astype(np.float32), data.target.astype(np.int64)
    order = np.random.default_rng(0).permutation(len(y))
    train, test = order[:1400], order[1400:]
    return x[train], y[train], x[test], y[test]


def tiny_mlp(**kw):
    settings = dict(hidden_dims=(32, 32), max_epochs=15, batch_size=128, patience=3, seed=0, accelerator="cpu")
    return MLPHead(**{**settings, **kw})


@pytest.mark.parametrize("make", [SVMHead, LinearSVMHead, tiny_mlp], ids=["svm", "linear_svm", "mlp"])
def test_head_beats_chance_and_round_trips(make, digits, tmp_path):
    x_train, y_train, x_test, y_test = digits
    head = make().fit(x_train, y_train)
    assert head.score(x_test, y_test) > CHANCE + 0.7
    assert set(head.classes_) == set(range(10))

    loaded = load_head(save_head(head, tmp_path / "head"))
    assert type(loaded) is type(head)
    assert loaded._settings() == head._settings()
    np.testing.assert_array_equal(loaded.predict(x_test), head.predict(x_test))


@pytest.mark.parametrize("make", [SVMHead, LinearSVMHead, tiny_mlp], ids=["svm", "linear_svm", "mlp"])
def test_wrong_dim_names_both_dims(make, digits):
    x_train, y_train, _, _ = digits
    head = make().fit(x_train[:300], y_train[:300])
    with pytest.raises(ValueError, match=r"trained on 64-dim encodings.*\(5, 32\) \(32-dim\)"):
        head.predict(np.zeros((5, 32), dtype=np.float32))


def test_unfitted_and_bad_training_data(digits):
    x_train, y_train, _, _ = digits
    with pytest.raises(NotFittedError, match="not fitted"):
        SVMHead().predict(x_train)
    with pytest.raises(ValueError, match=r"y must have shape \(1400,\)"):
        SVMHead().fit(x_train, y_train[:10])
    with pytest.raises(ValueError, match="at least 2 classes"):
        SVMHead().fit(x_train[:5], np.zeros(5, dtype=np.int64))
    with pytest.raises(ValueError, match="2-D"):
        SVMHead().fit(x_train[0], y_train[:1])


def test_mlp_same_seed_same_weights_and_early_stopping(digits):
    x_train, y_train, _, _ = digits
    a, b = tiny_mlp().fit(x_train, y_train), tiny_mlp().fit(x_train, y_train)
    for (name, wa), wb in zip(a.net_.state_dict().items(), b.net_.state_dict().values()):
        assert torch.equal(wa, wb), name
    c = tiny_mlp(seed=1).fit(x_train, y_train)
    assert not torch.equal(a.net_.state_dict()["layers.0.weight"], c.net_.state_dict()["layers.0.weight"])
    assert 1 <= a.n_epochs_ <= 15 and a.best_val_loss_ is not None
    # Three linear layers with activations between them (paper App. B).
    assert [type(m).__name__ for m in a.net_.layers] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]


@pytest.mark.parametrize("activation", ["tanh", "cos"])
def test_mlp_activations_train(activation, digits):
    x_train, y_train, x_test, y_test = digits
    head = tiny_mlp(activation=activation, max_epochs=10).fit(x_train, y_train)
    assert head.score(x_test, y_test) > CHANCE + 0.5


def test_mlp_probabilities(digits):
    x_train, y_train, x_test, _ = digits
    head = tiny_mlp(max_epochs=2, val_fraction=0.0).fit(x_train, y_train)
    assert head.n_epochs_ == 2 and head.best_val_loss_ is None
    proba = head.predict_proba(x_test)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    np.testing.assert_array_equal(head.classes_[proba.argmax(axis=1)], head.predict(x_test))


@pytest.mark.parametrize("name, cls", [("svm", SVMHead), ("svm_fast", LinearSVMHead), ("mlp", MLPHead)])
def test_head_configs_build(name, cls):
    head = build_head(load_group_config("head", name), seed=3, accelerator="cpu")
    assert type(head) is cls
    if "seed" in head.get_params():
        assert head.seed == 3


def test_build_head_errors():
    with pytest.raises(ValueError, match="unknown head kind 'forest'"):
        build_head({"kind": "forest"})
    with pytest.raises(ValueError, match=r"unknown settings \['gamma'\] for head kind 'svm'"):
        build_head({"kind": "svm", "gamma": 1.0})


def random_isometry(d_in, d_out, seed):
    """(d_in, d_out) with orthonormal rows: preserves every angle, maps to another dim."""
    q, _ = np.linalg.qr(np.random.default_rng(seed).normal(size=(d_out, d_in)))
    return q.T.astype(np.float32)


@pytest.mark.parametrize("make", [SVMHead, lambda: tiny_mlp(lr=1e-2)], ids=["svm", "mlp"])
def test_relative_head_stitches_across_isometries(make, digits, tmp_path):
    x_train, y_train, x_test, y_test = digits
    idx = np.random.default_rng(0).choice(len(x_train), 100, replace=False)
    head = RelativeHead(make()).fit(x_train, y_train, anchors=x_train[idx])
    assert head.score(x_test, y_test) > CHANCE + 0.6
    assert head.transform(x_test).shape == (len(x_test), 100)

    # Another "encoder": an angle-preserving map to 96 dims, rescaled. Its relative
    # representation on its own parallel anchors is the same, so are the predictions.
    other = lambda x: 3.0 * x @ random_isometry(64, 96, seed=1)  # noqa: E731
    np.testing.assert_allclose(
        head.transform(other(x_test), anchors=other(x_train[idx])), head.transform(x_test), atol=1e-5
    )
    relative = head.transform(other(x_test), anchors=other(x_train[idx]))
    np.testing.assert_array_equal(head.predict_relative(relative), head.predict(x_test))
    with pytest.raises(ValueError, match=r"w.r.t. 100 anchors, got relative representations of shape \(397, 64\)"):
        head.predict_relative(x_test)
    with pytest.raises(ValueError, match="trained on 64-dim encodings"):
        head.predict(other(x_test))  # raw encodings of another dim, without their anchors
    with pytest.raises(ValueError, match="w.r.t. 100 anchors, got 50"):
        head.predict(x_test, anchors=x_train[idx[:50]])
    with pytest.raises(ValueError, match="same encoder as the encodings"):
        head.predict(other(x_test), anchors=x_train[idx])

    loaded = load_head(save_head(head, tmp_path / "relative"))
    assert isinstance(loaded, RelativeHead) and type(loaded.head_) is type(head.head_)
    np.testing.assert_array_equal(loaded.anchors_, head.anchors_)
    np.testing.assert_array_equal(loaded.predict(x_test), head.predict(x_test))


def test_relative_head_anchor_dim_checked(digits):
    x_train, y_train, _, _ = digits
    with pytest.raises(ValueError, match=r"x is 64-dim, anchors have shape \(10, 8\)"):
        RelativeHead(SVMHead()).fit(x_train, y_train, anchors=np.ones((10, 8)))
    with pytest.raises(NotFittedError):
        RelativeHead(SVMHead()).predict(x_train)


@pytest.mark.parametrize("n_classes", [2, 3, 6])
def test_svm_primal_predict_equals_libsvm(n_classes):
    """SVMHead.predict (one-vs-one votes from the primal weights) = SVC.predict (kernel sums)."""
    from sklearn.datasets import make_classification

    x, y = make_classification(900, 30, n_informative=10, n_classes=n_classes, random_state=n_classes)
    x = x.astype(np.float32)
    head = SVMHead().fit(x[:500], y[:500])
    far = np.concatenate([x[500:], 50 * x[500:]])  # far from the training data too
    np.testing.assert_array_equal(head.predict(far), head.estimator_.predict(far))
    head.fit(x[:500], (y[:500] + 1) % n_classes)  # a refit is not served a stale cache
    np.testing.assert_array_equal(head.predict(far), head.estimator_.predict(far))


def _float64_primal_labels(head, x):
    """The float64 one-vs-one decode, written out: the reference SVMHead.predict must equal."""
    est = head.estimator_
    decision = x.astype(np.float64) @ est.coef_.T.astype(np.float64) + est.intercept_
    k = len(head.classes_)
    if k == 2:
        return head.classes_[(decision[:, 0] > 0).astype(int)]
    votes = np.zeros((len(x), k), dtype=int)
    for pair, (i, j) in enumerate((p, q) for p in range(k) for q in range(p + 1, k)):
        votes[:, i] += decision[:, pair] > 0
        votes[:, j] += decision[:, pair] <= 0
    return head.classes_[votes.argmax(axis=1)]


@pytest.mark.parametrize("n_classes", [2, 4])
def test_svm_float32_decode_equals_float64_on_the_boundary(n_classes):
    """Points projected onto the decision boundaries (values ~1e-7, where float32 rounding
    decides the sign) get the float64 decode's labels: the doubtful rows are redone in float64."""
    from sklearn.datasets import make_classification

    x, y = make_classification(800, 40, n_informative=12, n_classes=n_classes, random_state=7)
    x = x.astype(np.float32)
    head = SVMHead().fit(x[:400], y[:400])
    est = head.estimator_
    test = x[400:].astype(np.float64)
    on_boundary = []
    for pair in range(len(est.intercept_)):
        c, b = est.coef_[pair], est.intercept_[pair]
        on_boundary.append(test - ((test @ c + b) / (c @ c))[:, None] * c)
    hard = np.concatenate(on_boundary).astype(np.float32)
    margins = np.abs(hard.astype(np.float64) @ est.coef_.T + est.intercept_).min(axis=1)
    assert np.median(margins) < 1e-5  # the test really sits where float32 could flip a sign
    np.testing.assert_array_equal(head.predict(hard), _float64_primal_labels(head, hard))
    np.testing.assert_array_equal(head.predict(x[400:]), _float64_primal_labels(head, x[400:]))
