"""Datasets by name (hub and offline sources, conf/dataset/) and reproducible anchor sampling."""

from latentstitch.data.base import Dataset, Split
from latentstitch.data.domains import DOMAINS, apply_domain
from latentstitch.data.errors import DatasetUnavailableError
from latentstitch.data.image_files import ImageFiles
from latentstitch.data.registry import SOURCES, load_dataset
from latentstitch.data.sampling import (
    ANCHOR_STRATEGIES,
    random_order,
    sample_anchors,
    stratified_indices,
    stratified_split,
)

__all__ = [
    "ANCHOR_STRATEGIES",
    "DOMAINS",
    "SOURCES",
    "Dataset",
    "DatasetUnavailableError",
    "ImageFiles",
    "Split",
    "apply_domain",
    "load_dataset",
    "random_order",
    "sample_anchors",
    "stratified_indices",
    "stratified_split",
]
