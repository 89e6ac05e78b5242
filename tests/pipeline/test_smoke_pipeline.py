"""The whole pipeline through `dvc repro`, on the smoke suite, in a temporary copy of the repo."""

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

BIN = Path(sys.executable).parent


def _run(args, cwd, **kwargs):
    # The stages read conf/ of the copy, and the copy's params.yaml (its cwd). One BLAS/torch
    # thread: tiny models gain nothing from two, and on a busy 2-core machine oversubscribed
    # BLAS threads slowed a stage tenfold.
    env = dict(
        os.environ,
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
        LATENTSTITCH_CONF_DIR=str(Path(cwd) / "conf"),
        PYTHONPATH=str(Path(cwd) / "src"),
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
    )
    result = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


@pytest.fixture(scope="module")
def smoke_repo(tmp_path_factory, copy_worktree):
    """A copy of the tracked tree (plus uncommitted edits) with the smoke suite composed."""
    repo = copy_worktree(tmp_path_factory.mktemp("repo"))
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
    # the few-anchor sweep (beyond the paper): 2 counts x 2 strategies x plain/refined, and the
    # zero-anchor start and its refinement
    few = pd.read_csv(results / "stitch" / "few_anchors" / "digits.csv")
    assert len(few) == 2 * 2 * 2 + 2 and set(few.refine) == {False, True}
    assert (few[few.anchors == 0].anchor_strategy == "none").all() and (few.anchors == 0).sum() == 2
    assert "From no parallel anchors at all" in text
    assert "## Beyond the paper: few anchors" in text and (report / "figures" / "few_anchors_digits.png").exists()


def test_second_repro_is_a_no_op(smoke_repo):
    repo, _ = smoke_repo
    status = _run(["dvc", "status"], repo).stdout
    assert "changed" not in status, status


def test_changing_an_anchor_count_reruns_only_what_depends_on_anchors(smoke_repo):
    repo, _ = smoke_repo
    params = (repo / "params.yaml").read_text()
    try:
        _run([sys.executable, "scripts/compose_params.py", "suite=smoke", "suite.anchors.num=[30,50]"], repo)
        changed = _run(["dvc", "status", "--json"], repo).stdout
        stages = {name for name in json.loads(changed)}
        # the relative baseline's heads are trained for the anchors in use
        assert stages == {"train_relative_heads", "stitch"}, changed
        _run([sys.executable, "scripts/compose_params.py", "suite=smoke", "scaling=l2"], repo)
        assert {name for name in json.loads(_run(["dvc", "status", "--json"], repo).stdout)} == {
            "train_relative_heads",
            "stitch",
        }
    finally:
        (repo / "params.yaml").write_text(params)


@pytest.mark.parametrize("launcher", ["basic", "joblib"])
def test_hydra_multirun_sweeps_write_one_table_per_job(smoke_repo, launcher):
    repo, _ = smoke_repo
    before = (repo / "results" / "smoke" / "stitch" / "digits.csv").read_bytes()
    sweep = repo / "multirun" / launcher
    args = [
        sys.executable,
        "-m",
        "latentstitch.stages.stitch",
        "--multirun",
        "suite=smoke",
        "translator=ortho,linear",
        "anchors=30,60",
        f"hydra.sweep.dir={sweep}",
        f"paths.cache_dir={repo / 'cache'}",
        f"paths.results_dir={repo / 'results' / 'smoke'}",
    ]
    if launcher == "joblib":
        args += ["hydra/launcher=local_parallel", "hydra.launcher.n_jobs=2"]
    _run(args, repo, timeout=600)
    from latentstitch.stages.stitch import collect_sweep  # noqa: PLC0415

    table = collect_sweep(sweep)
    assert sorted(table.job.unique()) == ["0", "1", "2", "3"]
    fitted = table[(table.decoder != "latent") & ~table.method.isin(["no-stitch", "absolute"])]
    jobs = fitted.groupby("job").agg(method=("method", "unique"), anchors=("anchors", "unique"))
    assert sorted((m[0], int(a[0])) for m, a in zip(jobs.method, jobs.anchors)) == [
        ("linear", 30),
        ("linear", 60),
        ("ortho", 30),
        ("ortho", 60),
    ]
    # the DVC-tracked table is untouched, and sweep numbers equal the full run's
    assert (repo / "results" / "smoke" / "stitch" / "digits.csv").read_bytes() == before
    full = pd.read_csv(repo / "results" / "smoke" / "stitch" / "digits.csv")
    key = ["source", "target", "decoder", "method", "scaling", "anchors", "seed", "metric", "task"]
    merged = fitted[fitted.dataset == "digits"].merge(full, on=key, suffixes=("", "_full"))
    assert len(merged) == len(fitted[fitted.dataset == "digits"]) > 0
    assert (merged.value - merged.value_full).abs().max() < 1e-9
