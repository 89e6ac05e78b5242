"""Rescaling injection (paper App. A.1, Figure 12): normalize the hidden states of one layer of
a transformer to unit norm per token, multiply them by alpha, and see what a head trained on
the unchanged last-layer representation makes of the result.

Layer ``l`` of a model with ``L`` blocks is the hidden state entering block ``l`` (``l = 0``:
the embeddings, as they enter the first block) and ``l = L`` is the last block's output, the
paper's numbering (0 the embedding layer, 12 RoBERTa-base's output). The sweep encodes each
batch once, keeps every block's output, and for layer ``l`` runs only the blocks after it:
the blocks before are swapped for stand-ins that return the kept outputs, so the model's own
forward (masks, position biases, final norms) and the encoder's own pooling do the rest.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Sequence

import matplotlib
import numpy as np
import pandas as pd
import torch
from matplotlib.figure import Figure
from torch import nn

from latentstitch.appendix.invariance import format_alpha, invariance_threshold
from latentstitch.reports.figures import save_figure

# Tokens whose hidden state has no direction (norm below this) stay at zero.
_EPS = 1e-12


def rescale(hidden: torch.Tensor, alpha: float) -> torch.Tensor:
    """``alpha * h / ||h||`` for every vector ``h`` along the last axis (every token)."""
    return nn.functional.normalize(hidden, dim=-1, eps=_EPS) * alpha


def _check_alpha(alpha: float) -> float:
    if (
        not isinstance(alpha, (int, float, np.floating))
        or isinstance(alpha, bool)
        or not np.isfinite(alpha)
        or alpha <= 0
    ):
        raise ValueError(f"alpha must be a positive finite number, got {alpha!r}")
    return float(alpha)


def _rescaled_output(output: Any, alpha: float) -> Any:
    # HF blocks return the hidden states alone (transformers >= 5) or first in a tuple.
    if isinstance(output, tuple):
        return (rescale(output[0], alpha), *output[1:])
    if isinstance(output, torch.Tensor):
        return rescale(output, alpha)
    raise TypeError(
        f"cannot rescale a module output of type {type(output).__name__}: expected a tensor "
        "or a tuple whose first element is the hidden states"
    )


@contextlib.contextmanager
def rescaling_injection(module: nn.Module, alpha: float, *, where: str = "output") -> Iterator[None]:
    """While active, ``module``'s output hidden states (``where="output"``, a forward hook) or
    its input hidden states (``where="input"``, a pre-hook: the first positional argument or
    the ``hidden_states`` keyword) are L2-normalized per token and multiplied by ``alpha``.

    Raises ValueError for a non-positive alpha or an unknown ``where``.
    """
    alpha = _check_alpha(alpha)
    if where == "output":
        handle = module.register_forward_hook(lambda mod, args, output: _rescaled_output(output, alpha))
    elif where == "input":

        def pre_hook(mod: nn.Module, args: tuple, kwargs: dict) -> tuple[tuple, dict]:
            if args:
                return (rescale(args[0], alpha), *args[1:]), kwargs
            if "hidden_states" in kwargs:
                return args, {**kwargs, "hidden_states": rescale(kwargs["hidden_states"], alpha)}
            raise TypeError(f"{type(mod).__name__} got no positional input and no hidden_states keyword to rescale")

        handle = module.register_forward_pre_hook(pre_hook, with_kwargs=True)
    else:
        raise ValueError(f"where must be 'output' or 'input', got {where!r}")
    try:
        yield
    finally:
        handle.remove()


def transformer_blocks(model: nn.Module) -> nn.ModuleList:
    """The list of transformer blocks of a HF encoder (``encoder.layer`` of BERT, RoBERTa,
    ELECTRA, MPNet, XLM-R; ``text_model.encoder.layers`` of CLIP's text tower).

    Raises ValueError for models without one list of distinct blocks (ALBERT shares its).
    """
    for root in (model, getattr(model, "text_model", None)):
        encoder = getattr(root, "encoder", None)
        for name in ("layer", "layers"):
            blocks = getattr(encoder, name, None)
            if isinstance(blocks, nn.ModuleList) and len(blocks) > 0:
                return blocks
    model_type = getattr(getattr(model, "config", None), "model_type", type(model).__name__)
    raise ValueError(
        f"model type {model_type!r} has no list of transformer blocks (encoder.layer or "
        "text_model.encoder.layers) to inject a rescaling into; ALBERT-style shared layers "
        "are not supported"
    )


@contextlib.contextmanager
def injected_at(blocks: nn.ModuleList, layer: int, alpha: float) -> Iterator[None]:
    """Rescaling injection at ``layer`` (0 .. len(blocks)) in the paper's numbering: the input
    of block ``layer``, or the last block's output for ``layer == len(blocks)``."""
    if not 0 <= layer <= len(blocks):
        raise ValueError(f"layer must be in 0..{len(blocks)} (the model has {len(blocks)} blocks), got {layer}")
    if layer < len(blocks):
        with rescaling_injection(blocks[layer], alpha, where="input"):
            yield
    else:
        with rescaling_injection(blocks[-1], alpha, where="output"):
            yield


class _Replay(nn.Module):
    """Stands in for a block whose output on this batch is already known."""

    def __init__(self, output: Any) -> None:
        super().__init__()
        self.output = output

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.output


@contextlib.contextmanager
def _replaying(blocks: nn.ModuleList, outputs: Sequence[Any], count: int) -> Iterator[None]:
    """Blocks 0 .. count-1 return ``outputs`` instead of computing."""
    originals = [blocks[i] for i in range(count)]
    try:
        for i in range(count):
            blocks[i] = _Replay(outputs[i])
        yield
    finally:
        for i, block in enumerate(originals):
            blocks[i] = block


@dataclass
class Sweep:
    """What :func:`rescaling_sweep` computes: pooled features without injection (n, d), with
    it (len(layers), len(alphas), n, d), and the mean norm of a token's hidden state at each
    layer (len(layers),), over real (unpadded) tokens: the scale each layer works at."""

    plain: np.ndarray
    injected: np.ndarray
    token_norms: np.ndarray


def _hidden(output: Any) -> torch.Tensor:
    return output[0] if isinstance(output, tuple) else output


def rescaling_sweep(
    encoder: Any,
    inputs: Sequence[str],
    layers: Sequence[int],
    alphas: Sequence[float],
    *,
    batch_size: int = 32,
) -> Sweep:
    """Pooled features of ``inputs`` with the rescaling injection at every ``layer`` x ``alpha``.

    ``encoder`` is a ``TransformerTextEncoder`` (``features`` / ``collate`` / ``forward`` and a
    HF ``model``). Features are float32, in input order. For layer ``l`` only the blocks from
    ``l`` on are computed; the result equals a full forward under ``injected_at(blocks, l, alpha)``.
    """
    blocks = transformer_blocks(encoder.model)
    layers = [int(layer) for layer in layers]
    for layer in layers:
        if not 0 <= layer <= len(blocks):
            raise ValueError(
                f"layers must be in 0..{len(blocks)} ({encoder.id!r} has {len(blocks)} blocks), got {layer}"
            )
    alphas = [_check_alpha(a) for a in alphas]
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    features = encoder.features(inputs)
    n = len(features)
    plain = np.empty((n, encoder.dim), dtype=np.float32)
    injected = np.empty((len(layers), len(alphas), n, encoder.dim), dtype=np.float32)
    norm_sums, tokens = np.zeros(len(blocks) + 1), 0
    lengths = encoder.lengths(features)
    order = np.argsort(-lengths, kind="stable") if lengths is not None else np.arange(n)
    with torch.inference_mode():
        for start in range(0, n, batch_size):
            rows = order[start : start + batch_size]
            batch = encoder.collate(features, rows)
            # states[l]: the hidden states at layer l (the first block's input, then each block's output)
            states: list[Any] = []
            hooks = [
                blocks[0].register_forward_pre_hook(
                    lambda mod, args, kwargs: states.append(args[0] if args else kwargs["hidden_states"]),
                    with_kwargs=True,
                )
            ]
            hooks += [b.register_forward_hook(lambda mod, args, out: states.append(out)) for b in blocks]
            try:
                plain[rows] = encoder.forward(batch).float().cpu().numpy()
            finally:
                for hook in hooks:
                    hook.remove()
            mask = batch["attention_mask"].bool() if "attention_mask" in batch else None
            for layer, state in enumerate(states):
                norms = _hidden(state).float().norm(dim=-1).cpu()
                norm_sums[layer] += float(norms[mask].sum() if mask is not None else norms.sum())
            tokens += int(mask.sum()) if mask is not None else norms.numel()
            for i, layer in enumerate(layers):
                with _replaying(blocks, states[1:], layer):
                    for j, alpha in enumerate(alphas):
                        with injected_at(blocks, layer, alpha):
                            injected[i, j, rows] = encoder.forward(batch).float().cpu().numpy()
    return Sweep(plain, injected, (norm_sums / max(tokens, 1))[layers])


def accuracy_grid(predict: Callable[[np.ndarray], np.ndarray], injected: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Accuracy of ``predict`` on every (layer, alpha) slice of ``injected`` (L, A, n, d): (L, A)."""
    if injected.ndim != 4 or injected.shape[2] != len(labels):
        raise ValueError(
            f"injected must be (layers, alphas, n, d) with n = {len(labels)} labels, got shape {injected.shape}"
        )
    layers, alphas, n, d = injected.shape
    predicted = np.asarray(predict(injected.reshape(-1, d))).reshape(layers, alphas, n)
    return (predicted == np.asarray(labels)[None, None, :]).mean(axis=2)


@dataclass
class RescalingAccuracy:
    """Figure 12's numbers: accuracy (len(layers), len(alphas)) of a head under the injection,
    its accuracy without injection (``reference``) and each layer's mean token norm."""

    layers: list[int]
    alphas: np.ndarray
    accuracy: np.ndarray
    reference: float
    token_norms: np.ndarray

    def table(self) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "layer": layer,
                    "alpha": float(a),
                    "accuracy": float(acc),
                    "reference_accuracy": self.reference,
                    "layer_mean_token_norm": float(norm),
                }
                for layer, row, norm in zip(self.layers, self.accuracy, self.token_norms)
                for a, acc in zip(self.alphas, row)
            ]
        )


