"""latentstitch.translate in the SciPy manner: exact recovery, oracles, noise, round trips."""

import numpy as np
import pytest
import scipy.linalg
import scipy.stats
import torch
from sklearn.linear_model import Ridge

from latentstitch.translate import (
    METHODS,
    SCALINGS,
    L2Scaling,
    NoScaling,
    StandardScaling,
    Translator,
    affine_sgd,
    closest_orthogonal,
    fit_translators,
    l_ortho,
    lstsq,
    procrustes,
    relative_projection,
    ridge,
    transform_many,
    zero_pad,
)
from latentstitch.translate.functional import _affine_adam_many


def _rng(seed=0):
    return np.random.default_rng(seed)


def _orthogonal(d, seed=1):
    return scipy.stats.ortho_group.rvs(d, random_state=seed)


# ---- exact recovery -------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["ortho", "l-ortho", "linear"])
@pytest.mark.parametrize("d1,d2", [(24, 24), (16, 24), (24, 16)])
def test_recovers_orthogonal_map_exactly(method, d1, d2):
    """Noise-free anchors related by an orthogonal map (through zero padding when dims differ)."""
    rng, q = _rng(), _orthogonal(max(d1, d2))
    z = rng.normal(size=(300, min(d1, d2)))
    if d1 <= d2:  # y = pad(x) @ Q
        x, y = z, zero_pad(z, d2) @ q
    else:  # x = pad(y) @ Q.T, so pad(y) = x @ Q
        x, y = zero_pad(z, d1) @ q.T, z
    t = Translator(method, "none").fit(x[:200], y[:200])
    np.testing.assert_allclose(t.transform(x[200:]), y[200:], atol=1e-5)


def test_ortho_recovers_with_float32_anchors():
    rng, q = _rng(2), _orthogonal(32, seed=3)
    x = rng.normal(size=(400, 32)).astype(np.float32)
    y = (x.astype(np.float64) @ q).astype(np.float32)
    out = Translator("ortho", "none").fit(x, y).transform(x)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, y, atol=1e-4)


def _standardize(a, ddof=1):
    return (a - a.mean(0)) / a.std(0, ddof=ddof)


@pytest.mark.parametrize("d1,d2", [(20, 20), (12, 20), (20, 12)])
def test_ortho_matches_scipy_on_preprocessed_data(d1, d2):
    rng = _rng(4)
    x, y = rng.normal(size=(150, d1)) * 3 + 1, rng.normal(size=(150, d2)) * 0.5 - 2
    t = Translator("ortho", "standard").fit(x, y)
    d = max(d1, d2)
    r, _ = scipy.linalg.orthogonal_procrustes(zero_pad(_standardize(x), d), zero_pad(_standardize(y), d))
    np.testing.assert_allclose(t.matrix_.numpy(), r[:d1, :d2], atol=1e-10)
    expected = _standardize(x) @ r[:d1, :d2] * y.std(0, ddof=1) + y.mean(0)
    np.testing.assert_allclose(t.transform(x), expected, atol=1e-10)


def test_procrustes_function_matches_scipy_and_checks_shapes():
    rng = _rng(5)
    a, b = rng.normal(size=(30, 6)), rng.normal(size=(30, 6))
    np.testing.assert_allclose(procrustes(a, b), scipy.linalg.orthogonal_procrustes(a, b)[0], atol=1e-12)
    with pytest.raises(ValueError, match=r"same shape.*\(30, 6\).*\(30, 5\)"):
        procrustes(a, b[:, :5])


# ---- least squares, l-ortho, affine, ridge -------------------------------------------------------


@pytest.mark.parametrize("n,d1,d2", [(80, 20, 10), (15, 40, 12), (40, 40, 40)])
def test_lstsq_matches_numpy_minimum_norm(n, d1, d2):
    rng = _rng(6)
    x, y = rng.normal(size=(n, d1)), rng.normal(size=(n, d2))
    expected = np.linalg.lstsq(x, y, rcond=None)[0]
    np.testing.assert_allclose(lstsq(x, y), expected, atol=1e-9)
    t = Translator("linear", "none").fit(x, y)
    np.testing.assert_allclose(t.matrix_.numpy(), expected, atol=1e-9)


def test_lstsq_rank_deficient_gives_minimum_norm():
    rng = _rng(7)
    base = rng.normal(size=(50, 6))
    x = np.hstack([base, base[:, :3]])  # repeated columns: rank 6 of 9
    y = rng.normal(size=(50, 4))
    np.testing.assert_allclose(lstsq(x, y), np.linalg.lstsq(x, y, rcond=None)[0], atol=1e-9)


