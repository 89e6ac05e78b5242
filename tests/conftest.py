"""Test-wide settings: no hub, no tracker, deterministic threads."""

import os

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("WANDB_MODE", "disabled")

import pytest
import torch


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread():
    # The machine has 2 cores shared with other work: one thread per test process is faster
    # and far less noisy than two fighting threads.
    torch.set_num_threads(1)
    yield


# Pipeline runs (`dvc repro` in a copy of the repository) and real pretrained models take
# minutes: they are `slow`, so `pytest -m "not slow"` is the fast inner loop. Marked here by
# folder (and by the `real` marker anywhere) rather than in each file.
_SLOW_FOLDERS = ("pipeline", "real")
# Unit tests that run whole stages (10-65 s each on 2 shared cores, --durations): slow too.
_SLOW_UNIT_FILES = (
    "test_appendix_stage.py",
    "test_autoencoder_stage.py",
    "test_heads_stage.py",
    "test_reports_stage.py",
)
_SLOW_UNIT_TESTS = ("test_stage_cli.py::test_hydra_mode_composes_conf_and_accepts_overrides",)


def pytest_collection_modifyitems(config, items):
    tests_root = os.path.dirname(os.path.abspath(__file__))
    slow = pytest.mark.slow
    for item in items:
        rel = os.path.relpath(str(item.path), tests_root)
        folder, name = rel.split(os.sep, 1)[0], os.path.basename(rel)
        if (
            folder in _SLOW_FOLDERS
            or item.get_closest_marker("real")
            or name in _SLOW_UNIT_FILES
            or any(item.nodeid.endswith(t) or f"{t}[" in item.nodeid for t in _SLOW_UNIT_TESTS)
        ):
            item.add_marker(slow)
