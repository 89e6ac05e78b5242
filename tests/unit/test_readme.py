"""The README's Python example runs as written."""

import re

import numpy as np

from latentstitch.config import REPO_ROOT


def test_readme_translation_example_runs():
    readme = (REPO_ROOT / "README.md").read_text()
    (example,) = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
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
