"""N24News (Wang et al., LREC 2022) from a local copy: news texts and their pictures, 24 sections.

Layout of the release (https://github.com/billywzh717/N24News): one JSON list of articles,
each with ``section``, ``headline``, ``abstract``, ``caption``, ``body`` (full version) and
``image_id``; pictures in an image folder named ``<image_id>.jpg``. The text and image configs
read the same file in the same order with the same seeded split, so item i of n24news_text and
of n24news_image is the same article (parallel data for cross-modal stitching, paper Section 5).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from latentstitch.data._config import require
from latentstitch.data.base import Split
from latentstitch.data.errors import DatasetUnavailableError
from latentstitch.data.image_files import ImageFiles

_N24NEWS_HINT = (
    "get N24News from https://github.com/billywzh717/N24News (the Google Drive link in its README, "
    "or build_fully_dataset.py), then set the config's `path` or the N24NEWS_DIR environment "
    "variable to the folder holding the JSON file and the image folder"
)


def load_n24news_local(cfg) -> tuple:
    """All articles as one split (the registry splits them); texts or lazily read images."""
    folder, json_file, image_dir = require(cfg, "path", "json_file", "image_dir")
    folder = Path(folder)
    articles_path = folder / json_file
    if not articles_path.is_file():
        raise DatasetUnavailableError(f"dataset {cfg.name!r}: {articles_path} not found; {_N24NEWS_HINT}")
    with open(articles_path, encoding="utf-8") as handle:
        articles = json.load(handle)
    class_names = sorted({article["section"] for article in articles})
    index = {name: i for i, name in enumerate(class_names)}
    labels = np.asarray([index[article["section"]] for article in articles], dtype=np.int64)
    if cfg.modality == "text":
        (field,) = require(cfg, "text_field")
        missing = sum(1 for article in articles if not article.get(field))
        if missing:
            raise ValueError(
                f"dataset {cfg.name!r}: {missing} of {len(articles)} articles in {articles_path} have no {field!r} text"
            )
        inputs = [article[field] for article in articles]
    else:
        paths = [folder / image_dir / f"{article['image_id']}.jpg" for article in articles]
        absent = [p for p in paths if not p.is_file()]
        if absent:
            raise DatasetUnavailableError(
                f"dataset {cfg.name!r}: {len(absent)} of {len(paths)} pictures missing "
                f"(first: {absent[0]}); {_N24NEWS_HINT}"
            )
        inputs = ImageFiles(paths)
    ids = np.asarray([str(article["image_id"]) for article in articles])
    return Split(inputs, labels, ids=ids), None, class_names, {"path": str(folder)}
