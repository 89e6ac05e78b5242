"""The report stage end to end on a small real setup (stitch engine, SVM heads, tiny CNN
autoencoders on digits), and the notebook that reads its outputs."""

import json
import re

import matplotlib
import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf
from safetensors.numpy import save_file
from sklearn.svm import SVC

from latentstitch.config import REPO_ROOT
from latentstitch.data import load_dataset, sample_anchors
from latentstitch.decoders import CNNAutoencoder, save_autoencoder
from latentstitch.io import save_encodings, swap_dir, write_json_atomic
from latentstitch.layout import autoencoder_dir, report_dir, stitch_table_path
from latentstitch.provenance import provenance
from latentstitch.stages import report
from latentstitch.stages import stitch as stitch_stage
from latentstitch.stitching import Decoder, Space, StitchSettings, stitch

ENCODERS = {"minilm_l3": 12, "minilm_l6": 12, "glove_50d": 6}
AUTOENCODERS = ["ae_b6_s0", "ae_b6_s1"]
COUNTS, SEEDS = (16, 32), (0, 1)
METHODS = ("absolute", "affine", "linear", "l-ortho", "ortho")
N_TRAIN, N_TEST, IMAGES = 120, 40, 6
NOTEBOOK = REPO_ROOT / "notebooks" / "report.ipynb"


