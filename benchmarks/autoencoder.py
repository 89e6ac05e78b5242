"""Training time per epoch and final test rmse of the Fashion-MNIST CNN autoencoders
(conf/autoencoder/cnn.yaml; paper Sec. 4.3, Table 3): two seeds, bottleneck 500, full 60,000
train images, CPU.

    python benchmarks/autoencoder.py --epochs 5 --threads 1

rmse is the paper's "reconstruction MSE": the mean over the 10,000 test images of the mean
squared pixel error, pixels in [0, 1]. Writes benchmarks/results/autoencoder.json. The
machine is shared with other jobs: its load average is recorded beside the timings.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
from omegaconf import OmegaConf

from latentstitch.config import load_group_config
from latentstitch.data import load_dataset
from latentstitch.decoders import CNNAutoencoder, reconstruction_mse
from latentstitch.io import write_json_atomic
from latentstitch.provenance import provenance

RESULTS = Path(__file__).parent / "results" / "autoencoder.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", default="fashion_mnist_offline")
    parser.add_argument("--bottleneck", type=int, default=500)
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--epochs", type=int, help="override the config's max_epochs")
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_dataset(args.dataset)
    settings = OmegaConf.to_container(load_group_config("autoencoder", "cnn"), resolve=True)
    if args.epochs:
        settings["max_epochs"] = args.epochs
    runs = []
    for seed in args.seeds:
        load_before = os.getloadavg()[0]
        ae = CNNAutoencoder(**settings, bottleneck=args.bottleneck, seed=seed, accelerator="cpu")
        start = time.perf_counter()
        ae.fit(data.train.inputs)
        fit_seconds = time.perf_counter() - start
        errors = reconstruction_mse(data.test.inputs, ae.reconstruct(data.test.inputs))
        run = {
            "seed": seed,
            "fit_seconds": round(fit_seconds, 1),
            "epoch_seconds": [round(s, 1) for s in ae.epoch_seconds_],
            "mean_epoch_seconds": round(float(np.mean(ae.epoch_seconds_)), 1),
            "train_mse_per_epoch": [round(m, 5) for m in ae.train_mse_],
            "test_rmse": round(float(errors.mean()), 5),
            "test_rmse_std_over_images": round(float(errors.std()), 5),
            "load_average_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        }
        print(run, flush=True)
        runs.append(run)
    write_json_atomic(
        RESULTS,
        {
            "dataset": args.dataset,
            "n_train": len(data.train),
            "n_test": len(data.test),
            "bottleneck": args.bottleneck,
            "settings": settings,
            "runs": runs,
            "paper_reference": (
                "Table 3 (Fashion-MNIST, stitched between two seeds, 1000 anchors, 500-d): rmse 0.03 affine, "
                "0.04 linear, 0.05 l-ortho, 0.04 ortho, 0.23 absolute; the paper gives no no-stitch rmse"
            ),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs shared with other jobs, "
            f"torch threads {torch.get_num_threads()}",
            "command": " ".join(["python benchmarks/autoencoder.py", *sys.argv[1:]]),
            **provenance(),
        },
    )


if __name__ == "__main__":
    main()
