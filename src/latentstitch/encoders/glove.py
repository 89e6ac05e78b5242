"""GloVe text encoder: the mean of the word vectors of a text's known words.

Tokenization (GloVe 6B's vocabulary is lowercased): lowercase the text, take the maximal runs
of letters and digits (regex ``[^\\W_]+``); punctuation and underscores separate words and are
dropped; words not in the vocabulary are skipped. A text with no known word encodes to zeros.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from latentstitch.encoders.base import Encoder, check_texts
from latentstitch.encoders.spec import EncoderSpec

WORD = re.compile(r"[^\W_]+")


def glove_tokens(text: str) -> list[str]:
    return WORD.findall(text.lower())


class GloveEncoder(Encoder):
    def __init__(self, spec: EncoderSpec, words: list[str], vectors: np.ndarray, *, tiny: bool, device: torch.device):
        if vectors.ndim != 2 or vectors.shape[0] != len(words):
            raise ValueError(f"GloVe vectors {vectors.shape} do not match {len(words)} words")
        super().__init__(spec, tiny=tiny, device=device, dim=vectors.shape[1])
        # The first occurrence wins if a word repeats (the file lists words by frequency).
        self.index = {}
        for i, word in enumerate(words):
            self.index.setdefault(word, i)
        self.bag = torch.nn.EmbeddingBag.from_pretrained(
            torch.from_numpy(np.ascontiguousarray(vectors, dtype=np.float32)), mode="mean", freeze=True
        ).to(device)

    def features(self, texts) -> list[np.ndarray]:
        lookup = self.index.get
        return [
            np.fromiter((i for i in map(lookup, glove_tokens(text)) if i is not None), dtype=np.int64)
            for text in check_texts(texts, self.id)
        ]

    def collate(self, features: list[np.ndarray], indices: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        rows = [features[i] for i in indices]
        offsets = np.concatenate([[0], np.cumsum([len(r) for r in rows])[:-1]]).astype(np.int64)
        flat = np.concatenate(rows) if rows else np.empty(0, dtype=np.int64)
        return torch.from_numpy(flat), torch.from_numpy(offsets)

    def forward(self, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        flat, offsets = batch
        # EmbeddingBag's mean of an empty bag is zeros: texts without known words.
        return self.bag(flat.to(self.device), offsets.to(self.device))


def build_glove_encoder(spec: EncoderSpec, *, tiny: bool, device: torch.device, models_dir: Path) -> GloveEncoder:
    if tiny:
        from latentstitch.encoders.tiny import tiny_glove

        words, vectors = tiny_glove()
        return GloveEncoder(spec, words, vectors, tiny=True, device=device)
    if spec.source != "glove_package":
        raise ValueError(f"encoder {spec.id!r}: GloVe loads from source glove_package only")
    import pyarrow.parquet as pq

    from latentstitch.encoders.sources import package_file

    vectors = np.load(package_file(spec, spec.files["vectors"]))
    table = pq.read_table(package_file(spec, spec.files["vocab"]))
    if table.num_columns != 1:
        raise ValueError(
            f"encoder {spec.id!r}: the GloVe vocabulary file must have one column, got {table.column_names}"
        )
    words = table.column(0).to_pylist()
    return GloveEncoder(spec, words, vectors, tiny=False, device=device)
