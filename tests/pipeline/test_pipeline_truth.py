"""The pipeline tells the truth (issue 13), on the smoke suite in a throwaway copy of the repo:
`dvc status` flags exactly the stages an edit can change, `dvc repro` after an edit equals a
clean run, stale params and corrupted caches are caught, and DVC's metrics, plots and
experiments work. One clean `dvc repro` is shared by the module (plus one more for the
split_seed edit's clean run)."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

BIN = Path(sys.executable).parent
# provenance and timing columns differ between runs by design
VOLATILE = {"git_revision", "config_hash", "seconds"}

pytestmark = pytest.mark.slow


def _env(repo: Path, **extra) -> dict:
    return dict(
        os.environ,
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
        PYTHONPATH=str(repo / "src"),
        LATENTSTITCH_CONF_DIR=str(repo / "conf"),
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
        **extra,
    )


def _run(args, repo, ok=True, **extra):
    result = subprocess.run(args, cwd=repo, env=_env(repo, **extra), capture_output=True, text=True, timeout=900)
    if ok:
        assert result.returncode == 0, f"{args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _compose(repo, *overrides):
    _run([sys.executable, "scripts/compose_params.py", "suite=smoke", *overrides], repo)


def _flagged(repo) -> set[str]:
    return set(json.loads(_run(["dvc", "status", "--json"], repo).stdout))


def _flagged_fast(repo) -> set[str]:
    """`dvc status` in this process (no interpreter start: the loops below call it ~80 times)."""
    from dvc.repo import Repo

    with Repo(str(repo)) as dvc:
        return {key.rsplit(":", 1)[-1] for key in dvc.status()}  # "<path>/dvc.yaml:<stage>" -> stage


def _results(repo) -> dict[str, object]:
    """What a run decides: the stitch tables (less provenance), the report's tables, the
    headline metrics, the heads' and autoencoders' test scores."""
    results = repo / "results" / "smoke"
    out: dict[str, object] = {}
    for path in sorted((results / "stitch").glob("*.csv")):
        table = pd.read_csv(path)
        out[path.name] = table.drop(columns=[c for c in table if c in VOLATILE]).to_csv(index=False)
    for path in sorted((results / "report" / "tables").glob("*.csv")):
        if path.name.endswith("_fit_seconds.csv"):  # timings (stitchability's seconds per fit)
            continue
        out[f"report/{path.name}"] = path.read_text()
    out["metrics.json"] = json.loads((results / "metrics.json").read_text())
    for kind, key in (("heads", "test_accuracy"), ("relative_heads", "test_accuracy"), ("autoencoders", "test_rmse")):
        for path in sorted((results / kind).rglob("metrics.json")):
            out[str(path.relative_to(results))] = json.loads(path.read_text())[key]
    return out


def _clean_run(tmp_path_factory, copy_worktree, name, *overrides, edit=None):
    repo = copy_worktree(tmp_path_factory.mktemp(name))
    if edit is not None:
        edit(repo)
    _compose(repo, *overrides)
    record = repo / "imports"
    record.mkdir()
    _run(["dvc", "repro"], repo, LATENTSTITCH_RECORD_IMPORTS=str(record))
    return repo


@pytest.fixture(scope="module")
def repo(tmp_path_factory, copy_worktree):
    return _clean_run(tmp_path_factory, copy_worktree, "truth")


@pytest.fixture(scope="module")
def clean(repo):
    return _results(repo)


def _dvc_stages(repo) -> dict:
    return yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]


def test_clean_run_is_up_to_date_and_deps_cover_what_each_stage_imported(repo):
    assert _flagged(repo) == set()
    stages = _dvc_stages(repo)
    for name, stage in stages.items():
        module = stage["cmd"].split()[2]
        imported = {Path(p).resolve() for p in (repo / "imports" / f"{module}.txt").read_text().split()}
        deps = {(repo / d).resolve() for d in stage["deps"]}
        missing = sorted(str(p.relative_to(repo)) for p in imported - deps)
        assert not missing, f"stage {name} imported files it does not depend on: {missing}"


def test_each_source_edit_flags_exactly_the_stages_that_import_it(repo):
    stages = _dvc_stages(repo)
    imported = {
        name: {
            str(Path(p).resolve().relative_to(repo))
            for p in (repo / "imports" / f"{s['cmd'].split()[2]}.txt").read_text().split()
        }
        for name, s in stages.items()
    }
    for path in sorted((repo / "src" / "latentstitch").rglob("*.py")):
        rel = str(path.relative_to(repo))
        expected = {name for name, s in stages.items() if rel in s["deps"]}
        # what actually ran it is flagged (the static deps may add code paths smoke does not take)
        assert {name for name, files in imported.items() if rel in files} <= expected, rel
        text = path.read_text()
        try:
            path.write_text(text + "\n# an edit\n")
            assert _flagged_fast(repo) == expected, rel
        finally:
            path.write_text(text)
    assert _flagged(repo) == set()


# Which stages read each config group option (by what they do, not by the declaration): the
# datasets' data is encoded, autoencoded, stitched (reconstruction images), used by the
# appendix and described by the report; encoders are encoded, used by the appendix and
# described by the report; heads are trained (plain and relative) and the appendix fits its
# own; autoencoders are trained. `config` checks conf/ itself.
GROUP_EDITS = {
    "conf/dataset/digits.yaml": (
        ("split_seed: 0", "split_seed: 1"),
        {"config", "encode", "train_autoencoders", "stitch", "appendix", "report"},
    ),
    "conf/encoder/vit_small_patch16_224.yaml": (("dim: 384", "dim: 385"), {"config", "encode", "appendix", "report"}),
    "conf/head/svm_fast.yaml": (("C: 1.0", "C: 0.5"), {"config", "train_heads", "train_relative_heads", "appendix"}),
    "conf/head/svm.yaml": (("C: 1.0", "C: 0.5"), {"config", "train_heads", "train_relative_heads", "appendix"}),
    "conf/autoencoder/cnn_tiny.yaml": (("max_epochs: 2", "max_epochs: 3"), {"config", "train_autoencoders"}),
    "conf/autoencoder/cnn.yaml": (("max_epochs: 10", "max_epochs: 11"), {"config"}),  # not in smoke: params unchanged
}


@pytest.mark.parametrize("file", sorted(GROUP_EDITS))
def test_each_conf_group_edit_flags_exactly_the_stages_that_read_it(repo, file):
    (old, new), expected = GROUP_EDITS[file]
    path, params = repo / file, (repo / "params.yaml").read_text()
    text = path.read_text()
    assert old in text
    try:
        path.write_text(text.replace(old, new))
        # before recomposing: conf/ changed, `config` (which checks params.yaml is fresh) says so
        assert _flagged_fast(repo) == {"config"}
        _compose(repo)
        assert _flagged_fast(repo) == expected, file
    finally:
        path.write_text(text)
        (repo / "params.yaml").write_text(params)


def test_stale_params_fail_at_stage_start(repo):
    path = repo / "conf" / "head" / "svm.yaml"
    text = path.read_text()
    try:
        path.write_text(text.replace("C: 1.0", "C: 2.0"))
        result = _run(
            [sys.executable, "-m", "latentstitch.stages.train_heads", "--params", "params.yaml"], repo, ok=False
        )
        assert result.returncode == 2 and "params.yaml is stale" in result.stderr
        assert "python scripts/compose_params.py suite=smoke" in result.stderr and "Traceback" not in result.stderr
        stale = _run(["dvc", "repro"], repo, ok=False)
        assert stale.returncode != 0 and "params.yaml is stale" in stale.stderr + stale.stdout
    finally:
        path.write_text(text)
    # an edit of an option the suite does not use leaves params.yaml fresh
    unused = repo / "conf" / "autoencoder" / "cnn.yaml"
    text = unused.read_text()
    try:
        unused.write_text(text.replace("max_epochs: 10", "max_epochs: 11"))
        _run(["dvc", "repro"], repo)
    finally:
        unused.write_text(text)
    _run(["dvc", "repro"], repo)
    assert _flagged(repo) == set()


def test_metrics_and_plots(repo):
    metrics = json.loads(_run(["dvc", "metrics", "show", "--json"], repo).stdout)
    shown = json.dumps(metrics)
    assert "classification_svm_fast_standard" in shown and "reconstruction_plain_same_standard" in shown
    out = repo / "plots_html"
    _run(["dvc", "plots", "show", "-o", str(out)], repo)
    html = (out / "index.html").read_text()
    assert "figure3_digits_svm_fast" in html and "figure8_digits_plain_same" in html


def test_corrupted_caches_are_detected_rebuilt_and_results_equal_a_clean_run(repo, clean):
    results = repo / "results" / "smoke"
    targets = [
        repo / "cache" / "encodings_tiny" / "digits" / "rexnet_100" / "train.safetensors",
        results / "heads" / "digits" / "rexnet_100" / "svm_fast" / "head.joblib",
        results / "autoencoders" / "digits" / "ae_b16_s0" / "autoencoder.safetensors",
    ]
    for path in targets:  # same size, bytes changed in the middle (tensors, not the header)
        data = bytearray(path.read_bytes())
        middle = len(data) * 3 // 4
        data[middle : middle + 64] = bytes(64)
        assert bytes(data) != path.read_bytes()
        path.write_bytes(bytes(data))
    assert {"encode", "train_heads", "train_autoencoders"} <= _flagged(repo)
    result = _run(["dvc", "repro"], repo)
    log = result.stderr + result.stdout
    assert "re-encoding" in log and "rexnet_100/train.safetensors: corrupted" in log
    assert "svm_fast" in log and "head.joblib is corrupted" in log
    assert "autoencoder.safetensors is corrupted" in log
    assert _results(repo) == clean
    assert _flagged(repo) == set()


def test_source_edit_then_repro_equals_the_clean_run(repo, clean):
    path = repo / "src" / "latentstitch" / "reports" / "tables.py"
    text = path.read_text()
    path.write_text(text + "\n# an edit that changes nothing\n")
    try:
        _run(["dvc", "repro"], repo)
        assert _results(repo) == clean
    finally:
        path.write_text(text)
    _run(["dvc", "repro"], repo)


def test_split_seed_edit_then_repro_equals_a_clean_run(repo, tmp_path_factory, copy_worktree):
    def edit(root):
        # digits_inverted holds the same items as digits (appendix, Figure 7): the same split
        for name in ("digits", "digits_inverted"):
            path = root / "conf" / "dataset" / f"{name}.yaml"
            path.write_text(path.read_text().replace("split_seed: 0", "split_seed: 1"))

    fresh = _clean_run(tmp_path_factory, copy_worktree, "split_seed", edit=edit)
    edit(repo)
    _compose(repo)
    _run(["dvc", "repro"], repo)
    assert _results(repo) == _results(fresh)


def test_experiments_sweep_and_show(repo):
    # experiments need a commit to branch from
    _run(["git", "add", "-A"], repo)
    _run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "baseline"], repo)
    # fewer affine steps: the affine cells of every table change
    _run(["dvc", "exp", "run", "-n", "short_affine", "-S", "suite.stitch.translator.affine_steps=10"], repo)
    shown = json.loads(_run(["dvc", "exp", "show", "--json"], repo).stdout)
    text = json.dumps(shown)
    assert "short_affine" in text and "classification_svm_fast_standard" in text and "affine_steps" in text
    diff = json.dumps(json.loads(_run(["dvc", "metrics", "diff", "HEAD", "--json"], repo).stdout))
    assert "classification_svm_fast_standard.accuracy.affine" in diff, diff[:2000]
