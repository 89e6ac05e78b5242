"""CNN autoencoders: shapes for every image size, training on real digits, seeds, save/load."""

import numpy as np
import pytest
import torch

from latentstitch.data import load_dataset
from latentstitch.decoders import (
    CNNAutoencoder,
    ConvAutoencoder,
    load_autoencoder,
    reconstruction_mse,
    save_autoencoder,
)


@pytest.fixture(scope="module")
def digits():
    return load_dataset("digits")  # 8x8 grayscale uint8, 1,438 / 359


def tiny_ae(**kw):
    settings = dict(bottleneck=16, channels=(8, 16), max_epochs=6, lr=3e-3, batch_size=64, seed=0, accelerator="cpu")
    return CNNAutoencoder(**{**settings, **kw})


@pytest.fixture(scope="module")
def trained(digits):
    return tiny_ae().fit(digits.train.inputs)


@pytest.mark.parametrize("shape", [(1, 28, 28), (3, 32, 32), (1, 8, 8), (3, 7, 9)])
def test_output_has_input_shape(shape):
    net = ConvAutoencoder(shape, bottleneck=20, channels=(4, 8, 8))
    x = torch.rand(2, *shape)
    assert net.encoder(x).shape == (2, 20)
    out = net(x)
    assert out.shape == x.shape and out.min() >= 0 and out.max() <= 1  # sigmoid output


def test_l2_decoder_is_scale_invariant():
    net = ConvAutoencoder((1, 8, 8), bottleneck=10, channels=(4,), l2_normalize=True)
    z = torch.randn(3, 10)
    torch.testing.assert_close(net.decoder(z), net.decoder(7.5 * z))
    plain = ConvAutoencoder((1, 8, 8), bottleneck=10, channels=(4,))
    assert not torch.allclose(plain.decoder(z), plain.decoder(7.5 * z))


def test_training_reduces_reconstruction_error(trained, digits):
    test = digits.test.inputs
    untrained = tiny_ae(max_epochs=0).fit(digits.train.inputs)  # same seed: the initial weights
    before = reconstruction_mse(test, untrained.reconstruct(test)).mean()
    after = reconstruction_mse(test, trained.reconstruct(test)).mean()
    assert after < 0.5 * before
    assert trained.train_mse_[-1] < trained.train_mse_[0]
    assert len(trained.epoch_seconds_) == 6


def test_encode_decode_shapes_and_errors(trained, digits):
    test = digits.test.inputs
    z = trained.encode(test)
    assert z.shape == (len(test), 16) and z.dtype == np.float32
    images = trained.decode(z)
    assert images.shape == test.shape and images.dtype == np.float32
    with pytest.raises(ValueError, match=r"latents of shape \(n, 16\), got \(4, 12\)"):
        trained.decode(np.zeros((4, 12)))
    with pytest.raises(ValueError, match=r"trained on images \(c, h, w\) = \(1, 8, 8\), got \(1, 28, 28\)"):
        trained.encode(np.zeros((2, 28, 28), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"float images must lie in \[0, 1\]"):
        trained.encode(np.full((2, 8, 8), 3.0))
    with pytest.raises(ValueError, match="images must have shape"):
        trained.encode(np.zeros((2, 8, 8, 2), dtype=np.uint8))


def test_same_seed_same_weights_other_seed_differs(trained, digits):
    again = tiny_ae().fit(digits.train.inputs)
    for (name, a), b in zip(trained.net_.state_dict().items(), again.net_.state_dict().values()):
        assert torch.equal(a, b), name
    other = tiny_ae(seed=1, max_epochs=1).fit(digits.train.inputs)
    first = "encoder.0.weight"
    assert not torch.equal(trained.net_.state_dict()[first], other.net_.state_dict()[first])


def test_save_load_round_trip(trained, digits, tmp_path):
    loaded = load_autoencoder(save_autoencoder(trained, tmp_path / "ae"))
    z = trained.encode(digits.test.inputs)
    np.testing.assert_array_equal(loaded.encode(digits.test.inputs), z)
    np.testing.assert_array_equal(loaded.decode(z), trained.decode(z))
    assert loaded.get_params() == {**trained.get_params(), "channels": list(trained.channels)}


def test_rgb_images_round_trip_layout():
    rgb = np.random.default_rng(0).integers(0, 256, size=(20, 12, 12, 3), dtype=np.uint8)
    ae = tiny_ae(max_epochs=1, bottleneck=8).fit(rgb)
    assert ae.image_shape_ == (3, 12, 12)
    assert ae.reconstruct(rgb).shape == (20, 12, 12, 3)


def test_reconstruction_mse_matches_numpy():
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, size=(5, 6, 6), dtype=np.uint8)
    recon = rng.random((5, 6, 6)).astype(np.float32)
    expected = ((images / 255.0 - recon) ** 2).reshape(5, -1).mean(axis=1)
    np.testing.assert_allclose(reconstruction_mse(images, recon), expected, rtol=1e-5)
    with pytest.raises(ValueError, match="differ in shape"):
        reconstruction_mse(images, recon[:, :5])
