"""The README's Python examples run as written (tests/readme_examples.py checks their results)."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from readme_examples import python_blocks, run  # noqa: E402

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_translation_examples_run():
    from latentstitch.translate import METHODS

    blocks = python_blocks(README)
    assert len(blocks) >= 3
    before = dict(METHODS)
    try:
        assert run(README) == len(blocks)
        assert "shrunk_lstsq" in METHODS  # the README's own method
    finally:  # the README registers a method: leave the registry as it was for other tests
        METHODS.clear()
        METHODS.update(before)
