"""The stitch engine at the paper's scale (issue 5, "Performance").

6 encoders (768-d, 10,000 test points) x 6 decoders (one SVM head per encoder, scikit-learn
SVC with a linear kernel) x {linear, l-ortho, ortho, ridge} x {standard, l2} x 5 seeds x 1,000
anchors: 36 (source, target) pairs, self-pairs included, so 1,440 fits and decodes of the
10,000 test points, plus the latent metrics of each (lcos, lmse and retrieval on the first
1,000 test points, as the stitch stage computes them for a classification dataset).

    .venv/bin/python benchmarks/bench_stitch.py            # ~10 min on 2 cores
    .venv/bin/python benchmarks/bench_stitch.py --quick    # a smaller run, to try it

Encodings are synthetic but shaped like real ones: a shared 64-d class-structured latent
mapped into each 768-d space by its own random matrix and a tanh, plus noise. Reports:

- **engine**: ``latentstitch.stitching.stitch`` on the whole grid, with its time per phase.
  It fits each source into all targets at once and composes each SVM head with each
  translation (``prepare(x) @ (coef_ @ weight)``), translating only the 1,000 sample points;
- **naive**: a per-pair loop doing the same work the obvious way, one
  ``Translator(method, scaling).fit(anchors)`` per (pair, method, scaling, seed), then
  ``transform`` of the whole test set, the same metrics, and ``SVMHead.predict`` of the
  translation (the same labels). Timed on seed 0 (288 of the 1,440 cells) against the engine's
  mean time per seed (its whole-grid time / 5).
- **libsvm decode**: what decoding through scikit-learn's ``SVC.predict`` (kernel sums over
  the support vectors) instead of the primal weights would add, timed on 12 translated test
  sets and scaled to the grid (median per decode x cells).

Writes benchmarks/results/stitch.json and stitch.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import numpy as np
import torch
from threadpoolctl import threadpool_limits

from latentstitch import metrics
from latentstitch.data import sample_anchors
from latentstitch.decoders import SVMHead
from latentstitch.stitching import Decoder, Space, StitchSettings, stitch
from latentstitch.translate import Translator

OUT = Path(__file__).resolve().parent / "results"
METHODS = ["linear", "l-ortho", "ortho", "ridge"]
SCALINGS = ["standard", "l2"]


def make_spaces(n_encoders: int, dim: int, n_train: int, n_test: int, classes: int, seed: int):
    rng = np.random.default_rng(seed)
    centers = rng.normal(scale=0.35, size=(classes, 64))
    y = rng.integers(0, classes, size=n_train + n_test)
    z = centers[y] + rng.normal(size=(len(y), 64))
    spaces = []
    for k in range(n_encoders):
        w = rng.normal(size=(64, dim)) / 8.0
        x = np.tanh(z @ w) + 0.05 * rng.normal(size=(len(y), dim))
        x = x.astype(np.float32)
        spaces.append(Space(f"enc{k}", x[:n_train], x[n_train:]))
    return spaces, y[:n_train], y[n_train:]


def naive(spaces, heads, y_train, y_test, seeds, count, queries) -> float:
    """The obvious loop over the same cells; returns seconds."""
    start = time.perf_counter()
    for seed in seeds:
        idx = sample_anchors(y_train, count, seed)
        for scaling in SCALINGS:
            for method in METHODS:
                for src in spaces:
                    for tgt in spaces:
                        t = Translator(method, scaling, seed=seed).fit(src.train[idx], tgt.train[idx])
                        z = t.transform(src.test)
                        q = min(queries, len(z))
                        metrics.lcos(z[:q], tgt.test[:q]), metrics.lmse(z[:q], tgt.test[:q])
                        metrics.retrieval(z[:q], tgt.test[:q])
                        pred = heads[tgt.name].predict(z)
                        metrics.accuracy(y_test, pred), metrics.macro_f1(y_test, pred)
    return time.perf_counter() - start


def decode_seconds(spaces, heads, y_train, count) -> dict[str, float]:
    """Median seconds per decode of a translated test set: primal weights vs libsvm's kernel sums."""
    idx = sample_anchors(y_train, count, 0)
    primal, kernel = [], []
    for src, tgt in zip(spaces, spaces[1:] + spaces[:1]):
        for method in ("ortho", "linear"):
            z = Translator(method).fit(src.train[idx], tgt.train[idx]).transform(src.test)
            head = heads[tgt.name]
            start = time.perf_counter()
            head.predict(z)
            primal.append(time.perf_counter() - start)
            start = time.perf_counter()
            head.estimator_.predict(z)
            kernel.append(time.perf_counter() - start)
    return {"primal": float(np.median(primal)), "libsvm": float(np.median(kernel)), "samples": len(primal)}


