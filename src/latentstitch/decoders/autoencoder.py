"""CNN autoencoders: the generators stitched in the paper's Sec. 4.3 (Tables 3, 4, 8).

"A simple sequence of convolutions (in the encoder part) and deconvolutions (in the decoder
part), each interleaved with nonlinear activations" (App. B), with a linear bottleneck of
configurable size (the paper: 250 and 500). Optionally the decoder L2-normalizes its input,
which makes it scale invariant by design (Table 4). ``ConvAutoencoder`` is the plain torch
module, ``AutoencoderModule`` its Lightning wrapper, ``CNNAutoencoder`` the estimator that
trains, encodes images to latents and decodes latents to images.

Your own autoencoder, without editing the package: a conf/autoencoder/<name>.yaml with
``_target_`` naming a ``CNNAutoencoder`` subclass on the Python path, plus its ``__init__``
arguments (``build_autoencoder``). The protocol: the subclass's ``_build_net(image_shape)``
returns an ``nn.Module`` with ``encoder`` (images (n, c, h, w) in [0, 1] -> latents
(n, bottleneck)) and ``decoder`` (latents -> images (n, c, h, w) in [0, 1]), its forward
being ``decoder(encoder(x))``; training (pixel MSE, Adam, Lightning), encode, decode and
save/load are the base class's. Its ``__init__`` lists every setting explicitly and stores
each as an attribute (scikit-learn's rule), including ``bottleneck``, ``seed`` and
``l2_normalize``, which the suite's grid sets (and ``accelerator``, where it runs, if it
lets the stage choose). ``save_autoencoder``
records the class; ``load_autoencoder`` imports it again.

Reconstruction error ("rmse" in the paper's tables, which the paper defines as the
"reconstruction MSE between the input and the output") is the mean squared error over
pixels (and channels) with pixel values in [0, 1]: per image by ``reconstruction_mse``, and
averaged over images for a split.
"""

from __future__ import annotations

import inspect
import json
import math
import os
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from safetensors.torch import load_file, save_file
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError
from torch import nn
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, TensorDataset

import latentstitch
from latentstitch.decoders.training import (
    EpochRecorder,
    inference_device,
    make_activation,
    make_trainer,
    seeded_generator,
)
from latentstitch.io import atomic_path, write_json_atomic

_BATCH = 1024
_RECORD = "autoencoder.json"
_WEIGHTS = "autoencoder.safetensors"


def as_image_batch(images: Any) -> torch.Tensor:
    """Images (n, h, w) or (n, h, w, c), uint8 or float in [0, 1], as a tensor (n, c, h, w).

    uint8 stays uint8 (a quarter of the memory); ``to_unit`` converts each batch.
    """
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[..., None]
    if images.ndim != 4 or images.shape[-1] not in (1, 3) or images.shape[0] == 0:
        raise ValueError(
            f"images must have shape (n, h, w) or (n, h, w, c) with c in (1, 3) and n > 0, got {images.shape}"
        )
    if images.dtype != np.uint8:
        if not np.issubdtype(images.dtype, np.floating):
            raise TypeError(f"images must be uint8 or float in [0, 1], got dtype {images.dtype}")
        lo, hi = float(images.min()), float(images.max())
        if not (0.0 <= lo and hi <= 1.0):  # also catches NaN
            raise ValueError(
                f"float images must lie in [0, 1], got values in [{lo}, {hi}] (pass uint8 or divide by 255)"
            )
        images = images.astype(np.float32, copy=False)
    chw = np.ascontiguousarray(images.transpose(0, 3, 1, 2))
    # torch wants writable memory; arrays read from files are often read-only views.
    return torch.from_numpy(chw if chw.flags.writeable else chw.copy())


def to_unit(batch: torch.Tensor) -> torch.Tensor:
    """A batch from ``as_image_batch`` as float pixels in [0, 1]."""
    return batch.float().div_(255.0) if batch.dtype == torch.uint8 else batch.float()


