"""``Translator``: scaling -> zero padding -> aligner -> inverse padding -> inverse scaling.

Fit learns each step on the anchors; then the whole chain, which is affine up to the row
normalization of ``l2``, is folded into one (d1, d2) matrix and one offset, so ``transform``
is a single matrix product in the input's dtype on the input's device.
"""

from __future__ import annotations

import inspect
import math
import numbers
import os
import warnings
from collections.abc import Sequence as SequenceABC
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, NamedTuple, Sequence

import numpy as np
import torch

from latentstitch.translate import _file
from latentstitch.translate._array import (
    SAFE_RANGE,
    Array,
    all_finite,
    check_finite,
    check_matrix,
    max_abs,
    row_norms,
    to_tensor,
)
from latentstitch.translate.functional import (
    RIDGE_GRID,
    _affine_adam_many,
    _closest_orthogonal,
    _lstsq_rank,
    _ridge_basis,
    _ridge_solve,
)
from latentstitch.translate.irp import InverseRelativeProjection, fit_irp
from latentstitch.translate.kernel import RBFKernelRidge, fit_kernel_ridge
from latentstitch.translate.mlp import ResidualMLP, fit_mlp
from latentstitch.translate.nonlinear import NonlinearMap
from latentstitch.translate.scaling import SCALINGS, NoScaling, Scaling, StandardScaling

FIT_DTYPES = (None, "float32", "float64")


def _dtype_name(dtype: torch.dtype) -> str:
    return str(dtype).removeprefix("torch.")


def _all_rows_equal(a: torch.Tensor) -> bool:
    # Two rows decide almost always; the full comparison runs only when they are equal.
    if a.shape[0] < 2 or not torch.equal(a[0], a[1]):
        return False
    return bool((a == a[0]).all())


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except Exception:
        return False


class NotFittedError(ValueError, AttributeError):
    """A Translator was used before ``fit`` (or ``load``)."""


class Alignment(NamedTuple):
    """An aligner's result in the pre-processed space: ``z ~ x @ matrix + bias``.

    ``rank`` is the effective rank of what the aligner factored (x; for ``ortho`` and
    ``affine``, which factor nothing, a bound from duplicated rows and constant features) and ``needed_rank`` the rank a unique answer needs; when ``rank`` is
    lower, ``Translator.fit`` warns (both None: the method makes no such claim)."""

    matrix: torch.Tensor
    bias: torch.Tensor | None = None
    alpha: float | None = None
    rank: int | None = None
    needed_rank: int | None = None


class FitContext(NamedTuple):
    """What an aligner may need besides the anchors."""

    seed: int
    affine_steps: int
    affine_lr: float
    # Least squares treats singular values below eps * max(n, d) * s_max as zero, with eps
    # the anchors' precision, not the solve's: float32 anchors cannot resolve directions
    # below eps32 * s_max, and fitting that rounding noise in float64 would blow up the solution.
    eps: float
    # Whether the pre-processed anchors are centered (standard scaling): n anchors then span
    # at most n - 1 dims, which is all a method can ask of them.
    centered: bool = False
    # ridge's least penalty (in the pre-processed space): GCV chooses among the grid's values
    # above it, and it. None: the whole grid. Set only by ``refine`` (see ``_alpha_floor``).
    alpha_floor: float | None = None


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
    ``beyond_paper``: not one of the paper's methods (Section 3.2); reports show such a method
    after the paper's, and only where it was run. A method you add is beyond the paper.

    Add your own with ``register_method(name, Method(aligner))``.
    """

    aligner: Callable[[torch.Tensor, list[torch.Tensor], "FitContext"], list[Any]]
    equal_dims: bool = False
    float64: bool = False
    nonlinear: type[NonlinearMap] | None = None
    beyond_paper: bool = True

    def __post_init__(self) -> None:
        if not callable(self.aligner):
            raise TypeError(
                f"Method.aligner must be callable as aligner(x, ys, ctx) -> [Alignment, ...], got {self.aligner!r}"
            )
        if self.nonlinear is not None and not (
            isinstance(self.nonlinear, type) and issubclass(self.nonlinear, NonlinearMap)
        ):
            raise TypeError(f"Method.nonlinear must be a NonlinearMap subclass or None, got {self.nonlinear!r}")


def _split(m: torch.Tensor, ys: list[torch.Tensor]) -> list[torch.Tensor]:
    return list(torch.split(m, [y.shape[1] for y in ys], dim=-1))


def _identity(x: torch.Tensor, ys: list[torch.Tensor], ctx: FitContext) -> list[Alignment]:
    return [Alignment(torch.eye(x.shape[1], dtype=x.dtype, device=x.device)) for _ in ys]


def _rank(s: torch.Tensor, tol: float) -> int:
    """How many of the singular values ``s`` exceed ``tol`` times the largest."""
    return int((s > s.max() * tol).sum()) if s.numel() else 0


def _usable_rows(x: torch.Tensor, ctx: FitContext, *, centers: bool = False) -> int:
    """Rows' worth of independent directions the anchors can offer: n, or n - 1 centered."""
    return x.shape[0] - (1 if centers or ctx.centered else 0)


