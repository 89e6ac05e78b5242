"""The autoencoder's batch loader (issue 17: keep a GPU fed): whole batches by one tensor index,
in exactly the order the plain shuffled DataLoader gave, so CPU training is unchanged."""

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from latentstitch.decoders import CNNAutoencoder
from latentstitch.decoders.training import seeded_generator


@pytest.mark.parametrize("n, batch_size, seed", [(300, 128, 0), (64, 64, 3), (10, 4, 1)])
def test_batches_equal_the_shuffled_dataloaders(n, batch_size, seed):
    x = torch.arange(n, dtype=torch.uint8 if n < 256 else torch.int64)[:, None, None, None]
    loader = CNNAutoencoder(batch_size=batch_size, seed=seed, accelerator="cpu")._loader(x)
    plain_loader = DataLoader(TensorDataset(x), batch_size=batch_size, shuffle=True, generator=seeded_generator(seed))
    epochs = []
    for _ in range(3):  # every epoch draws a new order, as the plain loader does
        ours, plain = [b[0] for b in loader], [b[0] for b in plain_loader]
        assert len(ours) == len(plain) == -(-n // batch_size)
        for a, b in zip(ours, plain):
            assert torch.equal(a, b)
        epochs.append(torch.cat(ours).flatten())
        assert torch.equal(epochs[-1].sort().values, x.flatten())
    assert not torch.equal(epochs[0], epochs[1])


def test_pin_memory_defaults_to_the_gpu_and_workers_are_checked():
    x = torch.zeros(8, 1, 4, 4, dtype=torch.uint8)
    assert CNNAutoencoder(accelerator="cpu")._loader(x).pin_memory is False
    assert CNNAutoencoder(accelerator="cpu", pin_memory=True)._loader(x).pin_memory is True
    for bad in (-1, 1.5, True):
        with pytest.raises(ValueError, match="num_workers must be an int >= 0"):
            CNNAutoencoder(num_workers=bad)._loader(x)


def test_workers_give_the_same_training(tmp_path):
    """num_workers=1 trains the same weights as the in-process loader (same batches)."""
    images = np.random.default_rng(0).integers(0, 256, size=(48, 8, 8), dtype=np.uint8)
    kw = dict(bottleneck=4, channels=(2, 4), max_epochs=1, batch_size=16, seed=0, accelerator="cpu")
    a = CNNAutoencoder(**kw).fit(images)
    b = CNNAutoencoder(**kw, num_workers=1).fit(images)
    np.testing.assert_array_equal(a.encode(images), b.encode(images))
