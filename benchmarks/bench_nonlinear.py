"""Fit time of the translators beyond the paper (irp, kernel, mlp) next to ortho and ridge
(issue 16): 1,000 anchors x 768 dims -> 768 dims, float32, standard scaling.

    .venv/bin/python benchmarks/bench_nonlinear.py    # writes benchmarks/results/nonlinear.{json,md}

Two pairs of spaces: ``linear`` (bench_translate's: y a noisy linear map of x) and ``bent``
(y = tanh of a linear map, scaled so that a third of the units saturate, plus noise), where a
nonlinear map has something to learn and mlp's early stopping runs longer. Fit only (the
translator from raw anchors), candidates interleaved in a seeded random order each round
(bench_translate.timed_rounds), medians over rounds; the held-out R^2 on 2,000 points is
given beside each time to show what the time buys.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
from pathlib import Path

os.environ.setdefault("WANDB_MODE", "disabled")

import numpy as np  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_translate import timed_rounds  # noqa: E402

from latentstitch.io import write_json_atomic, write_text_atomic  # noqa: E402
from latentstitch.translate import Translator  # noqa: E402

HERE = Path(__file__).resolve().parent
N_ANCHORS, DIM, N_HELD_OUT = 1000, 768, 2000
METHODS = ("ortho", "ridge", "irp", "kernel", "mlp")


def pair(kind: str, seed: int = 0) -> tuple[torch.Tensor, ...]:
    """Anchors x, y (1000, 768) and held-out x, y (2000, 768), float32."""
    g = torch.Generator().manual_seed(seed)
    n = N_ANCHORS + N_HELD_OUT
    x = torch.randn(n, DIM, generator=g) @ (torch.randn(DIM, DIM, generator=g) / DIM**0.5)
    z = x @ (torch.randn(DIM, DIM, generator=g) / DIM**0.5)
    y = torch.tanh(1.5 * z) if kind == "bent" else z
    y = y + 0.1 * y.std() * torch.randn(n, DIM, generator=g)
    return x[:N_ANCHORS], y[:N_ANCHORS], x[N_ANCHORS:], y[N_ANCHORS:]


def r2(pred: np.ndarray, true: np.ndarray) -> float:
    return float(1 - ((pred - true) ** 2).sum() / ((true - true.mean(0)) ** 2).sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    revision = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True, cwd=HERE
    ).stdout.strip()
    load_before = os.getloadavg()[0]
    results: dict = {
        "setting": {
            "anchors": N_ANCHORS,
            "dims": f"{DIM} -> {DIM}",
            "dtype": "float32",
            "scaling": "standard",
            "threads": args.threads,
            "rounds": args.rounds,
            "revision": revision,
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
        },
        "pairs": {},
    }
    with threadpool_limits(args.threads):
        for kind in ("linear", "bent"):
            xa, ya, xh, yh = pair(kind)
            print(f"{kind} pair", flush=True)
            candidates = {m: (lambda m=m: Translator(m, "standard").fit(xa, ya)) for m in METHODS}
            times = timed_rounds(candidates, args.rounds, seed=0)
            rows = {}
            for m in METHODS:
                pred = Translator(m, "standard").fit(xa, ya).transform(xh).numpy()
                rows[m] = {
                    "median_s": float(np.median(times[m])),
                    "times_s": times[m],
                    "held_out_r2": r2(pred, yh.numpy()),
                }
            for m in METHODS:
                rows[m]["x_ridge"] = rows[m]["median_s"] / rows["ridge"]["median_s"]
            results["pairs"][kind] = rows
    results["setting"]["load_average"] = [load_before, os.getloadavg()[0]]
    write_json_atomic(HERE / "results" / "nonlinear.json", results)
    s = results["setting"]
    lines = [
        "# Fit time of the translators beyond the paper, next to ortho and ridge",
        "",
        f"`python benchmarks/bench_nonlinear.py --rounds {args.rounds} --threads {args.threads}`; "
        f"{s['machine']} shared with other jobs, {args.threads} thread(s), load average "
        f"{s['load_average'][0]:.1f} -> {s['load_average'][1]:.1f}; revision {revision}. "
        f"{N_ANCHORS} anchors, {DIM} -> {DIM} dims, float32, standard scaling; fit only; "
        f"median of {args.rounds} interleaved rounds. R^2: on {N_HELD_OUT} held-out points.",
        "",
    ]
    for kind, rows in results["pairs"].items():
        lines += [f"## {kind} pair", "", "| method | fit s (median) | x ridge | held-out R^2 |", "|---|---|---|---|"]
        lines += [
            f"| {m} | {r['median_s']:.3f} | {r['x_ridge']:.1f} | {r['held_out_r2']:.3f} |" for m, r in rows.items()
        ]
        lines.append("")
    write_text_atomic(HERE / "results" / "nonlinear.md", "\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
