"""Self-learning refinement: a translator fitted on a few anchors, improved with unpaired data.

Beyond the paper (its Figure 3 uses only parallel anchors). The recipe of word-embedding
alignment (MUSE, Conneau et al. 2018; VecMap, Artetxe et al. 2018): translate one space's
unpaired samples, mine the pairs that are mutual nearest neighbours under CSLS, refit on the
seed anchors plus the mined pairs, repeat.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch

from latentstitch.translate._array import Array, check_matrix, to_tensor

CRITERIA = ("csls", "nn")


class RefineWarning(UserWarning):
    """Refinement found nothing trustworthy and returned the translator it started from."""


@dataclass(frozen=True)
class MinedPairs:
    """Mutual nearest neighbours between translated ``x_pool`` rows and ``y_pool`` rows.

    ``x_index[p]`` and ``y_index[p]`` are pair p's rows; ``score[p]`` its criterion value
    (CSLS or cosine), pairs in decreasing score. ``mean_similarity`` is the mean cosine of the
    kept pairs. ``recomputed``: rows plus columns whose CSLS neighbour the one-pass bound could
    not settle, recomputed exactly (a measure of the extra cost; see ``mutual_neighbours``).
    """

    x_index: torch.Tensor
    y_index: torch.Tensor
    score: torch.Tensor
    mean_similarity: float
    recomputed: int = 0


def _normalized(z: torch.Tensor, scale: torch.Tensor) -> torch.Tensor:
    """Rows centered on their own mean, divided per feature by ``scale``, unit L2 norm."""
    z = (z - z.mean(dim=0)) / scale
    return z / z.norm(dim=1, keepdim=True).clamp_min(1e-12)


def _feature_scale(y: torch.Tensor, standardize: bool) -> torch.Tensor:
    if not standardize:
        return torch.ones(y.shape[1], dtype=y.dtype, device=y.device)
    std = y.std(dim=0)
    # A constant feature carries no information about the pairing; leave it unscaled.
    return torch.where(std > 1e-12 * std.max().clamp_min(1e-30), std, torch.ones_like(std))


def _merge_topk(
    vals: torch.Tensor, idx: torch.Tensor, new_vals: torch.Tensor, new_idx: torch.Tensor, k: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k per column of the union of two candidate sets, (k, m) each."""
    all_vals = torch.cat([vals, new_vals], dim=0)
    all_idx = torch.cat([idx, new_idx], dim=0)
    top_vals, where = torch.topk(all_vals, min(k, all_vals.shape[0]), dim=0)
    return top_vals, torch.gather(all_idx, 0, where)


