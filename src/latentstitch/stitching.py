"""Zero-shot stitching: every (source encoder, target decoder) pair, every method, one tidy table.

Paper Section 4: fit T on parallel anchors drawn from the train split (the same indices in
both spaces), translate the source's test encodings into the target's space, decode them with
the target's decoder (trained on the target's absolute space, never retrained) and score it.
"""

from __future__ import annotations

import dataclasses
import time
import warnings
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Literal, Sequence

import numpy as np
import pandas as pd
import torch

from latentstitch import metrics
from latentstitch.translate import MethodNames, fit_translators, relative_projection

# Baselines that involve no fitted translator; they get scaling "none" and are computed once.
BASELINES = ("absolute", "relative")
# The translation methods: latentstitch.translate.METHODS but the baselines, in its order (the
# paper's), methods added with translate.register_method included (a live view).
TRANSLATION_METHODS = MethodNames(exclude=BASELINES)
# The paper's translation methods (Section 3.2): affine, linear, l-ortho, ortho.
PAPER_METHODS = MethodNames(where=lambda spec: not spec.beyond_paper, exclude=BASELINES)
# Nonlinear (beyond the paper): no matrix composes with a linear head; their translated test
# set is formed and decoded.
NONLINEAR_METHODS = MethodNames(where=lambda spec: spec.nonlinear is not None)
RESULT_COLUMNS = [
    "source",
    "target",
    "decoder",
    "method",
    "scaling",
    "anchors",
    "seed",
    "metric",
    "value",
]


@dataclass(frozen=True)
class Space:
    """One encoder's encodings of a dataset: train (n_train, d) and test (n_test, d)."""

    name: str
    train: np.ndarray
    test: np.ndarray

    def __post_init__(self) -> None:
        for split in ("train", "test"):
            x = getattr(self, split)
            if x.ndim != 2:
                raise ValueError(f"space {self.name!r}: {split} must be 2-D, got shape {x.shape}")
        if self.train.shape[1] != self.test.shape[1]:
            raise ValueError(f"space {self.name!r}: train dim {self.train.shape[1]} != test dim {self.test.shape[1]}")

    @property
    def dim(self) -> int:
        return self.train.shape[1]


@dataclass(frozen=True)
class Decoder:
    """A decoder trained on one encoder's space (``space``), used as is.

    ``fn`` maps encodings to labels (``kind="classifier"``) or to images in [0, 1]
    (``kind="reconstruction"``). A relative decoder was trained on
    ``relative_projection(space encodings, anchors)`` with the anchors ``anchor_key`` =
    (count, seed) names; it serves the ``relative`` baseline for those anchors only.

    ``readout`` (optional, classifiers): the decoder is linear up to its labels, as
    ``SVMHead.linear_readout()``: an object with ``weight`` (d, k), ``bias`` (k,) and
    ``labels(x, weight, bias)``. A translation is affine after ``Translator.prepare``, so the
    stitched model is then one (d1, k) map, ``prepare(x) @ (coef_ @ weight)``, and the
    translated test set need not be formed; labels equal ``fn(translator.transform(x))``
    (both are the float64 decode, see ``OneVsOneReadout``).
    """

    name: str
    space: str
    kind: Literal["classifier", "reconstruction"]
    fn: Callable[[np.ndarray], np.ndarray]
    relative: bool = False
    anchor_key: tuple[int, int] | None = None
    readout: Any = None

    @classmethod
    def head(cls, name: str, space: str, head: Any) -> "Decoder":
        """A classifier decoder from a fitted head, with its linear readout when it has one."""
        readout = head.linear_readout() if hasattr(head, "linear_readout") else None
        return cls(name, space, "classifier", head.predict, readout=readout)


