"""Paper datasets from the HuggingFace hub, at the revision pinned in their config."""

from __future__ import annotations

import numpy as np

from latentstitch.data._config import require
from latentstitch.data.base import Split
from latentstitch.data.errors import DatasetUnavailableError

_HUB_HINT = (
    "it is downloaded from the HuggingFace hub: run once where the hub is reachable "
    "(HF_HUB_OFFLINE and HF_DATASETS_OFFLINE unset) to fill the local cache, after which it also "
    "loads offline; or use an offline dataset (fashion_mnist_offline, mnist_5k, digits, bbc_news)"
)


def _first_line(err: Exception) -> str:
    text = str(err).strip().splitlines()
    return f"{type(err).__name__}: {text[0] if text else ''}"


def _image_array(split, column: str, where: str) -> np.ndarray:
    """A column of same-size images as one uint8 array, (n, h, w) or (n, h, w, 3)."""
    images = split.select_columns([column]).with_format("numpy")[:][column]
    if not isinstance(images, np.ndarray) or images.dtype != np.uint8:
        raise ValueError(
            f"{where}: column {column!r} did not decode to one uint8 array "
            f"(got {type(images).__name__}); its images differ in size or mode"
        )
    if not (images.ndim == 3 or (images.ndim == 4 and images.shape[-1] == 3)):
        raise ValueError(
            f"{where}: column {column!r} has images of shape {images.shape[1:]}, "
            "expected (h, w) grayscale or (h, w, 3) RGB"
        )
    return images


def _to_split(split, cfg, where: str) -> Split:
    for column in (cfg.input_column, cfg.label_column):
        if column not in split.column_names:
            raise ValueError(f"{where}: no column {column!r}; columns: {', '.join(split.column_names)}")
    if cfg.modality == "image":
        inputs = _image_array(split, cfg.input_column, where)
    else:
        inputs = list(split[cfg.input_column])
        bad = sum(1 for text in inputs if not isinstance(text, str))
        if bad:
            raise ValueError(f"{where}: {bad} of {len(inputs)} items in {cfg.input_column!r} are not strings")
    labels = np.asarray(split.select_columns([cfg.label_column]).with_format("numpy")[:][cfg.label_column])
    return Split(inputs=inputs, labels=labels.astype(np.int64))


def _class_names(split, cfg, where: str) -> list[str]:
    """The label column's ClassLabel names, else the config's ``class_names``; both must agree."""
    names = getattr(split.features[cfg.label_column], "names", None)
    configured = cfg.get("class_names")
    if configured is not None:
        configured = [str(name) for name in configured]
        if names is not None and list(names) != configured:
            raise ValueError(
                f"{where}: class_names in the config {configured} differ from the hub's label names {list(names)}"
            )
        return configured
    if names is None:
        raise ValueError(
            f"{where}: label column {cfg.label_column!r} is not a ClassLabel; "
            "list the class names under `class_names` in the config"
        )
    return list(names)


def load_hub(cfg) -> tuple:
    """Load ``cfg.hub_id`` at ``cfg.revision``; its train split and, if named, its test split."""
    hub_id, revision, _, _, train_split = require(
        cfg, "hub_id", "revision", "input_column", "label_column", "train_split"
    )
    where = f"dataset {cfg.name!r} ({hub_id}@{revision})"
    try:
        import datasets
    except ImportError:
        raise DatasetUnavailableError(f"{where} needs the `datasets` package: pip install -e .") from None
    try:
        loaded = datasets.load_dataset(hub_id, cfg.get("hub_config"), revision=revision, data_dir=cfg.get("data_dir"))
    except (OSError, datasets.exceptions.DatasetsError, RuntimeError, ValueError) as err:
        # OSError covers offline mode (ConnectionError), unknown repos and revisions (HTTP
        # errors) and missing files; the user needs the name and the way out, not the stack.
        raise DatasetUnavailableError(f"{where} is not available ({_first_line(err)}); {_HUB_HINT}") from None
    test_split = cfg.get("test_split")
    for split in (train_split, test_split):
        if split is not None and split not in loaded:
            raise ValueError(f"{where} has no split {split!r}; splits: {', '.join(loaded)}")
    train = _to_split(loaded[train_split], cfg, where)
    test = _to_split(loaded[test_split], cfg, where) if test_split is not None else None
    class_names = _class_names(loaded[train_split], cfg, where)
    return train, test, class_names, {"hub_id": hub_id, "revision": revision}