def claim(result: RescalingAccuracy, tolerance: float) -> dict[str, Any]:
    """The paper's Figure 12 claim checked on ``result``: at every layer, once alpha passes a
    threshold the accuracy is that of the unrescaled model (within ``tolerance``) up to the
    largest alpha of the grid."""
    thresholds = {
        layer: invariance_threshold(result.alphas, acc, result.reference, tolerance)
        for layer, acc in zip(result.layers, result.accuracy)
    }
    failing = [layer for layer, t in thresholds.items() if t is None]
    holds = not failing
    per_layer = ", ".join(f"{layer}: {format_alpha(t)}" for layer, t in thresholds.items())
    if holds:
        line = (
            f"accuracy stays within {tolerance} of the unrescaled {result.reference:.3f} at every layer for "
            f"every alpha >= {format_alpha(max(thresholds.values()))} (threshold per layer: {per_layer})"
        )
    else:
        last = {layer: float(acc[-1]) for layer, acc in zip(result.layers, result.accuracy)}
        line = (
            f"accuracy is not back within {tolerance} of the unrescaled {result.reference:.3f} at the largest "
            f"alpha ({format_alpha(result.alphas[-1])}) at layers {failing} (accuracy there: "
            + ", ".join(f"{layer}: {last[layer]:.3f}" for layer in failing)
            + f"); threshold per layer: {per_layer}"
        )
    return {
        "holds": holds,
        "line": line,
        "details": {
            "reference_accuracy": result.reference,
            "tolerance": tolerance,
            "invariant_above": {str(k): v for k, v in thresholds.items()},
        },
    }


def plot(result: RescalingAccuracy, path: str, *, title: str) -> None:
    """Figure 12: accuracy vs alpha (log x), one line per layer, the unrescaled accuracy dashed."""
    fig = Figure(figsize=(6.0, 3.8), layout="constrained")
    ax = fig.subplots()
    cmap = matplotlib.colormaps["viridis"]
    for k, (layer, acc) in enumerate(zip(result.layers, result.accuracy)):
        ax.plot(
            result.alphas,
            acc,
            marker="o",
            ms=2.5,
            color=cmap(k / max(len(result.layers) - 1, 1)),
            label=f"layer {layer}",
        )
    ax.axhline(result.reference, color="black", ls="--", lw=1.0, label=f"no rescaling ({result.reference:.3f})")
    ax.set(
        xscale="log", xlabel="alpha (hidden states normalized per token, then scaled)", ylabel="accuracy", title=title
    )
    ax.legend(fontsize=7, ncols=2)
    save_figure(fig, path)