@pytest.fixture(scope="module")
def suite(tmp_path_factory):
    """Stitch results of digits as the stitch stage writes them, with the encodings and
    autoencoders the figures read; returns the report stage's config."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models: a second thread only adds contention on 2 shared cores
    root = tmp_path_factory.mktemp("suite")
    results_dir, encodings_dir = root / "results", root / "encodings"
    digits = load_dataset("digits")
    train, test = digits.train.inputs[:N_TRAIN], digits.test.inputs[:N_TEST]
    y_train, y_test = digits.train.labels[:N_TRAIN], digits.test.labels[:N_TEST]
    settings = StitchSettings(
        methods=METHODS,
        scalings=("standard", "l2"),
        anchor_counts=COUNTS,
        seeds=SEEDS,
        translator_kwargs={"affine_steps": 20},
    )

    def anchors(count, seed):
        return sample_anchors(y_train, count, seed)

    # "encoders": seeded random projections of the pixels, each with a linear SVM head
    rng = np.random.default_rng(0)
    spaces, heads = [], []
    for name, dim in ENCODERS.items():
        w = rng.normal(size=(64, dim)) / 8
        space = Space(name, train.reshape(N_TRAIN, -1) @ w / 16, test.reshape(N_TEST, -1) @ w / 16)
        save_encodings(encodings_dir / "digits" / name / "test.safetensors", space.test, y_test, {"encoder": name})
        spaces.append(space)
        heads.append(Decoder("svm", name, "classifier", SVC(kernel="linear").fit(space.train, y_train).predict))
    classification = stitch(spaces, heads, settings, y_test=y_test, anchor_indices=anchors)

    spaces, decoders = [], []
    for ae_id in AUTOENCODERS:
        ae = CNNAutoencoder(
            bottleneck=6, channels=(4, 8), max_epochs=1, batch_size=32, seed=int(ae_id[-1]), accelerator="cpu"
        ).fit(train)
        out = save_autoencoder(ae, autoencoder_dir(results_dir, "digits", ae_id))
        latents = {"train": ae.encode(train), "test": ae.encode(test)}
        for split, labels in (("train", y_train), ("test", y_test)):
            save_encodings(out / f"{split}.safetensors", latents[split], labels, {})
        save_file(
            {"images": (test[:16] / 255.0).astype(np.float32), "reconstructions": ae.decode(latents["test"][:16])},
            str(out / "reconstructions.safetensors"),
        )
        spaces.append(Space(ae_id, latents["train"], latents["test"]))
        decoders.append(Decoder("ae", ae_id, "reconstruction", ae.decode))
    reconstruction = stitch(spaces, decoders, settings, images_test=test / 255.0, anchor_indices=anchors)

    table = pd.concat(
        [classification.assign(task="classification"), reconstruction.assign(task="reconstruction", decoder_l2=False)],
        ignore_index=True,
    )
    path = stitch_table_path(results_dir, "digits")
    path.parent.mkdir(parents=True)
    table.assign(dataset="digits", suite="unit", **provenance({"suite": "unit"})).to_csv(path, index=False)
    cfg = OmegaConf.create(
        {
            "paths": {"results_dir": str(results_dir), "encodings_dir": str(encodings_dir)},
            "device": "cpu",
            "logger": {"wandb": False},
            "suite": {
                "name": "unit",
                "tiny": False,
                "anchors": {"num": list(COUNTS), "seeds": list(SEEDS)},
                "stitch": {
                    "methods": list(METHODS),
                    "scalings": ["standard", "l2"],
                    "translator": {"affine_steps": 20},
                },
                "datasets": {
                    "digits": {
                        "encoders": list(ENCODERS),
                        "heads": ["svm"],
                        "autoencoders": {"bottlenecks": [6], "seeds": [0, 1], "l2": [False]},
                    }
                },
                "report": {
                    "paper_datasets": {"digits": "mnist"},
                    "anchors": {"default": 32},
                    "images": IMAGES,
                    "note": "Unit-test suite: random projections of digits stand in for the encoders.",
                },
            },
        }
    )
    # what the stitch stage writes besides the table: the figures' data and its summary
    figures = path.parent / "figures"
    figures.mkdir()
    stitch_stage._norms(cfg, "digits", cfg.suite.datasets.digits, figures)
    stitch_stage._grid_images(cfg, "digits", AUTOENCODERS, False, figures)
    write_json_atomic(path.parent / "summary.json", {"tables": {"digits": {"path": str(path)}}, "norms": ["digits"]})
    yield cfg
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def built(suite):
    return report.run(suite), report_dir(suite.paths.results_dir)


def _is_png(path):
    data = path.read_bytes()
    return data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 1000


def test_report_links_every_table_and_figure(built):
    summary, out = built
    text = (out / "report.md").read_text()
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    assert links and all((out / link).is_file() and (out / link).stat().st_size > 0 for link in links)
    expected_figures = {
        f"figures/{name}.png"
        for name in (
            "anchors_digits_svm",
            "anchors_reconstruction_digits_plain_same",
            "heatmap_digits_svm",
            "reconstructions_digits_plain",
            "norms_digits",
        )
    }
    assert expected_figures <= set(links)
    assert all(_is_png(out / f) for f in expected_figures)
    assert {str(out / f) for f in expected_figures} == set(summary["figures"])
    for key in (
        "classification_svm_standard",
        "classification_svm_l2",
        "reconstruction_plain_same_standard",
        "reconstruction_plain_same_l2",
    ):
        assert {f"tables/{key}.{ext}" for ext in ("md", "csv", "tex")} <= set(links)
    assert {"comparison.md", "comparison.csv", "rankings.csv"} <= set(links)


def test_report_header_says_what_differs_from_the_paper(built):
    _, out = built
    text = (out / "report.md").read_text()
    assert text.startswith("# latentstitch report: suite `unit`")
    assert "Results computed at git revision:" in text and "Report generated at git revision:" in text
    assert "Unit-test suite: random projections" in text
    assert "Encoders differ from the paper's (Table 7): minilm_l3, minilm_l6, glove_50d" in text
    assert "Datasets standing in for the paper's: digits for mnist" in text
    comparison_md = (out / "comparison.md").read_text()
    assert (
        "Encoders differ from the paper's" in comparison_md
        and "Paper Table 1 vs `classification_svm_standard`" in comparison_md
    )


def test_tables_and_comparison_match_the_stitch_results(built, suite):
    _, out = built
    results = pd.read_csv(stitch_table_path(suite.paths.results_dir, "digits"))
    ortho = results[
        (results["decoder"] == "svm")
        & (results["method"] == "ortho")
        & (results["scaling"] == "standard")
        & (results["anchors"] == 32)
        & (results["metric"] == "accuracy")
    ]["value"]
    assert len(ortho) == 6 * len(SEEDS)
    tidy = pd.read_csv(out / "tables" / "classification_svm_standard.csv")
    cell = tidy[tidy["method"] == "ortho"].iloc[0]
    np.testing.assert_allclose([cell["mean"], cell["std"], cell["n"]], [ortho.mean(), ortho.std(ddof=1), 12])
    comparison = pd.read_csv(out / "comparison.csv")
    row = comparison[(comparison["paper_table"] == 1) & (comparison["method"] == "ortho")].iloc[0]
    assert (row["paper_dataset"], row["paper_mean"], row["paper_std"]) == ("mnist", 0.91, 0.02)
    assert row["ours_mean"] == pytest.approx(ortho.mean())
    assert set(comparison["paper_table"]) == {1, 2, 3}
    rankings = pd.read_csv(out / "rankings.csv")
    assert set(rankings["paper_table"]) == {1, 2, 3}
    heatmap = pd.read_csv(out / "figures" / "heatmap_digits_svm.csv", index_col=0)
    assert list(heatmap.index) == list(ENCODERS) and heatmap.notna().all().all()


def test_reconstruction_grid_rows(suite):
    """Figure 6's images come from the stitch stage: the source's latents translated on the
    plan's anchors and decoded by the target, recomputed here as an oracle."""
    from safetensors.numpy import load_file

    from latentstitch.decoders import load_autoencoder
    from latentstitch.io import load_encodings
    from latentstitch.translate import Translator

    figures = stitch_table_path(suite.paths.results_dir, "digits").parent / "figures"
    meta = json.loads((figures / "grid_digits_plain.json").read_text())
    images = load_file(str(figures / "grid_digits_plain.safetensors"))
    assert (meta["source"], meta["target"], meta["seed"]) == ("ae_b6_s0", "ae_b6_s1", 0)
    assert {row["key"] for row in meta["rows"]} == {f"{m}@{c}" for m in METHODS for c in COUNTS}
    assert all(v.shape == (16, 8, 8) and 0.0 <= v.min() and v.max() <= 1.0 for v in images.values())
    source_dir = autoencoder_dir(suite.paths.results_dir, "digits", "ae_b6_s0")
    target_dir = autoencoder_dir(suite.paths.results_dir, "digits", "ae_b6_s1")
    xs, ys, _ = load_encodings(source_dir / "train.safetensors")
    xt = load_encodings(target_dir / "train.safetensors")[0]
    idx = sample_anchors(ys, 32, 0)
    t = Translator(method="ortho", scaling="standard", seed=0, affine_steps=20).fit(xs[idx], xt[idx])
    z = load_encodings(source_dir / "test.safetensors")[0][:16]
    expected = load_autoencoder(target_dir, accelerator="cpu").decode(np.asarray(t.transform(z), dtype=np.float32))
    np.testing.assert_allclose(images["ortho@32"], expected, atol=1e-5)


