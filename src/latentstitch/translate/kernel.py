"""``kernel``: kernel ridge regression with an RBF kernel (beyond the paper).

On pre-processed anchors x (n, d1), y (n, d2): ``f(z) = k(z, X) @ C + mean(y)`` with
``k(a, b) = exp(-gamma ||a - b||^2)`` and dual coefficients ``C = (K + alpha I)^{-1} (Y -
mean(y))``, K = k(X, X). That is scikit-learn's ``KernelRidge(alpha, kernel="rbf", gamma)``
fitted on the centered targets, plus their mean (so far from the anchors the map predicts
y's mean, not zero). The bandwidth is the median heuristic, ``gamma = 1 / (2 median_{i<j}
||x_i - x_j||^2)``; the penalty minimizes the exact leave-one-out error (``loo_errors``) on
``KERNEL_GRID`` times K's largest eigenvalue, all from one eigendecomposition of K.

Why leave-one-out and not GCV as ``ridge``: GCV replaces each leverage h_ii by their mean,
which an RBF kernel's very uneven leverages at small penalties defeat. On 300 points of
sin(x W) in 5-D (tests/unit/test_translate_nonlinear.py) GCV picks alpha = 1.8e-6 l_max,
test MSE 1.16 (predicting the mean: 0.46, ``ridge``: 0.32); leave-one-out's penalty gives 0.18.
"""

from __future__ import annotations

import math

import torch

from latentstitch.translate.nonlinear import NonlinearMap

_CHUNK = 4096  # rows of z per kernel block: 4,096 x n anchors
# Penalties searched, times K's largest eigenvalue: 1e-8 .. 1e2, 4 per decade (each costs one
# n x n x LOO_SKETCH product; ridge's finer grid is free because GCV is O(k) per point).
KERNEL_GRID = torch.logspace(-8, 2, 41, dtype=torch.float64)
LOO_SKETCH = 64


class RBFKernelRidge(NonlinearMap):
    """``z -> exp(-gamma ||z - anchors||^2) @ dual + y_mean`` (module docstring)."""

    name = "kernel"
    state_names = ("anchors", "dual", "gamma", "y_mean", "alpha")

    @property
    def n_in(self) -> int:
        return self._state["anchors"].shape[1]

    @property
    def n_out(self) -> int:
        return self._state["dual"].shape[1]

    def forward(self, z: torch.Tensor, state: dict[str, torch.Tensor]) -> torch.Tensor:
        parts = [
            rbf_kernel(z[i : i + _CHUNK], state["anchors"], state["gamma"]) @ state["dual"]
            for i in range(0, len(z), _CHUNK)
        ]
        return torch.cat(parts) + state["y_mean"] if parts else z.new_zeros(0, self.n_out)


def rbf_kernel(a: torch.Tensor, b: torch.Tensor, gamma: torch.Tensor | float) -> torch.Tensor:
    """``exp(-gamma ||a_i - b_j||^2)`` (len(a), len(b))."""
    sq = (a * a).sum(dim=1)[:, None] + (b * b).sum(dim=1)[None, :] - 2 * a @ b.T
    return torch.exp(-gamma * sq.clamp_min(0))


def median_gamma(x: torch.Tensor) -> float:
    """The median heuristic: ``1 / (2 median_{i<j} ||x_i - x_j||^2)``; 1 if all rows are equal."""
    i, j = torch.triu_indices(len(x), len(x), offset=1, device=x.device)
    if not len(i):
        return 1.0
    values = (torch.cdist(x, x) ** 2)[i, j].sort().values
    half = len(values) // 2  # numpy's median: the mean of the middle two of an even count
    med = float(values[half]) if len(values) % 2 else float(values[half - 1] + values[half]) / 2
    return 1.0 / (2.0 * med) if med > 0 else 1.0


def fit_kernel_ridge(
    x: torch.Tensor, ys: list[torch.Tensor], *, gamma: float | None = None, alphas: torch.Tensor | None = None
) -> list[RBFKernelRidge]:
    """One ``RBFKernelRidge`` per target in ``ys`` (each (n, d2_t)) on anchors ``x`` (n, d1).
    ``gamma``: None for the median heuristic. ``alphas``: the penalties searched by
    leave-one-out (one value fixes it); None for ``KERNEL_GRID`` times K's largest eigenvalue.
    The kernel and its eigendecomposition are shared by every target; each gets its own penalty."""
    gamma = median_gamma(x) if gamma is None else float(gamma)
    ev, u = torch.linalg.eigh(rbf_kernel(x, x, gamma))
    ev = ev.clamp_min(0)  # K is positive semi-definite; eigh may return -eps
    if alphas is None:
        alphas = KERNEL_GRID.to(dtype=ev.dtype, device=ev.device) * ev[-1]
    alphas = torch.as_tensor(alphas, dtype=ev.dtype, device=ev.device).reshape(-1)
    shrink = alphas[:, None] / (ev[None, :] + alphas[:, None])  # (grid, n): residual fraction per direction
    out = []
    for y in ys:
        y_mean = y.mean(dim=0)
        c = u.T @ (y - y_mean)
        alpha = alphas[0] if len(alphas) == 1 else alphas[int(torch.argmin(loo_errors(u, shrink, c)))]
        dual = u @ (c / (ev + alpha)[:, None])
        out.append(
            RBFKernelRidge(
                anchors=x, dual=dual, gamma=torch.tensor(gamma, dtype=x.dtype), y_mean=y_mean, alpha=alpha.clone()
            )
        )
    return out


def loo_errors(u: torch.Tensor, shrink: torch.Tensor, c: torch.Tensor, sketch: int = LOO_SKETCH) -> torch.Tensor:
    """Leave-one-out squared error of kernel ridge for each penalty, up to a common factor.

    K = u diag(l) u^T; ``shrink[a, j] = alpha_a / (l_j + alpha_a)``; ``c = u^T (y - mean(y))``
    (n, d2). The residuals are ``r(alpha) = u diag(shrink) c`` and the hat matrix's diagonal
    is ``1 - h_i = sum_j u_ij^2 shrink_j``, so the exact LOO error is ``sum_i ||r_i||^2 / (1 -
    h_i)^2`` (the mean's own leverage, 1/n, is neglected). With more than ``sketch`` outputs
    the squared norms ``||r_i||^2`` are estimated without bias by ``||r_i P||^2`` for a fixed
    Gaussian P (d2, sketch) / sqrt(sketch) (seed 0): O(n^2 sketch) per penalty instead of
    O(n^2 d2); the estimate of the total error has a relative std of about sqrt(2 / (n sketch)).
    """
    if c.shape[1] > sketch:
        g = torch.Generator().manual_seed(0)
        p = torch.randn(c.shape[1], sketch, generator=g, dtype=torch.float64).to(device=c.device, dtype=c.dtype)
        c = c @ p / math.sqrt(sketch)
    one_minus_h = (u * u) @ shrink.T  # (n, grid)
    errors = torch.empty(len(shrink), dtype=c.dtype, device=c.device)
    for a, s in enumerate(shrink):
        r_sq = ((u @ (s[:, None] * c)) ** 2).sum(dim=1)
        errors[a] = (r_sq / one_minus_h[:, a].clamp_min(1e-300) ** 2).sum()
    return errors
