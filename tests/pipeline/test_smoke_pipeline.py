"""The whole pipeline through `dvc repro`, on the smoke suite, in a temporary copy of the repo."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from latentstitch.config import REPO_ROOT

BIN = Path(sys.executable).parent


def _run(args, cwd, **kwargs):
    # The stages read conf/ of the copy, and the copy's params.yaml (its cwd). One BLAS/torch
    # thread: tiny models gain nothing from two, and on a busy 2-core machine oversubscribed
    # BLAS threads slowed a stage tenfold.
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
               LATENTSTITCH_CONF_DIR=str(Path(cwd) / "conf"),
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def smoke_repo(tmp_path_factory):
    """A copy of the tracked tree (plus uncommitted edits) with the smoke suite composed."""
    repo = tmp_path_factory.mktemp("repo")
    files = _run(["git", "ls-files", "-co", "--exclude-standard"], REPO_ROOT).stdout.split()
    for name in files:
        src = REPO_ROOT / name
        if src.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, repo / name)
    _run(["git", "init", "-q"], repo)
    _run([sys.executable, "scripts/compose_params.py", "suite=smoke"], repo)
    assert "name: smoke" in (repo / "params.yaml").read_text()
    start = time.perf_counter()
    # Stages run in the copy: its params.yaml, conf/, cache/ and results/.
    _run(["dvc", "repro"], repo, timeout=900)
    return repo, time.perf_counter() - start


def test_dvc_repro_builds_every_table_and_figure(smoke_repo):
    repo, seconds = smoke_repo
    results = repo / "results" / "smoke"
    for dataset in ("digits", "bbc_news"):
        table = pd.read_csv(results / "stitch" / f"{dataset}.csv")
        assert {"git_revision", "latentstitch_version", "config_hash"} <= set(table.columns)
        fitted = table[(table.task == "classification") & (table.decoder != "latent")]
        # 3 encoders: 6 ordered pairs; 5 fitted methods x 2 scalings x 2 counts x 2 seeds
        for method in ("affine", "linear", "l-ortho", "ortho", "ridge"):
            rows = fitted[(fitted.method == method) & (fitted.metric == "accuracy")]
            assert len(rows) == 6 * 2 * 2 * 2, (dataset, method, len(rows))
        assert (fitted[fitted.method == "relative"].metric == "accuracy").sum() == 6 * 2 * 2
        assert (fitted[fitted.method == "no-stitch"].metric == "accuracy").sum() == 3
    digits = pd.read_csv(results / "stitch" / "digits.csv")
    recon = digits[(digits.task == "reconstruction") & (digits.metric == "rmse")]
    assert set(recon.method) >= {"no-stitch", "absolute", "affine", "linear", "l-ortho", "ortho", "ridge"}
    report = results / "report"
    text = (report / "report.md").read_text()
    for link in [line.split("](")[1].split(")")[0] for line in text.splitlines() if "](" in line]:
        assert (report / link).exists(), link
    pngs = list((report / "figures").glob("*.png"))
    assert len(pngs) >= 4 and all(p.stat().st_size > 1000 for p in pngs)
    assert list((report / "tables").glob("classification_svm_fast_standard.*"))
    assert list((report / "tables").glob("reconstruction_l2dec_same_standard.*"))


def test_second_repro_is_a_no_op(smoke_repo):
    repo, _ = smoke_repo
    status = _run(["dvc", "status"], repo).stdout
    assert "changed" not in status, status
