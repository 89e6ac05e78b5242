"""A user's own autoencoder, from a conf/autoencoder mapping with ``_target_`` (a CNNAutoencoder
subclass on the Python path): built, trained, saved and loaded (its class imported again) with
no edit of the package, and checked by the config stage (a bad target names its file)."""

import numpy as np
import pytest
from omegaconf import OmegaConf
from torch import nn

from latentstitch.decoders import CNNAutoencoder, build_autoencoder, load_autoencoder, save_autoencoder
from latentstitch.params import ConfigError, compose, validate


class FlatNet(nn.Module):
    """Fully connected encoder and decoder: the protocol's ``encoder`` and ``decoder``."""

    def __init__(self, image_shape, bottleneck: int, hidden: int) -> None:
        super().__init__()
        c, h, w = image_shape
        self.encoder = nn.Sequential(
            nn.Flatten(), nn.Linear(c * h * w, hidden), nn.ReLU(), nn.Linear(hidden, bottleneck)
        )
        self.decoder = nn.Sequential(
            nn.Linear(bottleneck, hidden),
            nn.ReLU(),
            nn.Linear(hidden, c * h * w),
            nn.Sigmoid(),
            nn.Unflatten(1, (c, h, w)),
        )

    def forward(self, x):
        return self.decoder(self.encoder(x))


class FlatAutoencoder(CNNAutoencoder):
    """A user's autoencoder: another network, CNNAutoencoder's training, encode and decode."""

    def __init__(
        self,
        bottleneck: int = 8,
        hidden: int = 32,
        l2_normalize: bool = False,
        max_epochs: int = 3,
        lr: float = 1e-2,
        batch_size: int = 64,
        seed: int = 0,
        accelerator: str = "cpu",
    ) -> None:
        super().__init__(
            bottleneck=bottleneck,
            l2_normalize=l2_normalize,
            max_epochs=max_epochs,
            lr=lr,
            batch_size=batch_size,
            seed=seed,
            accelerator=accelerator,
        )
        self.hidden = hidden

    def _build_net(self, image_shape):
        return FlatNet(image_shape, self.bottleneck, self.hidden)


TARGET = f"{__name__}.FlatAutoencoder"


def _images(n=300):
    from sklearn.datasets import load_digits

    return (load_digits().images[:n] * 255 / 16).astype(np.uint8)


def test_autoencoder_from_target_trains_saves_and_loads(tmp_path):
    images = _images()
    settings = {"_target_": TARGET, "hidden": 24, "max_epochs": 4, "bottleneck": 6, "seed": 1, "l2_normalize": False}
    ae = build_autoencoder(settings, accelerator="cpu").fit(images)
    assert isinstance(ae, FlatAutoencoder) and ae.hidden == 24 and ae.encode(images).shape == (300, 6)
    assert ae.train_mse_[-1] < ae.train_mse_[0]  # it learns
    again = build_autoencoder(settings, accelerator="cpu").fit(images)  # seeded: the same bits
    np.testing.assert_array_equal(again.encode(images), ae.encode(images))
    loaded = load_autoencoder(save_autoencoder(ae, tmp_path / "ae"), accelerator="cpu")
    assert type(loaded) is FlatAutoencoder and loaded.hidden == 24
    np.testing.assert_array_equal(loaded.reconstruct(images), ae.reconstruct(images))
    with pytest.raises(ValueError, match=r"unknown settings \['channels'\] for autoencoder FlatAutoencoder"):
        build_autoencoder({**settings, "channels": [8]})


WHERE = r"autoencoders.cnn_tiny \(file: conf/autoencoder/cnn_tiny.yaml\)"


@pytest.mark.parametrize(
    "option, error",
    [
        ({"_target_": "no.such.module.AE"}, WHERE + r": autoencoder _target_ 'no.such.module.AE' cannot be imported"),
        (
            {"_target_": "collections.OrderedDict"},
            WHERE + r": .* is not a latentstitch.decoders.CNNAutoencoder subclass",
        ),
        ({"_target_": TARGET, "hiden": 16}, r"unknown key 'hiden' in " + WHERE + "; valid keys: .*hidden"),
    ],
)
def test_config_stage_names_the_file_of_a_bad_autoencoder_target(option, error):
    from latentstitch.validation import validate_all

    cfg = compose(["suite=smoke"])
    OmegaConf.update(cfg, "autoencoders.cnn_tiny", {"_target_": TARGET, "hidden": 16, "max_epochs": 1}, merge=False)
    validate_all(cfg)
    OmegaConf.update(cfg, "autoencoders.cnn_tiny", option, merge=False)
    validate(cfg)  # a stage's start-up check leaves a target's arguments to the config stage
    with pytest.raises(ConfigError, match=error):
        validate_all(cfg)
