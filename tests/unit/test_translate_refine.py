"""latentstitch.translate.refine: self-learning from a few anchors plus unpaired pools."""

import warnings

import numpy as np
import pytest
import scipy.stats
import torch

from latentstitch.translate import RefineWarning, Translator, mutual_neighbours, refine


def _rotated(d=16, m=1500, test=500, seed=0, decay=0.6):
    """x with a decaying spectrum (so nearest neighbours are informative), y = x @ Q."""
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(m + test, d)) * decay ** np.arange(d)
    q = scipy.stats.ortho_group.rvs(d, random_state=seed + 1)
    return z, z @ q, q, rng


def _refine_quietly(*args, **kwargs):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = refine(*args, **kwargs)
    return out, [w for w in caught if issubclass(w.category, RefineWarning)]


def test_recovers_rotation_from_five_anchors():
    x, y, q, rng = _rotated()
    anchors = rng.choice(1500, 5, replace=False)
    perm = rng.permutation(1500)  # the pools' correspondence is hidden
    start = Translator("ortho", "none").fit(x[anchors], y[anchors])
    assert np.abs(start.coef_.numpy() - q).max() > 0.5  # 5 anchors in 16-d: far from Q
    out, warned = _refine_quietly(start, x[:1500], y[:1500][perm], iterations=10)
    assert not warned and out.refine_accepted_
    np.testing.assert_allclose(out.coef_.numpy(), q, atol=1e-8)
    np.testing.assert_allclose(out.transform(x[1500:]), y[1500:], atol=1e-8)
    history = out.refine_history_
    assert [h["round"] for h in history] == list(range(1, len(history) + 1))
    assert history[-1]["pairs"] == 1500 and history[-1]["changed"] is False  # stopped early
    assert len(history) < 10 and history[-1]["mean_similarity"] > 0.999


def test_pools_of_different_sizes_and_torch_inputs():
    x, y, q, rng = _rotated()
    anchors = rng.choice(1500, 5, replace=False)
    xt, yt = torch.from_numpy(x), torch.from_numpy(y)
    start = Translator("ortho", "none").fit(xt[anchors], yt[anchors])
    # y's pool: 1,200 of the 1,500 points, shuffled; x's pool: all 1,500.
    out, warned = _refine_quietly(start, xt[:1500], yt[torch.from_numpy(rng.permutation(1500)[:1200])])
    assert not warned
    assert isinstance(out.transform(xt[1500:]), torch.Tensor)
    np.testing.assert_allclose(out.coef_.numpy(), q, atol=1e-6)


def test_keeps_the_given_anchors():
    """Refit on anchors + mined pairs: anchors absent from the pools still shape the result."""
    x, y, _, rng = _rotated()
    anchors = np.arange(1500, 1505)  # from the held-out rows, not in the pools
    start = Translator("ortho", "none").fit(x[anchors], y[anchors])
    seen = []
    original_fit = Translator.fit

    def spy(self, xa, ya):
        seen.append((np.asarray(xa), np.asarray(ya)))
        return original_fit(self, xa, ya)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(Translator, "fit", spy)
        out, _ = _refine_quietly(start, x[:1500], y[:1500][rng.permutation(1500)], guard=False)
    assert seen and out.refine_accepted_
    for xa, ya in seen:
        np.testing.assert_array_equal(xa[:5], x[anchors])
        np.testing.assert_array_equal(ya[:5], y[anchors])
        assert len(xa) == 5 + 1500 or len(xa) < 5 + 1500  # anchors first, then the mined pairs
    # Refining again starts from the given anchors, not from anchors + mined pairs.
    assert out._anchors[0] is start._anchors[0]


def test_deterministic():
    x, y, _, rng = _rotated(seed=3)
    anchors = rng.choice(1500, 8, replace=False)
    pools = x[:1500], y[:1500][rng.permutation(1500)]
    runs = []
    for _ in range(2):
        start = Translator("affine", "standard", seed=7, affine_steps=50).fit(x[anchors], y[anchors])
        out, _ = _refine_quietly(start, *pools, iterations=3)
        runs.append((out.coef_.numpy().copy(), out.refine_history_, out.refine_accepted_))
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    assert runs[0][1:] == runs[1][1:]


