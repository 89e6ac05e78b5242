"""What the paper suite costs to encode (issue 6): items per dataset x encoder, FLOPs per item,
CPU seconds measured here, GPU hours from published GPU throughput (docs/paper_suite.md).

    .venv/bin/python benchmarks/paper_cost.py          # ~2-3 minutes on one CPU thread

No hub is needed: every Table 7 encoder is built at its real size from its architecture with
random weights (timm ``pretrained=False``; transformers configs with the hub models' published
sizes), which costs the same FLOPs as the pretrained one. Per encoder it

- counts the FLOPs of one item (``torch.utils.flop_counter``: matmuls, convolutions and
  attention, 2 FLOPs per multiply-add), for text at each dataset's assumed mean token count;
- times a forward on this machine, one thread (measured CPU seconds per item; text at 128
  tokens), and scales it to each dataset by FLOPs;
- times the image transform (resize + crop + normalize, on the CPU before the model in the
  encode stage) for 28 x 28 grayscale and 32 x 32 RGB inputs (measured).

GPU seconds per item come from published throughput: timm's own inference benchmark on an
RTX 3090 (PUBLISHED below: images/s, AMP, batch 1024), and, for the language models, the
same benchmark's ViT-B/16 rate in FLOP/s applied to their FLOPs (ViT-B/16 and BERT-base share
depth, width and MLP size). The encode stage runs float32 (``encode.amp: false``); FP32_SLOWDOWN
is the assumed cost of that against AMP. Item counts: the official split sizes (SPLIT_SIZES,
as the conf/dataset comments state them) with the paper suite's subsets applied.
Writes benchmarks/results/paper_cost.json and paper_cost.md.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import numpy as np  # noqa: E402
import torch  # noqa: E402

from latentstitch.config import CONF_DIR, load_group_config  # noqa: E402
from latentstitch.encoders.spec import load_spec  # noqa: E402
from latentstitch.encoders.vision import ImageTransform  # noqa: E402
from latentstitch.io import write_json_atomic, write_text_atomic  # noqa: E402

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results"

# Official (train, test) sizes; N24News: 60,738 articles, our seeded 90/10 split (conf/dataset).
SPLIT_SIZES = {
    "mnist": (60_000, 10_000),
    "fashion_mnist": (60_000, 10_000),
    "cifar10": (50_000, 10_000),
    "cifar100_coarse": (50_000, 10_000),
    "cifar100_fine": (50_000, 10_000),
    "trec": (5_452, 500),
    "ag_news": (120_000, 7_600),
    "dbpedia_14": (560_000, 70_000),
    "imdb": (25_000, 25_000),
    "n24news_text": (54_664, 6_074),
    "n24news_image": (54_664, 6_074),
}
# ASSUMED mean tokens per text after each model's truncation (BERT-like WordPiece/BPE, with
# special tokens): TREC questions ~10 words, AG News title + description ~40, DBpedia
# abstracts ~50, IMDB reviews ~230 words (capped at 512 tokens; CLIP at 77), N24News
# abstracts ~25. Not measured here (the data is on the hub); IMDB dominates the text cost.
MEAN_TOKENS = {"trec": 16, "ag_news": 64, "dbpedia_14": 80, "imdb": 300, "n24news_text": 40}
# PUBLISHED GPU throughput, images/s: timm results/benchmark-infer-amp-nchw-pt240-cu124-rtx3090.csv
# (github.com/huggingface/pytorch-image-models, RTX 3090, PyTorch 2.4, AMP, batch 1024; the
# r50 hybrid at batch 768). CLIP ViT-B/32's tower: timm's vit_base_patch32_clip_224.
PUBLISHED = {
    "rexnet_100": 6759.37,
    "cspdarknet53": 1989.31,
    "vit_small_patch16_224": 4584.86,
    "vit_base_patch16_224": 1570.66,
    "vit_base_patch16_384": 509.98,
    "vit_base_resnet50_384": 334.22,
    "clip_vit_b32_vision": 5090.11,
}
PUBLISHED_SOURCE = "timm benchmark-infer-amp-nchw-pt240-cu124-rtx3090.csv (RTX 3090, AMP)"
# ASSUMED: float32 runs at half the AMP rate (RTX 3090: 35.6 TFLOPS fp32 vs 71 fp16 tensor).
FP32_SLOWDOWN = 2.0
CPU_TEXT_TOKENS, CPU_TEXT_BATCH, CPU_IMAGE_BATCH = 128, 8, 4
# ASSUMED size of an N24News picture (JPEG decoded, then transformed); the release is not here.
PHOTO, PHOTO_SIZE, PHOTOS = "600x400 jpeg", (400, 600, 3), 8


def paper_config():
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        return compose(config_name="config", overrides=["suite=paper"])


def text_model(spec):
    """The hub model's architecture at its published size, random weights. The vocabulary is
    cut to 1,000 rows: an embedding lookup costs no FLOPs, and XLM-R's 250k rows cost memory."""
    import transformers as tf

    base = dict(vocab_size=1000)
    if spec.arch in ("bert", "roberta", "xlm-roberta"):  # the config defaults are the base size
        cls = {"bert": tf.BertConfig, "roberta": tf.RobertaConfig, "xlm-roberta": tf.XLMRobertaConfig}[spec.arch]
        config = cls(**base, max_position_embeddings=514 if spec.arch != "bert" else 512)
        model = {"bert": tf.BertModel, "roberta": tf.RobertaModel, "xlm-roberta": tf.XLMRobertaModel}[spec.arch]
    elif spec.arch == "electra":  # google/electra-base-discriminator
        config, model = (
            tf.ElectraConfig(
                **base,
                embedding_size=768,
                hidden_size=768,
                num_hidden_layers=12,
                num_attention_heads=12,
                intermediate_size=3072,
            ),
            tf.ElectraModel,
        )
    elif spec.arch == "albert":  # albert-base-v2
        config, model = (
            tf.AlbertConfig(
                **base,
                embedding_size=128,
                hidden_size=768,
                num_hidden_layers=12,
                num_attention_heads=12,
                intermediate_size=3072,
            ),
            tf.AlbertModel,
        )
    elif spec.arch == "clip":
        # the defaults are openai/clip-vit-base-patch32's text tower, vocabulary included (its
        # pooling looks up the end-of-text token id)
        config, model = tf.CLIPTextConfig(), tf.CLIPTextModel
    else:
        raise ValueError(f"no published size for text architecture {spec.arch!r}")
    return model(config).eval(), config.hidden_size


