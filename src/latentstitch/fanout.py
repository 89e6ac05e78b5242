"""Fan a suite's build stages out per dataset: in parallel on one machine, or on a SLURM cluster.

The build stages (encode, train_heads, train_autoencoders) treat each suite dataset on its
own, and each keeps what it finished (encoding chunks, heads, autoencoders with their
fingerprints). So a suite can be built as one job per dataset, each running those stages on
the suite restricted to its dataset, and then ``dvc repro`` finishes on one machine: its build
stages find everything done and keep it, and stitch and report run once over the whole suite
(cross-modal pairs need both datasets, the report every table)::

    python -m latentstitch.fanout --params params.yaml --cluster dry     # print the job list
    python -m latentstitch.fanout --params params.yaml --cluster local --jobs 4
    python -m latentstitch.fanout --params params.yaml --cluster slurm [--launcher slurm]
    PATH=.venv/bin:$PATH dvc repro                                        # then, on one machine

``--cluster slurm`` submits through submitit with the resources of
``conf/hydra/launcher/<launcher>.yaml`` (timeout_min, cpus_per_task, gpus_per_node, mem_gb,
nodes, tasks_per_node, partition); logs go to ``<folder>/%j``. ``local`` runs the jobs as
joblib processes on this machine (``--jobs`` at a time; on a GPU machine they share the GPU).
"""

from __future__ import annotations

import argparse
import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from omegaconf import DictConfig, OmegaConf

from latentstitch.config import CONF_DIR

BUILD_STAGES = ("encode", "train_heads", "train_autoencoders")
# submitit's names for the Hydra launcher's keys (conf/hydra/launcher/slurm.yaml)
_SUBMITIT_KEYS = {
    "timeout_min": "timeout_min",
    "cpus_per_task": "cpus_per_task",
    "gpus_per_node": "gpus_per_node",
    "mem_gb": "mem_gb",
    "nodes": "nodes",
    "tasks_per_node": "tasks_per_node",
    "partition": "slurm_partition",
}


@dataclass(frozen=True)
class Job:
    """One dataset's build: the stages it needs, in order, on the suite restricted to it."""

    dataset: str
    stages: tuple[str, ...]
    cfg: DictConfig

    @property
    def name(self) -> str:
        return f"build-{self.dataset}"


def dataset_jobs(cfg: DictConfig) -> list[Job]:
    """One ``Job`` per suite dataset that builds something (encoders to encode; heads and
    autoencoders to train), in the suite's order. Each job's config is ``cfg`` with
    ``suite.datasets`` (and ``suite.stitch.datasets``) restricted to its dataset."""
    jobs = []
    for name, dcfg in cfg.suite.datasets.items():
        stages = []
        if dcfg.get("encoders"):
            stages.append("encode")
            if dcfg.get("heads"):
                stages.append("train_heads")
        if dcfg.get("autoencoders"):
            stages.append("train_autoencoders")
        if not stages:
            continue
        sub = copy.deepcopy(cfg)
        OmegaConf.set_struct(sub, False)
        sub.suite.datasets = {name: OmegaConf.to_container(dcfg, resolve=True)}
        per_dataset = OmegaConf.select(sub, "suite.stitch.datasets")
        if per_dataset is not None:
            sub.suite.stitch.datasets = {k: v for k, v in per_dataset.items() if k == name}
        jobs.append(Job(name, tuple(stages), sub))
    return jobs


def _stage_run(stage: str) -> Callable[[DictConfig], Any]:
    import importlib

    if stage not in BUILD_STAGES:
        raise ValueError(f"unknown build stage {stage!r}; valid: {', '.join(BUILD_STAGES)}")
    return importlib.import_module(f"latentstitch.stages.{stage}").run


def run_job(job: Job) -> dict[str, Any]:
    """Run ``job``'s stages in order (in this process); returns each stage's summary."""
    return {stage: _stage_run(stage)(job.cfg) for stage in job.stages}


def slurm_parameters(launcher: str = "slurm", overrides: Sequence[str] = ()) -> dict[str, Any]:
    """submitit's ``update_parameters`` from ``conf/hydra/launcher/<launcher>.yaml`` composed by
    Hydra (with ``hydra.launcher.<key>=...`` style ``overrides``, e.g. ``partition=gpu``);
    unset values (null) are left to submitit's defaults."""
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        composed = compose(
            "config",
            overrides=[f"hydra/launcher={launcher}", *[f"hydra.launcher.{o}" for o in overrides]],
            return_hydra_config=True,
        )
    launcher_cfg = composed.hydra.launcher
    if "submitit" not in str(launcher_cfg.get("_target_", "")):
        raise ValueError(f"hydra/launcher={launcher} is not a submitit launcher ({launcher_cfg.get('_target_')})")
    params = {}
    for key, submitit_key in _SUBMITIT_KEYS.items():
        value = launcher_cfg.get(key)
        if value is not None:
            params[submitit_key] = value
    return params


def submit(jobs: Sequence[Job], folder: str | Path, *, cluster: str = "slurm", parameters: dict | None = None):
    """Submit one submitit job per ``Job`` (``cluster``: slurm, local, or debug = in this
    process, for tests); returns submitit's job handles, in order."""
    import submitit

    executor = submitit.AutoExecutor(folder=str(Path(folder) / "%j"), cluster=cluster)
    executor.update_parameters(**(parameters or {}))
    handles = []
    for job in jobs:
        executor.update_parameters(name=job.name)
        handles.append(executor.submit(run_job, job))
    return handles


def run_local(jobs: Sequence[Job], n_jobs: int) -> list[dict[str, Any]]:
    """The jobs on this machine, ``n_jobs`` at a time (joblib processes)."""
    from joblib import Parallel, delayed

    return Parallel(n_jobs=n_jobs, backend="loky")(delayed(run_job)(job) for job in jobs)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--params", default="params.yaml")
    parser.add_argument("--cluster", choices=["dry", "local", "slurm"], default="dry")
    parser.add_argument("--jobs", type=int, default=2, help="local: jobs at a time")
    parser.add_argument("--launcher", default="slurm", help="conf/hydra/launcher option for slurm")
    parser.add_argument("--set", nargs="*", default=[], help="launcher overrides, e.g. partition=gpu mem_gb=64")
    parser.add_argument("--folder", default="multirun/fanout", help="slurm: submitit's log folder")
    args = parser.parse_args(argv)
    jobs = dataset_jobs(OmegaConf.load(args.params))
    for job in jobs:
        print(f"{job.name}: {' -> '.join(job.stages)}")
    if args.cluster == "dry":
        if args.launcher:
            print(f"slurm resources ({args.launcher}): {slurm_parameters(args.launcher, args.set)}")
        return
    if args.cluster == "local":
        run_local(jobs, args.jobs)
    else:
        for handle, job in zip(submit(jobs, args.folder, parameters=slurm_parameters(args.launcher, args.set)), jobs):
            print(f"{job.name}: submitted as {handle.job_id}")
    print("then: PATH=.venv/bin:$PATH dvc repro   (stitch and report over the whole suite)")


if __name__ == "__main__":
    main()