def test_unrelated_spaces_return_the_start_with_a_warning():
    x, _, _, rng = _rotated()
    y = np.random.default_rng(99).normal(size=x.shape) * 0.8 ** np.arange(16)
    anchors = rng.choice(1500, 20, replace=False)
    start = Translator("ortho", "standard").fit(x[anchors], y[anchors])
    with pytest.warns(RefineWarning, match="no better than chance"):
        out = refine(start, x[:1500], y[:1500][rng.permutation(1500)])
    assert out is not start and not out.refine_accepted_
    np.testing.assert_array_equal(out.coef_.numpy(), start.coef_.numpy())
    assert out.refine_guard_["refined_z"] < 2.0 and out.refine_history_


@pytest.mark.parametrize("method", ["ortho", "l-ortho", "linear", "ridge", "affine"])
def test_each_method_same_settings_and_never_much_worse(method):
    """Every method refines or, when its refinement does not hold up on held-out anchors,
    returns its start; the result is never much worse than the start on held-out rows."""
    x, y, _, rng = _rotated(seed=5)
    anchors = rng.choice(1500, 12, replace=False)
    settings = {"affine_steps": 100} if method == "affine" else {}
    start = Translator(method, "none", seed=3, **settings).fit(x[anchors], y[anchors])
    out, warned = _refine_quietly(start, x[:1500], y[:1500][rng.permutation(1500)], iterations=4)
    assert out.get_params() == start.get_params() and out is not start
    assert bool(warned) == (not out.refine_accepted_)
    err_start = np.abs(start.transform(x[1500:]) - y[1500:]).mean()
    err_out = np.abs(out.transform(x[1500:]) - y[1500:]).mean()
    assert err_out <= 1.05 * err_start
    if method in ("ortho", "linear", "ridge"):  # these recover y = x @ Q from mined pairs
        assert out.refine_accepted_ and err_out < 1e-2 * err_start  # ridge: up to its penalty


def test_mutual_neighbours_match_a_dense_oracle():
    """Chunked, candidate-pruned CSLS equals the dense computation."""
    rng = np.random.default_rng(4)
    a = torch.nn.functional.normalize(torch.from_numpy(rng.normal(size=(300, 8))), dim=1)
    b = torch.nn.functional.normalize(torch.from_numpy(rng.normal(size=(250, 8))), dim=1)
    for criterion, k in (("csls", 10), ("csls", 3), ("nn", 10)):
        got = mutual_neighbours(a, b, criterion=criterion, k=k, chunk_size=64)
        sim = a @ b.T
        if criterion == "csls":
            r_a = sim.topk(k, dim=1).values.mean(dim=1)
            r_b = sim.topk(k, dim=0).values.mean(dim=0)
            sim = 2 * sim - r_a[:, None] - r_b[None, :]
        fwd, bwd = sim.argmax(dim=1), sim.argmax(dim=0)
        mutual = torch.nonzero(bwd[fwd] == torch.arange(300)).flatten()
        assert sorted(zip(got.x_index.tolist(), got.y_index.tolist())) == sorted(
            zip(mutual.tolist(), fwd[mutual].tolist())
        )
        assert torch.all(got.score[:-1] >= got.score[1:])


def test_threshold_and_max_pairs():
    x, y, _, rng = _rotated()
    anchors = rng.choice(1500, 5, replace=False)
    start = Translator("ortho", "none").fit(x[anchors], y[anchors])
    pools = x[:1500], y[:1500][rng.permutation(1500)]
    out, _ = _refine_quietly(start, *pools, iterations=1, max_pairs=100, guard=False)
    assert out.refine_history_[0]["pairs"] == 100
    out, _ = _refine_quietly(start, *pools, iterations=1, threshold=10.0)  # CSLS <= 2: nothing kept
    assert out.refine_history_[0]["pairs"] == 0 and not out.refine_accepted_


