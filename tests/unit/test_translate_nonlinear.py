"""The nonlinear translators (irp, kernel, mlp; beyond the paper): known transforms, oracles,
determinism, the nonlinear path of Translator, save/load."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import ortho_group
from sklearn.kernel_ridge import KernelRidge

from latentstitch.translate import METHODS, SCALINGS, Translator, fit_translators, transform_many
from latentstitch.translate.irp import InverseRelativeProjection
from latentstitch.translate.kernel import KERNEL_GRID, RBFKernelRidge, fit_kernel_ridge, loo_errors, median_gamma
from latentstitch.translate.mlp import ResidualMLP

NONLINEAR = ("irp", "kernel", "mlp")


def _rng(seed):
    return np.random.default_rng(seed)


def _cos(a, b):
    return (a * b).sum(1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))


# ---- irp ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("d2", [12, 20])
def test_irp_recovers_rotation_with_per_sample_norms(d2):
    rng = _rng(0)
    d1 = 12
    x = rng.normal(size=(300, d1)) * rng.uniform(0.2, 5, size=(300, 1))
    # an isometry into d2 dims (an orthogonal matrix when d2 == d1), then every sample's norm
    # set to 3: a per-sample rescaling that the target's norm statistic can undo
    q = ortho_group.rvs(d2, random_state=1)[:d1]
    y = 3.0 * (x @ q) / np.linalg.norm(x, axis=1, keepdims=True)
    anchors, test = slice(0, 100), slice(100, 300)
    t = Translator("irp", "none").fit(x[anchors], y[anchors])
    assert isinstance(t.map_, InverseRelativeProjection)
    np.testing.assert_allclose(t.transform(x[test]), y[test], atol=1e-10)
    # arbitrary per-sample norms: every direction is still exact, the norm is the anchors' mean
    s = rng.uniform(0.5, 2.0, size=(300, 1))
    y_free = s * (x @ q)
    out = Translator("irp", "none").fit(x[anchors], y_free[anchors]).transform(x[test])
    np.testing.assert_allclose(_cos(out, y_free[test]), 1.0, atol=1e-12)
    np.testing.assert_allclose(np.linalg.norm(out, axis=1), np.linalg.norm(y_free[anchors], axis=1).mean(), rtol=1e-12)


def test_irp_steps_match_the_paper_recipe():
    # relative projection -> least-squares inversion -> rescale, done literally
    rng = _rng(1)
    x, y = rng.normal(size=(50, 6)), rng.normal(size=(50, 4))
    probe = rng.normal(size=(7, 6))
    a = x / np.linalg.norm(x, axis=1, keepdims=True)
    b = y / np.linalg.norm(y, axis=1, keepdims=True)
    rel = (probe / np.linalg.norm(probe, axis=1, keepdims=True)) @ a.T  # cosines to the anchors
    u = np.linalg.lstsq(b, rel.T, rcond=None)[0].T
    want = np.linalg.norm(y, axis=1).mean() * u / np.linalg.norm(u, axis=1, keepdims=True)
    np.testing.assert_allclose(Translator("irp", "none").fit(x, y).transform(probe), want, rtol=1e-10, atol=1e-12)


# ---- kernel ------------------------------------------------------------------------------------


@pytest.fixture
def regression():
    rng = _rng(2)
    x = rng.normal(size=(80, 5))
    y = np.sin(x @ rng.normal(size=(5, 3))) + 0.05 * rng.normal(size=(80, 3)) + 2.0
    return x, y, rng.normal(size=(30, 5))


@pytest.mark.parametrize("alpha, gamma", [(0.1, 0.05), (1e-3, 0.3), (10.0, 1.0)])
def test_kernel_equals_sklearn_kernel_ridge(regression, alpha, gamma):
    x, y, probe = regression
    (fitted,) = fit_kernel_ridge(
        torch.from_numpy(x), [torch.from_numpy(y)], gamma=gamma, alphas=torch.tensor([alpha], dtype=torch.float64)
    )
    ours = fitted(torch.from_numpy(probe)).numpy()
    ym = y.mean(0)
    want = KernelRidge(alpha=alpha, kernel="rbf", gamma=gamma).fit(x, y - ym).predict(probe) + ym
    np.testing.assert_allclose(ours, want, rtol=1e-8, atol=1e-10)


def test_kernel_translator_is_kernel_ridge_at_its_penalty_and_median_bandwidth(regression):
    x, y, probe = regression
    t = Translator("kernel", "none").fit(x, y)
    assert isinstance(t.map_, RBFKernelRidge)
    gamma = float(t.map_.state()["gamma"])
    sq = ((x[:, None] - x[None]) ** 2).sum(-1)[np.triu_indices(len(x), 1)]
    assert gamma == pytest.approx(1 / (2 * np.median(sq)), rel=1e-12)
    assert median_gamma(torch.from_numpy(x)) == pytest.approx(gamma, rel=1e-12)
    ym = y.mean(0)
    want = KernelRidge(alpha=t.alpha_, kernel="rbf", gamma=gamma).fit(x, y - ym).predict(probe) + ym
    np.testing.assert_allclose(t.transform(probe), want, rtol=1e-7, atol=1e-9)


def _explicit_loo(x, y, grid):
    # leave-one-out by refitting without each point, the definition (O(n^4): small n only)
    gamma = median_gamma(torch.from_numpy(x))
    k = np.exp(-gamma * ((x[:, None] - x[None]) ** 2).sum(-1))
    yc = y - y.mean(0)
    errors = []
    for a in grid:
        h = k @ np.linalg.inv(k + a * np.eye(len(x)))
        # the LOO shortcut is exact for the centered problem: residual / (1 - h_ii)
        errors.append((((yc - h @ yc) / (1 - np.diag(h))[:, None]) ** 2).sum())
    return np.array(errors)


def test_kernel_penalty_minimizes_leave_one_out(regression):
    x, y, _ = regression
    gamma = median_gamma(torch.from_numpy(x))
    k = np.exp(-gamma * ((x[:, None] - x[None]) ** 2).sum(-1))
    grid = KERNEL_GRID.numpy()[::4] * np.linalg.eigvalsh(k)[-1]
    want = _explicit_loo(x, y, grid)
    # the shortcut itself, against refitting without one point
    a, i = grid[5], 7
    keep = np.arange(len(x)) != i
    ym = y[keep].mean(0)
    refit = KernelRidge(alpha=a, kernel="rbf", gamma=gamma).fit(x[keep], y[keep] - ym)
    h = k @ np.linalg.inv(k + a * np.eye(len(x)))
    yc = y - y.mean(0)
    direct = y[i] - ym - refit.predict(x[i : i + 1])[0]
    np.testing.assert_allclose(((yc - h @ yc) / (1 - np.diag(h))[:, None])[i], direct, rtol=0.05)
    (fitted,) = fit_kernel_ridge(torch.from_numpy(x), [torch.from_numpy(y)], alphas=torch.from_numpy(grid))
    assert fitted.alpha == pytest.approx(grid[int(np.argmin(want))], rel=1e-12)
    ev, u = np.linalg.eigh(k)
    shrink = grid[:, None] / (np.clip(ev, 0, None)[None] + grid[:, None])
    ours = loo_errors(torch.from_numpy(u), torch.from_numpy(shrink), torch.from_numpy(u.T @ yc)).numpy()
    np.testing.assert_allclose(ours, want, rtol=1e-6)


def test_kernel_sketched_loo_picks_a_near_optimal_penalty():
    # 200 outputs > LOO_SKETCH: the sketched choice is within 2% of the exact minimum
    rng = _rng(13)
    x = rng.normal(size=(120, 6))
    y = np.tanh(x @ rng.normal(size=(6, 200))) + 0.3 * rng.normal(size=(120, 200))
    gamma = median_gamma(torch.from_numpy(x))
    k = np.exp(-gamma * ((x[:, None] - x[None]) ** 2).sum(-1))
    grid = KERNEL_GRID.numpy() * np.linalg.eigvalsh(k)[-1]
    exact = _explicit_loo(x, y, grid)
    (fitted,) = fit_kernel_ridge(torch.from_numpy(x), [torch.from_numpy(y)])
    chosen = exact[int(np.argmin(np.abs(grid - fitted.alpha)))]
    assert chosen <= 1.02 * exact.min()


def test_kernel_beats_linear_on_a_nonlinear_pair(regression):
    rng = _rng(3)
    x = rng.normal(size=(400, 5))
    w = rng.normal(size=(5, 3))
    y = np.sin(x @ w) + 0.05 * rng.normal(size=(400, 3))
    train, test = slice(0, 300), slice(300, 400)

    def err(method):
        return np.mean((Translator(method, "none").fit(x[train], y[train]).transform(x[test]) - y[test]) ** 2)

    # kernel.py's docstring quotes these numbers: kernel 0.18, ridge 0.32 (GCV's penalty: 1.16)
    assert err("kernel") < 0.6 * err("ridge")


# ---- mlp ---------------------------------------------------------------------------------------


def test_mlp_is_deterministic_for_a_seed():
    rng = _rng(4)
    x = rng.normal(size=(200, 8)).astype(np.float32)
    y = np.tanh(2 * x @ rng.normal(size=(8, 5))).astype(np.float32)  # something for the branch to learn
    probe = rng.normal(size=(10, 8)).astype(np.float32)

    def fit(seed):
        return Translator("mlp", seed=seed).fit(x, y)

    a, b, c = fit(0), fit(0), fit(1)
    assert isinstance(a.map_, ResidualMLP)
    assert np.array_equal(a.transform(probe), b.transform(probe))
    for k, v in a.map_.state().items():
        assert torch.equal(v, b.map_.state()[k]), k
    assert not np.array_equal(a.transform(probe), c.transform(probe))


def test_mlp_beats_ridge_on_a_nonlinear_pair():
    rng = _rng(5)
    x = rng.normal(size=(1000, 6))
    y = np.tanh(2 * x @ rng.normal(size=(6, 4))) + 0.02 * rng.normal(size=(1000, 4))
    train, test = slice(0, 800), slice(800, 1000)

    def err(method):
        return np.mean((Translator(method, "none").fit(x[train], y[train]).transform(x[test]) - y[test]) ** 2)

    assert err("mlp") < 0.8 * err("ridge")


def test_mlp_early_stopping_keeps_ridge_when_there_is_nothing_to_learn():
    # y is exactly linear in x: ridge on the training split is already the best held-out fit
    rng = _rng(6)
    x = rng.normal(size=(50, 4))
    y = x @ rng.normal(size=(4, 3))
    t = Translator("mlp", "none").fit(x, y)
    np.testing.assert_allclose(t.transform(x), y, atol=1e-4)


# ---- the nonlinear path of Translator -----------------------------------------------------------


@pytest.mark.parametrize("method", NONLINEAR)
def test_nonlinear_has_no_coef_and_says_why(method):
    rng = _rng(7)
    t = Translator(method).fit(rng.normal(size=(30, 5)), rng.normal(size=(30, 4)))
    assert not t.is_linear and Translator("ortho").is_linear
    for name in ("coef_", "offset_", "matrix_", "bias_"):
        with pytest.raises(AttributeError, match=rf"method '{method}' is nonlinear: it has no {name}.*transform"):
            getattr(t, name)
    assert not hasattr(t, "coef_")
    with pytest.raises(AttributeError, match="no attribute 'nonsense_'"):
        _ = t.nonsense_
    assert t.n_features_in_ == 5 and t.n_features_out_ == 4


@pytest.mark.parametrize("method", NONLINEAR)
@pytest.mark.parametrize("scaling", list(SCALINGS))
def test_nonlinear_chain_is_scaling_map_inverse_scaling(method, scaling):
    rng = _rng(8)
    x, y = rng.normal(size=(40, 6)) * 3 + 1, rng.normal(size=(40, 5)) - 2
    probe = rng.normal(size=(9, 6))
    t = Translator(method, scaling).fit(x, y)
    xs = t.scaling_x_.transform(torch.from_numpy(probe))
    want = t.scaling_y_.inverse_transform(t.map_(xs)).numpy()
    np.testing.assert_allclose(t.transform(probe), want, rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(t.apply(t.prepare(probe)), t.transform(probe))


@pytest.mark.parametrize("method", NONLINEAR)
def test_fit_translators_equals_separate_fits(method):
    rng = _rng(9)
    x = rng.normal(size=(40, 6))
    ys = [rng.normal(size=(40, 3)), rng.normal(size=(40, 7))]
    probe = rng.normal(size=(5, 6))
    many = fit_translators(x, ys, method, "standard", seed=2)
    for t, y, out in zip(many, ys, transform_many(many, probe)):
        alone = Translator(method, "standard", seed=2).fit(x, y)
        np.testing.assert_allclose(t.transform(probe), alone.transform(probe), rtol=1e-6, atol=1e-8)
        np.testing.assert_array_equal(out, t.transform(probe))


@pytest.mark.parametrize("method", NONLINEAR)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_nonlinear_torch_in_torch_out_and_differentiable(method, dtype):
    rng = _rng(10)
    x = torch.from_numpy(rng.normal(size=(30, 6))).to(dtype)
    t = Translator(method).fit(x, torch.from_numpy(rng.normal(size=(30, 4))))
    probe = x[:5].clone().requires_grad_()
    out = t.transform(probe)
    assert isinstance(out, torch.Tensor) and out.dtype == dtype and out.shape == (5, 4)
    out.sum().backward()
    assert probe.grad is not None and bool(torch.isfinite(probe.grad).all())


@pytest.mark.parametrize("method", NONLINEAR)
def test_nonlinear_save_load_round_trip(tmp_path, method):
    rng = _rng(11)
    x, y = rng.normal(size=(40, 10)).astype(np.float32), rng.normal(size=(40, 7)).astype(np.float32)
    t = Translator(method, "l2", seed=5).fit(x, y)
    t.save(tmp_path / "t.safetensors")
    loaded = Translator.load(tmp_path / "t.safetensors")
    assert type(loaded.map_) is type(t.map_) and loaded.alpha_ == t.alpha_
    assert loaded.map_.state().keys() == t.map_.state().keys()
    probe = rng.normal(size=(6, 10)).astype(np.float32)
    assert np.array_equal(loaded.transform(probe), t.transform(probe))
    assert METHODS[method].nonlinear is type(t.map_)


def test_kernel_alpha_is_reported():
    rng = _rng(12)
    t = Translator("kernel").fit(rng.normal(size=(30, 4)), rng.normal(size=(30, 2)))
    assert t.alpha_ is not None and math.isfinite(t.alpha_) and t.alpha_ > 0
    assert Translator("irp").fit(rng.normal(size=(30, 4)), rng.normal(size=(30, 2))).alpha_ is None


@pytest.mark.parametrize("method", NONLINEAR)
def test_cli_translates_and_saves_nonlinear_methods(tmp_path, method):
    from latentstitch.cli import main

    rng = _rng(14)
    a, b = rng.normal(size=(60, 8)).astype(np.float32), rng.normal(size=(60, 5)).astype(np.float32)
    x = rng.normal(size=(9, 8)).astype(np.float32)
    for name, arr in {"A": a, "B": b, "X": x}.items():
        np.save(tmp_path / f"{name}.npy", arr)
    args = [
        "translate",
        "--method",
        method,
        "--scaling",
        "standard",
        "--x-anchors",
        str(tmp_path / "A.npy"),
        "--y-anchors",
        str(tmp_path / "B.npy"),
        "--input",
        str(tmp_path / "X.npy"),
        "--output",
        str(tmp_path / "Y.npy"),
        "--save-translator",
        str(tmp_path / "t.safetensors"),
    ]
    assert main(args) == 0
    expected = Translator(method, "standard").fit(a, b).transform(x)
    assert np.array_equal(np.load(tmp_path / "Y.npy"), expected)
    assert np.array_equal(Translator.load(tmp_path / "t.safetensors").transform(x), expected)
