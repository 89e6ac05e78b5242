"""latentstitch.tracking: wandb as a view that never loses a result.

Each documented failure (wandb not installed, not logged in, disk full, a value it rejects) is
simulated; the stage's result must be on disk and returned, the error reported once on stderr,
and raised only with logger.strict. The real offline path is read back from the .wandb files.
"""

import errno
import sys
import types

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from latentstitch import tracking
from latentstitch.decoders import MLPHead
from latentstitch.decoders.training import finish_logger, make_logger
from latentstitch.stages._cli import stage_main
from latentstitch.wandb_runs import read_runs

WARNING = "warning: wandb logging failed"


@pytest.fixture(autouse=True)
def _fresh(monkeypatch, tmp_path):
    tracking.reset_failure()
    monkeypatch.chdir(tmp_path)
    yield
    tracking.reset_failure()


def config(tmp_path, **logger):
    return OmegaConf.create(
        {
            "paths": {"results_dir": str(tmp_path / "results")},
            "suite": {"name": "unit", "datasets": {"digits": {}, "bbc_news": {}}},
            "logger": {"wandb": True, "project": "unit", "mode": "offline", "dir": str(tmp_path), **logger},
        }
    )


def writes_result(cfg):
    """A stage: its result is on disk before anything is logged."""
    out = tmp = __import__("pathlib").Path(cfg.paths.results_dir)
    out.mkdir(parents=True, exist_ok=True)
    (tmp / "result.txt").write_text("42")
    return {"answer": 42}


# --- values wandb accepts ------------------------------------------------------------------


def test_table_data_gives_none_for_every_missing_value_and_one_kind_per_column():
    frame = pd.DataFrame(
        {
            "paper_anchors": pd.array([pd.NA, pd.NA, 500], dtype="Int64"),  # the column
            "name": ["a", None, "c"],
            "value": [1.5, np.nan, np.float32(2.0)],
            "mixed": [1, "two", None],
            "flag": [True, False, None],
            "when": pd.to_datetime(["2026-01-01", None, "2026-01-03"]),
            "list": [[1, 2], [], [3]],
        }
    )
    import wandb

    with pytest.raises(TypeError, match="incompatible types"):  # what crashed the report stage
        wandb.Table(dataframe=frame[["paper_anchors"]])
    columns, rows = tracking.table_data(frame)
    assert columns == list(frame.columns)
    assert [r[0] for r in rows] == [None, None, 500] and type(rows[2][0]) is int
    assert [r[1] for r in rows] == ["a", None, "c"]
    assert [r[2] for r in rows] == [1.5, None, 2.0] and type(rows[2][2]) is float
    assert [r[3] for r in rows] == ["1", "two", None]  # mixed kinds become text
    assert [r[4] for r in rows] == [True, False, None]
    assert rows[1][5] is None and isinstance(rows[0][5], str)
    assert [r[6] for r in rows] == ["[1, 2]", "[]", "[3]"]
    table = wandb.Table(columns=columns, data=rows)  # wandb's own type check passes
    assert len(table.data) == 3


def test_logger_settings_errors_name_the_key():
    with pytest.raises(ValueError, match=r"unknown logger key\(s\) \['strikt'\]; valid: wandb"):
        tracking.logger_settings({"wandb": True, "strikt": True})
    with pytest.raises(ValueError, match="logger.mode must be one of offline, online, disabled, got 'cloud'"):
        tracking.logger_settings({"wandb": True, "mode": "cloud"})
    with pytest.raises(ValueError, match="logger.strict must be true or false, got 'yes'"):
        tracking.logger_settings({"strict": "yes"})
    assert tracking.logger_settings(None) == tracking.LoggerSettings()
    assert tracking.logger_settings({"wandb": True, "entity": None}).wandb


