"""Ours against an earlier revision, in CPU time: fit + transform of every method at
bench_translate's setting (1,000 anchors x 768 -> 768, 10,000 points, float32), one thread.

On a shared machine under heavy load, wall-clock timings swing by 10x (other jobs preempt
ours); the process's CPU time counts only the work done, so it compares two versions of the
same code fairly where bench_translate's wall-clock ratios cannot. Interleaved rounds in a
seeded random order, one untimed warm-up each; medians and the median of paired ratios.

    .venv/bin/python benchmarks/bench_translate_cpu.py --against 5379953   # about 2 minutes
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_translate import synthetic, translator_at  # noqa: E402

from latentstitch.io import write_json_atomic, write_text_atomic  # noqa: E402
from latentstitch.translate import Translator  # noqa: E402

METHODS = ("ortho", "linear", "l-ortho", "ridge", "affine")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", required=True, metavar="REV")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--affine-rounds", type=int, default=3)
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    old = translator_at(args.against)
    load_start = os.getloadavg()[0]
    cpu: dict[str, dict[str, list[float]]] = {m: {"ours": [], args.against: []} for m in METHODS}
    with threadpool_limits(1), torch.inference_mode():
        xa, ya, x = synthetic()
        for m in METHODS:
            fns = {
                "ours": lambda m=m: Translator(m, "standard").fit(xa, ya).transform(x),
                args.against: lambda m=m: old(m, "standard").fit(xa, ya).transform(x),
            }
            assert torch.equal(fns["ours"](), fns[args.against]()), f"{m}: outputs differ"  # and warm-up
            order, rng = list(fns), random.Random(0)
            for _ in range(args.affine_rounds if m == "affine" else args.rounds):
                rng.shuffle(order)
                for name in order:
                    start = time.process_time()
                    fns[name]()
                    cpu[m][name].append(time.process_time() - start)
            ours, ref = np.array(cpu[m]["ours"]), np.array(cpu[m][args.against])
            print(
                f"{m}: ours {np.median(ours) * 1e3:.1f} ms, {args.against} {np.median(ref) * 1e3:.1f} ms CPU, "
                f"paired ratio {np.median(ours / ref):.3f}",
                flush=True,
            )
    rows = {
        m: {
            "ours_ms": 1e3 * float(np.median(v["ours"])),
            "ref_ms": 1e3 * float(np.median(v[args.against])),
            "median_paired_ratio": float(np.median(np.array(v["ours"]) / np.array(v[args.against]))),
            "rounds": len(v["ours"]),
        }
        for m, v in cpu.items()
    }
    command = "python benchmarks/bench_translate_cpu.py " + " ".join(argv if argv is not None else sys.argv[1:])
    res = {
        "command": command,
        "against": args.against,
        "threads": 1,
        "outputs_bit_identical": True,
        "load_average": {"start": load_start, "end": os.getloadavg()[0]},
        "cpu_time": rows,
    }
    lines = [
        f"# CPU time, ours vs {args.against} (benchmarks/bench_translate_cpu.py)",
        "",
        f"`{command}`",
        "",
        f"1000 anchors x 768 -> 768, 10000 points, float32, 1 thread, fit + transform; CPU time of the process "
        f"(load average {res['load_average']['start']:.1f} -> {res['load_average']['end']:.1f}). Outputs are "
        "bit-identical between the two versions.",
        "",
        f"| method | ours ms | {args.against} ms | paired ratio | rounds |",
        "|---|---:|---:|---:|---:|",
    ]
    lines += [
        f"| {m} | {r['ours_ms']:.1f} | {r['ref_ms']:.1f} | {r['median_paired_ratio']:.3f} | {r['rounds']} |"
        for m, r in rows.items()
    ]
    write_json_atomic(args.out_dir / "translate_cpu.json", res)
    write_text_atomic(args.out_dir / "translate_cpu.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
