"""Every documented misuse of latentstitch.translate raises, naming what was wrong."""

import numpy as np
import pytest
import torch

from latentstitch.translate import NotFittedError, Translator, lstsq, ridge


@pytest.fixture
def anchors():
    rng = np.random.default_rng(0)
    return rng.normal(size=(20, 6)), rng.normal(size=(20, 4))


def test_different_number_of_anchors(anchors):
    x, y = anchors
    with pytest.raises(ValueError, match=r"parallel.*\(20, 6\).*\(19, 4\)"):
        Translator().fit(x, y[:19])


@pytest.mark.parametrize("bad", [np.zeros(20), np.zeros((20, 6, 1))])
def test_non_2d_anchors(anchors, bad):
    x, y = anchors
    with pytest.raises(ValueError, match=r"x anchors must be 2-D.*got shape"):
        Translator().fit(bad, y)
    with pytest.raises(ValueError, match=r"y anchors must be 2-D"):
        Translator().fit(x, bad)


@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_non_finite_values(anchors, value):
    x, y = anchors
    bad = x.copy()
    bad[3, 2] = value
    with pytest.raises(ValueError, match=r"x anchors contains NaN or inf in 1 entries \(rows \[3\]\)"):
        Translator().fit(bad, y)
    bad_y = y.copy()
    bad_y[0, 0] = value
    with pytest.raises(ValueError, match=r"y anchors contains NaN or inf"):
        Translator().fit(x, bad_y)
    t = Translator().fit(x, y)
    with pytest.raises(ValueError, match=r"^x contains NaN or inf"):
        t.transform(bad)


def test_huge_finite_values_are_not_mistaken_for_inf():
    x = np.full((4, 3), 3e38, dtype=np.float32)  # their float32 sum overflows
    x[:, 0] = [1, 2, 3, 4]
    out = Translator("absolute", "none").fit(x, x).transform(x)
    np.testing.assert_array_equal(out, x)


def test_fewer_than_two_anchors(anchors):
    x, y = anchors
    with pytest.raises(ValueError, match=r"at least 2 anchors.*\(1, 6\)"):
        Translator().fit(x[:1], y[:1])


def test_transform_before_fit():
    with pytest.raises(NotFittedError, match=r"not fitted yet: call fit"):
        Translator("linear").transform(np.zeros((2, 3)))
    with pytest.raises(NotFittedError):
        Translator().save("never-written.safetensors")


def test_wrong_feature_dim_at_transform(anchors):
    x, y = anchors
    t = Translator().fit(x, y)
    with pytest.raises(ValueError, match=r"shape \(m, 6\).*got \(5, 4\)"):
        t.transform(np.zeros((5, 4)))
    with pytest.raises(ValueError, match=r"shape \(m, 6\).*got \(6,\)"):
        t.transform(np.zeros(6))


def test_unknown_method_and_scaling_list_the_valid_ones():
    with pytest.raises(
        ValueError,
        match=r"unknown method 'procrustes'; valid methods: absolute, affine, linear, l-ortho, "
        r"ortho, ridge, irp, kernel, mlp \(add your own with register_method\)",
    ):
        Translator("procrustes")
    with pytest.raises(ValueError, match=r"unknown scaling 'zscore'; valid scalings: standard, l2, none"):
        Translator(scaling="zscore")
    t = Translator()
    t.method = "lin"  # settings edited after construction are checked again at fit
    with pytest.raises(ValueError, match="unknown method 'lin'"):
        t.fit(np.zeros((3, 2)), np.zeros((3, 2)))


def test_absolute_with_different_dims(anchors):
    x, y = anchors
    with pytest.raises(ValueError, match=r"'absolute' needs x and y of the same dim.*\(20, 6\).*\(20, 4\)"):
        Translator("absolute").fit(x, y)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"seed": 1.5}, "seed must be an int"),
        ({"ddof": -1}, "ddof must be >= 0"),
        ({"affine_steps": 0}, "affine_steps must be >= 1"),
        ({"affine_lr": float("nan")}, "affine_lr must be a positive finite number"),
        ({"fit_dtype": "float16"}, "fit_dtype must be one of"),
    ],
)
def test_bad_settings(kwargs, match):
    with pytest.raises((ValueError, TypeError), match=match):
        Translator(**kwargs)


def test_ddof_too_large_for_the_anchors():
    with pytest.raises(ValueError, match=r"ddof must be in \[0, n\) = \[0, 2\).*ddof=2"):
        Translator(ddof=2).fit(np.eye(2), np.eye(2))


def test_integer_input_is_a_type_error(anchors):
    x, y = anchors
    with pytest.raises(TypeError, match=r"x anchors must hold floating-point values, got dtype torch.int64"):
        Translator().fit(np.arange(12).reshape(6, 2), y[:6])
    with pytest.raises(TypeError, match="x must hold floating-point"):
        Translator().fit(x, y).transform(torch.zeros((2, 6), dtype=torch.int32))


def test_pure_functions_check_their_inputs():
    with pytest.raises(ValueError, match=r"same number of rows.*\(5, 2\).*\(4, 2\)"):
        lstsq(np.zeros((5, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="alphas must be a non-empty 1-D array of positive"):
        ridge(np.eye(3), np.eye(3), alphas=[1.0, -1.0])


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="translator file not found"):
        Translator.load(tmp_path / "missing.safetensors")
    from safetensors.numpy import save_file

    save_file({"a": np.zeros(2)}, str(tmp_path / "other.safetensors"))
    with pytest.raises(ValueError, match=r"other.safetensors: not a saved Translator"):
        Translator.load(tmp_path / "other.safetensors")
