"""Pure functions that estimate the map T between two spaces (paper Section 3.2).

Convention: rows are samples and maps act on the right, ``y ~ x @ R (+ b)`` with ``R`` of shape
(d1, d2). Each public function takes numpy arrays or torch tensors, computes in the input's
dtype and device, and returns the same kind. The underscored twins take already checked
tensors; ``Translator`` composes those.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Sequence

import torch
import torch.nn.functional as F

from latentstitch.translate._array import Array, all_finite, check_matrix, normalize_rows, rescaled, to_tensor

# Ridge penalties are searched on this grid times the largest squared singular value of the
# centered source, so the search is scale free: from ~least squares (1e-8) to ~predicting the
# mean (1e2), 10 points per decade. GCV costs O(k) per grid point, so a fine grid is free.
RIDGE_GRID = torch.logspace(-8, 2, 101, dtype=torch.float64)


def _paired(x: Array, y: Array, *, min_rows: int = 1) -> tuple[torch.Tensor, torch.Tensor, object]:
    xt, back = to_tensor(x, "x")
    yt, _ = to_tensor(y, "y")
    check_matrix(xt, "x", min_rows=min_rows)
    check_matrix(yt, "y", min_rows=min_rows)
    if xt.shape[0] != yt.shape[0]:
        raise ValueError(
            f"x and y must have the same number of rows (parallel anchors), got x {tuple(xt.shape)} "
            f"and y {tuple(yt.shape)}"
        )
    if yt.dtype != xt.dtype or yt.device != xt.device:
        yt = yt.to(dtype=xt.dtype, device=xt.device)
    return xt, yt, back


def _finite(t: torch.Tensor, what: str) -> torch.Tensor:
    if not all_finite(t):
        raise ValueError(
            f"{what} gave NaN or inf for these inputs (their magnitude is beyond what a "
            f"{str(t.dtype).removeprefix('torch.')} solve holds); rescale them or pass float64"
        )
    return t


def zero_pad(x: Array, dim: int) -> Array:
    """``x`` (n, d) with ``dim - d`` zero columns appended (Williams et al., 2021); d <= dim."""
    xt, back = to_tensor(x, "x")
    if xt.ndim != 2 or xt.shape[1] > dim:
        raise ValueError(f"zero_pad needs a 2-D x with at most {dim} columns, got shape {tuple(xt.shape)}")
    return back(_zero_pad(xt, dim))


def _zero_pad(x: torch.Tensor, dim: int) -> torch.Tensor:
    return F.pad(x, (0, dim - x.shape[1])) if x.shape[1] < dim else x


def procrustes(x: Array, y: Array) -> Array:
    """Orthogonal Procrustes: the orthogonal ``R`` (d, d) minimizing ||x @ R - y||_F.

    ``R = U @ Vh`` from the SVD of the cross-covariance ``x.T @ y`` (Gower 1975), as
    ``scipy.linalg.orthogonal_procrustes``. x and y must have the same shape (zero-pad first).
    Paper Section 3.2, ``ortho``.
    """
    xt, yt, back = _paired(x, y)
    if xt.shape != yt.shape:
        raise ValueError(
            f"procrustes needs x and y of the same shape, got x {tuple(xt.shape)} and "
            f"y {tuple(yt.shape)}; zero-pad the smaller space first"
        )
    # The polar factor does not change when x or y is scaled: rescale extreme magnitudes.
    return back(_finite(_procrustes(rescaled(xt)[0], rescaled(yt)[0]), "procrustes"))


def _procrustes(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    u, _, vh = torch.linalg.svd(x.T @ y)
    return u @ vh


def lstsq(x: Array, y: Array, rcond: float | None = None) -> Array:
    """Minimum-norm least squares: ``R`` (d1, d2) minimizing ||x @ R - y||_F, and among all
    minimizers the one of least norm, so fewer rows than columns (n < d1) is fine.

    Singular values below ``rcond * s_max`` count as zero; the default ``eps * max(n, d1)`` is
    ``numpy.linalg.lstsq``'s. On CPU this is LAPACK gelsy (QR with column pivoting and a
    complete orthogonal factorization: rank revealing, minimum norm, faster than the SVD
    driver gelsd); on other devices, where torch offers only the full-rank driver, it is the
    SVD pseudo-inverse. Paper Section 3.2, ``linear``.
    """
    xt, yt, back = _paired(x, y)
    # x R = y  <=>  (cx x) (R cy / cx) = cy y: solve on rescaled data when magnitudes are extreme.
    (xs, cx), (ys, cy) = rescaled(xt), rescaled(yt)
    r = _lstsq(xs, ys, rcond)
    if cx != cy:
        r = (r.to(torch.float64) * (cx / cy)).to(r.dtype)
    return back(_finite(r, "lstsq"))


def _lstsq(x: torch.Tensor, y: torch.Tensor, rcond: float | None = None) -> torch.Tensor:
    return _lstsq_rank(x, y, rcond)[0]


def _lstsq_rank(x: torch.Tensor, y: torch.Tensor, rcond: float | None = None) -> tuple[torch.Tensor, int]:
    """``_lstsq``'s solution and the effective rank of x it used."""
    if x.device.type == "cpu":
        result = torch.linalg.lstsq(x, y, rcond=rcond, driver="gelsy")
        return result.solution, int(result.rank)
    if rcond is None:
        rcond = torch.finfo(x.dtype).eps * max(x.shape)
    u, s, vh = torch.linalg.svd(x, full_matrices=False)
    keep = s > s.max() * rcond if s.numel() else s.bool()
    # The pseudo-inverse from the thin SVD, zeroing the directions below the threshold.
    inv = torch.where(keep, 1 / torch.where(keep, s, torch.ones_like(s)), torch.zeros_like(s))
    return vh.T @ (inv[:, None] * (u.T @ y)), int(keep.sum())


