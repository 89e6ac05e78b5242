"""The method on a picture (paper Figure 2, Section 3.2): a 2-D toy source space, a 3-D target
made from it by a known rotation, scaling, shift and a mild bend, and every step of the
translation (standard scaling, zero padding, estimated T, de-normalization) for ortho and affine.

The target is 3-D so that the padding step shows (the 2-D source gains a zero coordinate).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from scipy.spatial.transform import Rotation

from latentstitch.reports.figures import save_figure
from latentstitch.translate import Translator, zero_pad

STEPS = ("source", "standard scaling", "padding", "estimated T", "de-normalization", "target")


@dataclass
class ToySpaces:
    """Source (n, 2), target (n, 3), a colour value per point (its position along the source's
    shape) and the map that made the target: ``y = scale * bend(pad(x)) @ rotation + shift``."""

    source: np.ndarray
    target: np.ndarray
    color: np.ndarray
    rotation: np.ndarray
    scale: float
    shift: np.ndarray
    distortion: float


def toy_spaces(n: int, *, scale: float, distortion: float, seed: int) -> ToySpaces:
    """A 2-D source of ``n`` points on three arms of a noisy spiral, and its 3-D target.

    The bend lifts each padded point by ``distortion * |x|^2 / mean |x|^2`` along the new
    axis: no affine map undoes it, so the translation cannot be exact (as in the paper's
    figure); with ``distortion=0`` the target is an exact similarity of the padded source.
    """
    if not isinstance(n, (int, np.integer)) or n < 3:
        raise ValueError(f"n must be an int >= 3, got {n!r}")
    if not scale > 0 or not np.isfinite(scale):
        raise ValueError(f"scale must be positive and finite, got {scale!r}")
    if not distortion >= 0 or not np.isfinite(distortion):
        raise ValueError(f"distortion must be >= 0 and finite, got {distortion!r}")
    rng = np.random.default_rng(seed)
    t = rng.uniform(0.15, 1.0, size=n)
    arm = rng.integers(0, 3, size=n)
    angle = 3.0 * t + arm * 2.0 * np.pi / 3.0
    source = np.stack([t * np.cos(angle), 0.6 * t * np.sin(angle)], axis=1) + rng.normal(0, 0.02, size=(n, 2))
    rotation = Rotation.random(random_state=rng).as_matrix()
    shift = rng.normal(0, 2.0, size=3)
    padded = zero_pad(source, 3)
    squared = (source**2).sum(axis=1)
    padded[:, 2] += distortion * squared / squared.mean()
    target = scale * padded @ rotation + shift
    return ToySpaces(source, target, t + arm, rotation, float(scale), shift, float(distortion))


def walkthrough_steps(
    x: np.ndarray,
    y: np.ndarray,
    anchors: np.ndarray,
    method: str,
    *,
    seed: int = 0,
    translator_kwargs: Mapping[str, Any] | None = None,
) -> dict[str, np.ndarray]:
    """Every step of Section 3.2 applied to all of ``x``, with T fitted on the ``anchors`` rows.

    ``translator_kwargs`` go to the ``Translator`` (e.g. ``affine_steps``). Returns the arrays
    by step name (:data:`STEPS`): the source, its standard scaling (anchor statistics), its zero
    padding to the target's dim, the estimated T applied (in the target's scaled space), the
    de-normalized result (in the target's space: equal to ``Translator.transform``) and the
    target, plus ``target scaled`` (the target under its own standard scaling: where the
    estimated T should land). Source dim must not exceed the target's.
    """
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y):
        raise ValueError(f"x and y must be 2-D with the same number of rows, got {x.shape} and {y.shape}")
    if x.shape[1] > y.shape[1]:
        raise ValueError(
            f"the walk-through pads the source: its dim ({x.shape[1]}) must not exceed the target's ({y.shape[1]})"
        )
    translator = Translator(method=method, scaling="standard", seed=seed, **(translator_kwargs or {}))
    translator.fit(x[anchors], y[anchors])
    scaled = translator.scaling_x_.transform(torch.from_numpy(x)).numpy()
    aligned = scaled @ translator.matrix_.numpy() + translator.bias_.numpy()
    denormalized = translator.scaling_y_.inverse_transform(torch.from_numpy(aligned)).numpy()
    return {
        "source": x,
        "standard scaling": scaled,
        "padding": zero_pad(scaled, y.shape[1]),
        "estimated T": aligned,
        "de-normalization": denormalized,
        "target": y,
        "target scaled": translator.scaling_y_.transform(torch.from_numpy(y)).numpy(),
    }


def relative_error(pred: np.ndarray, target: np.ndarray) -> float:
    """||pred - target||_F / ||target - mean(target)||_F: 0 is exact, 1 is as bad as the mean."""
    return float(np.linalg.norm(pred - target) / np.linalg.norm(target - target.mean(axis=0)))


def walkthrough(
    n: int,
    n_anchors: int,
    *,
    scale: float,
    distortion: float,
    methods: Sequence[str],
    seed: int,
    translator_kwargs: Mapping[str, Any] | None = None,
) -> tuple[ToySpaces, dict[str, dict[str, np.ndarray]], pd.DataFrame]:
    """The toy spaces, the steps per method, and the held-out relative error per method with the
    configured distortion and without it (same points, rotation, scale and shift)."""
    if not 2 <= n_anchors < n:
        raise ValueError(f"anchors must be in [2, {n - 1}] for {n} points, got {n_anchors}")
    toy = toy_spaces(n, scale=scale, distortion=distortion, seed=seed)
    exact = toy_spaces(n, scale=scale, distortion=0.0, seed=seed)
    order = np.random.default_rng(seed).permutation(n)
    anchors, held_out = np.sort(order[:n_anchors]), np.sort(order[n_anchors:])
    steps, rows = {}, []
    for method in methods:
        steps[method] = walkthrough_steps(
            toy.source, toy.target, anchors, method, seed=seed, translator_kwargs=translator_kwargs
        )
        undistorted = walkthrough_steps(
            exact.source, exact.target, anchors, method, seed=seed, translator_kwargs=translator_kwargs
        )
        rows.append(
            {
                "method": method,
                "relative_error": relative_error(steps[method]["de-normalization"][held_out], toy.target[held_out]),
                "relative_error_without_distortion": relative_error(
                    undistorted["de-normalization"][held_out], exact.target[held_out]
                ),
                "anchors": n_anchors,
                "held_out": len(held_out),
                "distortion": distortion,
                "scale": scale,
            }
        )
    return toy, steps, pd.DataFrame(rows)


def claim(errors: pd.DataFrame, tolerance: float) -> dict[str, Any]:
    """The paper's Figure 2 caption: the steps bring the source onto the target, and "the
    translation is not perfect due to an arbitrary distortion of the data". Holds for a method
    when, on held-out points, it is exact without the distortion (relative error at most
    ``tolerance``) and its error with the distortion is larger but below the mean predictor's
    (1); holds for the figure when it holds for every method."""
    parts, failing = [], []
    for row in errors.itertuples():
        exact = row.relative_error_without_distortion <= tolerance
        if not (exact and row.relative_error_without_distortion < row.relative_error < 1.0):
            failing.append(row.method)
        parts.append(
            f"{row.method} {row.relative_error:.3f} with the distortion, "
            f"{row.relative_error_without_distortion:.3f} without"
            + ("" if exact else f" (not exact without it: above {tolerance})")
        )
    line = (
        "held-out relative error of the translated toy points (1 = predicting the target's mean): "
        + "; ".join(parts)
        + (f"; fails for {', '.join(failing)}" if failing else "")
    )
    return {"holds": not failing, "line": line, "details": {"tolerance": tolerance, "failing": failing}}


def plot(toy: ToySpaces, steps: dict[str, dict[str, np.ndarray]], path: str, *, title: str) -> None:
    """Figure 2: one row per method, one panel per step; 3-D panels for the padded and target
    spaces, with the target (grey) behind the translated points."""
    fig = Figure(figsize=(3.0 * len(STEPS), 3.1 * len(steps)), layout="constrained")
    fig.suptitle(title)
    for r, (method, arrays) in enumerate(steps.items()):
        for c, step in enumerate(STEPS):
            points = arrays[step]
            three_d = points.shape[1] == 3
            ax = fig.add_subplot(len(steps), len(STEPS), r * len(STEPS) + c + 1, projection="3d" if three_d else None)
            behind = {"estimated T": arrays["target scaled"], "de-normalization": arrays["target"]}.get(step)
            if behind is not None:
                ax.scatter(*behind.T, s=3, c="lightgrey")
            ax.scatter(*points.T, s=3, c=toy.color, cmap="viridis")
            if step == "padding":  # the zero coordinate on the scale of the other two, so it reads as flat
                ax.set_zlim(points[:, :2].min(), points[:, :2].max())
            ax.set_title(f"{method}: {step}" if c == 0 else step, fontsize=9)
            ax.tick_params(labelsize=6)
    save_figure(fig, path)
