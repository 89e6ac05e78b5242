"""Relative heads: the decoders of the paper's `relative` baseline (Moschella et al., 2023; Sec. 3.1).

A ``RelativeHead`` trains any head on ``relative_projection(x, anchors)``, the cosine
similarities of each encoding to the anchors of the same encoder. Stitching then feeds it
another encoder's encodings projected on that encoder's parallel anchors (same indices).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
from safetensors.numpy import load_file, save_file
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from latentstitch.decoders.heads import HEAD_KINDS, Head, load_head, save_head
from latentstitch.decoders.training import as_float_matrix
from latentstitch.io import atomic_path
from latentstitch.translate import relative_projection


class RelativeHead(Head):
    """``head`` trained on relative representations with respect to anchors given at fit.

    fit(x, y, anchors): x (n, d) encodings, anchors (k, d) encodings of the same encoder;
    the inner head ``head_`` learns on the (n, k) relative representation. predict(x, anchors):
    x (m, d') and anchors (k, d') of any encoder whose anchors are parallel to the training
    ones; without anchors, the training anchors (``anchors_``) are used (no-stitch).
    """

    kind = "relative"

    def __init__(self, head: Head) -> None:
        self.head = head

    def fit(self, x: Any, y: Any, anchors: Any, **fit_params: Any) -> "RelativeHead":
        """Fit ``head`` on relative_projection(x, anchors); ``fit_params`` go to its fit."""
        x, y = self._validate_training_data(x, y)
        anchors = as_float_matrix(anchors, "anchors")
        if anchors.shape[1] != x.shape[1]:
            raise ValueError(
                f"anchors must be encodings of the same encoder as x: x is {x.shape[1]}-dim, "
                f"anchors have shape {anchors.shape}"
            )
        self.anchors_ = anchors.copy()
        self.head_ = clone(self.head).fit(relative_projection(x, self.anchors_), y, **fit_params)
        self.classes_ = self.head_.classes_
        self.n_features_in_ = x.shape[1]
        self.n_anchors_ = anchors.shape[0]
        return self

    def transform(self, x: Any, anchors: Any | None = None) -> np.ndarray:
        """The (n, k) relative representation of x w.r.t. ``anchors`` (default: the training anchors)."""
        if not hasattr(self, "anchors_"):
            raise NotFittedError("this RelativeHead is not fitted yet; call fit(x, y, anchors) first")
        if anchors is None:
            return relative_projection(self._check_encodings(x), self.anchors_)
        anchors = as_float_matrix(anchors, "anchors")
        x = as_float_matrix(x, "encodings")
        if anchors.shape[0] != self.n_anchors_:
            raise ValueError(
                f"RelativeHead was trained on relative representations w.r.t. {self.n_anchors_} anchors, "
                f"got {anchors.shape[0]} anchors (shape {anchors.shape}); pass the parallel anchors"
            )
        if anchors.shape[1] != x.shape[1]:
            raise ValueError(
                f"anchors must come from the same encoder as the encodings: encodings are "
                f"{x.shape[1]}-dim, anchors have shape {anchors.shape}"
            )
        return relative_projection(x, anchors)

    def predict(self, x: Any, anchors: Any | None = None) -> np.ndarray:
        relative = self.transform(x, anchors)
        return self.head_.predict(relative)

    def predict_relative(self, relative: Any) -> np.ndarray:
        """Labels from relative representations (m, k) already computed, e.g. by stitching as
        ``relative_projection(x, anchors)`` of another encoder with its parallel anchors."""
        if not hasattr(self, "head_"):
            raise NotFittedError("this RelativeHead is not fitted yet; call fit(x, y, anchors) first")
        relative = as_float_matrix(relative, "relative")
        if relative.shape[1] != self.n_anchors_:
            raise ValueError(
                f"RelativeHead was trained on relative representations w.r.t. {self.n_anchors_} anchors, "
                f"got relative representations of shape {relative.shape}"
            )
        return self.head_.predict(relative)

    def score(self, x: Any, y: Any, anchors: Any | None = None) -> float:
        """Accuracy of ``predict(x, anchors)`` against y."""
        return float(np.mean(self.predict(x, anchors) == np.asarray(y)))

    def _settings(self) -> dict[str, Any]:
        return {"head": {"kind": self.head.kind, "settings": self.head._settings()}}

    @classmethod
    def _from_settings(cls, settings: Mapping[str, Any]) -> "RelativeHead":
        inner = settings["head"]
        return cls(HEAD_KINDS[inner["kind"]]._from_settings(inner["settings"]))

    def _save_state(self, directory: Path) -> None:
        save_head(self.head_, directory / "inner")
        with atomic_path(directory / "anchors.safetensors") as tmp:
            save_file({"anchors": self.anchors_}, str(tmp))

    def _load_state(self, directory: Path) -> None:
        self.head_ = load_head(directory / "inner")
        self.anchors_ = load_file(str(directory / "anchors.safetensors"))["anchors"]
        self.classes_ = self.head_.classes_
        self.n_features_in_ = int(self.anchors_.shape[1])
        self.n_anchors_ = int(self.anchors_.shape[0])