@pytest.mark.parametrize("d1,d2", [(20, 20), (12, 20), (20, 12)])
def test_l_ortho_is_orthogonal_and_closest_to_lstsq(d1, d2):
    rng = _rng(8)
    x, y = rng.normal(size=(100, d1)), rng.normal(size=(100, d2))
    q = Translator("l-ortho", "none").fit(x, y).matrix_.numpy()
    small = min(d1, d2)
    gram = q.T @ q if d1 >= d2 else q @ q.T
    np.testing.assert_allclose(gram, np.eye(small), atol=1e-10)
    if d1 == d2:
        u, _, vh = np.linalg.svd(np.linalg.lstsq(x, y, rcond=None)[0])
        np.testing.assert_allclose(q, u @ vh, atol=1e-9)
        np.testing.assert_allclose(l_ortho(x, y), u @ vh, atol=1e-9)
    np.testing.assert_allclose(closest_orthogonal(q), q, atol=1e-10)


def test_affine_recovers_known_affine_map():
    rng = _rng(9)
    a, b = rng.normal(size=(6, 4)), rng.normal(size=4)
    x = rng.normal(size=(300, 6))
    y = x @ a + b
    t = Translator("affine", "none", affine_steps=3000, affine_lr=1e-2).fit(x, y)
    np.testing.assert_allclose(t.matrix_.numpy(), a, atol=1e-3)
    np.testing.assert_allclose(t.bias_.numpy(), b, atol=1e-3)
    r, bias = affine_sgd(torch.from_numpy(x), torch.from_numpy(y), steps=3000, lr=1e-2)
    assert isinstance(r, torch.Tensor) and r.shape == (6, 4)
    np.testing.assert_allclose(bias.numpy(), b, atol=1e-3)


def test_affine_runs_under_inference_mode():
    rng = _rng(10)
    x, y = torch.from_numpy(rng.normal(size=(40, 5))), torch.from_numpy(rng.normal(size=(40, 3)))
    with torch.inference_mode():
        out = Translator("affine", affine_steps=5).fit(x, y).transform(x)
    assert out.shape == (40, 3)


def _noisy_regression(seed, n=70, d1=60, d2=30, noise=1.0):
    rng = _rng(seed)
    a = rng.normal(size=(d1, d2)) / np.sqrt(d1)
    x = rng.normal(size=(n + 500, d1))
    y = x @ a + noise * rng.normal(size=(n + 500, d2))
    return x[:n], y[:n], x[n:], x[n:] @ a


@pytest.mark.parametrize("seed", range(5))
def test_ridge_beats_linear_on_held_out_points_under_noise(seed):
    x, y, x_test, y_test = _noisy_regression(seed)
    err = {
        m: np.mean((Translator(m, "standard").fit(x, y).transform(x_test) - y_test) ** 2) for m in ("ridge", "linear")
    }
    assert err["ridge"] <= err["linear"]


def test_ridge_solution_and_gcv_choice_match_oracles():
    x, y, _, _ = _noisy_regression(0, n=50, d1=20, d2=5)
    alphas = np.logspace(-3, 3, 25)
    r, b, alpha = ridge(x, y, alphas=alphas)

    def gcv(a):  # explicit hat matrix with an unpenalized intercept
        z = np.hstack([np.ones((len(x), 1)), x])
        pen = np.diag([0.0] + [a] * x.shape[1])
        h = z @ np.linalg.solve(z.T @ z + pen, z.T)
        resid = y - h @ y
        return len(x) * (resid**2).sum() / (len(x) - np.trace(h)) ** 2

    assert alpha == pytest.approx(alphas[np.argmin([gcv(a) for a in alphas])])
    oracle = Ridge(alpha=alpha, fit_intercept=True, solver="svd").fit(x, y)
    np.testing.assert_allclose(r, oracle.coef_.T, atol=1e-8)
    np.testing.assert_allclose(b, oracle.intercept_, atol=1e-8)


def test_ridge_with_fewer_anchors_than_dims():
    x, y, x_test, y_test = _noisy_regression(1, n=30, d1=60)
    t = Translator("ridge").fit(x, y)
    assert np.isfinite(t.alpha_) and t.alpha_ > 0
    assert np.isfinite(t.transform(x_test)).all()


# ---- scalings and padding ----------------------------------------------------------------------


