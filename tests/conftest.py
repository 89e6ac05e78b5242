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
