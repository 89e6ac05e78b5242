"""latentstitch.translate at the edges of float range and on degenerate anchors (issue 14):
the right finite answer, or a ValueError that names the problem; never NaN or a raw
linear-algebra error, and a warning with the effective rank for degenerate anchors."""

import warnings

import numpy as np
import pytest
import torch

from latentstitch.translate import (
    METHODS,
    SCALINGS,
    NotFittedError,
    Translator,
    affine_sgd,
    fit_translators,
    l_ortho,
    lstsq,
    procrustes,
    relative_projection,
    ridge,
)


def _anchors(n=40, d1=6, d2=5, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n, d1)).astype(np.float32)
    y = (x @ rng.normal(size=(d1, d2)) + 1 + 0.05 * rng.normal(size=(n, d2))).astype(np.float32)
    return x, y


def _fit_quietly(t, x, y):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # healthy anchors at any magnitude: no warning either
        return t.fit(x, y)


# Every method but affine-without-scaling is scale-equivariant: fit on (c x, c y) and
# transform c x gives c times the unit-magnitude answer. c is not a power of two, so the
# inputs themselves round differently: agreement to float32 rounding (times conditioning).
EQUIVARIANT = [(m, s) for m in METHODS for s in SCALINGS if not (m == "affine" and s == "none")]


@pytest.mark.parametrize("magnitude", [1e19, 1e30, 3e37])
@pytest.mark.parametrize("method, scaling", EQUIVARIANT)
def test_huge_float32_anchors_give_the_scaled_answer(method, scaling, magnitude):
    x, y = _anchors()
    if method == "absolute":
        y = (2 * x + 1).astype(np.float32)
    reference = Translator(method, scaling).fit(x, y).transform(x)
    big_x, big_y = (x * np.float32(magnitude)).astype(np.float32), (y * np.float32(magnitude)).astype(np.float32)
    out = _fit_quietly(Translator(method, scaling), big_x, big_y).transform(big_x)
    assert out.dtype == np.float32 and np.isfinite(out).all()
    np.testing.assert_allclose(out / magnitude, reference, atol=1e-4 * np.abs(reference).max())


def test_l2_at_1e19_keeps_rows_apart():
    # The reported symptom: every row mapped to the same output (the norm overflowed).
    x, y = _anchors()
    out = Translator("linear", "l2").fit(x * 1e19, y * 1e19).transform(x * np.float32(1e19))
    assert np.unique(out.round(-15), axis=0).shape[0] == len(x)


@pytest.mark.parametrize("method, scaling", EQUIVARIANT)
def test_subnormal_float32_anchors_give_the_scaled_answer(method, scaling):
    x, y = _anchors()
    if method == "absolute":
        y = (2 * x + 1).astype(np.float32)
    tiny = 2.0**-133  # float32 values near 1e-40 are subnormal: about 5 significant digits left
    small_x, small_y = (x * tiny).astype(np.float32), (y * tiny).astype(np.float32)
    assert np.abs(small_x).max() < np.finfo(np.float32).tiny
    reference = Translator(method, scaling).fit(small_x / tiny, small_y / tiny).transform(small_x / tiny)
    out = _fit_quietly(Translator(method, scaling), small_x, small_y).transform(small_x)
    assert np.isfinite(out).all()
    np.testing.assert_allclose(out / tiny, reference, atol=1e-4 * np.abs(reference).max())


