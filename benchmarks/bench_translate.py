"""Speed of latentstitch.translate against its arithmetic floor, latentis 0.0.8 and SciPy
(issue 2, "Performance"), and ridge against affine in speed and held-out lcos on real encoders.

    benchmarks/setup_latentis.sh                      # once: latentis into benchmarks/.venv-latentis
    .venv/bin/python benchmarks/bench_translate.py    # writes benchmarks/results/translate.{json,md}

Setting: 1,000 anchors x 768 dims -> 768 dims, 10,000 points, float32, 2 CPU threads. Each
candidate runs fit + transform from the raw arrays. Candidates run interleaved in a seeded
random order in every round, so machine noise (the machine is shared) hits them alike; we
report medians over rounds and the median of per-round paired ratios.
"""

from __future__ import annotations

import argparse
import os
import platform
import random
import sys
import time
from pathlib import Path
from typing import Callable

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")

import numpy as np  # noqa: E402
import scipy  # noqa: E402
import scipy.linalg  # noqa: E402
import torch  # noqa: E402
from threadpoolctl import threadpool_limits  # noqa: E402

from latentstitch import metrics  # noqa: E402
from latentstitch.io import write_json_atomic, write_text_atomic  # noqa: E402
from latentstitch.translate import Translator  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parent
LATENTIS_DIR = HERE / ".venv-latentis"
THREADS = 2
N_ANCHORS, DIM, N_POINTS = 1000, 768, 10_000
PAPER_METHODS = ("ortho", "linear", "l-ortho")


