"""The shared stage CLI: params.yaml mode, Hydra mode, one-line errors for missing assets."""

import subprocess
import sys

from latentstitch.config import REPO_ROOT


def test_missing_model_is_one_line_and_exit_2(tmp_path):
    params = tmp_path / "params.yaml"
    subprocess.run(
        [
            sys.executable,
            str(REPO_ROOT / "scripts" / "compose_params.py"),
            "--output",
            str(params),
            "--dvc-yaml",
            str(tmp_path / "dvc.yaml"),
            "suite=smoke",
            "suite.tiny=false",
            "suite.datasets={digits: {encoders: [bert_base_cased]}}",
            "~suite.appendix",
            f"paths.cache_dir={tmp_path}",
        ],
        check=True,
        cwd=REPO_ROOT,
        capture_output=True,
    )
    for module in ("latentstitch.validation", "latentstitch.stages.encode"):
        result = subprocess.run(
            [sys.executable, "-m", module, "--params", str(params)],
            capture_output=True,
            text=True,
            cwd=REPO_ROOT,
            timeout=300,
            env={
                "PATH": "/usr/bin:/bin",
                "HF_HUB_OFFLINE": "1",
                "HF_HOME": str(tmp_path / "hf"),
                "PYTHONPATH": str(REPO_ROOT / "src"),
            },
        )
        assert result.returncode == 2, result.stderr
        assert "Traceback" not in result.stderr
        assert result.stderr.startswith("error: ") and "bert-base-cased" in result.stderr


def test_hydra_mode_composes_conf_and_accepts_overrides(tmp_path):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "latentstitch.stages.encode",
            "suite=smoke",
            "suite.datasets={}",
            f"hydra.run.dir={tmp_path}/hydra",
        ],
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "hydra" / ".hydra" / "config.yaml").exists()