def closest_orthogonal(m: Array) -> Array:
    """The (semi-)orthogonal matrix nearest to ``m`` in Frobenius norm: ``U @ Vh`` of its SVD."""
    mt, back = to_tensor(m, "m")
    check_matrix(mt, "m")
    return back(_finite(_closest_orthogonal(rescaled(mt)[0]), "closest_orthogonal"))


def _closest_orthogonal(m: torch.Tensor) -> torch.Tensor:
    u, _, vh = torch.linalg.svd(m, full_matrices=False)
    return u @ vh


def l_ortho(x: Array, y: Array, rcond: float | None = None) -> Array:
    """The orthogonal matrix closest to the ``lstsq`` solution (paper Section 3.2, ``l-ortho``;
    Xing et al. 2015). Unlike ``procrustes`` it need not minimize ||x @ R - y||."""
    xt, yt, back = _paired(x, y)
    return back(_finite(_l_ortho(rescaled(xt)[0], rescaled(yt)[0], rcond), "l_ortho"))


def _l_ortho(x: torch.Tensor, y: torch.Tensor, rcond: float | None = None) -> torch.Tensor:
    return _closest_orthogonal(_lstsq(x, y, rcond))


def ridge(x: Array, y: Array, alphas: Array | None = None) -> tuple[Array, Array, float]:
    """Ridge regression with intercept and a penalty chosen by generalized cross-validation.

    Returns ``(R, b, alpha)`` minimizing ||x @ R + b - y||_F^2 + alpha ||R||_F^2 (b not
    penalized), where ``alpha`` minimizes GCV(alpha) = n RSS(alpha) / (n - df(alpha))^2 over
    ``alphas`` (default: ``RIDGE_GRID`` times the largest eigenvalue of the centered x's Gram
    matrix, i.e. its largest squared singular value). Everything comes from one
    eigendecomposition of that (d1, d1) Gram matrix: each grid point costs O(rank), no refit.

    GCV (Golub, Heath and Wahba 1979) rather than exact leave-one-out: it is invariant to
    rotations of the samples, and its residual sum of squares splits over singular directions,
    whereas exact LOO weights each sample by its own leverage and costs O(n rank d2) per grid
    point. One penalty is shared by all outputs, so the map does not depend on the basis of
    y's space (per-output penalties would not commute with a rotation of y). The Gram matrix
    squares x's condition number, which is harmless here because the smallest penalty on the
    grid (1e-8 of the largest eigenvalue) dwarfs float64 rounding; pass float64 input (the
    Translator does). Beyond the paper.
    """
    xt, yt, back = _paired(x, y, min_rows=2)
    grid = None
    if alphas is not None:
        grid, _ = to_tensor(alphas, "alphas")
        if grid.ndim != 1 or len(grid) == 0 or not bool(torch.all(torch.isfinite(grid) & (grid > 0))):
            raise ValueError(f"alphas must be a non-empty 1-D array of positive finite values, got {alphas}")
        grid = grid.to(dtype=xt.dtype, device=xt.device)
    # With x' = cx x and y' = cy y: R = R' cx / cy, b = b' / cy, alpha = alpha' / cx^2.
    (xs, cx), (ys, cy) = rescaled(xt), rescaled(yt)
    if grid is not None:
        grid = grid * cx**2
    r, b, alpha = _ridge(xs, ys, grid)
    if (cx, cy) != (1.0, 1.0):
        r = (r.to(torch.float64) * (cx / cy)).to(r.dtype)
        b = (b.to(torch.float64) / cy).to(b.dtype)
        alpha = alpha / cx**2
    return back(_finite(r, "ridge")), back(_finite(b, "ridge")), alpha


