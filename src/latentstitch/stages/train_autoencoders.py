"""Stage train_autoencoders: CNN autoencoders per (dataset, bottleneck, seed, l2) of the suite
(the paper's Sec. 4.3; Tables 3, 4, 8).

For every image dataset whose suite entry has ``autoencoders: {bottlenecks, seeds, l2}`` (and
optionally ``config``, a conf/autoencoder option, default ``cnn``), trains one autoencoder per
combination on the train split (the suite's subset, if any) and writes:

    {results_dir}/autoencoders/{dataset}/{ae_id}/
        autoencoder.safetensors, autoencoder.json   weights and settings (save_autoencoder)
        train.safetensors, test.safetensors   the encoder's latents in the encode stage's
            format (latentstitch.io), so stitching treats the autoencoder like any encoder
        metrics.json   train/test rmse, seconds per epoch, ..., fingerprint and content hashes
        reconstructions.safetensors   the first 16 test images and their reconstructions

The latents live beside the weights rather than in ``encodings_dir``: that folder is the
encode stage's DVC output, and a path can be the output of one stage only.

with ``ae_id = ae_b{bottleneck}_s{seed}`` plus ``_l2`` when the decoder L2-normalizes its
input. rmse is the paper's "reconstruction MSE": mean over images of the per-pixel squared
error, pixels in [0, 1]. Outputs whose metrics.json records the same fingerprint (settings,
the dataset's config and subset) and whose files match their recorded content hashes are kept;
anything else is rebuilt aside and swapped in (``latentstitch.artifacts``). Settings come from
the config's ``autoencoders`` section (params.yaml; conf/autoencoder/), the data from its
``datasets`` section.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np
from omegaconf import DictConfig, OmegaConf
from safetensors.numpy import save_file

from latentstitch.artifacts import keep_or_build
from latentstitch.config import group_config
from latentstitch.data import Dataset, load_dataset
from latentstitch.decoders import build_autoencoder, reconstruction_mse, save_autoencoder
from latentstitch.decoders.training import finish_logger, make_logger
from latentstitch.fitting import accelerator_of
from latentstitch.io import atomic_path, save_encodings
from latentstitch.layout import autoencoder_dir, autoencoder_id
from latentstitch.plan import autoencoder_subset
from latentstitch.provenance import config_hash, provenance
from latentstitch.stages._cli import stage_main

FIGURE_IMAGES = 16
RMSE_DEFINITION = "mean over images of the mean squared pixel error, pixels in [0, 1] (paper: reconstruction MSE)"


def _train_one(
    cfg: DictConfig,
    dataset_name: str,
    dataset: Dataset,
    settings: dict[str, Any],
    ae_id: str,
    out: Path,
    final: Path,
    fingerprint: str,
) -> dict[str, Any]:
    """Fit one autoencoder, save it into ``out`` (a staging folder that becomes ``final``),
    export its latents, and return its metrics."""
    ae = build_autoencoder(settings, accelerator=accelerator_of(cfg))  # conf/autoencoder: _target_ optional
    group = f"{cfg.suite.name}/train_autoencoders"
    logger = make_logger(cfg.get("logger"), name=f"{dataset_name}/{ae_id}", group=group)
    try:
        ae.fit(dataset.train.inputs, logger=logger)
    finally:
        finish_logger(logger)
    save_autoencoder(ae, out)
    errors: dict[str, float] = {}
    for split in ("train", "test"):
        data = dataset.split(split)
        latents = ae.encode(data.inputs)
        save_encodings(
            out / f"{split}.safetensors",
            latents,
            data.labels,
            # The encode stage's keys (dataset, encoder, split, subset, labels) plus where the
            # decoder lives, so stitching can pair these latents with it.
            {
                "dataset": dataset_name,
                "encoder": ae_id,
                "family": "autoencoder",
                "split": split,
                "dataset_subset": dataset.meta.get("subset"),
                "dataset_domain": dataset.meta.get("domain"),
                "labels_sha1": hashlib.sha1(np.ascontiguousarray(data.labels, dtype=np.int64).tobytes()).hexdigest(),
                "autoencoder_dir": str(final),
                "fingerprint": fingerprint,
            },
        )
        reconstructions = ae.decode(latents)
        errors[f"{split}_rmse"] = float(reconstruction_mse(data.inputs, reconstructions).mean())
        if split == "test":
            shown = reconstructions[:FIGURE_IMAGES]
            originals = np.asarray(data.inputs[:FIGURE_IMAGES], dtype=np.float32) / 255.0
            with atomic_path(out / "reconstructions.safetensors") as tmp:
                save_file({"images": np.ascontiguousarray(originals), "reconstructions": shown}, str(tmp))
    return {
        **errors,
        "n_train": len(dataset.train),
        "n_test": len(dataset.test),
        "image_shape": list(ae.image_shape_),
        "epochs": len(ae.epoch_seconds_),
        "epoch_seconds": ae.epoch_seconds_,
        "train_mse_per_epoch": ae.train_mse_,
        "rmse_definition": RMSE_DEFINITION,
    }


def run(cfg: DictConfig) -> dict[str, Any]:
    """Train (or keep) every autoencoder of the suite; returns counts and test rmse per id."""
    results_dir = Path(cfg.paths.results_dir)
    summary: dict[str, Any] = {"trained": 0, "kept": 0, "test_rmse": {}}
    for name, dcfg in cfg.suite.datasets.items():
        grid = dcfg.get("autoencoders")
        if not grid:
            continue
        subset = autoencoder_subset(dcfg)
        dataset = load_dataset(group_config(cfg, "dataset", name), subset=subset)
        if dataset.modality != "image":
            raise ValueError(
                f"suite dataset {name!r} has autoencoders but is a {dataset.modality} dataset; they need images"
            )
        base = OmegaConf.to_container(group_config(cfg, "autoencoder", grid.get("config", "cnn")), resolve=True)
        for bottleneck in grid.bottlenecks:
            for seed in grid.seeds:
                for l2 in grid.get("l2", [False]):
                    ae_id = autoencoder_id(int(bottleneck), int(seed), bool(l2))
                    out = autoencoder_dir(results_dir, name, ae_id)
                    settings = {**base, "bottleneck": int(bottleneck), "seed": int(seed), "l2_normalize": bool(l2)}
                    record = {"dataset": name, "autoencoder": ae_id, "settings": settings, "subset": subset}
                    fingerprint = config_hash({**record, "data": dataset.meta.get("config")})
                    metrics = keep_or_build(
                        out,
                        fingerprint,
                        {**record, **provenance()},
                        summary=summary,
                        build=lambda staging: _train_one(
                            cfg, name, dataset, settings, ae_id, staging, out, fingerprint
                        ),
                    )
                    summary["test_rmse"][f"{name}/{ae_id}"] = metrics["test_rmse"]
    return summary


def main() -> None:
    stage_main(run)


if __name__ == "__main__":
    main()