def test_run_context_groups_by_suite_and_tags_datasets_and_sweep_keys(tmp_path):
    cfg = config(tmp_path)
    cfg.translator, cfg.scaling, cfg.anchors = {"method": "ortho"}, {"name": "l2"}, [30, 60]
    context = tracking.run_context(cfg, "stitch")
    assert (context.group, context.name) == ("unit", "unit/stitch")
    assert context.tags == [
        "dataset:digits",
        "dataset:bbc_news",
        "method:ortho",
        "scaling:l2",
        "anchors:30",
        "anchors:60",
    ]


# --- failures: results kept, one report, exit 0 (or raised when strict) ----------------------


def disk_full(*args):
    raise OSError(errno.ENOSPC, "No space left on device")


class FullSummary(dict):
    def __setitem__(self, key, value):
        disk_full()


class FakeRun:
    """A run whose every write fails as on a full disk (the run starts: it wrote its header)."""

    def __init__(self):
        self.calls, self.summary, self.finished = [], FullSummary(), None

    def log(self, data):
        self.calls.append(data)
        disk_full()

    def log_artifact(self, artifact):
        self.calls.append(artifact)

    def finish(self, exit_code=0):
        self.finished = exit_code


def fake_wandb(monkeypatch, init):
    module = types.ModuleType("wandb")
    module.init = init
    module.Table = lambda columns, data: ("table", columns, data)
    module.Image = lambda img, caption=None: ("image", caption)
    module.Html = lambda text: ("html", text)
    monkeypatch.setitem(sys.modules, "wandb", module)
    return module


def not_logged_in(**kwargs):
    raise RuntimeError("api_key not configured (no-tty). call wandb.login(key=[your_api_key])")


def _failures(monkeypatch):
    full = FakeRun()
    return {
        "not installed": (lambda: monkeypatch.setitem(sys.modules, "wandb", None), "wandb is not installed"),
        "not logged in": (lambda: fake_wandb(monkeypatch, not_logged_in), "api_key not configured"),
        "disk full": (lambda: fake_wandb(monkeypatch, lambda **kw: full), "No space left on device"),
    }


@pytest.mark.parametrize("failure", ["not installed", "not logged in", "disk full"])
def test_a_failing_wandb_keeps_the_result_and_reports_once(tmp_path, monkeypatch, capsys, failure):
    simulate, message = _failures(monkeypatch)[failure]
    simulate()
    cfg = config(tmp_path)

    def stage(cfg):
        result = writes_result(cfg)
        logger = make_logger(cfg.logger, name="digits/enc/mlp", group="unit/train_heads")
        finish_logger(logger)
        return result

    tracked = tracking.tracked_stage("custom", stage)  # logs the result's scalars
    assert tracked(cfg) == {"answer": 42}
    assert (tmp_path / "results" / "result.txt").read_text() == "42"
    err = capsys.readouterr().err
    assert err.count(WARNING) == 1 and message in err and "logger.strict=true" in err
    # a second stage in the same process is not reported again, and still completes
    assert tracked(cfg) == {"answer": 42}
    assert WARNING not in capsys.readouterr().err
    assert make_logger(cfg.logger, name="x", group="unit/train_heads") is False  # no more wandb calls


def test_disk_full_stops_logging_after_the_first_error(tmp_path, monkeypatch, capsys):
    run = FakeRun()
    fake_wandb(monkeypatch, lambda **kwargs: run)
    with tracking.stage_run(config(tmp_path), "report") as tracker:
        tracker.log({"a": 1})
        tracker.table("t", pd.DataFrame({"x": [1]}))
        tracker.summary({"b": 2})
    assert len(run.calls) == 1 and run.summary == {} and run.finished == 1  # closed as failed
    assert capsys.readouterr().err.count(WARNING) == 1


@pytest.mark.parametrize("failure", ["not installed", "not logged in", "disk full"])
def test_strict_logging_raises(tmp_path, monkeypatch, failure):
    """A run that cannot start fails before the stage works (no hours lost); a write that
    fails after the stage fails it with its result already on disk."""
    simulate, message = _failures(monkeypatch)[failure]
    simulate()
    with pytest.raises(tracking.TrackingError, match=message):
        tracking.tracked_stage("custom", writes_result)(config(tmp_path, strict=True))
    assert (tmp_path / "results" / "result.txt").exists() == (failure == "disk full")


