"""Transformer text encoders (HF AutoModel families and CLIP's text tower) with explicit pooling."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Optional

import numpy as np
import torch

from latentstitch.encoders.base import Encoder, check_texts
from latentstitch.encoders.spec import EncoderSpec

# Model types whose position ids start after the padding index (RoBERTa's convention).
_PADDING_OFFSET_POSITIONS = ("roberta", "xlm-roberta", "mpnet")


class TransformerTextEncoder(Encoder):
    """Tokenize (truncating at ``max_length`` tokens), run the model, pool the last layer.

    Pooling: ``cls`` the last layer's first token; ``mean`` the mean over real tokens;
    ``eos`` CLIP text's pooled output (final-layer-normed state at the end-of-text token).
    """

    def __init__(self, spec: EncoderSpec, tokenizer, model, *, tiny: bool, device: torch.device):
        config = model.config
        limit = config.max_position_embeddings
        if config.model_type in _PADDING_OFFSET_POSITIONS:
            limit -= config.pad_token_id + 1
        if spec.max_length > limit:
            raise ValueError(f"encoder {spec.id!r}: max_length {spec.max_length} exceeds the model's {limit} positions")
        if tokenizer.pad_token_id is None:
            raise ValueError(f"encoder {spec.id!r}: the tokenizer has no padding token")
        super().__init__(spec, tiny=tiny, device=device, dim=config.hidden_size)
        self.tokenizer = tokenizer
        self.model = model.to(device).eval()
        self.max_length = spec.max_length
        self.pad_token_id = tokenizer.pad_token_id

    def features(self, texts) -> list[list[int]]:
        texts = check_texts(texts, self.id)
        if not texts:
            return []
        encoded = self.tokenizer(
            texts,
            truncation=True,
            max_length=self.max_length,
            return_attention_mask=False,
            return_token_type_ids=False,
        )
        return encoded["input_ids"]

    def lengths(self, features: list[list[int]]) -> np.ndarray:
        return np.fromiter(map(len, features), dtype=np.int64, count=len(features))

    def collate(self, features: list[list[int]], indices: np.ndarray) -> dict[str, torch.Tensor]:
        rows = [features[i] for i in indices]
        width = max(map(len, rows))
        input_ids = torch.full((len(rows), width), self.pad_token_id, dtype=torch.long)
        attention_mask = torch.zeros((len(rows), width), dtype=torch.long)
        for r, ids in enumerate(rows):
            input_ids[r, : len(ids)] = torch.as_tensor(ids, dtype=torch.long)
            attention_mask[r, : len(ids)] = 1
        return {"input_ids": input_ids, "attention_mask": attention_mask}

    def forward(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        batch = {k: v.to(self.device, non_blocking=True) for k, v in batch.items()}
        out = self.model(**batch)
        if self.pooling == "cls":
            return out.last_hidden_state[:, 0]
        if self.pooling == "eos":
            return out.pooler_output
        mask = batch["attention_mask"].unsqueeze(-1).to(out.last_hidden_state.dtype)
        return (out.last_hidden_state * mask).sum(dim=1) / mask.sum(dim=1)


@contextlib.contextmanager
def _transformers_quiet():
    """Silence transformers' load report: :func:`build_text_encoder` checks the loading info."""
    from transformers.utils import logging as hf_logging

    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)


def build_text_encoder(
    spec: EncoderSpec, *, tiny: bool, device: torch.device, models_dir: Path
) -> TransformerTextEncoder:
    if tiny:
        from latentstitch.encoders.tiny import tiny_text_model, tiny_tokenizer

        tokenizer = tiny_tokenizer(spec.arch, spec.max_length)
        model = tiny_text_model(spec.arch, tokenizer, spec.max_length)
        return TransformerTextEncoder(spec, tokenizer, model, tiny=True, device=device)

    from transformers import AutoModel, AutoTokenizer, CLIPTextModel

    from latentstitch.encoders.sources import hub_error, local_model_folder

    model_cls = CLIPTextModel if spec.family == "clip_text" else AutoModel
    revision: Optional[str] = None
    if spec.offline:
        name = str(local_model_folder(spec, models_dir))
    else:
        name, revision = spec.model, spec.revision
    try:
        tokenizer = AutoTokenizer.from_pretrained(name, revision=revision)
        with _transformers_quiet():
            model, info = model_cls.from_pretrained(
                name, revision=revision, dtype=torch.float32, output_loading_info=True
            )
    except OSError as exc:
        if spec.offline:
            raise
        raise hub_error(spec, exc) from None
    # The pooler head is never used (pooling is ours); any other fresh weight is an error.
    missing = sorted(k for k in info["missing_keys"] if not k.startswith("pooler."))
    if missing or info["mismatched_keys"]:
        raise ValueError(
            f"encoder {spec.id!r}: {name} lacks weights {missing[:5]} or has mismatched shapes "
            f"{sorted(info['mismatched_keys'])[:5]}; the model would be partly random"
        )
    # CLIP's text tower reports its own model type; the tiny tokenizers know the family as "clip".
    expected_type = "clip_text_model" if spec.arch == "clip" else spec.arch
    if model.config.model_type != expected_type:
        raise ValueError(
            f"encoder {spec.id!r}: {spec.model} is a {model.config.model_type!r} model but the "
            f"config says arch: {spec.arch}"
        )
    return TransformerTextEncoder(spec, tokenizer, model, tiny=False, device=device)
