"""Image domains against independent oracles (PIL's grayscale conversion, 255 - x)."""

import numpy as np
import pytest
from PIL import Image

from latentstitch.data import DOMAINS, apply_domain


def test_grayscale_matches_pil():
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, size=(5, 7, 9, 3), dtype=np.uint8)
    rgb[0, 0, 0] = (255, 255, 255)
    gray = apply_domain(rgb, "grayscale")
    oracle = np.stack([np.asarray(Image.fromarray(image).convert("L")) for image in rgb])
    assert gray.shape == (5, 7, 9) and gray.dtype == np.uint8
    assert np.array_equal(gray, oracle)


def test_invert_is_the_negative_and_an_involution():
    images = np.random.default_rng(1).integers(0, 256, size=(4, 6, 6), dtype=np.uint8)
    inverted = apply_domain(images, "invert")
    assert np.array_equal(inverted.astype(int), 255 - images.astype(int))
    assert np.array_equal(apply_domain(inverted, "invert"), images)


def test_domain_errors():
    with pytest.raises(ValueError, match=r"RGB images of shape \(n, h, w, 3\), got \(2, 4, 4\)"):
        apply_domain(np.zeros((2, 4, 4), np.uint8), "grayscale")
    with pytest.raises(ValueError, match="unknown domain 'blur'"):
        apply_domain(np.zeros((2, 4, 4), np.uint8), "blur")
    with pytest.raises(ValueError, match="uint8 array, got ndarray of dtype float64"):
        apply_domain(np.zeros((2, 4, 4)), "invert")
    assert sorted(DOMAINS) == ["grayscale", "invert"]
