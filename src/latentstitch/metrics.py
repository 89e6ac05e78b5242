"""Scores of stitched models and of translated encodings (paper Section 4, Tables 1-8).

Latent metrics compare translated encodings with the true target encodings row by row (row i
of both is the same sample). Inputs are numpy arrays or torch tensors; results are floats.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

# Rows per chunk of the row-wise metrics, and the largest (queries x targets) similarity block
# retrieval holds at once (2**24 float32 = 64 MiB): memory stays bounded at any n.
_ROW_CHUNK = 8192
_BLOCK_ELEMENTS = 2**24


def _labels(a: Any, name: str) -> np.ndarray:
    arr = a.detach().cpu().numpy() if isinstance(a, torch.Tensor) else np.asarray(a)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be 1-D (n,), got shape {arr.shape}")
    return arr


def _label_pair(y_true: Any, y_pred: Any) -> tuple[np.ndarray, np.ndarray]:
    t, p = _labels(y_true, "y_true"), _labels(y_pred, "y_pred")
    if t.shape != p.shape or len(t) == 0:
        raise ValueError(f"y_true and y_pred must be non-empty and of equal length, got {t.shape} and {p.shape}")
    return t, p


def accuracy(y_true: Any, y_pred: Any) -> float:
    """Fraction of correct labels."""
    t, p = _label_pair(y_true, y_pred)
    return float(np.mean(t == p))


def macro_f1(y_true: Any, y_pred: Any) -> float:
    """Unweighted mean of per-class F1 (scikit-learn ``f1_score(average="macro")``)."""
    f1, _ = _per_class_f1(*_label_pair(y_true, y_pred))
    return float(f1.mean())


def weighted_f1(y_true: Any, y_pred: Any) -> float:
    """Per-class F1 averaged with class support as weights (``average="weighted"``)."""
    f1, support = _per_class_f1(*_label_pair(y_true, y_pred))
    return float(f1 @ support / support.sum())


def _per_class_f1(t: np.ndarray, p: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """F1 = 2 TP / (2 TP + FP + FN) and support of every class in ``t`` or ``p`` (scikit-learn's
    label set), from two bincounts; stitching scores thousands of decodes."""
    classes, codes = np.unique(np.concatenate([t, p]), return_inverse=True)
    t_code, p_code = codes[: len(t)], codes[len(t) :]
    k = len(classes)
    support = np.bincount(t_code, minlength=k)
    predicted = np.bincount(p_code, minlength=k)
    tp = np.bincount(t_code[t_code == p_code], minlength=k)
    denom = support + predicted  # = 2 TP + FP + FN, > 0 for every class in the union
    return 2 * tp / denom, support


def _tensor(a: Any) -> torch.Tensor:
    t = a if isinstance(a, torch.Tensor) else torch.from_numpy(np.ascontiguousarray(a))
    return (t if t.is_floating_point() else t.to(torch.float64)).detach()


def _rowwise_pair(a: Any, b: Any, names: tuple[str, str]) -> tuple[torch.Tensor, torch.Tensor]:
    """Both inputs as (n, features) tensors with a's device and dtype; raises unless shapes match."""
    x, y = _tensor(a), _tensor(b)
    if x.shape != y.shape or x.ndim < 2 or x.shape[0] == 0:
        raise ValueError(
            f"{names[0]} and {names[1]} must have the same shape (n, ...) with n > 0 "
            f"(row i = sample i), got {tuple(x.shape)} and {tuple(y.shape)}"
        )
    return x.reshape(len(x), -1), y.to(device=x.device, dtype=x.dtype).reshape(len(y), -1)


def _row_means(x: torch.Tensor, y: torch.Tensor, *per_row) -> list[float]:
    """The mean over rows of each ``per_row(x_chunk, y_chunk)``, in one pass over the rows."""
    # Each row's value in the inputs' precision (float32 at least): it sums one row's features
    # only (relative error ~1e-7 in float32). The rows are summed in float64, where error
    # would grow with n. A float64 copy of the inputs made this 5x slower and changed the
    # results by ~1e-9; stitching computes these for every cell.
    if x.dtype not in (torch.float32, torch.float64):
        x, y = x.float(), y.float()
    totals = [0.0] * len(per_row)
    for s in range(0, len(x), _ROW_CHUNK):
        a, b = x[s : s + _ROW_CHUNK], y[s : s + _ROW_CHUNK]
        for i, fn in enumerate(per_row):
            totals[i] += float(fn(a, b).double().sum())
    return [total / len(x) for total in totals]


