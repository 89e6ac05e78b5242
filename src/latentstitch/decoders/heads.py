"""Classification heads on encodings: the decoders stitched in the paper's Tables 1, 2, 5, 6.

Every head follows scikit-learn: settings in ``__init__``, ``fit(x, y)`` returns self, learned
state ends in ``_``, and ``predict`` / ``score`` refuse encodings whose dim differs from the
one the head was trained on. ``save_head`` / ``load_head`` store a head as a folder:
``head.json`` (kind, settings, dim, classes) plus its state (joblib for scikit-learn
estimators, safetensors for torch ones).
"""

from __future__ import annotations

import inspect
import json
import os
from abc import ABC, abstractmethod
from pathlib import Path
from typing import Any, ClassVar, Mapping

import joblib
import numpy as np
import torch
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import NotFittedError
from sklearn.svm import SVC, LinearSVC

import latentstitch
from latentstitch.decoders.training import as_float_matrix
from latentstitch.io import atomic_path, write_json_atomic

HEAD_KINDS: dict[str, type["Head"]] = {}
_RECORD = "head.json"


class Head(ClassifierMixin, BaseEstimator, ABC):
    """Base of every head: input validation, the dim check, and (de)serialization hooks."""

    kind: ClassVar[str]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "kind" in cls.__dict__:
            HEAD_KINDS[cls.kind] = cls

    def _validate_training_data(self, x: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        x = as_float_matrix(x, "x")
        y = np.asarray(y)
        if y.shape != (x.shape[0],):
            raise ValueError(f"y must have shape ({x.shape[0]},) to match x {x.shape}, got {y.shape}")
        if np.unique(y).size < 2:
            raise ValueError(f"y must hold at least 2 classes to train a classifier, got {np.unique(y)}")
        return x, y

    def _check_encodings(self, x: Any) -> np.ndarray:
        """x as float32 (n, d) with d the training dim, else a ValueError naming both dims."""
        if not hasattr(self, "n_features_in_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(x, y) first")
        x = as_float_matrix(x, "encodings")
        if x.shape[1] != self.n_features_in_:
            raise ValueError(
                f"{type(self).__name__} was trained on {self.n_features_in_}-dim encodings, got encodings "
                f"of shape {x.shape} ({x.shape[1]}-dim); translate them into the head's space first "
                f"(latentstitch.translate)"
            )
        return x

    def _settings(self) -> dict[str, Any]:
        """The ``__init__`` settings as JSON values (what ``head.json`` records)."""
        return {k: list(v) if isinstance(v, tuple) else v for k, v in self.get_params(deep=False).items()}

    @classmethod
    def _from_settings(cls, settings: Mapping[str, Any]) -> "Head":
        return cls(**settings)

    @abstractmethod
    def _save_state(self, directory: Path) -> None:
        """Write the learned state into ``directory`` (``head.json`` is written by save_head)."""

    @abstractmethod
    def _load_state(self, directory: Path) -> None:
        """Restore the learned state, including ``n_features_in_`` and ``classes_``."""


class _SklearnHead(Head):
    """A head whose learned state is one fitted scikit-learn estimator, ``estimator_``."""

    @abstractmethod
    def _make_estimator(self) -> BaseEstimator:
        """A fresh, unfitted scikit-learn estimator built from the settings."""

    def fit(self, x: Any, y: Any) -> "_SklearnHead":
        x, y = self._validate_training_data(x, y)
        self.estimator_ = self._make_estimator().fit(x, y)
        self.classes_ = self.estimator_.classes_
        self.n_features_in_ = x.shape[1]
        return self

    def predict(self, x: Any) -> np.ndarray:
        x = self._check_encodings(x)
        return self.estimator_.predict(x)

    def decision_function(self, x: Any) -> np.ndarray:
        x = self._check_encodings(x)
        return self.estimator_.decision_function(x)

    # joblib unpickles, which can run code: load_head only reads folders this project wrote.
    def _save_state(self, directory: Path) -> None:
        with atomic_path(directory / "head.joblib") as tmp:
            joblib.dump(self.estimator_, tmp)

    def _load_state(self, directory: Path) -> None:
        self.estimator_ = joblib.load(directory / "head.joblib")
        self.classes_ = self.estimator_.classes_
        self.n_features_in_ = int(self.estimator_.n_features_in_)


class SVMHead(_SklearnHead):
    """scikit-learn ``SVC(kernel="linear")``: the paper's "SVM" head (App. B; Tables 1, 2).

    The paper says scikit-learn's SVM "with default parameters" and its table captions say
    "SVMs with a linear kernel"; SVC's default kernel is rbf, so we follow the captions and
    keep every other SVC default (C=1, one-vs-one). Training cost grows ~quadratically with
    the train set; ``LinearSVMHead`` scales better (conf/head/svm_fast.yaml).
    """

    kind = "svm"

    def __init__(self, C: float = 1.0, n_jobs: int | None = 1) -> None:
        self.C = C
        self.n_jobs = n_jobs

    def _make_estimator(self) -> SVC:
        return SVC(kernel="linear", C=self.C)

    def fit(self, x: Any, y: Any) -> "SVMHead":
        """``SVC(kernel="linear", C).fit(x, y)``; with ``n_jobs`` other than 1 and more than two
        classes, its one-vs-one subproblems are solved in parallel (``OneVsOneLinearSVC``): the
        same binary problems libsvm solves one after the other, so the same classifier up to
        the solver's stopping tolerance (tests/unit/test_heads_parallel.py measures the
        test-set labels that agree)."""
        x, y = self._validate_training_data(x, y)
        # getattr: a user subclass (conf/head with _target_) may not take n_jobs
        if resolve_n_jobs(getattr(self, "n_jobs", 1)) > 1 and np.unique(y).size > 2:
            self.estimator_ = OneVsOneLinearSVC(C=self.C, n_jobs=self.n_jobs).fit(x, y)
        else:
            self.estimator_ = self._make_estimator().fit(x, y)
        self.classes_ = self.estimator_.classes_
        self.n_features_in_ = x.shape[1]
        return self

    def predict(self, x: Any) -> np.ndarray:
        """``SVC.predict``, computed from the primal weights.

        libsvm predicts through the kernel, one dot product per support vector; with a linear
        kernel the one-vs-one decision values are ``x @ coef_.T + intercept_``, one small
        matrix product (stitching decodes many translated test sets), in float32 with the rows
        whose signs float32 could flip redone in float64 (``OneVsOneReadout``).
        """
        return self.linear_readout().labels(self._check_encodings(x))

    def linear_readout(self) -> "OneVsOneReadout":
        """The head as ``labels(x @ weight + bias)`` (see ``OneVsOneReadout``), for composing it
        with a linear map: stitching decodes ``prepare(x) @ (coef_ @ weight)`` directly."""
        if not hasattr(self, "estimator_"):
            raise NotFittedError(f"this {type(self).__name__} is not fitted yet; call fit(x, y) first")
        # cached per fitted estimator (a refit replaces estimator_)
        if getattr(self, "_readout", (None,))[0] is not self.estimator_:
            est = self.estimator_
            self._readout = (est, OneVsOneReadout(est.coef_.T, est.intercept_, self.classes_))
        return self._readout[1]


def resolve_n_jobs(n_jobs: int | None) -> int:
    """Worker count of an ``n_jobs`` setting: None or -1 -> every core; k >= 1 -> k."""
    if n_jobs is None or n_jobs == -1:
        return os.cpu_count() or 1
    if not isinstance(n_jobs, int) or isinstance(n_jobs, bool) or n_jobs < 1:
        raise ValueError(f"n_jobs must be a positive int, -1 or None (every core), got {n_jobs!r}")
    return n_jobs


def _fit_pair(x: np.ndarray, y: np.ndarray, C: float) -> tuple[np.ndarray, float, int]:
    """One one-vs-one subproblem as libsvm poses it: the first class's rows, then the second's,
    each in data order, the first class positive. Returns (weight, bias, support vectors)."""
    svc = SVC(kernel="linear", C=C).fit(x, y)
    # scikit-learn's binary SVC says "positive = classes_[1]"; libsvm's pair (i, j) says i
    return -svc.coef_[0], -float(svc.intercept_[0]), int(svc.support_.size)


class OneVsOneLinearSVC(ClassifierMixin, BaseEstimator):
    """A linear-kernel SVC whose k (k - 1) / 2 one-vs-one subproblems are solved in parallel
    (joblib, ``n_jobs`` workers). libsvm's multiclass SVC solves the same binary problems, on
    the same rows in the same order with the same C, one after another; the results differ
    only within the solver's stopping tolerance. Holds what a linear SVC's readout needs:
    ``coef_`` (pairs, d), ``intercept_`` (pairs,), ``classes_``, ``n_support_total_``.
    ``decision_function`` has SVC's default "ovr" shape."""

    def __init__(self, C: float = 1.0, n_jobs: int | None = None) -> None:
        self.C = C
        self.n_jobs = n_jobs

    def fit(self, x: np.ndarray, y: np.ndarray) -> "OneVsOneLinearSVC":
        from joblib import Parallel, delayed

        self.classes_ = np.unique(y)
        k = len(self.classes_)
        jobs = []
        for i in range(k):
            for j in range(i + 1, k):
                rows = np.concatenate([np.flatnonzero(y == self.classes_[i]), np.flatnonzero(y == self.classes_[j])])
                jobs.append(delayed(_fit_pair)(x[rows], (y[rows] == self.classes_[j]).astype(np.int64), self.C))
        workers = min(resolve_n_jobs(self.n_jobs), len(jobs))
        fits = Parallel(n_jobs=workers, backend="loky")(jobs)
        self.coef_ = np.stack([f[0] for f in fits])
        self.intercept_ = np.asarray([f[1] for f in fits])
        self.n_support_total_ = sum(f[2] for f in fits)
        self.n_features_in_ = x.shape[1]
        return self

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        from sklearn.utils.multiclass import _ovr_decision_function

        dec = np.asarray(x, dtype=np.float64) @ self.coef_.T + self.intercept_
        return _ovr_decision_function(dec < 0, -dec, len(self.classes_))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return OneVsOneReadout(self.coef_.T, self.intercept_, self.classes_).labels(np.asarray(x))


class OneVsOneReadout:
    """Labels from a linear one-vs-one SVC's decision values ``x @ weight + bias`` (d, pairs).

    ``labels(x, weight, bias)`` takes another (weight, bias) of the same pairs, e.g. the head
    composed with a translation. Votes follow libsvm: pair (i, j), i < j in order, votes for i
    when its value is positive, else for j; ties go to the lowest class. Two classes: one
    value, positive meaning ``classes[1]`` (scikit-learn's convention).

    The product runs in float32 and only a row where float32 rounding could have flipped the
    sign of a decision value is recomputed in float64: the rounding error of a d-term dot
    product plus the bias is at most ``(d + 3) u (|x_i| . |w_j| + |b_j|)`` (u = 2**-24, the
    float32 weights' own rounding included), and ``|x_i| . |w_j| <= ||x_i|| ||w_j||``; a row
    with any value within twice that bound of zero is redone in float64. So the labels equal
    a float64 decode's.
    """

    def __init__(self, weight: np.ndarray, bias: np.ndarray, classes: np.ndarray) -> None:
        # own copies: scikit-learn's arrays are read-only, and torch wants writable ones
        self.weight = np.array(weight, dtype=np.float64)
        self.bias = np.array(bias, dtype=np.float64)
        self.classes = np.asarray(classes)
        k = len(self.classes)
        if (
            self.weight.ndim != 2
            or self.weight.shape[1] != max(1, k * (k - 1) // 2)
            or self.bias.shape != self.weight.shape[1:]
        ):
            raise ValueError(
                f"{k} classes need weight (d, {max(1, k * (k - 1) // 2)}) and bias of as many values, got "
                f"weight {self.weight.shape} and bias {self.bias.shape}"
            )
        first, second = np.triu_indices(k, k=1)
        pairs = np.arange(len(first))
        # votes = positive @ (first - second) + (number of pairs in which each class is second)
        vote_diff = np.zeros((len(first), k), dtype=np.float32)
        vote_diff[pairs, first] += 1
        vote_diff[pairs, second] -= 1
        self._vote_diff = torch.from_numpy(vote_diff)
        self._vote_base = torch.from_numpy(np.bincount(second, minlength=k).astype(np.float32))

    def decision(self, x: np.ndarray, weight: np.ndarray | None = None, bias: np.ndarray | None = None) -> np.ndarray:
        """``x @ weight + bias`` (default: the head's own) in float64, every sign as float64 gives it."""
        weight = self.weight if weight is None else np.asarray(weight, dtype=np.float64)
        bias = self.bias if bias is None else np.asarray(bias, dtype=np.float64)
        if x.ndim != 2 or weight.shape != (x.shape[1], self.weight.shape[1]) or bias.shape != self.bias.shape:
            raise ValueError(
                f"decision needs x (n, d), weight (d, {self.weight.shape[1]}) and bias "
                f"({self.weight.shape[1]},), got {x.shape}, {weight.shape} and {bias.shape}"
            )
        # torch, not numpy, for the products: stitching runs them between torch work, and
        # OpenBLAS threads left spinning after a numpy product slow torch's threads down ~3x
        x32 = torch.from_numpy(np.ascontiguousarray(x, dtype=np.float32))
        w64, b64 = torch.tensor(weight), torch.tensor(bias)  # copies: scikit-learn's arrays are read-only
        decision = torch.addmm(b64.float(), x32, w64.float())
        # float32 squares: a relative error of ~d u, well inside the factor 2 below
        x_norms = torch.linalg.vector_norm(x32, dim=1).double()
        bound = 2 * (x.shape[1] + 3) * 2.0**-24 * (torch.outer(x_norms, w64.norm(dim=0)) + b64.abs())
        doubtful = torch.nonzero((decision.abs().double() <= bound).any(dim=1)).flatten()
        decision = decision.double()
        if len(doubtful):
            decision[doubtful] = torch.addmm(b64, x32[doubtful].double(), w64)
        return decision.numpy()

    def labels(self, x: np.ndarray, weight: np.ndarray | None = None, bias: np.ndarray | None = None) -> np.ndarray:
        """The class of each row of ``x`` under ``x @ weight + bias`` (see ``decision``)."""
        decision = self.decision(x, weight, bias)
        if len(self.classes) == 2:
            return self.classes[(decision[:, 0] > 0).astype(int)]
        votes = torch.from_numpy((decision > 0).astype(np.float32)) @ self._vote_diff + self._vote_base
        return self.classes[votes.argmax(dim=1).numpy()]


class LinearSVMHead(_SklearnHead):
    """scikit-learn ``LinearSVC`` (liblinear): a linear SVM whose cost grows ~linearly with n.

    Differs from ``SVMHead`` in the loss (squared hinge), the multiclass scheme (one-vs-rest)
    and a regularized intercept; accuracy and speed against it are measured in
    conf/head/svm_fast.yaml. ``seed`` orders liblinear's coordinate descent.
    """

    kind = "linear_svm"

    def __init__(self, C: float = 1.0, max_iter: int = 1000, seed: int = 0) -> None:
        self.C = C
        self.max_iter = max_iter
        self.seed = seed

    def _make_estimator(self) -> LinearSVC:
        return LinearSVC(C=self.C, max_iter=self.max_iter, random_state=self.seed)


def head_class(head_cfg: Mapping[str, Any]) -> type[Head]:
    """The class a head config names: ``_target_`` (a ``Head`` subclass on the Python path,
    e.g. ``mypackage.heads.MyHead``: a user's own head, with no edit of this package) or
    ``kind`` (one of ``HEAD_KINDS``)."""
    target = head_cfg.get("_target_")
    if target is not None:
        from hydra.utils import get_class

        cls = get_class(str(target))
        if not (isinstance(cls, type) and issubclass(cls, Head)):
            raise TypeError(f"head _target_ {target!r} is not a latentstitch.decoders.Head subclass")
        return cls
    kind = head_cfg.get("kind")
    if kind not in HEAD_KINDS:
        raise ValueError(
            f"unknown head kind {kind!r}; valid: {', '.join(sorted(HEAD_KINDS))} (or `_target_: your.module.YourHead`)"
        )
    return HEAD_KINDS[kind]


def head_settings(cls: type[Head]) -> set[str]:
    """The settings a head class takes (its ``__init__`` arguments)."""
    return set(inspect.signature(cls.__init__).parameters) - {"self"}


def build_head(head_cfg: Mapping[str, Any], **context: Any) -> Head:
    """A head from a conf/head/*.yaml mapping: ``kind`` (or ``_target_``, a ``Head`` subclass
    on the Python path, built like ``hydra.utils.instantiate``) plus settings.

    ``context`` (e.g. ``seed``, ``accelerator``) fills the settings the head kind accepts and
    is ignored by the others, so one call serves seeded and deterministic heads alike.
    """
    settings = {k: v for k, v in dict(head_cfg).items() if k not in ("kind", "_target_")}
    cls = head_class(head_cfg)
    kind = cls.kind
    accepted = head_settings(cls)
    if "n_jobs" not in accepted:
        settings.pop("n_jobs", None)  # every head config may say how many train at once
    unknown = set(settings) - accepted
    if unknown:
        raise ValueError(f"unknown settings {sorted(unknown)} for head kind {kind!r}; valid: {sorted(accepted)}")
    settings.update({k: v for k, v in context.items() if k in accepted})
    return cls(**settings)


def save_head(head: Head, directory: str | os.PathLike) -> Path:
    """Write a fitted head to ``directory`` (created); ``head.json`` is written last."""
    if not hasattr(head, "n_features_in_"):
        raise NotFittedError(f"cannot save an unfitted {type(head).__name__}; call fit first")
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    head._save_state(directory)
    write_json_atomic(
        directory / _RECORD,
        {
            "kind": head.kind,
            "target": f"{type(head).__module__}.{type(head).__qualname__}",
            "settings": head._settings(),
            "n_features_in": int(head.n_features_in_),
            "classes": np.asarray(head.classes_).tolist(),
            "latentstitch_version": latentstitch.__version__,
        },
    )
    return directory


def load_head(directory: str | os.PathLike) -> Head:
    """Read a head written by ``save_head``.

    Only load folders this project wrote: scikit-learn heads are joblib pickles, and
    unpickling data from elsewhere can run arbitrary code.
    """
    directory = Path(directory)
    record_path = directory / _RECORD
    if not record_path.exists():
        raise FileNotFoundError(f"no saved head in {directory} (missing {_RECORD}; run the train_heads stage)")
    record = json.loads(record_path.read_text())
    kind = record.get("kind")
    if kind not in HEAD_KINDS and record.get("target"):
        head_class({"_target_": record["target"]})  # a user's head: importing it registers its kind
    if kind not in HEAD_KINDS:
        raise ValueError(f"{record_path} names unknown head kind {kind!r}; valid: {', '.join(sorted(HEAD_KINDS))}")
    head = HEAD_KINDS[kind]._from_settings(record["settings"])
    head._load_state(directory)
    if head.n_features_in_ != record["n_features_in"]:
        raise ValueError(
            f"{directory} is inconsistent: state has dim {head.n_features_in_}, "
            f"{_RECORD} says {record['n_features_in']}"
        )
    return head
