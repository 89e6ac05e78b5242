"""Images kept on disk and decoded on access, for datasets too large to hold as one array."""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import numpy as np


class ImageFiles(Sequence):
    """A sequence of image files read as uint8 RGB arrays of shape (h, w, 3), each its own size.

    Indexing with an int decodes one image; indexing with a slice or an index array returns
    another ``ImageFiles`` over those files (nothing is decoded).
    """

    def __init__(self, paths: Sequence[str | Path]):
        self.paths = [Path(p) for p in paths]

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index):
        if isinstance(index, (int, np.integer)):
            from PIL import Image

            with Image.open(self.paths[index]) as image:
                return np.asarray(image.convert("RGB"), dtype=np.uint8)
        if isinstance(index, slice):
            return ImageFiles(self.paths[index])
        return self.subset(index)

    def subset(self, indices) -> "ImageFiles":
        return ImageFiles([self.paths[i] for i in np.asarray(indices, dtype=np.int64)])

    def __repr__(self) -> str:
        return f"ImageFiles({len(self)} files)"