@pytest.mark.parametrize("magnitude", [1e19, 1e-40])
def test_affine_without_scaling_at_extreme_magnitudes_equals_float64_adam(magnitude):
    # Adam is not scale-equivariant, so the right answer is Adam itself computed exactly:
    # the float32 fit overflowed (1e19) or underflowed (1e-40); it now solves in float64.
    x, y = _anchors()
    x, y = (x * magnitude).astype(np.float32), (y * magnitude).astype(np.float32)
    t = _fit_quietly(Translator("affine", "none"), x, y)
    r, b = affine_sgd(x.astype(np.float64), y.astype(np.float64))  # autograd + torch.optim.Adam
    np.testing.assert_allclose(t.matrix_.numpy(), r, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(t.bias_.numpy(), b, rtol=1e-9, atol=1e-12)
    assert np.isfinite(t.transform(x)).all()


def test_relative_projection_at_any_magnitude():
    x, _ = _anchors()
    expected = relative_projection(x, x[:7])
    for c in (1e19, 3e37, 1e-40):
        big = (x * np.float32(c)).astype(np.float32)
        np.testing.assert_allclose(relative_projection(big, big[:7]), expected, atol=1e-4 if c < 1 else 1e-6)


def test_pure_functions_at_extreme_magnitudes():
    x, y = _anchors(d2=6)
    for c in (1e19, 3e37 / 6, 1e-40):
        xc, yc = (x * np.float32(c)).astype(np.float32), (y * np.float32(c)).astype(np.float32)
        tol = 1e-3 if c < 1 else 1e-5
        np.testing.assert_allclose(procrustes(xc, yc), procrustes(x, y), atol=tol)
        np.testing.assert_allclose(l_ortho(xc, yc), l_ortho(x, y), atol=tol)
        np.testing.assert_allclose(lstsq(xc, yc), lstsq(x, y), atol=tol)
        r, b, alpha = ridge(xc, yc)
        r0, b0, alpha0 = ridge(x, y)
        np.testing.assert_allclose(r, r0, atol=tol)
        np.testing.assert_allclose(b / c, b0, atol=tol)
        assert alpha / c**2 == pytest.approx(alpha0, rel=1e-3)


def test_pure_function_whose_answer_does_not_fit_the_dtype_is_a_value_error():
    x, y = _anchors()
    with pytest.raises(ValueError, match=r"lstsq gave NaN or inf .* float32 solve"):
        lstsq(x * np.float32(1e-40), y)  # the answer is ~1e40: beyond float32
    with pytest.raises(ValueError, match=r"affine_sgd gave NaN or inf"):
        affine_sgd(x * np.float32(1e30), y * np.float32(1e30))  # squares overflow float32


def test_forced_float32_solve_out_of_range_says_so():
    x, y = _anchors()
    with pytest.raises(
        ValueError,
        match=r"x anchors: max \|value\| \d\.\d+e\+19 after 'none' scaling is outside the range"
        r".*float32 solve.*or leave fit_dtype=None",
    ):
        Translator("ortho", "none", fit_dtype="float32").fit(x * np.float32(1e19), y * np.float32(1e19))


def test_float64_anchors_of_any_magnitude():
    # Standard scaling computes its statistics safely at 1e300 (squares would overflow) and
    # then everything is unit scale; without scaling, products would overflow float64.
    x, y = (a.astype(np.float64) for a in _anchors())
    reference = Translator("linear", "standard").fit(x, y).transform(x)
    for c in (1e300, 1e-300):
        t = _fit_quietly(Translator("linear", "standard"), x * c, y * c)
        np.testing.assert_allclose(t.transform(x * c) / c, reference, atol=1e-9)
    with pytest.raises(
        ValueError, match=r"x anchors: max \|value\| .*e\+300 after 'none' scaling is outside .*float64"
    ):
        Translator("ortho", "none").fit(x * 1e300, y)


def test_non_finite_fit_is_an_error_and_never_a_fitted_model(tmp_path):
    x, y = _anchors()
    t = Translator("affine", "standard", affine_lr=3e38, affine_steps=3)
    with pytest.raises(ValueError, match=r"method 'affine' did not find a finite translation .*NaN or inf"):
        t.fit(x, y)
    with pytest.raises(NotFittedError):
        t.save(tmp_path / "t.safetensors")
    assert not (tmp_path / "t.safetensors").exists()


def test_failed_refit_keeps_the_previous_fit():
    x, y = _anchors()
    t = Translator("affine", "standard", affine_steps=3).fit(x, y)
    before = t.transform(x)
    t.affine_lr = 3e38
    with pytest.raises(ValueError, match="did not find a finite translation"):
        t.fit(x, y)
    np.testing.assert_array_equal(t.transform(x), before)


def test_translation_overflowing_the_input_dtype():
    x, _ = _anchors()
    t = Translator("linear", "none").fit(x, 10 * x)
    with pytest.raises(ValueError, match=r"x: its translation overflows float32 .*pass float64 input"):
        t.transform(np.full((2, 6), 1e38, np.float32))
    out = t.transform(np.full((2, 6), 1e38))  # float64 holds it
    assert np.isfinite(out).all() and out.max() > 1e39
    tiny_to_big = Translator("linear", "none").fit((x * 1e-30).astype(np.float32), (x * 1e10).astype(np.float32))
    with pytest.raises(ValueError, match=r"coefficients \(max \|coef_\| .*e\+40.*overflow x's dtype float32"):
        tiny_to_big.transform(x)
    np.testing.assert_allclose(tiny_to_big.transform(x.astype(np.float64) * 1e-30), x * 1e10, rtol=1e-4)


def test_centering_that_overflows_under_l2():
    x, y = _anchors()
    anchors = (np.float32(2e38) + x * np.float32(1e37)).astype(np.float32)  # mean near 2e38
    t = Translator("linear", "l2").fit(anchors, y)
    with pytest.raises(ValueError, match=r"x: centering on the anchors' mean overflows float32 \(max \|x\| 2e\+38\)"):
        t.transform(np.full((1, 6), -2e38, np.float32))
    assert np.isfinite(t.transform(np.full((1, 6), -2e38))).all()  # float64 input is fine


@pytest.mark.parametrize("method", [m for m in METHODS if m != "absolute"])
def test_constant_anchors_warn_with_effective_rank_zero(method):
    x = np.ones((20, 6), np.float32)
    y = np.random.default_rng(0).normal(size=(20, 6)).astype(np.float32)
    with pytest.warns(
        UserWarning,
        match=rf"degenerate anchors for '{method}' \(y anchors \(20, 6\)\): effective rank 0 of "
        r"the (x anchors|x anchors \(at most\)|x and y anchors \(at most\)), below the 6 a unique translation needs",
    ):
        t = Translator(method, "standard").fit(x, y)
    assert np.isfinite(t.transform(x)).all()
    if method != "affine":  # closed forms map everything to y's mean; 300 Adam steps only head there
        np.testing.assert_allclose(t.transform(x[:2]), np.repeat(y.mean(0, keepdims=True), 2, 0), atol=1e-5)


@pytest.mark.parametrize("method", list(METHODS))
def test_constant_target_anchors_warn(method):
    x = np.random.default_rng(0).normal(size=(20, 6)).astype(np.float32)
    y = np.full((20, 6), 3.0, np.float32)
    with pytest.warns(
        UserWarning,
        match=rf"degenerate anchors for '{method}'.*(every row of the y anchors is the "
        r"same \(effective rank 0\)|effective rank 0 of the x and y anchors \(at most\))",
    ):
        t = Translator(method, "standard").fit(x, y)
    if method in ("linear", "ridge"):  # orthogonal maps cannot shrink to a point, nor can Adam in 300 steps
        np.testing.assert_allclose(t.transform(x), y, atol=1e-5)


def test_all_identical_rows_warn_for_absolute():
    with pytest.warns(UserWarning, match=r"every row of the x anchors is the same \(effective rank 0\)"):
        Translator("absolute", "none").fit(np.ones((5, 3)), np.arange(15.0).reshape(5, 3))


@pytest.mark.parametrize("method", ["ortho", "l-ortho", "linear", "ridge", "affine"])
def test_duplicated_rows_warn_with_the_effective_rank(method):
    # 10 distinct anchors, each twice, in 30 dims: centered they span 9 dims, not 19.
    rng = np.random.default_rng(1)
    x = np.repeat(rng.normal(size=(10, 30)), 2, axis=0)
    y = np.repeat(rng.normal(size=(10, 30)), 2, axis=0)
    with pytest.warns(
        UserWarning,
        match=rf"degenerate anchors for '{method}' \(y anchors \(20, 30\)\): effective rank 9 of .*below the 19 "
        r"a unique translation needs \(20 anchors, x dim 30\)",
    ):
        Translator(method, "standard", affine_steps=5).fit(x, y)


def test_one_warning_for_a_deficiency_all_targets_share():
    rng = np.random.default_rng(1)
    x = np.repeat(rng.normal(size=(10, 30)), 2, axis=0)
    ys = [np.repeat(rng.normal(size=(10, d)), 2, axis=0) for d in (30, 7)]
    with pytest.warns(UserWarning) as record:
        fit_translators(x, ys, "linear")
    messages = [str(w.message) for w in record if "degenerate" in str(w.message)]
    assert len(messages) == 1 and "(y anchors [0] (20, 30), y anchors [1] (20, 7))" in messages[0]


@pytest.mark.parametrize("n", [10, 200])
@pytest.mark.parametrize("method", list(METHODS))
def test_healthy_anchors_fit_without_warning(method, n):
    rng = np.random.default_rng(2)
    x, y = rng.normal(size=(n, 30)), rng.normal(size=(n, 30))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for scaling in SCALINGS:
            Translator(method, scaling, affine_steps=5).fit(x, y)
        fit_translators(x, [y, y[:, :30]] if method == "absolute" else [y, y[:, :7]], method, affine_steps=5)


@pytest.mark.parametrize("seed", [np.int64(3), np.int32(3), np.uint8(3)])
def test_numpy_integer_settings(seed, tmp_path):
    x, y = _anchors()
    t = Translator("affine", seed=seed, ddof=np.int64(1), affine_steps=np.int64(5), affine_lr=np.float32(1e-3))
    t.fit(x, y)
    reference = Translator("affine", seed=3, affine_steps=5, affine_lr=float(np.float32(1e-3))).fit(x, y)
    np.testing.assert_array_equal(t.transform(x), reference.transform(x))
    t.save(tmp_path / "t.safetensors")
    assert Translator.load(tmp_path / "t.safetensors").get_params()["seed"] == 3
    with pytest.raises(TypeError, match=r"seed must be an int, got True"):
        Translator(seed=True)
    with pytest.raises(TypeError, match=r"seed must be an int, got np.True_|seed must be an int, got True"):
        Translator(seed=np.bool_(True))


def test_torch_inputs_at_extreme_magnitude():
    x, y = _anchors()
    xt, yt = torch.from_numpy(x) * 1e19, torch.from_numpy(y) * 1e19
    t = _fit_quietly(Translator("ortho", "none"), xt, yt)
    expected = Translator("ortho", "none").fit(x, y).transform(x) * 1e19
    torch.testing.assert_close(t.transform(xt), torch.from_numpy(expected), rtol=1e-4, atol=1e-4 * 1e19)
