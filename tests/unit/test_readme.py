"""The README's Python example runs as written."""

import re

import numpy as np

from latentstitch.config import REPO_ROOT


def test_readme_translation_examples_run():
    readme = (REPO_ROOT / "README.md").read_text()
    example, many, few = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    rng = np.random.default_rng(0)
    # A signed permutation with per-feature scale and shift: standard scaling + ortho undo it exactly.
    signed_permutation = np.eye(8)[rng.permutation(8)] * rng.choice([-1.0, 1.0], size=8)
    scale, shift = rng.uniform(0.5, 2.0, size=8), rng.normal(size=8)

    def target(a):
        return a @ signed_permutation * scale + shift

    x_anchors = rng.normal(size=(50, 8))
    namespace = {"x_anchors": x_anchors, "y_anchors": target(x_anchors), "x": rng.normal(size=(5, 8))}
    exec(example, namespace)
    np.testing.assert_allclose(namespace["y_hat"], target(namespace["x"]), atol=1e-6)

    # many targets, and a linear head composed with the translation
    namespace.update(y2_anchors=x_anchors[:, :5] * 2.0, W=rng.normal(size=(8, 3)), b=rng.normal(size=3))
    exec(many, namespace)
    y_hats, x = namespace["y_hats"], namespace["x"]
    np.testing.assert_allclose(y_hats[0], target(x), atol=1e-6)
    np.testing.assert_allclose(y_hats[1], x[:, :5] * 2.0, atol=1e-6)
    np.testing.assert_allclose(namespace["logits"], y_hats[0] @ namespace["W"] + namespace["b"], atol=1e-9)

    # few anchors + unpaired pools: a signed permutation with per-feature scale and shift of a
    # space with a decaying spectrum (standard scaling + ortho undo it exactly)
    rng = np.random.default_rng(0)
    z = rng.normal(size=(1200, 16)) * 0.6 ** np.arange(16)
    perm = np.eye(16)[rng.permutation(16)] * rng.choice([-1.0, 1.0], size=16)
    y = z @ perm * rng.uniform(0.5, 2.0, size=16) + rng.normal(size=16)
    namespace = {"x_train": z[:1000], "y_train": y[:1000], "x_pool": z[:1000], "y_pool": y[:1000][rng.permutation(1000)]}
    exec(few, namespace)
    start, refined = namespace["t"], namespace["t2"]
    assert refined.refine_accepted_ and refined.get_params() == start.get_params()
    err = [np.abs(t.transform(z[1000:]) - y[1000:]).mean() for t in (start, refined)]
    assert err[1] < 1e-6 * err[0]