def test_errors():
    x, y, _, _ = _rotated()
    start = Translator("ortho", "none").fit(x[:5], y[:5])
    with pytest.raises(ValueError, match="fitted translator"):
        refine(Translator(), x, y)
    with pytest.raises(ValueError, match="x_pool must have shape"):
        refine(start, x[:, :3], y)
    with pytest.raises(ValueError, match="y_pool must have shape"):
        refine(start, x, y[:, :3])
    with pytest.raises(ValueError, match="unknown criterion 'cos'"):
        refine(start, x, y, criterion="cos")
    with pytest.raises(ValueError, match="iterations must be a positive int"):
        refine(start, x, y, iterations=0)
    with pytest.raises(ValueError, match="unknown ridge_penalty 'loo'; valid: floor, gcv"):
        refine(start, x, y, ridge_penalty="loo")
    with pytest.raises(ValueError, match="NaN or inf"):
        refine(start, np.full_like(x, np.nan), y)
    with pytest.raises(TypeError, match="floating-point"):
        refine(start, x.astype(int), y)
    loaded = Translator("ortho", "none")
    loaded.__dict__.update({k: v for k, v in start.__dict__.items() if k != "_anchors"})
    with pytest.raises(ValueError, match="pass anchors="):
        refine(loaded, x, y)
    out, _ = _refine_quietly(loaded, x[:1500], y[:1500], anchors=(x[:5], y[:5]), iterations=1)
    assert out.refine_history_


