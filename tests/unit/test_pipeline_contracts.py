"""Contracts of the pipeline's stages, fast: misspelt keys in conf files, unknown and hub-only
datasets failing before any encoding, verified artifacts, relative heads following the anchors."""

import json
import shutil
import subprocess
import sys
import time

import numpy as np
import pytest
from sklearn.datasets import load_digits

from latentstitch.artifacts import artifact_problem, keep_or_build
from latentstitch.config import CONF_DIR, REPO_ROOT
from latentstitch.io import CorruptedFileError, load_encodings, save_encodings
from latentstitch.params import ConfigError, compose


@pytest.fixture
def conf(tmp_path):
    copy = tmp_path / "conf"
    shutil.copytree(CONF_DIR, copy)
    return copy


def test_misspelt_key_in_a_suite_file(conf):
    path = conf / "suite" / "smoke.yaml"
    path.write_text(path.read_text().replace("    encoders: [bert_base_cased", "    encoderz: [bert_base_cased"))
    with pytest.raises(
        ConfigError,
        match=r"unknown key 'encoderz' in suite.datasets.bbc_news \(file: "
        r"conf/suite/smoke.yaml\); valid keys: autoencoders, encoders, heads",
    ):
        compose(["suite=smoke"], conf_dir=conf)


def test_misspelt_key_in_a_group_file(conf):
    path = conf / "autoencoder" / "cnn_tiny.yaml"
    path.write_text(path.read_text().replace("max_epochs:", "max_epoch:"))
    with pytest.raises(
        ConfigError,
        match=r"'max_epoch' in autoencoders.cnn_tiny \(file: "
        r"conf/autoencoder/cnn_tiny.yaml\); valid keys: activation, batch_size",
    ):
        compose(["suite=smoke"], conf_dir=conf)


def _params(tmp_path, *overrides):
    params = tmp_path / "params.yaml"
    subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "scripts" / "compose_params.py"),
            "--output",
            str(params),
            "--dvc-yaml",
            str(tmp_path / "dvc.yaml"),
            "suite=smoke",
            f"paths.cache_dir={tmp_path}/cache",
            *overrides,
        ],
        check=True,
        cwd=REPO_ROOT,
        capture_output=True,
    )
    return params


def test_hub_only_dataset_fails_before_any_encoding(tmp_path):
    # ag_news comes from the HuggingFace hub only; digits (first in the suite) would encode in seconds
    params = _params(tmp_path, "+suite.datasets.ag_news={encoders: [bert_base_cased]}", "suite.tiny=true")
    start = time.perf_counter()
    result = subprocess.run(
        [sys.executable, "-m", "latentstitch.stages.encode", "--params", str(params)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
        env={
            "PATH": "/usr/bin:/bin",
            "HF_HUB_OFFLINE": "1",
            "HF_DATASETS_OFFLINE": "1",
            "HF_HOME": str(tmp_path / "hf"),
            "PYTHONPATH": str(REPO_ROOT / "src"),
        },
    )
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and "ag_news" in result.stderr and "Traceback" not in result.stderr
    assert not list((tmp_path / "cache").rglob("*.safetensors")), "encoded something before failing"
    assert time.perf_counter() - start < 120


def test_unknown_dataset_fails_at_composition(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "scripts" / "compose_params.py"),
            "--output",
            str(tmp_path / "p.yaml"),
            "--dvc-yaml",
            str(tmp_path / "d.yaml"),
            "suite=smoke",
            "+suite.datasets.digitz={encoders: [rexnet_100]}",
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
    )
    assert result.returncode == 2 and "unknown dataset 'digitz'; valid:" in result.stderr


def test_same_size_corruption_of_an_encodings_file_is_an_error_naming_it(tmp_path):
    path = tmp_path / "x.safetensors"
    save_encodings(path, np.arange(12, dtype=np.float32).reshape(4, 3), np.arange(4), {"encoder": "e"})
    data = bytearray(path.read_bytes())
    data[-40] ^= 0xFF  # inside the tensors
    path.write_bytes(bytes(data))
    with pytest.raises(CorruptedFileError, match=f"{path} is corrupted"):
        load_encodings(path)


def test_artifacts_are_verified_and_rebuilt_aside(tmp_path):
    out, summary = tmp_path / "art", {}

    def build(staging):
        (staging / "weights.bin").write_bytes(b"\x01" * 100)
        return {"score": 1.0}

    assert keep_or_build(out, "fp", {"name": "a"}, build, summary)["score"] == 1.0
    assert artifact_problem(out, "fp") is None and artifact_problem(out, "other") is not None
    (out / "weights.bin").write_bytes(b"\x02" * 100)  # same size
    assert artifact_problem(out, "fp") == "weights.bin is corrupted (its content hash differs from the recorded one)"

    def failing(staging):
        (staging / "weights.bin").write_bytes(b"partial")
        raise RuntimeError("interrupted")

    with pytest.raises(RuntimeError):
        keep_or_build(out, "fp", {}, failing, summary)
    assert (out / "weights.bin").read_bytes() == b"\x02" * 100  # the previous folder is still there
    keep_or_build(out, "fp", {}, build, summary)
    assert artifact_problem(out, "fp") is None and summary["trained"] == 2 and summary["rebuilt"]


def test_relative_heads_follow_the_anchor_indices(tmp_path, monkeypatch):
    from omegaconf import OmegaConf

    from latentstitch.data import sample_anchors
    from latentstitch.layout import relative_head_dir
    from latentstitch.stages import train_relative_heads

    data = load_digits()
    x, y = (data.data / 16.0).astype(np.float32), data.target.astype(np.int64)
    for name, z in {"a": x, "b": x[:, ::-1].copy()}.items():
        for split, rows in (("train", slice(0, 1400)), ("test", slice(1400, None))):
            save_encodings(tmp_path / "enc" / "digits" / name / f"{split}.safetensors", z[rows], y[rows], {})
    cfg = OmegaConf.create(
        {
            "paths": {"results_dir": str(tmp_path / "res"), "encodings_dir": str(tmp_path / "enc")},
            "device": "cpu",
            "seed": 0,
            "logger": {"wandb": False},
            "suite": {
                "name": "unit",
                "datasets": {"digits": {"encoders": ["a", "b"], "heads": ["svm_fast"]}},
                "anchors": {"num": [30], "seeds": [0]},
                "stitch": {"methods": ["relative"]},
            },
            "heads": {"svm_fast": {"kind": "linear_svm", "C": 1.0, "max_iter": 1000}},
        }
    )
    assert train_relative_heads.run(cfg)["trained"] == 2
    assert train_relative_heads.run(cfg)["kept"] == 2

    # anchor sampling changes (e.g. an edit of data/sampling.py): the same count and seed now
    # draw other rows, so every relative head is retrained on them
    def shifted(labels, count, seed, stratified=False):
        return sample_anchors(labels, count, seed + 100)

    monkeypatch.setattr(train_relative_heads, "sample_anchors", shifted)
    again = train_relative_heads.run(cfg)
    assert again["trained"] == 2 and again["kept"] == 0
    record = json.loads(
        (relative_head_dir(tmp_path / "res", "digits", "a", "svm_fast", 30, 0) / "metrics.json").read_text()
    )
    assert record["anchor_indices"] == sample_anchors(y[:1400], 30, 100).tolist()