def reconstruction_mse(images: Any, reconstructions: Any) -> np.ndarray:
    """Per-image mean squared error over pixels and channels, pixels in [0, 1]: shape (n,).

    Its mean over images is the paper's "rmse" ("reconstruction MSE", Tables 3, 4, 8).
    """
    x, x_hat = to_unit(as_image_batch(images)), to_unit(as_image_batch(reconstructions))
    if x.shape != x_hat.shape:
        raise ValueError(
            f"images {tuple(x.shape)} and reconstructions {tuple(x_hat.shape)} differ in shape (n, c, h, w)"
        )
    return (x - x_hat).pow(2).flatten(1).mean(dim=1).numpy()


class L2Normalize(nn.Module):
    """x / ||x||_2 per row: the scale-invariant decoder input of Table 4."""

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return nn.functional.normalize(z, p=2.0, dim=1)


class ConvAutoencoder(nn.Module):
    """Stride-2 convolutions down, a linear bottleneck, stride-2 transposed convolutions up.

    Any image size works: each 3x3 stride-2 convolution maps a side s to ceil(s / 2), and the
    matching transposed convolution takes its output_padding from the parity of s, so the
    output has exactly the input's shape (28x28 -> 14 -> 7, 32x32 -> 16 -> 8, 8x8 -> 4 -> 2).
    The output passes through a sigmoid: pixels in [0, 1].
    """

    def __init__(
        self,
        image_shape: Sequence[int],
        bottleneck: int = 500,
        channels: Sequence[int] = (32, 64),
        activation: str = "relu",
        l2_normalize: bool = False,
    ) -> None:
        super().__init__()
        c, h, w = (int(s) for s in image_shape)
        if len(channels) == 0 or bottleneck < 1:
            raise ValueError(
                f"need at least one conv level and bottleneck >= 1, got channels={channels}, bottleneck={bottleneck}"
            )
        sides = [(h, w)]
        for _ in channels:
            sides.append((math.ceil(sides[-1][0] / 2), math.ceil(sides[-1][1] / 2)))
        widths = [c, *channels]
        flat = widths[-1] * sides[-1][0] * sides[-1][1]

        down: list[nn.Module] = []
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            down += [nn.Conv2d(w_in, w_out, 3, stride=2, padding=1), make_activation(activation)]
        self.encoder = nn.Sequential(*down, nn.Flatten(), nn.Linear(flat, bottleneck))

        up: list[nn.Module] = [L2Normalize()] if l2_normalize else []
        up += [nn.Linear(bottleneck, flat), make_activation(activation)]
        up.append(nn.Unflatten(1, (widths[-1], *sides[-1])))
        for level in range(len(channels), 0, -1):
            out_h, out_w = sides[level - 1]
            parity = (1 - out_h % 2, 1 - out_w % 2)
            up.append(
                nn.ConvTranspose2d(widths[level], widths[level - 1], 3, stride=2, padding=1, output_padding=parity)
            )
            up.append(make_activation(activation) if level > 1 else nn.Sigmoid())
        self.decoder = nn.Sequential(*up)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class AutoencoderModule(pl.LightningModule):
    """MSE reconstruction training of a ``ConvAutoencoder`` with Adam."""

    def __init__(self, net: ConvAutoencoder, lr: float) -> None:
        super().__init__()
        self.net = net
        self.lr = lr

    def training_step(self, batch: tuple[torch.Tensor], batch_idx: int) -> torch.Tensor:
        x = to_unit(batch[0])
        loss = nn.functional.mse_loss(self.net(x), x)
        self.log("train_mse", loss, on_step=False, on_epoch=True, batch_size=len(x))
        return loss

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.net.parameters(), lr=self.lr)


