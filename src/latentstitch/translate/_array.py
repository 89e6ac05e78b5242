"""Input checks and numpy/torch interchange for the translation library.

Everything computes on torch tensors; numpy arrays go in and come out unchanged in kind.
"""

from __future__ import annotations

import warnings
from typing import Any, Callable

import numpy as np
import torch

Array = Any  # numpy.ndarray or torch.Tensor; kept loose so that both type-check at call sites


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
            f"{name} must hold floating-point values, got dtype {t.dtype}; "
            f"cast it first (e.g. .astype(np.float32))"
        )
    return t, restore


def _identity(t: torch.Tensor) -> torch.Tensor:
    return t


def _to_numpy(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().numpy()


def check_matrix(t: torch.Tensor, name: str, *, min_rows: int = 1) -> None:
    """Raise ValueError unless ``t`` is 2-D with at least ``min_rows`` rows, and finite."""
    if t.ndim != 2:
        raise ValueError(f"{name} must be 2-D (n, d), got shape {tuple(t.shape)}")
    if t.shape[0] < min_rows:
        raise ValueError(f"{name} needs at least {min_rows} rows, got shape {tuple(t.shape)}")
    if t.shape[1] < 1:
        raise ValueError(f"{name} needs at least 1 feature, got shape {tuple(t.shape)}")
    check_finite(t, name)


def check_finite(t: torch.Tensor, name: str) -> None:
    # A sum is one bandwidth-bound pass and any NaN/inf poisons it; the exact (slower) scan
    # runs only when the sum is not finite, to tell overflow apart and to locate the culprit.
    if torch.isfinite(t.sum()):
        return
    bad = ~torch.isfinite(t)
    if bool(bad.any()):
        rows = torch.nonzero(bad.any(dim=1)).flatten()
        raise ValueError(
            f"{name} contains NaN or inf in {int(bad.sum())} entries (rows {rows[:5].tolist()}"
            f"{', ...' if len(rows) > 5 else ''}) of shape {tuple(t.shape)}"
        )
