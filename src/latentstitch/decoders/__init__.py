"""Decoders stitched by the paper: SVM / MLP heads on encodings, relative heads, CNN autoencoders.

Heads follow scikit-learn (fit / predict / score); torch decoders are plain ``nn.Module``s
trained through a Lightning wrapper. Save and load with ``save_head`` / ``load_head`` and
``save_autoencoder`` / ``load_autoencoder``.
"""

from latentstitch.decoders.autoencoder import (
    CNNAutoencoder,
    ConvAutoencoder,
    build_autoencoder,
    load_autoencoder,
    reconstruction_mse,
    save_autoencoder,
)
from latentstitch.decoders.heads import HEAD_KINDS, Head, LinearSVMHead, SVMHead, build_head, load_head, save_head
from latentstitch.decoders.mlp import MLP, MLPHead
from latentstitch.decoders.relative import RelativeHead

__all__ = [
    "HEAD_KINDS",
    "MLP",
    "CNNAutoencoder",
    "ConvAutoencoder",
    "Head",
    "LinearSVMHead",
    "MLPHead",
    "RelativeHead",
    "SVMHead",
    "build_autoencoder",
    "build_head",
    "load_autoencoder",
    "load_head",
    "reconstruction_mse",
    "save_autoencoder",
    "save_head",
]
