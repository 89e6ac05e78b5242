"""Latent space translation (Maiorca, Moschella et al., NeurIPS 2023, Section 3.2).

Standalone: imports nothing else from latentstitch, so it works on anyone's embeddings::

    t = Translator(method="ortho", scaling="standard").fit(x_anchors, y_anchors)
    y_hat = t.transform(x)

Pre-processing and methods follow the authors' reference, latentis 0.0.8 (its
``transform/translate`` and ``transform/base.py``): std with ddof=1, L2 de-normalized by the
mean norm of the centered y anchors, zero padding for Procrustes, ``torch.svd`` polar
factors, gelsy least squares, and nn.Linear + Adam for affine (same initial bits on CPU).
Where this differs, and why:

- anchor statistics are float64 sums (latentis: the anchors' dtype), so they stay exact for
  many anchors; aligners solve in the anchors' precision like latentis (see ``Method``);
- constant features are found with scikit-learn's relative variance bound, not ``std < 10
  eps`` (equal on exactly constant features, scale free otherwise);
- least squares on a GPU uses the SVD pseudo-inverse: latentis gets torch's only CUDA driver,
  gels, which assumes full rank;
- ``transform`` applies the whole chain as one matrix product (the same map, rounded once);
- ``ridge`` is new.

Your own method: ``register_method("mine", Method(aligner))`` with ``aligner(x, ys, ctx)``
returning one ``Alignment(matrix, bias)`` per target in ``ys`` (x and ys are the pre-processed
anchors, torch tensors; ``ctx`` a ``FitContext``: seed, precision); then
``Translator("mine", scaling)`` fits it like the built-in ones.
"""

from latentstitch.translate.functional import (
    RIDGE_GRID,
    affine_sgd,
    closest_orthogonal,
    l_ortho,
    lstsq,
    procrustes,
    relative_projection,
    ridge,
    zero_pad,
)
from latentstitch.translate.refine import RefineWarning, mutual_neighbours, refine
from latentstitch.translate.scaling import SCALINGS, L2Scaling, NoScaling, Scaling, StandardScaling
from latentstitch.translate.translator import (
    BUILTIN_METHODS,
    METHODS,
    Alignment,
    FitContext,
    Method,
    MethodNames,
    NotFittedError,
    Translator,
    fit_translators,
    register_method,
    transform_many,
)
from latentstitch.translate.unsupervised import unsupervised_pairs, unsupervised_start

__all__ = [
    "Translator",
    "fit_translators",
    "transform_many",
    "refine",
    "mutual_neighbours",
    "RefineWarning",
    "unsupervised_start",
    "unsupervised_pairs",
    "NotFittedError",
    "METHODS",
    "BUILTIN_METHODS",
    "SCALINGS",
    "Method",
    "MethodNames",
    "register_method",
    "Alignment",
    "FitContext",
    "Scaling",
    "StandardScaling",
    "L2Scaling",
    "NoScaling",
    "relative_projection",
    "procrustes",
    "lstsq",
    "closest_orthogonal",
    "l_ortho",
    "ridge",
    "affine_sgd",
    "zero_pad",
    "RIDGE_GRID",
]
