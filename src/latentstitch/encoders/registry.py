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


def encoder_class(spec: EncoderSpec) -> type["Encoder"]:
    """The class of a user's encoder (``spec.target``, a config with ``_target_``): imported
    (as ``hydra.utils.get_class``) and checked to be an ``Encoder`` subclass whose ``__init__``
    takes the config's arguments; else ValueError or TypeError naming the encoder and target."""
    import inspect

    from hydra.utils import get_class

    from latentstitch.encoders.base import Encoder

    where = f"encoder {spec.id!r}: _target_ {spec.target!r}"
    try:
        cls = get_class(str(spec.target))
    except Exception as err:  # whatever importing the user's module raises
        raise ValueError(f"{where} cannot be imported: {err}") from None
    if not (isinstance(cls, type) and issubclass(cls, Encoder)):
        raise TypeError(f"{where} is not a latentstitch.encoders.Encoder subclass")
    params = inspect.signature(cls.__init__).parameters
    if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        accepted = set(params) - {"self", "spec", "tiny", "device"}
        unknown = set(spec.arguments) - accepted
        if unknown:
            raise ValueError(f"{where} takes no argument(s) {sorted(unknown)}; valid: {sorted(accepted)}")
    return cls


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

    A config with ``_target_`` builds the user's own ``Encoder`` subclass (see
    :mod:`latentstitch.encoders.spec`): ``cls(spec, tiny=tiny, device=device, **arguments)``.

    Raises ValueError for an unknown id or an invalid config, and
    :class:`~latentstitch.encoders.errors.EncoderUnavailableError` when the weights cannot be
    had here (hub offline and not cached, offline package missing, wrong model name).
    """
    spec = load_spec(cfg_or_id)
    if not tiny:
        check_available(spec)
    from latentstitch.encoders.base import resolve_device

    resolved = resolve_device(device)
    if spec.target is not None:  # a user's encoder: its class, with the config's arguments
        return encoder_class(spec)(spec, tiny=tiny, device=resolved, **spec.arguments)
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
