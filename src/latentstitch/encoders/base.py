"""The encoder interface: prepare inputs on the CPU, run batches on the device, pool to (b, d).

Every family implements four steps, which :meth:`Encoder.embed` composes:
``features`` (tokenize / validate a chunk of inputs), ``lengths`` (token counts, for sorting
text into batches of similar length; None when there is nothing to sort), ``collate`` (pad or
transform one batch) and ``forward`` (model + pooling on the device).
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from typing import Any, Optional, Sequence, Union

import numpy as np
import torch

from latentstitch.encoders.spec import EncoderSpec


def resolve_device(device: Union[str, torch.device]) -> torch.device:
    """``auto`` -> CUDA when available, else CPU; any torch device string otherwise."""
    if isinstance(device, torch.device):
        return device
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        resolved = torch.device(device)
    except (RuntimeError, TypeError):
        raise ValueError(f"device must be 'auto', 'cpu', 'cuda' or 'cuda:N', got {device!r}") from None
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but CUDA is not available here; use 'auto' or 'cpu'")
    return resolved


class Encoder(ABC):
    """A frozen pre-trained encoder: inputs of one modality -> float32 features (n, dim)."""

    def __init__(self, spec: EncoderSpec, *, tiny: bool, device: torch.device, dim: int):
        self.spec = spec
        self.tiny = tiny
        self.device = device
        self.dim = dim
        if not tiny and spec.dim is not None and spec.dim != dim:
            raise ValueError(f"encoder {spec.id!r} produces {dim}-d features but its config says dim: {spec.dim}")

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def modality(self) -> str:
        return self.spec.modality

    @property
    def revision(self) -> str:
        return self.spec.revision

    @property
    def pooling(self) -> str:
        return self.spec.pooling

    def __repr__(self) -> str:
        tiny = ", tiny" if self.tiny else ""
        return (
            f"{type(self).__name__}({self.id!r}, dim={self.dim}, pooling={self.pooling!r}, device={self.device}{tiny})"
        )

    def describe(self) -> dict[str, Any]:
        """The encoder part of an encodings file's metadata record."""
        return self.spec.describe(tiny=self.tiny)

    @abstractmethod
    def features(self, inputs: Any) -> Any:
        """Validate and pre-process a sequence of inputs (CPU); indexable by position."""

    def lengths(self, features: Any) -> Optional[np.ndarray]:
        """Per-item cost to sort batches by (token counts), or None to keep the input order."""
        return None

    @abstractmethod
    def collate(self, features: Any, indices: np.ndarray) -> Any:
        """One model-ready batch of the items at ``indices`` (CPU tensors)."""

    @abstractmethod
    def forward(self, batch: Any) -> torch.Tensor:
        """Pooled features (b, dim) of one collated batch, computed on ``self.device``."""

    def embed(
        self,
        inputs: Any,
        *,
        batch_size: int = 32,
        amp: bool = False,
        sort_by_length: bool = True,
        progress: Optional[Any] = None,
    ) -> np.ndarray:
        """Encode inputs to a float32 array (n, dim), in input order.

        Text is batched by token count, longest first (least padding; a too-large batch fails
        at once), and the results are put back in input order. ``amp`` runs the model under
        autocast (float16 on CUDA, bfloat16 on CPU). ``progress`` (a tqdm bar) is advanced by
        the number of items of each batch.
        """
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
        features = self.features(inputs)
        n = len(features)
        lengths = self.lengths(features) if sort_by_length else None
        order = np.argsort(-lengths, kind="stable") if lengths is not None else np.arange(n)
        out = np.empty((n, self.dim), dtype=np.float32)
        autocast = (
            torch.autocast(self.device.type, dtype=torch.float16 if self.device.type == "cuda" else torch.bfloat16)
            if amp
            else contextlib.nullcontext()
        )
        with torch.inference_mode(), autocast:
            for start in range(0, n, batch_size):
                indices = order[start : start + batch_size]
                pooled = self.forward(self.collate(features, indices))
                out[indices] = pooled.float().cpu().numpy()
                if progress is not None:
                    progress.update(len(indices))
        return out


def check_texts(texts: Sequence[str], encoder_id: str) -> list[str]:
    if isinstance(texts, str) or not all(isinstance(t, str) for t in texts):
        raise TypeError(f"encoder {encoder_id!r} encodes a sequence of str (texts)")
    return list(texts)
