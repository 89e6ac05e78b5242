"""A user's own encoder, autoencoder and translation method, each a YAML file in conf/ and a
class (or factory) in the user's module, run through `dvc repro` in a copy of the repository
with no edit of the package: the encodings, autoencoders, stitch table and report hold them,
and an edit of one's arguments flags exactly the stages it decides."""

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import pytest

from latentstitch.io import read_encodings_meta

BIN = Path(sys.executable).parent

pytestmark = pytest.mark.slow

USER_MODULE = '''
"""A user's extensions of latentstitch (not part of the package)."""
import numpy as np
import torch
from torch import nn

from latentstitch.decoders import CNNAutoencoder
from latentstitch.encoders.base import Encoder
from latentstitch.translate import Alignment, Method


class ProjectionEncoder(Encoder):
    """Images -> a seeded random projection of the flattened pixels."""

    def __init__(self, spec, *, tiny, device, width=16, seed=0):
        super().__init__(spec, tiny=tiny, device=device, dim=width)
        self.weight = torch.randn(64, width, generator=torch.Generator().manual_seed(seed))

    def features(self, images):
        return np.asarray(images, dtype=np.float32).reshape(len(images), -1)

    def collate(self, features, indices):
        return torch.from_numpy(features[indices])

    def forward(self, batch):
        return batch.to(self.device) @ self.weight.to(self.device)


class FlatNet(nn.Module):
    def __init__(self, image_shape, bottleneck, hidden):
        super().__init__()
        c, h, w = image_shape
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, hidden), nn.ReLU(), nn.Linear(hidden, bottleneck))
        self.decoder = nn.Sequential(
            nn.Linear(bottleneck, hidden), nn.ReLU(), nn.Linear(hidden, c * h * w), nn.Sigmoid(), nn.Unflatten(1, (c, h, w))
        )

    def forward(self, x):
        return self.decoder(self.encoder(x))


class FlatAutoencoder(CNNAutoencoder):
    def __init__(self, bottleneck=8, hidden=32, l2_normalize=False, max_epochs=2, lr=1e-2, batch_size=128, seed=0,
                 accelerator="auto"):
        super().__init__(bottleneck=bottleneck, l2_normalize=l2_normalize, max_epochs=max_epochs, lr=lr,
                         batch_size=batch_size, seed=seed, accelerator=accelerator)
        self.hidden = hidden

    def _build_net(self, image_shape):
        return FlatNet(image_shape, self.bottleneck, self.hidden)


def _shrunk(x, ys, ctx, shrink):
    gram = x.T @ x + shrink * torch.eye(x.shape[1], dtype=x.dtype, device=x.device)
    return [Alignment(torch.linalg.solve(gram, x.T @ y)) for y in ys]


def shrunk_lstsq(shrink=1.0):
    return Method(lambda x, ys, ctx: _shrunk(x, ys, ctx, shrink))
'''

FILES = {
    "conf/encoder/projection.yaml": """
        id: projection
        _target_: user_ext.ProjectionEncoder
        modality: image
        dim: 16
        width: 16
        seed: 3
    """,
    "conf/autoencoder/flat.yaml": """
        _target_: user_ext.FlatAutoencoder
        hidden: 32
        max_epochs: 2
    """,
    "conf/translator/shrunk_lstsq.yaml": """
        method: shrunk_lstsq
        _target_: user_ext.shrunk_lstsq
        shrink: 1.0
    """,
    "conf/suite/user_ext.yaml": """
        name: user_ext
        tiny: true
        encodings_name: encodings_tiny
        datasets:
          digits:
            encoders: [efficientnet_lite0, projection]
            heads: [svm_fast]
            autoencoders: {config: flat, bottlenecks: [8], seeds: [0, 1], l2: [false]}
        anchors: {num: [30], seeds: [0]}
        stitch:
          methods: [absolute, ortho, shrunk_lstsq]
          scalings: [standard]
          retrieval_queries: 50
        report:
          anchors: {default: 30}
          note: a user's encoder, autoencoder and method
        appendix: {}   # none (dvc.yaml's appendix stage reads the section)
    """,
}


