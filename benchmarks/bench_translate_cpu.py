"""Ours against an earlier revision, in CPU time: fit + transform of every method at
bench_translate's setting (1,000 anchors x 768 -> 768, 10,000 points, float32), one thread.

On a shared machine under heavy load, wall-clock timings swing by 10x (other jobs preempt
ours); the process's CPU time counts only the work done, so it compares two versions of the
same code fairly where bench_translate's wall-clock ratios cannot. Interleaved rounds in a
seeded random order, one untimed warm-up each; medians and the median of paired ratios.

    .venv/bin/python benchmarks/bench_translate_cpu.py --against 5379953 --latentis   # 3-5 minutes
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
from bench_translate import import_latentis, synthetic, translator_at  # noqa: E402

from latentstitch.io import write_json_atomic, write_text_atomic  # noqa: E402
from latentstitch.translate import Translator  # noqa: E402

METHODS = ("ortho", "linear", "l-ortho", "ridge", "affine")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--against", required=True, metavar="REV")
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--affine-rounds", type=int, default=3)
    parser.add_argument("--latentis", action="store_true", help="also latentis 0.0.8 for the paper's methods")
    parser.add_argument("--out-dir", type=Path, default=Path(__file__).resolve().parent / "results")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    old = translator_at(args.against)
    load_start = os.getloadavg()[0]
    latentis = import_latentis() if args.latentis else {}
    cpu: dict[str, dict[str, list[float]]] = {
        m: {"ours": [], args.against: [], **({"latentis": []} if m in latentis else {})} for m in METHODS
    }
    with threadpool_limits(1), torch.inference_mode():
        xa, ya, x = synthetic()
        for m in METHODS:
            fns = {
                "ours": lambda m=m: Translator(m, "standard").fit(xa, ya).transform(x),
                args.against: lambda m=m: old(m, "standard").fit(xa, ya).transform(x),
            }
            assert torch.equal(fns["ours"](), fns[args.against]()), f"{m}: outputs differ"  # and warm-up
            if m in latentis:
                fns["latentis"] = lambda m=m: latentis[m](xa, ya, x)
                fns["latentis"]()
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
            if m in latentis:
                lat = np.array(cpu[m]["latentis"])
                print(
                    f"  latentis {np.median(lat) * 1e3:.1f} ms, ours/latentis {np.median(ours / lat):.3f}", flush=True
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
    for m, v in cpu.items():
        if "latentis" in v:
            rows[m]["latentis_ms"] = 1e3 * float(np.median(v["latentis"]))
            rows[m]["ours_over_latentis"] = float(np.median(np.array(v["ours"]) / np.array(v["latentis"])))
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
        f"| method | ours ms | {args.against} ms | ours / {args.against} | latentis ms | ours / latentis | rounds |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for m, r in rows.items():
        lat = f"{r['latentis_ms']:.1f} | {r['ours_over_latentis']:.3f}" if "latentis_ms" in r else "- | -"
        lines.append(
            f"| {m} | {r['ours_ms']:.1f} | {r['ref_ms']:.1f} | {r['median_paired_ratio']:.3f} | {lat} | {r['rounds']} |"
        )
    lines += ["", "Ratios: the median of per-round paired ratios of CPU times."]
    write_json_atomic(args.out_dir / "translate_cpu.json", res)
    write_text_atomic(args.out_dir / "translate_cpu.md", "\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
