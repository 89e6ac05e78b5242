"""``latentstitch translate`` fails cleanly (issue 14): exit code 2, one line on stderr naming
the file and the problem, no traceback (``--debug`` shows one), and no output written unless
the whole command succeeded. Each case runs in process (fast) and, in the slow test, through
the real command in a subprocess."""

import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import save_file

import latentstitch
from latentstitch.cli import main

SRC = str(Path(latentstitch.__file__).resolve().parents[1])


@pytest.fixture
def d(tmp_path):
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(40, 6)).astype(np.float32), rng.normal(size=(40, 5)).astype(np.float32)
    np.save(tmp_path / "A.npy", a)
    np.save(tmp_path / "B.npy", b)
    np.save(tmp_path / "X.npy", rng.normal(size=(7, 6)).astype(np.float32))
    return tmp_path


def _args(d, *extra, **paths):
    p = {"x-anchors": d / "A.npy", "y-anchors": d / "B.npy", "input": d / "X.npy", "output": d / "Y.npy"}
    p.update(paths)
    return ["translate", *extra] + [s for k, v in p.items() for s in (f"--{k}", str(v))]


def _unwritable_dir(d):
    if os.geteuid() == 0:  # root writes through permissions: /proc takes no new files
        return Path("/proc")
    ro = d / "readonly"
    ro.mkdir()
    ro.chmod(0o500)
    return ro


# (name, how to break the setup, extra arguments and paths, the message, the file that must not exist)
def _corrupt_safetensors(d):
    (d / "X.safetensors").write_bytes(b"\x10\x00\x00\x00\x00\x00\x00\x00{not json at all}")
    return {"input": d / "X.safetensors"}


def _truncated_safetensors(d):
    save_file({"encodings": np.zeros((7, 6), np.float32)}, str(d / "X.safetensors"))
    data = (d / "X.safetensors").read_bytes()
    (d / "X.safetensors").write_bytes(data[:-20])
    return {"input": d / "X.safetensors"}


def _output_under_a_file(d):
    return {"output": d / "A.npy" / "Y.npy"}


def _output_is_a_directory(d):
    (d / "out.npy").mkdir()
    return {"output": d / "out.npy"}


def _output_unwritable(d):
    return {"output": _unwritable_dir(d) / "Y.npy"}


def _save_translator_unwritable(d):
    return {"save-translator": _unwritable_dir(d) / "t.safetensors"}


def _save_translator_under_a_file(d):
    return {"save-translator": d / "A.npy" / "t.safetensors"}


def _text_as_npy(d):
    (d / "X.npy").write_text("1 2 3\n4 5 6\n")
    return {}


def _truncated_npy(d):
    data = (d / "X.npy").read_bytes()
    (d / "X.npy").write_bytes(data[:-30])
    return {}


def _object_npy(d):
    np.save(d / "X.npy", np.array([{"a": 1}], dtype=object), allow_pickle=True)
    return {}


def _nan_input(d):
    x = np.load(d / "X.npy")
    x[2, 3] = np.nan
    np.save(d / "X.npy", x)
    return {}


def _integer_anchors(d):
    np.save(d / "A.npy", np.arange(240).reshape(40, 6))
    return {}


def _non_finite_fit(d):
    return {"method": "affine", "affine-lr": "3e38", "affine-steps": "3"}


def _missing_anchors(d):
    return {"x-anchors": d / "missing.npy"}


def _input_is_a_directory(d):
    (d / "dir.npy").mkdir()
    return {"input": d / "dir.npy"}


CASES = [
    (
        "corrupt safetensors input",
        _corrupt_safetensors,
        r"input .*X\.safetensors: not a readable safetensors file",
        "Y.npy",
    ),
    (
        "truncated safetensors input",
        _truncated_safetensors,
        r"input .*X\.safetensors: not a readable safetensors",
        "Y.npy",
    ),
    (
        "output under a regular file",
        _output_under_a_file,
        r"output .*A\.npy/Y\.npy: .*A\.npy is a file, not a directory",
        None,
    ),
    ("output is a directory", _output_is_a_directory, r"output .*out\.npy: is a directory", None),
    ("output unwritable", _output_unwritable, r"output .*Y\.npy: cannot write", None),
    (
        "save-translator unwritable",
        _save_translator_unwritable,
        r"--save-translator .*t\.safetensors: cannot write",
        "Y.npy",
    ),
    (
        "save-translator under a file",
        _save_translator_under_a_file,
        r"--save-translator .*: .*A\.npy is a file",
        "Y.npy",
    ),
    ("text file as .npy", _text_as_npy, r"input .*X\.npy: not a \.npy file \(no NPY header", "Y.npy"),
    ("truncated .npy", _truncated_npy, r"input .*X\.npy: unreadable \.npy file \(", "Y.npy"),
    ("object array .npy", _object_npy, r"input .*X\.npy: holds Python objects, not a numeric array", "Y.npy"),
    ("NaN in input", _nan_input, r"translating .*X\.npy: x contains NaN or inf in 1 entries \(rows \[2\]\)", "Y.npy"),
    (
        "integer anchors",
        _integer_anchors,
        r"fitting on .*A\.npy and .*B\.npy: x anchors must hold floating-point",
        "Y.npy",
    ),
    ("non-finite fit", _non_finite_fit, r"fitting on .*: method 'affine' did not find a finite translation", "Y.npy"),
    ("missing anchors", _missing_anchors, r"x anchors file not found: .*missing\.npy", "Y.npy"),
    ("input is a directory", _input_is_a_directory, r"input .*dir\.npy: is a directory", "Y.npy"),
]


