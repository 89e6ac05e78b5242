"""Cross-modal pairs: two dataset configs that read the same samples in different modalities.

A dataset config declares its partner with ``paired_with: <dataset>`` (N24News: the text and
the image of the same articles). The declaration is checked, never trusted: both configs must
name each other, differ in modality, and load the same sample ids in the same order in both
splits (hence the same labels), so that row i of one encoder's encodings and row i of another
modality's encoder's encodings are the same sample. That is what cross-modal stitching (paper
Section 5, Figures 5 and 9) needs: anchors are the same train indices on both sides.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from latentstitch.config import load_group_config


def paired_with(name: str) -> str | None:
    """The partner that ``conf/dataset/<name>.yaml`` declares (``paired_with``), or None."""
    partner = load_group_config("dataset", name).get("paired_with")
    if partner is not None and not isinstance(partner, str):
        raise TypeError(f"dataset {name!r}: paired_with must be a dataset name (str), got {partner!r}")
    return partner


def cross_modal_pairs(datasets: Mapping[str, Any]) -> list[tuple[str, str]]:
    """The cross-modal pairs among a suite's ``datasets`` (``suite.datasets``): both stitch
    classification (>= 1 encoder and heads) and one declares the other. Each pair once, in the
    suite's order. A declared partner that the suite does not build is no pair (the suite may
    run one modality alone); a one-sided declaration is a ValueError."""
    stitched = [n for n, d in datasets.items() if (d.get("encoders") or []) and (d.get("heads") or [])]
    pairs = []
    for i, name in enumerate(stitched):
        partner = paired_with(name)
        if partner is None or partner not in stitched:
            continue
        back = paired_with(partner)
        if back != name:
            raise ValueError(
                f"dataset {name!r} declares paired_with: {partner!r}, but conf/dataset/{partner}.yaml declares "
                f"paired_with: {back!r}; a cross-modal pair names each other"
            )
        if stitched.index(partner) > i:
            pairs.append((name, partner))
    return pairs


def check_paired(a: str, b: str, *, subset_a: Mapping | None = None, subset_b: Mapping | None = None) -> int:
    """Check that datasets ``a`` and ``b`` (as the suite loads them, with their subsets) are one
    set of samples in two modalities: they name each other, their modalities differ, and both
    splits hold the same sample ids in the same order with the same labels. Returns the number
    of samples; raises ValueError naming what differs."""
    from latentstitch.data import load_dataset

    for x, y in ((a, b), (b, a)):
        if paired_with(x) != y:
            raise ValueError(f"dataset {x!r} does not declare paired_with: {y!r} (conf/dataset/{x}.yaml)")
    da, db = load_dataset(a, subset=subset_a), load_dataset(b, subset=subset_b)
    if da.modality == db.modality:
        raise ValueError(
            f"paired datasets {a!r} and {b!r} are both {da.modality}; a cross-modal pair differs in modality"
        )
    if da.class_names != db.class_names:
        raise ValueError(
            f"paired datasets {a!r} and {b!r} have different classes: {da.class_names} vs {db.class_names}"
        )
    for split in ("train", "test"):
        sa, sb = da.split(split), db.split(split)
        if sa.ids is None or sb.ids is None:
            raise ValueError(
                f"paired datasets {a!r} and {b!r}: {split} split has no sample ids "
                f"({a if sa.ids is None else b!r}'s source does not record them), so the pairing cannot be checked"
            )
        if len(sa.ids) != len(sb.ids) or not np.array_equal(sa.ids, sb.ids):
            first = next((i for i, (p, q) in enumerate(zip(sa.ids, sb.ids)) if p != q), min(len(sa.ids), len(sb.ids)))
            raise ValueError(
                f"paired datasets {a!r} and {b!r} differ in their {split} samples ({len(sa.ids)} vs {len(sb.ids)} "
                f"items, first difference at row {first}): same source, split_seed, test_fraction and subset needed"
            )
        if not np.array_equal(sa.labels, sb.labels):
            raise ValueError(f"paired datasets {a!r} and {b!r}: the same {split} ids carry different labels")
    return len(da.train) + len(da.test)
