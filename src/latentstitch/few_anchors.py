"""Beyond the paper: stitching accuracy from few parallel anchors, by anchor strategy, plain or
refined with unpaired data (``latentstitch.translate.refine``).

The paper's Figure 3 draws anchors uniformly and fits on them alone. Here, for one (source,
target) pair of a dataset: for each seed, anchor strategy (``sample_anchors``), anchor count
and method, fit the translator on the anchors (``refine: false``) and refine it on the train
encodings of both spaces with their correspondence hidden (``refine: true``: each pool is
shuffled with its own seed), then score the target's decoder on the translated test set.
Configured by ``suite.stitch.few_anchors`` (see ``FewAnchorSettings.from_config``).
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from latentstitch.data.sampling import ANCHOR_STRATEGIES, random_order, sample_anchors
from latentstitch.stitching import TRANSLATION_METHODS, Space
from latentstitch.translate import RefineWarning, Translator, refine, unsupervised_start

FEW_ANCHOR_COLUMNS = [
    "source",
    "target",
    "decoder",
    "method",
    "scaling",
    "anchor_strategy",
    "refine",
    "anchors",
    "seed",
    "metric",
    "value",
    "source_dim",
    "target_dim",
    "refine_accepted",
    "refine_rounds",
    "refine_pairs",
    "seconds",
]


@dataclass(frozen=True)
class FewAnchorSettings:
    """One few-anchor sweep: every (seed, anchor strategy, count, method, refine) of ``pairs``.

    ``refine_options``: keyword arguments of ``latentstitch.translate.refine`` for every
    method; ``refine_overrides``: per method, options that replace them (e.g. ``affine:
    {iterations: 3}``: each affine refit is 300 Adam steps). ``plain_only``: methods swept without refinement
    (an affine refit on 1280-d spaces costs 20-80 s of a shared CPU core, per round).
    ``pool``: at most this many rows of each (shuffled) train split serve as refine's pools
    (None: all). ``translator``: ``Translator`` keyword arguments. ``zero_anchors``: methods
    also started from no anchors at all (``latentstitch.translate.unsupervised_start``: pairs
    guessed from each pool's similarity signatures), then refined: rows with ``anchors`` 0 and
    ``anchor_strategy`` ``"none"``, plain (the guessed start) and refined, one per seed. The
    guess assumes both pools sample the same items (the train split; with ``pool`` below its
    size, each pool's shuffle keeps different items and the guess degrades).
    ``zero_anchor_options``: ``refine`` options for those starts, over the method's (e.g.
    ``{iterations: 20}``: with no anchors the mined pairs keep improving for longer).
    """

    pairs: Sequence[tuple[str, str]]
    counts: Sequence[int] = (5, 10, 25, 50, 100, 250, 1000)
    seeds: Sequence[int] = (0,)
    methods: Sequence[str] = ("ortho", "ridge", "affine")
    scaling: str = "standard"
    anchor_strategies: Sequence[str] = ("uniform", "kmeans")
    refine: Sequence[bool] = (False, True)
    refine_options: Mapping[str, Any] = field(default_factory=dict)
    refine_overrides: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    plain_only: Sequence[str] = ()
    pool: int | None = None
    translator: Mapping[str, Any] = field(default_factory=dict)
    zero_anchors: Sequence[str] = ()
    zero_anchor_options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        bad = [m for m in self.methods if m not in TRANSLATION_METHODS]
        if bad:
            raise ValueError(f"few_anchors.methods: unknown {bad}; valid: {', '.join(TRANSLATION_METHODS)}")
        bad = [s for s in self.anchor_strategies if s not in ANCHOR_STRATEGIES]
        if bad:
            raise ValueError(f"few_anchors.anchor_strategies: unknown {bad}; valid: {', '.join(ANCHOR_STRATEGIES)}")
        if not self.counts or min(self.counts) < 2:
            raise ValueError(
                f"few_anchors.counts must be >= 2 (a translation needs 2 anchors), got {list(self.counts)}"
            )
        if self.pool is not None and (isinstance(self.pool, bool) or not isinstance(self.pool, int) or self.pool < 2):
            raise ValueError(f"few_anchors.pool must be an int >= 2 or null, got {self.pool!r}")
        if not self.refine or any(not isinstance(r, bool) for r in self.refine):
            raise ValueError(f"few_anchors.refine must be a non-empty list of true/false, got {list(self.refine)}")
        for pair in self.pairs:
            if len(pair) != 2:
                raise ValueError(f"few_anchors.pairs: each pair is [source, target], got {pair!r}")
        bad = sorted(
            (set(self.refine_overrides) | set(self.plain_only) | set(self.zero_anchors)) - set(TRANSLATION_METHODS)
        )
        if bad:
            raise ValueError(
                f"few_anchors.refine_overrides / plain_only / zero_anchors: unknown method(s) {bad}; valid: "
                f"{', '.join(TRANSLATION_METHODS)}"
            )

    @classmethod
    def from_config(cls, block: Mapping[str, Any], dataset: str) -> FewAnchorSettings | None:
        """The settings of ``dataset`` from ``suite.stitch.few_anchors``: shared keys at the
        top, ``datasets.<name>`` overriding them (a dataset absent there is not swept; its
        block must give ``pairs``). Raises ValueError naming an unknown key."""
        block = dict(block or {})
        per_dataset = dict(block.pop("datasets", None) or {})
        if dataset not in per_dataset:
            return None
        own = dict(per_dataset[dataset] or {})
        merged = {**block, **own}
        if isinstance(block.get("anchors"), Mapping) and isinstance(own.get("anchors"), Mapping):
            merged["anchors"] = {**block["anchors"], **own["anchors"]}  # e.g. own counts, shared seeds
        valid = {f.name for f in fields(cls)} | {"anchors"}
        unknown = sorted(set(merged) - valid)
        if unknown:
            raise ValueError(
                f"unknown key(s) {unknown} in suite.stitch.few_anchors (dataset {dataset}); "
                f"valid: {', '.join(sorted(valid))}"
            )
        anchors = dict(merged.pop("anchors", None) or {})
        bad = sorted(set(anchors) - {"num", "seeds"})
        if bad:
            raise ValueError(f"unknown key(s) {bad} in suite.stitch.few_anchors anchors; valid: num, seeds")
        if "num" in anchors:
            merged["counts"] = anchors["num"]
        if "seeds" in anchors:
            merged["seeds"] = anchors["seeds"]
        if "pairs" not in merged:
            raise ValueError(f"suite.stitch.few_anchors.datasets.{dataset} needs pairs: [[source, target], ...]")
        merged["pairs"] = [tuple(p) for p in merged["pairs"]]
        for key in ("counts", "seeds"):
            if key in merged:
                merged[key] = [int(v) for v in merged[key]]
        for key in ("methods", "anchor_strategies", "refine", "plain_only", "zero_anchors"):
            if key in merged:
                merged[key] = list(merged[key])
        return cls(**merged)

    def options_for(self, method: str) -> dict[str, Any]:
        return {**dict(self.refine_options), **dict(self.refine_overrides.get(method, {}))}


def few_anchor_sweep(
    source: Space,
    target: Space,
    decoder: str,
    predict: Callable[[np.ndarray], np.ndarray],
    y_train: np.ndarray,
    y_test: np.ndarray,
    settings: FewAnchorSettings,
    log: Callable[[str], None] | None = None,
) -> pd.DataFrame:
    """Rows ``FEW_ANCHOR_COLUMNS`` (metric ``accuracy``) for one pair: ``predict`` is the target's
    decoder (labels from target encodings). Anchors: ``sample_anchors(y_train, count, seed,
    strategy=..., encodings=source.train)`` (strategies that look at encodings look at the
    source's). Pools for ``refine``: ``source.train`` and ``target.train``, each shuffled by
    ``random_order(n, (seed, 1))`` and ``(seed, 2)`` (the first ``settings.pool`` rows of each). Raises ValueError when a count exceeds
    the train split. ``log``, if given, receives one line per cell."""
    n = len(y_train)
    too_many = [c for c in settings.counts if c > n]
    if too_many:
        raise ValueError(f"few_anchors counts {too_many} exceed the train split of {n} ({source.name})")
    rows = []
    base = {
        "source": source.name,
        "target": target.name,
        "decoder": decoder,
        "scaling": settings.scaling,
        "metric": "accuracy",
        "source_dim": source.dim,
        "target_dim": target.dim,
    }
    for seed in settings.seeds:
        x_pool = source.train[random_order(n, (seed, 1))[: settings.pool]]
        y_pool = target.train[random_order(n, (seed, 2))[: settings.pool]]
        for method in settings.zero_anchors:
            rows += _zero_anchor_rows(
                source, target, method, seed, x_pool, y_pool, predict, y_test, settings, {**base}, log
            )
        for strategy in settings.anchor_strategies:
            for count in settings.counts:
                idx = sample_anchors(y_train, count, seed, strategy=strategy, encodings=source.train)
                xa, ya = source.train[idx], target.train[idx]
                for method in settings.methods:
                    start = time.perf_counter()
                    plain = Translator(method, settings.scaling, seed=seed, **dict(settings.translator)).fit(xa, ya)
                    fit_seconds = time.perf_counter() - start
                    cell = {**base, "method": method, "anchor_strategy": strategy, "anchors": count, "seed": seed}
                    for refined in settings.refine:
                        if refined and method in settings.plain_only:
                            continue
                        start = time.perf_counter()
                        t, accepted, rounds, pairs = plain, None, 0, 0
                        if refined:
                            with warnings.catch_warnings():
                                # Recorded in the row (refine_accepted); the sweep runs many cells.
                                warnings.simplefilter("ignore", RefineWarning)
                                t = refine(plain, x_pool, y_pool, **settings.options_for(method))
                            accepted, rounds = t.refine_accepted_, len(t.refine_history_)
                            pairs = t.refine_history_[-1]["pairs"] if t.refine_history_ else 0
                        accuracy = float(np.mean(predict(t.transform(source.test)) == y_test))
                        seconds = fit_seconds + time.perf_counter() - start
                        rows.append(
                            {
                                **cell,
                                "refine": refined,
                                "value": accuracy,
                                "refine_accepted": accepted,
                                "refine_rounds": rounds,
                                "refine_pairs": pairs,
                                "seconds": seconds,
                            }
                        )
                        if log is not None:
                            log(
                                f"{source.name} -> {target.name} seed {seed} {strategy} {count} {method} "
                                f"{'refined' if refined else 'plain'}: {accuracy:.3f} ({seconds:.1f} s"
                                f"{'' if accepted in (None, True) else ', start kept'})"
                            )
    return pd.DataFrame(rows, columns=FEW_ANCHOR_COLUMNS)


def _zero_anchor_rows(
    source: Space,
    target: Space,
    method: str,
    seed: int,
    x_pool: np.ndarray,
    y_pool: np.ndarray,
    predict: Callable[[np.ndarray], np.ndarray],
    y_test: np.ndarray,
    settings: FewAnchorSettings,
    base: dict,
    log: Callable[[str], None] | None,
) -> list[dict]:
    """The anchors = 0 rows of one seed: the unsupervised start, then refined (NaN accuracy
    when the start finds no pairs, logged)."""
    start = time.perf_counter()
    cell = {**base, "method": method, "anchor_strategy": "none", "anchors": 0, "seed": seed}
    try:
        t0 = unsupervised_start(
            method, x_pool, y_pool, scaling=settings.scaling, seed=seed, **dict(settings.translator)
        )
    except ValueError as err:
        if log is not None:
            log(f"{source.name} -> {target.name} seed {seed} no anchors {method}: {err}")
        return [
            {
                **cell,
                "refine": r,
                "value": np.nan,
                "refine_accepted": False,
                "refine_rounds": 0,
                "refine_pairs": 0,
                "seconds": time.perf_counter() - start,
            }
            for r in (False, True)
        ]
    out = []
    for refined in (False, True):
        t, accepted, rounds, pairs = t0, None, 0, t0.unsupervised_pairs_
        if refined:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RefineWarning)
                options = {**settings.options_for(method), **dict(settings.zero_anchor_options)}
                t = refine(t0, x_pool, y_pool, **options)
            accepted, rounds = t.refine_accepted_, len(t.refine_history_)
            pairs = t.refine_history_[-1]["pairs"] if t.refine_history_ else 0
        accuracy = float(np.mean(predict(t.transform(source.test)) == y_test))
        seconds = time.perf_counter() - start
        out.append(
            {
                **cell,
                "refine": refined,
                "value": accuracy,
                "refine_accepted": accepted,
                "refine_rounds": rounds,
                "refine_pairs": pairs,
                "seconds": seconds,
            }
        )
        if log is not None:
            log(
                f"{source.name} -> {target.name} seed {seed} no anchors {method} "
                f"{'refined' if refined else 'start'}: {accuracy:.3f} ({seconds:.1f} s, {pairs} pairs)"
            )
    return out
