"""Per-space pre-processing fitted on the anchors only (paper Section 3.2).

Every scaling has one shape, which is what lets a Translator fold it into a single matrix:
forward ``a -> normalize_rows?((a - shift_) / scale_)`` and inverse ``z -> z * inverse_scale_ +
shift_``. Statistics are computed in the dtype they are given (the Translator gives float64).
"""

from __future__ import annotations

from typing import ClassVar

import torch

from latentstitch.translate._array import normalize_rows as _normalize_rows
from latentstitch.translate._array import power_of_two_scale, row_norms


class Scaling:
    """Base: fit the statistics, then apply the forward map (to x and y anchors) and the
    inverse map (to translated points, back into y's absolute space)."""

    name: ClassVar[str]
    normalize_rows: ClassVar[bool] = False
    # Whether transformed anchors are centered, up to a scale per row (then n anchors span at
    # most n - 1 dims: rescaling rows does not change their span).
    centers: ClassVar[bool] = False
    # Whether transformed anchors are bounded near unit scale whatever the input's magnitude
    # (so a fit need not check them for overflow).
    bounded: ClassVar[bool] = False
    state_names: ClassVar[tuple[str, ...]] = ("shift_", "scale_", "inverse_scale_")

    def fit(self, a: torch.Tensor) -> "Scaling":
        raise NotImplementedError

    def transform(self, a: torch.Tensor) -> torch.Tensor:
        z = (a - self.shift_) / self.scale_
        return _normalize_rows(z) if self.normalize_rows else z

    def inverse_transform(self, z: torch.Tensor) -> torch.Tensor:
        return z * self.inverse_scale_ + self.shift_

    def state(self) -> dict[str, torch.Tensor]:
        return {k: getattr(self, k) for k in self.state_names}

    def load_state(self, state: dict[str, torch.Tensor]) -> "Scaling":
        for k in self.state_names:
            setattr(self, k, state[k])
        return self

    def settings(self) -> dict:
        return {}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.settings().items())
        return f"{type(self).__name__}({args})"


class StandardScaling(Scaling):
    """Per-feature standardization ``(a - mean) / std`` on the anchors; inverse ``z * std + mean``.

    ``ddof`` is the std's delta degrees of freedom: 1 (default) is the authors' reference
    (``torch.std``, unbiased), 0 is scikit-learn's StandardScaler. Constant features get scale
    1 (so they standardize to 0 and de-normalize to their constant), detected with
    scikit-learn's bound on the variance's rounding error relative to the mean; latentis uses
    an absolute threshold ``std < 10 eps``, which agrees on exactly constant features.
    """

    name = "standard"
    centers = True
    bounded = True  # |z| <= sqrt(n - ddof) for a varying feature, 0 for a constant one

    def __init__(self, ddof: int = 1) -> None:
        self.ddof = ddof

    def fit(self, a: torch.Tensor) -> "StandardScaling":
        n = a.shape[0]
        if not 0 <= self.ddof < n:
            raise ValueError(f"ddof must be in [0, n) = [0, {n}) for {n} anchors, got ddof={self.ddof}")
        mean = a.mean(dim=0)
        dev = a - mean
        var = (dev**2).sum(dim=0) / (n - self.ddof)
        unit = 1.0
        # Squares of deviations beyond ~1e154 overflow float64, below ~1e-162 underflow: then
        # (only then: constant features, var 0, land here too) the statistics are computed on
        # deviations scaled by a power of two, which is exact.
        if not bool(torch.isfinite(var).all()) or bool((var < 2.0**-800).any()):
            unit = power_of_two_scale(dev)
            if unit != 1.0:
                dev, mean = dev * unit, mean * unit
                var = (dev**2).sum(dim=0) / (n - self.ddof)
        eps = torch.finfo(a.dtype).eps
        constant = var <= n * eps * var + (n * mean.abs() * eps) ** 2
        self.shift_ = mean / unit
        self.scale_ = torch.where(constant, torch.ones_like(var), var.sqrt() / unit)
        self.inverse_scale_ = self.scale_
        return self

    def settings(self) -> dict:
        return {"ddof": self.ddof}


class L2Scaling(Scaling):
    """Center on the anchors' mean and L2-normalize each row; the inverse multiplies by the
    mean norm of the centered anchors and adds the mean back (the authors' Centering followed
    by MeanLPNorm). Row normalization is not invertible: the inverse restores a common scale,
    which is all the decoders need (paper Appendix A.1, scale invariance)."""

    name = "l2"
    normalize_rows = True
    centers = True
    bounded = True  # unit (or zero) rows

    def fit(self, a: torch.Tensor) -> "L2Scaling":
        self.shift_ = a.mean(dim=0)
        self.scale_ = torch.ones_like(self.shift_)
        self.inverse_scale_ = row_norms(a - self.shift_).mean()
        return self


class NoScaling(Scaling):
    """The identity: raw encodings (the paper's ``absolute`` baseline uses these)."""

    name = "none"

    def fit(self, a: torch.Tensor) -> "NoScaling":
        self.shift_ = a.new_zeros(a.shape[1])
        self.scale_ = a.new_ones(a.shape[1])
        self.inverse_scale_ = self.scale_
        return self


SCALINGS: dict[str, type[Scaling]] = {cls.name: cls for cls in (StandardScaling, L2Scaling, NoScaling)}
