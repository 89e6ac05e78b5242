"""The ``affine`` fit (paper Sec. 3.2: Adam on the MSE) at the shapes of the offline_full stitch
stage, where it is most of the stage's time: ours (``fit_translators``: every target of a
source in one fused Adam step, gradient from the anchors' moments or the data) against the
reference (``affine_sgd``: torch.optim.Adam through autograd, one target at a time, as the
authors' latentis does), float32, 2 CPU threads.

    .venv/bin/python benchmarks/bench_affine.py                    # about 3 minutes on 2 cores
    .venv/bin/python benchmarks/bench_affine.py --against 2be3feb  # also an earlier version's fit

``--against REV`` also times ``_affine_adam_many`` as it was at git revision REV (its
``functional.py`` imported from ``git show``), on the same inputs and round order.

Both run the same number of steps from the same init, timed by bench_translate.timed_rounds
(one untimed warm-up call each, then rounds in a seeded random order).
Writes benchmarks/results/affine.{json,md}: medians, the median of per-round paired ratios, and
the relative difference of the fitted maps (Adam is sensitive to float32 rounding where a
gradient entry is near zero, so the maps agree to ~1e-3, not to the last bit; in float64
they agree to 1e-9, tests/unit/test_translate.py::test_affine_moment_form_equals_data_form).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from bench_translate import paired_ratios, timed_rounds  # same folder: run as benchmarks/bench_affine.py

from latentstitch.io import write_json_atomic, write_text_atomic
from latentstitch.provenance import provenance
from latentstitch.translate import fit_translators
from latentstitch.translate.functional import affine_sgd

RESULTS = Path(__file__).parent / "results"
# (anchors n, source dim d1, target dims): mnist_5k / fashion classification (1280-d
# EfficientNets, each source into the two others) at a large and a small anchor count, and
# the autoencoders (a 500-d source into the other three of its family).
SHAPES = [
    (1000, 1280, [1280, 1280]),
    (250, 1280, [1280, 1280]),
    (1000, 500, [250, 500, 500]),
    # BBC News: MiniLM-L3 (384-d) into MiniLM-L6, MPNet and GloVe, at 50 and 500 anchors
    (50, 384, [384, 768, 50]),
    (500, 384, [384, 768, 50]),
]


def functional_at(rev: str):
    """``latentstitch.translate.functional`` as it was at git revision ``rev``."""
    source = subprocess.run(
        ["git", "show", f"{rev}:src/latentstitch/translate/functional.py"],
        check=True,
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent,
    ).stdout
    path = Path(tempfile.mkdtemp()) / "functional_at_rev.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("functional_at_rev", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--against", metavar="REV", help="also time the affine fit of this git revision")
    args = parser.parse_args(argv)
    earlier = functional_at(args.against) if args.against else None
    torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(0)
    load_start = os.getloadavg()[0]
    rows = []
    for n, d1, d2s in SHAPES:
        x = torch.randn(n, d1, generator=gen)
        ys = [
            x[:, : min(d1, d)] @ torch.randn(min(d1, d), d, generator=gen) / d**0.5
            + 0.1 * torch.randn(n, d, generator=gen)
            for d in d2s
        ]

        def ours():
            return [
                (t.matrix_, t.bias_) for t in fit_translators(x, ys, "affine", "none", affine_steps=args.steps, seed=0)
            ]

        def reference():
            return [affine_sgd(x, y, steps=args.steps, lr=1e-3, seed=0) for y in ys]

        outputs = {}

        def keep(name, fn):
            def run():
                outputs[name] = fn()

            return run

        candidates = {"ours": keep("ours", ours), "reference": keep("reference", reference)}
        if earlier is not None:
            candidates["earlier"] = keep(
                "earlier", lambda: earlier._affine_adam_many(x, ys, steps=args.steps, lr=1e-3, seed=0)
            )
        times = timed_rounds(candidates, args.rounds, seed=0)
        mine, ref = outputs["ours"], outputs["reference"]
        diff = max(float((a.float() - b).norm() / b.norm()) for (a, _), (b, _) in zip(mine, ref))
        row = {
            "anchors": n,
            "source_dim": d1,
            "target_dims": d2s,
            "steps": args.steps,
            "ours_seconds": times["ours"],
            "reference_seconds": times["reference"],
            "ours_median": statistics.median(times["ours"]),
            "reference_median": statistics.median(times["reference"]),
            "speedup_paired_median": paired_ratios(times, "ours", "reference", "reference", "ours")[
                "median_paired_ratio"
            ],
            "relative_difference": diff,
        }
        if earlier is not None:
            row["earlier_seconds"] = times["earlier"]
            row["earlier_median"] = statistics.median(times["earlier"])
            row["speedup_over_earlier_paired_median"] = paired_ratios(times, "ours", "earlier", "earlier", "ours")[
                "median_paired_ratio"
            ]
        print(row, flush=True)
        rows.append(row)
    res = {
        "rows": rows,
        "threads": args.threads,
        "against": args.against,
        "load_average": {"start": load_start, "end": os.getloadavg()[0]},
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs shared with other jobs",
        "command": " ".join(["python benchmarks/bench_affine.py", *(argv if argv is not None else sys.argv[1:])]),
        **provenance(),
    }
    write_json_atomic(RESULTS / "affine.json", res)
    lines = [
        "# affine fit: ours (all targets, fused Adam) vs torch.optim.Adam through autograd per target",
        "",
        f"`{res['command']}`; {res['machine']}, {args.threads} threads, load average "
        f"{load_start:.1f} -> {res['load_average']['end']:.1f}; {res['git_revision']}. "
        f"{args.rounds} rounds, medians; speedup = median of per-round paired ratios.",
        "",
        "| anchors | d1 -> targets | steps | ours s | reference s | speedup | rel. diff |"
        + (f" {args.against} s | speedup over {args.against} |" if earlier else ""),
        "|---|---|---|---|---|---|---|" + ("---|---|" if earlier else ""),
    ]
    for r in rows:
        line = (
            f"| {r['anchors']} | {r['source_dim']} -> {r['target_dims']} | {r['steps']} | {r['ours_median']:.2f} "
            f"| {r['reference_median']:.2f} | {r['speedup_paired_median']:.2f}x | {r['relative_difference']:.1e} |"
        )
        if earlier:
            line += f" {r['earlier_median']:.2f} | {r['speedup_over_earlier_paired_median']:.2f}x |"
        lines.append(line)
    write_text_atomic(RESULTS / "affine.md", "\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
