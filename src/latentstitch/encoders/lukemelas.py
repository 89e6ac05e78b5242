"""Map EfficientNet(-Lite) weights from the EfficientNet-PyTorch key format onto timm's model.

EfficientNet-PyTorch (lukemelas) numbers blocks flatly (``_blocks.7``); timm nests them by stage
(``blocks.2.1``). Both follow the TF reference, so the i-th flat block is the i-th block of
timm's stages in order. TF "same" padding is what EfficientNet-PyTorch uses for pretrained
weights, hence timm's ``tf_`` variants are the matching architectures.
"""

from __future__ import annotations

import re

import torch

_STEM_HEAD = {"_conv_stem": "conv_stem", "_bn0": "bn1", "_conv_head": "conv_head", "_bn1": "bn2", "_fc": "classifier"}
# Block without expansion (timm DepthwiseSeparableConv) and with it (timm InvertedResidual).
_DS_BLOCK = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_IR_BLOCK = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_BLOCK_KEY = re.compile(r"^_blocks\.(\d+)\.(\w+)\.(\w+)$")


def lukemelas_to_timm(state_dict: dict[str, torch.Tensor], model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """Rename an EfficientNet-PyTorch state dict to ``model``'s (a timm EfficientNet) keys.

    Raises ValueError unless the mapping covers every key of both, with equal shapes.
    """
    blocks = [
        (stage_index, block_index, type(block).__name__)
        for stage_index, stage in enumerate(model.blocks)
        for block_index, block in enumerate(stage)
    ]
    mapped: dict[str, torch.Tensor] = {}
    unmapped: list[str] = []
    for key, value in state_dict.items():
        match = _BLOCK_KEY.match(key)
        if match:
            flat, module, param = int(match[1]), match[2], match[3]
            if flat >= len(blocks):
                unmapped.append(key)
                continue
            stage_index, block_index, kind = blocks[flat]
            names = _DS_BLOCK if kind == "DepthwiseSeparableConv" else _IR_BLOCK
            if module not in names:
                unmapped.append(key)
                continue
            mapped[f"blocks.{stage_index}.{block_index}.{names[module]}.{param}"] = value
        else:
            module, _, param = key.partition(".")
            if module not in _STEM_HEAD:
                unmapped.append(key)
                continue
            mapped[f"{_STEM_HEAD[module]}.{param}"] = value
    target = model.state_dict()
    missing = sorted(set(target) - set(mapped))
    extra = sorted(set(mapped) - set(target))
    wrong = [
        f"{k}: {tuple(mapped[k].shape)} vs {tuple(target[k].shape)}"
        for k in target
        if k in mapped and mapped[k].shape != target[k].shape
    ]
    if unmapped or missing or extra or wrong:
        raise ValueError(
            f"EfficientNet-PyTorch weights do not map onto {type(model).__name__}: "
            f"unmapped {unmapped[:5]}, missing {missing[:5]}, unexpected {extra[:5]}, "
            f"shape mismatches {wrong[:5]} ({len(unmapped)}, {len(missing)}, {len(extra)}, {len(wrong)} in all)"
        )
    return mapped
