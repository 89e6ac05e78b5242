"""Stage train_relative_heads: the decoders of the `relative` baseline, for the anchors in use.

For every suite dataset whose classification stitching runs the ``relative`` method, every
(encoder, head) and every anchor count and seed of its anchor plan (``latentstitch.plan``),
trains the head on ``relative_projection(train encodings, anchors)`` with the anchors
``sample_anchors(train labels, count, seed, stratified)`` (the same train rows the stitch stage
draws) into

    {results_dir}/relative_heads/{dataset}/{encoder}/{head}/a{count}_s{seed}/

Fingerprints include the anchor indices themselves, so a change to anchor sampling retrains
them; folders are verified by content hash like every cached artifact (``latentstitch.artifacts``).
Folders of anchor counts no longer in the plan are kept (a later run may reuse them).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from latentstitch.config import group_config
from latentstitch.data import sample_anchors
from latentstitch.fitting import HeadJob, keep_or_train_heads, load_split_encodings
from latentstitch.io import write_json_atomic
from latentstitch.layout import relative_head_dir
from latentstitch.plan import anchor_plan, wants_relative
from latentstitch.stages._cli import stage_main


def run(cfg: DictConfig) -> dict[str, Any]:
    """Train (or keep) every relative head the suite's stitching needs; returns counts and
    accuracies, also written to ``{results_dir}/relative_heads/summary.json``."""
    results_dir, encodings_dir = Path(cfg.paths.results_dir), Path(cfg.paths.encodings_dir)
    summary: dict[str, Any] = {"trained": 0, "kept": 0, "test_accuracy": {}}
    for dataset, dcfg in cfg.suite.datasets.items():
        encoders, heads = list(dcfg.get("encoders") or []), list(dcfg.get("heads") or [])
        if len(encoders) < 2 or not heads or not wants_relative(cfg, dataset):
            continue
        plan = anchor_plan(cfg, dataset, "classification")
        jobs = []  # one dataset at a time: its encodings in memory, its heads in parallel
        for encoder in encoders:
            train, test, data_id = load_split_encodings(encodings_dir, dataset, encoder)
            for head in heads:
                head_cfg = OmegaConf.to_container(group_config(cfg, "head", head), resolve=True)
                for count in plan.counts:
                    for seed in plan.seeds:
                        out = relative_head_dir(results_dir, dataset, encoder, head, count, seed)
                        record = {
                            "dataset": dataset,
                            "encoder": encoder,
                            "head": head,
                            "relative": True,
                            "anchors": count,
                            "anchor_seed": seed,
                            "stratified": plan.stratified,
                        }
                        idx = sample_anchors(train[1], count, seed, stratified=plan.stratified)
                        jobs.append(
                            HeadJob(
                                out,
                                head_cfg,
                                record,
                                data_id,
                                train,
                                test,
                                idx,
                                f"{dataset}/{encoder}/{head}/a{count}_s{seed}",
                            )
                        )
        keep_or_train_heads(cfg, jobs, summary, "train_relative_heads")
    write_json_atomic(Path(results_dir) / "relative_heads" / "summary.json", summary)
    return summary


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
