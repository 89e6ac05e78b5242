"""Stage train_heads: a classification head for every (dataset, encoder, head kind) of the suite.

Reads ``{encodings_dir}/{dataset}/{encoder}/{train,test}.safetensors`` (the encode stage) and
writes one folder per head (``save_head``) with ``metrics.json`` beside it, holding the
no-stitch accuracy on the test split:

    {results_dir}/heads/{dataset}/{encoder}/{head}/

Head settings come from ``conf/head/{head}.yaml``; heads that draw random numbers use
``cfg.seed``. Heads train in parallel, ``n_jobs`` of the head config at a time (null or -1:
every core; ``_train_heads``). A head whose ``metrics.json`` records the same fingerprint (settings, seed,
encodings content) is kept, not retrained.

The `relative` baseline's decoders depend on the anchors, which are a stitching setting: the
stitch stage trains them (``train_relative_heads``, below) into

    {results_dir}/relative_heads/{dataset}/{encoder}/{head}/a{count}_s{seed}/

so that changing an anchor count reruns stitch and report only.
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np
from omegaconf import DictConfig, OmegaConf

from latentstitch.config import load_group_config
from latentstitch.data import sample_anchors
from latentstitch.decoders import MLPHead, RelativeHead, build_head, save_head
from latentstitch.decoders.heads import resolve_n_jobs
from latentstitch.decoders.training import finish_logger, inference_device, make_logger
from latentstitch.io import load_encodings, write_json_atomic
from latentstitch.provenance import config_hash, provenance
from latentstitch.stages._cli import stage_main
from latentstitch.stages.plan import AnchorPlan

METRICS = "metrics.json"


def head_dir(results_dir: str | Path, dataset: str, encoder: str, head: str) -> Path:
    """Where the head ``head`` (a conf/head option) trained on ``encoder``'s encodings lives."""
    return Path(results_dir) / "heads" / dataset / encoder / head


def relative_head_dir(
    results_dir: str | Path, dataset: str, encoder: str, head: str, count: int, seed: int
) -> Path:
    """Where the relative ``head`` for ``count`` anchors drawn with ``seed`` lives."""
    return Path(results_dir) / "relative_heads" / dataset / encoder / head / f"a{count}_s{seed}"


def accelerator_of(cfg: DictConfig) -> str:
    """cfg.device (auto | cpu | cuda) as a Lightning accelerator name."""
    device = cfg.get("device", "auto")
    if device not in ("auto", "cpu", "cuda"):
        raise ValueError(f"device must be auto, cpu or cuda, got {device!r}")
    return {"auto": "auto", "cpu": "cpu", "cuda": "gpu"}[device]


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            digest.update(block)
    return digest.hexdigest()


def is_complete(directory: Path, fingerprint: str) -> bool:
    """True when ``directory`` holds outputs of a finished run with this fingerprint."""
    path = directory / METRICS
    if not path.exists():
        return False
    try:
        return json.loads(path.read_text()).get("fingerprint") == fingerprint
    except json.JSONDecodeError:
        return False


def keep_or_train(
    out: Path, fingerprint: str, record: dict[str, Any], train: Callable[[], dict[str, Any]],
    summary: dict[str, Any], complete: bool | None = None,
) -> dict[str, Any]:
    """The metrics of ``out``: kept when a finished run with this fingerprint wrote them
    (``complete`` overrides that check), else from ``train()``, written last and atomically so
    an interrupted run is redone. Counts ``kept`` / ``trained`` in ``summary``."""
    if is_complete(out, fingerprint) if complete is None else complete:
        summary["kept"] += 1
        return json.loads((out / METRICS).read_text())
    metrics = {**record, **train(), "fingerprint": fingerprint, **provenance()}
    write_json_atomic(out / METRICS, metrics)
    summary["trained"] += 1
    return metrics


