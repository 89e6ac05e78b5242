"""The encode stage on a tiny suite: every dataset x encoder x split, then nothing to redo."""

from __future__ import annotations

import numpy as np
import pytest
from omegaconf import OmegaConf

import latentstitch.stages.encode as stage
from latentstitch.config import load_group_config
from latentstitch.data.base import Dataset, Split
from latentstitch.io import load_encodings


def _toy_text(subset=None) -> Dataset:
    texts = ["a cat sat on the mat", "stock markets fell sharply", "the team won the match", ""] * 3
    labels = np.array([0, 1, 2, 0] * 3, dtype=np.int64)
    return Dataset(
        name="toy_text",
        modality="text",
        train=Split(texts[:8], labels[:8]),
        test=Split(texts[8:], labels[8:]),
        class_names=["a", "b", "c"],
    )


@pytest.fixture
def cfg(tmp_path, monkeypatch):
    real_load = stage.load_dataset
    monkeypatch.setattr(
        stage,
        "load_dataset",
        lambda dcfg, subset=None: _toy_text() if dcfg.name == "toy_text" else real_load(dcfg, subset=subset),
    )
    return OmegaConf.create(
        {
            # the resolved dataset options, as params.yaml holds them
            "datasets": {"digits": load_group_config("dataset", "digits"), "toy_text": {"name": "toy_text"}},
            "device": "cpu",
            "paths": {"encodings_dir": str(tmp_path / "encodings"), "models_dir": str(tmp_path / "models")},
            "suite": {
                "tiny": True,
                "datasets": {
                    "digits": {
                        "subset": {"train": 30, "test": 10},
                        "encoders": ["efficientnet_lite0", "vit_small_patch16_224"],
                    },
                    "toy_text": {"encoders": ["minilm_l6"]},
                },
            },
            "encode": {"batch_size": 8, "progress": False},
        }
    )


def test_encodes_every_pair_then_keeps_the_cache(cfg, monkeypatch):
    rows = stage.run(cfg)["encodings"]
    assert {(r["dataset"], r["encoder"], r["split"]) for r in rows} == {
        (d, e, s)
        for d, es in [("digits", ["efficientnet_lite0", "vit_small_patch16_224"]), ("toy_text", ["minilm_l6"])]
        for e in es
        for s in ("train", "test")
    }
    assert {r["status"] for r in rows} == {"encoded"}
    x, y, meta = load_encodings(next(r["path"] for r in rows if r["dataset"] == "digits" and r["split"] == "train"))
    assert x.shape[0] == y.shape[0] == 30 and meta["dataset_subset"] == {"train": 30, "test": 10}

    def no_model(*args, **kwargs):
        raise AssertionError("an encoder was built although every file is cached")

    monkeypatch.setattr(stage, "build_encoder", no_model)
    assert {r["status"] for r in stage.run(cfg)["encodings"]} == {"cached"}


def test_only_missing_files_are_encoded(cfg):
    rows = stage.run(cfg)["encodings"]
    removed = next(r for r in rows if r["encoder"] == "minilm_l6" and r["split"] == "test")
    with open(removed["path"], "r+b") as f:
        f.truncate(100)
    rerun = stage.run(cfg)["encodings"]
    assert [(r["encoder"], r["split"]) for r in rerun if r["status"] == "encoded"] == [("minilm_l6", "test")]


def test_max_tokens_caps_text_transformers_and_is_recorded(cfg):
    stage.run(cfg)
    _, _, meta = load_encodings(stage.encodings_path(cfg.paths.encodings_dir, "toy_text", "minilm_l6", "train"))
    assert meta["max_length"] == 256  # the model's own length
    cfg.suite.datasets.toy_text.max_tokens = 4
    rows = stage.run(cfg)["encodings"]
    text_rows = [r for r in rows if r["dataset"] == "toy_text"]
    assert {r["status"] for r in text_rows} == {"encoded"}  # a new cap invalidates the cache
    x4, _, meta = load_encodings(stage.encodings_path(cfg.paths.encodings_dir, "toy_text", "minilm_l6", "train"))
    assert meta["max_length"] == 4
    cfg.suite.datasets.toy_text.max_tokens = 0
    with pytest.raises(ValueError, match="max_tokens must be a positive int"):
        stage.run(cfg)
