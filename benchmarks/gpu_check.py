"""GPU check: the offline zoo encodes the same items on cuda as on the CPU, and the stitching
engine runs on cuda with the CPU path's numbers. Run by benchmarks/gpu_check.sh (< 5 min on a GPU).

    .venv/bin/python benchmarks/gpu_check.py                  # cuda vs CPU (needs a GPU)
    .venv/bin/python benchmarks/gpu_check.py --dry            # CPU vs CPU: the same code, no GPU

Steps, each timed on both sides:
1. encode ``--images`` Fashion-MNIST train images (fashion_mnist_offline) with
   efficientnet_lite0 and ``--texts`` BBC News texts (64 tokens) with minilm_l3 and
   minilm_l6, on the device and on the CPU;
2. compare: per row, ||device - cpu|| / ||cpu||; the check passes when the largest is within
   ``--tolerance`` (default 5e-3: float32 kernels differ between CPU and GPU in summation
   order, and cuDNN may run convolutions in TF32, whose 10-bit mantissa gives relative errors
   near 1e-3; a real bug gives errors of order 1);
3. stitch the BBC News spaces (minilm_l3 <-> minilm_l6, SVM heads, affine / linear / ortho,
   standard scaling, 2 anchor seeds) with ``StitchSettings(device=<device>)`` and with the
   default numpy path; the check passes when every accuracy agrees within 2 test items and
   every latent metric within 1e-3.

Prints what it measured and writes it as JSON (``--out``). Exit status: 0 when every check
passes (or when there is no GPU and ``--dry`` was not asked: nothing to check, said so),
1 when a check fails.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")

import numpy as np  # noqa: E402
import torch  # noqa: E402

IMAGE_ENCODER, TEXT_ENCODERS = "efficientnet_lite0", ("minilm_l3", "minilm_l6")


def _encode(encoder_id: str, dataset, device: str, batch_size: int, max_tokens: int | None):
    from latentstitch.encoders import build_encoder, encode

    encoder = build_encoder(encoder_id, device=device)
    if max_tokens is not None and hasattr(encoder, "max_length"):
        encoder.max_length = min(encoder.max_length, max_tokens)
    start = time.perf_counter()
    train, _ = encode(dataset, encoder, "train", batch_size=batch_size, progress=False)
    test, _ = encode(dataset, encoder, "test", batch_size=batch_size, progress=False)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return train, test, time.perf_counter() - start


def _compare(a: np.ndarray, b: np.ndarray) -> dict[str, float]:
    rel = np.linalg.norm(a - b, axis=1) / np.maximum(np.linalg.norm(b, axis=1), 1e-12)
    return {
        "max_row_relative_error": float(rel.max()),
        "median_row_relative_error": float(np.median(rel)),
        "max_abs_difference": float(np.abs(a - b).max()),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--dry", action="store_true", help="CPU vs CPU (no GPU needed): checks the script itself")
    parser.add_argument("--device", default="cuda", help="the device to check (default cuda)")
    parser.add_argument("--images", type=int, default=2000)
    parser.add_argument("--texts", type=int, default=1000)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--tolerance", type=float, default=5e-3)
    parser.add_argument("--out", default=None, help="write the measurements here as JSON")
    args = parser.parse_args(argv)

    device = "cpu" if args.dry else args.device
    if not args.dry and not torch.cuda.is_available():
        print(
            f"gpu_check: no CUDA device visible to torch {torch.__version__} (cuda build: "
            f"{torch.version.cuda}); nothing to check here. On a GPU machine run it again; "
            f"`--dry` runs the same code CPU vs CPU."
        )
        return 0

    from latentstitch.data import load_dataset, sample_anchors
    from latentstitch.decoders import SVMHead
    from latentstitch.stitching import Decoder, Space, StitchSettings, stitch

    report: dict = {
        "device": device,
        "dry": args.dry,
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "gpu": torch.cuda.get_device_name(0) if device.startswith("cuda") else None,
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
        "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "tolerance": args.tolerance,
        "argv": sys.argv[1:],
        "encode": {},
        "stitch": {},
        "failures": [],
    }
    images = load_dataset("fashion_mnist_offline", subset={"train": args.images, "test": max(10, args.images // 4)})
    texts = load_dataset(
        "bbc_news", subset={"train": min(args.texts, 1780), "test": max(10, min(args.texts // 4, 445))}
    )
    spaces = {}
    for encoder_id, dataset, max_tokens in ((IMAGE_ENCODER, images, None), *((e, texts, 64) for e in TEXT_ENCODERS)):
        dev = _encode(encoder_id, dataset, device, args.batch_size, max_tokens)
        cpu = _encode(encoder_id, dataset, "cpu", args.batch_size, max_tokens)
        cmp = {
            **_compare(np.concatenate(dev[:2]), np.concatenate(cpu[:2])),
            "items": len(dev[0]) + len(dev[1]),
            "device_seconds": dev[2],
            "cpu_seconds": cpu[2],
            "cpu_over_device": cpu[2] / dev[2],
        }
        report["encode"][f"{dataset.name}/{encoder_id}"] = cmp
        if cmp["max_row_relative_error"] > args.tolerance:
            report["failures"].append(
                f"encode {dataset.name}/{encoder_id}: row error "
                f"{cmp['max_row_relative_error']:.2e} > {args.tolerance:.0e}"
            )
        if dataset is texts:
            spaces[encoder_id] = Space(encoder_id, cpu[0], cpu[1])

    y_train, y_test = texts.train.labels, texts.test.labels
    decoders = [Decoder.head("svm", name, SVMHead().fit(s.train, y_train)) for name, s in spaces.items()]
    anchors = min(500, len(y_train))
    tables = {}
    for side, stitch_device in (("device", device), ("default", None)):
        settings = StitchSettings(
            methods=["affine", "linear", "ortho"],
            scalings=["standard"],
            anchor_counts=[anchors],
            seeds=[0, 1],
            device=stitch_device,
        )
        start = time.perf_counter()
        tables[side] = stitch(
            list(spaces.values()),
            decoders,
            settings,
            y_test=y_test,
            anchor_indices=lambda count, seed: sample_anchors(y_train, count, seed),
        )
        report["stitch"][f"{side}_seconds"] = time.perf_counter() - start
        report["stitch"][f"{side}_phases"] = tables[side].attrs["seconds"]
    key = ["source", "target", "decoder", "method", "scaling", "anchors", "seed", "metric"]
    merged = tables["device"].merge(tables["default"], on=key, suffixes=("_device", "_default"))
    diff = (merged.value_device - merged.value_default).abs()
    accuracy = merged.metric == "accuracy"
    report["stitch"].update(
        {
            "rows": len(merged),
            "anchors": anchors,
            "max_accuracy_difference": float(diff[accuracy].max()),
            "max_latent_difference": float(diff[merged.metric.isin(["lcos", "lmse"])].max()),
            "test_items": len(y_test),
        }
    )
    if len(merged) != len(tables["default"]):
        report["failures"].append("stitch: the device and default tables have different rows")
    if report["stitch"]["max_accuracy_difference"] > 2 / len(y_test) + 1e-12:
        report["failures"].append(f"stitch: accuracy differs by {report['stitch']['max_accuracy_difference']:.4f}")
    if report["stitch"]["max_latent_difference"] > 1e-3:
        report["failures"].append(f"stitch: lcos/lmse differ by {report['stitch']['max_latent_difference']:.2e}")

    print(
        f"gpu_check on {device}{' (dry run: CPU vs CPU)' if args.dry else ''}: {report['gpu'] or platform.machine()}, "
        f"torch {torch.__version__}, tolerance {args.tolerance:.0e} (row relative L2 error)"
    )
    for name, cmp in report["encode"].items():
        print(
            f"  encode {name}: {cmp['items']} items, max row error {cmp['max_row_relative_error']:.2e}, "
            f"{device} {cmp['device_seconds']:.1f} s vs cpu {cmp['cpu_seconds']:.1f} s "
            f"({cmp['cpu_over_device']:.1f}x)"
        )
    s = report["stitch"]
    print(
        f"  stitch {s['rows']} rows at {s['anchors']} anchors: {device} {s['device_seconds']:.2f} s vs default "
        f"{s['default_seconds']:.2f} s; max accuracy difference {s['max_accuracy_difference']:.4f}, "
        f"max lcos/lmse difference {s['max_latent_difference']:.2e}"
    )
    print("  PASS" if not report["failures"] else "  FAIL: " + "; ".join(report["failures"]))
    if args.out:
        from latentstitch.io import write_json_atomic

        write_json_atomic(args.out, report)
    return 1 if report["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