def _train_one(
    cfg: DictConfig,
    head_cfg: dict[str, Any],
    out: Path,
    train: tuple[np.ndarray, np.ndarray],
    test: tuple[np.ndarray, np.ndarray],
    anchor_idx: np.ndarray | None,
    n_jobs: int = 1,
) -> dict[str, Any]:
    """Fit one head (relative when ``anchor_idx`` is given), save it, and return its metrics.
    ``n_jobs``: workers the head may use itself (the exact SVC's one-vs-one subproblems)."""
    (x_train, y_train), (x_test, y_test) = train, test
    head = build_head(head_cfg, seed=int(cfg.seed), accelerator=accelerator_of(cfg), n_jobs=n_jobs)
    logger = make_logger(
        cfg.get("logger"), name="/".join(out.parts[-4:]), group=f"{cfg.suite.name}/train_heads"
    )
    # Only the Lightning-trained heads take a logger.
    fit_params = {"logger": logger} if isinstance(head, MLPHead) else {}
    if anchor_idx is not None:
        head = RelativeHead(head)
        fit_params["anchors"] = x_train[anchor_idx]
    start = time.perf_counter()
    try:
        head.fit(x_train, y_train, **fit_params)
    finally:
        finish_logger(logger)
    seconds = time.perf_counter() - start
    save_head(head, out)
    trained = head.head_ if anchor_idx is not None else head
    return {
        "kind": head_cfg["kind"],
        "seed": int(cfg.seed),
        "n_train": int(len(y_train)),
        "n_test": int(len(y_test)),
        "dim": int(x_train.shape[1]),
        "train_accuracy": float(head.score(x_train, y_train)),
        "test_accuracy": float(head.score(x_test, y_test)),
        "fit_seconds": seconds,
        "epochs": getattr(trained, "n_epochs_", None),
        "anchor_indices": anchor_idx.tolist() if anchor_idx is not None else None,
    }


def _load_split_encodings(encodings_dir: Path, dataset: str, encoder: str):
    paths = {s: encodings_dir / dataset / encoder / f"{s}.safetensors" for s in ("train", "test")}
    x_train, y_train, _ = load_encodings(paths["train"])
    x_test, y_test, _ = load_encodings(paths["test"])
    return (x_train, y_train), (x_test, y_test), {split: file_sha256(p) for split, p in paths.items()}


def split_n_jobs(head_cfg: dict[str, Any]) -> tuple[dict[str, Any], int]:
    """The head settings without ``n_jobs``, and the worker count it asks for (``n_jobs``: null
    or -1 = every core, the default; k >= 1). ``n_jobs`` decides how heads train, not what
    they learn: it is no part of a head's settings or fingerprint."""
    settings = dict(head_cfg)
    return settings, resolve_n_jobs(settings.pop("n_jobs", None))


def _train_in_worker(threads: int, *args) -> dict[str, Any]:
    """``_train_one`` in a joblib worker, its torch and BLAS threads capped at ``threads``."""
    import torch
    from threadpoolctl import threadpool_limits

    torch.set_num_threads(threads)
    with threadpool_limits(threads):
        return _train_one(*args)


