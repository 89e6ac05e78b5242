"""The train_autoencoders stage on real digits: weights, latents in the cache format, rmse, resume."""

import json

import numpy as np
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf, open_dict
from safetensors.numpy import load_file

from latentstitch.config import CONF_DIR
from latentstitch.data import load_dataset
from latentstitch.decoders import load_autoencoder, reconstruction_mse
from latentstitch.io import load_encodings
from latentstitch.layout import autoencoder_dir, autoencoder_id
from latentstitch.stages import train_autoencoders


def stage_config(tmp_path, overrides=()):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=list(overrides))
    with open_dict(cfg):
        cfg.paths.results_dir = str(tmp_path / "results")
        cfg.paths.encodings_dir = str(tmp_path / "encodings")
        cfg.device = "cpu"
        cfg.suite = OmegaConf.create(
            {
                "name": "unit",
                "datasets": {
                    "digits": {
                        "encoders": [],
                        "autoencoders": {"bottlenecks": [16], "seeds": [0], "l2": [False, True]},
                    },
                    "bbc_news": {"encoders": ["x"], "heads": ["svm"]},  # no autoencoders: skipped
                },
            }
        )
    return cfg


def test_trains_exports_and_resumes(tmp_path):
    cfg = stage_config(tmp_path)
    summary = train_autoencoders.run(cfg)
    assert summary["trained"] == 2 and set(summary["test_rmse"]) == {"digits/ae_b16_s0", "digits/ae_b16_s0_l2"}

    digits = load_dataset("digits")
    out = autoencoder_dir(tmp_path / "results", "digits", "ae_b16_s0_l2")
    ae = load_autoencoder(out)
    assert ae.l2_normalize and ae.bottleneck == 16 and ae.seed == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["epochs"] == len(metrics["epoch_seconds"]) > 0
    # A mean-image predictor is the naive answer; the autoencoder must beat it clearly.
    train01 = digits.train.inputs / 255.0
    naive = reconstruction_mse(digits.test.inputs, np.broadcast_to(train01.mean(0), digits.test.inputs.shape)).mean()
    assert metrics["test_rmse"] < 0.6 * naive

    for split in ("train", "test"):
        z, labels, meta = load_encodings(out / f"{split}.safetensors")
        data = digits.split(split)
        np.testing.assert_array_equal(labels, data.labels)
        np.testing.assert_allclose(z, ae.encode(data.inputs), rtol=1e-5, atol=1e-6)
        assert meta["encoder"] == "ae_b16_s0_l2" and meta["split"] == split and meta["dim"] == 16
        assert meta["family"] == "autoencoder" and meta["autoencoder_dir"] == str(out)
    figures = load_file(str(out / "reconstructions.safetensors"))
    assert figures["images"].shape == figures["reconstructions"].shape == (16, 8, 8)
    np.testing.assert_allclose(
        reconstruction_mse(figures["images"], figures["reconstructions"]),
        reconstruction_mse(digits.test.inputs[:16], ae.reconstruct(digits.test.inputs[:16])),
        rtol=1e-5,
    )

    again = train_autoencoders.run(cfg)
    assert again["trained"] == 0 and again["kept"] == 2 and again["test_rmse"] == summary["test_rmse"]
    assert not (tmp_path / "encodings").exists()  # the encode stage's folder is left alone
    (autoencoder_dir(tmp_path / "results", "digits", "ae_b16_s0") / "test.safetensors").unlink()
    assert train_autoencoders.run(cfg)["trained"] == 1  # a missing latents file retrains that one


def test_wandb_logger_path_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_MODE", "disabled")
    monkeypatch.chdir(tmp_path)
    cfg = stage_config(tmp_path, ["logger=wandb"])
    assert cfg.logger.wandb and cfg.logger.mode == "disabled"
    cfg.suite.datasets.digits.autoencoders.l2 = [False]
    assert train_autoencoders.run(cfg)["trained"] == 1


def test_autoencoders_need_images(tmp_path):
    cfg = stage_config(tmp_path)
    cfg.suite.datasets = {"bbc_news": {"autoencoders": {"bottlenecks": [16], "seeds": [0]}}}
    with pytest.raises(ValueError, match="is a text dataset; they need images"):
        train_autoencoders.run(cfg)


def test_autoencoder_ids():
    assert autoencoder_id(500, 1, False) == "ae_b500_s1"
    assert autoencoder_id(250, 0, True) == "ae_b250_s0_l2"
