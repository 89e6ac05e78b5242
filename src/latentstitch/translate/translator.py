"""``Translator``: scaling -> zero padding -> aligner -> inverse padding -> inverse scaling.

Fit learns each step on the anchors; then the whole chain, which is affine up to the row
normalization of ``l2``, is folded into one (d1, d2) matrix and one offset, so ``transform``
is a single matrix product in the input's dtype on the input's device.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple, Sequence

import torch

from latentstitch.translate._array import Array, check_finite, check_matrix, to_tensor
from latentstitch.translate.functional import (
    _affine_adam_many,
    _closest_orthogonal,
    _lstsq,
    _ridge_basis,
    _ridge_solve,
)
from latentstitch.translate.irp import InverseRelativeProjection, fit_irp
from latentstitch.translate.kernel import RBFKernelRidge, fit_kernel_ridge
from latentstitch.translate.mlp import ResidualMLP, fit_mlp
from latentstitch.translate.nonlinear import NonlinearMap
from latentstitch.translate.scaling import SCALINGS, Scaling, StandardScaling

_FORMAT = "latentstitch.translate.Translator"
_FORMAT_VERSION = 1
FIT_DTYPES = (None, "float32", "float64")


class NotFittedError(ValueError, AttributeError):
    """A Translator was used before ``fit`` (or ``load``)."""


class Alignment(NamedTuple):
    """An aligner's result in the pre-processed space: ``z ~ x @ matrix + bias``."""

    matrix: torch.Tensor
    bias: torch.Tensor | None = None
    alpha: float | None = None


class FitContext(NamedTuple):
    """What an aligner may need besides the anchors."""

    seed: int
    affine_steps: int
    affine_lr: float
    # Least squares treats singular values below eps * max(n, d) * s_max as zero, with eps
    # the anchors' precision, not the solve's: float32 anchors cannot resolve directions
    # below eps32 * s_max, and fitting that rounding noise in float64 would blow up the solution.
    eps: float


@dataclass(frozen=True)
class Method:
    """A translation method: how to align the pre-processed anchors, and what it needs.

    ``aligner(x, ys, ctx)`` aligns one source x (n, d1) with every target in ys (n, d2_t) and
    returns one ``Alignment`` per target (matrix (d1, d2_t)). Targets of the same source share
    work where the math allows: least squares factors x once, ridge decomposes x's Gram
    matrix once, affine steps all targets together on x's moments; each result equals the
    one-target fit up to rounding. Procrustes-based methods zero-pad the smaller space to
    max(d1, d2_t) (paper Section 3.2), computed without forming the padding (see ``_ortho``); for least squares and gradient descent padding is a
    mathematical no-op and is skipped. ``equal_dims``: the method cannot map between
    different dims at all. ``float64``: the aligner solves in float64 whatever the anchors'
    dtype. Only ``ridge`` needs it (it forms a Gram matrix, squaring the condition number).
    The others solve in the anchors' precision, as the authors' reference: a float64 solve of
    float32 anchors would be no closer to the truth, since the anchors already carry float32
    rounding and a backward-stable solver (Householder QR, SVD) in float32 returns the exact
    solution for anchors perturbed within that rounding; and ``affine`` is gradient descent.
    What float64 is needed for is accumulation over many anchors: the scalings' statistics.

    ``nonlinear``: the ``NonlinearMap`` subclass the aligner returns instead of ``Alignment``s
    (``irp``, ``kernel``, ``mlp``; beyond the paper). Such a translator has no ``coef_``: its
    transform is scaling -> map -> inverse scaling, and it saves the map's state.
    """

    aligner: Callable[[torch.Tensor, list[torch.Tensor], "FitContext"], list[Any]]
    equal_dims: bool = False
    float64: bool = False
    nonlinear: type[NonlinearMap] | None = None


def _split(m: torch.Tensor, ys: list[torch.Tensor]) -> list[torch.Tensor]:
    return list(torch.split(m, [y.shape[1] for y in ys], dim=-1))