def _argv(d, setup):
    paths = setup(d)
    extra = []
    for k in [k for k in paths if k in ("method", "affine-lr", "affine-steps")]:
        extra += [f"--{k}", str(paths.pop(k))]
    if "save-translator" in paths:
        extra += ["--save-translator", str(paths.pop("save-translator"))]
    return _args(d, *extra, **paths)


@pytest.mark.parametrize("name, setup, message, absent", CASES, ids=[c[0] for c in CASES])
def test_failure_in_process(d, capsys, name, setup, message, absent):
    (d / "Y.npy").unlink(missing_ok=True)
    assert main(_argv(d, setup)) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err, err
    assert err.startswith("latentstitch translate: error: ")

    assert re.search(message, err), err
    if absent:
        assert not (d / absent).exists()
    assert not list(d.glob(".*.tmp")) and not list(d.glob("**/.*.tmp"))


def test_unexpected_error_is_one_line_and_debug_shows_the_traceback(d, capsys, monkeypatch):
    from latentstitch.translate import Translator

    def boom(self, x, y):
        raise RuntimeError("boom\nsecond line")

    monkeypatch.setattr(Translator, "fit", boom)
    assert main(_args(d)) == 2
    err = capsys.readouterr().err
    assert err == "latentstitch translate: error: RuntimeError: boom second line\n"
    assert main(_args(d, "--debug")) == 2
    err = capsys.readouterr().err
    assert "Traceback (most recent call last)" in err and err.endswith("error: RuntimeError: boom second line\n")
    assert not (d / "Y.npy").exists()


def test_failure_leaves_an_existing_output_as_it_was(d, capsys):
    np.save(d / "Y.npy", np.arange(3.0))
    before = (d / "Y.npy").read_bytes()
    assert main(_args(d, "--save-translator", str(d / "A.npy" / "t.safetensors"))) == 2
    assert (d / "Y.npy").read_bytes() == before


def test_huge_inputs_that_used_to_fail_now_translate(d):
    # ortho without scaling at 1e19 raised a raw LinAlgError; affine wrote an all-NaN Y.npy.
    for name in ("A", "B", "X"):
        np.save(d / f"{name}.npy", (np.load(d / f"{name}.npy") * np.float32(1e19)).astype(np.float32))
    for method in ("ortho", "affine"):
        assert main(_args(d, "--method", method, "--scaling", "none")) == 0
        assert np.isfinite(np.load(d / "Y.npy")).all()


def _run(argv, timeout=120):
    env = dict(os.environ, PYTHONPATH=SRC, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", WANDB_MODE="disabled")
    return subprocess.Popen(
        [sys.executable, "-m", "latentstitch.cli", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def test_subprocess_failure_is_exit_2_one_line_no_traceback(d):
    # Through the real command: a --save-translator failure used to leave Y.npy written.
    # (Every case runs as a subprocess in the slow test below.)
    out, err = _run(_args(d, "--save-translator", str(d / "A.npy" / "t.safetensors"))).communicate(timeout=120)
    assert err.count("\n") == 1 and "Traceback" not in err and not out, err
    assert re.search(
        r"^latentstitch translate: error: --save-translator .*A\.npy is a file, not a directory$", err.strip()
    )
    assert not (d / "Y.npy").exists()


@pytest.mark.slow
def test_every_failure_through_the_real_command(tmp_path):
    procs = []
    for i, (name, setup, message, absent) in enumerate(CASES):
        d = tmp_path / f"case{i}"
        d.mkdir()
        rng = np.random.default_rng(0)
        np.save(d / "A.npy", rng.normal(size=(40, 6)).astype(np.float32))
        np.save(d / "B.npy", rng.normal(size=(40, 5)).astype(np.float32))
        np.save(d / "X.npy", rng.normal(size=(7, 6)).astype(np.float32))
        procs.append((name, d, message, absent, _run(_argv(d, setup))))
    (tmp_path / "bad.safetensors").write_bytes(b"garbage")
    debug = _run(_args(tmp_path / "case0", "--debug", input=tmp_path / "bad.safetensors"))

    for name, d, message, absent, proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 2, (name, err)
        assert err.count("\n") == 1 and "Traceback" not in err and re.search(message, err), (name, err)
        if absent:
            assert not (d / absent).exists(), name
    out, err = debug.communicate(timeout=300)
    assert debug.returncode == 2 and "Traceback (most recent call last)" in err and "CommandError" in err
