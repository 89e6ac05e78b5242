"""load_dataset on scikit-learn's digits (fast, always installed): splits, subsets, domains, errors."""

import numpy as np
import pytest
from omegaconf import OmegaConf
from sklearn.datasets import load_digits

from latentstitch.config import load_group_config
from latentstitch.data import Dataset, load_dataset, stratified_indices


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")


@pytest.fixture(scope="module")
def digits_cfg():
    return OmegaConf.to_container(load_group_config("dataset", "digits"))


def _rows(images):
    return {image.tobytes() for image in images}


def test_digits_record(digits):
    assert isinstance(digits, Dataset)
    assert digits.name == "digits" and digits.modality == "image"
    assert digits.class_names == [str(d) for d in range(10)] and digits.num_classes == 10
    assert (len(digits.train), len(digits.test)) == (1438, 359)
    for split in (digits.train, digits.test):
        assert split.inputs.dtype == np.uint8 and split.inputs.shape[1:] == (8, 8)
        assert split.labels.dtype == np.int64
    assert digits.train.inputs.max() == 255
    assert digits.meta["source"] == "sklearn_digits" and digits.meta["full_sizes"] == {"train": 1438, "test": 359}


def test_digits_split_is_a_stratified_partition(digits):
    full = load_digits()
    scaled = np.round(full.images * 255 / 16).astype(np.uint8)
    assert sorted(_rows(digits.train.inputs) | _rows(digits.test.inputs)) == sorted(_rows(scaled))
    counts = np.bincount(full.target, minlength=10)
    assert np.all(np.abs(np.bincount(digits.test.labels, minlength=10) - 0.2 * counts) < 1)
    assert np.array_equal(np.bincount(digits.train.labels) + np.bincount(digits.test.labels), counts)


def test_loading_is_deterministic_and_seeded(digits, digits_cfg):
    again = load_dataset(digits_cfg)
    assert np.array_equal(again.train.inputs, digits.train.inputs)
    assert np.array_equal(again.test.labels, digits.test.labels)
    other = load_dataset({**digits_cfg, "split_seed": 1})
    assert not np.array_equal(other.test.inputs, digits.test.inputs)


def test_subset_is_a_seeded_stratified_sample(digits, digits_cfg):
    small = load_dataset("digits", subset={"train": 100, "test": 50})
    assert (len(small.train), len(small.test)) == (100, 50)
    expected = stratified_indices(digits.train.labels, 100, (0, 2))
    assert np.array_equal(small.train.inputs, digits.train.inputs[expected])
    assert np.all(np.abs(np.bincount(small.test.labels, minlength=10) - 50 * np.bincount(digits.test.labels) / 359) < 1)
    assert small.meta["subset"] == {"train": 100, "test": 50}
    from_config = load_dataset({**digits_cfg, "subset": {"train": 100}})
    assert np.array_equal(from_config.train.inputs, small.train.inputs)
    assert len(from_config.test) == 359


def test_domain_variant_is_aligned_with_its_base(digits, digits_cfg):
    inverted = load_dataset({**digits_cfg, "name": "digits_inverted", "domain": "invert"}, subset={"train": 60})
    base = load_dataset("digits", subset={"train": 60})
    assert np.array_equal(inverted.train.inputs, 255 - base.train.inputs)
    assert np.array_equal(inverted.train.labels, base.train.labels)
    assert np.array_equal(inverted.test.inputs, 255 - digits.test.inputs)
    assert inverted.meta["domain"] == "invert"


@pytest.mark.parametrize(
    "change, subset, match",
    [
        ({"modality": "audio"}, None, "modality must be 'text' or 'image'"),
        ({"source": "ftp"}, None, "unknown source 'ftp'; valid: hub, "),
        ({"domain": "sepia"}, None, "domain 'sepia' is not an image domain"),
        ({"modality": "text", "domain": "invert"}, None, "is not an image domain"),
        ({"test_fraction": None}, None, "misses test_fraction"),
        ({"name": None}, None, "misses name"),
        ({}, {"train": 5000}, r"subset.train=5000 exceeds the train split \(1438 items\)"),
        ({}, {"train": 0}, "subset.train must be a positive int"),
        ({}, {"validation": 3}, "subset keys must be 'train' and/or 'test'"),
    ],
)
def test_config_errors(digits_cfg, change, subset, match):
    with pytest.raises(ValueError, match=match):
        load_dataset({**digits_cfg, **change}, subset=subset)


def test_unknown_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="unknown dataset 'digitz'; valid: .*digits"):
        load_dataset("digitz")


def test_bad_argument_types():
    with pytest.raises(TypeError, match="expected a dataset name or config"):
        load_dataset(3)
    with pytest.raises(TypeError, match="subset must be a mapping"):
        load_dataset("digits", subset=[100, 10])


def test_every_config_is_well_formed():
    from latentstitch.config import group_options
    from latentstitch.data import DOMAINS, SOURCES

    names = group_options("dataset")
    assert {"digits", "bbc_news", "mnist_5k", "fashion_mnist_offline", "cifar10_grayscale"} <= set(names)
    for name in names:
        cfg = load_group_config("dataset", name)
        assert cfg.name == name
        assert cfg.modality in ("text", "image") and cfg.source in SOURCES
        assert cfg.get("domain") is None or cfg.domain in DOMAINS
        assert cfg.get("paper_table"), f"{name} names no paper table or figure"
        if cfg.source == "hub":
            assert cfg.revision and cfg.hub_id and cfg.test_split