def mutual_neighbours(
    a: torch.Tensor,
    b: torch.Tensor,
    *,
    criterion: str = "csls",
    k: int = 10,
    chunk_size: int = 2048,
) -> MinedPairs:
    """Exact mutual nearest neighbours between the rows of ``a`` (m1, d) and ``b`` (m2, d),
    both unit-norm, under cosine (``"nn"``) or CSLS (``"csls"``).

    CSLS (Conneau et al. 2018): ``2 cos(a_i, b_j) - r_b(a_i) - r_a(b_j)``, with ``r_b(a_i)`` the
    mean cosine of ``a_i``'s k nearest rows of ``b`` (and symmetrically); it penalizes hubs.
    One pass over the similarity matrix, ``chunk_size`` rows of ``a`` at a time (memory
    O(chunk_size * m2)), keeps each row's and each column's k most similar candidates and
    their r. CSLS's nearest neighbour of ``a_i`` is ``argmax_j 2 cos_ij - r_a(b_j)``; it is among
    the candidates unless a non-candidate, whose cosine is at most the k-th candidate's, could
    beat them: ``2 cos_(k) - min_j r_a(b_j) >= best``. Rows (columns) where that bound does not
    rule it out are recomputed against all of ``b`` (``a``), so the result is exact.
    """
    if criterion not in CRITERIA:
        raise ValueError(f"unknown criterion {criterion!r}; valid: {', '.join(CRITERIA)}")
    m1, m2 = a.shape[0], b.shape[0]
    kk = min(k, m1, m2)
    row_vals = torch.empty(m1, kk, dtype=a.dtype, device=a.device)
    row_idx = torch.empty(m1, kk, dtype=torch.long, device=a.device)
    col_vals = torch.full((0, m2), -torch.inf, dtype=a.dtype, device=a.device)
    col_idx = torch.zeros((0, m2), dtype=torch.long, device=a.device)
    for start in range(0, m1, chunk_size):
        sim = a[start : start + chunk_size] @ b.T
        row_vals[start : start + len(sim)], row_idx[start : start + len(sim)] = torch.topk(sim, kk, dim=1)
        cv, ci = torch.topk(sim, min(kk, len(sim)), dim=0)
        col_vals, col_idx = _merge_topk(col_vals, col_idx, cv, ci + start, kk)
    if criterion == "nn":
        r_a = torch.zeros(m1, dtype=a.dtype, device=a.device)  # penalty of each a row
        r_b = torch.zeros(m2, dtype=a.dtype, device=a.device)
    else:
        r_a, r_b = row_vals.mean(dim=1), col_vals.mean(dim=0)
    # Forward: a_i's best b among its candidates, score 2 cos - r_b(j) (r_a(i) is constant in j).
    fwd_scores = 2 * row_vals - r_b[row_idx]
    fwd_best, where = fwd_scores.max(dim=1)
    fwd = torch.gather(row_idx, 1, where[:, None])[:, 0]
    unsure = torch.nonzero(2 * row_vals[:, -1] - r_b.min() >= fwd_best).flatten() if kk < m2 else row_idx[:0, 0]
    recomputed = len(unsure)
    for start in range(0, len(unsure), chunk_size):
        rows = unsure[start : start + chunk_size]
        fwd[rows] = (2 * (a[rows] @ b.T) - r_b).argmax(dim=1)
    bwd_scores = 2 * col_vals - r_a[col_idx]
    bwd_best, where = bwd_scores.max(dim=0)
    bwd = torch.gather(col_idx, 0, where[None, :])[0]
    unsure = torch.nonzero(2 * col_vals[-1] - r_a.min() >= bwd_best).flatten() if kk < m1 else col_idx[0, :0]
    recomputed += len(unsure)
    for start in range(0, len(unsure), chunk_size):
        cols = unsure[start : start + chunk_size]
        bwd[cols] = (2 * (b[cols] @ a.T) - r_a).argmax(dim=1)
    x_index = torch.nonzero(bwd[fwd] == torch.arange(m1, device=a.device)).flatten()
    y_index = fwd[x_index]
    cos = (a[x_index] * b[y_index]).sum(dim=1)
    score = 2 * cos - r_a[x_index] - r_b[y_index]
    # Decreasing score; ties (equal scores) in x order, so the result is reproducible.
    order = torch.sort(score, descending=True, stable=True).indices
    return MinedPairs(
        x_index[order], y_index[order], score[order], float(cos.mean()) if len(cos) else float("nan"), recomputed
    )


PENALTIES = ("floor", "gcv")


def _fresh(translator: Any) -> Any:
    return type(translator)(**translator.get_params())


def _refit(
    fresh: Callable[[], Any],
    start: Any,
    xa: torch.Tensor,
    ya: torch.Tensor,
    xm: torch.Tensor,
    ym: torch.Tensor,
    penalty: str,
) -> Any:
    """The translator refitted on anchors (xa, ya) plus mined pairs (xm, ym); ridge's penalty
    as ``penalty`` says (see ``refine``)."""
    x, y = torch.cat([xa, xm]), torch.cat([ya, ym])
    t = fresh()
    floor = start.method == "ridge" and penalty == "floor" and start.alpha_ is not None and math.isfinite(start.alpha_)
    if floor:
        t._alpha_floor = float(start.alpha_)
    try:
        with warnings.catch_warnings():
            # Rank warnings about the mined pairs are refine's business, not the caller's (whose
            # own anchors were checked when the start was fitted); every round would repeat them.
            warnings.filterwarnings("ignore", message="degenerate anchors", category=UserWarning)
            return t.fit(x, y)
    finally:
        if floor:
            del t._alpha_floor  # a later fit of the result chooses its own penalty again