def _run(args, repo, ok=True):
    env = dict(
        os.environ,
        PATH=f"{BIN}{os.pathsep}{os.environ['PATH']}",
        PYTHONPATH=os.pathsep.join([str(repo / "src"), str(repo / "user")]),
        LATENTSTITCH_CONF_DIR=str(repo / "conf"),
        OMP_NUM_THREADS="1",
        OPENBLAS_NUM_THREADS="1",
        MKL_NUM_THREADS="1",
    )
    result = subprocess.run(args, cwd=repo, env=env, capture_output=True, text=True, timeout=900)
    if ok:
        assert result.returncode == 0, f"{args} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def _flagged(repo) -> set[str]:
    return {key.rsplit(":", 1)[-1] for key in json.loads(_run(["dvc", "status", "--json"], repo).stdout)}


@pytest.fixture(scope="module")
def repo(tmp_path_factory, copy_worktree):
    repo = copy_worktree(tmp_path_factory.mktemp("user_ext"))
    (repo / "user").mkdir()
    (repo / "user" / "user_ext.py").write_text(USER_MODULE)
    for name, text in FILES.items():
        (repo / name).write_text(textwrap.dedent(text).lstrip())
    _run([sys.executable, "scripts/compose_params.py", "suite=user_ext"], repo)
    _run(["dvc", "repro"], repo)
    return repo


def test_user_extensions_run_through_the_pipeline(repo):
    results = repo / "results" / "user_ext"
    meta = read_encodings_meta(repo / "cache" / "encodings_tiny" / "digits" / "projection" / "train.safetensors")
    assert meta["encoder_target"] == "user_ext.ProjectionEncoder" and meta["encoder_arguments"] == {
        "width": 16,
        "seed": 3,
    }
    ae_records = [json.loads(p.read_text()) for p in (results / "autoencoders").rglob("autoencoder.json")]
    assert len(ae_records) == 2 and {r["target"] for r in ae_records} == {"user_ext.FlatAutoencoder"}
    table = pd.read_csv(results / "stitch" / "digits.csv")
    assert {"absolute", "ortho", "shrunk_lstsq"} <= set(table["method"])
    stitched = table[(table["method"] == "shrunk_lstsq") & (table["metric"] == "accuracy")]
    assert set(stitched["source"]) == {"efficientnet_lite0", "projection"} and stitched["value"].between(0, 1).all()
    assert "shrunk_lstsq" in set(table[table["task"] == "reconstruction"]["method"])
    report = (results / "report" / "report.md").read_text()
    assert "shrunk_lstsq" in report


# The stages whose params hold the edited section (DVC flags those; their outputs then rerun
# what reads them), and `config`, which depends on conf/.
@pytest.mark.parametrize(
    "file, old, new, expected",
    [
        (
            "conf/translator/shrunk_lstsq.yaml",
            "shrink: 1.0",
            "shrink: 2.0",
            {"config", "train_relative_heads", "stitch", "appendix", "report"},
        ),
        ("conf/encoder/projection.yaml", "seed: 3", "seed: 4", {"config", "encode", "appendix", "report"}),
        ("conf/autoencoder/flat.yaml", "hidden: 32", "hidden: 16", {"config", "train_autoencoders"}),
    ],
)
def test_an_argument_edit_flags_the_stages_it_decides(repo, file, old, new, expected):
    path, params = repo / file, (repo / "params.yaml").read_text()
    text = path.read_text()
    try:
        path.write_text(text.replace(old, new))
        _run([sys.executable, "scripts/compose_params.py", "suite=user_ext"], repo)
        assert _flagged(repo) == expected
    finally:
        path.write_text(text)
        (repo / "params.yaml").write_text(params)


def test_a_bad_target_fails_in_the_config_stage(repo):
    path = repo / "conf" / "translator" / "shrunk_lstsq.yaml"
    text = path.read_text()
    try:
        path.write_text(text.replace("user_ext.shrunk_lstsq", "user_ext.no_such_factory"))
        _run([sys.executable, "scripts/compose_params.py", "suite=user_ext"], repo)
        result = _run([sys.executable, "-m", "latentstitch.validation", "--params", "params.yaml"], repo, ok=False)
        assert result.returncode == 2 and "Traceback" not in result.stderr
        assert "translators.shrunk_lstsq (file: conf/translator/shrunk_lstsq.yaml)" in result.stderr
    finally:
        path.write_text(text)
        _run([sys.executable, "scripts/compose_params.py", "suite=user_ext"], repo)
