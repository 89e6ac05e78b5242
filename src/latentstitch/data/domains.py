"""Image domains: deterministic pixel transforms that give a second view of the same pictures.

Used for cross-domain stitching (paper, Appendix Figure 7: CIFAR-10 and grayscale CIFAR-10).
A domain variant keeps the split, order and labels of its base dataset, so item i is the same
picture in both domains and anchors are parallel by index.
"""

from __future__ import annotations

import numpy as np

_CHUNK = 4096  # images per step, bounds the uint32 scratch of the grayscale conversion


def grayscale(images: np.ndarray) -> np.ndarray:
    """RGB (n, h, w, 3) uint8 -> luma (n, h, w) uint8, exactly as PIL's ``convert("L")``.

    L = (19595 R + 38470 G + 7471 B + 2**15) >> 16, the ITU-R 601-2 weights in PIL's fixed point.
    """
    if images.ndim != 4 or images.shape[-1] != 3:
        raise ValueError(f"the grayscale domain needs RGB images of shape (n, h, w, 3), got {images.shape}")
    out = np.empty(images.shape[:-1], dtype=np.uint8)
    for start in range(0, len(images), _CHUNK):
        block = images[start : start + _CHUNK].astype(np.uint32)
        luma = 19595 * block[..., 0] + 38470 * block[..., 1] + 7471 * block[..., 2] + 0x8000
        out[start : start + _CHUNK] = luma >> 16
    return out


def invert(images: np.ndarray) -> np.ndarray:
    """Photographic negative: 255 - x per pixel, any shape (the offline analog of Figure 7)."""
    return np.invert(images)  # on uint8, bitwise not is exactly 255 - x


DOMAINS = {"grayscale": grayscale, "invert": invert}


def apply_domain(images, domain: str) -> np.ndarray:
    """Transform uint8 image arrays into ``domain`` (one of :data:`DOMAINS`)."""
    if domain not in DOMAINS:
        raise ValueError(f"unknown domain {domain!r}; valid: {', '.join(sorted(DOMAINS))}")
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        raise ValueError(
            f"domain {domain!r} needs images loaded as a uint8 array, got {type(images).__name__}"
            + (f" of dtype {images.dtype}" if isinstance(images, np.ndarray) else "")
        )
    return DOMAINS[domain](images)
