"""Can a pair be told to stitch well before stitching? The similarity of every pair of spaces,
on the anchors and on the test set, for the report to set beside the stitched results.

The stitch stage calls ``pair_similarities`` with the spaces and anchors it stitches and writes
the table next to its results (``{results_dir}/stitch/similarity/{dataset}.csv``); the report
(``latentstitch.reports.stitchability``) only reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from latentstitch.io import atomic_path
from latentstitch.similarity import MEASURES, similarities
from latentstitch.stitching import Space

SIMILARITY_COLUMNS = ["source", "target", "split", "anchors", "seed", "measure", "value"]
# Measures on the test set depend on no anchors: they carry anchors 0 (as the no-stitch rows).
TEST_ANCHORS = 0


@dataclass(frozen=True)
class SimilaritySettings:
    """``suite.stitch.similarity``: ``false`` turns it off; else any of ``k`` (mutual_knn's
    neighbours), ``keep`` (svcca's variance fraction), ``measures`` (a subset of MEASURES),
    ``anchors`` (the anchor counts measured on the anchors; default every count stitched)."""

    enabled: bool = True
    k: int = 10
    keep: float = 0.99
    measures: tuple[str, ...] = MEASURES
    anchors: tuple[int, ...] | None = None

    @classmethod
    def from_config(cls, node: Any) -> "SimilaritySettings":
        if node is None or node is True:
            return cls()
        if node is False:
            return cls(enabled=False)
        if not isinstance(node, dict):
            raise ValueError(f"suite.stitch.similarity must be false or a mapping (k, keep, measures), got {node!r}")
        unknown = sorted(set(node) - {"k", "keep", "measures", "anchors"})
        if unknown:
            raise ValueError(f"unknown suite.stitch.similarity key(s) {unknown}; valid: anchors, k, keep, measures")
        measures = tuple(node.get("measures", MEASURES))
        bad = [m for m in measures if m not in MEASURES]
        if bad:
            raise ValueError(
                f"unknown measure(s) {bad} in suite.stitch.similarity.measures; valid: {', '.join(MEASURES)}"
            )
        anchors = node.get("anchors")
        anchors = (
            None if anchors is None else tuple(int(a) for a in (anchors if isinstance(anchors, list) else [anchors]))
        )
        return cls(True, int(node.get("k", 10)), float(node.get("keep", 0.99)), measures, anchors)


def pair_similarities(
    spaces: Sequence[Space],
    anchor_indices: Callable[[int, int], np.ndarray],
    counts: Sequence[int],
    seeds: Sequence[int],
    settings: SimilaritySettings = SimilaritySettings(),
) -> pd.DataFrame:
    """Every measure of every ordered pair of ``spaces`` (the measures are symmetric: each
    unordered pair is computed once), on the test set (``split="test"``, anchors 0, seed 0) and
    on the anchors of each (count, seed) (``split="anchors"``; the rows
    ``anchor_indices(count, seed)`` of the train split, as the stitch stage fits on).
    One tidy row per value, columns ``SIMILARITY_COLUMNS``."""
    rows: list[dict] = []
    spaces = list(spaces)

    def emit(a: Space, b: Space, split: str, anchors: int, seed: int, x: np.ndarray, y: np.ndarray) -> None:
        values = similarities(x, y, k=settings.k, keep=settings.keep, measures=settings.measures)
        for measure, value in values.items():
            for source, target in ((a.name, b.name), (b.name, a.name)):
                rows.append(
                    dict(
                        source=source,
                        target=target,
                        split=split,
                        anchors=anchors,
                        seed=seed,
                        measure=measure,
                        value=float(value),
                    )
                )

    for i, a in enumerate(spaces):
        for b in spaces[i + 1 :]:
            emit(a, b, "test", TEST_ANCHORS, 0, a.test, b.test)
    for count in counts:
        if settings.anchors is not None and int(count) not in settings.anchors:
            continue
        for seed in seeds:
            idx = np.asarray(anchor_indices(count, seed))
            for i, a in enumerate(spaces):
                for b in spaces[i + 1 :]:
                    emit(a, b, "anchors", int(count), int(seed), a.train[idx], b.train[idx])
    return pd.DataFrame(rows, columns=SIMILARITY_COLUMNS)


def similarity_path(stitch_dir: str | Path, dataset: str) -> Path:
    """Where the stitch stage writes ``dataset``'s pair similarities."""
    return Path(stitch_dir) / "similarity" / f"{dataset}.csv"


def fit_seconds_path(stitch_dir: str | Path, dataset: str) -> Path:
    """Where the stitch stage writes ``dataset``'s fit times (one row per ``fit_translators`` call)."""
    return Path(stitch_dir) / "fit_seconds" / f"{dataset}.csv"


def stitchability_part(
    table: pd.DataFrame,
    spaces: Sequence[Space],
    anchor_indices: Callable[[int, int], np.ndarray],
    counts: Sequence[int],
    seeds: Sequence[int],
    settings: SimilaritySettings,
    **labels: Any,
) -> dict[str, pd.DataFrame | None]:
    """What one ``stitching.stitch`` call adds for the report: its pairs' similarities (None
    when disabled) and its fit times (``table.attrs["fit_seconds"]``), both with ``labels``
    (task, decoder_l2) as columns."""
    fits = pd.DataFrame(
        table.attrs.get("fit_seconds", []),
        columns=["method", "scaling", "anchors", "seed", "source", "translators", "seconds"],
    )
    sims = pair_similarities(spaces, anchor_indices, counts, seeds, settings) if settings.enabled else None
    return {"similarity": None if sims is None else sims.assign(**labels), "fit_seconds": fits.assign(**labels)}


def write_stitchability(
    stitch_dir: str | Path, dataset: str, parts: Sequence[dict[str, pd.DataFrame | None]], stamp: dict[str, Any]
) -> dict[str, str]:
    """Write ``dataset``'s similarity and fit-time tables (atomically; a table no part has is
    removed, so nothing stale is read); returns the paths written."""
    written = {}
    for key, path in (
        ("similarity", similarity_path(stitch_dir, dataset)),
        ("fit_seconds", fit_seconds_path(stitch_dir, dataset)),
    ):
        frames = [p[key] for p in parts if p.get(key) is not None]
        if not frames:
            path.unlink(missing_ok=True)
            continue
        frame = pd.concat(frames, ignore_index=True).assign(dataset=dataset, **stamp)
        with atomic_path(path) as tmp:
            frame.to_csv(tmp, index=False)
        written[key] = str(path)
    return written
