"""Batched uint8 image transforms against the PIL pipelines they reproduce (timm, CLIP)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from latentstitch.encoders.vision import ImageTransform

# Pixel agreement with PIL: rounding may differ by a level or two on a few pixels.
MAX_LEVELS, MAX_FRACTION = 2, 0.02


def _test_images():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:300, 0:451]
    smooth = np.stack([(xx * 255 / 450), (yy * 255 / 299), ((xx + yy) % 256)], -1).astype(np.uint8)
    return [
        smooth,  # landscape RGB, downscaled
        smooth[:180, :120].copy(),  # portrait RGB
        rng.integers(0, 256, (28, 28, 3), dtype=np.uint8),  # upscaled noise
        np.repeat(rng.integers(0, 256, (32, 32, 1), dtype=np.uint8), 3, axis=-1),
    ]


def _assert_pixels_agree(ours: torch.Tensor, reference: torch.Tensor, std) -> None:
    assert ours.shape == reference.shape
    levels = (ours - reference).abs() * torch.tensor(std).view(3, 1, 1) * 255
    assert levels.max() <= MAX_LEVELS + 1e-3
    assert (levels > 0.5).float().mean() <= MAX_FRACTION


@pytest.mark.parametrize(
    "data_config",
    [
        dict(
            input_size=(3, 224, 224),
            interpolation="bicubic",
            mean=(0.5,) * 3,
            std=(0.5,) * 3,
            crop_pct=0.875,
            crop_mode="center",
        ),
        dict(
            input_size=(3, 256, 256),
            interpolation="bilinear",
            mean=(0.485, 0.456, 0.406),
            std=(0.229, 0.224, 0.225),
            crop_pct=0.887,
            crop_mode="center",
        ),
        dict(
            input_size=(3, 384, 384),
            interpolation="bicubic",
            mean=(0.5,) * 3,
            std=(0.5,) * 3,
            crop_pct=1.0,
            crop_mode="center",
        ),
    ],
)
def test_matches_timm_eval_transform(data_config):
    import timm.data

    reference = timm.data.create_transform(**data_config)
    ours = ImageTransform.from_timm(data_config)
    for image in _test_images():
        _assert_pixels_agree(ours(image[None])[0], reference(Image.fromarray(image)), data_config["std"])


@pytest.mark.parametrize("side", [32, 224])
def test_matches_clip_image_processor(side):
    from transformers import CLIPImageProcessor

    processor = CLIPImageProcessor(size={"shortest_edge": side}, crop_size={"height": side, "width": side})
    ours = ImageTransform.from_clip_processor(processor)
    for image in _test_images():
        reference = processor(images=[image], return_tensors="pt")["pixel_values"][0]
        _assert_pixels_agree(ours(image[None])[0], reference, processor.image_std)


def test_grayscale_is_channel_repetition():
    transform = ImageTransform(crop=24, resize=27, interpolation="bicubic", mean=(0.1, 0.2, 0.3), std=(0.5, 0.6, 0.7))
    gray = np.random.default_rng(1).integers(0, 256, (5, 28, 28), dtype=np.uint8)
    out = transform(gray)
    assert out.shape == (5, 3, 24, 24)
    torch.testing.assert_close(out, transform(np.repeat(gray[..., None], 3, axis=-1)), rtol=0, atol=0)


def test_rejects_unsupported_configs():
    base = dict(input_size=(3, 224, 224), interpolation="bicubic", mean=(0.5,) * 3, std=(0.5,) * 3, crop_pct=0.9)
    with pytest.raises(ValueError, match="crop_mode 'border'"):
        ImageTransform.from_timm({**base, "crop_mode": "border"})
    with pytest.raises(ValueError, match="non-square"):
        ImageTransform.from_timm({**base, "input_size": (3, 224, 256)})
    with pytest.raises(ValueError, match=r"\(n, h, w\) or \(n, h, w, 3\)"):
        ImageTransform.from_timm(base)(np.zeros((2, 8, 8, 4), dtype=np.uint8))