def test_the_report_directory_is_replaced_whole(tmp_path):
    final, staging = tmp_path / "report", tmp_path / "staging"
    final.mkdir()
    (final / "stale.md").write_text("left from an older run")
    staging.mkdir()
    (staging / "report.md").write_text("new")
    swap_dir(staging, final)
    assert [p.name for p in final.iterdir()] == ["report.md"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # no staging or old copy left


def test_no_staging_directory_is_left(built):
    _, out = built
    assert sorted(p.name for p in out.parent.iterdir() if p.name.startswith(".report")) == []


def test_bad_settings_and_missing_results_are_named(suite, tmp_path):
    bad = OmegaConf.merge(suite, {"suite": {"report": {"anchor": 32}}})
    with pytest.raises(ValueError, match=r"unknown suite.report key\(s\) \['anchor'\]"):
        report.run(bad)
    with pytest.raises(ValueError, match=r"asks for 500 anchors .*\[16, 32\]"):
        report.run(OmegaConf.merge(suite, {"suite": {"report": {"anchors": 500}}}))
    with pytest.raises(FileNotFoundError, match="run the stitch stage"):
        report.run(OmegaConf.merge(suite, {"paths": {"results_dir": str(tmp_path)}}))


def test_notebook_runs_on_the_report(built, monkeypatch):
    """The notebook only reads the report: run its code cells on the one built here."""
    _, out = built
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    monkeypatch.setenv("LATENTSTITCH_REPORT_DIR", str(out))
    notebook = json.loads(NOTEBOOK.read_text())
    shown = []
    namespace = {"display": shown.append}
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            exec(compile("".join(cell["source"]), str(NOTEBOOK), "exec"), namespace)
    plt.close("all")
    assert any(isinstance(x, pd.DataFrame) and "ours - paper" in x.columns for x in shown)