def synthetic(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Anchors x (1000, 768), y (1000, 768) related by a noisy linear map; points (10000, 768)."""
    g = torch.Generator().manual_seed(seed)
    mix = torch.randn(DIM, DIM, generator=g) / DIM**0.5
    x = torch.randn(N_ANCHORS + N_POINTS, DIM, generator=g) @ mix
    y = x[:N_ANCHORS] @ (torch.randn(DIM, DIM, generator=g) / DIM**0.5)
    y = y + 0.1 * torch.randn(N_ANCHORS, DIM, generator=g)
    return x[:N_ANCHORS].contiguous(), y.contiguous(), x[N_ANCHORS:].contiguous()


def import_latentis():
    if not (LATENTIS_DIR / "latentis" / "__init__.py").exists():
        raise SystemExit(f"latentis is not installed in {LATENTIS_DIR}: run benchmarks/setup_latentis.sh first")
    sys.path.insert(0, str(LATENTIS_DIR))
    from latentis.transform.base import StandardScaling
    from latentis.transform.dim_matcher import ZeroPadding
    from latentis.transform.translate import functional as lf
    from latentis.transform.translate.aligner import MatrixAligner
    from latentis.transform.translate.aligner import Translator as LTranslator

    states = {"ortho": lf.svd_align_state, "linear": lf.lstsq_align_state, "l-ortho": lf.lstsq_ortho_align_state}

    def make(method: str) -> Callable:
        def run(xa, ya, x):
            t = LTranslator(
                aligner=MatrixAligner(name=method, align_fn_state=states[method]),
                x_transform=StandardScaling(),
                y_transform=StandardScaling(),
                dim_matcher=ZeroPadding(),
            )
            return t.fit(xa, ya).transform(x)[0]

        return run

    return {m: make(m) for m in PAPER_METHODS}


def numpy_scaled(solve: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> Callable:
    """Standard scaling in numpy (ddof=1, as the reference) around a SciPy/NumPy solver."""

    def run(xa, ya, x):
        xa, ya, x = xa.numpy(), ya.numpy(), x.numpy()
        mx, sx, my, sy = xa.mean(0), xa.std(0, ddof=1), ya.mean(0), ya.std(0, ddof=1)
        r = solve((xa - mx) / sx, (ya - my) / sy)
        return ((x - mx) / sx) @ r * sy + my

    return run


def scipy_ortho(a, b):
    return scipy.linalg.orthogonal_procrustes(a, b)[0]


def scipy_linear(a, b):
    # gelsy: SciPy's fastest rank-revealing driver (its default, gelsd, is several times slower)
    return scipy.linalg.lstsq(a, b, lapack_driver="gelsy", check_finite=False)[0]


def scipy_l_ortho(a, b):
    u, _, vh = np.linalg.svd(scipy_linear(a, b))
    return u @ vh


def floor(xa, ya, x, w):
    """The arithmetic floor of ortho's own work: one (10000, 768) @ (768, 768) product, the
    anchors' cross-covariance and one 768 x 768 SVD, all float32."""
    torch.linalg.svd(xa.T @ ya)
    return x @ w


def ours(method: str) -> Callable:
    def run(xa, ya, x):
        return Translator(method, "standard").fit(xa, ya).transform(x)

    return run


def translator_at(rev: str) -> type:
    """``latentstitch.translate.Translator`` as it was at git revision ``rev``: the package's
    files from ``git show``, under another name, beside this checkout's."""
    import importlib
    import subprocess
    import tempfile

    name = "translate_at_" + "".join(c if c.isalnum() else "_" for c in rev)
    folder = Path(tempfile.mkdtemp()) / name
    folder.mkdir()
    files = subprocess.run(
        ["git", "ls-tree", "--name-only", rev, "src/latentstitch/translate/"],
        cwd=REPO_ROOT,
        check=True,
        capture_output=True,
        text=True,
    ).stdout.split()
    for path in (f for f in files if f.endswith(".py")):
        text = subprocess.run(
            ["git", "show", f"{rev}:{path}"], cwd=REPO_ROOT, check=True, capture_output=True, text=True
        ).stdout
        (folder / Path(path).name).write_text(text.replace("latentstitch.translate", name))
    sys.path.insert(0, str(folder.parent))
    return importlib.import_module(name).Translator


def timed_rounds(candidates: dict[str, Callable[[], object]], rounds: int, seed: int) -> dict[str, list[float]]:
    """Seconds of each candidate per round; one untimed warm-up call each (lazy library loads)."""
    for fn in candidates.values():
        fn()
    order, rng = list(candidates), random.Random(seed)
    times: dict[str, list[float]] = {name: [] for name in candidates}
    for r in range(rounds):
        rng.shuffle(order)
        for name in order:
            start = time.perf_counter()
            candidates[name]()
            times[name].append(time.perf_counter() - start)
        ms = ", ".join(f"{n} {times[n][-1] * 1e3:.0f}" for n in candidates)
        print(f"  round {r + 1}/{rounds} (ms): {ms}", flush=True)
    return times


def paired_ratios(times: dict[str, list[float]], ours: str, ref: str, num: str, den: str) -> dict:
    """time num / time den: the ratio of medians and the median of per-round paired ratios."""
    a, b = np.array(times[num]), np.array(times[den])
    return {
        "ours": ours,
        "reference": ref,
        "ratio_of_medians": float(np.median(a) / np.median(b)),
        "median_paired_ratio": float(np.median(a / b)),
    }


def compare(times: dict[str, list[float]], ours_name: str, ref_name: str, target: float) -> dict:
    """Time ours / time reference (per-round paired ratios' median; passes when <= target)."""
    row = paired_ratios(times, ours_name, ref_name, ours_name, ref_name)
    return {**row, "target_at_most": target, "pass": row["median_paired_ratio"] <= target}


def speedup(times: dict[str, list[float]], fast: str, slow: str, target: float) -> dict:
    """Time slow / time fast (per-round paired ratios' median; passes when >= target)."""
    row = paired_ratios(times, fast, slow, slow, fast)
    return {**row, "target_at_least": target, "pass": row["median_paired_ratio"] >= target}


def rel_diff(a, b) -> float:
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(a - b) / np.linalg.norm(b))


