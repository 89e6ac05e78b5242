"""Heads in parallel (issue 17): the exact SVC with its one-vs-one subproblems solved in
parallel is the same classifier as scikit-learn's SVC, and ``n_jobs`` is a scheduling setting."""

import numpy as np
import pytest

from latentstitch.decoders import SVMHead, build_head, load_head, save_head
from latentstitch.decoders.heads import OneVsOneLinearSVC, resolve_n_jobs
from latentstitch.fitting import split_n_jobs


@pytest.fixture(scope="module")
def blobs():
    """6 overlapping classes in 32 dims (so that many points are support vectors)."""
    rng = np.random.default_rng(0)
    centers = rng.normal(scale=1.5, size=(6, 32))
    y = rng.integers(0, 6, size=1500)
    x = (centers[y] + rng.normal(size=(1500, 32))).astype(np.float32)
    return x[:1200], y[:1200], x[1200:], y[1200:]


@pytest.mark.slow
def test_parallel_one_vs_one_is_the_same_classifier(blobs, tmp_path):
    """Measured: every test label equal, one-vs-one weights and biases equal to 1e-10 (libsvm
    solves the very same binary problems, rows in the same order)."""
    x, y, x_test, _ = blobs
    serial, parallel = SVMHead().fit(x, y), SVMHead(n_jobs=2).fit(x, y)
    assert isinstance(serial.estimator_, type(SVMHead()._make_estimator()))
    assert isinstance(parallel.estimator_, OneVsOneLinearSVC)
    np.testing.assert_array_equal(parallel.predict(x_test), serial.predict(x_test))
    np.testing.assert_allclose(parallel.estimator_.coef_, serial.estimator_.coef_, atol=1e-10)
    np.testing.assert_allclose(parallel.estimator_.intercept_, serial.estimator_.intercept_, atol=1e-10)
    np.testing.assert_allclose(parallel.decision_function(x_test), serial.decision_function(x_test), atol=1e-8)
    np.testing.assert_array_equal(parallel.estimator_.predict(x_test), serial.estimator_.predict(x_test))
    loaded = load_head(save_head(parallel, tmp_path / "svm"))
    np.testing.assert_array_equal(loaded.predict(x_test), serial.predict(x_test))


def test_two_classes_and_one_job_use_scikit_learns_svc(blobs):
    x, y, _, _ = blobs
    two = y < 2
    assert not isinstance(SVMHead(n_jobs=2).fit(x[two], y[two]).estimator_, OneVsOneLinearSVC)
    assert not isinstance(SVMHead(n_jobs=1).fit(x, y).estimator_, OneVsOneLinearSVC)


def test_n_jobs_is_a_scheduling_setting():
    assert resolve_n_jobs(None) == resolve_n_jobs(-1) >= 1 and resolve_n_jobs(3) == 3
    for bad in (0, -2, 1.5, True):
        with pytest.raises(ValueError, match="n_jobs must be a positive int, -1 or None"):
            resolve_n_jobs(bad)
    settings, n = split_n_jobs({"kind": "svm", "C": 1.0, "n_jobs": 4})
    assert settings == {"kind": "svm", "C": 1.0} and n == 4  # not in the fingerprint
    assert split_n_jobs({"kind": "mlp"})[1] == resolve_n_jobs(None)  # default: every core
    # every head kind takes n_jobs from its config; only the SVC uses it itself
    assert build_head({"kind": "mlp", "n_jobs": 2}).get_params().get("n_jobs") is None
    assert build_head({"kind": "svm", "n_jobs": 2}).n_jobs == 2


@pytest.mark.slow
def test_the_stage_trains_heads_in_parallel_as_it_would_one_by_one(blobs, tmp_path):
    """``keep_or_train_heads`` with n_jobs 2 (two processes) writes the heads and metrics that n_jobs 1
    writes; a second run keeps them all (the fingerprint does not hold n_jobs)."""
    from omegaconf import OmegaConf

    from latentstitch.fitting import HeadJob, keep_or_train_heads

    x, y, x_test, y_test = blobs
    out = {}
    for n_jobs in (1, 2):
        cfg = OmegaConf.create(
            {
                "seed": 0,
                "device": "cpu",
                "logger": None,
                "suite": {"name": "t"},
                "paths": {"results_dir": str(tmp_path / str(n_jobs))},
            }
        )
        jobs = [
            HeadJob(
                out=tmp_path / str(n_jobs) / "heads" / "d" / f"e{i}" / kind,
                head_cfg={"kind": kind, "n_jobs": n_jobs, **({"max_epochs": 2} if kind == "mlp" else {})},
                record={"dataset": "d", "encoder": f"e{i}", "head": kind, "relative": False},
                data_id={"e": i},
                train=(x[:300] * (i + 1), y[:300]),
                test=(x_test, y_test),
                anchor_idx=None,
                key=f"d/e{i}/{kind}",
            )
            for i in range(2)
            for kind in ("svm", "mlp")
        ]
        summary = {"trained": 0, "kept": 0, "test_accuracy": {}}
        keep_or_train_heads(cfg, jobs, summary, "train_heads")
        assert summary["trained"] == 4 and summary["kept"] == 0
        out[n_jobs] = summary["test_accuracy"]
        for job in jobs:
            head = load_head(job.out)
            assert head.predict(x_test).shape == y_test.shape
        again = {"trained": 0, "kept": 0, "test_accuracy": {}}
        for job in jobs:
            job.head_cfg["n_jobs"] = 3 - n_jobs
        keep_or_train_heads(cfg, jobs, again, "train_heads")
        assert again["kept"] == 4 and again["test_accuracy"] == summary["test_accuracy"]
    assert out[1] == out[2]