def engine(spaces, decoders, y_train, y_test, seeds, count, queries):
    settings = StitchSettings(
        methods=METHODS,
        scalings=SCALINGS,
        anchor_counts=[count],
        seeds=seeds,
        retrieval_queries=queries,
        self_pairs=True,
    )
    start = time.perf_counter()
    table = stitch(spaces, decoders, settings, y_test=y_test, anchor_indices=lambda c, s: sample_anchors(y_train, c, s))
    return time.perf_counter() - start, table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="256-d, 2,000 test points, 2 seeds")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    dim, n_test, seeds = (256, 2000, [0, 1]) if args.quick else (768, 10_000, [0, 1, 2, 3, 4])
    count, n_train, n_enc, queries = 1000, 2000, 6, 1000
    spaces, y_train, y_test = make_spaces(n_enc, dim, n_train, n_test, classes=10, seed=0)

    with threadpool_limits(args.threads):
        start = time.perf_counter()
        heads = {s.name: SVMHead().fit(s.train, y_train) for s in spaces}
        heads_seconds = time.perf_counter() - start
        decoders = [Decoder.head("svm", name, head) for name, head in heads.items()]
        load_before = os.getloadavg()[0]
        full_seconds, table = engine(spaces, decoders, y_train, y_test, seeds, count, queries)
        seed0_naive = naive(spaces, heads, y_train, y_test, [0], count, queries)
        decode = decode_seconds(spaces, heads, y_train, count)
        load_after = os.getloadavg()[0]

    fits = len(table[(table.metric == "lcos") & (table.method.isin(METHODS))])
    per_seed = full_seconds / len(seeds)
    libsvm_extra = (decode["libsvm"] - decode["primal"]) * fits
    acc = table[(table.metric == "accuracy")]
    summary = {
        "setting": {
            "encoders": n_enc,
            "dim": dim,
            "n_train": n_train,
            "n_test": n_test,
            "anchors": count,
            "seeds": seeds,
            "methods": METHODS,
            "scalings": SCALINGS,
            "pairs": n_enc * n_enc,
            "fits": fits,
            "retrieval_queries": queries,
            "threads": args.threads,
            "decoder": "SVC(kernel='linear') per encoder, trained on its 2,000 train encodings",
        },
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "load_average_before": load_before,
            "load_average_after": load_after,
        },
        "heads_training_seconds": heads_seconds,
        "engine_seconds": full_seconds,
        "engine_phases_seconds": table.attrs["seconds"],
        "engine_seconds_per_seed": per_seed,
        "naive_seed0_seconds": seed0_naive,
        "naive_over_engine_per_seed": seed0_naive / per_seed,
        "decode_seconds_median": decode,
        "libsvm_decode_extra_seconds_whole_grid": libsvm_extra,
        "accuracy": {
            "no_stitch_mean": float(acc[acc.method == "no-stitch"].value.mean()),
            **{
                f"{m}_{s}_mean": float(acc[(acc.method == m) & (acc.scaling == s)].value.mean())
                for m in METHODS
                for s in SCALINGS
            },
        },
    }
    OUT.mkdir(exist_ok=True)
    name = "stitch_quick" if args.quick else "stitch"
    (OUT / f"{name}.json").write_text(json.dumps(summary, indent=2) + "\n")
    phases = summary["engine_phases_seconds"]
    lines = [
        f"# Stitch engine benchmark ({'quick' if args.quick else 'full'})",
        "",
        f"`.venv/bin/python benchmarks/bench_stitch.py{' --quick' if args.quick else ''}`: "
        f"{n_enc} encoders ({dim}-d, {n_test:,} test points) x {n_enc} SVM decoders x "
        f"{len(METHODS)} methods x {len(SCALINGS)} scalings x {len(seeds)} seeds x {count:,} anchors = "
        f"{fits:,} fits + translations + decodes (+ lcos, lmse and retrieval on the first {queries:,} test points); "
        f"{args.threads} threads; load average {load_before:.1f} before, {load_after:.1f} after. One run.",
        "",
        "| what | seconds |",
        "|---|---:|",
        f"| engine, whole grid | {full_seconds:.1f} |",
        *[f"| - {phase} | {sec:.1f} |" for phase, sec in sorted(phases.items(), key=lambda kv: -kv[1])],
        f"| engine, per seed (whole grid / {len(seeds)}) | {per_seed:.1f} |",
        f"| naive per-pair loop, seed 0 ({fits // len(seeds)} cells) | {seed0_naive:.1f} |",
        f"| one decode, primal weights (median of {decode['samples']}) | {decode['primal']:.3f} |",
        f"| one decode, libsvm SVC.predict (median of {decode['samples']}) | {decode['libsvm']:.3f} |",
        "",
        f"Naive loop / engine, per seed: {seed0_naive / per_seed:.2f}x (sharing the source's work "
        f"across targets, composing heads with translations). Decoding through libsvm instead of the primal weights would add about "
        f"{libsvm_extra / 60:.1f} min to the whole grid ({decode['libsvm'] / decode['primal']:.0f}x per decode).",
        f"Mean accuracy: no-stitch {summary['accuracy']['no_stitch_mean']:.3f}; "
        + ", ".join(f"{m}/{s} {summary['accuracy'][f'{m}_{s}_mean']:.3f}" for m in METHODS for s in SCALINGS)
        + ".",
        "",
    ]
    (OUT / f"{name}.md").write_text("\n".join(lines))
    print("\n".join(lines))


if __name__ == "__main__":
    main()
