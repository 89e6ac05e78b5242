"""What each stage shows in wandb, read back from what the stage wrote to disk.

``log_stage(tracker, stage, cfg, result)`` runs after the stage's ``run(cfg)`` returned
``result`` (``latentstitch.tracking.tracked_stage``), so the files it reads are final:

- encode: one row per encodings file (dataset, encoder, split, encoded or cached, rows, dim);
  summary: how many files were encoded and kept.
- train_heads: one row per head (train / test accuracy, seconds, epochs); summary: the mean
  no-stitch test accuracy per dataset and head. MLP heads' curves: runs of their own.
- train_autoencoders: one row per autoencoder (train / test rmse, epochs, seconds), its test
  images next to their reconstructions; summary: mean test rmse per dataset. Curves: own runs.
- stitch: each dataset's tidy result table, the relative heads' test accuracy; summary: mean accuracy (classification) and mean
  lcos (reconstruction, the latent cosine of Table 3) per method and scaling, and seconds per
  dataset.
- appendix: each figure's PNG and table, and one row per paper claim (holds or not);
  summary: whether each claim holds.
- report: every report table (tidy), the comparison with the paper and the rankings, every
  PNG of the report, the report (HTML, and its folder as an artifact); summary: mean accuracy
  or lcos per method of each table, mean |difference| from the paper per paper table.
"""

from __future__ import annotations

import html
import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from omegaconf import DictConfig

from latentstitch.tracking import Tracker

HEADLINE_METRICS = ("accuracy", "lcos")  # per table: mean accuracy or lcos per method


def _read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text()) if path.is_file() else {}


def _encode(tracker: Tracker, cfg: DictConfig, result: dict[str, Any]) -> None:
    from latentstitch.io import read_encodings_meta

    rows = []
    for row in result.get("encodings", []):
        meta = read_encodings_meta(row["path"]) if Path(row["path"]).is_file() else {}
        rows.append({**row, "rows": meta.get("count"), "dim": meta.get("dim")})
    frame = pd.DataFrame(rows, columns=["dataset", "encoder", "split", "status", "rows", "dim", "path"])
    tracker.table("encode/encodings", frame)
    tracker.summary(
        {
            "encode/files": len(frame),
            "encode/encoded": int((frame["status"] == "encoded").sum()),
            "encode/cached": int((frame["status"] == "cached").sum()),
        }
    )


def _train_heads(tracker: Tracker, cfg: DictConfig, result: dict[str, Any]) -> None:
    heads_dir = Path(cfg.paths.results_dir) / "heads"
    rows = []
    for key, accuracy in result.get("test_accuracy", {}).items():
        dataset, encoder, head = key.split("/")[:3]
        metrics = _read_json(heads_dir / key / "metrics.json")
        rows.append(
            {
                "dataset": dataset,
                "encoder": encoder,
                "head": head,
                "kind": metrics.get("kind"),
                "train_accuracy": metrics.get("train_accuracy"),
                "test_accuracy": accuracy,
                "fit_seconds": metrics.get("fit_seconds"),
                "epochs": metrics.get("epochs"),
                "n_train": metrics.get("n_train"),
                "dim": metrics.get("dim"),
            }
        )
    frame = pd.DataFrame(
        rows,
        columns=[
            "dataset",
            "encoder",
            "head",
            "kind",
            "train_accuracy",
            "test_accuracy",
            "fit_seconds",
            "epochs",
            "n_train",
            "dim",
        ],
    )
    tracker.table("train_heads/heads", frame)
    summary = {"train_heads/trained": result.get("trained"), "train_heads/kept": result.get("kept")}
    for (dataset, head), part in frame.groupby(["dataset", "head"], sort=False):
        summary[f"train_heads/{dataset}/{head}/mean_test_accuracy"] = float(part["test_accuracy"].mean())
    tracker.summary(summary)


def _image_pairs(path: Path) -> np.ndarray | None:
    """Test images (top row) over their reconstructions (bottom row), one uint8 array (wandb
    would read floats in [0, 1] as nearly black 0-255 values)."""
    if not path.is_file():
        return None
    from safetensors.numpy import load_file

    shown = load_file(str(path))
    top, bottom = (np.concatenate(list(np.clip(shown[k], 0, 1)), axis=1) for k in ("images", "reconstructions"))
    return np.round(np.concatenate([top, bottom], axis=0) * 255).astype(np.uint8)