@pytest.mark.parametrize("cls", [StandardScaling, NoScaling])
def test_scalings_invert_exactly(cls):
    a = torch.from_numpy(_rng(11).normal(size=(40, 7)) * 5 + 3)
    s = cls().fit(a)
    torch.testing.assert_close(s.inverse_transform(s.transform(a)), a, rtol=0, atol=1e-12)


def test_l2_scaling_normalizes_and_restores_common_scale():
    rng = _rng(12)
    directions = rng.normal(size=(20, 7))
    unit = directions / np.linalg.norm(directions, axis=1, keepdims=True)
    a = torch.from_numpy(np.vstack([unit, -unit]) * 2.5 + 4.0)  # mean 4, every row 2.5 from it
    s = L2Scaling().fit(a)
    z = s.transform(a)
    torch.testing.assert_close(z.norm(dim=1), torch.ones(40, dtype=torch.float64))
    torch.testing.assert_close(s.inverse_transform(z), a, rtol=0, atol=1e-12)


def test_standard_scaling_ddof_and_constant_features():
    a = _rng(13).normal(size=(30, 4))
    a[:, 2] = 7.0
    for ddof in (0, 1):
        s = StandardScaling(ddof=ddof).fit(torch.from_numpy(a))
        z = s.transform(torch.from_numpy(a)).numpy()
        assert np.isfinite(z).all() and np.all(z[:, 2] == 0)
        np.testing.assert_allclose(z[:, [0, 1, 3]], _standardize(a[:, [0, 1, 3]], ddof), atol=1e-12)
    t = Translator("linear", "standard").fit(a, a)  # a constant target feature comes back constant
    np.testing.assert_allclose(t.transform(a)[:, 2], 7.0, atol=1e-12)


def test_zero_pad():
    x = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(zero_pad(x, 5), [[0, 1, 2, 0, 0], [3, 4, 5, 0, 0]])
    np.testing.assert_array_equal(zero_pad(x, 3), x)
    with pytest.raises(ValueError, match="at most 2 columns"):
        zero_pad(x, 2)


@pytest.mark.parametrize("scaling", list(SCALINGS))
@pytest.mark.parametrize("method", ["ortho", "ridge"])
@pytest.mark.parametrize("d1,d2", [(9, 14), (14, 9)])
def test_folded_transform_equals_step_by_step_composition(scaling, method, d1, d2):
    rng = _rng(14)
    x, y = rng.normal(size=(60, d1)) * 2 + 1, rng.normal(size=(60, d2)) - 3
    t = Translator(method, scaling).fit(x, y)
    xt = torch.from_numpy(rng.normal(size=(25, d1)) * 2 + 1)
    z = t.scaling_x_.transform(xt) @ t.matrix_ + t.bias_  # padding is folded into matrix_
    expected = t.scaling_y_.inverse_transform(z)
    torch.testing.assert_close(t.transform(xt), expected, rtol=0, atol=1e-10)


# ---- determinism, persistence, dtypes --------------------------------------------------------------


def test_same_seed_same_bits_other_seed_other_bits():
    rng = _rng(15)
    x, y = rng.normal(size=(50, 8)).astype(np.float32), rng.normal(size=(50, 6)).astype(np.float32)

    def fit(seed):
        return Translator("affine", seed=seed, affine_steps=20).fit(x, y).transform(x)

    assert np.array_equal(fit(0), fit(0))
    assert not np.array_equal(fit(0), fit(1))
    for method in METHODS:
        if method not in ("affine", "absolute"):
            a = Translator(method).fit(x, y).transform(x)
            assert np.array_equal(a, Translator(method).fit(x, y).transform(x))


@pytest.mark.parametrize("method", [m for m in METHODS if m != "absolute"])
@pytest.mark.parametrize("scaling", list(SCALINGS))
def test_save_load_round_trip_is_identical(tmp_path, method, scaling):
    rng = _rng(16)
    x, y = rng.normal(size=(40, 10)).astype(np.float32), rng.normal(size=(40, 7)).astype(np.float32)
    t = Translator(method, scaling, seed=3, affine_steps=10).fit(x, y)
    t.save(tmp_path / "t.safetensors")
    loaded = Translator.load(tmp_path / "t.safetensors")
    assert loaded.get_params() == t.get_params() and loaded.alpha_ == t.alpha_
    probe = rng.normal(size=(5, 10)).astype(np.float32)
    assert np.array_equal(loaded.transform(probe), t.transform(probe))
    assert np.array_equal(loaded.transform(probe.astype(np.float64)), t.transform(probe.astype(np.float64)))