def refine(
    translator: Any,
    x_pool: Array,
    y_pool: Array,
    *,
    iterations: int = 5,
    anchors: tuple[Array, Array] | None = None,
    criterion: str = "csls",
    k: int = 10,
    max_pairs: int | None = None,
    threshold: float | None = None,
    standardize: bool = True,
    guard: bool = True,
    guard_folds: int = 3,
    guard_z: float = 2.0,
    guard_pool: int = 1000,
    guard_method: str | None = None,
    guard_tolerance: float = 0.02,
    guard_error_tolerance: float = 0.05,
    ridge_penalty: str = "floor",
    chunk_size: int = 2048,
) -> Any:
    """A new ``Translator`` with ``translator``'s settings, refitted on its anchors plus pairs
    mined from unpaired samples of each space (self-learning; beyond the paper).

    ``x_pool`` (m1, d1) and ``y_pool`` (m2, d2) are samples of X and Y with no correspondence
    assumed (sizes may differ; the anchors may or may not be among them). Each round translates
    ``x_pool``, mines the mutual nearest neighbours of the translations among ``y_pool`` (see
    ``mutual_neighbours``; similarities are cosines after centering each side on its own mean
    and, with ``standardize``, dividing each feature by ``y_pool``'s std), keeps those with
    score >= ``threshold`` (if given), at most ``max_pairs`` of the best (if given), and refits
    on the anchors plus the kept pairs. The anchors are always kept. Rounds stop early when
    the mined pairs equal the previous round's.

    Guard (``guard=True``, needs 3 anchors or more): mined pairs are only as good as the
    start that mined them, and a translator that mined its own pairs fits them, so the check
    holds anchors out of the whole process. In each of ``guard_folds`` folds over the anchors,
    a start fitted without the fold is refined (same rounds and mining, on at most
    ``guard_pool`` evenly spaced rows of each pool) and scored on the fold: per held-out
    anchor, cosine of its translation to its own y minus mean cosine to the other anchors' y
    (zero in expectation when the refinement is unrelated to the true pairing). The result
    is trusted when that score averages (i) at least ``guard_z`` standard errors above zero,
    (ii) no less than the fold starts' score minus ``guard_tolerance``, and (iii) the squared
    error of the held-out translations (in ``y_pool``'s standardized coordinates: the cosine
    score is blind to a translation of the wrong size, a decoder is not) is at most
    ``1 + guard_error_tolerance`` times the fold starts'. (iii) catches a collapse seen on real
    pairs: ridge refitted on anchors + mined pairs in a space of higher dim than their number
    chose a vanishing penalty, interpolated its own mined pairs and translated at twice the
    right norm. Otherwise a
    ``RefineWarning`` names the failed check and a copy of the start is returned. The folds
    refit with ``guard_method`` (default: the translator's own; ``"ortho"`` is a cheap
    surrogate for ``affine``, whose fits dominate the check's cost otherwise).

    ``ridge_penalty`` (``ridge`` only): how each refit chooses its penalty. ``"floor"``
    (default): by GCV over anchors and mined pairs, but never below the start's (chosen on the
    anchors alone). ``"gcv"``: by GCV alone. Mined pairs are noisier than anchors, which calls
    for more shrinkage, not less, yet they are what the current translator maps close together,
    so GCV, which leaves rows out one at a time, finds them easy and picks a vanishing penalty;
    with fewer rows than dims the refit then interpolates its own pairs. Measured on
    Fashion-MNIST (EfficientNet-Lite0 -> Lite1, 1,280-d, 25-100 anchors): ``"gcv"`` chose
    penalties near 0.001 and lost up to 10 points of accuracy to the plain start, while the
    floor gained 9-28 points (benchmarks/README.md, "ridge's penalty in refine").

    ``anchors``: the parallel anchors (x, y) ``translator`` was fitted on; default, the ones
    ``Translator.fit`` recorded (a loaded translator has none: pass them).

    The result carries ``refine_history_``: one dict per round (``round``, ``pairs``: number
    of mined pairs kept, ``mean_similarity``: their mean cosine, ``changed``: whether they
    differ from the previous round's); ``refine_accepted_`` (bool) and ``refine_guard_`` (the
    guard's numbers). Deterministic: same inputs and settings, same result.

    Raises ValueError for pools that are not 2-D, non-finite, or of the wrong dim, for an
    unknown criterion, and for non-positive ``iterations``, ``k``, ``max_pairs``,
    ``chunk_size``; TypeError for non-float pools.
    """
    if not hasattr(translator, "coef_"):
        raise ValueError("refine needs a fitted translator: call fit(x_anchors, y_anchors) first")
    if criterion not in CRITERIA:
        raise ValueError(f"unknown criterion {criterion!r}; valid: {', '.join(CRITERIA)}")
    for name, value in (
        ("iterations", iterations),
        ("k", k),
        ("chunk_size", chunk_size),
        ("guard_folds", guard_folds),
        ("guard_pool", guard_pool),
    ):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive int, got {value!r}")
    if ridge_penalty not in PENALTIES:
        raise ValueError(f"unknown ridge_penalty {ridge_penalty!r}; valid: {', '.join(PENALTIES)}")
    if max_pairs is not None and (isinstance(max_pairs, bool) or not isinstance(max_pairs, int) or max_pairs < 1):
        raise ValueError(f"max_pairs must be a positive int or None, got {max_pairs!r}")
    if anchors is None:
        anchors = getattr(translator, "_anchors", None)
        if anchors is None:
            raise ValueError(
                "refine needs the anchors the translator was fitted on: this translator has none "
                "recorded (loaded from a file, or fitted by fit_translators); pass anchors=(x, y)"
            )
    xa, _ = to_tensor(anchors[0], "x anchors")
    ya, _ = to_tensor(anchors[1], "y anchors")
    xp, _ = to_tensor(x_pool, "x_pool")
    yp, _ = to_tensor(y_pool, "y_pool")
    check_matrix(xp, "x_pool", min_rows=2)
    check_matrix(yp, "y_pool", min_rows=2)
    d1, d2 = translator.n_features_in_, translator.n_features_out_
    for name, t, d, side in (
        ("x anchors", xa, d1, "x"),
        ("y anchors", ya, d2, "y"),
        ("x_pool", xp, d1, "x"),
        ("y_pool", yp, d2, "y"),
    ):
        if t.ndim != 2 or t.shape[1] != d:
            raise ValueError(f"{name} must have shape (m, {d}) (the translator's {side} dim), got {tuple(t.shape)}")
    if xa.shape[0] != ya.shape[0]:
        raise ValueError(f"anchors must be parallel, got x {tuple(xa.shape)} and y {tuple(ya.shape)}")

    device = xp.device
    xa, ya = xa.detach().to(device), ya.detach().to(device)
    settings = {
        "criterion": criterion,
        "k": k,
        "max_pairs": max_pairs,
        "threshold": threshold,
        "standardize": standardize,
        "chunk_size": chunk_size,
    }
    miner = _Miner(xp.detach(), yp.detach().to(device), **settings)
    current, history, last = _self_learn(
        translator, lambda: _fresh(translator), xa, ya, miner, iterations, ridge_penalty
    )

    guard_info: dict[str, Any] = {}
    accepted = last is not None
    reason = "mining found no mutual nearest neighbours" if not accepted else ""
    if accepted and guard:
        accepted, reason, guard_info = _guard(
            translator,
            xa,
            ya,
            miner,
            iterations,
            settings,
            guard_method,
            guard_folds,
            guard_pool,
            guard_z,
            guard_tolerance,
            guard_error_tolerance,
            ridge_penalty,
        )
    if not accepted:
        warnings.warn(f"refine returned the start translator: {reason}", RefineWarning, stacklevel=2)
        current = copy.deepcopy(translator)
    # Refining the result again starts from the given anchors, not from anchors + mined pairs.
    current._anchors = (anchors[0], anchors[1])
    current.refine_history_ = history
    current.refine_accepted_ = accepted
    current.refine_guard_ = guard_info
    return current