def _identity(x: torch.Tensor, ys: list[torch.Tensor], ctx: FitContext) -> list[Alignment]:
    return [Alignment(torch.eye(x.shape[1], dtype=x.dtype, device=x.device)) for _ in ys]


def _ortho(x: torch.Tensor, ys: list[torch.Tensor], ctx: FitContext) -> list[Alignment]:
    # Zero padding pads the cross-covariance: pad(x).T @ pad(y) = pad(x.T @ y). Its orthogonal
    # polar factor, cut back to (d1, d2), is U @ Vh of the unpadded matrix's thin SVD
    # (_closest_orthogonal): when the matrix has full rank min(d1, d2) that block does not
    # depend on how the padded factor is completed (the padded rows or columns are its null
    # space), so this gives the padded method's answer at a fraction of the cost (a 50 x 768
    # SVD instead of a 768 x 768 one); below full rank any completion is as valid.
    return [Alignment(_closest_orthogonal(cross)) for cross in _split(x.T @ torch.cat(ys, dim=1), ys)]


def _rcond(ctx: FitContext, n: int, dim: int) -> float:
    return ctx.eps * max(n, dim)


def _linear(x: torch.Tensor, ys: list[torch.Tensor], ctx: FitContext) -> list[Alignment]:
    solution = _lstsq(x, torch.cat(ys, dim=1), _rcond(ctx, *x.shape))
    return [Alignment(r) for r in _split(solution, ys)]


def _l_ortho_aligner(x: torch.Tensor, ys: list[torch.Tensor], ctx: FitContext) -> list[Alignment]:
    # The minimum-norm solution on zero-padded anchors is the unpadded one, zero-padded, and
    # its polar factor is _closest_orthogonal's (see _ortho); only the rank threshold follows the padded shape, so
    # targets are solved in groups of equal padded dim.
    n, d1 = x.shape
    out: list[Alignment | None] = [None] * len(ys)
    for dim in sorted({max(d1, y.shape[1]) for y in ys}):
        group = [i for i, y in enumerate(ys) if max(d1, y.shape[1]) == dim]
        solution = _lstsq(x, torch.cat([ys[i] for i in group], dim=1), _rcond(ctx, n, dim))
        for i, r in zip(group, _split(solution, [ys[i] for i in group])):
            out[i] = Alignment(_closest_orthogonal(r))
    return out


def _ridge_aligner(x: torch.Tensor, ys: list[torch.Tensor], ctx: FitContext) -> list[Alignment]:
    basis = _ridge_basis(x)
    y_all = torch.cat(ys, dim=1)
    xcty = _split(basis.xc.T @ (y_all - y_all.mean(dim=0)), ys)
    return [Alignment(*_ridge_solve(basis, y, xcty=c)) for y, c in zip(ys, xcty)]


def _affine(x: torch.Tensor, ys: list[torch.Tensor], ctx: FitContext) -> list[Alignment]:
    many = _affine_adam_many(x, ys, steps=ctx.affine_steps, lr=ctx.affine_lr, seed=ctx.seed)
    return [Alignment(r, b) for r, b in many]


def _irp(x: torch.Tensor, ys: list[torch.Tensor], ctx: FitContext) -> list[NonlinearMap]:
    return fit_irp(x, ys, ctx.eps)


def _kernel(x: torch.Tensor, ys: list[torch.Tensor], ctx: FitContext) -> list[NonlinearMap]:
    return fit_kernel_ridge(x, ys)


def _mlp(x: torch.Tensor, ys: list[torch.Tensor], ctx: FitContext) -> list[NonlinearMap]:
    return fit_mlp(x, ys, ctx.seed)


