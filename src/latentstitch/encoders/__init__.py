"""Encoders by id (HF text, timm vision, CLIP, the offline zoo; conf/encoder/), encoding + cache.

    encoder = build_encoder("minilm_l6")                 # or tiny=True: random, no download
    x, y = encode(dataset, encoder, "train")             # float32 (n, d), int64 (n,)
    path = ensure_encodings(dataset, encoder, "train", encodings_dir)   # cached, resumable

Importing this package does not import torch; building an encoder does, after checking that
its weights are available.
"""

from latentstitch.encoders.encoding import encode, encodings_path, ensure_encodings, is_cached
from latentstitch.encoders.errors import EncoderUnavailableError
from latentstitch.encoders.registry import build_encoder, default_models_dir, encoder_ids
from latentstitch.encoders.spec import FAMILIES, POOLINGS, EncoderSpec, load_spec

__all__ = [
    "FAMILIES",
    "POOLINGS",
    "Encoder",
    "EncoderSpec",
    "EncoderUnavailableError",
    "build_encoder",
    "default_models_dir",
    "encode",
    "encoder_ids",
    "encodings_path",
    "ensure_encodings",
    "is_cached",
    "load_spec",
]


def __getattr__(name: str):
    # The Encoder base class imports torch: only on first use.
    if name == "Encoder":
        from latentstitch.encoders.base import Encoder

        return Encoder
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