class _Miner:
    """Mines pairs between a translator's image of ``x`` and ``y`` (see ``refine``)."""

    def __init__(
        self,
        x: torch.Tensor,
        y: torch.Tensor,
        *,
        criterion: str,
        k: int,
        max_pairs: int | None,
        threshold: float | None,
        standardize: bool,
        chunk_size: int,
    ) -> None:
        self.x, self.y = x, y
        self.work = torch.float64 if x.dtype == torch.float64 else torch.float32
        y_w = y.to(self.work)
        self.y_center = y_w.mean(dim=0)
        self.y_scale = _feature_scale(y_w, standardize)
        self.y_unit = _normalized(y_w, self.y_scale)
        self.criterion, self.k, self.chunk_size = criterion, k, chunk_size
        self.max_pairs, self.threshold = max_pairs, threshold

    def __call__(self, t: Any) -> MinedPairs:
        pred = _normalized(torch.as_tensor(t.transform(self.x)).to(self.work), self.y_scale)
        pairs = mutual_neighbours(pred, self.y_unit, criterion=self.criterion, k=self.k, chunk_size=self.chunk_size)
        keep = torch.ones(len(pairs.score), dtype=torch.bool, device=pred.device)
        if self.threshold is not None:
            keep &= pairs.score >= self.threshold
        if self.max_pairs is not None:
            keep &= torch.arange(len(keep), device=pred.device) < self.max_pairs
        if bool(keep.all()):
            return pairs
        cos = (pred[pairs.x_index[keep]] * self.y_unit[pairs.y_index[keep]]).sum(dim=1)
        return MinedPairs(
            pairs.x_index[keep],
            pairs.y_index[keep],
            pairs.score[keep],
            float(cos.mean()) if len(cos) else float("nan"),
            pairs.recomputed,
        )

    def unit(self, y: torch.Tensor) -> torch.Tensor:
        """Rows of Y's space, centered on the pool's mean and scaled as the pool, unit norm."""
        z = (y.to(self.work) - self.y_center) / self.y_scale
        return z / z.norm(dim=1, keepdim=True).clamp_min(1e-12)


