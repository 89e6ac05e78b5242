"""Run the README's library examples (its ```python blocks) against known answers.

Imported by tests/unit/test_readme.py, and run as a script by the packaging test in a fresh
virtual environment with the core install only (numpy, torch, safetensors):

    python tests/readme_examples.py README.md [--core]

``--core`` skips the blocks that need scikit-learn or the suite (the ones importing ``sklearn``
or ``latentstitch.data``).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import numpy as np


def python_blocks(readme: str | Path) -> list[str]:
    return re.findall(r"```python\n(.*?)```", Path(readme).read_text(), flags=re.S)


def run(readme: str | Path, core_only: bool = False) -> int:
    """Execute every python block in order in one namespace, checking each block's results;
    returns how many blocks ran."""
    blocks = python_blocks(readme)
    rng = np.random.default_rng(0)
    # A signed permutation with per-feature scale and shift: standard scaling + ortho undo it exactly.
    signed_permutation = np.eye(8)[rng.permutation(8)] * rng.choice([-1.0, 1.0], size=8)
    scale, shift = rng.uniform(0.5, 2.0, size=8), rng.normal(size=8)

    def target(a):
        return a @ signed_permutation * scale + shift

    x_anchors = rng.normal(size=(50, 8))
    ns = {
        "x_anchors": x_anchors,
        "y_anchors": target(x_anchors),
        "x": rng.normal(size=(5, 8)),
        "y2_anchors": x_anchors[:, :5] * 2.0,
        "W": rng.normal(size=(8, 3)),
        "b": rng.normal(size=3),
        "labels": (target(x_anchors)[:, 0] > 0).astype(int),
    }
    ran = 0
    for block in blocks:
        if core_only and ("sklearn" in block or "latentstitch.data" in block):
            continue
        few = "refine(" in block
        if few:
            # few anchors + unpaired pools: a signed permutation with per-feature scale and shift
            # of a space with a decaying spectrum (standard scaling + ortho undo it exactly)
            frng = np.random.default_rng(0)
            z = frng.normal(size=(1200, 16)) * 0.6 ** np.arange(16)
            perm = np.eye(16)[frng.permutation(16)] * frng.choice([-1.0, 1.0], size=16)
            y = z @ perm * frng.uniform(0.5, 2.0, size=16) + frng.normal(size=16)
            ns.update(x_train=z[:1000], y_train=y[:1000], x_pool=z[:1000], y_pool=y[:1000][frng.permutation(1000)])
            ns.pop("t3", None)
        exec(block, ns)
        if few and "t3" in ns:  # no anchors: the pools hold the same items in two orders
            err = np.abs(ns["t3"].transform(z[1000:]) - y[1000:]).mean()
            assert err < 1e-6 * np.abs(y[1000:]).mean(), err
        elif few:
            start, refined = ns["t"], ns["t2"]
            assert refined.refine_accepted_ and refined.get_params() == start.get_params()
            err = [np.abs(t.transform(z[1000:]) - y[1000:]).mean() for t in (start, refined)]
            assert err[1] < 1e-6 * err[0], err
        ran += 1
        if "y_hat" in ns and "y_hats" not in ns:
            np.testing.assert_allclose(ns["y_hat"], target(ns["x"]), atol=1e-6)
        if "y_hats" in ns and "checked_many" not in ns:
            y_hats, x = ns["y_hats"], ns["x"]
            np.testing.assert_allclose(y_hats[0], target(x), atol=1e-6)
            np.testing.assert_allclose(y_hats[1], x[:, :5] * 2.0, atol=1e-6)
            np.testing.assert_allclose(ns["logits"], y_hats[0] @ ns["W"] + ns["b"], atol=1e-9)
            ns["checked_many"] = True
        if "mine" in ns and "checked_mine" not in ns:
            # the README's own method (shrunk least squares): close to the exact map, not equal
            err = np.abs(ns["mine"].transform(ns["x"]) - target(ns["x"])).max()
            assert 0 < err < 0.05, err
            ns["checked_mine"] = True
        if "stitched" in ns:
            head = ns["head"]
            np.testing.assert_array_equal(ns["stitched"].predict(ns["x"]), head.predict(target(ns["x"])))
            del ns["stitched"]
    return ran


if __name__ == "__main__":
    n = run(sys.argv[1], core_only="--core" in sys.argv)
    print(f"README examples: {n} python blocks ran and matched")
