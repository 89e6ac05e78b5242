"""Cross-modal pairs (``latentstitch.data.pairing``): N24News text and image are one set of
articles; the declaration in conf/dataset is checked sample id by sample id."""

import json

import numpy as np
import pytest
from omegaconf import OmegaConf
from PIL import Image

from latentstitch.data import load_dataset, pairing
from latentstitch.data.pairing import check_paired, cross_modal_pairs, paired_with


@pytest.fixture
def n24news(tmp_path, monkeypatch):
    """A tiny N24News copy in the release's layout (40 articles, 4 sections)."""
    rng = np.random.default_rng(0)
    (tmp_path / "images").mkdir()
    articles = []
    for i in range(40):
        articles.append(
            {
                "section": ["Arts", "Science", "Sports", "Travel"][i % 4],
                "headline": f"h{i}",
                "abstract": f"abstract {i}",
                "caption": f"c{i}",
                "image_id": f"id{i:02d}",
            }
        )
        Image.fromarray(rng.integers(0, 256, size=(8, 8, 3), dtype=np.uint8)).save(
            tmp_path / "images" / f"id{i:02d}.jpg"
        )
    (tmp_path / "nytimes_dataset.json").write_text(json.dumps(articles))
    monkeypatch.setenv("N24NEWS_DIR", str(tmp_path))
    return tmp_path


def test_n24news_configs_declare_each_other():
    assert paired_with("n24news_text") == "n24news_image" and paired_with("n24news_image") == "n24news_text"
    assert paired_with("mnist") is None


def test_check_paired_accepts_the_same_articles_and_ids_travel_through_the_split(n24news):
    assert check_paired("n24news_text", "n24news_image") == 40
    text, image = load_dataset("n24news_text"), load_dataset("n24news_image")
    # ids follow the seeded split and subsets: text i and image i are the same article
    for split in ("train", "test"):
        ids = text.split(split).ids
        assert [p.stem for p in image.split(split).inputs.paths] == list(ids)
        assert [f"abstract {int(i[2:])}" for i in ids] == list(text.split(split).inputs)
    assert (
        check_paired("n24news_text", "n24news_image", subset_a={"train": 20}, subset_b={"train": 20}) == 24
    )  # + 4 test


def test_check_paired_rejects_different_samples_and_undeclared_pairs(n24news):
    with pytest.raises(ValueError, match="differ in their train samples"):
        check_paired("n24news_text", "n24news_image", subset_a={"train": 20}, subset_b={"train": 24})
    with pytest.raises(ValueError, match="'mnist' does not declare paired_with: 'n24news_text'"):
        check_paired("mnist", "n24news_text")


def test_cross_modal_pairs_of_a_suite(monkeypatch):
    both = {"encoders": ["e"], "heads": ["svm"]}
    suite = {"n24news_text": both, "mnist": both, "n24news_image": both}
    assert cross_modal_pairs(suite) == [("n24news_text", "n24news_image")]
    # one modality alone, or a side without heads: no pair
    assert cross_modal_pairs({"n24news_text": both}) == []
    assert cross_modal_pairs({"n24news_text": both, "n24news_image": {"encoders": ["e"]}}) == []
    # a one-sided declaration is an error naming both files' values
    real = pairing.load_group_config
    monkeypatch.setattr(
        pairing,
        "load_group_config",
        lambda group, name: OmegaConf.create({"paired_with": None}) if name == "n24news_image" else real(group, name),
    )
    with pytest.raises(ValueError, match="declares paired_with: 'n24news_image'.*declares paired_with: None"):
        cross_modal_pairs(suite)
