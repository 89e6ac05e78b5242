"""A translator from no parallel anchors at all: pairs guessed from each space's own geometry.

Beyond the paper (issue 15's zero-anchor stretch). The fully unsupervised start of VecMap
(Artetxe, Labaka and Agirre, ACL 2018, "A robust self-learning method for fully unsupervised
cross-lingual mappings of word embeddings", Section 3.2): if two spaces embed the same items
up to an isometry, an item's similarities to all the others are the same list in both spaces,
in another order. Sorting each row of each space's similarity matrix removes the order, so an
item's sorted row is a signature comparable across spaces whatever their dims; the mutual
nearest neighbours of the signatures under CSLS are the guessed pairs. A translator fitted
on them is the start that ``refine`` improves. It needs both pools to sample the same items or
the same distribution (here: the same train split, shuffled differently per space), and it
fails where the spaces are far from isometric; ``unsupervised_start`` says how many pairs
it found and their signature score, not whether they are right (nothing can, without anchors).
"""

from __future__ import annotations

from typing import Any

import torch

from latentstitch.translate._array import Array, check_matrix, to_tensor
from latentstitch.translate.refine import mutual_neighbours


def _signatures(z: torch.Tensor, standardize: bool) -> torch.Tensor:
    """Sorted rows of the square root of z's (normalized) similarity matrix, normalized."""
    if standardize:
        std = z.std(dim=0)
        z = (z - z.mean(dim=0)) / torch.where(std > 1e-12 * std.max().clamp_min(1e-30), std, torch.ones_like(std))
    z = z / z.norm(dim=1, keepdim=True).clamp_min(1e-12)
    z = z - z.mean(dim=0)
    z = z / z.norm(dim=1, keepdim=True).clamp_min(1e-12)
    # sqrt(z z^T) = U S U^T (VecMap): flattens the spectrum's decay, so that the signatures
    # depend less on how each encoder weighs its leading directions.
    u, s, _ = torch.linalg.svd(z, full_matrices=False)
    sim = (u * s) @ u.T
    sim = torch.sort(sim, dim=1).values
    sim = sim - sim.mean(dim=0)
    return sim / sim.norm(dim=1, keepdim=True).clamp_min(1e-12)


def _evenly(size: int, at_most: int) -> torch.Tensor:
    if size <= at_most:
        return torch.arange(size)
    return torch.linspace(0, size - 1, at_most).round().long().unique()


def unsupervised_pairs(
    x_pool: Array, y_pool: Array, *, sample: int = 4000, k: int = 10, standardize: bool = False
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pairs (x_index, y_index, score) of rows of ``x_pool`` and ``y_pool`` guessed without
    anchors: mutual nearest neighbours under CSLS (``k`` neighbours) of the rows' similarity
    signatures (see the module's docstring), among at most ``sample`` evenly spaced rows of each
    pool (the signatures cost O(sample^2) memory and an SVD of each sample). Indices are into
    the pools; pairs in decreasing score. Deterministic.

    ``standardize``: divide each feature by its std (after centering) before the signatures,
    for spaces whose features have unrelated scales (a per-feature rescaling is not an
    isometry). Off by default, as VecMap: measured on the offline zoo it helped BBC News
    (MiniLM-L6 -> MPNet, ortho refined 0.816 -> 0.861) and hurt Fashion-MNIST
    (EfficientNet-Lite0 -> Lite1, ridge refined 0.685 -> 0.602; benchmarks/README.md,
    "Zero anchors")."""
    xp, _ = to_tensor(x_pool, "x_pool")
    yp, _ = to_tensor(y_pool, "y_pool")
    check_matrix(xp, "x_pool", min_rows=2)
    check_matrix(yp, "y_pool", min_rows=2)
    for name, value in (("sample", sample), ("k", k)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 2:
            raise ValueError(f"{name} must be an int >= 2, got {value!r}")
    rows_x, rows_y = _evenly(len(xp), sample), _evenly(len(yp), sample)
    sx = _signatures(xp[rows_x.to(xp.device)].detach().to(torch.float64), standardize)
    sy = _signatures(yp[rows_y.to(yp.device)].detach().to(torch.float64).to(sx.device), standardize)
    # Signatures of samples of different sizes have different lengths: compare them at the
    # same quantiles of each sorted row.
    if sx.shape[1] != sy.shape[1]:
        m = min(sx.shape[1], sy.shape[1])
        sx = _quantiles(sx, m)
        sy = _quantiles(sy, m)
    pairs = mutual_neighbours(sx, sy, criterion="csls", k=k)
    return rows_x.to(xp.device)[pairs.x_index.cpu()], rows_y.to(yp.device)[pairs.y_index.cpu()], pairs.score


def _quantiles(s: torch.Tensor, m: int) -> torch.Tensor:
    at = torch.linspace(0, s.shape[1] - 1, m, dtype=torch.float64, device=s.device).round().long()
    s = s[:, at]
    s = s - s.mean(dim=0)
    return s / s.norm(dim=1, keepdim=True).clamp_min(1e-12)


def unsupervised_start(
    method: str,
    x_pool: Array,
    y_pool: Array,
    *,
    scaling: str = "standard",
    sample: int = 4000,
    k: int = 10,
    standardize: bool = False,
    **settings: Any,
) -> Any:
    """A ``Translator(method, scaling, **settings)`` fitted on ``unsupervised_pairs(x_pool,
    y_pool, sample=sample, k=k, standardize=standardize)``, ready for ``refine(t, x_pool, y_pool)`` (which refits on mined pairs alone: it
    has no parallel anchors to keep, and its guard, which holds anchors out, is skipped).

    The result carries ``unsupervised_pairs_`` (the number of guessed pairs) and
    ``unsupervised_score_`` (their mean CSLS score between signatures). Raises ValueError when
    no pair is found (then there is nothing to start from)."""
    from latentstitch.translate.translator import Translator

    t = Translator(method, scaling, **settings)  # bad settings fail before the work
    xi, yi, score = unsupervised_pairs(x_pool, y_pool, sample=sample, k=k, standardize=standardize)
    if len(xi) < 2:
        raise ValueError(
            f"unsupervised_start found {len(xi)} mutual pair(s) between the pools' signatures: nothing to fit"
        )
    xp, _ = to_tensor(x_pool, "x_pool")
    yp, _ = to_tensor(y_pool, "y_pool")
    t.fit(xp[xi], yp[yi])
    # No parallel anchors: refine keeps none and refits on what it mines.
    t._anchors = (xp[:0], yp[:0])
    t.unsupervised_pairs_ = len(xi)
    t.unsupervised_score_ = float(score.mean())
    return t
