"""Input rescaling of MLP heads (paper App. A.1, Figure 13): MLPs with two hidden layers and no
normalization layers (ReLU, tanh, cosine) trained on an encoder's features, then scored on test
features normalized to unit norm and multiplied by alpha.

A bias-free ReLU MLP is positively homogeneous, f(alpha x) = alpha f(x), so its argmax does not
depend on alpha at all; biases and bounded or periodic activations are what make the question
empirical.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from scipy.signal import find_peaks

from latentstitch.appendix.invariance import format_alpha, invariance_threshold
from latentstitch.decoders import build_head
from latentstitch.decoders.training import as_float_matrix
from latentstitch.reports.figures import save_figure

ACTIVATION_COLORS = {"cos": "tab:blue", "tanh": "tab:orange", "relu": "tab:green"}


def unit_rescaled(x: np.ndarray, alpha: float) -> np.ndarray:
    """Rows of ``x`` (n, d) scaled to norm ``alpha`` (rows of zeros stay zero), float32."""
    x = as_float_matrix(x, "x")
    norms = np.linalg.norm(x.astype(np.float64), axis=1, keepdims=True)
    return (x / np.maximum(norms, 1e-12) * alpha).astype(np.float32)


def accuracy_vs_scale(
    predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, y: np.ndarray, alphas: Sequence[float]
) -> np.ndarray:
    """Accuracy of ``predict`` on ``unit_rescaled(x, alpha)`` for every alpha: (len(alphas),)."""
    y = np.asarray(y)
    if y.shape != (len(x),):
        raise ValueError(f"y must have shape ({len(x)},) to match x {np.shape(x)}, got {y.shape}")
    if any(not np.isfinite(a) or a <= 0 for a in alphas):
        raise ValueError(f"alphas must be positive and finite, got {list(alphas)}")
    return np.array([np.mean(predict(unit_rescaled(x, a)) == y) for a in alphas])


def mean_norm(x: np.ndarray) -> float:
    """Mean L2 norm of the rows of ``x``: the scale the head was trained at."""
    return float(np.linalg.norm(as_float_matrix(x, "x").astype(np.float64), axis=1).mean())


@dataclass
class MLPScaling:
    """Accuracy (activations x alphas) of each MLP on rescaled test inputs, and on the inputs as
    they are (``reference``), with the mean norm of the training inputs."""

    alphas: np.ndarray
    accuracy: dict[str, np.ndarray]
    reference: dict[str, float]
    train_mean_norm: float
    epochs: dict[str, int]

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "activation": act,
                    "alpha": float(a),
                    "accuracy": float(acc),
                    "reference_accuracy": self.reference[act],
                }
                for act, row in self.accuracy.items()
                for a, acc in zip(self.alphas, row)
            ]
        )


def mlp_scaling(
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    activations: Sequence[str],
    alphas: Sequence[float],
    head_cfg: Mapping[str, Any],
    *,
    seed: int,
    accelerator: str = "auto",
) -> MLPScaling:
    """Train one MLP head per activation (``head_cfg``: a conf/head mapping of kind ``mlp``,
    its activation replaced) on ``train`` and score it on rescaled ``test`` inputs."""
    if head_cfg.get("kind") != "mlp":
        raise ValueError(f"Figure 13 studies MLP heads: head kind must be 'mlp', got {head_cfg.get('kind')!r}")
    if not activations:
        raise ValueError("activations must name at least one activation, e.g. [relu, tanh, cos]")
    (x_train, y_train), (x_test, y_test) = train, test
    alphas = np.asarray(alphas, dtype=float)
    accuracy, reference, epochs = {}, {}, {}
    for activation in activations:
        head = build_head({**head_cfg, "activation": activation}, seed=seed, accelerator=accelerator)
        head.fit(x_train, y_train)
        accuracy[activation] = accuracy_vs_scale(head.predict, x_test, y_test, alphas)
        reference[activation] = float(np.mean(head.predict(x_test) == y_test))
        epochs[activation] = int(head.n_epochs_)
    return MLPScaling(alphas, accuracy, reference, mean_norm(x_train), epochs)


def oscillations(accuracies: Sequence[float], prominence: float) -> int:
    """Local maxima of an accuracy curve that rise at least ``prominence`` above both sides."""
    # Padding with -inf lets a peak at either end of the grid count.
    padded = np.concatenate([[-np.inf], np.asarray(accuracies, dtype=float), [-np.inf]])
    peaks, _ = find_peaks(padded, prominence=prominence)
    return int(len(peaks))


def claim(result: MLPScaling, tolerance: float) -> dict[str, Any]:
    """The paper's Figure 13 claim checked on ``result``: monotone activations (ReLU, tanh) are
    scale invariant (accuracy within ``tolerance`` of the unrescaled one for every alpha from a
    threshold at or below the mean training norm up to the largest), while the cosine MLP is
    not, except near the training scale."""
    norm = result.train_mean_norm
    at_norm = int(np.argmin(np.abs(np.log(result.alphas / norm))))
    details: dict[str, Any] = {"train_mean_norm": norm, "tolerance": tolerance}
    monotone, parts = [], []
    for act, acc in result.accuracy.items():
        ref = result.reference[act]
        threshold = invariance_threshold(result.alphas, acc, ref, tolerance)
        peaks = oscillations(acc, 2 * tolerance)
        details[act] = {
            "reference_accuracy": ref,
            "invariant_above": threshold,
            "peaks": peaks,
            "accuracy_at_mean_norm": float(acc[at_norm]),
            "accuracy_range": [float(acc.min()), float(acc.max())],
        }
        if act in ("relu", "tanh"):
            monotone.append(threshold is not None and threshold <= norm)
            parts.append(f"{act} invariant above alpha = {format_alpha(threshold)}")
    holds = bool(monotone) and all(monotone)
    line = (
        f"{' and '.join(parts) or 'no monotone activation run'} (mean training norm {norm:.3g}, tolerance {tolerance})"
    )
    if "cos" in result.accuracy:
        cos = details["cos"]
        near_norm = abs(cos["accuracy_at_mean_norm"] - result.reference["cos"]) <= tolerance
        holds = holds and cos["invariant_above"] is None and near_norm
        line += (
            f"; cos: {cos['accuracy_at_mean_norm']:.3f} at the mean norm vs {result.reference['cos']:.3f} "
            f"unrescaled, {cos['peaks']} accuracy peaks over the grid, range "
            f"{cos['accuracy_range'][0]:.3f}-{cos['accuracy_range'][1]:.3f}"
        )
        if cos["invariant_above"] is not None:
            line += f", invariant above {format_alpha(cos['invariant_above'])}"
    return {"holds": holds, "line": line, "details": details}


def plot(result: MLPScaling, path: str, *, title: str) -> None:
    """Figure 13: accuracy vs alpha (log x) per activation, the unrescaled accuracy dashed, the
    mean training norm as a vertical red line."""
    fig = Figure(figsize=(6.0, 3.8), layout="constrained")
    ax = fig.subplots()
    for act, acc in result.accuracy.items():
        color = ACTIVATION_COLORS.get(act)
        ax.plot(result.alphas, acc, marker="o", ms=2.5, color=color, label=act)
        ax.axhline(result.reference[act], color=color, ls="--", lw=0.8)
    ax.axvline(result.train_mean_norm, color="red", lw=1.0, label="mean train norm")
    ax.set(xscale="log", xlabel="alpha (test inputs normalized, then scaled)", ylabel="accuracy", title=title)
    ax.legend(fontsize=8)
    save_figure(fig, path)
