"""The stitching engine's device path (``StitchSettings.device``): translators fitted and
applied as torch tensors on a device give the numbers of the default numpy path.

This machine has no GPU: the device path runs here with ``device="cpu"`` (the very code a
cuda run takes, tensors moved with ``.to(device)``), and the cuda run itself is
benchmarks/gpu_check.sh's job on a GPU machine.
"""

import warnings

import numpy as np
import pytest
import torch

from latentstitch.data import sample_anchors
from latentstitch.decoders import SVMHead
from latentstitch.stitching import Decoder, Space, StitchSettings, resolve_device, stitch, with_device


def _spaces(rng):
    """Three spaces of one dataset (12-, 12- and 7-dim), float32 like real encodings, with
    SVM heads (a linear readout) and a numpy-only decoder (a reconstruction-like map)."""
    centers = rng.normal(scale=3.0, size=(4, 12))
    y = rng.integers(0, 4, size=600)
    x = centers[y] + rng.normal(size=(600, 12))
    spaces = [Space("a", x[:450].astype(np.float32), x[450:].astype(np.float32))]
    for name, d in (("b", 12), ("c", 7)):
        t = np.tanh(x @ rng.normal(size=(12, d)) / 3) + 0.05 * rng.normal(size=(600, d))
        spaces.append(Space(name, t[:450].astype(np.float32), t[450:].astype(np.float32)))
    return spaces, y[:450], y[450:]


@pytest.fixture(scope="module")
def tables():
    spaces, y_train, y_test = _spaces(np.random.default_rng(7))
    decoders = [Decoder.head("svm", s.name, SVMHead().fit(s.train, y_train)) for s in spaces]
    settings = dict(
        methods=["absolute", "affine", "linear", "l-ortho", "ortho", "ridge"],
        scalings=["standard", "l2"],
        anchor_counts=[60],
        seeds=[0, 1],
        retrieval_queries=100,
        translator_kwargs={"affine_steps": 50},
    )
    out = {}
    for device in (None, "cpu"):
        out[device] = stitch(
            spaces,
            decoders,
            StitchSettings(**settings, device=device),
            y_test=y_test,
            anchor_indices=lambda count, seed: sample_anchors(y_train, count, seed),
        )
    return out


def test_device_path_gives_the_default_paths_numbers(tables):
    """Same rows; latent metrics within float32 rounding (1e-5), labels (accuracy, F1) equal."""
    default, device = tables[None], tables["cpu"]
    key = ["source", "target", "decoder", "method", "scaling", "anchors", "seed", "metric"]
    assert len(default) == len(device) > 0
    merged = default.merge(device, on=key, suffixes=("_default", "_device"), validate="one_to_one")
    assert len(merged) == len(default)
    assert set(merged.method) == {"no-stitch", "absolute", "affine", "linear", "l-ortho", "ortho", "ridge"}
    latent = merged.metric.isin(["lcos", "lmse", "retrieval_top1", "retrieval_mrr"])
    np.testing.assert_allclose(merged.value_device[latent], merged.value_default[latent], rtol=1e-5, atol=1e-5)
    labels = merged[~latent]
    np.testing.assert_array_equal(labels.value_device, labels.value_default)


def test_resolve_device_and_the_cuda_fallback(monkeypatch):
    assert resolve_device(None) is None
    assert resolve_device("cpu") == torch.device("cpu")
    for bad in ("gpu", "tpu", 3):
        with pytest.raises(ValueError, match="auto, cpu, cuda"):
            resolve_device(bad)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert resolve_device("auto") is None  # auto without a GPU: quietly the CPU
    with pytest.warns(RuntimeWarning, match="no CUDA device.*stitching on the CPU"):
        assert resolve_device("cuda") is None
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cuda:1") == torch.device("cuda:1")


def test_with_device_reads_the_configs_device():
    from omegaconf import OmegaConf

    assert with_device(StitchSettings(), OmegaConf.create({"device": "cpu"})).device == "cpu"
    assert with_device(StitchSettings(), OmegaConf.create({})).device == "auto"