def test_a_training_curve_that_fails_to_log_leaves_training_alone(tmp_path, monkeypatch, capsys):
    class FullRun(FakeRun):
        config = types.SimpleNamespace(update=lambda *a, **k: None)

        def define_metric(self, *args, **kwargs):
            pass

    fake_wandb(monkeypatch, lambda **kwargs: FullRun())
    cfg = config(tmp_path)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(60, 4)).astype(np.float32), np.arange(60) % 2
    logger = make_logger(cfg.logger, name="digits/enc/mlp", group="unit/train_heads")
    head = MLPHead(hidden_dims=(4,), max_epochs=2, val_fraction=0.0, batch_size=30, accelerator="cpu")
    head.fit(x, y, logger=logger)
    finish_logger(logger)
    plain = MLPHead(hidden_dims=(4,), max_epochs=2, val_fraction=0.0, batch_size=30, accelerator="cpu").fit(x, y)
    np.testing.assert_array_equal(head.predict_proba(x), plain.predict_proba(x))
    err = capsys.readouterr().err
    assert err.count(WARNING) == 1 and "training curves of digits/enc/mlp" in err


def test_the_cli_exits_normally_when_wandb_fails(tmp_path, monkeypatch, capsys):
    import latentstitch.stages._cli as cli

    fake_wandb(monkeypatch, not_logged_in)
    # A hand-made params file: the schema and freshness checks (tests/unit/test_params.py) are
    # not what this test is about.
    monkeypatch.setattr(cli, "validate", lambda cfg: None)
    monkeypatch.setattr(cli, "check_fresh", lambda cfg, path: None)
    params = tmp_path / "params.yaml"
    OmegaConf.save(config(tmp_path), params)
    stage_main(writes_result, ["--params", str(params)])  # no SystemExit: exit code 0
    assert (tmp_path / "results" / "result.txt").exists()
    assert capsys.readouterr().err.count(WARNING) == 1
    tracking.reset_failure()  # a new process
    OmegaConf.save(config(tmp_path, strict=True), params)
    with pytest.raises(SystemExit) as exit_:  # strict: one line, exit code 2
        stage_main(writes_result, ["--params", str(params)])
    assert exit_.value.code == 2 and "api_key not configured" in capsys.readouterr().err


