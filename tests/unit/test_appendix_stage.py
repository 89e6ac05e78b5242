"""The appendix stage on the smoke suite's appendix config with tiny models: the encodings and
heads it reads are built in a temporary folder by the encode and train_heads stages."""

import json

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf, open_dict

from latentstitch.config import CONF_DIR
from latentstitch.io import load_encodings, read_encodings_meta, save_encodings
from latentstitch.layout import appendix_dir
from latentstitch.reports.appendix import appendix_section
from latentstitch.stages import appendix, encode, train_heads

FIGURES = {"figure12": 12, "figure13": 13, "figure2": 2, "figure7": 7}


def smoke_config(root):
    with initialize_config_dir(config_dir=str(CONF_DIR), version_base="1.3"):
        cfg = compose(config_name="config", overrides=["suite=smoke"])
    with open_dict(cfg):
        cfg.paths.results_dir = str(root / "results")
        cfg.paths.encodings_dir = str(root / "encodings")
        cfg.device = "cpu"
        cfg.encode.progress = False
        # only what the smoke suite's appendix experiments read
        blocks = cfg.suite.appendix
        cfg.suite.datasets = {
            "digits": {"encoders": [blocks.figure13.encoder, *blocks.figure7.encoders]},
            "bbc_news": {
                "subset": OmegaConf.to_container(cfg.suite.datasets.bbc_news.subset),
                "encoders": [blocks.figure12.encoder],
                "heads": [blocks.figure12.head],
            },
        }
    return cfg


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("appendix")
    cfg = smoke_config(root)
    encode.run(cfg)
    train_heads.run(cfg)
    return cfg, appendix.run(cfg)


def test_every_figure_is_written_with_its_claim_line(built):
    cfg, summary = built
    out = appendix_dir(cfg.paths.results_dir)
    assert json.loads((out / "summary.json").read_text()) == json.loads(json.dumps(summary))
    assert summary["suite"] == "smoke" and "git_revision" in summary
    assert set(summary["figures"]) == set(FIGURES)
    for figure, number in FIGURES.items():
        entry = summary["figures"][figure]
        assert entry["paper_figure"] == number and isinstance(entry["holds"], bool)
        verdict = "holds" if entry["holds"] else "does not hold"
        assert entry["line"].startswith(f"Figure {number} (")
        assert f"the paper's claim {verdict} in this run" in entry["line"]
        assert entry["numbers"] in entry["line"] and entry["seconds"] >= 0
        assert sorted(entry["files"]) == sorted(f"{figure}.{ext}" for ext in ("csv", "json", "png"))
        assert (out / f"{figure}.png").stat().st_size > 1000
        record = json.loads((out / f"{figure}.json").read_text())
        assert record["config"] == OmegaConf.to_container(cfg.suite.appendix[figure])
    # tiny BERT: 2 blocks, layers 0..2, 5 alphas
    fig12 = pd.read_csv(out / "figure12.csv")
    assert len(fig12) == 3 * 5 and sorted(set(fig12["layer"])) == [0, 1, 2]
    fig13 = pd.read_csv(out / "figure13.csv")
    assert set(fig13["activation"]) == {"relu", "tanh", "cos"} and len(fig13) == 3 * (9 + 1)  # + the mean norm
    fig2 = pd.read_csv(out / "figure2.csv")
    assert list(fig2["method"]) == ["ortho", "affine"]
    fig7 = pd.read_csv(out / "figure7.csv")
    assert set(fig7["source"]) == {"vit_small_patch16_224@original", "vit_small_patch16_224@invert"}
    assert {"absolute", "affine", "ortho", "no-stitch"} == set(fig7["method"])


def test_report_section_lists_every_figure_and_copies_it(built, tmp_path):
    cfg, summary = built
    text = appendix_section(appendix_dir(cfg.paths.results_dir), tmp_path)
    assert "## Appendix experiments" in text
    for entry in summary["figures"].values():
        assert f"- {entry['line']}" in text
    links = [line.split("](")[1].rstrip(")") for line in text.splitlines() if line.startswith("![")]
    assert len(links) == 4 and all((tmp_path / link).stat().st_size > 1000 for link in links)
    # ordered by paper figure
    assert [text.index(f"Figure {n} analog") for n in (2, 7, 12, 13)] == sorted(
        text.index(f"Figure {n} analog") for n in (2, 7, 12, 13)
    )
    assert appendix_section(tmp_path / "nowhere", tmp_path) == ""


def test_rerun_rewrites_the_folder_and_blocks_are_optional(built, tmp_path):
    cfg, _ = built
    cfg = cfg.copy()
    with open_dict(cfg):
        cfg.paths.results_dir = str(tmp_path / "results")
        only = cfg.suite.appendix.figure2
        cfg.suite.appendix = {"figure2": only}
    out = appendix_dir(cfg.paths.results_dir)
    out.mkdir(parents=True)
    (out / "figure12.png").write_bytes(b"stale")
    summary = appendix.run(cfg)
    assert set(summary["figures"]) == {"figure2"}
    assert sorted(p.name for p in out.iterdir()) == ["figure2.csv", "figure2.json", "figure2.png", "summary.json"]
    with open_dict(cfg):
        del cfg.suite["appendix"]
    assert appendix.run(cfg)["figures"] == {}
    assert "No appendix experiment is configured" in appendix_section(out, tmp_path)
    with open_dict(cfg):
        cfg.suite.appendix = {"figure99": {"paper_figure": 99}}
    with pytest.raises(ValueError, match=r"unknown suite.appendix entries \['figure99'\]"):
        appendix.run(cfg)
    with open_dict(cfg):
        cfg.suite.appendix = {"figure2": {"paper_figure": 2, "points": 100}}
    with pytest.raises(ValueError, match="figure2 needs anchors, scale, distortion, methods, tolerance"):
        appendix.run(cfg)


def test_figure12_refuses_encodings_the_encoder_does_not_reproduce(built, tmp_path):
    cfg, _ = built
    cfg = cfg.copy()
    spec = cfg.suite.appendix.figure12
    source = f"{cfg.paths.encodings_dir}/bbc_news/{spec.encoder}/test.safetensors"
    x, y, _ = load_encodings(source)
    with open_dict(cfg):
        cfg.paths.encodings_dir = str(tmp_path / "encodings")
        cfg.suite.appendix = {"figure12": spec}
    save_encodings(
        tmp_path / "encodings" / "bbc_news" / spec.encoder / "test.safetensors",
        x * np.float32(1.5),
        y,
        read_encodings_meta(source),
    )
    with pytest.raises(ValueError, match="differs from its cached bbc_news test encodings"):
        appendix.run(cfg)
