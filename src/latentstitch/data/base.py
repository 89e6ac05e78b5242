"""The dataset record every source returns: train/test splits of inputs and integer labels."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal, Sequence, Union

import numpy as np

# Texts (a list of str) or images (uint8 array (n, h, w) grayscale or (n, h, w, 3) RGB).
Inputs = Union[Sequence[str], np.ndarray]


@dataclass
class Split:
    inputs: Inputs
    labels: np.ndarray  # int64, (n,)
    # Optional per-item ids (str, (n,)) where the source has them (N24News: the article's
    # image_id); they travel through splits and subsets, so two configs reading the same
    # items can be checked item by item (latentstitch.data.pairing).
    ids: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.labels)


@dataclass
class Dataset:
    name: str
    modality: Literal["text", "image"]
    train: Split
    test: Split
    class_names: list[str]
    meta: dict = field(default_factory=dict)  # source, revision, split seed, ...

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def split(self, name: str) -> Split:
        if name not in ("train", "test"):
            raise ValueError(f"unknown split {name!r}; valid: 'train', 'test'")
        return getattr(self, name)