METHODS: dict[str, Method] = {
    "absolute": Method(_identity, equal_dims=True),
    "ortho": Method(_ortho),
    "l-ortho": Method(_l_ortho_aligner),
    "linear": Method(_linear),
    "ridge": Method(_ridge_aligner, float64=True),
    "affine": Method(_affine),
    # beyond the paper, nonlinear (latentstitch.translate.irp, .kernel, .mlp)
    "irp": Method(_irp, nonlinear=InverseRelativeProjection),
    "kernel": Method(_kernel, float64=True, nonlinear=RBFKernelRidge),
    "mlp": Method(_mlp, nonlinear=ResidualMLP),
}
# Attributes of the folded linear chain, which a nonlinear translator does not have.
_LINEAR_ONLY = ("coef_", "offset_", "matrix_", "bias_")


def _stored(t: torch.Tensor) -> torch.Tensor:
    """Learned state as kept: float64, CPU, in a fresh contiguous buffer. Matrix products can
    take different kernels for other memory layouts, and a loaded translator must give the
    very same bits as the one that was saved."""
    return t.to(device="cpu", dtype=torch.float64).clone(memory_format=torch.contiguous_format)


class Translator:
    """Translate encodings from a space X (d1 dims) into a space Y (d2 dims), estimated from
    parallel anchors (paper Section 3.2).

    Parameters
    ----------
    method : ``"ortho"`` (orthogonal Procrustes), ``"l-ortho"`` (orthogonal matrix closest to
        least squares), ``"linear"`` (minimum-norm least squares, no bias), ``"affine"``
        (R x + b by Adam), ``"ridge"`` (closed-form ridge with intercept, penalty by GCV;
        beyond the paper), ``"absolute"`` (identity; the paper's baseline with ``scaling="none"``).
        Nonlinear, beyond the paper: ``"irp"`` (inverse relative projection, Maiorca et al.
        2024), ``"kernel"`` (RBF kernel ridge, penalty by GCV), ``"mlp"`` (residual MLP with
        early stopping, seeded); see ``latentstitch.translate.irp``, ``.kernel``, ``.mlp``.
    scaling : ``"standard"``, ``"l2"`` or ``"none"`` (see ``latentstitch.translate.scaling``),
        fitted on each side's anchors; the translation is de-normalized into Y's space.
    seed : seeds ``affine``'s initialization and ``mlp``'s split and initialization; the other
        methods are deterministic.
    ddof : delta degrees of freedom of ``standard``'s std (1: the authors' reference).
    affine_steps, affine_lr : Adam steps and learning rate of ``affine`` (paper: 300, 1e-3).
    fit_dtype : precision of the aligner's solve. ``None``: the anchors' precision (float32 at
        least), float64 for ``ridge`` (see ``Method``); ``"float64"`` or ``"float32"`` force
        one. Anchor statistics (means, stds, norms) are always float64 sums.

    Learned attributes: ``scaling_x_``, ``scaling_y_`` (fitted ``Scaling``), ``matrix_`` (d1, d2)
    and ``bias_`` (d2,) (the aligner in the pre-processed space, padding removed), ``alpha_``
    (ridge's penalty, else None), ``n_features_in_`` (d1), ``n_features_out_`` (d2), and the
    whole chain folded: ``coef_`` (d1, d2) and ``offset_`` (d2,), ``transform(x) = prepare(x) @
    coef_ + offset_``. Kept in float64 on CPU whatever the anchors' device. A nonlinear
    method has ``map_`` (its ``NonlinearMap``, state in float64 on CPU) instead of ``matrix_``,
    ``bias_``, ``coef_`` and ``offset_`` (reading those raises AttributeError saying so).
    """

    def __init__(
        self,
        method: str = "ortho",
        scaling: str = "standard",
        *,
        seed: int = 0,
        ddof: int = 1,
        affine_steps: int = 300,
        affine_lr: float = 1e-3,
        fit_dtype: str | None = None,
    ) -> None:
        self.method = method
        self.scaling = scaling
        self.seed = seed
        self.ddof = ddof
        self.affine_steps = affine_steps
        self.affine_lr = affine_lr
        self.fit_dtype = fit_dtype
        self._check_settings()

    def get_params(self) -> dict:
        return {
            "method": self.method,
            "scaling": self.scaling,
            "seed": self.seed,
            "ddof": self.ddof,
            "affine_steps": self.affine_steps,
            "affine_lr": self.affine_lr,
            "fit_dtype": self.fit_dtype,
        }

    def __repr__(self) -> str:
        return f"Translator({', '.join(f'{k}={v!r}' for k, v in self.get_params().items())})"

    def _check_settings(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"unknown method {self.method!r}; valid methods: {', '.join(METHODS)}")
        if self.scaling not in SCALINGS:
            raise ValueError(f"unknown scaling {self.scaling!r}; valid scalings: {', '.join(SCALINGS)}")
        for name in ("seed", "ddof", "affine_steps"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
        if self.ddof < 0:
            raise ValueError(f"ddof must be >= 0, got {self.ddof}")
        if self.affine_steps < 1:
            raise ValueError(f"affine_steps must be >= 1, got {self.affine_steps}")
        if not (isinstance(self.affine_lr, (int, float)) and math.isfinite(self.affine_lr) and self.affine_lr > 0):
            raise ValueError(f"affine_lr must be a positive finite number, got {self.affine_lr!r}")
        if self.fit_dtype not in FIT_DTYPES:
            raise ValueError(f"fit_dtype must be one of {FIT_DTYPES}, got {self.fit_dtype!r}")

    def _make_scaling(self) -> Scaling:
        cls = SCALINGS[self.scaling]
        return cls(ddof=self.ddof) if cls is StandardScaling else cls()

    def fit(self, x: Array, y: Array) -> "Translator":
        """Learn the translation from parallel anchors ``x`` (n, d1) and ``y`` (n, d2), n >= 2.

        Raises ValueError for non-2-D or non-finite anchors, different n, n < 2, and for
        ``absolute`` with d1 != d2; TypeError for non-float anchors. Returns self.
        """
        self._check_settings()
        self._fit_targets(x, [y], [self])
        return self

    def _fit_targets(self, x: Array, ys: list[Array], outs: list["Translator"]) -> None:
        """Fit ``outs[t]`` (translators with this one's settings) on ``x`` and ``ys[t]``."""
        xt, _ = to_tensor(x, "x anchors")
        if xt.ndim != 2:
            raise ValueError(f"x anchors must be 2-D (n, d), got shape {tuple(xt.shape)}")
        if xt.shape[0] < 2:
            raise ValueError(f"need at least 2 anchors to fit a translation, got x {tuple(xt.shape)}")
        check_matrix(xt, "x anchors")
        method = METHODS[self.method]
        d1 = xt.shape[1]
        yts = []
        for i, y in enumerate(ys):
            name = "y anchors" if len(ys) == 1 else f"y anchors [{i}]"
            yt, _ = to_tensor(y, name)
            if yt.ndim != 2:
                raise ValueError(f"{name} must be 2-D (n, d), got shape {tuple(yt.shape)}")
            if yt.shape[0] != xt.shape[0]:
                raise ValueError(
                    f"x and {name} must be parallel (same number of rows), got x {tuple(xt.shape)} "
                    f"and y {tuple(yt.shape)}"
                )
            check_matrix(yt, name)
            if method.equal_dims and yt.shape[1] != d1:
                raise ValueError(
                    f"method {self.method!r} needs x and y of the same dim, got x {tuple(xt.shape)} and "
                    f"y {tuple(yt.shape)}; use a translation method "
                    f"({', '.join(m for m in METHODS if m != self.method)})"
                )
            yts.append(yt)

        # Anchors are data here, not parameters: no autograd graph through the fit.
        x64 = xt.detach().to(torch.float64)
        scaling_x = self._make_scaling().fit(x64)
        scalings_y = [self._make_scaling().fit(yt.detach().to(device=xt.device, dtype=torch.float64)) for yt in yts]
        solve = self._solve_dtype(method, xt.dtype)
        xs = scaling_x.transform(x64).to(solve)
        ys_scaled = [sy.transform(yt.detach().to(device=xt.device, dtype=torch.float64)).to(solve)
                     for sy, yt in zip(scalings_y, yts)]
        ctx = FitContext(
            seed=self.seed, affine_steps=self.affine_steps, affine_lr=self.affine_lr,
            eps=torch.finfo(xt.dtype).eps,
        )
        alignments = method.aligner(xs, ys_scaled, ctx)

        state_x = {k: _stored(v) for k, v in scaling_x.state().items()}
        for out, sy, al, yt in zip(outs, scalings_y, alignments, yts):
            d2 = yt.shape[1]
            out.scaling_x_ = out._make_scaling().load_state(dict(state_x))
            out.scaling_y_ = sy.load_state({k: _stored(v) for k, v in sy.state().items()})
            if method.nonlinear is not None:
                out._set_map(al.with_state({k: _stored(v) for k, v in al.state().items()}))
                continue
            out.matrix_ = _stored(al.matrix[:d1, :d2])
            out.bias_ = _stored(torch.zeros(d2) if al.bias is None else al.bias[:d2])
            out.alpha_ = al.alpha
            out.n_features_in_, out.n_features_out_ = d1, d2
            out._fold()

    def _solve_dtype(self, method: Method, anchors_dtype: torch.dtype) -> torch.dtype:
        if self.fit_dtype is not None:
            return getattr(torch, self.fit_dtype)
        if method.float64 or anchors_dtype == torch.float64:
            return torch.float64
        return torch.float32  # also for half-precision anchors, which LAPACK does not take

    def _set_map(self, fitted: NonlinearMap) -> None:
        for name in _LINEAR_ONLY:
            self.__dict__.pop(name, None)
        self.map_ = fitted
        self.alpha_ = fitted.alpha
        self.n_features_in_, self.n_features_out_ = fitted.n_in, fitted.n_out
        self._on_device = {}

    def __getattr__(self, name: str) -> Any:
        # only reached when normal lookup fails: explain the missing linear state
        if name in _LINEAR_ONLY and "map_" in self.__dict__:
            raise AttributeError(
                f"method {self.__dict__.get('method')!r} is nonlinear: it has no {name} (no matrix "
                f"stands for it); use transform(x), or prepare(x) then apply()"
            )
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    @property
    def is_linear(self) -> bool:
        """Whether ``transform(x) = prepare(x) @ coef_ + offset_`` (False for irp, kernel, mlp)."""
        return METHODS[self.method].nonlinear is None

    def _fold(self) -> None:
        sx, sy = self.scaling_x_, self.scaling_y_
        # forward x: (x - shift) / scale [row-normalized]; aligner: @ matrix + bias;
        # inverse y: * inverse_scale + shift.  Fold the linear parts into one matrix.
        coef = self.matrix_ / sx.scale_[:, None] * sy.inverse_scale_
        offset = self.bias_ * sy.inverse_scale_ + sy.shift_
        if not sx.normalize_rows:
            offset = offset - sx.shift_ @ coef
        self.coef_, self.offset_ = coef, offset
        self._on_device: dict[tuple[torch.device, torch.dtype], tuple[torch.Tensor, ...]] = {}

    def _check_fitted(self) -> None:
        if "matrix_" not in self.__dict__ and "map_" not in self.__dict__:
            raise NotFittedError(
                f"this {self!r} is not fitted yet: call fit(x_anchors, y_anchors) first, or Translator.load(path)"
            )

    def transform(self, x: Array) -> Array:
        """Translate ``x`` (m, d1) into Y's absolute space, (m, d2): same kind (numpy/torch),
        device and float dtype as ``x``. Raises NotFittedError before fit, ValueError for a
        wrong shape or non-finite values, TypeError for non-float input.
        ``transform(x) == apply(prepare(x))``."""
        self._check_fitted()
        xt, back = self._prepare(x)
        return back(self._apply(xt))

    def prepare(self, x: Array) -> Array:
        """What the folded map multiplies: ``x`` itself, or for a row-normalizing scaling
        (``l2``) ``(x - shift) / ||(x - shift) / scale||`` row by row (that step is not linear,
        so it cannot be folded). Then ``transform(x) = prepare(x) @ coef_ + offset_``; this is
        how a linear decoder on Y composes with the translation (``coef_ @ weight``).
        Translators from one ``fit_translators`` call share the source's scaling, hence this."""
        self._check_fitted()
        xt, back = self._prepare(x)
        return back(xt)

    def apply(self, x_prepared: Array) -> Array:
        """``x_prepared @ coef_ + offset_`` in the input's dtype and device (see ``prepare``); for a
        nonlinear method, the rest of its chain (``transform(x) == apply(prepare(x))`` always)."""
        self._check_fitted()
        xt, back = self._input(x_prepared, "x_prepared")
        return back(self._apply(xt))

    def _input(self, x: Array, name: str) -> tuple[torch.Tensor, Callable[[torch.Tensor], Array]]:
        """``x`` as a tensor, checked: float, finite, shape (m, the x anchors' dim)."""
        xt, back = to_tensor(x, name)
        if xt.ndim != 2 or xt.shape[1] != self.n_features_in_:
            raise ValueError(
                f"{name} must have shape (m, {self.n_features_in_}) (the x anchors' dim), got {tuple(xt.shape)}"
            )
        check_finite(xt, name)
        return xt, back

    def _prepare(self, x: Array) -> tuple[torch.Tensor, Callable[[torch.Tensor], Array]]:
        xt, back = self._input(x, "x")
        if not self.scaling_x_.normalize_rows:
            return xt, back
        shift, scale = (t.to(device=xt.device, dtype=xt.dtype) for t in (self.scaling_x_.shift_, self.scaling_x_.scale_))
        xc = xt - shift
        # Same floor as F.normalize in Scaling.transform: a point at the anchors' mean maps to y's mean.
        return xc / (xc / scale).norm(dim=1, keepdim=True).clamp_min(1e-12), back

    def _apply(self, xin: torch.Tensor) -> torch.Tensor:
        if "map_" in self.__dict__:
            return self._apply_map(xin)
        key = (xin.device, xin.dtype)
        if key not in self._on_device:
            self._on_device[key] = tuple(t.to(device=xin.device, dtype=xin.dtype) for t in (self.coef_, self.offset_))
        coef, offset = self._on_device[key]
        return torch.addmm(offset, xin, coef)

    def _apply_map(self, xin: torch.Tensor) -> torch.Tensor:
        """The nonlinear chain on ``prepare``'s output: the rest of x's scaling, the map, and
        y's inverse scaling, in the input's dtype (float32 at least) and device."""
        key = (xin.device, xin.dtype)
        dtype = xin.dtype if xin.dtype in (torch.float32, torch.float64) else torch.float32
        if key not in self._on_device:
            sx, sy = self.scaling_x_, self.scaling_y_
            self._on_device[key] = tuple(t.to(device=xin.device, dtype=dtype)
                                         for t in (sx.shift_, sx.scale_, sy.inverse_scale_, sy.shift_))
        shift_x, scale_x, inverse_scale_y, shift_y = self._on_device[key]
        z = xin.to(dtype)
        z = z / scale_x if self.scaling_x_.normalize_rows else (z - shift_x) / scale_x
        return (self.map_(z) * inverse_scale_y + shift_y).to(xin.dtype)

    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted translator to one safetensors file (tensors in float64, settings as
        JSON in its header; no pickle), atomically."""
        self._check_fitted()
        from safetensors.torch import save_file

        if "map_" in self.__dict__:
            tensors = {f"map.{k}": v for k, v in self.map_.state().items()}
        else:
            tensors = {"matrix": self.matrix_, "bias": self.bias_}
        for side, sc in (("x", self.scaling_x_), ("y", self.scaling_y_)):
            tensors.update({f"scaling_{side}.{k}": v for k, v in sc.state().items()})
        if self.alpha_ is not None and "map_" not in self.__dict__:
            tensors["alpha"] = torch.tensor(self.alpha_, dtype=torch.float64)
        header = {"format": _FORMAT, "version": _FORMAT_VERSION, "settings": self.get_params()}
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        os.close(fd)
        try:
            save_file(
                # clone: a scaling may share one tensor between two names (std scale = inverse scale)
                {k: v.contiguous().clone() for k, v in tensors.items()}, tmp, metadata={_FORMAT: json.dumps(header)}
            )
            os.replace(tmp, path)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Translator":
        """Read a translator written by ``save``; its transform gives identical outputs."""
        from safetensors import safe_open
        from safetensors.torch import load_file

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"translator file not found: {path}")
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
        if _FORMAT not in meta:
            raise ValueError(f"{path} is not a saved Translator (no {_FORMAT!r} record in its header)")
        header = json.loads(meta[_FORMAT])
        if header.get("version") != _FORMAT_VERSION:
            raise ValueError(f"{path}: Translator format version {header.get('version')}, expected {_FORMAT_VERSION}")
        tensors = {k: _stored(v) for k, v in load_file(str(path)).items()}
        t = cls(**header["settings"])
        t.scaling_x_ = t._make_scaling().load_state(
            {k: tensors[f"scaling_x.{k}"] for k in Scaling.state_names}
        )
        t.scaling_y_ = t._make_scaling().load_state(
            {k: tensors[f"scaling_y.{k}"] for k in Scaling.state_names}
        )
        nonlinear = METHODS[t.method].nonlinear
        if nonlinear is not None:
            t._set_map(nonlinear(**{k.removeprefix("map."): v for k, v in tensors.items() if k.startswith("map.")}))
            return t
        t.matrix_, t.bias_ = tensors["matrix"], tensors["bias"]
        t.alpha_ = float(tensors["alpha"]) if "alpha" in tensors else None
        t.n_features_in_, t.n_features_out_ = t.matrix_.shape
        t._fold()
        return t


def transform_many(translators: Sequence[Translator], x: Array) -> Iterator[Array]:
    """Yield ``t.transform(x)`` for each translator in ``translators``, in order, checking x
    once and scaling it once for all translators that share their source's fitted scaling
    (``fit_translators``' output does): each output then costs one matrix product. Outputs
    come one at a time, so memory holds one translation. Raises what ``transform`` raises.
    """
    translators = list(translators)
    for t in translators:
        t._check_fitted()
    if not translators:
        return
    dims = {t.n_features_in_ for t in translators}
    if len(dims) != 1:
        raise ValueError(f"transform_many needs translators from one source dim, got input dims {sorted(dims)}")
    scaled: dict[tuple[int, ...], tuple[torch.Tensor, Callable]] = {}
    for t in translators:
        key = tuple(id(v) for v in t.scaling_x_.state().values())
        if key not in scaled:
            scaled = {key: t._prepare(x)}  # keep one prepared input alive at a time
        xt, back = scaled[key]
        yield back(t._apply(xt))


def fit_translators(x: Array, ys: Sequence[Array], method: str = "ortho", scaling: str = "standard",
                    **settings: Any) -> list[Translator]:
    """One fitted ``Translator(method, scaling, **settings)`` per target anchors in ``ys``, all
    from the same source anchors ``x`` (n, d1); each ``ys[t]`` is (n, d2_t).

    Equal to ``[Translator(method, scaling, **settings).fit(x, y) for y in ys]`` up to float
    rounding, and cheaper: x's scaling is fitted once, and the aligner shares its work on x
    across targets (see ``Method``). This is what stitching one encoder into many decoders
    needs. Raises what ``Translator.fit`` raises, naming the offending target.
    """
    template = Translator(method, scaling, **settings)
    ys = list(ys)
    if not ys:
        raise ValueError("fit_translators needs at least one target (ys is empty)")
    outs = [Translator(method, scaling, **settings) for _ in ys]
    template._fit_targets(x, ys, outs)
    return outs