class CNNAutoencoder(BaseEstimator):
    """A ``ConvAutoencoder`` trained with Lightning: fit(images), encode, decode, reconstruct.

    fit minimizes the pixel MSE with Adam for ``max_epochs`` epochs; ``seed`` sets both the
    weight init and the batch order (the paper's two autoencoders differ only in these).
    decode returns float32 images in [0, 1] in the training layout: (n, h, w) for grayscale
    given as (n, h, w), else (n, h, w, c).
    """

    def __init__(
        self,
        bottleneck: int = 500,
        channels: Sequence[int] = (32, 64),
        activation: str = "relu",
        l2_normalize: bool = False,
        max_epochs: int = 10,
        lr: float = 1e-3,
        batch_size: int = 128,
        seed: int = 0,
        accelerator: str = "auto",
        num_workers: int = 0,
        pin_memory: bool | None = None,
    ) -> None:
        self.bottleneck = bottleneck
        self.channels = channels
        self.activation = activation
        self.l2_normalize = l2_normalize
        self.max_epochs = max_epochs
        self.lr = lr
        self.batch_size = batch_size
        self.seed = seed
        self.accelerator = accelerator
        self.num_workers = num_workers
        self.pin_memory = pin_memory

    def _build_net(self, image_shape: Sequence[int]) -> ConvAutoencoder:
        return ConvAutoencoder(image_shape, self.bottleneck, tuple(self.channels), self.activation, self.l2_normalize)

    def fit(self, images: Any, *, logger: pl.loggers.Logger | bool = False) -> "CNNAutoencoder":
        x = as_image_batch(images)
        self.image_shape_ = tuple(int(s) for s in x.shape[1:])
        self.grayscale_hw_ = np.asarray(images).ndim == 3
        pl.seed_everything(self.seed, verbose=False)
        module = AutoencoderModule(self._build_net(self.image_shape_), self.lr)
        loader = self._loader(x)
        recorder = EpochRecorder()
        trainer = make_trainer(
            max_epochs=self.max_epochs, accelerator=self.accelerator, logger=logger, callbacks=[recorder]
        )
        trainer.fit(module, train_dataloaders=loader)
        self.net_ = module.net.eval()
        self.epoch_seconds_ = recorder.seconds
        self.train_mse_ = [m["train_mse"] for m in recorder.metrics]
        return self

    def _loader(self, x: torch.Tensor) -> DataLoader:
        """Shuffled batches of ``x``, each taken by one index of the in-memory tensor (no
        per-image collation, which starves a GPU: a step of this small CNN takes about a
        millisecond there). The batch order is ``DataLoader(shuffle=True,
        generator=seeded_generator(seed))``'s. ``pin_memory`` (default: when training on a
        GPU) lets the host-to-device copies overlap; ``num_workers`` > 0 prepares batches in
        worker processes (in-memory uint8 batches rarely need them)."""
        if not isinstance(self.num_workers, int) or isinstance(self.num_workers, bool) or self.num_workers < 0:
            raise ValueError(f"num_workers must be an int >= 0, got {self.num_workers!r}")
        pin = self.pin_memory if self.pin_memory is not None else inference_device(self.accelerator).type == "cuda"
        dataset, generator = TensorDataset(x), seeded_generator(self.seed)
        # one generator for both, as DataLoader(shuffle=True) shares it: each epoch's iterator
        # draws its worker base seed from it before the sampler draws the permutation
        batches = BatchSampler(RandomSampler(dataset, generator=generator), self.batch_size, drop_last=False)
        return DataLoader(
            dataset,
            sampler=batches,
            batch_size=None,
            num_workers=self.num_workers,
            pin_memory=bool(pin),
            persistent_workers=self.num_workers > 0,
            generator=generator,
        )

    def _check_fitted(self) -> None:
        if not hasattr(self, "net_"):
            raise NotFittedError("this CNNAutoencoder is not fitted yet; call fit(images) first")

    @torch.no_grad()
    def encode(self, images: Any) -> np.ndarray:
        """Latents (n, bottleneck) float32 of images shaped like the training ones."""
        self._check_fitted()
        x = as_image_batch(images)
        if tuple(x.shape[1:]) != self.image_shape_:
            raise ValueError(
                f"autoencoder was trained on images (c, h, w) = {self.image_shape_}, got {tuple(x.shape[1:])}"
            )
        device = inference_device(self.accelerator)
        net = self.net_.to(device)
        return torch.cat([net.encoder(to_unit(b).to(device)).cpu() for b in x.split(_BATCH)]).numpy()

    @torch.no_grad()
    def decode(self, latents: Any) -> np.ndarray:
        """Images in [0, 1] (float32) from latents (n, bottleneck), e.g. translated ones."""
        self._check_fitted()
        z = np.asarray(latents, dtype=np.float32)
        if z.ndim != 2 or z.shape[1] != self.bottleneck:
            raise ValueError(
                f"decoder takes latents of shape (n, {self.bottleneck}), got {z.shape}; translate other "
                f"encoders' latents into this autoencoder's space first"
            )
        device = inference_device(self.accelerator)
        net = self.net_.to(device)
        out = torch.cat([net.decoder(b.to(device)).cpu() for b in torch.from_numpy(z).split(_BATCH)])
        out = out.permute(0, 2, 3, 1).numpy()
        return out[..., 0] if self.grayscale_hw_ else out

    def reconstruct(self, images: Any) -> np.ndarray:
        return self.decode(self.encode(images))


