"""The smoke pipeline with logger=wandb in offline mode, read back from the .wandb run files:
every stage's tables, images and summaries are there, grouped by suite, and a Hydra multirun
gives one run per job grouped by its sweep."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from latentstitch.wandb_runs import read_runs

BIN = Path(sys.executable).parent
STAGES = ("encode", "train_heads", "train_relative_heads", "train_autoencoders", "stitch", "appendix", "report")


def _run(args, cwd, **kwargs):
    env = dict(
        os.environ,
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
        PYTHONPATH=str(Path(cwd) / "src"),
        LATENTSTITCH_CONF_DIR=str(Path(cwd) / "conf"),
        WANDB_MODE="offline",
        WANDB_SILENT="true",
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
    )
    result = subprocess.run(args, check=False, cwd=cwd, env=env, capture_output=True, text=True, **kwargs)
    assert result.returncode == 0, f"{args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    assert "wandb logging failed" not in result.stderr, result.stderr[-3000:]
    return result


@pytest.fixture(scope="module")
def wandb_repo(tmp_path_factory, copy_worktree):
    repo = copy_worktree(tmp_path_factory.mktemp("repo"))
    _run([sys.executable, "scripts/compose_params.py", "suite=smoke", "logger=wandb"], repo)
    _run(["dvc", "repro"], repo, timeout=1200)
    return repo, {run.dir.name: run for run in read_runs(repo / "wandb", wait=30)}


def _stage_run(runs, stage):
    (run,) = [r for r in runs.values() if r.job_type == stage and r.name == f"smoke/{stage}"]
    assert run.group == "smoke" and run.exit_code == 0
    assert "dataset:digits" in run.tags and "dataset:bbc_news" in run.tags
    assert run.config["suite"]["name"] == "smoke" and run.config["logger"]["wandb"] is True  # whole config
    return run


def _table(run, key):
    entry = run.logged("table-file")[key]
    stored = json.loads((run.dir / "files" / entry["path"]).read_text())
    return pd.DataFrame(stored["data"], columns=stored["columns"])


def _images(run):
    found = run.logged("image-file")
    for entry in found.values():
        assert (run.dir / "files" / entry["path"]).stat().st_size > 100
    return found


@pytest.mark.slow
def test_every_stage_logs_its_tables_images_and_summary(wandb_repo):
    repo, runs = wandb_repo
    results = repo / "results" / "smoke"
    assert {r.job_type for r in runs.values()} == set(STAGES)
    assert all(r.exit_code == 0 and r.group == "smoke" for r in runs.values())

    encode = _stage_run(runs, "encode")
    assert len(_table(encode, "encode/encodings")) == encode.summary["encode/files"] == 12

    heads = _stage_run(runs, "train_heads")
    table = _table(heads, "train_heads/heads")
    assert len(table) == 6 and table.test_accuracy.between(0, 1).all()
    svm = table[table["head"] == "svm"].test_accuracy.mean()
    assert heads.summary["train_heads/bbc_news/svm/mean_test_accuracy"] == pytest.approx(svm)

    autoencoders = _stage_run(runs, "train_autoencoders")
    assert len(_table(autoencoders, "train_autoencoders/autoencoders")) == 4 and len(_images(autoencoders)) == 4
    for ae in ("ae_b16_s0", "ae_b16_s1", "ae_b16_s0_l2", "ae_b16_s1_l2"):  # training curves: a run each
        (curve,) = [r for r in runs.values() if r.name == f"smoke/train_autoencoders/digits/{ae}"]
        metrics = json.loads((results / "autoencoders" / "digits" / ae / "metrics.json").read_text())
        assert curve.group == "smoke" and curve.job_type == "train_autoencoders"
        assert curve.metric("train_mse") == pytest.approx(metrics["train_mse_per_epoch"], rel=1e-5)

    stitch = _stage_run(runs, "stitch")
    for dataset in ("digits", "bbc_news"):
        on_disk = pd.read_csv(results / "stitch" / f"{dataset}.csv")
        logged = _table(stitch, f"stitch/{dataset}")
        assert list(logged.columns) == list(on_disk.columns) and len(logged) == len(on_disk)
        ortho = on_disk[
            (on_disk.method == "ortho")
            & (on_disk.scaling == "standard")
            & (on_disk.metric == "accuracy")
            & (on_disk.decoder != "latent")
        ]
        assert stitch.summary[f"stitch/{dataset}/accuracy/ortho/standard"] == pytest.approx(ortho.value.mean())
    relative_run = _stage_run(runs, "train_relative_heads")
    relative = _table(relative_run, "train_relative_heads/relative_heads")  # 6 encoders x 2 anchor counts x 2 seeds
    assert len(relative) == 24 and relative.test_accuracy.between(0, 1).all()
    digits = pd.read_csv(results / "stitch" / "digits.csv")
    lcos = digits[
        (digits.task == "reconstruction")
        & (digits.metric == "lcos")
        & (digits.method == "ortho")
        & (digits.scaling == "standard")
    ]
    assert stitch.summary["stitch/digits/lcos/ortho/standard"] == pytest.approx(lcos.value.mean())

    appendix = _stage_run(runs, "appendix")
    pngs = sorted(p.stem for p in (results / "appendix").glob("*.png"))
    assert sorted(k.split("/")[-1] for k in _images(appendix)) == pngs and len(pngs) == 4
    assert len(_table(appendix, "appendix/claims")) == 4
    assert {f"appendix/{f}/holds" for f in ("figure12", "figure13", "figure2", "figure7")} <= set(appendix.summary)

    report = _stage_run(runs, "report")
    out = results / "report"
    assert len(_images(report)) == len(list(out.rglob("*.png"))) >= 10
    for csv in (out / "tables").glob("*.csv"):
        assert len(_table(report, f"report/{csv.stem}")) == len(pd.read_csv(csv))
    assert {"report/comparison", "report/rankings"} <= set(report.logged("table-file"))
    assert "report/report" in report.logged("html-file")
    (artifact,) = [a for a in report.artifacts if a["type"] == "report"]
    assert "report/report.md" in artifact["files"]
    assert report.summary["report/classification_svm_fast_standard/accuracy/ortho"] > 0


@pytest.mark.slow
def test_hydra_multirun_logs_one_run_per_job_grouped_by_sweep(wandb_repo):
    repo, before = wandb_repo
    sweep = repo / "multirun" / "wandb"
    _run(
        [
            sys.executable,
            "-m",
            "latentstitch.stages.stitch",
            "--multirun",
            "suite=smoke",
            "logger=wandb",
            "translator=ortho,linear",
            "anchors=30",
            f"hydra.sweep.dir={sweep}",
            f"paths.cache_dir={repo / 'cache'}",
            f"paths.results_dir={repo / 'results' / 'smoke'}",
        ],
        repo,
        timeout=600,
    )
    jobs = [r for r in read_runs(repo / "wandb", wait=30) if r.dir.name not in before]
    assert len(jobs) == 2 and {r.group for r in jobs} == {"smoke sweep multirun/wandb"}
    by_method = {r.config["translator"]["method"]: r for r in jobs}
    assert set(by_method) == {"ortho", "linear"}
    for method, run in by_method.items():
        assert run.job_type == "stitch" and run.exit_code == 0
        assert f"translator={method}" in run.config["hydra"]["overrides"] and f"method:{method}" in run.tags
        assert "anchors:30" in run.tags and f"translator={method}" in run.name
        table = _table(run, "stitch/digits")
        fitted = table[~table.method.isin(["no-stitch", "absolute"]) & (table.decoder != "latent")]
        assert set(fitted.method) == {method} and set(fitted.anchors) == {30}