def _ortho(x: torch.Tensor, ys: list[torch.Tensor], ctx: FitContext) -> list[Alignment]:
    # Zero padding pads the cross-covariance: pad(x).T @ pad(y) = pad(x.T @ y). Its orthogonal
    # polar factor, cut back to (d1, d2), is U @ Vh of the unpadded matrix's thin SVD
    # (_closest_orthogonal): when the matrix has full rank min(d1, d2) that block does not
    # depend on how the padded factor is completed (the padded rows or columns are its null
    # space), so this gives the padded method's answer at a fraction of the cost (a 50 x 768
    # SVD instead of a 768 x 768 one); below full rank any completion is as valid, and fit
    # warns: the answer is then one of many.
    # The rank check: the cross-covariance's spectrum cannot tell rank deficiency from the
    # squared conditioning of real anchors in float32 (both reach eps * s_max), and an SVD of
    # the anchors would double the cost, so degeneracy is bounded from what makes it:
    # duplicated rows and constant features, on each side (``_rank_bound``).
    n, d1 = x.shape
    bound_x = _rank_bound(x, ctx)
    out = []
    for y, cross in zip(ys, _split(x.T @ torch.cat(ys, dim=1), ys)):
        rank = min(bound_x, _rank_bound(y, ctx))
        needed = min(_usable_rows(x, ctx), d1, y.shape[1])
        out.append(Alignment(_closest_orthogonal(cross), rank=rank, needed_rank=needed))
    return out


def _rank_bound(a: torch.Tensor, ctx: FitContext) -> int:
    """An upper bound on the rank of anchors ``a`` (n, d) that only duplicated rows and
    constant features lower: min(distinct rows (- 1 if centered), varying features (+ 1 for
    a nonzero constant one when uncentered)). Costs one matrix-vector product and one pass."""
    n, d = a.shape
    constant = a.amax(dim=0) == a.amin(dim=0)  # (two reductions beat aminmax(dim=0) by 10x)
    hi = a[0]
    varying = d - int(constant.sum())
    if not ctx.centered and bool((constant & (hi != 0)).any()):
        varying += 1  # all nonzero constant columns together span the ones vector
    # Duplicated rows project to (almost) the same value on a fixed random direction; only
    # neighbours in that order that come close are compared exactly.
    v = torch.randn(d, generator=torch.Generator().manual_seed(0), dtype=torch.float64).to(a.device, a.dtype)
    r, order = torch.sort(a @ v)
    close = torch.nonzero((r[1:] - r[:-1]).abs() <= 1e-5 * r.abs().max().clamp_min(torch.finfo(r.dtype).tiny))
    close = close.flatten()
    duplicates = int((a[order[close]] == a[order[close + 1]]).all(dim=1).sum()) if len(close) else 0
    distinct = n - duplicates
    return min(distinct - (1 if ctx.centered else 0), varying)


def _rcond(ctx: FitContext, n: int, dim: int) -> float:
    return ctx.eps * max(n, dim)


def _linear(x: torch.Tensor, ys: list[torch.Tensor], ctx: FitContext) -> list[Alignment]:
    solution, rank = _lstsq_rank(x, torch.cat(ys, dim=1), _rcond(ctx, *x.shape))
    needed = min(_usable_rows(x, ctx), x.shape[1])
    return [Alignment(r, rank=rank, needed_rank=needed) for r in _split(solution, ys)]


def _l_ortho_aligner(x: torch.Tensor, ys: list[torch.Tensor], ctx: FitContext) -> list[Alignment]:
    # The minimum-norm solution on zero-padded anchors is the unpadded one, zero-padded, and
    # its polar factor is _closest_orthogonal's (see _ortho); only the rank threshold follows the padded shape, so
    # targets are solved in groups of equal padded dim.
    n, d1 = x.shape
    needed = min(_usable_rows(x, ctx), d1)
    out: list[Alignment | None] = [None] * len(ys)
    for dim in sorted({max(d1, y.shape[1]) for y in ys}):
        group = [i for i, y in enumerate(ys) if max(d1, y.shape[1]) == dim]
        solution, rank = _lstsq_rank(x, torch.cat([ys[i] for i in group], dim=1), _rcond(ctx, n, dim))
        for i, r in zip(group, _split(solution, [ys[i] for i in group])):
            out[i] = Alignment(_closest_orthogonal(r), rank=rank, needed_rank=needed)
    return out


def _ridge_aligner(x: torch.Tensor, ys: list[torch.Tensor], ctx: FitContext) -> list[Alignment]:
    basis = _ridge_basis(x)
    y_all = torch.cat(ys, dim=1)
    xcty = _split(basis.xc.T @ (y_all - y_all.mean(dim=0)), ys)
    # eigvals are squared singular values: the singular-value tolerance, squared.
    rank = 0 if basis.eigvals is None else _rank(basis.eigvals, _rcond(ctx, *x.shape) ** 2)
    needed = min(_usable_rows(x, ctx, centers=True), x.shape[1])
    alphas = None
    if ctx.alpha_floor is not None and basis.eigvals is not None:
        grid = RIDGE_GRID.to(dtype=x.dtype, device=x.device) * basis.eigvals[-1]
        alphas = torch.cat([grid.new_tensor([ctx.alpha_floor]), grid[grid > ctx.alpha_floor]])
    return [Alignment(*_ridge_solve(basis, y, alphas, xcty=c), rank=rank, needed_rank=needed) for y, c in zip(ys, xcty)]


def _affine(x: torch.Tensor, ys: list[torch.Tensor], ctx: FitContext) -> list[Alignment]:
    many = _affine_adam_many(x, ys, steps=ctx.affine_steps, lr=ctx.affine_lr, seed=ctx.seed)
    # Adam finds some fit whatever the rank; whether it is the only one is bounded from
    # duplicated rows and constant features (as ortho: an exact rank, from a float64 Gram
    # matrix's eigenvalues, would cost 4% of the fit).
    rank = _rank_bound(x, ctx._replace(centered=True))  # the bias absorbs the mean
    needed = min(_usable_rows(x, ctx, centers=True), x.shape[1])
    return [Alignment(r, b, rank=rank, needed_rank=needed) for r, b in many]


