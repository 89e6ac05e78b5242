"""Table 3 analog against autoencoder training length: does the gap between our Fashion-MNIST
latent cosines (ortho ~0.98) and the paper's (0.90) come from how long the autoencoders train?

    python benchmarks/table3_epochs.py --epochs 1 2 4 10 --threads 2

For each epoch count E: two CNN autoencoders (conf/autoencoder/cnn.yaml, bottleneck 500,
seeds 0 and 1, all 60,000 train images, trained from scratch for E epochs), then the Table 3
cell as the pipeline computes it: 1,000 unstratified anchors from the train set (anchor seeds
0, 1, 2), standard scaling, both directions (s0 -> s1, s1 -> s0), lcos / lmse between the
translated and the target test latents and rmse of the target decoder on the 10,000 test
images. Also each autoencoder's own test rmse. Writes benchmarks/results/table3_epochs.{json,md}.
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
from latentstitch.data import load_dataset, sample_anchors
from latentstitch.decoders import CNNAutoencoder, reconstruction_mse
from latentstitch.io import write_json_atomic, write_text_atomic
from latentstitch.metrics import lcos_lmse
from latentstitch.provenance import provenance
from latentstitch.translate import Translator

RESULTS = Path(__file__).parent / "results"
METHODS = ["absolute", "affine", "linear", "l-ortho", "ortho"]
PAPER = {
    "absolute": 0.17,
    "affine": 0.94,
    "linear": 0.93,
    "l-ortho": 0.78,
    "ortho": 0.90,
}  # Table 3, Fashion MNIST lcos


def cell(aes: list[CNNAutoencoder], train: np.ndarray, test: np.ndarray, anchor_seeds: list[int]) -> dict:
    """Mean and std over (direction, anchor seed) of lcos, lmse, rmse per method."""
    z_train = [ae.encode(train) for ae in aes]
    z_test = [ae.encode(test) for ae in aes]
    images = np.asarray(test, dtype=np.float32) / 255.0
    rows: dict[str, list[tuple[float, float, float]]] = {m: [] for m in METHODS}
    for src, tgt in ((0, 1), (1, 0)):
        for seed in anchor_seeds:
            idx = sample_anchors(len(train), 1000, seed)
            for method in METHODS:
                t = Translator(method, scaling="standard").fit(z_train[src][idx], z_train[tgt][idx])
                z = t.transform(z_test[src])
                lcos, lmse = lcos_lmse(z, z_test[tgt])
                rmse = float(reconstruction_mse(images, aes[tgt].decode(z)).mean())
                rows[method].append((lcos, lmse, rmse))
    out = {}
    for method, values in rows.items():
        a = np.asarray(values)
        out[method] = {
            name: {"mean": float(a[:, i].mean()), "std": float(a[:, i].std())}
            for i, name in enumerate(("lcos", "lmse", "rmse"))
        }
    return out


def markdown(res: dict) -> str:
    lines = [
        "# Table 3 analog against autoencoder training epochs (Fashion-MNIST, 500-d, 1,000 anchors)",
        "",
        f"`{res['command']}` on {res['machine']}; {res['git_revision']}. Mean over 2 directions x "
        f"{len(res['anchor_seeds'])} anchor seeds; standard scaling. Paper: Table 3, Fashion MNIST.",
        "",
        "| epochs | own test rmse (s0, s1) | " + " | ".join(f"{m} lcos" for m in METHODS) + " | ortho rmse | train s |",
        "|---|---|" + "---|" * (len(METHODS) + 2),
    ]
    for run in res["runs"]:
        c = run["cell"]
        own = ", ".join(f"{r:.4f}" for r in run["own_test_rmse"])
        cos = " | ".join(f"{c[m]['lcos']['mean']:.3f}" for m in METHODS)
        lines.append(
            f"| {run['epochs']} | {own} | {cos} | {c['ortho']['rmse']['mean']:.4f} | {run['train_seconds']:.0f} |"
        )
    lines.append("| paper | - | " + " | ".join(f"{PAPER[m]:.2f}" for m in METHODS) + " | 0.04 | - |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, nargs="+", default=[1, 2, 4, 10])
    parser.add_argument("--anchor-seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--threads", type=int, help="torch intra-op threads (default: torch's choice)")
    parser.add_argument("--train-subset", type=int, help="first N train images only (a quick check)")
    args = parser.parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    data = load_dataset("fashion_mnist_offline")
    train = np.asarray(data.train.inputs)[: args.train_subset]
    test = np.asarray(data.test.inputs)
    settings = OmegaConf.to_container(load_group_config("autoencoder", "cnn"), resolve=True)
    runs = []
    for epochs in args.epochs:
        start = time.perf_counter()
        aes = [
            CNNAutoencoder(**{**settings, "max_epochs": epochs}, bottleneck=500, seed=s, accelerator="cpu").fit(train)
            for s in (0, 1)
        ]
        seconds = time.perf_counter() - start
        run = {
            "epochs": epochs,
            "train_seconds": round(seconds, 1),
            "own_test_rmse": [float(reconstruction_mse(test, ae.reconstruct(test)).mean()) for ae in aes],
            "cell": cell(aes, train, test, args.anchor_seeds),
        }
        print({"epochs": epochs, "lcos": {m: round(run["cell"][m]["lcos"]["mean"], 3) for m in METHODS}}, flush=True)
        runs.append(run)
    res = {
        "dataset": "fashion_mnist_offline",
        "n_train": len(train),
        "n_test": len(test),
        "bottleneck": 500,
        "anchor_seeds": args.anchor_seeds,
        "settings": settings,
        "runs": runs,
        "paper_lcos": PAPER,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs shared with other jobs, "
        f"torch threads {torch.get_num_threads()}",
        "command": " ".join(["python benchmarks/table3_epochs.py", *(argv if argv is not None else sys.argv[1:])]),
        **provenance(),
    }
    stem = "table3_epochs" if args.train_subset is None else f"table3_epochs_subset{args.train_subset}"
    write_json_atomic(RESULTS / f"{stem}.json", res)
    write_text_atomic(RESULTS / f"{stem}.md", markdown(res))
    print(markdown(res))


if __name__ == "__main__":
    main()