def realistic_pair(n_anchors: int, rounds: int) -> dict:
    """Held-out lcos and fit+transform time of ridge vs affine (and the paper's methods, for
    context) between two real encoders of the offline zoo on BBC News (1,780 train articles,
    anchors drawn from them; the 445 test articles are held out), both directions."""
    from omegaconf import OmegaConf

    from latentstitch.config import load_group_config
    from latentstitch.data import load_dataset, sample_anchors
    from latentstitch.encoders import build_encoder, ensure_encodings
    from latentstitch.io import load_encodings

    paths = OmegaConf.create({"paths": load_group_config("paths", "default")}).paths
    models_dir, encodings_dir = REPO_ROOT / paths.models_dir, REPO_ROOT / paths.encodings_dir
    dataset = load_dataset("bbc_news")
    spaces = {}
    for encoder_id in ("glove_50d", "minilm_l3"):
        encoder = build_encoder(encoder_id, device="cpu", models_dir=models_dir)
        spaces[encoder_id] = {
            split: load_encodings(ensure_encodings(dataset, encoder, split, encodings_dir, progress=False))[0]
            for split in ("train", "test")
        }
    idx = sample_anchors(dataset, n_anchors, seed=0)
    out = {"dataset": "bbc_news", "anchors": int(len(idx)), "held_out": int(len(dataset.test.labels)), "directions": []}
    for src, tgt in (("glove_50d", "minilm_l3"), ("minilm_l3", "glove_50d")):
        xa, ya = spaces[src]["train"][idx], spaces[tgt]["train"][idx]
        x_test, y_test = spaces[src]["test"], spaces[tgt]["test"]
        row = {"source": src, "target": tgt, "source_dim": xa.shape[1], "target_dim": ya.shape[1], "lcos": {}}
        for method in ("affine", "ridge", "linear", "l-ortho", "ortho"):
            t = Translator(method, "standard", seed=0).fit(xa, ya)
            row["lcos"][method] = metrics.lcos(t.transform(x_test), y_test)
            if method == "ridge":
                row["ridge_alpha"] = t.alpha_
        fns = {
            m: lambda m=m: Translator(m, "standard", seed=0).fit(xa, ya).transform(x_test) for m in ("ridge", "affine")
        }
        times = timed_rounds(fns, rounds, seed=1)
        row["seconds_median"] = {m: float(np.median(v)) for m, v in times.items()}
        row["affine_over_ridge_time"] = float(np.median(np.array(times["affine"]) / np.array(times["ridge"])))
        out["directions"].append(row)
    return out


