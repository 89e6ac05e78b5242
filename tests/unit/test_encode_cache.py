"""encode() and the resumable encodings cache, with tiny encoders on small in-memory datasets."""

from __future__ import annotations

import numpy as np
import pytest

from latentstitch.data.base import Dataset, Split
from latentstitch.encoders import (
    build_encoder,
    encode,
    encodings_path,
    ensure_encodings,
    is_cached,
    load_spec,
)
from latentstitch.io import load_encodings, read_encodings_meta

WORDS = "the cat sat on a mat while stock markets fell sharply and the team won the match".split()


def _text_dataset(n_train=30, n_test=9, name="toy_text") -> Dataset:
    rng = np.random.default_rng(0)

    def texts(n):
        # Lengths from 0 to 60 words, so length sorting reorders a lot.
        return [" ".join(rng.choice(WORDS, size=int(rng.integers(0, 60)))) for _ in range(n)]

    return Dataset(
        name=name,
        modality="text",
        train=Split(texts(n_train), np.arange(n_train, dtype=np.int64) % 3),
        test=Split(texts(n_test), np.arange(n_test, dtype=np.int64) % 3),
        class_names=["a", "b", "c"],
        meta={"subset": None},
    )


def _digits_dataset() -> Dataset:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images * 255 / 16).astype(np.uint8)
    labels = digits.target.astype(np.int64)
    return Dataset(
        name="toy_digits",
        modality="image",
        train=Split(images[:24], labels[:24]),
        test=Split(images[24:32], labels[24:32]),
        class_names=[str(i) for i in range(10)],
    )


@pytest.fixture(scope="module")
def text_encoder():
    return build_encoder("bert_base_cased", tiny=True, device="cpu")


@pytest.fixture(scope="module")
def image_encoder():
    return build_encoder("efficientnet_lite0", tiny=True, device="cpu")


def test_encode_returns_encodings_and_labels_in_order(text_encoder):
    dataset = _text_dataset()
    x, y = encode(dataset, text_encoder, "train", batch_size=8, progress=False)
    assert x.shape == (30, text_encoder.dim) and x.dtype == np.float32
    np.testing.assert_array_equal(y, dataset.train.labels)
    one_by_one = np.stack([text_encoder.embed([t])[0] for t in dataset.train.inputs])
    np.testing.assert_allclose(x, one_by_one, atol=1e-5, rtol=0)


def test_length_sorted_batches_equal_unsorted(text_encoder):
    dataset = _text_dataset()
    lengths = text_encoder.lengths(text_encoder.features(dataset.train.inputs))
    assert not np.all(np.diff(lengths) <= 0)  # the input order is not already sorted
    sorted_x, _ = encode(dataset, text_encoder, "train", batch_size=8, progress=False)
    unsorted_x, _ = encode(dataset, text_encoder, "train", batch_size=8, sort_by_length=False, progress=False)
    np.testing.assert_allclose(sorted_x, unsorted_x, atol=1e-5, rtol=0)


def test_chunking_does_not_change_encodings(text_encoder, image_encoder):
    for dataset, encoder in ((_text_dataset(), text_encoder), (_digits_dataset(), image_encoder)):
        whole, _ = encode(dataset, encoder, "train", progress=False)
        chunked, _ = encode(dataset, encoder, "train", chunk_size=7, batch_size=3, progress=False)
        np.testing.assert_allclose(whole, chunked, atol=1e-5, rtol=0)


def test_encode_validates_its_arguments(text_encoder):
    dataset = _text_dataset()
    with pytest.raises(ValueError, match="unknown split 'val'"):
        encode(dataset, text_encoder, "val", progress=False)
    with pytest.raises(ValueError, match="encodes text but dataset 'toy_digits' is image"):
        encode(_digits_dataset(), text_encoder, "train", progress=False)
    with pytest.raises(ValueError, match="chunk_size must be a positive int"):
        encode(dataset, text_encoder, "train", chunk_size=0, progress=False)


def test_encodings_path_layout(tmp_path):
    assert (
        encodings_path(tmp_path, "bbc_news", "minilm_l6", "test")
        == tmp_path / "bbc_news" / "minilm_l6" / "test.safetensors"
    )
    with pytest.raises(ValueError, match="dataset name must be a plain"):
        encodings_path(tmp_path, "../x", "minilm_l6", "test")


def test_cache_file_holds_encodings_and_metadata(tmp_path, image_encoder):
    dataset = _digits_dataset()
    path = ensure_encodings(dataset, image_encoder, "test", tmp_path, batch_size=4, progress=False)
    assert path == encodings_path(tmp_path, "toy_digits", "efficientnet_lite0", "test")
    x, y, meta = load_encodings(path)
    expected, labels = encode(dataset, image_encoder, "test", progress=False)
    np.testing.assert_allclose(x, expected, atol=1e-6)
    np.testing.assert_array_equal(y, labels)
    assert meta["encoder"] == "efficientnet_lite0" and meta["encoder_revision"] == image_encoder.revision
    assert meta["pooling"] == "pre_logits" and meta["tiny"] is True and meta["amp"] is False
    assert (meta["count"], meta["dim"], meta["dtype"]) == (8, image_encoder.dim, "float32")
    assert meta["dataset"] == "toy_digits" and meta["split"] == "test"
    assert meta["seconds"] >= 0 and {"torch", "timm", "transformers", "latentstitch"} <= set(meta["versions"])
    assert not (path.parent / "test.partial").exists()
    assert is_cached(dataset, image_encoder, "test", tmp_path)


