"""``irp``: inverse relative projection (Maiorca, Ciardo, Fumero, Moschella, Locatello,
Rodolà, 2024, "Latent Space Translation via Inverse Relative Projection", arXiv:2406.15057).

Beyond the paper this project reproduces. Steps, on pre-processed anchors a_j (source) and
b_j (target), j = 1..k, and a source point x:

1. relative projection with the source anchors: ``r_j = cos(x, a_j)``, r in R^k (Moschella
   et al. 2023's relative representation; invariant to rotations and rescalings of x's space);
2. inverse relative projection with the target anchors: the direction u in Y's space whose
   cosines to the b_j are r, i.e. ``B^ u ~ r`` with B^ the row-normalized target anchors
   (k, d2), solved by minimum-norm least squares, ``u = pinv(B^) r``;
3. rescaling: relative projections drop the norm, so the translation is ``u / ||u||`` times
   the target's norm statistic, the mean norm of the target anchors.

Steps 1-2 are linear in x / ||x||, so they fold into one (d1, d2) matrix
``M = A^T pinv(B^)^T`` (A^ the row-normalized source anchors) and the map is
``y = nu * normalize(x @ M)``, ``nu = mean_j ||b_j||``. When the two spaces are related by an
orthogonal map and each point's norm is changed arbitrarily, step 2 recovers each point's
target direction exactly (given k >= d anchors spanning the space); its norm is exact when
the target norms are constant (e.g. L2-normalized encodings), and the mean norm otherwise.
"""

from __future__ import annotations

import torch

from latentstitch.translate.nonlinear import NonlinearMap


class InverseRelativeProjection(NonlinearMap):
    """``z -> norm * normalize(z @ matrix)`` (module docstring)."""

    name = "irp"
    state_names = ("matrix", "norm")

    @property
    def n_in(self) -> int:
        return self._state["matrix"].shape[0]

    @property
    def n_out(self) -> int:
        return self._state["matrix"].shape[1]

    def forward(self, z: torch.Tensor, state: dict[str, torch.Tensor]) -> torch.Tensor:
        return state["norm"] * _unit_rows(z @ state["matrix"])


def _unit_rows(a: torch.Tensor) -> torch.Tensor:
    """Rows over their norms, zero rows kept at zero; unlike ``F.normalize`` (which floors the
    norm at 1e-12) exact for rows of any positive norm, subnormal included."""
    norms = a.norm(dim=1, keepdim=True)
    return a / torch.where(norms > 0, norms, torch.ones_like(norms))


def fit_irp(x: torch.Tensor, ys: list[torch.Tensor], eps: float) -> list[InverseRelativeProjection]:
    """One ``InverseRelativeProjection`` per target in ``ys`` (each (k, d2_t)) from source
    anchors ``x`` (k, d1), all pre-processed. Singular values of a target's normalized anchors
    below ``eps * max(k, d2) * s_max`` count as zero in its pseudo-inverse."""
    a = _unit_rows(x)
    out = []
    for y in ys:
        b = _unit_rows(y)
        pinv = torch.linalg.pinv(b, rtol=eps * max(b.shape))  # (d2, k)
        out.append(InverseRelativeProjection(matrix=a.T @ pinv.T, norm=y.norm(dim=1).mean()))
    return out