def test_online_without_a_login_in_real_wandb_is_reported_once(tmp_path, monkeypatch, capsys):
    for name in ("WANDB_API_KEY", "WANDB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc, no wandb settings
    monkeypatch.setenv("NETRC", str(tmp_path / "netrc"))
    monkeypatch.setenv("WANDB_CONFIG_DIR", str(tmp_path / "config"))
    monkeypatch.setenv("WANDB_MODE", "online")
    assert tracking.tracked_stage("custom", writes_result)(config(tmp_path, mode="online")) == {"answer": 42}
    err = capsys.readouterr().err
    assert err.count(WARNING) == 1 and "No API key configured" in err


def test_an_unsupported_value_in_real_offline_wandb_is_reported_once(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_MODE", "offline")  # tests run with it disabled, which wins over mode=
    with tracking.stage_run(config(tmp_path), "report") as tracker:
        tracker.log({"fine": 1.0})
        tracker.log({"bad": object()})  # wandb: "Object of type object is not JSON serializable"
        tracker.log({"later": 2.0})
    err = capsys.readouterr().err
    assert err.count(WARNING) == 1 and "not JSON serializable" in err
    (run,) = read_runs(tmp_path / "wandb", wait=30)
    assert run.metric("fine") == [1.0] and run.metric("later") == [], (run.history, run.exit_code)


# --- the real offline path -------------------------------------------------------------------


def test_lightning_finishing_its_run_leaves_the_stage_run_open(tmp_path, monkeypatch):
    """The issue's crash: training a head through Lightning's logger finished the stage's run
    and the next log raised "Run ... is finished"."""
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_MODE", "offline")  # tests run with it disabled, which wins over mode=
    cfg = config(tmp_path)
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(120, 8)).astype(np.float32), np.arange(120) % 3
    with tracking.stage_run(cfg, "stitch") as tracker:
        tracker.log({"before": 1})
        logger = make_logger(cfg.logger, name="digits/enc/mlp", group="unit/train_heads")
        head = MLPHead(hidden_dims=(8,), max_epochs=3, val_fraction=0.0, batch_size=32, accelerator="cpu")
        head.fit(x, y, logger=logger)
        finish_logger(logger)
        tracker.log({"after": 2})
        tracker.table("stitch/digits", pd.DataFrame({"paper_anchors": pd.array([pd.NA, 500], dtype="Int64")}))
    assert tracking.logging_failed() is None
    plain = MLPHead(hidden_dims=(8,), max_epochs=3, val_fraction=0.0, batch_size=32, accelerator="cpu").fit(x, y)
    np.testing.assert_array_equal(head.predict_proba(x), plain.predict_proba(x))  # logging changes no number
    runs = {run.job_type + ":" + run.name: run for run in read_runs(tmp_path / "wandb", wait=30)}
    stage, decoder = runs["stitch:unit/stitch"], runs["stitch:unit/stitch/digits/enc/mlp"]
    assert stage.group == decoder.group == "unit" and stage.exit_code == decoder.exit_code == 0
    assert stage.metric("before") == [1] and stage.metric("after") == [2]
    assert stage.config["suite"]["name"] == "unit" and "dataset:digits" in stage.tags
    assert len(decoder.metric("train_loss")) == 3 and "dataset:digits" in decoder.tags
    table = stage.logged("table-file")["stitch/digits"]
    import json

    stored = json.loads((stage.dir / "files" / table["path"]).read_text())
    assert stored["data"] == [[None], [500]]


def test_offline_runs_read_back_and_corruption_is_named(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("WANDB_SILENT", "true")
    monkeypatch.setenv("WANDB_MODE", "offline")
    with tracking.stage_run(config(tmp_path), "stitch") as tracker:
        tracker.summary({"stitch/digits/accuracy/ortho/standard": np.float64(0.75), "missing": np.nan})
    capsys.readouterr()
    from latentstitch import wandb_runs

    (run,) = read_runs(tmp_path / "wandb", wait=30)
    wandb_runs.main([str(tmp_path / "wandb")])
    line = capsys.readouterr().out
    assert "group='unit' job_type='stitch' name='unit/stitch'" in line and "exit=0" in line
    assert run.summary["stitch/digits/accuracy/ortho/standard"] == 0.75 and "missing" not in run.summary
    (path,) = run.dir.glob("run-*.wandb")
    data = bytearray(path.read_bytes())
    data[200] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ValueError, match=f"{path}: checksum mismatch"):
        wandb_runs.read_run(run.dir)
    path.write_bytes(b"not a run")
    with pytest.raises(ValueError, match="is not a wandb run file"):
        wandb_runs.read_run(run.dir)
    with pytest.raises(FileNotFoundError, match="no run-\\*.wandb file"):
        wandb_runs.read_run(tmp_path)


def test_reconstruction_grid_is_uint8_originals_over_reconstructions(tmp_path):
    from safetensors.numpy import save_file

    from latentstitch.reports.tracked import _image_pairs

    images = np.linspace(0, 1, 3 * 2 * 4, dtype=np.float32).reshape(3, 2, 4)
    save_file({"images": images, "reconstructions": 1 - images}, str(tmp_path / "r.safetensors"))
    grid = _image_pairs(tmp_path / "r.safetensors")
    assert grid.shape == (4, 12) and grid.dtype == np.uint8  # 2 rows of 3 images, 2 x 4 pixels each
    np.testing.assert_array_equal(grid[:2, 4:8], np.round(images[1] * 255))
    np.testing.assert_array_equal(grid[2:, :4], np.round((1 - images[0]) * 255))
    assert _image_pairs(tmp_path / "missing.safetensors") is None
