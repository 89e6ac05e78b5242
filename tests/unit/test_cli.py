"""The ``latentstitch translate`` command, called in process and once through the entry point."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file, save_file

from latentstitch.cli import main
from latentstitch.translate import Translator


@pytest.fixture
def files(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(60, 8)).astype(np.float32), rng.normal(size=(60, 5)).astype(np.float32)
    x = rng.normal(size=(9, 8)).astype(np.float32)
    for name, arr in {"A": a, "B": b, "X": x}.items():
        np.save(tmp_path / f"{name}.npy", arr)
    return tmp_path, a, b, x


def _args(d, out="Y.npy", method="ortho", **paths):
    p = {"x-anchors": d / "A.npy", "y-anchors": d / "B.npy", "input": d / "X.npy", "output": d / out}
    p.update(paths)
    return ["translate", "--method", method, "--scaling", "standard"] + [
        s for k, v in p.items() for s in (f"--{k}", str(v))
    ]


def test_translate_npy_matches_library(files):
    d, a, b, x = files
    assert main(_args(d) + ["--save-translator", str(d / "t.safetensors")]) == 0
    expected = Translator("ortho", "standard").fit(a, b).transform(x)
    out = np.load(d / "Y.npy")
    assert out.dtype == np.float32 and np.array_equal(out, expected)
    assert np.array_equal(Translator.load(d / "t.safetensors").transform(x), expected)


def test_translate_safetensors_in_and_out(files):
    d, a, b, x = files
    save_file({"encodings": a, "labels": np.arange(60)}, str(d / "A.safetensors"))
    save_file({"only": b}, str(d / "B.safetensors"))
    paths = {"x-anchors": d / "A.safetensors", "y-anchors": d / "B.safetensors"}
    assert main(_args(d, "Y.safetensors", method="ridge", **paths)) == 0
    out = load_file(str(d / "Y.safetensors"))["encodings"]
    assert np.array_equal(out, Translator("ridge").fit(a, b).transform(x))


def test_translate_reports_bad_inputs(files, capsys):
    d, *_ = files
    assert main(_args(d, **{"x-anchors": d / "missing.npy"})) == 2
    assert "x anchors file not found: " in capsys.readouterr().err
    assert main(_args(d, "Y.txt")) == 2
    assert "output" in capsys.readouterr().err
    save_file({"p": np.zeros((3, 8), np.float32), "q": np.zeros((3, 8), np.float32)}, str(d / "two.safetensors"))
    assert main(_args(d, input=d / "two.safetensors")) == 2
    assert "choose a tensor with --key; it holds ['p', 'q']" in capsys.readouterr().err
    assert main(_args(d, method="absolute")) == 2
    assert "needs x and y of the same dim" in capsys.readouterr().err
    assert not (d / "Y.npy").exists() and not (d / "Y.txt").exists()
    with pytest.raises(SystemExit):
        main(["translate", "--method", "bogus"])


def test_installed_entry_point(files):
    d, a, b, x = files
    exe = Path(sys.executable).with_name("latentstitch")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "latentstitch.cli"]
    env = dict(os.environ, HF_HUB_OFFLINE="1", WANDB_MODE="disabled")
    run = subprocess.run(cmd + _args(d), capture_output=True, text=True, env=env, timeout=120)
    assert run.returncode == 0, run.stderr
    assert np.array_equal(np.load(d / "Y.npy"), Translator().fit(a, b).transform(x))
