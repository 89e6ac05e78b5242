"""Accuracy and fit time of the exact SVM head (conf/head/svm.yaml, SVC linear kernel) vs the
fast one (conf/head/svm_fast.yaml, LinearSVC) on the same train/test features.

    python benchmarks/svm_heads.py                       # Fashion-MNIST pixels, offline-quick subset
    python benchmarks/svm_heads.py --encodings cache/encodings/fashion_mnist/efficientnet_lite0

Without --encodings the features are raw pixels in [0, 1] of the offline Fashion-MNIST subset
used by the offline-quick suite (10,000 train / 2,000 test). Writes benchmarks/results/svm_heads.json
(one entry per feature source, replaced on rerun). Timings are wall clock on a shared machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

from latentstitch.config import load_group_config
from latentstitch.data import load_dataset
from latentstitch.decoders import build_head
from latentstitch.io import load_encodings, write_json_atomic

RESULTS = Path(__file__).parent / "results" / "svm_heads.json"


def features(args: argparse.Namespace) -> tuple[str, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    if args.encodings:
        root = Path(args.encodings)
        x_train, y_train, _ = load_encodings(root / "train.safetensors")
        x_test, y_test, _ = load_encodings(root / "test.safetensors")
        return f"encodings:{root.parent.name}/{root.name}", x_train, y_train, x_test, y_test
    data = load_dataset(args.dataset, subset={"train": args.train, "test": args.test})
    flat = lambda images: images.reshape(len(images), -1).astype(np.float32) / 255.0  # noqa: E731
    name = f"pixels:{args.dataset}[{args.train}/{args.test}]"
    return name, flat(data.train.inputs), data.train.labels, flat(data.test.inputs), data.test.labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion_mnist_offline")
    parser.add_argument("--train", type=int, default=10000)
    parser.add_argument("--test", type=int, default=2000)
    parser.add_argument("--encodings", help="an encodings folder holding train/test.safetensors")
    args = parser.parse_args()
    source, x_train, y_train, x_test, y_test = features(args)
    rows = {}
    for name in ("svm", "svm_fast"):
        head = build_head(load_group_config("head", name), seed=0)
        start = time.perf_counter()
        head.fit(x_train, y_train)
        seconds = time.perf_counter() - start
        rows[name] = {"test_accuracy": float(head.score(x_test, y_test)), "fit_seconds": round(seconds, 2)}
        print(name, rows[name], flush=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    results[source] = {
        "heads": rows,
        "accuracy_difference_svm_minus_fast": round(
            rows["svm"]["test_accuracy"] - rows["svm_fast"]["test_accuracy"], 4
        ),
        "n_train": int(len(y_train)),
        "n_test": int(len(y_test)),
        "dim": int(x_train.shape[1]),
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs (shared)",
        "command": " ".join(["python benchmarks/svm_heads.py", *sys.argv[1:]]),
    }
    write_json_atomic(RESULTS, results)


if __name__ == "__main__":
    main()