def _train_autoencoders(tracker: Tracker, cfg: DictConfig, result: dict[str, Any]) -> None:
    ae_dir = Path(cfg.paths.results_dir) / "autoencoders"
    rows, images = [], {}
    for key, rmse in result.get("test_rmse", {}).items():
        dataset, ae = key.split("/")[:2]
        metrics = _read_json(ae_dir / key / "metrics.json")
        settings = metrics.get("settings") or {}
        rows.append(
            {
                "dataset": dataset,
                "autoencoder": ae,
                "bottleneck": settings.get("bottleneck"),
                "seed": settings.get("seed"),
                "l2_normalize": settings.get("l2_normalize"),
                "train_rmse": metrics.get("train_rmse"),
                "test_rmse": rmse,
                "epochs": metrics.get("epochs"),
                "seconds": float(np.sum(metrics.get("epoch_seconds") or [np.nan])),
            }
        )
        grid = _image_pairs(ae_dir / key / "reconstructions.safetensors")
        if grid is not None:
            images[f"train_autoencoders/{dataset}/{ae}/reconstructions"] = (
                grid,
                f"{dataset} {ae}: test images (top) and their reconstructions (bottom)",
            )
    frame = pd.DataFrame(
        rows,
        columns=[
            "dataset",
            "autoencoder",
            "bottleneck",
            "seed",
            "l2_normalize",
            "train_rmse",
            "test_rmse",
            "epochs",
            "seconds",
        ],
    )
    tracker.table("train_autoencoders/autoencoders", frame)
    tracker.images(images)
    summary = {"train_autoencoders/trained": result.get("trained"), "train_autoencoders/kept": result.get("kept")}
    for dataset, part in frame.groupby("dataset", sort=False):
        summary[f"train_autoencoders/{dataset}/mean_test_rmse"] = float(part["test_rmse"].mean())
    tracker.summary(summary)


def headline(frame: pd.DataFrame, by: list[str], value: str = "value") -> dict[str, float]:
    """Mean ``value`` of the headline metrics (accuracy, lcos) per ``by`` group, keyed
    ``<metric>/<group values joined by />``; missing group values are left out of the key."""
    out = {}
    rows = frame[frame["metric"].isin(HEADLINE_METRICS)] if "metric" in frame else frame.iloc[:0]
    for keys, part in rows.groupby(["metric", *by], sort=False, dropna=False):
        metric, *rest = keys
        name = "/".join([str(metric), *(str(k) for k in rest if not pd.isna(k))])
        out[name] = float(part[value].mean())
    return out


def _stitch(tracker: Tracker, cfg: DictConfig, result: dict[str, Any]) -> None:
    summary = {}
    for dataset, info in result.get("tables", {}).items():
        table = pd.read_csv(info["path"])
        tracker.table(f"stitch/{dataset}", table)
        if {"task", "metric"} <= set(table.columns):  # the paper's headlines: accuracy, and lcos (Table 3)
            rows = table[
                ((table["task"] == "classification") & (table["metric"] == "accuracy"))
                | ((table["task"] == "reconstruction") & (table["metric"] == "lcos"))
            ]
            summary.update({f"stitch/{dataset}/{k}": v for k, v in headline(rows, ["method", "scaling"]).items()})
        summary[f"stitch/{dataset}/seconds"] = info.get("seconds")
        summary[f"stitch/{dataset}/rows"] = info.get("rows")
    tracker.summary(summary)


def _appendix(tracker: Tracker, cfg: DictConfig, result: dict[str, Any]) -> None:
    out = Path(cfg.paths.results_dir) / "appendix"
    rows, images, summary = [], {}, {}
    for figure, entry in result.get("figures", {}).items():
        rows.append(
            {
                "figure": figure,
                "paper_figure": entry.get("paper_figure"),
                "title": entry.get("title"),
                "what": entry.get("what"),
                "paper_claim": entry.get("paper_claim"),
                "holds": entry.get("holds"),
                "numbers": entry.get("numbers"),
                "seconds": entry.get("seconds"),
            }
        )
        summary[f"appendix/{figure}/holds"] = bool(entry.get("holds"))
        summary[f"appendix/{figure}/seconds"] = entry.get("seconds")
        if (out / f"{figure}.csv").is_file():
            tracker.table(f"appendix/{figure}", pd.read_csv(out / f"{figure}.csv"))
        for png in sorted(out.glob(f"{figure}*.png")):
            images[f"appendix/{png.stem}"] = (png, entry.get("line"))
    tracker.table(
        "appendix/claims",
        pd.DataFrame(
            rows, columns=["figure", "paper_figure", "title", "what", "paper_claim", "holds", "numbers", "seconds"]
        ),
    )
    for png in sorted(out.glob("*.png")):  # any other figure the stage drew
        images.setdefault(f"appendix/{png.stem}", (png, png.stem))
    tracker.images(images)
    tracker.summary(summary)