def _with_rank(maps: list[NonlinearMap], x: torch.Tensor, ctx: FitContext) -> list[NonlinearMap]:
    # As affine's: the rank of the centered x anchors says whether they span what they could
    # (fit warns below ``needed_rank``, e.g. for constant or duplicated anchors).
    xc = (x - x.mean(dim=0)).to(torch.float64)
    gram = xc.T @ xc if x.shape[1] <= x.shape[0] else xc @ xc.T
    tol = max(_rcond(ctx, *x.shape) ** 2, torch.finfo(torch.float64).eps * max(x.shape))
    rank = _rank(torch.linalg.eigvalsh(gram), tol)
    needed = min(_usable_rows(x, ctx, centers=True), x.shape[1])
    for m in maps:
        m.rank, m.needed_rank = rank, needed
    return maps


def _irp(x: torch.Tensor, ys: list[torch.Tensor], ctx: FitContext) -> list[NonlinearMap]:
    return _with_rank(fit_irp(x, ys, ctx.eps), x, ctx)


def _kernel(x: torch.Tensor, ys: list[torch.Tensor], ctx: FitContext) -> list[NonlinearMap]:
    return _with_rank(fit_kernel_ridge(x, ys), x, ctx)


def _mlp(x: torch.Tensor, ys: list[torch.Tensor], ctx: FitContext) -> list[NonlinearMap]:
    return _with_rank(fit_mlp(x, ys, ctx.seed), x, ctx)


# The one list of methods, in the paper's display order (Tables 1-8: absolute, affine, linear,
# l-ortho, ortho), then those beyond the paper; every other list of method names (stitching,
# reports) is a ``MethodNames`` view of it, so a registered method appears there too.
METHODS: dict[str, Method] = {
    "absolute": Method(_identity, equal_dims=True, beyond_paper=False),
    "affine": Method(_affine, beyond_paper=False),
    "linear": Method(_linear, beyond_paper=False),
    "l-ortho": Method(_l_ortho_aligner, beyond_paper=False),
    "ortho": Method(_ortho, beyond_paper=False),
    "ridge": Method(_ridge_aligner, float64=True),
    # nonlinear (latentstitch.translate.irp, .kernel, .mlp)
    "irp": Method(_irp, float64=True, nonlinear=InverseRelativeProjection),
    "kernel": Method(_kernel, float64=True, nonlinear=RBFKernelRidge),
    "mlp": Method(_mlp, nonlinear=ResidualMLP),
}
BUILTIN_METHODS = tuple(METHODS)
# Names a method may not take: the paper's relative baseline (``relative_projection``) and the
# reports' own-encoder column.
RESERVED_NAMES = ("relative", "no-stitch")


def register_method(name: str, method: Method, *, replace: bool = False) -> None:
    """Add ``method`` to ``METHODS`` as ``name``: ``Translator(name, ...)`` then fits it, and
    every list of method names derived from ``METHODS`` (stitching, report columns) shows it,
    after the built-in ones.

    ``name``: a non-empty string without whitespace or ``/``, neither a built-in method
    (``BUILTIN_METHODS``) nor reserved (``RESERVED_NAMES``); a name registered before is a
    ValueError unless ``replace=True``. ``method``: a ``Method`` (TypeError otherwise; its
    aligner is checked callable when it is built). To load a saved translator of a registered
    method, register it first.
    """
    if not isinstance(name, str) or not name or any(c.isspace() or c == "/" for c in name):
        raise ValueError(f"a method name must be a non-empty string without whitespace or '/', got {name!r}")
    if not isinstance(method, Method):
        raise TypeError(
            f"register_method({name!r}, ...) needs a latentstitch.translate.Method, got {type(method).__name__}: "
            f"wrap the aligner as Method(aligner)"
        )
    if name in BUILTIN_METHODS or name in RESERVED_NAMES:
        raise ValueError(
            f"method name {name!r} is taken (built in: {', '.join(BUILTIN_METHODS)}; reserved: "
            f"{', '.join(RESERVED_NAMES)}); choose another name"
        )
    if name in METHODS and not replace:
        raise ValueError(f"method {name!r} is already registered; pass replace=True to replace it")
    METHODS[name] = method


