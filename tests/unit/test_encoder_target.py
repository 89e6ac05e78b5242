"""A user's own encoder, from a config with ``_target_`` and a class on the Python path: built,
encoded and cached (its target and arguments in the cache's metadata) with no edit of the
package, and checked by the config stage (a bad target names its file and key)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from latentstitch.data.base import Dataset, Split
from latentstitch.encoders import build_encoder, ensure_encodings, load_spec
from latentstitch.encoders.base import Encoder
from latentstitch.encoders.encoding import cache_problem
from latentstitch.encoders.sources import check_available
from latentstitch.io import load_encodings, read_encodings_meta
from latentstitch.params import ConfigError, compose


class ProjectionEncoder(Encoder):
    """A user's image encoder: a seeded random projection of the flattened pixels."""

    def __init__(self, spec, *, tiny, device, width: int = 8, seed: int = 0) -> None:
        super().__init__(spec, tiny=tiny, device=device, dim=width)
        generator = torch.Generator().manual_seed(seed)
        self.weight = torch.randn(64, width, generator=generator)

    def features(self, images):
        return np.asarray(images, dtype=np.float32).reshape(len(images), -1)

    def collate(self, features, indices):
        return torch.from_numpy(features[indices])

    def forward(self, batch):
        return batch.to(self.device) @ self.weight.to(self.device)


class NotAnEncoder:
    def __init__(self, spec, *, tiny, device) -> None:
        pass


def _config(**arguments) -> dict:
    return {"id": "projection", "_target_": f"{__name__}.ProjectionEncoder", "modality": "image", **arguments}


def _digits() -> Dataset:
    from sklearn.datasets import load_digits

    digits = load_digits()
    images = (digits.images * 255 / 16).astype(np.uint8)
    labels = digits.target.astype(np.int64)
    return Dataset(
        name="toy_digits",
        modality="image",
        train=Split(images[:40], labels[:40]),
        test=Split(images[40:50], labels[40:50]),
        class_names=[str(i) for i in range(10)],
    )


def test_encoder_from_target_encodes_like_its_oracle():
    encoder = build_encoder(_config(width=6, seed=3, dim=6), device="cpu")
    assert isinstance(encoder, ProjectionEncoder) and encoder.dim == 6 and encoder.modality == "image"
    images = _digits().train.inputs
    x = encoder.embed(images, batch_size=7)
    weight = torch.randn(64, 6, generator=torch.Generator().manual_seed(3)).numpy().astype(np.float64)
    np.testing.assert_allclose(x, images.reshape(len(images), -1).astype(np.float64) @ weight, rtol=1e-5, atol=1e-2)
    check_available(encoder.spec)  # no hub or package source: nothing to fetch, no error
    with pytest.raises(ValueError, match=r"produces 6-d features but its config says dim: 5"):
        build_encoder(_config(width=6, dim=5), device="cpu")


def test_cache_records_target_and_arguments_and_a_changed_argument_re_encodes(tmp_path):
    dataset, encoder = _digits(), build_encoder(_config(width=4, seed=0), device="cpu")
    path = ensure_encodings(dataset, encoder, "train", tmp_path, progress=False)
    meta = read_encodings_meta(path)
    assert meta["encoder_target"] == f"{__name__}.ProjectionEncoder"
    assert meta["encoder_arguments"] == {"width": 4, "seed": 0}
    assert cache_problem(dataset, load_spec(_config(width=4, seed=0)), "train", tmp_path) is None
    problem = cache_problem(dataset, load_spec(_config(width=4, seed=1)), "train", tmp_path)
    assert problem is not None and "encoder_arguments" in problem
    reseeded = build_encoder(_config(width=4, seed=1), device="cpu")
    x_new = load_encodings(ensure_encodings(dataset, reseeded, "train", tmp_path, progress=False))[0]
    np.testing.assert_allclose(x_new, reseeded.embed(dataset.train.inputs), rtol=1e-6)


@pytest.mark.parametrize(
    "config, error",
    [
        ({"_target_": "no.such.module.Encoder"}, "_target_ 'no.such.module.Encoder' cannot be imported"),
        ({"_target_": f"{__name__}.NotAnEncoder"}, "is not a latentstitch.encoders.Encoder subclass"),
        ({"widht": 4}, r"takes no argument\(s\) \['widht'\]; valid: \['seed', 'width'\]"),
        ({"modality": "audio"}, "needs `modality`"),
    ],
)
def test_config_stage_names_file_and_key_of_a_bad_encoder_target(config, error):
    from latentstitch.validation import validate_all

    cfg = compose(["suite=smoke"])
    OmegaConf.update(cfg, "suite.datasets.digits.encoders", ["efficientnet_lite0", "projection"], merge=False)
    OmegaConf.update(cfg, "encoders.projection", _config(width=4), merge=False)
    validate_all(cfg)  # the user's encoder, as configured, passes
    OmegaConf.update(cfg, "encoders.projection", {**_config(width=4), **config}, merge=False)
    with pytest.raises(ConfigError, match=r"encoders.projection \(file: conf/encoder/projection.yaml\): .*" + error):
        validate_all(cfg)


def test_config_stage_rejects_an_encoder_of_the_wrong_modality():
    from latentstitch.validation import validate_all

    cfg = compose(["suite=smoke"])
    OmegaConf.update(cfg, "suite.datasets.bbc_news.encoders", ["bert_base_cased", "projection"], merge=False)
    OmegaConf.update(cfg, "encoders.projection", _config(), merge=False)
    with pytest.raises(ConfigError, match=r"suite.datasets.bbc_news.encoders names 'projection', which encodes image"):
        validate_all(cfg)
