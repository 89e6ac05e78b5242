"""MLP classification head: "a simple stack of 3 linear layers, interleaved by nonlinear
activations" (paper App. B; Tables 5, 6; the MLPs of App. A.1, Figure 13).

``MLP`` is the plain torch module, ``MLPModule`` its Lightning training wrapper, and
``MLPHead`` the scikit-learn style estimator the stages and stitching use. No normalization
layers, on purpose: Figure 13 studies exactly such MLPs under input rescaling.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pytorch_lightning as pl
import torch
from pytorch_lightning.callbacks import EarlyStopping
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

from latentstitch.decoders.heads import Head
from latentstitch.decoders.training import EpochRecorder, make_activation, make_trainer, seeded_generator
from latentstitch.io import atomic_path

_PREDICT_BATCH = 8192


class MLP(nn.Module):
    """Linear -> act -> Linear -> act -> Linear (with the default two hidden widths)."""

    def __init__(
        self, in_features: int, num_classes: int, hidden_dims: Sequence[int] = (512, 256), activation: str = "relu"
    ) -> None:
        super().__init__()
        if len(hidden_dims) == 0:
            raise ValueError("hidden_dims must name at least one hidden width, got []")
        widths = [in_features, *hidden_dims]
        layers: list[nn.Module] = []
        for w_in, w_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(w_in, w_out), make_activation(activation)]
        layers.append(nn.Linear(widths[-1], num_classes))
        self.layers = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(x)


class MLPModule(pl.LightningModule):
    """Cross-entropy training of an ``MLP`` with Adam; keeps the weights of the best val loss."""

    def __init__(self, net: MLP, lr: float, weight_decay: float) -> None:
        super().__init__()
        self.net = net
        self.lr = lr
        self.weight_decay = weight_decay
        self.best_val_loss = float("inf")
        self.best_state: dict[str, torch.Tensor] | None = None
        self._val_sums: list[torch.Tensor] = []
        self._val_counts = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        x, y = batch
        loss = nn.functional.cross_entropy(self.net(x), y)
        self.log("train_loss", loss, on_step=False, on_epoch=True, batch_size=len(y))
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        x, y = batch
        self._val_sums.append(nn.functional.cross_entropy(self.net(x), y, reduction="sum"))
        self._val_counts += len(y)

    def on_validation_epoch_end(self) -> None:
        # The exact mean over the validation split (not a mean of batch means).
        val_loss = torch.stack(self._val_sums).sum() / self._val_counts
        self._val_sums, self._val_counts = [], 0
        self.log("val_loss", val_loss)
        if val_loss.item() < self.best_val_loss:
            self.best_val_loss = val_loss.item()
            self.best_state = copy.deepcopy(self.net.state_dict())

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return torch.optim.Adam(self.net.parameters(), lr=self.lr, weight_decay=self.weight_decay)


class MLPHead(Head):
    """An ``MLP`` classifier trained with Lightning, early-stopped on a validation split.

    fit: seeds everything with ``seed`` (weights init, validation split, batch order), holds
    out ``val_fraction`` of the training rows, minimizes cross-entropy with Adam for at most
    ``max_epochs`` and stops after ``patience`` epochs without a lower validation loss; the
    weights of the best epoch are kept. ``val_fraction=0`` trains exactly ``max_epochs``.
    Prediction runs on CPU.
    """

    kind = "mlp"

    def __init__(
        self,
        hidden_dims: Sequence[int] = (512, 256),
        activation: str = "relu",
        max_epochs: int = 50,
        lr: float = 1e-3,
        weight_decay: float = 0.0,
        batch_size: int = 256,
        val_fraction: float = 0.1,
        patience: int = 5,
        seed: int = 0,
        accelerator: str = "auto",
    ) -> None:
        self.hidden_dims = hidden_dims
        self.activation = activation
        self.max_epochs = max_epochs
        self.lr = lr
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.val_fraction = val_fraction
        self.patience = patience
        self.seed = seed
        self.accelerator = accelerator

    def _build_net(self, in_features: int, num_classes: int) -> MLP:
        return MLP(in_features, num_classes, tuple(self.hidden_dims), self.activation)

    def fit(self, x: Any, y: Any, *, logger: pl.loggers.Logger | bool = False) -> "MLPHead":
        x, y = self._validate_training_data(x, y)
        if not 0.0 <= self.val_fraction < 1.0:
            raise ValueError(f"val_fraction must be in [0, 1), got {self.val_fraction}")
        self.classes_, y_idx = np.unique(y, return_inverse=True)
        pl.seed_everything(self.seed, verbose=False)
        order = np.random.default_rng(self.seed).permutation(len(y))
        n_val = int(round(self.val_fraction * len(y)))
        if self.val_fraction > 0 and not 1 <= n_val < len(y):
            raise ValueError(
                f"val_fraction={self.val_fraction} of {len(y)} rows leaves no validation or no training rows"
            )
        val_rows, train_rows = order[:n_val], order[n_val:]

        def loader(rows: np.ndarray, shuffle: bool) -> DataLoader:
            data = TensorDataset(torch.from_numpy(x[rows]), torch.from_numpy(y_idx[rows].astype(np.int64)))
            generator = seeded_generator(self.seed) if shuffle else None
            return DataLoader(data, batch_size=self.batch_size, shuffle=shuffle, generator=generator)

        module = MLPModule(self._build_net(x.shape[1], len(self.classes_)), self.lr, self.weight_decay)
        recorder = EpochRecorder()
        callbacks: list[pl.Callback] = [recorder]
        if n_val:
            callbacks.append(EarlyStopping(monitor="val_loss", mode="min", patience=self.patience))
        trainer = make_trainer(
            max_epochs=self.max_epochs, accelerator=self.accelerator, logger=logger, callbacks=callbacks
        )
        trainer.fit(
            module,
            train_dataloaders=loader(train_rows, shuffle=True),
            val_dataloaders=loader(val_rows, shuffle=False) if n_val else None,
        )
        if module.best_state is not None:
            module.net.load_state_dict(module.best_state)
        self.net_ = module.net.cpu().eval()
        self.n_features_in_ = x.shape[1]
        self.n_epochs_ = len(recorder.seconds)
        self.best_val_loss_ = module.best_val_loss if n_val else None
        self.epoch_seconds_ = recorder.seconds
        return self

    @torch.no_grad()
    def decision_function(self, x: Any) -> np.ndarray:
        """Logits, (n, n_classes)."""
        x = torch.from_numpy(self._check_encodings(x))
        return torch.cat([self.net_(chunk) for chunk in x.split(_PREDICT_BATCH)]).numpy()

    def predict_proba(self, x: Any) -> np.ndarray:
        logits = self.decision_function(x)
        return torch.softmax(torch.from_numpy(logits), dim=1).numpy()

    def predict(self, x: Any) -> np.ndarray:
        return self.classes_[self.decision_function(x).argmax(axis=1)]

    def _save_state(self, directory: Path) -> None:
        state = {k: v.contiguous() for k, v in self.net_.state_dict().items()}
        with atomic_path(directory / "head.safetensors") as tmp:
            save_file(state, str(tmp))
        with atomic_path(directory / "classes.npy") as tmp, open(tmp, "wb") as f:
            np.save(f, np.asarray(self.classes_), allow_pickle=False)

    def _load_state(self, directory: Path) -> None:
        state = load_file(str(directory / "head.safetensors"))
        self.classes_ = np.load(directory / "classes.npy", allow_pickle=False)
        in_features = state["layers.0.weight"].shape[1]
        self.net_ = self._build_net(in_features, len(self.classes_))
        self.net_.load_state_dict(state)
        self.net_.eval()
        self.n_features_in_ = int(in_features)
