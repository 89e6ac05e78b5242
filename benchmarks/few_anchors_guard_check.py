"""Re-measure the few-anchor cells where refine lost accuracy under the first guard (cosine
score only), with the current guard (adds the held-out squared error), and two cells where
it helped. Same data, anchors, pools and head as few_anchors.py.

    OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/few_anchors_guard_check.py
"""

from __future__ import annotations

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
from latentstitch.io import write_json_atomic  # noqa: E402
from latentstitch.translate import RefineWarning, Translator, refine  # noqa: E402

CELLS = [  # dataset, method, anchors (uniform, seed 0)
    ("bbc_news", "affine", 10, {"iterations": 3}),
    ("bbc_news", "ortho", 25, {}),
    ("fashion_mnist_offline", "ridge", 50, {}),
    ("fashion_mnist_offline", "ridge", 100, {}),
    ("fashion_mnist_offline", "ortho", 100, {}),
]


def main() -> None:
    rows, heads = [], {}
    for name, method, count, options in CELLS:
        d = load_pair(name)
        n = len(d["labels_train"])
        if name not in heads:
            heads[name] = SVMHead().fit(d["target_train"], d["labels_train"])
        head = heads[name]
        x_pool = d["source_train"][random_order(n, (0, 1))]
        y_pool = d["target_train"][random_order(n, (0, 2))]
        idx = sample_anchors(d["labels_train"], count, 0)
        plain = Translator(method, "standard", seed=0).fit(d["source_train"][idx], d["target_train"][idx])
        start = time.perf_counter()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RefineWarning)
            refined = refine(plain, x_pool, y_pool, **options)
        seconds = time.perf_counter() - start

        def acc(t):
            return float(np.mean(head.predict(t.transform(d["source_test"])) == d["labels_test"]))

        row = {
            "dataset": name,
            "method": method,
            "anchors": count,
            "plain": acc(plain),
            "refined": acc(refined),
            "accepted": refined.refine_accepted_,
            "guard": refined.refine_guard_,
            "seconds": seconds,
        }
        print(row, flush=True)
        rows.append(row)
    write_json_atomic(
        RESULTS / "few_anchors_guard_check.json",
        {"command": "OMP_NUM_THREADS=1 PYTHONPATH=src python benchmarks/few_anchors_guard_check.py", "rows": rows},
    )


if __name__ == "__main__":
    main()