@dataclass
class StitchSettings:
    methods: Sequence[str] = (*BASELINES, *PAPER_METHODS)
    scalings: Sequence[str] = ("standard",)
    anchor_counts: Sequence[int] = (1000,)
    seeds: Sequence[int] = (0,)
    # The latent comparison sample: retrieval ranks the first `retrieval_queries` translated
    # test points among the true target encodings of those same points (bounded so that 6x6
    # pairs x seeds stay cheap); see `stitch` for lcos and lmse.
    retrieval_queries: int = 1000
    translator_kwargs: dict = field(default_factory=dict)
    # Also translate each space into itself (a sanity row: it should match no-stitch).
    self_pairs: bool = False
    # Methods that run on part of the grid only: {method: {"anchors": [...], "scalings": [...],
    # "seeds": [...]}} (each key optional); a costly method can then run where the report reads
    # it without running the whole anchors sweep. Methods not named run everywhere.
    method_grid: dict = field(default_factory=dict)
    # Where translators are fitted and applied (see ``resolve_device``): None keeps everything
    # in numpy on the CPU; "cpu" / "cuda" run the same torch code on that device; "auto" is
    # cuda when there is one, else None. Learned state is float64 on the CPU either way.
    device: str | None = None

    def __post_init__(self) -> None:
        valid = (*BASELINES, *TRANSLATION_METHODS)
        unknown = [m for m in self.methods if m not in valid]
        if unknown:
            raise ValueError(f"unknown method(s) {unknown}; valid: {', '.join(valid)}")
        if not self.anchor_counts or min(self.anchor_counts) < 2:
            raise ValueError(f"anchor_counts must be >= 2, got {list(self.anchor_counts)}")
        for method, grid in self.method_grid.items():
            if method not in TRANSLATION_METHODS:
                raise ValueError(
                    f"method_grid names {method!r}, not a translation method ({', '.join(TRANSLATION_METHODS)})"
                )
            if not isinstance(grid, dict) or set(grid) - {"anchors", "scalings", "seeds"}:
                raise ValueError(
                    f"method_grid[{method!r}] must be a mapping with keys among anchors, scalings, seeds, got {grid!r}"
                )

    def runs(self, method: str, anchors: int, scaling: str, seed: int) -> bool:
        """Whether ``method`` runs at (``anchors``, ``scaling``, ``seed``) (see ``method_grid``)."""
        grid = self.method_grid.get(method, {})
        return (
            int(anchors) in [int(a) for a in grid.get("anchors", [anchors])]
            and scaling in grid.get("scalings", [scaling])
            and int(seed) in [int(s) for s in grid.get("seeds", [seed])]
        )


def resolve_device(device: str | None) -> torch.device | None:
    """The torch device of a ``StitchSettings.device`` value: None / "auto" without a GPU ->
    None (the numpy path); "auto" with one -> cuda; "cpu", "cuda" or "cuda:N" -> that device.
    Asking for cuda where torch sees none warns, naming the fallback, and returns None (CPU)."""
    if device is None:
        return None
    if not isinstance(device, str) or not (device in ("auto", "cpu", "cuda") or device.startswith("cuda:")):
        raise ValueError(f"stitch device must be auto, cpu, cuda or cuda:N (or None), got {device!r}")
    if device == "cpu":
        return torch.device("cpu")
    if torch.cuda.is_available():
        return torch.device("cuda" if device == "auto" else device)
    if device != "auto":
        warnings.warn(
            f"stitch device {device!r} asked for, but torch sees no CUDA device "
            f"(torch {torch.__version__}, cuda build {torch.version.cuda}): stitching on the CPU",
            RuntimeWarning,
            stacklevel=2,
        )
    return None


def with_device(settings: StitchSettings, cfg: Any) -> StitchSettings:
    """``settings`` with the config's top-level ``device`` (auto | cpu | cuda; default auto)."""
    return dataclasses.replace(settings, device=cfg.get("device", "auto"))


def _latent_rows(pred: np.ndarray, true: np.ndarray, queries: int, whole: bool) -> dict[str, float]:
    """lcos and lmse over all rows of ``pred`` (``whole``) or over the first ``queries``; retrieval
    of the first ``queries`` among themselves. ``pred`` may hold just those first rows."""
    q = min(queries, len(true))
    retrieval = metrics.retrieval(pred[:q], true[:q], similarity="cosine")
    lcos, lmse = metrics.lcos_lmse(pred, true) if whole else metrics.lcos_lmse(pred[:q], true[:q])
    return {
        "lcos": lcos,
        "lmse": lmse,
        "retrieval_top1": retrieval["top1"],
        "retrieval_mrr": retrieval["mrr"],
    }


def _label_rows(y_test: np.ndarray | None, labels: np.ndarray) -> dict[str, float]:
    return {"accuracy": metrics.accuracy(y_test, labels), "macro_f1": metrics.macro_f1(y_test, labels)}


def _decoder_rows(
    decoder: Decoder, z: np.ndarray, y_test: np.ndarray | None, images_test: np.ndarray | None
) -> dict[str, float]:
    out = decoder.fn(z)
    if decoder.kind == "classifier":
        return _label_rows(y_test, out)
    if images_test is None:
        raise ValueError(f"decoder {decoder.name!r} reconstructs images: pass images_test")
    return {"rmse": metrics.rmse(out.reshape(len(out), -1), images_test.reshape(len(images_test), -1))}