def _squared_error_sum(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    return torch.linalg.vector_norm(a - b, dim=1) ** 2


def _cosine(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    # F.cosine_similarity(a, b, eps=1e-12), from fast norm reductions: a zero row gives 0.
    norms = torch.linalg.vector_norm(a, dim=1) * torch.linalg.vector_norm(b, dim=1)
    return (a * b).sum(dim=1) / norms.clamp_min(1e-12)


def lcos(y_hat: Any, y: Any) -> float:
    """Latent cosine: mean over rows of cos(y_hat_i, y_i) (paper Table 8, ``lcos``)."""
    x, t = _rowwise_pair(y_hat, y, ("y_hat", "y"))
    return _row_means(x, t, _cosine)[0]


def lmse(y_hat: Any, y: Any) -> float:
    """Latent MSE: mean over all entries of (y_hat - y)^2 (paper Table 8, ``lmse``)."""
    x, t = _rowwise_pair(y_hat, y, ("y_hat", "y"))
    return _row_means(x, t, _squared_error_sum)[0] / x.shape[1]


def lcos_lmse(y_hat: Any, y: Any) -> tuple[float, float]:
    """``(lcos(y_hat, y), lmse(y_hat, y))`` in one pass over the rows (stitching scores both
    for every translated test set)."""
    x, t = _rowwise_pair(y_hat, y, ("y_hat", "y"))
    cos, sq = _row_means(x, t, _cosine, _squared_error_sum)
    return cos, sq / x.shape[1]


def rmse(x_hat: Any, x: Any) -> float:
    """Reconstruction MSE: mean over all entries (pixels, channels) of (x_hat - x)^2.

    The mean squared error, not its root: the paper's Table 8 column ``rmse`` reads
    "reconstruction MSE", and this keeps its name. Any shape (n, ...) works.
    """
    a, b = _rowwise_pair(x_hat, x, ("x_hat", "x"))
    return _row_means(a, b, _squared_error_sum)[0] / a.shape[1]


def retrieval(
    queries: Any,
    targets: Any,
    similarity: Literal["cosine", "csls"] = "cosine",
    k: int = 10,
    block_elements: int = _BLOCK_ELEMENTS,
) -> dict[str, float]:
    """Retrieve each query's true target (row i of ``targets``) among all n targets.

    Returns ``{"top1": fraction ranked first, "mrr": mean reciprocal rank}``. ``similarity``:
    ``"cosine"``, or ``"csls"`` (Conneau et al. 2018), 2 cos(q, t) - r_T(q) - r_Q(t), with
    r_Q(t) the mean cosine of target t to its ``k`` nearest queries; r_T(q) is the same for
    every target of a query, so it cannot change a rank and is not computed. Ties count
    against the query (rank = number of targets at least as similar as the true one), so a
    degenerate constant translation scores 1/n, not 1. Similarities are computed in blocks of
    at most ``block_elements`` entries in the inputs' dtype and device: memory is O(n d), never
    O(n^2).
    """
    if similarity not in ("cosine", "csls"):
        raise ValueError(f"unknown similarity {similarity!r}; valid: cosine, csls")
    if k < 1:
        raise ValueError(f"k must be >= 1, got {k}")
    q, t = _rowwise_pair(queries, targets, ("queries", "targets"))
    n = len(q)
    q, t = F.normalize(q, dim=1), F.normalize(t, dim=1)
    chunk = max(1, block_elements // n)
    penalty = None
    if similarity == "csls":
        k_eff = min(k, n)
        penalty = torch.cat(
            [(t[s : s + chunk] @ q.T).topk(k_eff, dim=1).values.mean(dim=1) for s in range(0, n, chunk)]
        )
    top1, rr = 0.0, 0.0
    for s in range(0, n, chunk):
        sims = q[s : s + chunk] @ t.T
        if penalty is not None:
            sims = 2 * sims - penalty
        rows = torch.arange(len(sims), device=sims.device)
        true = sims[rows, rows + s]
        rank = (sims >= true[:, None]).sum(dim=1).double()
        top1 += float((rank == 1).sum())
        rr += float((1.0 / rank).sum())
    return {"top1": top1 / n, "mrr": rr / n}