class MethodNames(SequenceABC):
    """A read-only, live sequence of method names: ``before``, then the names of ``METHODS``
    (in its order) that are neither in ``before`` nor in ``exclude`` and whose ``Method``
    passes ``where``. It reads ``METHODS`` at each use, so a module-level list of names kept as
    a ``MethodNames`` includes methods registered after import."""

    def __init__(
        self,
        where: Callable[[Method], bool] | None = None,
        before: Sequence[str] = (),
        exclude: Sequence[str] = (),
    ) -> None:
        self._where, self._before, self._exclude = where, tuple(before), tuple(exclude)

    def _names(self) -> tuple[str, ...]:
        skip = set(self._before) | set(self._exclude)
        found = (n for n, m in METHODS.items() if n not in skip and (self._where is None or self._where(m)))
        return (*self._before, *found)

    def __getitem__(self, index):  # type: ignore[override]
        return self._names()[index]

    def __len__(self) -> int:
        return len(self._names())

    def __iter__(self) -> Iterator[str]:
        return iter(self._names())

    def __contains__(self, name: object) -> bool:
        return name in self._names()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, (MethodNames, tuple, list)):
            return tuple(self) == tuple(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # it changes with METHODS

    def __repr__(self) -> str:
        return f"MethodNames{self._names()!r}"


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
        2024), ``"kernel"`` (RBF kernel ridge, penalty by leave-one-out), ``"mlp"`` (residual MLP with
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

    Attributes
    ----------
    scaling_x_, scaling_y_ : Scaling
        The scalings fitted on each side's anchors.
    matrix_, bias_ : torch.Tensor
        (d1, d2) and (d2,): the aligner in the pre-processed space, padding removed.
    alpha_ : float or None
        ridge's (or kernel's) penalty, else None.
    n_features_in_, n_features_out_ : int
        d1 and d2.
    coef_, offset_ : torch.Tensor
        (d1, d2) and (d2,): the whole chain folded, ``transform(x) = prepare(x) @ coef_ +
        offset_``.
    map_ : NonlinearMap
        Nonlinear methods only (irp, kernel, mlp), instead of ``matrix_``, ``bias_``,
        ``coef_`` and ``offset_`` (reading those raises AttributeError saying so).

    Learned tensors are kept in float64 on CPU whatever the anchors' device. scikit-learn's
    estimator protocol is implemented without importing it (see the README).
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

    # scikit-learn's estimator protocol, implemented without importing scikit-learn (an
    # optional dependency): get_params/set_params (so sklearn.base.clone works), a repr of
    # the settings that differ from the defaults, __sklearn_is_fitted__ for check_is_fitted,
    # fit_transform for a Pipeline, and pickling that drops the per-device cache.

    @classmethod
    def _param_names(cls) -> list[str]:
        return [p for p in inspect.signature(cls.__init__).parameters if p != "self"]

    def get_params(self, deep: bool = True) -> dict:
        """The constructor's settings, by name (scikit-learn's protocol; nothing is nested)."""
        return {name: getattr(self, name) for name in self._param_names()}

    def set_params(self, **params: Any) -> "Translator":
        """Change settings by name and check them; takes effect at the next ``fit``.
        Raises ValueError for an unknown name (listing the valid ones), and what the
        constructor raises for a bad value (the settings are then left as they were)."""
        valid = self._param_names()
        unknown = sorted(set(params) - set(valid))
        if unknown:
            raise ValueError(f"invalid parameter(s) {unknown} for Translator; valid: {', '.join(valid)}")
        old = self.get_params()
        self.__dict__.update(params)
        try:
            self._check_settings()
        except (TypeError, ValueError):
            self.__dict__.update(old)
            raise
        return self

    def __sklearn_is_fitted__(self) -> bool:
        return "matrix_" in self.__dict__ or "map_" in self.__dict__

    def __sklearn_tags__(self) -> Any:
        """scikit-learn (>= 1.6) asks for these; only scikit-learn calls this, so importing it
        here keeps it optional. A transformer whose fit needs a 2-D target (the y anchors)."""
        from sklearn.utils import Tags, TargetTags, TransformerTags

        return Tags(
            estimator_type=None,
            target_tags=TargetTags(required=True, two_d_labels=True, multi_output=True, single_output=False),
            transformer_tags=TransformerTags(preserves_dtype=["float64", "float32"]),
        )

    def fit_transform(self, x: Array, y: Array) -> Array:
        """``fit(x, y).transform(x)``: the anchors translated (as scikit-learn transformers)."""
        return self.fit(x, y).transform(x)

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state.pop("_on_device", None)  # device copies are a cache (and may be on a GPU)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        if "coef_" in state or "map_" in state:
            self._on_device = {}

    def _plain_settings(self) -> dict:
        """``get_params()`` with numpy scalars as Python ones (for JSON)."""
        return {k: v.item() if isinstance(v, np.generic) else v for k, v in self.get_params().items()}

    def __repr__(self) -> str:
        # method and scaling always; the rest only where they differ from the defaults.
        defaults = {k: p.default for k, p in inspect.signature(type(self).__init__).parameters.items()}
        shown = [
            f"{k}={v!r}"
            for k, v in self.get_params().items()
            if k in ("method", "scaling") or not _same(v, defaults.get(k))
        ]
        return f"{type(self).__name__}({', '.join(shown)})"

    def _check_settings(self) -> None:
        if self.method not in METHODS:
            raise ValueError(
                f"unknown method {self.method!r}; valid methods: {', '.join(METHODS)} "
                f"(add your own with register_method)"
            )
        if self.scaling not in SCALINGS:
            raise ValueError(f"unknown scaling {self.scaling!r}; valid scalings: {', '.join(SCALINGS)}")
        for name in ("seed", "ddof", "affine_steps"):
            value = getattr(self, name)
            # numpy integers count (np.int64 from a config or a sweep); bools do not.
            if not isinstance(value, numbers.Integral) or isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
        if self.ddof < 0:
            raise ValueError(f"ddof must be >= 0, got {self.ddof}")
        if self.affine_steps < 1:
            raise ValueError(f"affine_steps must be >= 1, got {self.affine_steps}")
        lr = self.affine_lr
        if not (isinstance(lr, numbers.Real) and not isinstance(lr, bool) and math.isfinite(lr) and lr > 0):
            raise ValueError(f"affine_lr must be a positive finite number, got {self.affine_lr!r}")
        if self.fit_dtype not in FIT_DTYPES:
            raise ValueError(f"fit_dtype must be one of {FIT_DTYPES}, got {self.fit_dtype!r}")

    def _make_scaling(self) -> Scaling:
        cls = SCALINGS[self.scaling]
        return cls(ddof=int(self.ddof)) if cls is StandardScaling else cls()

    def fit(self, x: Array, y: Array) -> "Translator":
        """Learn the translation from parallel anchors ``x`` (n, d1) and ``y`` (n, d2), n >= 2.

        Raises ValueError for non-2-D or non-finite anchors, different n, n < 2, and for
        ``absolute`` with d1 != d2; TypeError for non-float anchors. Returns self.
        """
        self._check_settings()
        self._fit_targets(x, [y], [self])
        self._anchors = (x, y)  # references, for latentstitch.translate.refine
        return self

    def _fit_targets(self, x: Array, ys: list[Array], outs: list["Translator"]) -> None:
        """Fit ``outs[t]`` (translators with this one's settings) on ``x`` and ``ys[t]``."""
        xt, _ = to_tensor(x, "x anchors")
        if xt.ndim != 2:
            raise ValueError(f"x anchors must be 2-D (n, d), got shape {tuple(xt.shape)}")
        if xt.shape[0] < 2:
            raise ValueError(f"need at least 2 anchors to fit a translation, got x {tuple(xt.shape)}")
        peak_x = check_matrix(xt, "x anchors")
        method = METHODS[self.method]
        d1 = xt.shape[1]
        yts, peaks = [], [peak_x]
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
            peaks.append(check_matrix(yt, name))
            if method.equal_dims and yt.shape[1] != d1:
                raise ValueError(
                    f"method {self.method!r} needs x and y of the same dim, got x {tuple(xt.shape)} and "
                    f"y {tuple(yt.shape)}; use a translation method "
                    f"({', '.join(m for m in METHODS if m != self.method)})"
                )
            yts.append(yt)

        # Anchors are data here, not parameters: no autograd graph through the fit.
        x64 = xt.detach().to(torch.float64)
        y64s = [yt.detach().to(device=xt.device, dtype=torch.float64) for yt in yts]
        names = ["y anchors" if len(ys) == 1 else f"y anchors [{i}]" for i in range(len(ys))]
        scaling_x = self._fit_scaling(x64, "x anchors")
        scalings_y = [self._fit_scaling(y64, name) for y64, name in zip(y64s, names)]
        xs64 = scaling_x.transform(x64)
        ys64 = [sy.transform(y64) for sy, y64 in zip(scalings_y, y64s)]
        # What a solve must hold: pre-processed anchors' magnitudes, unless the scaling bounds
        # them; without scaling they are the raw anchors', known from the input check.
        if scaling_x.bounded:
            magnitudes = []
        elif isinstance(scaling_x, NoScaling):
            magnitudes = list(zip(["x anchors"] + names, peaks))
        else:
            magnitudes = [(n, max_abs(a)) for n, a in zip(["x anchors"] + names, [xs64] + ys64)]
        solve = self._solve_dtype(method, xt.dtype, magnitudes)
        xs = xs64.to(solve)
        ys_scaled = [y.to(solve) for y in ys64]
        ctx = FitContext(
            seed=int(self.seed),
            affine_steps=int(self.affine_steps),
            affine_lr=float(self.affine_lr),
            eps=torch.finfo(xt.dtype).eps,
            centered=scaling_x.centers,
            # A private override, not a setting: refine floors ridge's penalty when it refits
            # on mined pairs (GCV over pairs a translator mined itself picks a vanishing one).
            alpha_floor=self.__dict__.get("_alpha_floor"),
        )
        alignments = method.aligner(xs, ys_scaled, ctx)
        # One warning per distinct deficiency (least squares, ridge and affine factor x alone,
        # so every target of one source shares it), naming the targets it concerns.
        deficient: dict[tuple[int, int], list[str]] = {}
        for al, name, y64 in zip(alignments, names, y64s):
            if method.nonlinear is not None:
                if not all(all_finite(v) for v in al.state().values()):
                    raise ValueError(
                        f"method {self.method!r} did not find a finite translation for x anchors {tuple(xt.shape)} "
                        f"and {name} {tuple(y64.shape)} (NaN or inf in its learned state); rescale the anchors "
                        "(e.g. scaling='standard') or use another method"
                    )
            if al.rank is not None and al.needed_rank is not None and al.rank < al.needed_rank:
                deficient.setdefault((al.rank, al.needed_rank), []).append(f"{name} {tuple(y64.shape)}")
            if method.nonlinear is None and not (all_finite(al.matrix) and (al.bias is None or all_finite(al.bias))):
                raise ValueError(
                    f"method {self.method!r} did not find a finite translation for x anchors {tuple(xt.shape)} and "
                    f"{name} {tuple(y64.shape)} (NaN or inf in the learned matrix; max |anchor| after "
                    f"{self.scaling!r} scaling: x {max_abs(xs64):.3g}, y {max_abs(y64):.3g}); rescale the "
                    "anchors (e.g. scaling='standard') or use another method"
                )
        # ortho's and affine's ranks are bounds from duplicated rows and constant features.
        what = {"ortho": "the x and y anchors (at most)", "affine": "the x anchors (at most)"}.get(
            self.method, "the x anchors"
        )
        for (rank, needed), targets in deficient.items():
            warnings.warn(
                f"degenerate anchors for {self.method!r} ({', '.join(targets)}): effective rank {rank} of {what}, "
                f"below the {needed} a unique translation needs ({xt.shape[0]} anchors, x dim {d1}); constant "
                "features, or duplicated or collinear rows? The fit is one of many that explain the anchors "
                "equally well.",
                UserWarning,
                stacklevel=3,
            )
        ranked = bool(deficient)
        for side, a in [("x anchors", x64)] + list(zip(names, y64s)):
            if not ranked and _all_rows_equal(a):
                warnings.warn(
                    f"degenerate anchors for {self.method!r}: every row of the {side} is the same "
                    "(effective rank 0); the translation cannot learn anything from them",
                    UserWarning,
                    stacklevel=3,
                )

        # Learn into fresh objects and hand them over only when all are sound: a failed fit
        # leaves every translator as it was.
        state_x = {k: _stored(v) for k, v in scaling_x.state().items()}
        results = []
        for sy, al, yt, name in zip(scalings_y, alignments, yts, names):
            d2 = yt.shape[1]
            new = Translator(**self.get_params())
            new.scaling_x_ = self._make_scaling().load_state(dict(state_x))
            new.scaling_y_ = sy.load_state({k: _stored(v) for k, v in sy.state().items()})
            if method.nonlinear is not None:
                new._set_map(al.with_state({k: _stored(v) for k, v in al.state().items()}))
                finite = all(all_finite(v) for v in new.map_.state().values())
            else:
                new.matrix_ = _stored(al.matrix[:d1, :d2])
                new.bias_ = _stored(torch.zeros(d2) if al.bias is None else al.bias[:d2])
                new.alpha_ = al.alpha
                new.n_features_in_, new.n_features_out_ = d1, d2
                new._fold()
                finite = all_finite(new.coef_) and all_finite(new.offset_)
            if not finite:
                raise ValueError(
                    f"the translation from x anchors {tuple(xt.shape)} to {name} {tuple(yt.shape)} overflows "
                    "float64 once scaled back into y's space; rescale the anchors"
                )
            results.append(new)
        for out, new in zip(outs, results):
            out.__dict__.update({k: v for k, v in new.__dict__.items() if k.endswith("_") or k == "_on_device"})

    def _fit_scaling(self, a: torch.Tensor, name: str) -> Scaling:
        """The scaling fitted on float64 anchors ``a``; ValueError if its statistics overflow."""
        scaling = self._make_scaling().fit(a)
        if not all(bool(torch.isfinite(v).all()) for v in scaling.state().values()):
            raise ValueError(
                f"{name}: {self.scaling!r} scaling's statistics overflow float64 (max |anchor| "
                f"{max_abs(a):.3g}); rescale the anchors"
            )
        return scaling

    def _solve_dtype(
        self, method: Method, anchors_dtype: torch.dtype, magnitudes: list[tuple[str, float]]
    ) -> torch.dtype:
        """The aligner's precision (see ``fit_dtype``). Pre-processed anchors whose magnitude
        would overflow or underflow in float32 products (unscaled anchors beyond 2**40 or
        below 2**-40, e.g. float32 values of 1e19, or subnormals) are solved in float64, whose
        range holds any float32's square; beyond float64's safe range it is a ValueError."""
        if self.fit_dtype is not None:
            solve = getattr(torch, self.fit_dtype)
        elif method.float64 or anchors_dtype == torch.float64:
            solve = torch.float64
        else:
            solve = torch.float32  # also for half-precision anchors, which LAPACK does not take
        for name, peak in magnitudes:
            low, high = SAFE_RANGE[solve]
            if peak == 0 or low <= peak <= high:
                continue
            if solve == torch.float32 and self.fit_dtype is None:
                solve = torch.float64
                low, high = SAFE_RANGE[solve]
                if low <= peak <= high:
                    continue
            raise ValueError(
                f"{name}: max |value| {peak:.3g} after {self.scaling!r} scaling is outside the range "
                f"[{low:.3g}, {high:.3g}] a {str(solve).removeprefix('torch.')} solve can take without "
                f"overflow or underflow; rescale the anchors (scaling='standard' does)"
                + (" or leave fit_dtype=None" if self.fit_dtype == "float32" else "")
            )
        return solve

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
        wrong shape or non-finite values, or a translation that overflows x's dtype (pass
        float64 then), TypeError for non-float input. ``transform(x) == apply(prepare(x))``."""
        self._check_fitted()
        xt, back, peak = self._prepare(x)
        return back(self._apply(xt, peak))

    def prepare(self, x: Array) -> Array:
        """What the folded map multiplies: ``x`` itself, or for a row-normalizing scaling
        (``l2``) ``(x - shift) / ||(x - shift) / scale||`` row by row (that step is not linear,
        so it cannot be folded). Then ``transform(x) = prepare(x) @ coef_ + offset_``; this is
        how a linear decoder on Y composes with the translation (``coef_ @ weight``).
        Translators from one ``fit_translators`` call share the source's scaling, hence this."""
        self._check_fitted()
        xt, back, _ = self._prepare(x)
        return back(xt)

    def apply(self, x_prepared: Array) -> Array:
        """``x_prepared @ coef_ + offset_`` in the input's dtype and device (see ``prepare``); for a
        nonlinear method, the rest of its chain (``transform(x) == apply(prepare(x))`` always)."""
        self._check_fitted()
        xt, back, peak = self._input(x_prepared, "x_prepared")
        return back(self._apply(xt, peak))

    def _input(self, x: Array, name: str) -> tuple[torch.Tensor, Callable[[torch.Tensor], Array], float]:
        """``x`` as a tensor, checked (float, finite, shape (m, the x anchors' dim)), with its
        largest magnitude."""
        xt, back = to_tensor(x, name)
        if xt.ndim != 2 or xt.shape[1] != self.n_features_in_:
            raise ValueError(
                f"{name} must have shape (m, {self.n_features_in_}) (the x anchors' dim), got {tuple(xt.shape)}"
            )
        return xt, back, check_finite(xt, name)

    def _prepare(self, x: Array) -> tuple[torch.Tensor, Callable[[torch.Tensor], Array], float]:
        xt, back, peak = self._input(x, "x")
        if not self.scaling_x_.normalize_rows:
            return xt, back, peak
        shift, scale = (
            t.to(device=xt.device, dtype=xt.dtype) for t in (self.scaling_x_.shift_, self.scaling_x_.scale_)
        )
        xc = xt - shift
        # Exact norms at any magnitude (row_norms); a point at the anchors' mean maps to y's mean.
        norms = row_norms(xc / scale)
        if not bool(torch.isfinite(norms).all()):
            raise ValueError(
                f"x: centering on the anchors' mean overflows {_dtype_name(xt.dtype)} (max |x| {peak:.3g}); "
                "pass float64 input"
            )
        # |xc_i| / ||xc / scale|| <= scale_i: the prepared rows' magnitude is bounded by the scale.
        bound = float(self.scaling_x_.scale_.max())
        return xc / torch.where(norms > 0, norms, torch.ones_like(norms))[:, None], back, bound

    def _apply(self, xin: torch.Tensor, peak: float) -> torch.Tensor:
        """``xin @ coef_ + offset_``; ``peak`` bounds ``|xin|``, which bounds the output. A
        nonlinear method runs its chain instead (``_apply_map``)."""
        if "map_" in self.__dict__:
            return self._apply_map(xin)
        key = (xin.device, xin.dtype)
        if key not in self._on_device:
            coef, offset = (t.to(device=xin.device, dtype=xin.dtype) for t in (self.coef_, self.offset_))
            if not (all_finite(coef) and all_finite(offset)):
                raise ValueError(
                    f"x: the fitted map's coefficients (max |coef_| {max_abs(self.coef_):.3g}, max |offset_| "
                    f"{max_abs(self.offset_):.3g}) overflow x's dtype {_dtype_name(xin.dtype)}; pass float64 input"
                )
            # |out_ij| <= peak * max_j sum_k |coef_kj| + max |offset|: the largest column sum.
            gain = float(self.coef_.abs().sum(dim=0).max()), max_abs(self.offset_)
            self._on_device[key] = (coef, offset, gain)
        coef, offset, (col_sum, most) = self._on_device[key]
        out = torch.addmm(offset, xin, coef)
        # Only when that bound reaches the dtype's range is the output itself checked.
        if peak * col_sum + most >= torch.finfo(xin.dtype).max / 4 and not all_finite(out):
            raise ValueError(
                f"x: its translation overflows {_dtype_name(xin.dtype)} (max |x| {peak:.3g}); pass float64 input"
            )
        return out

    def _apply_map(self, xin: torch.Tensor) -> torch.Tensor:
        """The nonlinear chain on ``prepare``'s output: the rest of x's scaling, the map, and
        y's inverse scaling, on the input's device, returned in the input's dtype. Computed in
        float64 whatever the input: the maps normalize rows and square distances, which
        overflow or underflow float32 long before the translation itself does."""
        key = (xin.device, torch.float64)
        if key not in self._on_device:
            sx, sy = self.scaling_x_, self.scaling_y_
            self._on_device[key] = tuple(
                t.to(device=xin.device, dtype=torch.float64)
                for t in (sx.shift_, sx.scale_, sy.inverse_scale_, sy.shift_)
            )
        shift_x, scale_x, inverse_scale_y, shift_y = self._on_device[key]
        z = xin.to(torch.float64)
        z = z / scale_x if self.scaling_x_.normalize_rows else (z - shift_x) / scale_x
        out = (self.map_(z) * inverse_scale_y + shift_y).to(xin.dtype)
        if not bool(torch.isfinite(out.sum())) and not bool(torch.isfinite(out).all()):
            raise ValueError(
                f"x: its translation overflows {_dtype_name(xin.dtype)} (max |x| {max_abs(xin):.3g}); "
                "pass float64 input"
            )
        return out

    def save(self, path: str | os.PathLike) -> None:
        """Write the fitted translator to one safetensors file, atomically: tensors in float64,
        settings and a SHA-256 of settings and tensors as JSON in its header; no pickle
        (``latentstitch.translate._file``)."""
        self._check_fitted()
        if "map_" in self.__dict__:
            tensors = {f"map.{k}": v for k, v in self.map_.state().items()}
        else:
            tensors = {"matrix": self.matrix_, "bias": self.bias_}
        for side, sc in (("x", self.scaling_x_), ("y", self.scaling_y_)):
            tensors.update({f"scaling_{side}.{k}": v for k, v in sc.state().items()})
        if self.alpha_ is not None and "map_" not in self.__dict__:
            tensors["alpha"] = torch.tensor(self.alpha_, dtype=torch.float64)
        _file.write(path, self._plain_settings(), tensors)

    @classmethod
    def load(cls, path: str | os.PathLike) -> "Translator":
        """Read a translator written by ``save``; its transform gives identical outputs.

        Checks everything before trusting anything: the safetensors framing, the record
        (format, integer version, settings: exactly this class's parameters, each valid), the
        content hash, and every tensor's name, dtype (float64), shape and values (finite;
        positive scales). Raises FileNotFoundError for a missing file and ValueError naming
        the file and the problem for every malformed one."""
        path = Path(path)
        settings, tensors = _file.read(path)

        def bad(problem: str) -> ValueError:
            return _file.FileError(f"{path}: {problem}")

        expected = set(inspect.signature(cls).parameters)
        if set(settings) != expected:
            missing, unknown = sorted(expected - set(settings)), sorted(set(settings) - expected)
            raise bad(
                "settings "
                + "; ".join(
                    ([f"lack {', '.join(map(repr, missing))}"] if missing else [])
                    + ([f"have unknown {', '.join(map(repr, unknown))}"] if unknown else [])
                )
                + f" (expected {', '.join(sorted(expected))})"
            )
        try:
            t = cls(**settings)
        except (TypeError, ValueError) as e:
            raise bad(f"invalid settings: {e}") from None
        nonlinear = METHODS[t.method].nonlinear
        if nonlinear is not None:
            return t._load_map(path, tensors, nonlinear, bad)
        names = {"matrix", "bias", "alpha"} | {f"scaling_{s}.{k}" for s in "xy" for k in Scaling.state_names}
        if set(tensors) - names:
            raise bad(f"unexpected tensors {sorted(set(tensors) - names)} (a Translator file holds {sorted(names)})")
        matrix = tensors.get("matrix")
        if matrix is None or matrix.ndim != 2 or 0 in matrix.shape:
            raise bad(
                f"tensor 'matrix' must be 2-D (d1, d2) with d1, d2 >= 1, got "
                f"{None if matrix is None else tuple(matrix.shape)}"
            )
        d1, d2 = matrix.shape
        t.matrix_ = _file.check_tensor(path, "matrix", matrix, (d1, d2))
        t.bias_ = _file.check_tensor(path, "bias", tensors.get("bias"), (d2,))
        t._load_scalings(path, tensors, d1, d2, bad)
        if "alpha" in tensors:
            alpha = _file.check_tensor(path, "alpha", tensors["alpha"], (), allow_inf=True)
            if not float(alpha) > 0:
                raise bad(f"tensor 'alpha' must be positive, got {float(alpha)}")
            t.alpha_ = float(alpha)
        else:
            t.alpha_ = None
        if t.method == "ridge" and t.alpha_ is None:
            raise bad("tensor 'alpha' is missing (a ridge translator has one)")
        if t.method == "absolute" and d1 != d2:
            raise bad(f"an 'absolute' translator maps equal dims, got matrix {(d1, d2)}")
        t.matrix_, t.bias_ = _stored(t.matrix_), _stored(t.bias_)
        t.n_features_in_, t.n_features_out_ = d1, d2
        t._fold()
        return t

    def _load_scalings(
        self, path: Path, tensors: dict[str, torch.Tensor], d1: int, d2: int, bad: Callable[[str], ValueError]
    ) -> None:
        for side, d in (("x", d1), ("y", d2)):
            # The shapes a fitted scaling of this kind has, from a fit on a few zero rows.
            shapes = {
                k: tuple(v.shape)
                for k, v in self._make_scaling()
                .fit(torch.zeros(int(self.ddof) + 2, d, dtype=torch.float64))
                .state()
                .items()
            }
            state = {
                k: _file.check_tensor(path, f"scaling_{side}.{k}", tensors.get(f"scaling_{side}.{k}"), shape)
                for k, shape in shapes.items()
            }
            if not bool((state["scale_"] > 0).all()) or not bool((state["inverse_scale_"] >= 0).all()):
                raise bad(f"scaling_{side} has non-positive scales")
            setattr(self, f"scaling_{side}_", self._make_scaling().load_state(state))

    def _load_map(
        self, path: Path, tensors: dict[str, torch.Tensor], kind: type[NonlinearMap], bad: Callable[[str], ValueError]
    ) -> "Translator":
        """The nonlinear part of ``load``: the map's state (``map.*``, float64, finite), a probe
        through it of the scalings' dims, then the scalings."""
        names = {f"map.{k}" for k in kind.state_names} | {f"scaling_{s}.{k}" for s in "xy" for k in Scaling.state_names}
        if set(tensors) != names:
            raise bad(f"tensors {sorted(tensors)} are not a {self.method!r} translator's {sorted(names)}")
        state = {
            k: _stored(_file.check_tensor(path, f"map.{k}", tensors[f"map.{k}"], tuple(tensors[f"map.{k}"].shape)))
            for k in kind.state_names
        }
        try:
            fitted = kind(**state)
            d1, d2 = fitted.n_in, fitted.n_out
            probe = fitted(torch.zeros(1, d1, dtype=torch.float64))
        except (IndexError, RuntimeError, ValueError) as e:
            raise bad(f"inconsistent {self.method!r} state: {e}") from None
        if tuple(probe.shape) != (1, d2):
            raise bad(f"the {self.method!r} map gives shape {tuple(probe.shape)} for one row, expected (1, {d2})")
        self._load_scalings(path, tensors, d1, d2, bad)
        self._set_map(fitted)
        return self


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
        xt, back, peak = scaled[key]
        yield back(t._apply(xt, peak))


def fit_translators(
    x: Array, ys: Sequence[Array], method: str = "ortho", scaling: str = "standard", **settings: Any
) -> list[Translator]:
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
