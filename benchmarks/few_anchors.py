"""Beyond the paper: stitching accuracy from a handful of parallel anchors, plain vs refined.

Real pairs of the offline zoo: BBC News (MiniLM-L6 -> MPNet, first 64 tokens, as
offline_quick) and a Fashion-MNIST subset (EfficientNet-Lite0 -> Lite1). For each anchor count,
method and anchor strategy: fit a translator on the anchors, refine it on the train encodings
of both spaces with their correspondence hidden (each pool shuffled with its own seed), and
score the target space's head on translated test encodings (held out from anchors and pools).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/few_anchors.py encode
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/few_anchors.py run
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/few_anchors.py double-descent

Encodings are cached under cache/few_anchors (gitignored); results go to
benchmarks/results/few_anchors*.json and .md.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import subprocess
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / "cache" / "few_anchors"
RESULTS = ROOT / "benchmarks" / "results"

PAIRS = {
    "bbc_news": {"source": "minilm_l6", "target": "mpnet", "max_tokens": 64, "subset": None},
    "fashion_mnist_offline": {"source": "efficientnet_lite0", "target": "efficientnet_lite1",
                              "max_tokens": None, "subset": {"train": 2400, "test": 600}},
}


def encode() -> None:
    from latentstitch.data import load_dataset
    from latentstitch.encoders import build_encoder, load_spec
    from latentstitch.encoders.encoding import ensure_encodings

    for name, pair in PAIRS.items():
        dataset = load_dataset(name, subset=pair["subset"])
        for encoder_id in (pair["source"], pair["target"]):
            spec = load_spec(encoder_id)
            if pair["max_tokens"] is not None and spec.max_length and spec.max_length > pair["max_tokens"]:
                spec = dataclasses.replace(spec, max_length=pair["max_tokens"])
            encoder = build_encoder(spec, device="cpu", models_dir=ROOT / "cache" / "models")
            for split in ("train", "test"):
                start = time.perf_counter()
                path = ensure_encodings(dataset, encoder, split, CACHE, progress=False)
                print(f"{name}/{encoder_id}/{split}: {path} ({time.perf_counter() - start:.1f} s)", flush=True)
            del encoder


def load_pair(name: str) -> dict[str, np.ndarray]:
    from safetensors.numpy import load_file

    pair = PAIRS[name]
    out = {}
    for role in ("source", "target"):
        for split in ("train", "test"):
            tensors = load_file(str(CACHE / name / pair[role] / f"{split}.safetensors"))
            out[f"{role}_{split}"] = tensors["encodings"] if "encodings" in tensors else next(iter(tensors.values()))
            labels = tensors.get("labels")
            if labels is not None:
                out[f"labels_{split}"] = labels
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=["encode", "run", "double-descent"])
    args = parser.parse_args()
    if args.command == "encode":
        encode()


if __name__ == "__main__":
    main()