def _self_learn(
    start: Any,
    fresh: Callable[[], Any],
    xa: torch.Tensor,
    ya: torch.Tensor,
    mine: _Miner,
    iterations: int,
    penalty: str = "floor",
) -> tuple[Any, list[dict], MinedPairs | None]:
    """The rounds of ``refine``: the last translator, the history, the last pairs fitted on."""
    current, history, previous, last = start, [], None, None
    for round_ in range(1, iterations + 1):
        pairs = mine(current)
        key = (pairs.x_index.tolist(), pairs.y_index.tolist())
        changed = key != previous
        history.append(
            {"round": round_, "pairs": len(pairs.score), "mean_similarity": pairs.mean_similarity, "changed": changed}
        )
        if len(pairs.score) == 0 or not changed:
            break
        xm = mine.x[pairs.x_index].to(device=xa.device, dtype=xa.dtype)
        ym = mine.y[pairs.y_index].to(device=ya.device, dtype=ya.dtype)
        current, previous, last = _refit(fresh, start, xa, ya, xm, ym, penalty), key, pairs
    return current, history, last


def _guard(
    translator: Any,
    xa: torch.Tensor,
    ya: torch.Tensor,
    miner: _Miner,
    iterations: int,
    settings: dict,
    method: str | None,
    folds: int,
    pool: int,
    z_min: float,
    tolerance: float,
    error_tolerance: float,
    penalty: str = "floor",
) -> tuple[bool, str, dict[str, Any]]:
    """``refine``'s held-out check: (accepted, reason if not, the numbers)."""
    n = len(xa)
    if n < 3:
        return True, "", {"skipped": f"{n} anchors: cross-validation needs at least 3"}
    params = translator.get_params()
    if method is not None:
        params["method"] = method

    def surrogate():
        return type(translator)(**params)

    sub_x = _evenly(len(miner.x), pool, miner.x.device)
    sub_y = _evenly(len(miner.y), pool, miner.y.device)
    sub = _Miner(miner.x[sub_x], miner.y[sub_y], **settings)
    n_folds = min(folds, n)
    fold_of = torch.arange(n, device=xa.device) % n_folds
    start_scores = torch.empty(n, dtype=miner.work, device=xa.device)
    refined_scores = torch.empty(n, dtype=miner.work, device=xa.device)
    # Squared error in the pool's standardized coordinates: the cosine score cannot see a
    # translation of the right direction and the wrong size, which a decoder can.
    start_errors = torch.empty(n, dtype=miner.work, device=xa.device)
    refined_errors = torch.empty(n, dtype=miner.work, device=xa.device)
    for f in range(n_folds):
        test, train = fold_of == f, fold_of != f
        start_f = surrogate().fit(xa[train], ya[train])
        refined_f, _, _ = _self_learn(start_f, surrogate, xa[train], ya[train], sub, iterations, penalty)
        distractors = miner.unit(ya[train])
        for t, out, err in ((start_f, start_scores, start_errors), (refined_f, refined_scores, refined_errors)):
            raw = torch.as_tensor(t.transform(xa[test]))
            pred = miner.unit(raw)
            out[test] = (pred * miner.unit(ya[test])).sum(dim=1) - (pred @ distractors.T).mean(dim=1)
            err[test] = (((raw.to(miner.work) - ya[test].to(miner.work)) / miner.y_scale) ** 2).sum(dim=1)
    mean = float(refined_scores.mean())
    se = float(refined_scores.std()) / n**0.5
    z = mean / se if se > 0 else (float("inf") if mean > 0 else 0.0)
    start_error, refined_error = float(start_errors.mean()), float(refined_errors.mean())
    info = {
        "method": params["method"],
        "folds": n_folds,
        "pool": [len(sub_x), len(sub_y)],
        "start_score": float(start_scores.mean()),
        "refined_score": mean,
        "refined_z": z,
        "start_error": start_error,
        "refined_error": refined_error,
    }
    if not z >= z_min:
        return (
            False,
            (
                f"refined without a held-out anchor, it predicts that anchor no better than chance "
                f"(score {mean:.3f}, z = {z:.2f} < {z_min}; {n_folds}-fold over {n} anchors)"
            ),
            info,
        )
    if mean < info["start_score"] - tolerance:
        return (
            False,
            (
                f"refined without a held-out anchor, it predicts that anchor worse ({mean:.3f}) than "
                f"the start does ({info['start_score']:.3f}; {n_folds}-fold over {n} anchors)"
            ),
            info,
        )
    if refined_error > (1 + error_tolerance) * start_error:
        return (
            False,
            (
                f"refined without a held-out anchor, it translates that anchor with a larger error "
                f"({refined_error:.3g}) than the start does ({start_error:.3g}; {n_folds}-fold over {n} anchors)"
            ),
            info,
        )
    return True, "", info


def _evenly(size: int, at_most: int, device: torch.device) -> torch.Tensor:
    """``min(size, at_most)`` evenly spaced row indices (deterministic, no seed needed)."""
    if size <= at_most:
        return torch.arange(size, device=device)
    return torch.linspace(0, size - 1, at_most, device=device).round().long().unique()
