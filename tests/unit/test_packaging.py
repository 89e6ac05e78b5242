"""The core install is light (issue 14): `python -m build` makes a wheel and an sdist; the
wheel, installed into a fresh virtual environment with its core dependencies only, runs the
README's library examples and the `latentstitch translate` command, and none of the suite's
stack is installed there. The library, metrics and CLI import nothing beyond numpy, torch and
safetensors (checked in a subprocess, fast)."""

import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import latentstitch

REPO = Path(__file__).resolve().parents[2]
SRC = str(Path(latentstitch.__file__).resolve().parents[1])
SUITE_STACK = ("hydra", "dvc", "wandb", "lightning", "pytorch_lightning", "transformers", "timm", "datasets")
HEAVY = SUITE_STACK + ("scipy", "sklearn", "pandas", "omegaconf", "torchvision", "matplotlib", "pyarrow")


def test_library_metrics_and_cli_import_nothing_heavy():
    code = (
        "import sys, numpy, torch, safetensors, safetensors.torch, safetensors.numpy\n"
        "before = set(sys.modules)\n"
        "import latentstitch.translate, latentstitch.metrics, latentstitch.cli\n"
        "latentstitch.cli.build_parser()\n"
        "print(sorted({m.split('.')[0] for m in set(sys.modules) - before}))\n"
    )
    env = dict(os.environ, PYTHONPATH=SRC)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True).stdout
    new_top_level = set(eval(out))
    assert not new_top_level & set(HEAVY), new_top_level
    assert "latentstitch" in new_top_level


def _cpu_torch_wheel() -> list[str]:
    """A CPU-only torch wheel for this Python from pip's configured find-links, if the machine
    has one: 183 MB instead of the CUDA build's 2.7 GB of torch + nvidia wheels. Any torch
    >= 2.4 satisfies the core install, so this is the same test, only cheaper."""
    links = subprocess.run(
        [sys.executable, "-m", "pip", "config", "get", "global.find-links"], capture_output=True, text=True
    ).stdout.split()
    tag = f"cp{sys.version_info.major}{sys.version_info.minor}"
    for folder in links:
        for wheel in sorted(Path(folder).glob(f"torch-*+cpu-{tag}-*.whl")) if Path(folder).is_dir() else []:
            return [str(wheel)]
    return []


@pytest.mark.slow
def test_wheel_in_a_fresh_venv_with_core_dependencies_only(tmp_path):
    timings = {}
    # Build from a copy of the tracked and new files (the build writes egg-info next to the
    # sources), in an environment that cannot see the checkout.
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    source = tmp_path / "source"
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO, check=True, capture_output=True, text=True
    ).stdout.split()
    for name in files:
        if (REPO / name).is_file():
            (source / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, source / name)
    start = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(tmp_path / "dist"), str(source)],
        check=True,
        capture_output=True,
        cwd=tmp_path,
        env=env,
    )
    timings["build"] = time.monotonic() - start
    (wheel,) = (tmp_path / "dist").glob("latentstitch-*.whl")
    assert len(list((tmp_path / "dist").glob("latentstitch-*.tar.gz"))) == 1

    venv = tmp_path / "venv"
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, env=env)
    py = venv / "bin" / "python"
    subprocess.run(
        [str(py), "-m", "pip", "install", "-q", *_cpu_torch_wheel(), str(wheel)],
        check=True,
        capture_output=True,
        text=True,
        env=env,
    )
    timings["venv + pip install"] = time.monotonic() - start
    print("timings (s):", {k: round(v, 1) for k, v in timings.items()})

    missing = subprocess.run(
        [
            str(py),
            "-c",
            "import importlib.util as u, sys; print([m for m in sys.argv[1:] if u.find_spec(m)])",
            *SUITE_STACK,
        ],
        capture_output=True,
        text=True,
        check=True,
        env=env,
    ).stdout.strip()
    assert missing == "[]", f"suite packages installed by the core wheel: {missing}"
    freeze = subprocess.run(
        [str(py), "-m", "pip", "freeze"], capture_output=True, text=True, check=True, env=env
    ).stdout
    names = {re.split(r"[=@ ]", line)[0].lower() for line in freeze.splitlines() if line}
    assert {"torch", "numpy", "safetensors", "latentstitch"} <= names
    assert not names & {"scipy", "scikit-learn", "pandas", "hydra-core", "dvc", "wandb", "transformers"}

    env["PATH"] = f"{venv / 'bin'}:{env['PATH']}"
    run = subprocess.run(
        [str(py), str(REPO / "tests" / "readme_examples.py"), str(REPO / "README.md"), "--core"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    assert "python blocks ran and matched" in run.stdout
    where = subprocess.run(
        [str(py), "-c", "import latentstitch; print(latentstitch.__file__)"],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    assert str(venv) in where  # the installed wheel, not the checkout

    # The README's shell example, as written, with the venv's `latentstitch` on PATH.
    readme = (REPO / "README.md").read_text()
    (command,) = [b for b in re.findall(r"```bash\n(.*?)```", readme, flags=re.S) if "latentstitch translate" in b]
    rng = np.random.default_rng(0)
    a = rng.normal(size=(40, 6)).astype(np.float32)
    np.save(tmp_path / "A.npy", a)
    np.save(tmp_path / "B.npy", a[:, ::-1] * 2 + 1)
    np.save(tmp_path / "X.npy", rng.normal(size=(5, 6)).astype(np.float32))
    run = subprocess.run(
        ["bash", "-c", command.strip() + " --save-translator t.safetensors"],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert run.returncode == 0, run.stderr
    x = np.load(tmp_path / "X.npy")
    np.testing.assert_allclose(np.load(tmp_path / "Y.npy"), x[:, ::-1] * 2 + 1, atol=1e-5)
    run = subprocess.run(
        [
            "latentstitch",
            "translate",
            "--x-anchors",
            "A.npy",
            "--y-anchors",
            "B.npy",
            "--input",
            "missing.npy",
            "--output",
            "Z.npy",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp_path,
    )
    assert (
        run.returncode == 2 and run.stderr.strip() == "latentstitch translate: error: input file not found: missing.npy"
    )
    assert not (tmp_path / "Z.npy").exists()
