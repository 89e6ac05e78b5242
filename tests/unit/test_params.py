"""params.yaml is generated from conf/ and must never be stale or hand-edited."""

import subprocess
import sys

from latentstitch.config import REPO_ROOT


def test_params_yaml_is_fresh():
    result = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "compose_params.py"), "--check"],
        capture_output=True, text=True, cwd=REPO_ROOT,
    )
    assert result.returncode == 0, result.stderr