def _noisy_linear(n_anchors=20, pool=300, d=24, seed=7):
    """y = x @ A + noise: ridge's penalty matters."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n_anchors + pool, d)) * 0.8 ** np.arange(d)
    y = x @ rng.normal(size=(d, d)) + 0.5 * rng.normal(size=(n_anchors + pool, d))
    return x[:n_anchors], y[:n_anchors], x[n_anchors:], y[n_anchors:]


def test_ridge_penalty_floor_matches_an_oracle():
    """A ridge refit on anchors + mined pairs (``_refit``, default ``"floor"``): GCV's penalty,
    never below the start's. Where GCV over all rows goes below it, the floor holds; the fit
    is ridge with that penalty (oracle: scikit-learn's Ridge in the standardized space)."""
    sklearn_linear = pytest.importorskip("sklearn.linear_model")
    from latentstitch.translate.refine import _refit
    from latentstitch.translate.scaling import StandardScaling

    xa, ya, xm, ym = _noisy_linear()
    # "Mined" pairs that the map explains exactly: GCV over all rows wants almost no penalty.
    ym = xm @ np.linalg.lstsq(xa, ya, rcond=None)[0]
    start = Translator("ridge", "standard").fit(xa, ya)
    fresh = lambda: Translator("ridge", "standard")  # noqa: E731
    xa_t, ya_t, xm_t, ym_t = (torch.from_numpy(a) for a in (xa, ya, xm, ym))
    gcv = _refit(fresh, start, xa_t, ya_t, xm_t, ym_t, "gcv")
    floor = _refit(fresh, start, xa_t, ya_t, xm_t, ym_t, "floor")
    assert gcv.alpha_ < start.alpha_ and floor.alpha_ >= start.alpha_
    assert "_alpha_floor" not in floor.__dict__
    x, y = np.vstack([xa, xm]), np.vstack([ya, ym])
    xs = StandardScaling().fit(torch.from_numpy(x)).transform(torch.from_numpy(x)).numpy()
    ys = StandardScaling().fit(torch.from_numpy(y)).transform(torch.from_numpy(y)).numpy()
    oracle = sklearn_linear.Ridge(alpha=floor.alpha_).fit(xs, ys)
    np.testing.assert_allclose(floor.matrix_.numpy(), oracle.coef_.T, rtol=1e-6, atol=1e-9)
    # Where GCV over all rows wants more than the start's penalty, the floor changes nothing.
    noisy = torch.from_numpy(_noisy_linear()[3])
    gcv = _refit(fresh, start, xa_t, ya_t, xm_t, noisy, "gcv")
    low = Translator("ridge", "standard").fit(xa, ya)
    low.alpha_ = gcv.alpha_ / 10
    assert _refit(fresh, low, xa_t, ya_t, xm_t, noisy, "floor").alpha_ == gcv.alpha_


@pytest.mark.parametrize("penalty", ["floor", "gcv"])
def test_ridge_penalty_modes(penalty):
    """Each mode refines ridge with its settings; the result's next fit chooses its own penalty."""
    xa, ya, xm, ym = _noisy_linear(seed=8)
    rng = np.random.default_rng(0)
    start = Translator("ridge", "standard").fit(xa, ya)
    out, _ = _refine_quietly(start, xm, ym[rng.permutation(len(ym))], iterations=2, ridge_penalty=penalty, guard=False)
    assert out.refine_history_ and out.get_params() == start.get_params()
    if penalty == "floor":
        assert out.alpha_ >= start.alpha_
    assert "_alpha_floor" not in out.__dict__
    refit = Translator("ridge", "standard").fit(xa, ya)
    assert out.fit(xa, ya).alpha_ == refit.alpha_  # no floor left behind


def test_unsupervised_start_recovers_a_rotation_from_no_anchors():
    """Zero anchors: the pools are the same points in two hidden orders, y = x @ Q; the
    similarity signatures pair every point right, and refine keeps Q."""
    from latentstitch.translate.unsupervised import unsupervised_pairs, unsupervised_start

    x, y, q, rng = _rotated(d=12, m=600, test=200)
    perm = rng.permutation(600)
    x_pool, y_pool = x[:600], y[:600][perm]
    xi, yi, score = unsupervised_pairs(x_pool, y_pool)
    assert len(xi) > 500 and np.all(perm[yi.numpy()] == xi.numpy())
    assert torch.all(score[:-1] >= score[1:])
    start = unsupervised_start("ortho", x_pool, y_pool, scaling="none")
    assert start.unsupervised_pairs_ == len(xi)
    np.testing.assert_allclose(start.coef_.numpy(), q, atol=1e-8)
    out, warned = _refine_quietly(start, x_pool, y_pool)
    assert not warned and out.refine_guard_ == {"skipped": "0 anchors: cross-validation needs at least 3"}
    np.testing.assert_allclose(out.transform(x[600:]), y[600:], atol=1e-8)
    # A signed permutation of the features, each rescaled (not an isometry): standardize=True
    # undoes the scales first.
    signed = np.eye(12)[rng.permutation(12)] * rng.choice([-1.0, 1.0], size=12)
    scaled = (x_pool @ signed * np.linspace(0.2, 5.0, 12))[perm]
    xi_s, yi_s, _ = unsupervised_pairs(x_pool, scaled, standardize=True)
    assert len(xi_s) > 500 and np.all(perm[yi_s.numpy()] == xi_s.numpy())
    # Different pool sizes: signatures compared at the same quantiles.
    xi2, yi2, _ = unsupervised_pairs(x_pool, y_pool[:500])
    assert np.mean(perm[:500][yi2.numpy()] == xi2.numpy()) > 0.5


def test_unsupervised_errors():
    from latentstitch.translate.unsupervised import unsupervised_pairs, unsupervised_start

    x, y, _, _ = _rotated(d=8, m=100, test=0)
    with pytest.raises(ValueError, match="sample must be an int >= 2"):
        unsupervised_pairs(x, y, sample=1)
    with pytest.raises(ValueError, match="NaN or inf"):
        unsupervised_pairs(np.full_like(x, np.nan), y)
    with pytest.raises(ValueError, match="unknown method"):
        unsupervised_start("nope", x, y)
