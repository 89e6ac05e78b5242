"""Stage train_heads: a classification head for every (dataset, encoder, head kind) of the suite.

Reads ``{encodings_dir}/{dataset}/{encoder}/{train,test}.safetensors`` (the encode stage) and
writes one folder per head (``save_head``) with ``metrics.json`` beside it, holding the
no-stitch accuracy on the test split, the fingerprint and every file's content hash:

    {results_dir}/heads/{dataset}/{encoder}/{head}/

Head settings come from the config's ``heads`` section (params.yaml; conf/head/{head}.yaml);
heads that draw random numbers use ``cfg.seed``. Heads train in parallel, ``n_jobs`` of the head
config at a time (null or -1: every core; ``latentstitch.fitting.keep_or_train_heads``). A head
whose ``metrics.json`` records the same fingerprint (settings, seed, encodings content) and
whose files match their hashes is kept; a corrupted one is rebuilt (``latentstitch.artifacts``).

The `relative` baseline's heads depend on the anchors, a stitching setting: the stage
train_relative_heads trains them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf

from latentstitch.config import group_config
from latentstitch.fitting import HeadJob, keep_or_train_heads, load_split_encodings
from latentstitch.layout import head_dir
from latentstitch.stages._cli import stage_main


def run(cfg: DictConfig) -> dict[str, Any]:
    """Train (or keep) every head of the suite; returns counts and the no-stitch accuracies."""
    results_dir, encodings_dir = Path(cfg.paths.results_dir), Path(cfg.paths.encodings_dir)
    summary: dict[str, Any] = {"trained": 0, "kept": 0, "test_accuracy": {}}
    for dataset, dcfg in cfg.suite.datasets.items():
        heads = list(dcfg.get("heads") or [])
        encoders = list(dcfg.get("encoders") or []) if heads else []
        jobs = []  # one dataset at a time: its encodings in memory, its heads in parallel
        for encoder in encoders:
            train, test, data_id = load_split_encodings(encodings_dir, dataset, encoder)
            for head_name in heads:
                head_cfg = OmegaConf.to_container(group_config(cfg, "head", head_name), resolve=True)
                record = {"dataset": dataset, "encoder": encoder, "head": head_name, "relative": False}
                jobs.append(
                    HeadJob(
                        head_dir(results_dir, dataset, encoder, head_name),
                        head_cfg,
                        record,
                        data_id,
                        train,
                        test,
                        None,
                        f"{dataset}/{encoder}/{head_name}",
                    )
                )
        keep_or_train_heads(cfg, jobs, summary, "train_heads")
    return summary


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
