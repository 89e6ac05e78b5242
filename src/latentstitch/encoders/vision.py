"""Image encoders (timm models, CLIP's vision tower) and their eval transforms on uint8 tensors.

:class:`ImageTransform` reproduces timm's eval transform (resize the short side to
``floor(size / crop_pct)``, center crop, normalize) and CLIP's processor (resize the short side
to the crop size, center crop, normalize) on batched uint8 tensors, where PIL works one image
at a time. torchvision's antialiased uint8 resize follows PIL's filters; pixel values agree with
the PIL pipelines up to rounding (at most 2 of 255 levels, on under 2% of pixels; see
tests/unit/test_encoders_tiny.py). Grayscale images are resized on their one channel and then
repeated to RGB, which equals repeating first.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence, Union

import numpy as np
import torch

from latentstitch.encoders.base import Encoder
from latentstitch.encoders.spec import EncoderSpec

ImageBatch = Union[np.ndarray, Sequence[np.ndarray]]
# PIL / transformers resampling codes -> torchvision interpolation names.
_RESAMPLE = {2: "bilinear", 3: "bicubic"}


@dataclass(frozen=True)
class ImageTransform:
    """uint8 images (b, h, w) or (b, h, w, 3) -> normalized float tensor (b, 3, crop, crop)."""

    crop: int  # output side
    resize: int  # short side before cropping (both sides when ``squash``)
    interpolation: str  # "bilinear" | "bicubic"
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    squash: bool = False  # timm crop_mode "squash": resize to (resize, resize), ignoring aspect

    @classmethod
    def from_timm(cls, data_config: dict[str, Any]) -> "ImageTransform":
        """From ``timm.data.resolve_data_config``, as ``timm.data.create_transform`` builds it."""
        _, height, width = data_config["input_size"]
        if height != width:
            raise ValueError(f"non-square timm input size {data_config['input_size']} is not supported")
        mode = data_config.get("crop_mode", "center")
        if mode not in ("center", "squash"):
            raise ValueError(f"timm crop_mode {mode!r} is not supported (center, squash)")
        return cls(
            crop=height,
            resize=math.floor(height / data_config["crop_pct"]),
            interpolation=data_config["interpolation"],
            mean=tuple(data_config["mean"]),
            std=tuple(data_config["std"]),
            squash=mode == "squash",
        )

    @classmethod
    def from_clip_processor(cls, processor) -> "ImageTransform":
        """From a CLIPImageProcessor: short side to ``size.shortest_edge``, center ``crop_size``."""
        crop = processor.crop_size
        if crop["height"] != crop["width"]:
            raise ValueError(f"non-square CLIP crop size {crop} is not supported")
        resample = int(processor.resample)
        if resample not in _RESAMPLE:
            raise ValueError(f"CLIP processor resample {processor.resample!r} is not supported")
        return cls(
            crop=crop["height"],
            resize=processor.size["shortest_edge"],
            interpolation=_RESAMPLE[resample],
            mean=tuple(processor.image_mean),
            std=tuple(processor.image_std),
        )

    def __call__(self, images: ImageBatch) -> torch.Tensor:
        if isinstance(images, np.ndarray):
            return self._batch(torch.from_numpy(_check_array(images, batched=True)))
        # Images of different sizes (files decoded one by one): transform each, then stack.
        return torch.cat([self._batch(torch.from_numpy(_check_array(im, batched=False)[None])) for im in images])

    def _batch(self, x: torch.Tensor) -> torch.Tensor:
        import torchvision.transforms.v2.functional as F
        from torchvision.transforms import InterpolationMode

        x = x.unsqueeze(1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
        size = [self.resize, self.resize] if self.squash else [self.resize]
        x = F.resize(x, size, interpolation=InterpolationMode(self.interpolation), antialias=True)
        x = F.center_crop(x, [self.crop, self.crop])
        x = x.expand(-1, 3, -1, -1).float().div_(255.0)
        return F.normalize(x, list(self.mean), list(self.std))


def _check_array(images: np.ndarray, *, batched: bool) -> np.ndarray:
    images = np.asarray(images)
    gray, rgb = (3, 4) if batched else (2, 3)
    if images.dtype != np.uint8 or not (images.ndim == gray or (images.ndim == rgb and images.shape[-1] == 3)):
        expected = "(n, h, w) or (n, h, w, 3)" if batched else "(h, w) or (h, w, 3)"
        raise ValueError(f"images must be uint8 arrays of shape {expected}, got {images.dtype} {images.shape}")
    return np.ascontiguousarray(images)


class _ImageEncoder(Encoder):
    transform: ImageTransform

    def features(self, images: ImageBatch) -> ImageBatch:
        if isinstance(images, np.ndarray):
            return _check_array(images, batched=True)
        if isinstance(images, (str, bytes)) or not isinstance(images, Sequence):
            raise TypeError(
                f"encoder {self.id!r} encodes images: a uint8 array (n, h, w[, 3]) or a sequence "
                f"of (h, w[, 3]) arrays, got {type(images).__name__}"
            )
        return images

    def collate(self, features: ImageBatch, indices: np.ndarray) -> torch.Tensor:
        if isinstance(features, np.ndarray):
            return self.transform(features[indices])
        return self.transform([features[int(i)] for i in indices])


class TimmEncoder(_ImageEncoder):
    """A timm model's pooled pre-logits (the features of ``num_classes=0``)."""

    def __init__(self, spec: EncoderSpec, model, data_config: dict, *, tiny: bool, device: torch.device):
        super().__init__(spec, tiny=tiny, device=device, dim=model.head_hidden_size)
        self.model = model.to(device).eval()
        self.data_config = data_config
        self.transform = ImageTransform.from_timm(data_config)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        x = self.model.forward_features(batch.to(self.device, non_blocking=True))
        return self.model.forward_head(x, pre_logits=True)

    def logits(self, images: ImageBatch) -> torch.Tensor:
        """The model's own classifier outputs (e.g. ImageNet logits), for checking real weights."""
        with torch.inference_mode():
            return self.model(self.collate(self.features(images), np.arange(len(images))).to(self.device)).float().cpu()


