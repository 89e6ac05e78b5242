"""Input checks and numpy/torch interchange for the translation library.

Everything computes on torch tensors; numpy arrays go in and come out unchanged in kind.
"""

from __future__ import annotations

import math
import warnings
from typing import Any, Callable

import numpy as np
import torch

Array = Any  # numpy.ndarray or torch.Tensor; kept loose so that both type-check at call sites

# Magnitudes (max |entry|) whose products neither overflow nor underflow in a solve of this
# dtype, with room for sums over 2**20 terms: 2**40 squared is 2**80, far below float32's
# 2**128, and 2**-40 squared is 2**-80, far above its smallest normal 2**-126.
SAFE_RANGE = {torch.float32: (2.0**-40, 2.0**40), torch.float64: (2.0**-400, 2.0**400)}


def to_tensor(a: Array, name: str) -> tuple[torch.Tensor, Callable[[torch.Tensor], Array]]:
    """``a`` as a floating torch tensor (no copy when possible) and a function that turns a
    result back into ``a``'s kind (numpy in, numpy out; torch in, torch out)."""
    if isinstance(a, torch.Tensor):
        t, restore = a, _identity
    else:
        arr = np.asarray(a)
        with warnings.catch_warnings():
            # Read-only arrays (np.load with mmap, broadcast views) are never written here.
            warnings.simplefilter("ignore", UserWarning)
            t = torch.from_numpy(np.ascontiguousarray(arr))
        restore = _to_numpy
    if not t.is_floating_point():
        raise TypeError(
            f"{name} must hold floating-point values, got dtype {t.dtype}; cast it first (e.g. .astype(np.float32))"
        )
    return t, restore


def _identity(t: torch.Tensor) -> torch.Tensor:
    return t


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def check_matrix(t: torch.Tensor, name: str, *, min_rows: int = 1) -> float:
    """Raise ValueError unless ``t`` is 2-D with at least ``min_rows`` rows, and finite;
    return its largest magnitude."""
    if t.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n, d), got shape {tuple(t.shape)}")
    if t.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows, got shape {tuple(t.shape)}")
    if t.shape[1] < 1:
        raise ValueError(f"{name} needs at least 1 feature, got shape {tuple(t.shape)}")
    return check_finite(t, name)


def check_finite(t: torch.Tensor, name: str) -> float:
    """Raise ValueError if ``t`` holds NaN or inf (naming how many and where); else return
    its largest magnitude, which bounds what a matrix product of ``t`` can reach."""
    # One bandwidth-bound pass: NaN propagates to min and max, inf shows in one of them; the
    # exact scan runs only to locate the culprits.
    if t.numel() == 0:
        return 0.0
    lo, hi = torch.aminmax(t.detach())
    lo, hi = float(lo), float(hi)
    if math.isfinite(lo) and math.isfinite(hi):
        return max(-lo, hi)
    bad = ~torch.isfinite(t)
    rows = torch.nonzero(bad.reshape(len(t), -1).any(dim=1)).flatten() if t.ndim else torch.zeros(0)
    raise ValueError(
        f"{name} contains NaN or inf in {int(bad.sum())} entries (rows {rows[:5].tolist()}"
        f"{', ...' if len(rows) > 5 else ''}) of shape {tuple(t.shape)}"
    )


def all_finite(t: torch.Tensor) -> bool:
    """Whether every entry of ``t`` is finite: a sum (one fast pass; NaN and inf poison it),
    and the exact elementwise test only when the sum is not finite (it may just overflow)."""
    return bool(torch.isfinite(t.sum())) or bool(torch.isfinite(t).all())


def row_norms(t: torch.Tensor) -> torch.Tensor:
    """Euclidean norm of each row of ``t`` (m, d), exact at any finite magnitude.

    The plain sum of squares overflows for entries beyond sqrt(max) (1.8e19 in float32) and
    underflows below sqrt(tiny) (1.1e-19), where it returns inf or 0 for a row that has a
    perfectly good norm. Rows outside that range are recomputed scaled by their largest
    entry (LAPACK's ``nrm2`` idea); the common case costs one norm pass and one check.
    """
    norms = torch.linalg.vector_norm(t, dim=1)
    info = torch.finfo(t.dtype)
    # Below this the sum of squares may have lost bits to underflow; above, it overflowed.
    low = math.sqrt(info.tiny) / info.eps
    unsafe = ~torch.isfinite(norms) | (norms < low)
    if not bool(unsafe.any()):
        return norms
    rows = t[unsafe]
    peak = rows.abs().amax(dim=1)
    peak = torch.where(peak > 0, peak, torch.ones_like(peak))
    norms = norms.clone()
    norms[unsafe] = torch.linalg.vector_norm(rows / peak[:, None], dim=1) * peak
    return norms


def normalize_rows(t: torch.Tensor) -> torch.Tensor:
    """Each row of ``t`` divided by its norm (``row_norms``); zero rows stay zero.

    Equal to ``torch.nn.functional.normalize(t, dim=1)`` wherever that is exact; unlike it
    (whose floor is an absolute 1e-12), a row of tiny but nonzero norm is normalized too."""
    norms = row_norms(t)
    return t / torch.where(norms > 0, norms, torch.ones_like(norms))[:, None]


def max_abs(t: torch.Tensor) -> float:
    """The largest magnitude in ``t`` (0.0 for an empty tensor)."""
    return float(t.abs().amax()) if t.numel() else 0.0


def rescaled(t: torch.Tensor) -> tuple[torch.Tensor, float]:
    """``(t * c, c)`` with ``c = power_of_two_scale(t)`` (t itself when c is 1); the product is
    formed in float64, where c itself is representable, and rounded back to t's dtype."""
    c = power_of_two_scale(t)
    if c == 1.0:
        return t, c
    return (t.to(torch.float64) * c).to(t.dtype), c


def power_of_two_scale(t: torch.Tensor) -> float:
    """1.0 when ``t``'s largest magnitude is in its dtype's ``SAFE_RANGE`` (or t is zero),
    else the power of two that brings it near 1. Multiplying by a power of two is exact, so
    a scale-equivariant solve on the rescaled data, scaled back, is the same solve done
    without overflow or underflow."""
    peak = max_abs(t)
    low, high = SAFE_RANGE.get(t.dtype, SAFE_RANGE[torch.float32])
    if peak == 0 or low <= peak <= high:
        return 1.0
    return 2.0 ** min(max(-math.frexp(peak)[1], -1000), 1000)
