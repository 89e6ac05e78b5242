"""Speed of one ``refine`` round against one chunked similarity pass (issue 15).

    OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python benchmarks/bench_refine.py

Setting: pools of 10,000 x 768 on each side (float32), a translator fitted on 25 anchors, one
CPU thread (the machine is shared). Candidates, interleaved in a seeded random order each
round (bench_translate's ``timed_rounds``; medians and per-round paired ratios):

- ``similarity pass``: the least any mining must do: translate x_pool, then the (10,000 x
  10,000) cosine matrix in chunks of 2,048 rows, each row's nearest neighbour (argmax).
- ``refine round``: ``refine(t, x_pool, y_pool, iterations=1, guard=False)``: translate,
  exact CSLS mutual nearest neighbours (one pass plus the rows and columns the bound cannot
  settle), refit ortho on anchors + mined pairs.
- ``refine round + guard``: the same with the held-out guard (5 folds on 2,000-row pools).

The data: a target space y = x @ Q + noise with a decaying spectrum, so that mining finds
realistic numbers of pairs. Writes benchmarks/results/refine.{json,md}.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import warnings
from pathlib import Path

import numpy as np
import scipy.stats
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_translate import paired_ratios, timed_rounds

from latentstitch.io import write_json_atomic, write_text_atomic
from latentstitch.translate import RefineWarning, Translator, refine
from latentstitch.translate.refine import _Miner

RESULTS = Path(__file__).resolve().parent / "results"


def data(m: int, d: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=(m, d)) * (1.0 / np.sqrt(1 + np.arange(d)))
    q = scipy.stats.ortho_group.rvs(d, random_state=seed + 1)
    y = z @ q + 0.05 * rng.normal(size=(m, d))
    perm = rng.permutation(m)
    return (
        torch.from_numpy(z).float(),
        torch.from_numpy(y[perm]).float(),
        torch.from_numpy(np.argsort(perm)),
    )  # y_pool[where[i]] is x_pool[i]'s partner


def similarity_pass(t: Translator, x: torch.Tensor, y: torch.Tensor, chunk: int = 2048) -> torch.Tensor:
    pred = t.transform(x)
    pred = pred / pred.norm(dim=1, keepdim=True)
    yn = y / y.norm(dim=1, keepdim=True)
    return torch.cat([(pred[s : s + chunk] @ yn.T).argmax(dim=1) for s in range(0, len(pred), chunk)])


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--pool", type=int, default=10_000)
    parser.add_argument("--dim", type=int, default=768)
    parser.add_argument("--anchors", type=int, default=25)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.manual_seed(0)
    x, y, where = data(args.pool, args.dim)
    anchors = torch.arange(args.anchors)
    t = Translator("ortho", "standard").fit(x[anchors], y[where[anchors]])

    def round_(guard: bool):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RefineWarning)
            return refine(t, x, y, iterations=1, guard=guard)

    candidates = {
        "similarity pass": lambda: similarity_pass(t, x, y),
        "refine round": lambda: round_(False),
        "refine round + guard": lambda: round_(True),
    }
    load_before = os.getloadavg()
    times = timed_rounds(candidates, args.rounds, seed=0)
    load_after = os.getloadavg()

    # What the round found, and how much of the exact CSLS needed the recomputation.
    out = round_(True)
    miner = _Miner(x, y, criterion="csls", k=10, max_pairs=None, threshold=None, standardize=True, chunk_size=2048)
    pairs = miner(t)
    correct = float((where[pairs.x_index] == pairs.y_index).float().mean())
    median = {name: float(np.median(v)) for name, v in times.items()}
    result = {
        "command": "OMP_NUM_THREADS=1 PYTHONPATH=src .venv/bin/python benchmarks/bench_refine.py",
        "setting": {
            "pool": args.pool,
            "dim": args.dim,
            "anchors": args.anchors,
            "rounds": args.rounds,
            "threads": torch.get_num_threads(),
            "dtype": "float32",
        },
        "median_seconds": median,
        "round_vs_pass": paired_ratios(times, "refine round", "similarity pass", "refine round", "similarity pass"),
        "round_with_guard_vs_pass": paired_ratios(
            times, "refine round + guard", "similarity pass", "refine round + guard", "similarity pass"
        ),
        "seconds": times,
        "mined_pairs": len(pairs.score),
        "mined_pairs_correct": correct,
        "recomputed_rows_and_columns": pairs.recomputed,
        "guard": out.refine_guard_,
        "load_average": {"before": load_before, "after": load_after},
        "machine": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "processor": platform.processor(),
            "cpus": os.cpu_count(),
        },
    }
    RESULTS.mkdir(exist_ok=True)
    write_json_atomic(RESULTS / "refine.json", result)
    r, g = result["round_vs_pass"], result["round_with_guard_vs_pass"]
    md = [
        "# refine: one round vs one chunked similarity pass",
        "",
        f"`{result['command']}`",
        "",
        f"Pools {args.pool:,} x {args.dim} (float32), {args.anchors} anchors, ortho, "
        f"{torch.get_num_threads()} thread(s), {args.rounds} interleaved rounds; load average "
        f"{load_before[0]:.2f} -> {load_after[0]:.2f}.",
        "",
        "| candidate | median s |",
        "|---|---:|",
        *[f"| {name} | {s:.2f} |" for name, s in median.items()],
        "",
        f"refine round / similarity pass: {r['median_paired_ratio']:.2f}x (median paired ratio; "
        f"ratio of medians {r['ratio_of_medians']:.2f}x). With the guard: "
        f"{g['median_paired_ratio']:.2f}x.",
        "",
        f"The round mined {len(pairs.score):,} mutual CSLS pairs, {correct:.1%} of them correct; "
        f"{pairs.recomputed:,} of the {2 * args.pool:,} rows and columns needed the exact recomputation.",
    ]
    write_text_atomic(RESULTS / "refine.md", "\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
