"""How ``refine`` chooses ridge's penalty when it refits on anchors plus mined pairs
(``ridge_penalty``: "gcv" or "floor"), on the real pairs of few_anchors.py: same
data, anchors (sample_anchors, seeded), pools (train encodings, each shuffled with its own
seed) and head (the target's SVM); accuracy on the test split.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/few_anchors_ridge_penalty.py

Results: benchmarks/results/few_anchors_ridge_penalty.{json,md}.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from few_anchors import RESULTS, load_pair  # noqa: E402

from latentstitch.data import sample_anchors  # noqa: E402
from latentstitch.data.sampling import random_order  # noqa: E402
from latentstitch.decoders.heads import SVMHead  # noqa: E402
from latentstitch.io import write_json_atomic, write_text_atomic  # noqa: E402
from latentstitch.translate import RefineWarning, Translator, refine  # noqa: E402

COMMAND = "OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/few_anchors_ridge_penalty.py"
CELLS = {  # dataset: (strategy, anchors)
    "fashion_mnist_offline": [("uniform", 25), ("uniform", 50), ("uniform", 100), ("kmeans", 100)],
    "bbc_news": [("uniform", 10), ("uniform", 25), ("uniform", 100)],
}
PENALTIES = ("gcv", "floor")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--datasets", nargs="+", default=list(CELLS))
    args = parser.parse_args()
    rows = []
    for name in args.datasets:
        d = load_pair(name)
        n = len(d["labels_train"])
        head = SVMHead().fit(d["target_train"], d["labels_train"])
        x_pool = d["source_train"][random_order(n, (0, 1))]
        y_pool = d["target_train"][random_order(n, (0, 2))]

        def acc(t):
            return float(np.mean(head.predict(t.transform(d["source_test"])) == d["labels_test"]))

        for strategy, count in CELLS[name]:
            idx = sample_anchors(d["labels_train"], count, 0, strategy=strategy, encodings=d["source_train"])
            plain = Translator("ridge", "standard").fit(d["source_train"][idx], d["target_train"][idx])
            row = {
                "dataset": name,
                "strategy": strategy,
                "anchors": count,
                "plain": acc(plain),
                "plain_alpha": plain.alpha_,
                "penalties": {},
            }
            for penalty in PENALTIES:
                start = time.perf_counter()
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RefineWarning)
                    refined = refine(plain, x_pool, y_pool, ridge_penalty=penalty)
                    unguarded = refine(plain, x_pool, y_pool, ridge_penalty=penalty, guard=False)
                row["penalties"][penalty] = {
                    "accuracy": acc(refined),
                    "accepted": refined.refine_accepted_,
                    "unguarded_accuracy": acc(unguarded),
                    "unguarded_alpha": unguarded.alpha_,
                    "pairs": unguarded.refine_history_[-1]["pairs"],
                    "guard": refined.refine_guard_,
                    "seconds": time.perf_counter() - start,
                }
            print(row, flush=True)
            rows.append(row)
    write_json_atomic(RESULTS / "few_anchors_ridge_penalty.json", {"command": COMMAND, "rows": rows})
    lines = [
        f"`{COMMAND}`",
        "",
        "| dataset | anchors | plain | " + " | ".join(f"{p}: refined (unguarded, alpha)" for p in PENALTIES) + " |",
        "|---|---|---:|" + "---:|" * len(PENALTIES),
    ]
    for r in rows:
        cells = []
        for p in PENALTIES:
            c = r["penalties"][p]
            kept = "" if c["accepted"] else " (start kept)"
            cells.append(f"{c['accuracy']:.3f}{kept} ({c['unguarded_accuracy']:.3f}, {c['unguarded_alpha']:.3g})")
        lines.append(
            f"| {r['dataset']} | {r['anchors']} {r['strategy']} | {r['plain']:.3f} (alpha {r['plain_alpha']:.3g}) | "
            + " | ".join(cells)
            + " |"
        )
    write_text_atomic(RESULTS / "few_anchors_ridge_penalty.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