def _captions(report_md: Path) -> dict[str, str]:
    """``{relative png path: alt text}`` of the report's image links."""
    text = report_md.read_text() if report_md.is_file() else ""
    return {path: alt for alt, path in re.findall(r"!\[([^\]]*)\]\(([^)\s]+\.png)\)", text)}


def report_html(markdown_text: str, title: str) -> str:
    """The report as a standalone HTML page (python-markdown when installed, else as text)."""
    try:
        import markdown

        body = markdown.markdown(markdown_text, extensions=["tables"])
    except ImportError:
        body = f"<pre>{html.escape(markdown_text)}</pre>"
    return f"<html><head><meta charset='utf-8'><title>{html.escape(title)}</title></head><body>{body}</body></html>"


def _report(tracker: Tracker, cfg: DictConfig, result: dict[str, Any]) -> None:
    report_md = Path(result["report"])
    out = report_md.parent
    suite = str(cfg.suite.name)
    summary = {}
    for path in map(Path, result.get("tables", [])):
        tidy = pd.read_csv(path)
        tracker.table(f"report/{path.stem}", tidy)
        summary.update({f"report/{path.stem}/{k}": v for k, v in headline(tidy, ["method"], "mean").items()})
    main = {Path(p).stem for p in result.get("tables", [])}
    for path in sorted((out / "tables").glob("*.csv")):  # the other sections' tables (stitchability, ...)
        if path.stem not in main:
            tracker.table(f"report/{path.stem}", pd.read_csv(path))
    comparison = pd.read_csv(out / "comparison.csv") if (out / "comparison.csv").is_file() else None
    if comparison is not None:
        tracker.table("report/comparison", comparison)
        for number, part in comparison.groupby("paper_table"):
            summary[f"report/paper_table{number}/mean_abs_difference"] = float(part["difference"].abs().mean())
        summary["report/comparison_cells"] = len(comparison)
    if (out / "rankings.csv").is_file():
        tracker.table("report/rankings", pd.read_csv(out / "rankings.csv"))
    captions = _captions(report_md)
    images = {}
    for png in sorted(out.rglob("*.png")):
        relative = png.relative_to(out).as_posix()
        images[f"report/{relative.removesuffix('.png')}"] = (png, captions.get(relative, relative))
    tracker.images(images)
    summary["report/figures"] = len(images)
    tracker.summary(summary)
    if report_md.is_file():
        tracker.html("report/report", report_html(report_md.read_text(), f"latentstitch {suite} report"))
    tracker.artifact(
        f"report-{suite}",
        "report",
        [out],
        root=out.parent,
        description=f"The {suite} suite's report folder: report.md, tables, comparison, figures",
    )


def _train_relative_heads(tracker: Tracker, cfg: DictConfig, result: dict[str, Any]) -> None:
    """The `relative` baseline's decoders, one per (dataset, encoder, head, anchor set)."""
    accuracies = result.get("test_accuracy") or {}
    if accuracies:
        rows = [
            dict(zip(("dataset", "encoder", "head", "anchor_set"), key.split("/")), test_accuracy=accuracy)
            for key, accuracy in accuracies.items()
        ]
        tracker.table("train_relative_heads/relative_heads", pd.DataFrame(rows))
    tracker.summary(
        {"train_relative_heads/trained": result.get("trained"), "train_relative_heads/kept": result.get("kept")}
    )


VIEWS: dict[str, Callable[[Tracker, DictConfig, dict[str, Any]], None]] = {
    "encode": _encode,
    "train_heads": _train_heads,
    "train_relative_heads": _train_relative_heads,
    "train_autoencoders": _train_autoencoders,
    "stitch": _stitch,
    "appendix": _appendix,
    "report": _report,
}


def log_stage(tracker: Tracker, stage: str, cfg: DictConfig, result: Any) -> None:
    """Log ``stage``'s outputs (see the module docstring); a stage without a view logs its
    returned summary's scalars."""
    view = VIEWS.get(stage)
    if view is not None:
        view(tracker, cfg, result if isinstance(result, dict) else {})
    elif isinstance(result, dict):
        tracker.summary({f"{stage}/{k}": v for k, v in result.items()})
