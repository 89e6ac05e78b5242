"""Tiny random stand-ins for every encoder family: same classes and code path, no download.

``build_encoder(..., tiny=True)`` swaps the weights (and, for text, the vocabulary) for tiny,
seeded, random ones while keeping each family's own tokenizer class (special tokens, padding,
truncation), model class (pooling) and image transforms. Tokenizers are built in memory from a
small fixed vocabulary with the family's algorithm: WordPiece (BERT, ELECTRA, MPNet), byte-level
BPE without merges (RoBERTa, CLIP), Unigram (ALBERT, XLM-R). Used by tests and smoke runs.
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np

SEED = 0
TINY_WORDS = tuple(
    "the a an of to and in is was on for with at by from it that this as be are "
    "cat kitten dog sat rested mat rug stock markets fell sharply rose shares bank game team "
    "won match film music election government minister phone software".split()
)
_CHARS = string.ascii_letters + string.digits + string.punctuation
# Tiny transformer sizes: small enough for a forward in milliseconds on a CPU.
_HIDDEN, _LAYERS, _HEADS, _INTERMEDIATE = 32, 2, 2, 64
# Input side of tiny image models (ViTs get a fixed size of their own).
TINY_IMAGE_SIZE = 32


def _wordpiece_vocab(specials: list[str]) -> dict[str, int]:
    tokens = specials + list(_CHARS) + ["##" + c for c in string.ascii_letters + string.digits]
    return {t: i for i, t in enumerate(dict.fromkeys(tokens + list(TINY_WORDS)))}


def _byte_bpe_vocab(specials: list[str], word_suffix: str = "") -> dict[str, int]:
    from transformers.convert_slow_tokenizer import bytes_to_unicode

    symbols = list(bytes_to_unicode().values())
    tokens = specials + symbols + ([s + word_suffix for s in symbols] if word_suffix else [])
    return {t: i for i, t in enumerate(dict.fromkeys(tokens))}


def _unigram_vocab(specials: list[str]) -> list[tuple[str, float]]:
    pieces = [(s, 0.0) for s in specials] + [("\u2581", -2.0)]
    pieces += [(c, -3.0) for c in _CHARS] + [("\u2581" + w, -1.0) for w in TINY_WORDS]
    return pieces


def tiny_tokenizer(arch: str, max_length: int):
    """The family's own tokenizer class over a tiny in-memory vocabulary."""
    import transformers as tf

    if arch in ("bert", "electra"):
        cls = tf.BertTokenizer if arch == "bert" else tf.ElectraTokenizer
        tok = cls(vocab=_wordpiece_vocab(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]))
    elif arch == "mpnet":
        tok = tf.MPNetTokenizer(vocab=_wordpiece_vocab(["<s>", "<pad>", "</s>", "[UNK]", "<mask>"]))
    elif arch == "roberta":
        tok = tf.RobertaTokenizer(vocab=_byte_bpe_vocab(["<s>", "<pad>", "</s>", "<unk>", "<mask>"]), merges=[])
    elif arch == "clip":
        tok = tf.CLIPTokenizer(vocab=_byte_bpe_vocab(["<|startoftext|>", "<|endoftext|>"], "</w>"), merges=[])
    elif arch == "albert":
        tok = tf.AlbertTokenizer(vocab=_unigram_vocab(["<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"]))
    elif arch == "xlm-roberta":
        tok = tf.XLMRobertaTokenizer(vocab=_unigram_vocab(["<s>", "<pad>", "</s>", "<unk>", "<mask>"]))
    else:
        raise ValueError(f"no tiny tokenizer for transformers model type {arch!r}")
    tok.model_max_length = max_length
    return tok


def tiny_text_model(arch: str, tokenizer, max_length: int):
    """A seeded random model of the family's config class, sized for ``max_length`` tokens."""
    import torch
    import transformers as tf

    common: dict[str, Any] = dict(
        vocab_size=len(tokenizer),
        hidden_size=_HIDDEN,
        num_hidden_layers=_LAYERS,
        num_attention_heads=_HEADS,
        intermediate_size=_INTERMEDIATE,
        pad_token_id=tokenizer.pad_token_id,
    )
    # RoBERTa-style position ids start after the padding index.
    offset = tokenizer.pad_token_id + 1 if arch in ("roberta", "xlm-roberta", "mpnet") else 0
    common["max_position_embeddings"] = max_length + offset
    if arch == "bert":
        config, cls = tf.BertConfig(**common), tf.BertModel
    elif arch == "electra":
        config, cls = tf.ElectraConfig(embedding_size=16, **common), tf.ElectraModel
    elif arch == "albert":
        config, cls = tf.AlbertConfig(embedding_size=16, **common), tf.AlbertModel
    elif arch == "roberta":
        config, cls = tf.RobertaConfig(**common), tf.RobertaModel
    elif arch == "xlm-roberta":
        config, cls = tf.XLMRobertaConfig(**common), tf.XLMRobertaModel
    elif arch == "mpnet":
        config, cls = tf.MPNetConfig(**common), tf.MPNetModel
    elif arch == "clip":
        config = tf.CLIPTextConfig(bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, **common)
        cls = tf.CLIPTextModel
    else:
        raise ValueError(f"no tiny model for transformers model type {arch!r}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        return cls(config)


def tiny_timm_kwargs(arch: str) -> dict[str, Any]:
    """Constructor overrides that shrink a timm architecture where it allows it.

    Transformers get 2 narrow blocks at a small fixed input; CNNs keep their architecture (their
    widths are fixed by name) and only see small inputs.
    """
    if arch.startswith("vit_") and "_r50_" in arch:
        # The hybrid's ResNet stem downsamples by 16: 64 pixels give a 4 x 4 token grid.
        return dict(img_size=2 * TINY_IMAGE_SIZE, depth=_LAYERS, embed_dim=_HIDDEN, num_heads=_HEADS)
    if arch.startswith("vit_"):
        return dict(img_size=TINY_IMAGE_SIZE, depth=_LAYERS, embed_dim=_HIDDEN, num_heads=_HEADS)
    return {}


def tiny_timm_model(arch: str):
    import timm
    import torch

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        return timm.create_model(arch, pretrained=False, num_classes=10, **tiny_timm_kwargs(arch))


def tiny_clip_vision():
    """A tiny CLIP vision tower and an image processor configured for its input size."""
    import torch
    import transformers as tf

    config = tf.CLIPVisionConfig(
        image_size=TINY_IMAGE_SIZE,
        patch_size=8,
        hidden_size=_HIDDEN,
        num_hidden_layers=_LAYERS,
        num_attention_heads=_HEADS,
        intermediate_size=_INTERMEDIATE,
    )
    processor = tf.CLIPImageProcessor(
        size={"shortest_edge": TINY_IMAGE_SIZE},
        crop_size={"height": TINY_IMAGE_SIZE, "width": TINY_IMAGE_SIZE},
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(SEED)
        return tf.CLIPVisionModel(config), processor


def tiny_glove(dim: int = 8) -> tuple[list[str], np.ndarray]:
    """A seeded random word-vector table over the tiny vocabulary."""
    words = list(TINY_WORDS)
    vectors = np.random.default_rng(SEED).standard_normal((len(words), dim)).astype(np.float32)
    return words, vectors
