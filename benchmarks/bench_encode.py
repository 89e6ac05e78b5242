"""Encoding overhead and the padding saved by length sorting (issue 3, "Performance").

    .venv/bin/python benchmarks/bench_encode.py                  # both benchmarks
    .venv/bin/python benchmarks/bench_encode.py --only image     # one; results are merged

Overhead: wall time of ``encode()`` (tokenization or image transforms, batching, progress bar,
copies) over the bare ``Encoder.forward`` (model + pooling) on the same batches, collated
beforehand in the same order: minilm_l6 on 2,000 BBC News texts, efficientnet_lite0 on 2,000
Fashion-MNIST images; target <= 1.15. The two are timed alternately, ``--repeats`` times
(the machine is shared); we report the paired per-repeat ratios, their median and the
ratio of the fastest runs.
Padding: tokens a model processes (batch width x batch size, summed) with batches in input
order against batches sorted by length, at several batch sizes, on the same 2,000 texts.
Also the time for a missing hub model to fail with HF_HUB_OFFLINE=1 (target < 2 s), from a
fresh interpreter.
Writes benchmarks/results/encode.json and encode.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from latentstitch.data import load_dataset  # noqa: E402
from latentstitch.data.base import Dataset, Split  # noqa: E402
from latentstitch.encoders import build_encoder, encode  # noqa: E402
from latentstitch.io import write_json_atomic, write_text_atomic  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"
N_ITEMS, BATCH_SIZE, TARGET = 2000, 32, 1.15
PADDING_BATCH_SIZES = (16, 32, 64)


def bbc_texts() -> list[str]:
    dataset = load_dataset("bbc_news")
    return (list(dataset.train.inputs) + list(dataset.test.inputs))[:N_ITEMS]


def fashion_images() -> np.ndarray:
    return load_dataset("fashion_mnist_offline", subset={"train": N_ITEMS}).train.inputs


def overhead(encoder, inputs, modality: str, repeats: int) -> dict:
    n = len(inputs)
    dataset = Dataset(
        name="bench",
        modality=modality,
        train=Split(inputs, np.zeros(n, dtype=np.int64)),
        test=Split(inputs[:0], np.zeros(0, dtype=np.int64)),
        class_names=["x"],
    )
    # The batches encode() builds: one chunk (n < chunk size), sorted by length for text.
    features = encoder.features(inputs)
    lengths = encoder.lengths(features)
    order = np.argsort(-lengths, kind="stable") if lengths is not None else np.arange(n)
    batches = [encoder.collate(features, order[s : s + BATCH_SIZE]) for s in range(0, n, BATCH_SIZE)]

    def bare() -> float:
        began = time.perf_counter()
        with torch.inference_mode():
            for batch in batches:
                encoder.forward(batch)
        return time.perf_counter() - began

    def full() -> float:
        began = time.perf_counter()
        encode(dataset, encoder, "train", batch_size=BATCH_SIZE, progress=True)
        return time.perf_counter() - began

    with torch.inference_mode():
        encoder.forward(batches[0])  # warm-up (kernel selection, allocations)
    bare_times, encode_times = [], []
    for repeat in range(repeats):
        # Alternate which goes first, so drift in machine load hits both alike.
        if repeat % 2 == 0:
            bare_times.append(bare())
            encode_times.append(full())
        else:
            encode_times.append(full())
            bare_times.append(bare())
    ratios = [e / b for e, b in zip(encode_times, bare_times)]
    # The fastest run of each is the one least disturbed by other jobs on the shared machine.
    ratio_min = min(encode_times) / min(bare_times)
    return {
        "encoder": encoder.id,
        "items": n,
        "batch_size": BATCH_SIZE,
        "repeats": repeats,
        "encode_seconds": [round(t, 2) for t in encode_times],
        "bare_forward_seconds": [round(t, 2) for t in bare_times],
        "paired_ratios": [round(r, 3) for r in ratios],
        "ratio_median": round(statistics.median(ratios), 3),
        "ratio_of_fastest": round(ratio_min, 3),
        "target": TARGET,
        "meets_target": ratio_min <= TARGET,
    }


def padding(encoder, texts: list[str]) -> dict:
    """Tokens processed in input order vs sorted, at minilm_l6's max_length and at 512 (Table 7's
    BERT-family encoders), from one untruncated tokenization clipped at each length."""
    full = encoder.tokenizer(texts, truncation=False, return_attention_mask=False, verbose=False)["input_ids"]
    untruncated = np.array([len(ids) for ids in full])
    rows = {}
    for max_length in (encoder.max_length, 512):
        lengths = np.minimum(untruncated, max_length)
        for batch_size in PADDING_BATCH_SIZES:

            def processed(order: np.ndarray) -> int:
                return int(
                    sum(
                        lengths[order[s : s + batch_size]].max() * len(order[s : s + batch_size])
                        for s in range(0, len(order), batch_size)
                    )
                )

            unsorted, sorted_ = processed(np.arange(len(texts))), processed(np.argsort(-lengths, kind="stable"))
            rows[f"max_length={max_length},batch_size={batch_size}"] = {
                "max_length": max_length,
                "batch_size": batch_size,
                "real_tokens": int(lengths.sum()),
                "processed_unsorted": unsorted,
                "processed_sorted": sorted_,
                "padding_unsorted": round(float(1 - lengths.sum() / unsorted), 4),
                "padding_sorted": round(float(1 - lengths.sum() / sorted_), 4),
                "tokens_saved": round(float(1 - sorted_ / unsorted), 4),
            }
    return {
        "tokenizer": encoder.id,
        "texts": len(texts),
        "mean_untruncated_tokens": round(float(untruncated.mean()), 1),
        "rows": rows,
    }


def unavailable_model_seconds() -> dict:
    code = (
        "import time; t = time.perf_counter()\n"
        "from latentstitch.encoders import build_encoder, EncoderUnavailableError\n"
        "try:\n    build_encoder('bert_base_cased')\nexcept EncoderUnavailableError:\n"
        "    print(time.perf_counter() - t)\n"
    )
    with tempfile.TemporaryDirectory() as empty_cache:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_CACHE": empty_cache}
        began = time.perf_counter()
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    return {
        "import_and_fail_seconds": round(float(out.stdout.strip()), 3),
        "process_seconds": round(time.perf_counter() - began, 3),
        "target": 2.0,
    }


def markdown(results: dict) -> str:
    lines = ["# Encoding benchmark (issue 3)", "", f"Machine: {results['machine']}.", ""]
    if "overhead" in results:
        lines += [
            "## Overhead: encode() / bare forward on the same batches (target <= 1.15)",
            "",
            "Runs alternate; paired ratios per repeat, their median, and the ratio of the fastest "
            "runs (least disturbed by other jobs on the shared machine).",
            "",
            "| encoder | data | items | encode s | bare forward s | paired ratios | median | fastest/fastest "
            "| command (load avg) |",
            "|---|---|---|---|---|---|---|---|---|",
        ]
        for name, row in results["overhead"].items():
            lines.append(
                f"| {row['encoder']} | {name} | {row['items']} | {row['encode_seconds']} | "
                f"{row['bare_forward_seconds']} | {row['paired_ratios']} | {row['ratio_median']} | "
                f"{row['ratio_of_fastest']} | `{row['command']}` ({row['load_average_at_start']}) |"
            )
        lines.append("")
    if "padding" in results:
        pad = results["padding"]
        lines += [
            f"## Padding on BBC News ({pad['texts']} texts, {pad['tokenizer']}'s tokenizer, "
            f"{pad['mean_untruncated_tokens']} tokens on average before truncation)",
            "",
            "| max_length | batch size | tokens processed, input order | sorted by length | tokens saved |",
            "|---|---|---|---|---|",
        ]
        for row in pad["rows"].values():
            lines.append(
                f"| {row['max_length']} | {row['batch_size']} | {row['processed_unsorted']} "
                f"({row['padding_unsorted']:.1%} padding) | {row['processed_sorted']} "
                f"({row['padding_sorted']:.1%} padding) | {row['tokens_saved']:.1%} |"
            )
        lines.append("")
    if "unavailable_model" in results:
        row = results["unavailable_model"]
        lines += [
            "## A missing hub model with HF_HUB_OFFLINE=1 (target < 2 s)",
            "",
            f"Import + failure: {row['import_and_fail_seconds']} s; whole fresh process: {row['process_seconds']} s.",
            "",
        ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=["text", "image"], help="run one overhead benchmark")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    json_path = RESULTS / "encode.json"
    results = json.loads(json_path.read_text()) if json_path.exists() else {}
    results.setdefault("overhead", {})
    results["machine"] = (
        f"{platform.machine()}, {os.cpu_count()} CPUs (shared), torch threads {torch.get_num_threads()}"
    )
    # Each result records the command that produced it (runs with --only are merged).
    run = {
        "command": " ".join(["python benchmarks/bench_encode.py", *(sys.argv[1:] if argv is None else argv)]),
        "load_average_at_start": round(os.getloadavg()[0], 1),
    }
    results["unavailable_model"] = {**unavailable_model_seconds(), **run}
    if args.only in (None, "image"):
        encoder = build_encoder("efficientnet_lite0", device="cpu")
        results["overhead"]["fashion_mnist_offline"] = {
            **overhead(encoder, fashion_images(), "image", args.repeats),
            **run,
        }
        del encoder
    if args.only in (None, "text"):
        encoder = build_encoder("minilm_l6", device="cpu")
        texts = bbc_texts()
        results["padding"] = {**padding(encoder, texts), **run}
        results["overhead"]["bbc_news"] = {**overhead(encoder, texts, "text", args.repeats), **run}
    write_json_atomic(json_path, results)
    write_text_atomic(RESULTS / "encode.md", markdown(results))
    print(markdown(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