def markdown(res: dict) -> str:
    t = res["timings_ms"]
    lines = [
        "# Translation benchmark (benchmarks/bench_translate.py)",
        "",
        f"`{res['setting'].get('command', 'python benchmarks/bench_translate.py')}`",
        "",
        f"{res['setting']['anchors']} anchors x {res['setting']['dim']} dims, {res['setting']['points']} points, "
        f"float32, {res['setting']['threads']} CPU threads, {res['setting']['rounds']} interleaved rounds "
        f"(affine/ridge: {res['setting']['affine_rounds']}). Shared, noisy machine (1-min load average "
        f"{res['load_average']['start']:.1f} at start, {res['load_average']['end']:.1f} at end): medians, and ratios "
        "as the median of per-round paired ratios. Fit + transform from the raw arrays.",
        "",
        "| candidate | median ms | min ms |",
        "|---|---:|---:|",
    ]
    lines += [f"| {name} | {v['median']:.1f} | {v['min']:.1f} |" for name, v in t.items()]
    lines += [
        "",
        "Checks: time ratio ours / reference (<= target), or reference / ours for the speedup (>= target).",
        "",
        "| check | paired ratio | ratio of medians | target | pass |",
        "|---|---:|---:|---:|:---:|",
    ]
    for c in res["checks"]:
        target = f"<= {c['target_at_most']}" if "target_at_most" in c else f">= {c['target_at_least']}"
        lines.append(
            f"| {c['ours']} vs {c['reference']} | {c['median_paired_ratio']:.3f} | {c['ratio_of_medians']:.3f} "
            f"| {target} | {'yes' if c['pass'] else 'NO'} |"
        )
    lines += ["", "Outputs agree with the references (relative Frobenius difference):", ""]
    lines += [f"- {k}: {v:.2e}" for k, v in res["agreement"].items()]
    rp = res.get("realistic_pair")
    if rp:
        lines += [
            "",
            f"## Ridge vs affine on real encoders ({rp['dataset']}, {rp['anchors']} anchors, "
            f"{rp['held_out']} held-out articles, standard scaling)",
            "",
            "| source -> target | lcos affine | lcos ridge | linear | l-ortho | ortho | ridge alpha "
            "| affine s | ridge s | affine/ridge time |",
            "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for r in rp["directions"]:
            lc, s = r["lcos"], r["seconds_median"]
            lines.append(
                f"| {r['source']} ({r['source_dim']}) -> {r['target']} ({r['target_dim']}) | {lc['affine']:.4f} "
                f"| {lc['ridge']:.4f} | {lc['linear']:.4f} | {lc['l-ortho']:.4f} | {lc['ortho']:.4f} "
                f"| {r['ridge_alpha']:.3g} | {s['affine']:.2f} | {s['ridge']:.3f} "
                f"| {r['affine_over_ridge_time']:.0f}x |"
            )
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--affine-rounds", type=int, default=3)
    parser.add_argument("--skip-realistic", action="store_true", help="skip the real-encoder pair")
    parser.add_argument("--out-dir", type=Path, default=HERE / "results")
    parser.add_argument("--against", metavar="REV", help="also time Translator as it was at this git revision")
    args = parser.parse_args(argv)

    torch.set_num_threads(THREADS)
    load_start = os.getloadavg()
    with threadpool_limits(THREADS), torch.inference_mode():
        xa, ya, x = synthetic()
        w = torch.randn(DIM, DIM, generator=torch.Generator().manual_seed(1))
        latentis = import_latentis()
        scipy_fns = {"ortho": scipy_ortho, "linear": scipy_linear, "l-ortho": scipy_l_ortho}
        fns: dict[str, Callable] = {"floor (product + cross-cov + SVD)": lambda: floor(xa, ya, x, w)}
        for m in PAPER_METHODS:
            fns[f"ours {m}"] = lambda m=m: ours(m)(xa, ya, x)
            fns[f"latentis {m}"] = lambda m=m: latentis[m](xa, ya, x)
            fns[f"scipy {m}"] = lambda m=m: numpy_scaled(scipy_fns[m])(xa, ya, x)
        refs = ["latentis", "scipy"]
        if args.against:
            old = translator_at(args.against)
            refs.append(args.against)
            for m in PAPER_METHODS:
                fns[f"{args.against} {m}"] = lambda m=m: old(m, "standard").fit(xa, ya).transform(x)
        agreement = {
            f"ours {m} vs {ref} {m}": rel_diff(fns[f"ours {m}"](), fns[f"{ref} {m}"]())
            for m in PAPER_METHODS
            for ref in refs
        }
        print("paper methods vs floor, latentis, scipy:", flush=True)
        times = timed_rounds(fns, args.rounds, seed=0)
        print("ridge vs affine (300 steps):", flush=True)
        slow = {f"ours {m}": lambda m=m: ours(m)(xa, ya, x) for m in ("ridge", "affine")}
        if args.against:
            slow.update(
                {
                    f"{args.against} {m}": lambda m=m: old(m, "standard").fit(xa, ya).transform(x)
                    for m in ("ridge", "affine")
                }
            )
        times.update(timed_rounds(slow, args.affine_rounds, seed=2))

    checks = [compare(times, "ours ortho", "floor (product + cross-cov + SVD)", 1.1)]
    for m in PAPER_METHODS:
        checks += [compare(times, f"ours {m}", f"latentis {m}", 1.0), compare(times, f"ours {m}", f"scipy {m}", 1.0)]
    checks.append(speedup(times, "ours ridge", "ours affine", 20.0))
    if args.against:
        # No slower than before: within 5%, the noise of paired ratios on a shared machine.
        checks += [
            compare(times, f"ours {m}", f"{args.against} {m}", 1.05) for m in PAPER_METHODS + ("ridge", "affine")
        ]

    res = {
        "setting": {
            "anchors": N_ANCHORS,
            "dim": DIM,
            "points": N_POINTS,
            "dtype": "float32",
            "threads": THREADS,
            "rounds": args.rounds,
            "affine_rounds": args.affine_rounds,
            "against": args.against,
            "command": "python benchmarks/bench_translate.py " + " ".join(argv if argv is not None else sys.argv[1:]),
            "latentis": "0.0.8, --no-deps in benchmarks/.venv-latentis, on this venv's torch (setup_latentis.sh)",
            "scipy_linear_driver": "gelsy",
        },
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "scipy": scipy.__version__,
            "machine": platform.machine(),
            "processor": platform.processor(),
            "cpu_count": os.cpu_count(),
        },
        "git_revision": __import__("subprocess")
        .run(["git", "describe", "--always", "--dirty"], cwd=REPO_ROOT, capture_output=True, text=True)
        .stdout.strip(),
        # The machine is shared: 1-minute load averages around the timed part, for context.
        "load_average": {"start": load_start[0], "end": os.getloadavg()[0]},
        "timings_ms": {
            name: {"median": 1e3 * np.median(v), "min": 1e3 * np.min(v), "max": 1e3 * np.max(v), "n": len(v)}
            for name, v in times.items()
        },
        "checks": checks,
        "agreement": agreement,
    }
    if not args.skip_realistic:
        print("realistic pair:", flush=True)
        with threadpool_limits(THREADS):
            res["realistic_pair"] = realistic_pair(N_ANCHORS, args.affine_rounds)
    write_json_atomic(args.out_dir / "translate.json", res)
    write_text_atomic(args.out_dir / "translate.md", markdown(res))
    print(markdown(res))
    return 0


if __name__ == "__main__":
    sys.exit(main())