def test_absolute_is_identity_without_scaling():
    x = _rng(17).normal(size=(20, 5))
    np.testing.assert_allclose(Translator("absolute", "none").fit(x, 2 * x).transform(x), x, atol=0)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_torch_in_torch_out_same_dtype(dtype):
    rng = _rng(18)
    x, y = torch.from_numpy(rng.normal(size=(30, 6))).to(dtype), torch.from_numpy(rng.normal(size=(30, 4)))
    for method in ("ortho", "ridge"):
        out = Translator(method).fit(x, y).transform(x)
        assert isinstance(out, torch.Tensor) and out.dtype == dtype and out.device == x.device
    out = Translator("ortho").fit(x, y).transform(x.numpy())
    assert isinstance(out, np.ndarray) and out.dtype == x.numpy().dtype


def test_anchors_requiring_grad_and_a_differentiable_transform(tmp_path):
    rng = _rng(21)
    x = torch.from_numpy(rng.normal(size=(30, 6))).requires_grad_()
    t = Translator("ridge").fit(x, torch.from_numpy(rng.normal(size=(30, 4))))
    t.save(tmp_path / "t.safetensors")  # learned state holds no autograd graph
    out = t.transform(x)
    out.sum().backward()  # the translation is differentiable in its input
    jacobian = t.matrix_ / t.scaling_x_.scale_[:, None] * t.scaling_y_.inverse_scale_  # (d1, d2)
    torch.testing.assert_close(x.grad, jacobian.sum(dim=1).expand(30, 6))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_in_cuda_out_matches_cpu():
    rng = _rng(19)
    x = torch.from_numpy(rng.normal(size=(64, 12))).float()
    y = torch.from_numpy(rng.normal(size=(64, 9))).float()
    for method in ("ortho", "linear", "l-ortho", "ridge"):
        cpu = Translator(method).fit(x, y).transform(x)
        gpu = Translator(method).fit(x.cuda(), y.cuda()).transform(x.cuda())
        assert gpu.device.type == "cuda" and gpu.dtype == torch.float32
        torch.testing.assert_close(gpu.cpu(), cpu, atol=1e-4, rtol=1e-4)


def test_relative_projection_is_cosine_to_anchors():
    rng = _rng(20)
    x, anchors = rng.normal(size=(7, 5)), rng.normal(size=(3, 5))
    expected = (x / np.linalg.norm(x, axis=1, keepdims=True)) @ (
        anchors / np.linalg.norm(anchors, axis=1, keepdims=True)
    ).T
    np.testing.assert_allclose(relative_projection(x, anchors), expected, atol=1e-12)
    out = relative_projection(torch.from_numpy(x).float(), torch.from_numpy(anchors))
    assert out.dtype == torch.float32 and out.shape == (7, 3)
    with pytest.raises(ValueError, match=r"same space.*\(7, 5\).*\(3, 4\)"):
        relative_projection(x, anchors[:, :4])


# ---- fitting one source into many targets ------------------------------------------------------


@pytest.mark.parametrize("method", ["absolute", "linear", "l-ortho", "ortho", "ridge", "affine"])
@pytest.mark.parametrize("scaling", ["standard", "l2"])
def test_fit_translators_equals_one_fit_per_target(method, scaling):
    rng = np.random.default_rng(7)
    x = rng.normal(size=(60, 12))
    dims = [12] if method == "absolute" else [12, 5, 20, 12]  # smaller, larger and equal dims
    ys = [x @ rng.normal(size=(12, d)) + 0.1 * rng.normal(size=(60, d)) for d in dims]
    test = rng.normal(size=(15, 12))
    many = fit_translators(x, ys, method, scaling, seed=3, affine_steps=40)
    for y, t in zip(ys, many):
        one = Translator(method, scaling, seed=3, affine_steps=40).fit(x, y)
        np.testing.assert_allclose(t.transform(test), one.transform(test), rtol=1e-7, atol=1e-8)
        assert t.alpha_ == one.alpha_


def test_fit_translators_float32_matches_within_rounding():
    rng = np.random.default_rng(8)
    x = rng.normal(size=(200, 32)).astype(np.float32)
    ys = [(x @ rng.normal(size=(32, d))).astype(np.float32) for d in (32, 16)]
    for method in ("linear", "l-ortho", "ortho"):
        for y, t in zip(ys, fit_translators(x, ys, method)):
            one = Translator(method).fit(x, y)
            np.testing.assert_allclose(t.transform(x), one.transform(x), atol=1e-4)


