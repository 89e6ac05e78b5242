"""Representation similarity between two spaces encoding the same samples: x (n, d1), y (n, d2).

Each measure is a plain function of the two point clouds (numpy arrays or torch tensors in,
a Python float out). Like ``latentstitch.translate`` it imports nothing else from the
project beyond the translation library's input checks, so it works on anyone's embeddings.

The linear measures (CKA, Procrustes, SVCCA) depend on the data only through the centered
second moments ``Sxx = Xc^T Xc`` (d1, d1), ``Syy`` and ``Sxy = Xc^T Yc`` (d1, d2), which are
accumulated in float64 over row chunks, so memory is O(chunk * d + d^2), never O(n^2) nor a
float64 copy of the data. ``mutual_knn`` needs nearest neighbours: it compares each chunk
of rows with all rows (O(chunk * n) memory, plus one float64 copy of the normalized rows).
``similarities`` computes all of them sharing one pass over the data.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import torch

from latentstitch.translate._array import Array, check_matrix, to_tensor

# Rows per chunk: 2,048 x 1,280 float64 is 21 MB; the n x chunk similarity block of
# mutual_knn is 80 MB at n = 10,000.
CHUNK = 2048
MEASURES = ("cka", "cka_debiased", "procrustes", "svcca", "mutual_knn")


def _pair(x: Array, y: Array, *, min_rows: int = 2) -> tuple[torch.Tensor, torch.Tensor]:
    xt, _ = to_tensor(x, "x")
    yt, _ = to_tensor(y, "y")
    check_matrix(xt, "x", min_rows=min_rows)
    check_matrix(yt, "y", min_rows=min_rows)
    if xt.shape[0] != yt.shape[0]:
        raise ValueError(
            f"x and y must encode the same samples (same number of rows), got x {tuple(xt.shape)} "
            f"and y {tuple(yt.shape)}"
        )
    return xt.detach(), yt.detach().to(xt.device)


class _Moments(NamedTuple):
    """Centered float64 second moments of (x, y), and each centered row's squared norm."""

    n: int
    sxx: torch.Tensor  # (d1, d1)
    syy: torch.Tensor  # (d2, d2)
    sxy: torch.Tensor  # (d1, d2)
    row_sq_x: torch.Tensor  # (n,)
    row_sq_y: torch.Tensor  # (n,)


def _moments(x: torch.Tensor, y: torch.Tensor, chunk: int = CHUNK) -> _Moments:
    n = x.shape[0]
    f64 = dict(dtype=torch.float64, device=x.device)
    mx = sum(x[i : i + chunk].to(**f64).sum(dim=0) for i in range(0, n, chunk)) / n
    my = sum(y[i : i + chunk].to(**f64).sum(dim=0) for i in range(0, n, chunk)) / n
    sxx = torch.zeros(x.shape[1], x.shape[1], **f64)
    syy = torch.zeros(y.shape[1], y.shape[1], **f64)
    sxy = torch.zeros(x.shape[1], y.shape[1], **f64)
    rx, ry = torch.empty(n, **f64), torch.empty(n, **f64)
    for i in range(0, n, chunk):
        xc, yc = x[i : i + chunk].to(**f64) - mx, y[i : i + chunk].to(**f64) - my
        sxx.addmm_(xc.T, xc)
        syy.addmm_(yc.T, yc)
        sxy.addmm_(xc.T, yc)
        rx[i : i + chunk], ry[i : i + chunk] = (xc * xc).sum(dim=1), (yc * yc).sum(dim=1)
    return _Moments(n, sxx, syy, sxy, rx, ry)


def _debiased(xty_sq: float, rx: torch.Tensor, ry: torch.Tensor, n: int) -> float:
    # Song et al. (2012)'s unbiased HSIC of centered linear kernels, times n (n - 3), written
    # in feature space (Kornblith et al.'s reference code, `_debiased_dot_product_similarity_helper`).
    return float(xty_sq - n / (n - 2.0) * (rx @ ry) + rx.sum() * ry.sum() / ((n - 1.0) * (n - 2.0)))


def _cka(m: _Moments, debiased: bool) -> float:
    xy = float((m.sxy * m.sxy).sum())
    xx = float((m.sxx * m.sxx).sum())
    yy = float((m.syy * m.syy).sum())
    if debiased:
        xy = _debiased(xy, m.row_sq_x, m.row_sq_y, m.n)
        xx = _debiased(xx, m.row_sq_x, m.row_sq_x, m.n)
        yy = _debiased(yy, m.row_sq_y, m.row_sq_y, m.n)
    if xx <= 0 or yy <= 0:
        raise ValueError("CKA is undefined when a space has no variance (all rows equal after centering)")
    return xy / math.sqrt(xx * yy)


