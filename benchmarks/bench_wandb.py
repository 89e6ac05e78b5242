"""What logger=wandb costs in offline mode: one decoder's training-curve run (open, 10 epochs
of metrics, close) and one stage run (open, a 10,000-row table, 4 images, close), medians over
rounds. Writes benchmarks/results/wandb.json.

    WANDB_MODE=offline .venv/bin/python benchmarks/bench_wandb.py [rounds]
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from latentstitch import tracking

RESULTS = Path(__file__).parent / "results" / "wandb.json"


def main() -> None:
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    os.environ.setdefault("WANDB_MODE", "offline")
    os.environ["WANDB_SILENT"] = "true"
    rng = np.random.default_rng(0)
    table = pd.DataFrame(
        {
            "source": rng.choice(["a", "b", "c"], 10_000),
            "value": rng.random(10_000),
            "anchors": pd.array(rng.choice([100, None], 10_000), dtype="Int64"),
        }
    )
    images = {f"img{i}": (rng.integers(0, 255, (64, 64), dtype=np.uint8), None) for i in range(4)}
    decoder, stage = [], []
    with tempfile.TemporaryDirectory() as folder:
        cfg = OmegaConf.create(
            {
                "suite": {"name": "bench", "datasets": {"d": {}}},
                "logger": {"wandb": True, "mode": os.environ["WANDB_MODE"], "dir": folder},
            }
        )
        for _ in range(rounds):
            start = time.perf_counter()
            logger = tracking.decoder_logger(cfg.logger, name="d/enc/mlp", group="bench/train_heads")
            for epoch in range(10):
                logger.log_metrics({"train_loss": 1.0 / (epoch + 1), "epoch": epoch}, step=epoch)
            tracking.finish_decoder_logger(logger)
            decoder.append(time.perf_counter() - start)

            start = time.perf_counter()
            with tracking.stage_run(cfg, "stitch") as tracker:
                tracker.table("stitch/d", table)
                tracker.images(images)
                tracker.summary({"stitch/d/accuracy/ortho/standard": 0.5})
            stage.append(time.perf_counter() - start)
    if tracking.logging_failed():
        raise SystemExit(f"wandb failed: {tracking.logging_failed()}")
    result = {
        "command": "WANDB_MODE=offline .venv/bin/python benchmarks/bench_wandb.py " + str(rounds),
        "wandb_mode": os.environ["WANDB_MODE"],
        "rounds": rounds,
        "decoder_run_seconds_median": statistics.median(decoder),
        "decoder_run_seconds": decoder,
        "stage_run_seconds_median": statistics.median(stage),
        "stage_run_seconds": stage,
        "load_average": os.getloadavg(),
    }
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps({k: v for k, v in result.items() if not k.endswith("seconds")}, indent=2))


if __name__ == "__main__":
    main()