@pytest.mark.parametrize("scaling", ["standard", "l2", "none"])
def test_transform_many_equals_each_transform(scaling, tmp_path):
    """One check and one scaling of x serve every translator of the same source; outputs are
    the very bits of each translator's own transform, numpy or torch, shared or not (loaded
    translators share nothing)."""
    rng = np.random.default_rng(10)
    x = rng.normal(size=(80, 12)).astype(np.float32)
    ys = [(x @ rng.normal(size=(12, d))).astype(np.float32) for d in (12, 7, 20)]
    many = fit_translators(x, ys, "linear", scaling)
    test = rng.normal(size=(30, 12)).astype(np.float32)
    for t, z in zip(many, transform_many(many, test), strict=True):
        np.testing.assert_array_equal(z, t.transform(test))
    for t, z in zip(many, transform_many(many, torch.from_numpy(test)), strict=True):
        assert isinstance(z, torch.Tensor)
        torch.testing.assert_close(z, t.transform(torch.from_numpy(test)), rtol=0, atol=0)
    loaded = []
    for i, t in enumerate(many):
        t.save(tmp_path / f"{i}.safetensors")
        loaded.append(Translator.load(tmp_path / f"{i}.safetensors"))
    for t, z in zip(many, transform_many(loaded + many[:1], test)):
        np.testing.assert_array_equal(z, t.transform(test))


def test_transform_many_errors():
    rng = np.random.default_rng(11)
    x = rng.normal(size=(40, 6))
    a = Translator("linear").fit(x, x[:, :4])
    b = Translator("linear").fit(x[:, :5], x)
    with pytest.raises(ValueError, match=r"one source dim, got input dims \[5, 6\]"):
        list(transform_many([a, b], x))
    with pytest.raises(ValueError, match=r"x must have shape \(m, 6\)"):
        list(transform_many([a], x[:, :5]))
    bad = x.copy()
    bad[3, 2] = np.nan
    with pytest.raises(ValueError, match="NaN or inf"):
        list(transform_many([a, a], bad))
    with pytest.raises(ValueError, match="not fitted"):
        list(transform_many([a, Translator("linear")], x))
    assert list(transform_many([], x)) == []


def test_fit_translators_names_the_bad_target():
    x = np.ones((10, 4)) + np.arange(40).reshape(10, 4)
    with pytest.raises(ValueError, match=r"y anchors \[1\] must be parallel"):
        fit_translators(x, [x, x[:5]], "linear")
    with pytest.raises(ValueError, match="at least one target"):
        fit_translators(x, [], "linear")


def test_affine_moment_form_equals_data_form():
    """Hand-written Adam on x's moments or on the data takes the same steps as torch's Adam
    through autograd: equal in float64 up to rounding, for several targets at once, each from
    its own init."""
    rng = np.random.default_rng(9)
    for n in (80, 6):  # d1 < 2n: from the moments; d1 >= 2n: from the data
        x = torch.from_numpy(rng.normal(size=(n, 10)))
        ys = [torch.from_numpy(rng.normal(size=(n, d))) for d in (10, 3, 14)]
        many = _affine_adam_many(x, ys, steps=50, lr=1e-2, seed=5)
        for y, (r, b) in zip(ys, many):
            r_ref, b_ref = affine_sgd(x, y, steps=50, lr=1e-2, seed=5)
            torch.testing.assert_close(r, r_ref, rtol=1e-9, atol=1e-10)
            torch.testing.assert_close(b, b_ref, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("scaling", list(SCALINGS))
def test_prepare_apply_and_folded_coef_give_transform(scaling):
    rng = np.random.default_rng(12)
    x, y = rng.normal(size=(60, 7)), rng.normal(size=(60, 5))
    t = Translator("linear", scaling=scaling).fit(x, y)
    test = rng.normal(size=(9, 7))
    prepared = t.prepare(test)
    np.testing.assert_allclose(t.apply(prepared), t.transform(test), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        prepared @ np.asarray(t.coef_) + np.asarray(t.offset_), t.transform(test), rtol=1e-10, atol=1e-12
    )
    with pytest.raises(ValueError, match=r"x_prepared must have shape \(m, 7\)"):
        t.apply(prepared[:, :6])
    prepared[2, 1] = np.inf
    with pytest.raises(ValueError, match="x_prepared.*NaN or inf"):
        t.apply(prepared)
    with pytest.raises(ValueError, match="not fitted"):
        Translator("linear").apply(prepared)