def _train_heads(cfg: DictConfig, jobs: list[dict[str, Any]], summary: dict[str, Any], group: str) -> None:
    """Train (or keep) every head of ``jobs`` (out, head_cfg, record, data_id, train, test, idx).

    Heads that are not kept train in parallel, ``n_jobs`` of their head config at a time
    (joblib processes; each head's own threads and its SVC's one-vs-one workers share the rest
    of the cores: ``n_jobs // workers`` each). Lightning-trained heads on a GPU train one at a
    time. Metrics are written by this process, as ``keep_or_train`` does for one head."""
    results_dir = Path(cfg.paths.results_dir)
    pending: dict[str, list[int]] = {}
    for i, job in enumerate(jobs):
        settings, _ = split_n_jobs(job["head_cfg"])
        job["settings"] = settings
        job["fingerprint"] = config_hash({"head_cfg": settings, "seed": int(cfg.seed), "data": job["data_id"],
                                          **job["record"]})
        if not is_complete(job["out"], job["fingerprint"]):
            pending.setdefault(job["record"]["head"], []).append(i)
    trained: dict[int, dict[str, Any]] = {}
    for head_name, indices in pending.items():
        _, n_jobs = split_n_jobs(jobs[indices[0]]["head_cfg"])
        gpu = (jobs[indices[0]]["settings"].get("kind") == "mlp"
               and inference_device(accelerator_of(cfg)).type == "cuda")
        workers = 1 if gpu else max(1, min(n_jobs, len(indices)))
        inner = max(1, n_jobs // workers)
        args = [(cfg, jobs[i]["settings"], jobs[i]["out"], jobs[i]["train"], jobs[i]["test"], jobs[i]["idx"], inner)
                for i in indices]
        if workers == 1:
            results = [_train_one(*a) for a in args]
        else:
            from joblib import Parallel, delayed

            results = Parallel(n_jobs=workers, backend="loky")(delayed(_train_in_worker)(inner, *a) for a in args)
        trained.update(zip(indices, results))
    for i, job in enumerate(jobs):
        metrics = keep_or_train(job["out"], job["fingerprint"], job["record"], summary=summary,
                                train=lambda i=i: trained[i], complete=i not in trained)
        summary["test_accuracy"]["/".join(job["out"].relative_to(results_dir / group).parts)] = metrics["test_accuracy"]


def run(cfg: DictConfig) -> dict[str, Any]:
    """Train (or keep) every head of the suite; returns counts and the no-stitch accuracies."""
    results_dir, encodings_dir = Path(cfg.paths.results_dir), Path(cfg.paths.encodings_dir)
    summary: dict[str, Any] = {"trained": 0, "kept": 0, "test_accuracy": {}}
    for dataset, dcfg in cfg.suite.datasets.items():
        heads = list(dcfg.get("heads") or [])
        encoders = list(dcfg.get("encoders") or []) if heads else []
        jobs = []  # one dataset at a time: its encodings in memory, its heads in parallel
        for encoder in encoders:
            train, test, data_id = _load_split_encodings(encodings_dir, dataset, encoder)
            for head_name in heads:
                head_cfg = OmegaConf.to_container(load_group_config("head", head_name), resolve=True)
                record = {"dataset": dataset, "encoder": encoder, "head": head_name, "relative": False}
                jobs.append(dict(out=head_dir(results_dir, dataset, encoder, head_name), head_cfg=head_cfg,
                                 record=record, data_id=data_id, train=train, test=test, idx=None))
        _train_heads(cfg, jobs, summary, "heads")
    return summary


def train_relative_heads(
    cfg: DictConfig, dataset: str, encoder: str, head_name: str, plan: AnchorPlan, summary: dict[str, Any]
) -> dict[tuple[int, int], Path]:
    """Train (or keep) the relative ``head_name`` on ``encoder``'s encodings of ``dataset`` for
    every anchor count and seed of ``plan``: trained on ``relative_projection(train encodings,
    anchors)`` with the anchors ``sample_anchors(train labels, count, seed, stratified)``, the
    same train indices the stitch stage draws. Returns each (count, seed)'s folder."""
    results_dir, encodings_dir = Path(cfg.paths.results_dir), Path(cfg.paths.encodings_dir)
    train, test, data_id = _load_split_encodings(encodings_dir, dataset, encoder)
    head_cfg = OmegaConf.to_container(load_group_config("head", head_name), resolve=True)
    folders, jobs = {}, []
    for count in plan.counts:
        for seed in plan.seeds:
            out = relative_head_dir(results_dir, dataset, encoder, head_name, count, seed)
            record = {"dataset": dataset, "encoder": encoder, "head": head_name, "relative": True,
                      "anchors": count, "anchor_seed": seed, "stratified": plan.stratified}
            idx = sample_anchors(train[1], count, seed, stratified=plan.stratified)
            jobs.append(dict(out=out, head_cfg=head_cfg, record=record, data_id=data_id, train=train, test=test,
                             idx=idx))
            folders[(count, seed)] = out
    _train_heads(cfg, jobs, summary, "relative_heads")
    return folders


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
