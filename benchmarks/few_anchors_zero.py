"""The zero-anchor point of the few-anchor curves (beyond the paper, issue 15's stretch): a
translator started from no parallel anchors (``unsupervised_start``: VecMap's similarity
signatures) and refined on the unpaired pools, on the real pairs of few_anchors.py (same data,
pools, head). The pools are the same train items in two hidden orders, so whether each guessed
pair is right can be counted here (never by the method).

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/few_anchors_zero.py
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/few_anchors_zero.py --disjoint  # pools: two halves
    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/few_anchors_zero.py --standardize  # per-feature std

Results: benchmarks/results/few_anchors_zero.{json,md}.
"""

from __future__ import annotations

import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from few_anchors import PAIRS, RESULTS, load_pair  # noqa: E402

from latentstitch.data.sampling import random_order  # noqa: E402
from latentstitch.decoders.heads import SVMHead  # noqa: E402
from latentstitch.io import write_json_atomic, write_text_atomic  # noqa: E402
from latentstitch.translate import RefineWarning, refine  # noqa: E402
from latentstitch.translate.unsupervised import unsupervised_pairs, unsupervised_start  # noqa: E402

COMMAND = "OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/few_anchors_zero.py"
METHODS = ("ortho", "ridge")


def main() -> None:
    disjoint, standardize = "--disjoint" in sys.argv, "--standardize" in sys.argv
    names = [a for a in sys.argv[1:] if not a.startswith("--")] or list(PAIRS)
    rows = []
    for name in names:
        d = load_pair(name)
        n = len(d["labels_train"])
        head = SVMHead().fit(d["target_train"], d["labels_train"])
        ox, oy = random_order(n, (0, 1)), random_order(n, (0, 2))
        if disjoint:  # each pool: a different half of the train split (no item in both)
            ox, oy = ox[: n // 2], np.setdiff1d(oy, ox[: n // 2])[random_order(n - n // 2, (0, 3))]
        x_pool, y_pool = d["source_train"][ox], d["target_train"][oy]
        labels_x, labels_y = d["labels_train"][ox], d["labels_train"][oy]

        def acc(t):
            return float(np.mean(head.predict(t.transform(d["source_test"])) == d["labels_test"]))

        start = time.perf_counter()
        xi, yi, _ = unsupervised_pairs(x_pool, y_pool, standardize=standardize)
        xi, yi = xi.numpy(), yi.numpy()
        pair_seconds = time.perf_counter() - start
        guessed = {
            "pairs": len(xi),
            "right": float(np.mean(ox[xi] == oy[yi])),
            "same_label": float(np.mean(labels_x[xi] == labels_y[yi])),
            "seconds": pair_seconds,
        }
        for method in METHODS:
            start = time.perf_counter()
            t0 = unsupervised_start(method, x_pool, y_pool, standardize=standardize)
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", RefineWarning)
                t1 = refine(t0, x_pool, y_pool)
                t20 = refine(t0, x_pool, y_pool, iterations=20)
            row = {
                "dataset": name,
                "source": PAIRS[name]["source"],
                "target": PAIRS[name]["target"],
                "method": method,
                "guessed": guessed,
                "start_accuracy": acc(t0),
                "refined_accuracy": acc(t1),
                "refined_20_accuracy": acc(t20),
                "refined_20_rounds": len(t20.refine_history_),
                "refine_accepted": t1.refine_accepted_,
                "refine_history": t1.refine_history_,
                "warnings": [str(w.message) for w in caught],
                "seconds": time.perf_counter() - start,
                "chance": float(np.max(np.bincount(d["labels_test"])) / len(d["labels_test"])),
            }
            print(row, flush=True)
            rows.append(row)
    stem = "few_anchors_zero" + ("_disjoint" if disjoint else "") + ("_standardize" if standardize else "")
    command = COMMAND + (" --disjoint" if disjoint else "") + (" --standardize" if standardize else "")
    write_json_atomic(RESULTS / f"{stem}.json", {"command": command, "rows": rows})
    lines = [
        f"`{command}`",
        "",
        "| dataset (source -> target) | method | guessed pairs (right, same label) | start | refined (5 rounds) "
        "| refined (up to 20 rounds) | majority class |",
        "|---|---|---|---:|---:|---:|---:|",
    ]
    for r in rows:
        g = r["guessed"]
        lines.append(
            f"| {r['dataset']} ({r['source']} -> {r['target']}) | {r['method']} | {g['pairs']} ({g['right']:.1%}, "
            f"{g['same_label']:.1%}) | {r['start_accuracy']:.3f} | {r['refined_accuracy']:.3f} | "
            f"{r['refined_20_accuracy']:.3f} ({r['refined_20_rounds']}) | {r['chance']:.3f} |"
        )
    write_text_atomic(RESULTS / f"{stem}.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
