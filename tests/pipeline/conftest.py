"""Shared by the pipeline tests: a throwaway copy of the repository to run `dvc repro` in."""

import shutil
import subprocess
from pathlib import Path

import pytest

from latentstitch.config import REPO_ROOT


def _copy_worktree(repo: Path) -> Path:
    """Copy the tracked tree plus uncommitted, non-ignored files into ``repo`` and make it a
    git repository (DVC wants one); caches, results and .venv stay behind."""
    files = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"], cwd=REPO_ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    for name in files:
        src = REPO_ROOT / name
        if src.is_file():
            (repo / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, repo / name)
    subprocess.run(["git", "init", "-q"], cwd=repo, check=True)
    return repo


@pytest.fixture(scope="session")
def copy_worktree():
    """``copy_worktree(folder)``: the repository copied into ``folder`` (see ``_copy_worktree``)."""
    return _copy_worktree
