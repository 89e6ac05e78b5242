"""Fan-out per dataset (``latentstitch.fanout``): the job list of the paper suite, the SLURM
resources composed from conf/hydra/launcher, and a dry run through submitit (its ``debug``
cluster runs the submitted jobs in this process; no real cluster here)."""

import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from latentstitch import fanout
from latentstitch.config import REPO_ROOT


@pytest.fixture(scope="module")
def paper_cfg(tmp_path_factory):
    out = tmp_path_factory.mktemp("params") / "params.yaml"
    subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "compose_params.py"), "suite=paper", "--output", str(out)],
        check=True,
        capture_output=True,
    )
    return OmegaConf.load(out)


def test_paper_suite_fans_out_one_job_per_dataset(paper_cfg):
    jobs = fanout.dataset_jobs(paper_cfg)
    assert [j.dataset for j in jobs] == list(paper_cfg.suite.datasets)
    with_ae = {"mnist", "fashion_mnist", "cifar10", "cifar100_fine"}
    for job in jobs:
        expected = (
            ("encode", "train_heads", "train_autoencoders") if job.dataset in with_ae else ("encode", "train_heads")
        )
        assert job.stages == expected, job.dataset
        assert list(job.cfg.suite.datasets) == [job.dataset]
        assert job.cfg.suite.datasets[job.dataset] == paper_cfg.suite.datasets[job.dataset]
        assert set(job.cfg.suite.stitch.datasets) <= {job.dataset}
        assert job.cfg.paths == paper_cfg.paths and job.cfg.seed == paper_cfg.seed
    assert len(paper_cfg.suite.datasets) == len(jobs)


def test_slurm_resources_compose_from_the_launcher_config():
    params = fanout.slurm_parameters("slurm", ["partition=gpu", "gpus_per_node=1", "mem_gb=64"])
    assert params == {
        "timeout_min": 60,
        "cpus_per_task": 4,
        "gpus_per_node": 1,
        "mem_gb": 64,
        "nodes": 1,
        "tasks_per_node": 1,
        "slurm_partition": "gpu",
    }
    assert "slurm_partition" not in fanout.slurm_parameters("slurm")  # null: submitit's default
    with pytest.raises(ValueError, match="not a submitit launcher"):
        fanout.slurm_parameters("local_parallel")


def test_submitted_jobs_run_each_datasets_stages_in_order(paper_cfg, tmp_path, monkeypatch):
    ran = []
    monkeypatch.setattr(
        fanout, "_stage_run", lambda stage: lambda cfg: ran.append((stage, *cfg.suite.datasets)) or stage
    )
    jobs = fanout.dataset_jobs(paper_cfg)[:3]
    handles = fanout.submit(jobs, tmp_path, cluster="debug", parameters={"timeout_min": 5})
    results = [h.result() for h in handles]
    assert results == [{s: s for s in job.stages} for job in jobs]
    assert ran == [(stage, job.dataset) for job in jobs for stage in job.stages]
    monkeypatch.undo()
    with pytest.raises(ValueError, match="unknown build stage 'stitch'"):
        fanout._stage_run("stitch")


def test_dry_cli_prints_the_jobs_and_the_resources(paper_cfg, tmp_path, capsys):
    path = tmp_path / "params.yaml"
    OmegaConf.save(paper_cfg, path)
    fanout.main(["--params", str(path), "--cluster", "dry", "--set", "partition=gpu"])
    out = capsys.readouterr().out
    assert "build-cifar10: encode -> train_heads -> train_autoencoders" in out
    assert "build-n24news_text: encode -> train_heads" in out and "'slurm_partition': 'gpu'" in out