# Settings the suite's autoencoder grid sets (not the conf/autoencoder file).
GRID_SETTINGS = ("bottleneck", "seed", "l2_normalize")


def autoencoder_class(target: str | None) -> type[CNNAutoencoder]:
    """The class a conf/autoencoder option names with ``_target_`` (a ``CNNAutoencoder``
    subclass on the Python path, imported as ``hydra.utils.get_class``); ``CNNAutoencoder``
    when None. ValueError when it cannot be imported, TypeError when it is no such subclass."""
    if target is None:
        return CNNAutoencoder
    from hydra.utils import get_class

    try:
        cls = get_class(str(target))
    except Exception as err:  # whatever importing the user's module raises
        raise ValueError(f"autoencoder _target_ {target!r} cannot be imported: {err}") from None
    if not (isinstance(cls, type) and issubclass(cls, CNNAutoencoder)):
        raise TypeError(f"autoencoder _target_ {target!r} is not a latentstitch.decoders.CNNAutoencoder subclass")
    return cls


def autoencoder_settings(cls: type[CNNAutoencoder]) -> set[str]:
    """The settings an autoencoder class takes (its ``__init__`` arguments)."""
    return set(inspect.signature(cls.__init__).parameters) - {"self"}


def build_autoencoder(settings: Mapping[str, Any], **context: Any) -> CNNAutoencoder:
    """An unfitted autoencoder from a conf/autoencoder mapping (``_target_`` optional, see the
    module docstring) plus the grid's settings; ``context`` (e.g. ``accelerator``) fills the
    settings the class takes. An unknown setting is a ValueError naming it and the valid ones."""
    settings = dict(settings)
    cls = autoencoder_class(settings.pop("_target_", None))
    accepted = autoencoder_settings(cls)
    unknown = set(settings) - accepted
    if unknown:
        raise ValueError(
            f"unknown settings {sorted(unknown)} for autoencoder {cls.__name__}; valid: {sorted(accepted)}"
        )
    settings.update({k: v for k, v in context.items() if k in accepted})
    return cls(**settings)


def save_autoencoder(ae: CNNAutoencoder, directory: str | os.PathLike) -> Path:
    """Write weights (safetensors) and settings (JSON, written last) of a fitted autoencoder."""
    ae._check_fitted()
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in ae.net_.state_dict().items()}
    with atomic_path(directory / _WEIGHTS) as tmp:
        save_file(state, str(tmp))
    settings = {k: list(v) if isinstance(v, tuple) else v for k, v in ae.get_params().items()}
    write_json_atomic(
        directory / _RECORD,
        {
            "target": f"{type(ae).__module__}.{type(ae).__qualname__}",
            "settings": settings,
            "image_shape": list(ae.image_shape_),
            "grayscale_hw": bool(ae.grayscale_hw_),
            "latentstitch_version": latentstitch.__version__,
        },
    )
    return directory


def load_autoencoder(directory: str | os.PathLike, accelerator: str | None = None) -> CNNAutoencoder:
    """Read an autoencoder written by ``save_autoencoder`` (a user's class is imported again
    from its recorded target); ``accelerator`` overrides where it runs."""
    directory = Path(directory)
    record_path = directory / _RECORD
    if not record_path.exists():
        raise FileNotFoundError(f"no saved autoencoder in {directory} (missing {_RECORD}; run train_autoencoders)")
    record = json.loads(record_path.read_text())
    settings = dict(record["settings"])
    cls = autoencoder_class(record.get("target"))
    if accelerator is not None and "accelerator" in autoencoder_settings(cls):
        settings["accelerator"] = accelerator
    ae = cls(**settings)
    ae.image_shape_ = tuple(record["image_shape"])
    ae.grayscale_hw_ = record["grayscale_hw"]
    net = ae._build_net(ae.image_shape_)
    net.load_state_dict(load_file(str(directory / _WEIGHTS)))
    ae.net_ = net.eval()
    return ae