def vision_model(spec):
    """The encoder at its real size (random weights) and its image transform."""
    if spec.family == "clip_vision":  # the defaults are openai/clip-vit-base-patch32's vision tower
        import transformers as tf

        model = tf.CLIPVisionModel(tf.CLIPVisionConfig()).eval()
        return (
            (lambda x: model(pixel_values=x).pooler_output),
            ImageTransform.from_clip_processor(tf.CLIPImageProcessor()),
            model.config.hidden_size,
        )
    import timm

    model = timm.create_model(spec.arch, pretrained=False, num_classes=0).eval()
    transform = ImageTransform.from_timm(timm.data.resolve_data_config({}, model=model))
    return model, transform, model.num_features


def photo_jpegs() -> list[bytes]:
    import io

    from PIL import Image

    rng = np.random.default_rng(1)
    files = []
    for _ in range(PHOTOS):
        # a smooth picture (noise would not compress like a photograph)
        small = rng.integers(0, 256, size=(PHOTO_SIZE[0] // 20, PHOTO_SIZE[1] // 20, 3), dtype=np.uint8)
        buffer = io.BytesIO()
        Image.fromarray(small).resize(PHOTO_SIZE[1::-1], Image.BILINEAR).save(buffer, format="JPEG", quality=90)
        files.append(buffer.getvalue())
    return files


def _decoded(data: bytes) -> np.ndarray:
    import io

    from PIL import Image

    with Image.open(io.BytesIO(data)) as image:
        return np.array(image.convert("RGB"), dtype=np.uint8)


def flops_of(fn, *args) -> float:
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with torch.inference_mode(), counter:
        fn(*args)
    return float(counter.get_total_flops())


def seconds_of(fn, *args, repeats: int = 2) -> float:
    best = float("inf")
    with torch.inference_mode():
        fn(*args)  # warm-up (allocations, kernel selection)
        for _ in range(repeats):
            start = time.perf_counter()
            fn(*args)
            best = min(best, time.perf_counter() - start)
    return best


def text_inputs(length: int, batch: int) -> dict:
    ids = torch.randint(5, 1000, (batch, length))
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}


def measure_encoders(encoders: list[str], text_lengths: list[int]) -> dict:
    out = {}
    for encoder in encoders:
        spec = load_spec(encoder)
        torch.manual_seed(0)
        if spec.family in ("hf_text", "clip_text"):
            model, dim = text_model(spec)
            cap = int(spec.max_length)
            flops = {n: flops_of(lambda b: model(**b), text_inputs(min(n, cap), 1)) for n in text_lengths}
            cpu = seconds_of(lambda b: model(**b), text_inputs(min(CPU_TEXT_TOKENS, cap), CPU_TEXT_BATCH))
            ref = flops_of(lambda b: model(**b), text_inputs(min(CPU_TEXT_TOKENS, cap), 1))
            out[encoder] = {
                "modality": "text",
                "dim": dim,
                "max_length": cap,
                "gflops_per_item": {str(n): f / 1e9 for n, f in flops.items()},
                "cpu_gflops_per_s": ref * CPU_TEXT_BATCH / cpu / 1e9,
            }
        else:
            model, transform, dim = vision_model(spec)
            x = torch.randn(1, 3, transform.crop, transform.crop)
            flops = flops_of(model, x)
            cpu = seconds_of(model, x.repeat(CPU_IMAGE_BATCH, 1, 1, 1))
            prep = {}
            rng = np.random.default_rng(0)
            for name, shape in (("28x28 gray", (64, 28, 28)), ("32x32 rgb", (64, 32, 32, 3))):
                prep[name] = seconds_of(transform, rng.integers(0, 256, size=shape, dtype=np.uint8)) / shape[0]
            prep[PHOTO] = seconds_of(lambda files: transform([_decoded(f) for f in files]), photo_jpegs()) / PHOTOS
            out[encoder] = {
                "modality": "image",
                "dim": dim,
                "input": transform.crop,
                "gflops_per_item": flops / 1e9,
                "cpu_s_per_item": cpu / CPU_IMAGE_BATCH,
                "cpu_preprocess_s_per_item": prep,
            }
        print(encoder, out[encoder], flush=True)
    return out


def cost_table(suite: dict, measured: dict) -> list[dict]:
    vit_b_flops = measured["vit_base_patch16_224"]["gflops_per_item"] * 1e9
    text_gpu_flops_per_s = PUBLISHED["vit_base_patch16_224"] * vit_b_flops  # published AMP rate in FLOP/s
    rows = []
    for dataset, dcfg in suite["datasets"].items():
        train, test = SPLIT_SIZES[dataset]
        subset = dcfg.get("subset") or {}
        items = (subset.get("train") or train) + (subset.get("test") or test)
        for encoder in dcfg.get("encoders") or []:
            m = measured[encoder]
            if m["modality"] == "text":
                tokens = min(MEAN_TOKENS[dataset], m["max_length"])
                gflops = m["gflops_per_item"][str(MEAN_TOKENS[dataset])]
                cpu_s = gflops / m["cpu_gflops_per_s"]
                gpu_amp_s = gflops * 1e9 / text_gpu_flops_per_s
                prep_s = 0.0
            else:
                tokens = None
                gflops = m["gflops_per_item"]
                cpu_s = m["cpu_s_per_item"]
                gpu_amp_s = 1.0 / PUBLISHED[encoder]
                kind = PHOTO if dataset == "n24news_image" else "32x32 rgb" if "cifar" in dataset else "28x28 gray"
                prep_s = m["cpu_preprocess_s_per_item"][kind]
            rows.append(
                {
                    "dataset": dataset,
                    "encoder": encoder,
                    "items": items,
                    "mean_tokens": tokens,
                    "gflops_per_item": gflops,
                    "pflops": items * gflops / 1e6,
                    "cpu_hours_1_thread": items * cpu_s / 3600,
                    "gpu_hours_amp": items * gpu_amp_s / 3600,
                    "gpu_hours_fp32": items * gpu_amp_s * FP32_SLOWDOWN / 3600,
                    "preprocess_cpu_hours_1_thread": items * prep_s / 3600,
                }
            )
    return rows


def _measured_primitives() -> dict:
    """Measured on this machine by the other benchmarks (their results files)."""
    svm = json.loads((RESULTS / "svm_heads.json").read_text())["pixels:fashion_mnist_offline[60000/10000]"]
    ae = json.loads((RESULTS / "autoencoder.json").read_text())
    translate = json.loads((RESULTS / "translate.json").read_text())["timings_ms"]
    return {
        "svc_seconds": svm["heads"]["svm"]["fit_seconds"],
        "svc_n": svm["n_train"],
        "svc_dim": svm["dim"],
        "ae_epoch_seconds": float(np.mean([r["mean_epoch_seconds"] for r in ae["runs"]])),
        "ae_n": ae["n_train"],
        "fit_seconds": {m: translate[f"ours {m}"]["median"] / 1000 for m in ("affine", "linear", "l-ortho", "ortho")},
    }


def cpu_side(suite_cfg, measured: dict) -> dict:
    """Hours of the stages that run on the CPU whatever the machine (SVC heads, translator fits)
    and of autoencoder training on this CPU, extrapolated from measured primitives (ASSUMED
    scaling: SVC time ~ n^2 x dim, libsvm's kernel evaluations; fits as measured at 1000 x 768
    and 10,000 points on 2 threads; autoencoder epochs ~ n)."""
    from latentstitch.data.pairing import cross_modal_pairs
    from latentstitch.plan import anchor_plan, stitch_settings

    p = _measured_primitives()
    pairs = {a: [b] for a, b in cross_modal_pairs(suite_cfg.suite.datasets)}
    out = {}
    for dataset, dcfg in suite_cfg.suite.datasets.items():
        train = (dcfg.get("subset") or {}).get("train") or SPLIT_SIZES[dataset][0]
        encoders = list(dcfg.get("encoders") or [])
        svc = fits = affine = ae = 0.0
        settings = stitch_settings(suite_cfg, dataset)
        plan = anchor_plan(suite_cfg, dataset)
        if "svm" in (dcfg.get("heads") or []):
            dims = [measured[e]["dim"] for e in encoders]
            if "relative" in settings.methods:
                dims += [c for c in plan.counts for _ in plan.seeds for _ in encoders]
            svc = sum(p["svc_seconds"] * (train / p["svc_n"]) ** 2 * d / p["svc_dim"] for d in dims)
        per_setting = sum(p["fit_seconds"].get(m, 0.0) for m in settings.methods)
        settings_count = len(settings.scalings) * len(plan.counts) * len(plan.seeds)
        fits = len(encoders) * (len(encoders) - 1) * settings_count * per_setting
        affine = (
            len(encoders)
            * (len(encoders) - 1)
            * settings_count
            * p["fit_seconds"]["affine"]
            * ("affine" in settings.methods)
        )
        partner = (pairs.get(dataset) or [None])[0]
        if partner is not None:  # the cross-modal grid: every encoder of both into every head of both
            k = len(encoders) + len(suite_cfg.suite.datasets[partner].encoders)
            fits += k * (k - 1) * settings_count * per_setting
            affine += k * (k - 1) * settings_count * p["fit_seconds"]["affine"] * ("affine" in settings.methods)
        grid = dcfg.get("autoencoders")
        if grid:
            rec = stitch_settings(suite_cfg, dataset, "reconstruction")
            family = len(grid.bottlenecks) * len(grid.seeds)
            per_setting = sum(p["fit_seconds"].get(m, 0.0) for m in rec.methods)
            rec_count = (
                len(grid.l2) * family * (family - 1) * len(rec.scalings) * len(rec.anchor_counts) * len(rec.seeds)
            )
            fits += rec_count * per_setting
            affine += rec_count * p["fit_seconds"]["affine"] * ("affine" in rec.methods)
            epochs = load_group_config("autoencoder", grid.get("config", "cnn")).max_epochs
            ae = len(grid.l2) * family * epochs * p["ae_epoch_seconds"] * train / p["ae_n"]
        out[dataset] = {
            "svc_heads_cpu_hours": svc / 3600,
            "translator_fits_cpu_hours": fits / 3600,
            "affine_fits_cpu_hours": affine / 3600,
            "autoencoders_cpu_hours": ae / 3600,
            "autoencoder_steps": (
                len(grid.l2)
                * len(grid.bottlenecks)
                * len(grid.seeds)
                * epochs
                * -(-train // int(load_group_config("autoencoder", grid.get("config", "cnn")).batch_size))
                if grid
                else 0
            ),
        }
    return {"primitives": p, "datasets": out}


# One machine with one GPU and 16 cores (issue 17). What could not be measured here (no GPU,
# 2 shared cores) is ASSUMED, each value with its source:
MACHINE_CORES = 16
# Independent CPU-bound processes (heads, one-vs-one subproblems) on a dedicated 16-core
# machine: 80% of ideal (memory bandwidth and the last, uneven jobs). Not measurable on this
# machine's 2 shared cores (load ~10 during the run: heads_parallel.json).
ASSUMED_PARALLEL_EFFICIENCY = 0.8
# Affine's Adam on the GPU: FLOPs / (fp32 peak x utilization). Peak: RTX 3090 fp32, 35.6
# TFLOPS (NVIDIA's published spec, the card of the published encoder rates); utilization 30%
# for (d2, 769) x (769, 769) GEMMs and an elementwise Adam step per iteration.
ASSUMED_GPU_FP32_FLOPS, ASSUMED_GPU_UTILIZATION = 35.6e12, 0.3
# The other fits (least squares, SVDs of 1000 x 768 matrices: LAPACK or cuSOLVER) run 4x the
# measured 2-thread rate on 16 cores or the GPU: half of linear scaling from 2 to 16 threads.
ASSUMED_OTHER_FITS_SPEEDUP = 4.0
# A Lightning training step of the CNN autoencoder on a GPU (batch 128 of 28-32 px images, ~40
# kernel launches, Adam, Lightning's per-step bookkeeping), batches fed by one tensor index.
ASSUMED_AE_STEP_SECONDS_GPU = 0.002
# Encode jobs at a time sharing the GPU (latentstitch.fanout --cluster local --jobs 4), so
# that image transforms on the CPU overlap other jobs' GPU work.
FANOUT_JOBS = 4


def one_gpu_machine(rows: list[dict], cpu: dict) -> dict:
    """Wall hours of the whole suite on one machine with one GPU and 16 cores: phases summed
    (no overlap between them counted, though fan-out overlaps heads with encoding)."""
    p = cpu["primitives"]
    gpu = sum(r["gpu_hours_fp32"] for r in rows)
    transform = sum(r["preprocess_cpu_hours_1_thread"] for r in rows)
    total = {
        k: sum(c[k] for c in cpu["datasets"].values())
        for k in (
            "svc_heads_cpu_hours",
            "translator_fits_cpu_hours",
            "affine_fits_cpu_hours",
            "autoencoders_cpu_hours",
            "autoencoder_steps",
        )
    }
    # affine at the measured size (1000 anchors x 768 -> 768, 300 steps): 2 (d1 + 1)^2 d2 per step
    affine_flops = 300 * 2 * 769**2 * 768
    affine_gpu_s = affine_flops / (ASSUMED_GPU_FP32_FLOPS * ASSUMED_GPU_UTILIZATION)
    affine_speedup = p["fit_seconds"]["affine"] / affine_gpu_s
    phases = {
        "encoding (GPU fp32; transforms on the CPU overlapped by fan-out)": max(gpu, (gpu + transform) / FANOUT_JOBS),
        "SVC heads and relative heads (16 cores, heads and one-vs-one in parallel)": total["svc_heads_cpu_hours"]
        / (MACHINE_CORES * ASSUMED_PARALLEL_EFFICIENCY),
        "translator fits, affine (GPU)": total["affine_fits_cpu_hours"] / affine_speedup,
        "translator fits, other methods (GPU / 16 cores)": (
            total["translator_fits_cpu_hours"] - total["affine_fits_cpu_hours"]
        )
        / ASSUMED_OTHER_FITS_SPEEDUP,
        "autoencoders (GPU, Lightning)": total["autoencoder_steps"] * ASSUMED_AE_STEP_SECONDS_GPU / 3600,
    }
    return {
        "phases_hours": phases,
        "total_hours": sum(phases.values()),
        "affine_gpu_seconds_per_fit": affine_gpu_s,
        "affine_speedup_assumed": affine_speedup,
        "cpu_hours_before": total,
        "assumptions": {
            "cores": MACHINE_CORES,
            "parallel_efficiency": ASSUMED_PARALLEL_EFFICIENCY,
            "gpu_fp32_flops": ASSUMED_GPU_FP32_FLOPS,
            "gpu_utilization": ASSUMED_GPU_UTILIZATION,
            "other_fits_speedup": ASSUMED_OTHER_FITS_SPEEDUP,
            "ae_step_seconds_gpu": ASSUMED_AE_STEP_SECONDS_GPU,
            "fanout_jobs": FANOUT_JOBS,
        },
    }


def markdown(rows: list[dict], measured: dict, meta: dict, cpu: dict) -> str:
    lines = [
        "# Paper suite: encoding cost (issue 6)",
        "",
        f"Command: `{meta['command']}`. Machine: {meta['machine']}, torch threads 1, load average "
        f"{meta['load_average']}. GPU rates: {PUBLISHED_SOURCE}; float32 assumed "
        f"{FP32_SLOWDOWN:g}x slower.",
        "",
        "## Per encoder (measured here, real-size architectures with random weights)",
        "",
        "| encoder | dim | GFLOPs per item | CPU s per item (1 thread) | image transform ms per item (28 gray / 32 rgb / photo) |",
        "|---|---|---|---|---|",
    ]
    for encoder, m in measured.items():
        if m["modality"] == "text":
            g = ", ".join(f"{v:.1f} @ {n} tok" for n, v in m["gflops_per_item"].items())
            speed = f"{m['cpu_gflops_per_s']:.0f} GFLOP/s"
            prep = "–"
        else:
            g = f"{m['gflops_per_item']:.2f} @ {m['input']} px"
            speed = f"{m['cpu_s_per_item']:.3f}"
            p = m["cpu_preprocess_s_per_item"]
            prep = f"{1000 * p['28x28 gray']:.2f} / {1000 * p['32x32 rgb']:.2f} / {1000 * p[PHOTO]:.1f}"
        lines.append(f"| {encoder} | {m['dim']} | {g} | {speed} | {prep} |")
    lines += [
        "",
        "## Per dataset (items = train + test with the suite's subsets)",
        "",
        "| dataset | encoders | items per encoder | encodings | PFLOPs | CPU h (1 thread) | GPU h AMP | GPU h fp32 | image transform CPU h |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    frame = {}
    for r in rows:
        f = frame.setdefault(
            r["dataset"],
            {"encoders": 0, "items": r["items"], "pflops": 0.0, "cpu": 0.0, "amp": 0.0, "fp32": 0.0, "prep": 0.0},
        )
        f["encoders"] += 1
        for key, col in (
            ("pflops", "pflops"),
            ("cpu", "cpu_hours_1_thread"),
            ("amp", "gpu_hours_amp"),
            ("fp32", "gpu_hours_fp32"),
            ("prep", "preprocess_cpu_hours_1_thread"),
        ):
            f[key] += r[col]
    total = {k: 0.0 for k in ("encodings", "pflops", "cpu", "amp", "fp32", "prep")}
    for dataset, f in frame.items():
        encodings = f["encoders"] * f["items"]
        lines.append(
            f"| {dataset} | {f['encoders']} | {f['items']:,} | {encodings:,} | {f['pflops']:.1f} | "
            f"{f['cpu']:.1f} | {f['amp']:.2f} | {f['fp32']:.2f} | {f['prep']:.2f} |"
        )
        total["encodings"] += encodings
        for key in ("pflops", "cpu", "amp", "fp32", "prep"):
            total[key] += f[key]
    lines.append(
        f"| **total** | | | {int(total['encodings']):,} | {total['pflops']:.1f} | {total['cpu']:.1f} | "
        f"{total['amp']:.2f} | {total['fp32']:.2f} | {total['prep']:.2f} |"
    )
    p = cpu["primitives"]
    lines += [
        "",
        "## Other stages (CPU hours, extrapolated from measured primitives)",
        "",
        f"SVC: {p['svc_seconds']:.0f} s for {p['svc_n']:,} x {p['svc_dim']} (svm_heads.json), scaled by "
        f"n^2 x dim; fits per (pair, scaling, count, seed): {', '.join(f'{m} {s:.2f} s' for m, s in p['fit_seconds'].items())} "
        f"(translate.json); autoencoders: {p['ae_epoch_seconds']:.0f} s per epoch on {p['ae_n']:,} images "
        "(autoencoder.json), scaled by n.",
        "",
        "| dataset | SVC heads (+ relative) | translator fits | autoencoder training (this CPU) |",
        "|---|---|---|---|",
    ]
    sums = [0.0, 0.0, 0.0]
    for dataset, c in cpu["datasets"].items():
        values = [c["svc_heads_cpu_hours"], c["translator_fits_cpu_hours"], c["autoencoders_cpu_hours"]]
        sums = [a + b for a, b in zip(sums, values)]
        lines.append(f"| {dataset} | " + " | ".join(f"{v:.1f}" for v in values) + " |")
    lines.append("| **total** | " + " | ".join(f"{v:.1f}" for v in sums) + " |")
    machine = cpu["one_gpu_machine"]
    lines += [
        "",
        f"## One machine: 1 GPU, {MACHINE_CORES} cores (issue 17; assumptions in paper_cost.py, ASSUMED_*)",
        "",
        "| phase | wall hours |",
        "|---|---|",
    ]
    lines += [f"| {name} | {hours:.2f} |" for name, hours in machine["phases_hours"].items()]
    lines.append(f"| **total** | **{machine['total_hours']:.1f}** |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--reuse-encoders",
        action="store_true",
        help="take the per-encoder measurements (FLOPs, CPU rates) from the last paper_cost.json",
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    from omegaconf import OmegaConf

    cfg = paper_config()
    suite = OmegaConf.to_container(cfg.suite, resolve=True)
    encoders = list(dict.fromkeys(e for d in suite["datasets"].values() for e in d.get("encoders") or []))
    if args.reuse_encoders:
        previous = json.loads((RESULTS / "paper_cost.json").read_text())
        measured, load_average = previous["encoders"], previous["meta"]["load_average"]
    else:
        measured, load_average = measure_encoders(encoders, sorted(set(MEAN_TOKENS.values()))), None
    rows = cost_table(suite, measured)
    cpu = cpu_side(cfg, measured)
    cpu["one_gpu_machine"] = one_gpu_machine(rows, cpu)
    meta = {
        "command": "python benchmarks/paper_cost.py" + (" --reuse-encoders" if args.reuse_encoders else ""),
        "machine": f"{platform.machine()}, {os.cpu_count()} CPUs (shared)",
        "load_average": load_average or round(os.getloadavg()[0], 1),
        "published_gpu_source": PUBLISHED_SOURCE,
        "fp32_slowdown_assumed": FP32_SLOWDOWN,
        "mean_tokens_assumed": MEAN_TOKENS,
        "split_sizes": SPLIT_SIZES,
    }
    write_json_atomic(RESULTS / "paper_cost.json", {"meta": meta, "encoders": measured, "rows": rows, "cpu_side": cpu})
    write_text_atomic(RESULTS / "paper_cost.md", markdown(rows, measured, meta, cpu))
    print((RESULTS / "paper_cost.md").read_text())


if __name__ == "__main__":
    main()
