"""Heads in parallel vs one at a time (issue 17), on this machine's cores.

    python benchmarks/bench_heads_parallel.py                  # Fashion-MNIST pixels, 4,000 / 1,000
    python benchmarks/bench_heads_parallel.py --train 10000 --heads 4

Two measurements, each timed serial then parallel, ``--repeats`` times alternately (the
machine is shared: the ratio of each pair, their median, and the fastest of each side):

1. one exact SVC head (conf/head/svm.yaml) with its one-vs-one subproblems on ``--jobs``
   workers (``SVMHead(n_jobs=...)``) vs libsvm's serial loop; with how many test labels agree;
2. the train_heads stage's scheduler (``_train_heads``) on ``--heads`` heads (the pixels and
   seeded random projections of them: as many "encoders") with ``n_jobs: 1`` vs ``--jobs``.

Writes benchmarks/results/heads_parallel.json and .md.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("WANDB_MODE", "disabled")

import numpy as np  # noqa: E402
from omegaconf import OmegaConf  # noqa: E402

from latentstitch.data import load_dataset  # noqa: E402
from latentstitch.decoders import SVMHead  # noqa: E402
from latentstitch.io import write_json_atomic, write_text_atomic  # noqa: E402
from latentstitch.stages.train_heads import _train_heads  # noqa: E402

RESULTS = Path(__file__).parent / "results"


def _pairs(serial: list[float], parallel: list[float]) -> dict:
    ratios = [s / p for s, p in zip(serial, parallel)]
    return {
        "serial_seconds": [round(s, 2) for s in serial],
        "parallel_seconds": [round(p, 2) for p in parallel],
        "ratios": [round(r, 2) for r in ratios],
        "median_ratio": round(statistics.median(ratios), 2),
        "fastest_ratio": round(min(serial) / min(parallel), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--train", type=int, default=4000)
    parser.add_argument("--test", type=int, default=1000)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    data = load_dataset("fashion_mnist_offline", subset={"train": args.train, "test": args.test})
    flat = lambda images: images.reshape(len(images), -1).astype(np.float32) / 255.0  # noqa: E731
    x, y, x_test, y_test = flat(data.train.inputs), data.train.labels, flat(data.test.inputs), data.test.labels

    # joblib's worker processes start once per stage run and are reused: timed apart
    from joblib import Parallel, delayed

    start = time.perf_counter()
    Parallel(n_jobs=args.jobs, backend="loky")(delayed(abs)(-i) for i in range(args.jobs))
    startup = time.perf_counter() - start
    ovo_serial, ovo_parallel, agree = [], [], []
    for _ in range(args.repeats):
        start = time.perf_counter()
        serial = SVMHead(n_jobs=1).fit(x, y)
        ovo_serial.append(time.perf_counter() - start)
        start = time.perf_counter()
        parallel = SVMHead(n_jobs=args.jobs).fit(x, y)
        ovo_parallel.append(time.perf_counter() - start)
        agree.append(float(np.mean(serial.predict(x_test) == parallel.predict(x_test))))
    coef_diff = float(np.abs(serial.estimator_.coef_ - parallel.estimator_.coef_).max())

    rng = np.random.default_rng(0)
    spaces = [(x, x_test)] + [
        (x @ p, x_test @ p)
        for p in (rng.normal(size=(x.shape[1], 256)).astype(np.float32) / 16 for _ in range(args.heads - 1))
    ]
    stage_serial, stage_parallel = [], []
    for _ in range(args.repeats):
        for n_jobs, times in ((1, stage_serial), (args.jobs, stage_parallel)):
            with tempfile.TemporaryDirectory() as tmp:
                cfg = OmegaConf.create(
                    {
                        "seed": 0,
                        "device": "cpu",
                        "logger": None,
                        "suite": {"name": "bench"},
                        "paths": {"results_dir": tmp},
                    }
                )
                jobs = [
                    dict(
                        out=Path(tmp) / "heads" / "bench" / f"e{i}" / "svm",
                        head_cfg={"kind": "svm", "C": 1.0, "n_jobs": n_jobs},
                        record={"dataset": "bench", "encoder": f"e{i}", "head": "svm", "relative": False},
                        data_id={"space": i},
                        train=(tr, y),
                        test=(te, y_test),
                        idx=None,
                    )
                    for i, (tr, te) in enumerate(spaces)
                ]
                summary = {"trained": 0, "kept": 0, "test_accuracy": {}}
                start = time.perf_counter()
                _train_heads(cfg, jobs, summary, "heads")
                times.append(time.perf_counter() - start)
                assert summary["trained"] == len(spaces)

    load = os.getloadavg()
    result = {
        "command": " ".join(["python benchmarks/bench_heads_parallel.py", *sys.argv[1:]]),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs shared with other jobs, load average "
        f"{load[0]:.1f} at the end",
        "features": f"Fashion-MNIST pixels, {args.train} train / {args.test} test, 784-d, 10 classes",
        "jobs": args.jobs,
        "worker_startup_seconds": round(startup, 2),
        "svc_one_vs_one": {
            **_pairs(ovo_serial, ovo_parallel),
            "test_labels_equal": agree,
            "max_coef_difference": coef_diff,
        },
        "train_heads_stage": {**_pairs(stage_serial, stage_parallel), "heads": len(spaces)},
    }
    write_json_atomic(RESULTS / "heads_parallel.json", result)
    ovo, stage = result["svc_one_vs_one"], result["train_heads_stage"]
    md = (
        f"# Heads in parallel vs serial\n\n`{result['command']}` ({result['machine']}; {args.jobs} workers)\n\n"
        "| what | serial s | parallel s | ratio per repeat | median | fastest |\n|---|---|---|---|---|---|\n"
        f"| one SVC, one-vs-one subproblems in parallel | {ovo['serial_seconds']} | {ovo['parallel_seconds']} | "
        f"{ovo['ratios']} | {ovo['median_ratio']} | {ovo['fastest_ratio']} |\n"
        f"| train_heads, {stage['heads']} SVC heads | {stage['serial_seconds']} | {stage['parallel_seconds']} | "
        f"{stage['ratios']} | {stage['median_ratio']} | {stage['fastest_ratio']} |\n\n"
        f"Test labels equal between the serial and the parallel SVC: {agree} (fraction); largest "
        f"one-vs-one weight difference {coef_diff:.1e}. Starting the {args.jobs} worker processes "
        f"(once per stage run, not in the times above): {startup:.1f} s.\n"
    )
    write_text_atomic(RESULTS / "heads_parallel.md", md)
    print(md)


if __name__ == "__main__":
    main()
