"""The train_heads stage on two small "encoders" of real digits: outputs, accuracy, resume."""

import json

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf, open_dict
from sklearn.datasets import load_digits

from latentstitch.config import CONF_DIR
from latentstitch.data import sample_anchors
from latentstitch.decoders import LinearSVMHead, MLPHead, RelativeHead, SVMHead, load_head
from latentstitch.io import save_encodings
from latentstitch.layout import head_dir, relative_head_dir
from latentstitch.stages import train_heads, train_relative_heads


def stage_config(tmp_path, heads):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config")
    with open_dict(cfg):
        cfg.paths.results_dir = str(tmp_path / "results")
        cfg.paths.encodings_dir = str(tmp_path / "encodings")
        cfg.device = "cpu"
        cfg.suite = OmegaConf.create(
            {
                "name": "unit",
                "datasets": {"digits": {"encoders": ["a", "b"], "heads": heads}},
                "anchors": {"num": [40], "seeds": [0]},
            }
        )
    return cfg


@pytest.fixture
def encodings(tmp_path):
    """Encoder a: digits pixels (64-d); encoder b: a random linear map of them to 48-d."""
    data = load_digits()
    x, y = (data.data / 16.0).astype(np.float32), data.target.astype(np.int64)
    spaces = {"a": x, "b": x @ np.random.default_rng(0).normal(size=(64, 48)).astype(np.float32)}
    for name, z in spaces.items():
        for split, rows in (("train", slice(0, 1400)), ("test", slice(1400, None))):
            path = tmp_path / "encodings" / "digits" / name / f"{split}.safetensors"
            save_encodings(path, z[rows], y[rows], {"dataset": "digits", "encoder": name, "split": split})
    return spaces, y


def test_trains_every_head_then_keeps_them(tmp_path, encodings):
    cfg = stage_config(tmp_path, ["svm", "svm_fast", "mlp"])
    summary = train_heads.run(cfg)
    assert summary["trained"] == 6 and summary["kept"] == 0  # 2 encoders x 3 head kinds

    results = tmp_path / "results"
    head = load_head(head_dir(results, "digits", "b", "svm"))
    assert isinstance(head, SVMHead) and head.n_features_in_ == 48
    assert isinstance(load_head(head_dir(results, "digits", "a", "svm_fast")), LinearSVMHead)
    metrics = json.loads((head_dir(results, "digits", "a", "mlp") / "metrics.json").read_text())
    assert metrics["test_accuracy"] > 0.8 and metrics["seed"] == cfg.seed and metrics["dim"] == 64
    assert metrics["test_accuracy"] == summary["test_accuracy"]["digits/a/mlp"]
    assert not (results / "relative_heads").exists()  # a stitching setting: train_relative_heads trains them

    again = train_heads.run(cfg)
    assert again["trained"] == 0 and again["kept"] == 6
    assert again["test_accuracy"] == summary["test_accuracy"]


def test_relative_heads_for_every_anchor_setting_then_kept(tmp_path, encodings):
    spaces, y = encodings
    cfg = stage_config(tmp_path, ["mlp"])
    cfg.suite.anchors = {"num": [40], "seeds": [0, 2]}
    summary = train_relative_heads.run(cfg)
    assert summary["trained"] == 4  # encoders a and b, seeds 0 and 2
    rel_dir = relative_head_dir(tmp_path / "results", "digits", "b", "mlp", 40, 0)
    assert summary["test_accuracy"]["digits/b/mlp/a40_s0"] > 0.5
    rel = load_head(rel_dir)
    rel_metrics = json.loads((rel_dir / "metrics.json").read_text())
    assert isinstance(rel, RelativeHead) and isinstance(rel.head_, MLPHead) and rel.n_anchors_ == 40
    # The anchors are the ones the stitch stage draws: sample_anchors(train labels, count, seed).
    idx = sample_anchors(y[:1400], 40, 0)
    assert rel_metrics["anchor_indices"] == idx.tolist()
    np.testing.assert_array_equal(rel.anchors_, spaces["b"][idx])
    assert rel_metrics["test_accuracy"] > 0.5

    cfg.suite.anchors.seeds = [0, 2, 3]
    summary = train_relative_heads.run(cfg)
    assert summary["trained"] == 2 and summary["kept"] == 4  # only the new seed's heads


def test_missing_encodings_are_clear(tmp_path, encodings):
    cfg = stage_config(tmp_path, ["svm"])
    cfg.suite.datasets.digits.encoders = ["c"]
    with pytest.raises(FileNotFoundError, match="run the encode stage first"):
        train_heads.run(cfg)