class ClipVisionEncoder(_ImageEncoder):
    """CLIP's vision tower: ``cls`` the last layer's first token; ``pooler`` its post-layernorm."""

    def __init__(self, spec: EncoderSpec, model, processor, *, tiny: bool, device: torch.device):
        super().__init__(spec, tiny=tiny, device=device, dim=model.config.hidden_size)
        self.model = model.to(device).eval()
        self.transform = ImageTransform.from_clip_processor(processor)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        out = self.model(pixel_values=batch.to(self.device, non_blocking=True))
        return out.last_hidden_state[:, 0] if self.pooling == "cls" else out.pooler_output


def build_timm_encoder(spec: EncoderSpec, *, tiny: bool, device: torch.device, models_dir: Path) -> TimmEncoder:
    import timm

    if tiny:
        from latentstitch.encoders.tiny import TINY_IMAGE_SIZE, tiny_timm_model

        model = tiny_timm_model(spec.arch)
        data_config = timm.data.resolve_data_config({}, model=model)
        # ViTs have a fixed input size; CNNs take the tiny size.
        side = model.patch_embed.img_size[0] if hasattr(model, "patch_embed") else TINY_IMAGE_SIZE
        data_config["input_size"] = (3, side, side)
        return TimmEncoder(spec, model, data_config, tiny=True, device=device)
    if spec.source == "lukemelas_state_dict":
        from latentstitch.encoders.lukemelas import lukemelas_to_timm
        from latentstitch.encoders.sources import package_file

        model = timm.create_model(spec.arch, pretrained=False)
        weights = torch.load(package_file(spec, spec.files["weights"]), map_location="cpu", weights_only=True)
        model.load_state_dict(lukemelas_to_timm(weights, model), strict=True)
    elif spec.source == "hub":
        from latentstitch.encoders.sources import hub_error, hub_repo

        try:
            model = timm.create_model(f"hf-hub:{hub_repo(spec)}@{spec.revision}", pretrained=True)
        except OSError as exc:
            raise hub_error(spec, exc) from None
        if model.pretrained_cfg.get("architecture") != spec.arch:
            raise ValueError(
                f"encoder {spec.id!r}: {spec.model} is a {model.pretrained_cfg.get('architecture')!r} "
                f"model but the config says arch: {spec.arch}"
            )
    else:
        raise ValueError(f"encoder {spec.id!r}: source {spec.source!r} does not apply to timm models")
    data_config = timm.data.resolve_data_config({}, model=model)
    return TimmEncoder(spec, model, data_config, tiny=False, device=device)


def build_clip_vision_encoder(
    spec: EncoderSpec, *, tiny: bool, device: torch.device, models_dir: Path
) -> ClipVisionEncoder:
    if tiny:
        from latentstitch.encoders.tiny import tiny_clip_vision

        model, processor = tiny_clip_vision()
        return ClipVisionEncoder(spec, model, processor, tiny=True, device=device)
    if spec.source != "hub":
        raise ValueError(f"encoder {spec.id!r}: CLIP vision loads from the hub only (source: hub)")
    from transformers import CLIPImageProcessor, CLIPVisionModel

    from latentstitch.encoders.sources import hub_error

    try:
        processor = CLIPImageProcessor.from_pretrained(spec.model, revision=spec.revision)
        model = CLIPVisionModel.from_pretrained(spec.model, revision=spec.revision, dtype=torch.float32)
    except OSError as exc:
        raise hub_error(spec, exc) from None
    return ClipVisionEncoder(spec, model, processor, tiny=False, device=device)
