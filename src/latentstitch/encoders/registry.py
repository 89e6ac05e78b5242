"""Build an encoder from its id (conf/encoder/<id>.yaml) or config.

Availability is checked before torch, transformers or timm are imported, so a missing model
fails in well under a second with one message (EncoderUnavailableError).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Optional, Union

from omegaconf import DictConfig, OmegaConf

from latentstitch.config import group_options, load_group_config
from latentstitch.encoders.sources import check_available
from latentstitch.encoders.spec import EncoderSpec, load_spec

if TYPE_CHECKING:
    import torch

    from latentstitch.encoders.base import Encoder


def encoder_ids() -> list[str]:
    """The ids of the configured encoders (conf/encoder/*.yaml)."""
    return group_options("encoder")


def default_models_dir() -> Path:
    """``paths.models_dir`` of conf/paths/default.yaml (where offline-zoo assets are prepared)."""
    paths = OmegaConf.create({"paths": load_group_config("paths", "default")})
    return Path(paths.paths.models_dir)


def build_encoder(
    cfg_or_id: Union[str, DictConfig, Mapping, EncoderSpec],
    *,
    tiny: bool = False,
    device: Union[str, "torch.device"] = "auto",
    models_dir: Optional[Union[str, os.PathLike]] = None,
) -> "Encoder":
    """The encoder named by ``cfg_or_id``, loaded on ``device`` in eval mode.

    ``tiny=True`` builds the same family and code path (tokenizer class, pooling, transforms)
    around a tiny random model, with no download (see :mod:`latentstitch.encoders.tiny`).
    ``models_dir`` holds the offline zoo's prepared assets (default: ``paths.models_dir``).

    Raises ValueError for an unknown id or an invalid config, and
    :class:`~latentstitch.encoders.errors.EncoderUnavailableError` when the weights cannot be
    had here (hub offline and not cached, offline package missing, wrong model name).
    """
    spec = load_spec(cfg_or_id)
    if not tiny:
        check_available(spec)
    from latentstitch.encoders.base import resolve_device

    resolved = resolve_device(device)
    models_dir = Path(models_dir) if models_dir is not None else default_models_dir()
    if spec.family in ("hf_text", "clip_text"):
        from latentstitch.encoders.text import build_text_encoder as build
    elif spec.family == "glove":
        from latentstitch.encoders.glove import build_glove_encoder as build
    elif spec.family == "timm":
        from latentstitch.encoders.vision import build_timm_encoder as build
    else:
        from latentstitch.encoders.vision import build_clip_vision_encoder as build
    return build(spec, tiny=tiny, device=resolved, models_dir=models_dir)