class _Clock:
    """Seconds spent per phase, summed (``stitch(...).attrs["seconds"]``)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def __call__(self, phase: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[phase] = self.seconds.get(phase, 0.0) + time.perf_counter() - start


def stitch(
    spaces: Iterable[Space],
    decoders: Iterable[Decoder],
    settings: StitchSettings,
    *,
    anchor_indices: Callable[[int, int], np.ndarray],
    y_test: np.ndarray | None = None,
    images_test: np.ndarray | None = None,
) -> pd.DataFrame:
    """Score every (source space, target decoder) pair for every method, scaling, anchor
    count and seed, plus the no-stitch rows; returns one tidy row per metric.

    For each (anchors, seed, scaling, method, source) one ``fit_translators`` call fits the
    translators into every target at once, sharing the work on the source's anchors (its
    scaling, least-squares factorization, ridge eigenbasis, affine moments); each translator
    serves every decoder of its target. ``absolute`` is skipped for pairs whose dims differ
    (as in the paper). ``anchor_indices(count, seed)`` gives the train indices of the parallel
    anchors (e.g. ``latentstitch.data.sample_anchors(train_labels, count, seed)``). The seconds
    spent per phase (fit, transform, latent metrics, decode, relative) are in
    ``result.attrs["seconds"]``.

    Latent rows (decoder ``"latent"``) compare the translated test encodings with the
    target's own: retrieval on the first ``settings.retrieval_queries`` test points, and lcos
    and lmse over the whole test set when the decoders reconstruct (the paper's Tables 3, 4
    and 8), over that same sample otherwise (the paper reports none for classification).
    Decoders with a linear ``readout`` are composed with the translation, so a classification
    pair whose decoders all have one never forms its whole translated test set; a nonlinear
    translator (``Translator.is_linear`` False: irp, kernel, mlp) always forms it and decodes it.
    Seconds spent fitting, per (method, scaling, anchors): ``result.attrs["fit_seconds"]``, a
    list of ``{method, scaling, anchors, seed, source, translators, seconds}`` (one
    ``fit_translators`` call each; ``seconds / translators`` is the time per translator).

    ``settings.device`` (see ``resolve_device``) fits the translators (affine's Adam, the
    least-squares and SVD solves) and translates the test sets on that device; decoders get
    numpy arrays on the CPU as on the default path, and the numbers agree with it to float
    rounding (tests/unit/test_stitching_device.py).
    """
    spaces = {s.name: s for s in spaces}
    decoders = list(decoders)
    if not spaces:
        raise ValueError("stitch needs at least one space")
    n_train = {s.train.shape[0] for s in spaces.values()}
    n_test = {s.test.shape[0] for s in spaces.values()}
    if len(n_train) != 1 or len(n_test) != 1:
        sizes = {name: (s.train.shape[0], s.test.shape[0]) for name, s in spaces.items()}
        raise ValueError(f"spaces must encode the same samples; (train, test) sizes: {sizes}")
    for d in decoders:
        if d.space not in spaces:
            raise ValueError(f"decoder {d.name!r} is for space {d.space!r}, not among {sorted(spaces)}")
    rows: list[dict] = []
    clock = _Clock()
    fits: list[dict] = []

    def emit(source, target, decoder, method, scaling, anchors, seed, values: dict[str, float]):
        for metric, value in values.items():
            rows.append(
                dict(
                    source=source,
                    target=target,
                    decoder=decoder,
                    method=method,
                    scaling=scaling,
                    anchors=anchors,
                    seed=seed,
                    metric=metric,
                    value=float(value),
                )
            )

    absolute_decoders = [d for d in decoders if not d.relative]
    whole = any(d.kind == "reconstruction" for d in decoders)
    queries = settings.retrieval_queries
    device = resolve_device(settings.device)
    on_device: dict[tuple[str, int], torch.Tensor] = {}

    def to_device(x: np.ndarray, key: tuple[str, int] | None = None):
        """``x`` on the fit device (as is on the numpy path); test sets are moved once."""
        if device is None:
            return x
        if key is None:
            return torch.from_numpy(np.ascontiguousarray(x)).to(device)
        if key not in on_device:
            on_device[key] = torch.from_numpy(np.ascontiguousarray(x)).to(device)
        return on_device[key]

    def to_host(z):
        return z.cpu().numpy() if isinstance(z, torch.Tensor) else z

    def score(source, target, method, scaling, anchors, seed, x_in, translator=None, x_dev=None):
        """x_in: the source's test set as the translator multiplies it (``prepare``), in numpy;
        x_dev: the same on the fit device (device path); no translator: the identity
        (``absolute``)."""
        targets_decoders = [d for d in absolute_decoders if d.space == target]
        composes = translator is None or translator.is_linear
        sample = not whole and composes and all(d.readout is not None for d in targets_decoders)
        with clock("transform"):
            x_t = x_in if x_dev is None else x_dev
            z = x_in if translator is None else to_host(translator.apply(x_t[:queries] if sample else x_t))
        with clock("latent metrics"):
            emit(
                source,
                target,
                "latent",
                method,
                scaling,
                anchors,
                seed,
                _latent_rows(z, spaces[target].test, queries, whole),
            )
        with clock("decode"):
            for d in targets_decoders:
                if d.readout is None or translator is None or not composes:
                    values = _decoder_rows(d, z, y_test, images_test)
                else:
                    # in torch: a numpy product here would leave OpenBLAS threads spinning
                    # against torch's (see OneVsOneReadout.decision)
                    readout_weight = torch.from_numpy(d.readout.weight)
                    weight = (translator.coef_ @ readout_weight).numpy()
                    bias = (translator.offset_ @ readout_weight).numpy() + d.readout.bias
                    values = _label_rows(y_test, d.readout.labels(x_in, weight, bias))
                emit(source, target, d.name, method, scaling, anchors, seed, values)

    with clock("decode"):
        for d in absolute_decoders:  # no-stitch: each decoder on its own encoder
            emit(
                d.space,
                d.space,
                d.name,
                "no-stitch",
                "none",
                0,
                0,
                _decoder_rows(d, spaces[d.space].test, y_test, images_test),
            )

    targets_of = {s: [t for t in spaces if t != s or settings.self_pairs] for s in spaces}
    if "absolute" in settings.methods:
        for s, targets in targets_of.items():
            for t in targets:
                if spaces[s].dim == spaces[t].dim:
                    score(s, t, "absolute", "none", 0, 0, spaces[s].test)

    methods = [m for m in settings.methods if m in TRANSLATION_METHODS]
    for count in settings.anchor_counts:
        for seed in settings.seeds:
            idx = np.asarray(anchor_indices(count, seed))
            if "relative" in settings.methods:
                for s, targets in targets_of.items():
                    with clock("relative"):
                        rel = relative_projection(spaces[s].test, spaces[s].train[idx])
                        for t in targets:
                            for d in decoders:
                                if d.relative and d.space == t and d.anchor_key == (count, seed):
                                    emit(
                                        s,
                                        t,
                                        d.name,
                                        "relative",
                                        "none",
                                        count,
                                        seed,
                                        _decoder_rows(d, rel, y_test, images_test),
                                    )
            for scaling in settings.scalings:
                for method in methods:
                    if not settings.runs(method, count, scaling, seed):
                        continue
                    for s, targets in targets_of.items():
                        if not targets:
                            continue
                        start = time.perf_counter()
                        with clock("fit"):
                            translators = fit_translators(
                                to_device(spaces[s].train[idx]),
                                [to_device(spaces[t].train[idx]) for t in targets],
                                method,
                                scaling,
                                seed=seed,
                                **settings.translator_kwargs,
                            )
                        fits.append(
                            dict(
                                method=method,
                                scaling=scaling,
                                anchors=count,
                                seed=seed,
                                source=s,
                                translators=len(targets),
                                seconds=time.perf_counter() - start,
                            )
                        )
                        with clock("transform"):
                            # fit_translators' translators share the source's scaling: one
                            # check and one prepare of its test set serve every target
                            x_dev = translators[0].prepare(to_device(spaces[s].test, (s, 0)))
                            x_in = to_host(x_dev)
                        for t, translator in zip(targets, translators):
                            score(
                                s,
                                t,
                                method,
                                scaling,
                                count,
                                seed,
                                x_in,
                                translator,
                                x_dev=None if device is None else x_dev,
                            )
    table = pd.DataFrame(rows, columns=RESULT_COLUMNS)
    table.attrs["seconds"] = dict(clock.seconds)
    table.attrs["fit_seconds"] = fits
    return table
