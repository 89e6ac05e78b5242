"""Shared by the scale-invariance experiments (Figures 12, 13): the alpha grid and the
threshold above which accuracy no longer depends on the scale."""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np


def alpha_grid(spec: Mapping[str, Any], extra: Sequence[float] = ()) -> np.ndarray:
    """``spec["num"]`` log-spaced alphas from ``spec["min"]`` to ``spec["max"]`` (both > 0),
    with ``extra`` values (e.g. the mean training norm) merged in; sorted, unique."""
    missing = [k for k in ("min", "max", "num") if k not in spec]
    if missing:
        raise ValueError(f"alphas needs min, max and num (e.g. {{min: 1.0e-2, max: 1.0e2, num: 9}}); missing {missing}")
    low, high, num = float(spec["min"]), float(spec["max"]), int(spec["num"])
    if not 0 < low < high or num < 2:
        raise ValueError(f"alphas needs 0 < min < max and num >= 2, got min={low}, max={high}, num={num}")
    extra = [float(a) for a in extra]
    if any(not np.isfinite(a) or a <= 0 for a in extra):
        raise ValueError(f"extra alphas must be positive and finite, got {extra}")
    return np.unique(np.concatenate([np.geomspace(low, high, num), extra]))


def invariance_threshold(
    alphas: Sequence[float], accuracies: Sequence[float], reference: float, tolerance: float
) -> float | None:
    """The smallest alpha of the (ascending) grid from which on every accuracy is within
    ``tolerance`` of ``reference``; None when the largest alpha's is not."""
    alphas, accuracies = np.asarray(alphas, dtype=float), np.asarray(accuracies, dtype=float)
    if alphas.shape != accuracies.shape or alphas.ndim != 1 or alphas.size == 0:
        raise ValueError(
            f"alphas and accuracies must be 1-D of the same length, got {alphas.shape} and {accuracies.shape}"
        )
    if np.any(np.diff(alphas) <= 0):
        raise ValueError("alphas must be strictly ascending")
    within = np.abs(accuracies - reference) <= tolerance
    if not within[-1]:
        return None
    outside = np.flatnonzero(~within)
    return float(alphas[outside[-1] + 1] if outside.size else alphas[0])


def format_alpha(alpha: float | None) -> str:
    return "none" if alpha is None else f"{alpha:.3g}"