def _procrustes(m: _Moments) -> float:
    norm = math.sqrt(float(m.sxx.trace()) * float(m.syy.trace()))
    if norm <= 0:
        raise ValueError("the Procrustes distance is undefined when a space has no variance")
    nuclear = float(torch.linalg.svdvals(m.sxy).sum())
    return math.acos(min(1.0, max(-1.0, nuclear / norm)))


def _principal(s: torch.Tensor, keep: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Eigenvalues and eigenvectors of ``s`` that explain a ``keep`` fraction of its trace."""
    values, vectors = torch.linalg.eigh(s)
    values, vectors = values.flip(0).clamp_min(0), vectors.flip(1)
    explained = torch.cumsum(values, 0) / values.sum()
    k = int(torch.searchsorted(explained, torch.tensor(keep, dtype=explained.dtype) - 1e-12)) + 1
    k = min(k, int((values > values[0] * 1e-12).sum()))  # never a null direction
    return values[:k], vectors[:, :k]


def _svcca(m: _Moments, keep: float) -> float:
    if float(m.sxx.trace()) <= 0 or float(m.syy.trace()) <= 0:
        raise ValueError("SVCCA is undefined when a space has no variance")
    ex, vx = _principal(m.sxx, keep)
    ey, vy = _principal(m.syy, keep)
    # In the principal coordinates each side's covariance is diagonal, so whitening is a
    # division; the singular values of the whitened cross-covariance are the canonical correlations.
    whitened = (vx.T @ m.sxy @ vy) / ex.sqrt()[:, None] / ey.sqrt()[None, :]
    return float(torch.linalg.svdvals(whitened).clamp(0, 1).mean())


def _check_k(k: int, n: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= n - 1:
        raise ValueError(f"k must be an int in [1, n - 1] = [1, {n - 1}] (neighbours other than the point), got {k!r}")


def _check_keep(keep: float) -> None:
    if isinstance(keep, bool) or not isinstance(keep, (int, float)) or not 0 < keep <= 1:
        raise ValueError(f"keep must be a fraction of variance in (0, 1], got {keep!r}")


def _knn(x: torch.Tensor, k: int, chunk: int) -> torch.Tensor:
    """Indices (n, k) of each row's k nearest other rows by cosine similarity."""
    xn = x.to(torch.float64)
    xn = xn / xn.norm(dim=1, keepdim=True).clamp_min(1e-300)
    n = x.shape[0]
    out = torch.empty(n, k, dtype=torch.long, device=x.device)
    for i in range(0, n, chunk):
        sims = xn[i : i + chunk] @ xn.T
        rows = torch.arange(i, min(i + chunk, n), device=x.device)
        sims[rows - i, rows] = -math.inf  # a point is not its own neighbour
        out[i : i + chunk] = sims.topk(k, dim=1).indices
    return out


def linear_cka(x: Array, y: Array, debiased: bool = False) -> float:
    """Linear centered kernel alignment (Kornblith et al., ICML 2019), in [0, 1].

    With ``Xc``, ``Yc`` the column-centered data: ``CKA = ||Xc^T Yc||_F^2 / (||Xc^T Xc||_F
    ||Yc^T Yc||_F)``, i.e. HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)) for the linear kernels
    K = X X^T, L = Y Y^T. Invariant to orthogonal transforms and isotropic scaling of either
    space (not to general invertible linear maps); 1 for identical spaces.

    ``debiased=True``: every HSIC is Song et al. (2012)'s unbiased estimator (as in Murphy et
    al. 2024 / Kornblith's reference code): with K~ = K with a zeroed diagonal,
    ``HSIC_u = [tr(K~ L~) + 1^T K~ 1 1^T L~ 1 / ((n-1)(n-2)) - 2/(n-2) 1^T K~ L~ 1] / (n(n-3))``,
    which removes the upward bias of CKA when d is large relative to n. Needs n >= 4.

    x (n, d1), y (n, d2): numpy or torch, float. Raises TypeError for non-float input,
    ValueError for non-2-D or non-finite input, different n, too few rows, or a space with no variance.
    """
    xt, yt = _pair(x, y, min_rows=4 if debiased else 2)
    return _cka(_moments(xt, yt), debiased)


def procrustes_distance(x: Array, y: Array) -> float:
    """Angular Procrustes distance (Williams et al., NeurIPS 2021), in [0, pi/2] radians.

    Center each space, zero-pad the smaller to max(d1, d2) columns, and align by the best
    orthogonal map Q: ``d = arccos(max_Q <Xc Q, Yc>_F / (||Xc||_F ||Yc||_F)) = arccos(||Xc^T
    Yc||_* / (||Xc||_F ||Yc||_F))`` (the maximum is the nuclear norm, unchanged by the zero
    padding). This is netrep's ``LinearMetric(alpha=1, center_columns=True, zero_pad=True,
    score_method="angular")`` fitted and scored on the same samples. 0 for identical spaces;
    invariant to orthogonal transforms and isotropic scaling of either space.

    Raises as ``linear_cka``.
    """
    xt, yt = _pair(x, y)
    return _procrustes(_moments(xt, yt))


def svcca(x: Array, y: Array, keep: float = 0.99) -> float:
    """Singular vector CCA (Raghu et al., NeurIPS 2017): the mean canonical correlation, in [0, 1].

    SVD step: center each space and keep its top principal directions that explain a ``keep``
    fraction of its variance (the fewest k with sum_{i<=k} s_i^2 >= keep * sum s_i^2). CCA
    step: the canonical correlations rho_1 >= ... >= rho_m (m = min(kx, ky)) of the reduced
    spaces are the singular values of ``Sxx^{-1/2} Sxy Syy^{-1/2}`` computed there; the
    result is ``mean(rho)``. 1 for identical spaces (and for any invertible linear map when
    ``keep=1``). ``keep`` in (0, 1]. Raises as ``linear_cka`` and ValueError for a bad ``keep``.
    """
    _check_keep(keep)
    xt, yt = _pair(x, y)
    return _svcca(_moments(xt, yt), keep)


def mutual_knn(x: Array, y: Array, k: int = 10) -> float:
    """Mutual k-nearest-neighbour alignment (Huh et al., ICML 2024, "The Platonic
    Representation Hypothesis"), in [0, 1].

    For each sample i, N_x(i) is the set of its k nearest other samples by cosine similarity
    in x (N_y(i) likewise in y); the result is ``mean_i |N_x(i) & N_y(i)| / k``. 1 for
    identical spaces (barring ties); invariant to orthogonal transforms and to rescaling
    any row. Cost O(n^2 (d1 + d2)), in row chunks. ``k`` in [1, n - 1].
    Raises as ``linear_cka`` and ValueError for a bad ``k``.
    """
    xt, yt = _pair(x, y)
    _check_k(k, xt.shape[0])
    return _mutual_knn(xt, yt, k, CHUNK)


def _mutual_knn(x: torch.Tensor, y: torch.Tensor, k: int, chunk: int) -> float:
    nx, ny = _knn(x, k, chunk), _knn(y, k, chunk)
    # shared neighbours per row: compare the two k-lists pairwise (n k^2 booleans)
    shared = (nx.unsqueeze(2) == ny.unsqueeze(1)).any(dim=2).sum(dim=1)
    return float(shared.double().mean() / k)


def similarities(
    x: Array, y: Array, *, k: int = 10, keep: float = 0.99, measures: tuple[str, ...] = MEASURES
) -> dict[str, float]:
    """Several measures at once, sharing one pass over the data: ``{"cka", "cka_debiased",
    "procrustes", "svcca", "mutual_knn"}`` (each as its function; ``measures`` picks).
    ``cka_debiased`` is skipped (absent) for n < 4, ``mutual_knn`` for n <= k."""
    unknown = [m for m in measures if m not in MEASURES]
    if unknown:
        raise ValueError(f"unknown measure(s) {unknown}; valid: {', '.join(MEASURES)}")
    _check_keep(keep)
    xt, yt = _pair(x, y)
    n = xt.shape[0]
    out: dict[str, float] = {}
    if set(measures) - {"mutual_knn"}:
        m = _moments(xt, yt)
        if "cka" in measures:
            out["cka"] = _cka(m, False)
        if "cka_debiased" in measures and n >= 4:
            out["cka_debiased"] = _cka(m, True)
        if "procrustes" in measures:
            out["procrustes"] = _procrustes(m)
        if "svcca" in measures:
            out["svcca"] = _svcca(m, keep)
    if "mutual_knn" in measures and n > k:
        _check_k(k, n)
        out["mutual_knn"] = _mutual_knn(xt, yt, k, CHUNK)
    return {name: out[name] for name in measures if name in out}
