"""benchmarks/gpu_check.py: says so and exits 0 without a GPU; its dry mode (CPU vs CPU, the
same code a GPU run takes) passes and records what it measured."""

import importlib.util
import json

import pytest
import torch

from latentstitch.config import REPO_ROOT


def _gpu_check():
    spec = importlib.util.spec_from_file_location("gpu_check", REPO_ROOT / "benchmarks" / "gpu_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_without_a_gpu_it_says_so_and_exits_cleanly(monkeypatch, capsys):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert _gpu_check().main([]) == 0
    assert "no CUDA device visible" in capsys.readouterr().out


@pytest.mark.slow
def test_dry_run_compares_cpu_with_cpu_and_passes(tmp_path, capsys):
    out = tmp_path / "gpu_check.json"
    assert _gpu_check().main(["--dry", "--images", "12", "--texts", "40", "--batch-size", "16", "--out", str(out)]) == 0
    report = json.loads(out.read_text())
    assert report["dry"] and report["device"] == "cpu" and not report["failures"]
    assert set(report["encode"]) == {
        "fashion_mnist_offline/efficientnet_lite0",
        "bbc_news/minilm_l3",
        "bbc_news/minilm_l6",
    }
    assert all(e["max_row_relative_error"] == 0.0 for e in report["encode"].values())  # same device: same bits
    assert report["stitch"]["rows"] > 0 and report["stitch"]["max_accuracy_difference"] == 0.0
    assert "PASS" in capsys.readouterr().out