def test_valid_cache_is_not_recomputed(tmp_path, text_encoder, monkeypatch):
    dataset = _text_dataset()
    path = ensure_encodings(dataset, text_encoder, "train", tmp_path, progress=False)
    before = path.stat().st_mtime_ns

    def fail(*args, **kwargs):
        raise AssertionError("a valid cache file was recomputed")

    monkeypatch.setattr(text_encoder, "embed", fail)
    assert ensure_encodings(dataset, text_encoder, "train", tmp_path, progress=False) == path
    assert path.stat().st_mtime_ns == before


class _Killed(Exception):
    pass


def test_resumes_after_a_simulated_kill(tmp_path, text_encoder, monkeypatch):
    dataset = _text_dataset()  # 30 items, chunks of 8: 4 chunks
    real_embed = text_encoder.embed
    calls = []

    def dies_at_third_chunk(*args, **kwargs):
        calls.append(len(args[0]))
        if len(calls) == 3:
            raise _Killed
        return real_embed(*args, **kwargs)

    monkeypatch.setattr(text_encoder, "embed", dies_at_third_chunk)
    with pytest.raises(_Killed):
        ensure_encodings(dataset, text_encoder, "train", tmp_path, chunk_size=8, progress=False)
    path = encodings_path(tmp_path, "toy_text", "bert_base_cased", "train")
    assert not path.exists()
    assert sorted(p.name for p in (path.parent / "train.partial").glob("*.safetensors")) == [
        "000000.safetensors",
        "000001.safetensors",
    ]

    calls.clear()

    def counted(*args, **kwargs):
        calls.append(len(args[0]))
        return real_embed(*args, **kwargs)

    monkeypatch.setattr(text_encoder, "embed", counted)
    ensure_encodings(dataset, text_encoder, "train", tmp_path, chunk_size=8, progress=False)
    assert calls == [8, 6]  # only the chunks not finished before the kill
    x, _, meta = load_encodings(path)
    expected, _ = encode(dataset, text_encoder, "train", progress=False)
    np.testing.assert_allclose(x, expected, atol=1e-5, rtol=0)
    assert meta["count"] == 30 and not (path.parent / "train.partial").exists()


def test_partial_chunks_of_another_chunking_are_discarded(tmp_path, text_encoder, monkeypatch):
    dataset = _text_dataset()
    real_embed = text_encoder.embed
    calls = []

    def dies_at_second_chunk(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise _Killed
        return real_embed(*args, **kwargs)

    monkeypatch.setattr(text_encoder, "embed", dies_at_second_chunk)
    with pytest.raises(_Killed):
        ensure_encodings(dataset, text_encoder, "train", tmp_path, chunk_size=8, progress=False)
    monkeypatch.setattr(text_encoder, "embed", real_embed)
    path = ensure_encodings(dataset, text_encoder, "train", tmp_path, chunk_size=10, progress=False)
    expected, _ = encode(dataset, text_encoder, "train", progress=False)
    np.testing.assert_allclose(load_encodings(path)[0], expected, atol=1e-5, rtol=0)


@pytest.mark.parametrize("damage", ["truncate", "garbage", "empty"])
def test_corrupted_cache_file_is_rebuilt(tmp_path, image_encoder, damage):
    dataset = _digits_dataset()
    path = ensure_encodings(dataset, image_encoder, "train", tmp_path, progress=False)
    good = load_encodings(path)[0]
    data = path.read_bytes()
    damaged = {"truncate": data[: len(data) // 2], "garbage": b"\x00garbage" * 10, "empty": b""}[damage]
    path.write_bytes(damaged)
    assert not is_cached(dataset, image_encoder, "train", tmp_path)
    ensure_encodings(dataset, image_encoder, "train", tmp_path, progress=False)
    np.testing.assert_allclose(load_encodings(path)[0], good, atol=1e-6)


def test_mismatched_cache_file_is_rebuilt(tmp_path, text_encoder):
    dataset = _text_dataset()
    path = ensure_encodings(dataset, text_encoder, "test", tmp_path, progress=False)
    # Another pooling of the same model.
    cfg = {**_spec_dict("bert_base_cased"), "pooling": "mean"}
    mean_encoder = build_encoder(cfg, tiny=True, device="cpu")
    assert not is_cached(dataset, mean_encoder, "test", tmp_path)
    ensure_encodings(dataset, mean_encoder, "test", tmp_path, progress=False)
    assert read_encodings_meta(path)["pooling"] == "mean"
    # Another subset of the data (other count and labels), and mixed precision.
    smaller = _text_dataset(n_test=5)
    assert not is_cached(smaller, mean_encoder, "test", tmp_path)
    assert not is_cached(dataset, mean_encoder, "test", tmp_path, amp=True)
    ensure_encodings(smaller, mean_encoder, "test", tmp_path, progress=False)
    assert read_encodings_meta(path)["count"] == 5
    # The real (non-tiny) encoder never takes a tiny encoder's file.
    assert not is_cached(smaller, load_spec(cfg), "test", tmp_path, tiny=False)


def _spec_dict(encoder_id):
    from omegaconf import OmegaConf

    from latentstitch.config import load_group_config

    return OmegaConf.to_container(load_group_config("encoder", encoder_id))