def _ridge(
    x: torch.Tensor, y: torch.Tensor, alphas: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, float]:
    return _ridge_solve(_ridge_basis(x), y, alphas)


class _RidgeBasis(NamedTuple):
    """What ridge needs of x alone, shared by every target regressed on the same x: its mean,
    its centering, and the eigendecomposition of the centered Gram matrix (None if x is constant)."""

    x_mean: torch.Tensor
    xc: torch.Tensor
    eigvals: torch.Tensor | None
    v: torch.Tensor | None


def _ridge_basis(x: torch.Tensor) -> _RidgeBasis:
    x_mean = x.mean(dim=0)
    xc = x - x_mean
    eigvals, v = torch.linalg.eigh(xc.T @ xc)  # eigvals = squared singular values of xc
    # Directions below numerical rank carry no signal; dropping them keeps n - df >= 0
    # (centering removes one degree of freedom, so the rank is at most n - 1).
    keep = eigvals > eigvals[-1] * torch.finfo(eigvals.dtype).eps * max(xc.shape)
    if not bool(keep.any()):  # constant x: nothing to regress on
        return _RidgeBasis(x_mean, xc, None, None)
    return _RidgeBasis(x_mean, xc, eigvals[keep], v[:, keep])


def _ridge_solve(
    basis: _RidgeBasis, y: torch.Tensor, alphas: torch.Tensor | None = None, xcty: torch.Tensor | None = None
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """Ridge of y on the basis' x; ``xcty`` is ``xc.T @ (y - y.mean(0))`` when already computed."""
    n = basis.xc.shape[0]
    y_mean = y.mean(dim=0)
    yc = y - y_mean
    if basis.eigvals is None:  # constant x: predict y's mean
        return basis.xc.new_zeros(basis.xc.shape[1], y.shape[1]), y_mean, math.inf
    ev, v = basis.eigvals, basis.v
    k = len(ev)
    c = v.T @ (
        basis.xc.T @ yc if xcty is None else xcty
    )  # row j: s_j times yc's component along left singular vector j
    signal = (c**2).sum(dim=1) / ev
    outside = ((yc**2).sum() - signal.sum()).clamp_min(0)  # residual no penalty can change
    if alphas is None:
        alphas = RIDGE_GRID.to(dtype=ev.dtype, device=ev.device) * ev[-1]
    # shrink[a, j] = 1 - s_j^2 / (s_j^2 + alpha_a): the fraction of direction j left in the residual.
    shrink = alphas[:, None] / (ev[None, :] + alphas[:, None])
    rss = outside + (shrink**2) @ signal
    resid_dof = (n - 1 - k) + shrink.sum(dim=1)  # n - df, with df = 1 (intercept) + sum(1 - shrink)
    gcv = torch.where(resid_dof > 0, n * rss / resid_dof.clamp_min(1e-300) ** 2, math.inf)
    alpha = alphas[int(torch.argmin(gcv))]
    r = v @ (c / (ev + alpha)[:, None])
    return r, y_mean - basis.x_mean @ r, float(alpha)


def affine_sgd(x: Array, y: Array, *, steps: int = 300, lr: float = 1e-3, seed: int = 0) -> tuple[Array, Array]:
    """``(R, b)`` for ``y ~ x @ R + b`` fit by full-batch Adam on the mean squared error, as the
    paper's ``affine`` (Section 3.2) and the authors' reference (latentis 0.0.8
    ``sgd_affine_align_state``): torch.nn.Linear's initialization drawn from a generator seeded
    with ``seed`` (on CPU the same bits as the reference), ``steps`` Adam steps at ``lr``.
    Computes in x's dtype and device; the result is deterministic for a given seed and device.
    """
    xt, yt, back = _paired(x, y)
    if steps < 1 or lr <= 0:
        raise ValueError(f"affine_sgd needs steps >= 1 and lr > 0, got steps={steps}, lr={lr}")
    r, b = _affine_sgd(xt, yt, steps=steps, lr=lr, seed=seed)
    return back(_finite(r, "affine_sgd")), back(_finite(b, "affine_sgd"))


def _affine_sgd(
    x: torch.Tensor, y: torch.Tensor, *, steps: int, lr: float, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    with torch.inference_mode(False), torch.enable_grad():
        r0, bias = _affine_init(x.shape[1], y.shape[1], x.dtype, seed)
        weight = r0.T.to(x.device).requires_grad_()
        bias = bias.to(x.device).requires_grad_()
        # Tensors made under inference_mode cannot be saved for backward: clone them out.
        x = x.clone() if x.is_inference() else x
        y = y.clone() if y.is_inference() else y
        opt = torch.optim.Adam([weight, bias], lr=lr)
        for _ in range(steps):
            opt.zero_grad()
            F.mse_loss(F.linear(x, weight, bias), y).backward()
            opt.step()
    return weight.detach().T, bias.detach()


def _affine_init(d1: int, d2: int, dtype: torch.dtype, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """nn.Linear(d1, d2)'s initial (weight.T, bias), drawn on CPU from a generator seeded with
    ``seed`` in nn.Linear's order (weight, then bias): the start does not depend on the
    device, nor touch the global RNG."""
    gen = torch.Generator().manual_seed(seed)
    weight = torch.empty(d2, d1, dtype=dtype)
    torch.nn.init.kaiming_uniform_(weight, a=math.sqrt(5), generator=gen)
    bound = 1 / math.sqrt(d1)
    bias = torch.empty(d2, dtype=dtype).uniform_(-bound, bound, generator=gen)
    return weight.T, bias


def _affine_adam_many(
    x: torch.Tensor, ys: Sequence[torch.Tensor], *, steps: int, lr: float, seed: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """``_affine_sgd`` for several targets of the same source at once, without autograd.

    With x1 = [x, 1] (n, d1 + 1) and each target's parameters stacked as P_t = [R_t; b_t^T]
    ((d1 + 1), d2_t), the mean squared error's gradient is 2 / (n d2_t) x1^T (x1 P_t - y_t).
    All targets step together: their P_t^T are the row blocks of one (sum d2, d1 + 1) matrix
    (each block contiguous, so it gets its own scale 2 / (n d2_t) inside its GEMM), and Adam,
    being elementwise, steps that matrix as one tensor with torch's fused kernel (one pass
    over parameters, gradient and moments). The gradient is computed the cheaper way: from
    the data (4 n d1 flops per output column and step), or from x1's moments G = x1^T x1 as
    P_t^T G - y_t^T x1 (2 d1^2 flops, after a one-off 2 n d1^2) when d1 < 2n. Each target
    starts from ``_affine_init(d1, d2_t, seed)`` and the update is torch.optim.Adam's (no
    weight decay, no amsgrad), so the result equals ``_affine_sgd(x, y_t, ...)`` for every t
    up to float rounding.
    """
    n, d1 = x.shape
    widths = [y.shape[1] for y in ys]
    blocks, start = [], 0
    for w in widths:
        blocks.append(slice(start, start + w))
        start += w
    x1 = torch.cat([x, x.new_ones(n, 1)], dim=1)
    params = torch.empty(start, d1 + 1, dtype=x.dtype, device=x.device)
    for block, w in zip(blocks, widths):
        weight_t, bias = _affine_init(d1, w, x.dtype, seed)
        params[block, :d1] = weight_t.T
        params[block, d1] = bias
    grad = torch.empty_like(params)
    scales = [2.0 / (n * w) for w in widths]
    y_all = torch.cat(list(ys), dim=1)
    moments = d1 < 2 * n
    if moments:
        gram, neg_ytx = x1.T @ x1, -(y_all.T @ x1)
    opt = torch.optim.Adam([params], lr=lr, fused=True)
    params.grad = grad
    for _ in range(steps):
        if moments:
            for block, scale in zip(blocks, scales):
                torch.addmm(neg_ytx[block], params[block], gram, beta=scale, alpha=scale, out=grad[block])
        else:
            residual = torch.addmm(y_all, x1, params.T, beta=-1)
            for block, scale in zip(blocks, scales):
                grad[block].addmm_(residual[:, block].T, x1, beta=0, alpha=scale)
        opt.step()
    params.grad = None
    return [(params[block, :d1].T, params[block, d1]) for block in blocks]


def relative_projection(x: Array, anchors: Array) -> Array:
    """Relative representation (Moschella et al. 2023; paper Eq. 1): the cosine similarity of
    each row of ``x`` (m, d) to each anchor (k, d), shape (m, k). Zero rows give zeros; rows of
    any finite magnitude are normalized exactly (``normalize_rows``)."""
    xt, back = to_tensor(x, "x")
    at, _ = to_tensor(anchors, "anchors")
    check_matrix(xt, "x")
    check_matrix(at, "anchors")
    if xt.shape[1] != at.shape[1]:
        raise ValueError(
            f"x and anchors must live in the same space, got x {tuple(xt.shape)} and anchors {tuple(at.shape)}"
        )
    at = at.to(dtype=xt.dtype, device=xt.device)
    return back(normalize_rows(xt) @ normalize_rows(at).T)
