"""The Lightning plumbing shared by the MLP head and the CNN autoencoder.

One place decides how a Trainer is built (seeded, deterministic, no checkpoint files, no
progress bars) so that every torch decoder trains the same way on CPU and GPU.
"""

from __future__ import annotations

import logging
import time
import warnings
from typing import Any, Mapping

import numpy as np
import pytorch_lightning as pl
import torch
from torch import nn

ACCELERATORS = ("auto", "cpu", "gpu", "cuda")

# Lightning's advice to raise num_workers does not apply: batches come from in-memory tensors.
warnings.filterwarnings("ignore", message=r".*does not have many workers.*")
warnings.filterwarnings("ignore", message=r".*The number of training batches.*")
# MLPHead(val_fraction=0) trains without validation on purpose.
warnings.filterwarnings("ignore", message=r".*defined a `validation_step` but have no `val_dataloader`.*")
# Raised inside Lightning 2.6 by torch 2.14's pytree API; nothing a caller can act on.
warnings.filterwarnings("ignore", message=r".*isinstance\(treespec, LeafSpec\).*")
for _name in ("pytorch_lightning", "lightning.pytorch", "lightning_fabric"):
    logging.getLogger(_name).setLevel(logging.WARNING)


class Cos(nn.Module):
    """cos(x) as an activation (paper App. A.1, Figure 13: the cosine MLP)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cos(x)


_ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "cos": Cos, "gelu": nn.GELU, "leaky_relu": nn.LeakyReLU}


def make_activation(name: str) -> nn.Module:
    """A fresh activation module by name: relu, tanh, cos, gelu or leaky_relu."""
    if name not in _ACTIVATIONS:
        raise ValueError(f"unknown activation {name!r}; valid: {', '.join(_ACTIVATIONS)}")
    return _ACTIVATIONS[name]()


def check_accelerator(accelerator: str) -> str:
    if accelerator not in ACCELERATORS:
        raise ValueError(f"unknown accelerator {accelerator!r}; valid: {', '.join(ACCELERATORS)}")
    return "gpu" if accelerator == "cuda" else accelerator


class EpochRecorder(pl.Callback):
    """Wall-clock seconds and the epoch-level logged metrics of each training epoch."""

    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.metrics: list[dict[str, float]] = []
        self._start = 0.0

    def on_train_epoch_start(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self._start = time.perf_counter()

    def on_train_epoch_end(self, trainer: pl.Trainer, module: pl.LightningModule) -> None:
        self.seconds.append(time.perf_counter() - self._start)
        self.metrics.append({k: float(v) for k, v in trainer.callback_metrics.items()})


def make_trainer(
    *,
    max_epochs: int,
    accelerator: str = "auto",
    logger: pl.loggers.Logger | bool = False,
    callbacks: list[pl.Callback] | None = None,
    root_dir: str | None = None,
) -> pl.Trainer:
    """A deterministic single-device Trainer that writes no checkpoints.

    Decoders are small and retrained from scratch when their outputs are missing, so
    checkpoints would only be clutter; the final weights are saved by the caller.
    ``root_dir`` only matters when a logger is given (where it writes).
    """
    return pl.Trainer(
        max_epochs=max_epochs,
        accelerator=check_accelerator(accelerator),
        devices=1,
        logger=logger,
        callbacks=callbacks or [],
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        deterministic=True,
        num_sanity_val_steps=0,
        log_every_n_steps=10,
        default_root_dir=root_dir,
    )


def make_logger(logger_cfg: Mapping[str, Any] | None, *, name: str, group: str, save_dir: str = "."):
    """A Lightning logger for one decoder's training curves (its own wandb run, in the stage's
    project and group: ``latentstitch.tracking.decoder_logger``), or False when logging is off.
    ``group`` is "<suite>/<stage>"; ``save_dir`` is unused (``logger.dir`` decides)."""
    from latentstitch.tracking import decoder_logger

    return decoder_logger(logger_cfg, name=name, group=group)


def finish_logger(logger: pl.loggers.Logger | bool) -> None:
    """Close the decoder's own wandb run (never the stage's) so the next decoder starts its own."""
    from latentstitch.tracking import finish_decoder_logger

    finish_decoder_logger(logger)


def seeded_generator(seed: int) -> torch.Generator:
    """The generator that orders training batches: the seed sets data shuffling too."""
    return torch.Generator().manual_seed(int(seed))


def as_float_matrix(x: Any, name: str = "x") -> np.ndarray:
    """x as a finite float32 (n, d) array, or a ValueError naming its shape."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (n_samples, n_features), got shape {x.shape}")
    if x.shape[0] == 0:
        raise ValueError(f"{name} has no rows (shape {x.shape})")
    if not np.issubdtype(x.dtype, np.number):
        raise TypeError(f"{name} must be numeric, got dtype {x.dtype}")
    x = x.astype(np.float32, copy=False)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return x


def inference_device(accelerator: str) -> torch.device:
    """Where a trained decoder runs: the GPU when the accelerator allows one and it exists."""
    accelerator = check_accelerator(accelerator)
    return torch.device("cuda" if accelerator != "cpu" and torch.cuda.is_available() else "cpu")
