"""``mlp``: a small residual MLP fitted on the anchors (beyond the paper).

``f(z) = z @ W0 + b0 + relu(z @ W1 + b1) @ W2``: a linear path plus one hidden layer of
``HIDDEN`` units, on pre-processed anchors. It answers the question a reviewer asks of linear
stitching: does a nonlinear map fitted on the same anchors do better?

Fit (all seeded by the translator's ``seed``; same seed, same bits on one machine):

1. hold out ``VALIDATION`` of the anchors (a seeded permutation; at least one);
2. the linear path ``(W0, b0)`` is ``ridge`` on the rest (penalty by GCV) and stays fixed;
   ``W1`` is drawn uniformly in +-1/sqrt(d1), ``b1 = 0``, ``W2 = 0``, so training starts at
   the ridge map;
3. full-batch AdamW on the training anchors' mean squared error trains the residual branch
   (W1, b1, W2; learning rate ``LR``, decoupled weight decay ``WEIGHT_DECAY`` on W1 and W2),
   at most ``MAX_STEPS`` steps. Adam's sign-like steps would knock W0 off the ridge optimum,
   where its gradient is ~0, and cost held-out error; hence it stays fixed;
4. early stopping: keep the branch of the lowest held-out error, stop after ``PATIENCE``
   steps without improvement. Step 0 (a zero branch) is a candidate, so the held-out error
   never ends above ridge's on the same split;
5. the shipped linear path is ridge refitted on all the anchors: where the branch learned
   nothing (W2 = 0), ``mlp`` is exactly ``ridge``.
"""

from __future__ import annotations

import math

import torch

from latentstitch.translate.functional import _ridge
from latentstitch.translate.nonlinear import NonlinearMap

HIDDEN = 128
MAX_STEPS = 200
LR = 1e-2
WEIGHT_DECAY = 1e-4
PATIENCE = 30
VALIDATION = 0.1


class ResidualMLP(NonlinearMap):
    """``z -> z @ w0 + b0 + relu(z @ w1 + b1) @ w2`` (module docstring)."""

    name = "mlp"
    state_names = ("w0", "b0", "w1", "b1", "w2")

    @property
    def n_in(self) -> int:
        return self._state["w0"].shape[0]

    @property
    def n_out(self) -> int:
        return self._state["w0"].shape[1]

    def forward(self, z: torch.Tensor, state: dict[str, torch.Tensor]) -> torch.Tensor:
        return _forward(z, state)


def _forward(z: torch.Tensor, state: dict[str, torch.Tensor]) -> torch.Tensor:
    hidden = torch.relu(torch.addmm(state["b1"], z, state["w1"]))
    return torch.addmm(state["b0"], z, state["w0"]) + hidden @ state["w2"]


def fit_mlp(x: torch.Tensor, ys: list[torch.Tensor], seed: int) -> list[ResidualMLP]:
    """One ``ResidualMLP`` per target in ``ys`` (each (n, d2_t)) on anchors ``x`` (n, d1), n >= 2:
    the same held-out split and initial hidden layer for every target (module docstring)."""
    n, d1 = x.shape
    if n < 2:
        raise ValueError(f"mlp needs at least 2 anchors (one held out), got {n}")
    g = torch.Generator().manual_seed(seed)
    order = torch.randperm(n, generator=g)
    n_val = min(n - 1, max(1, round(VALIDATION * n)))
    val, train = order[:n_val].to(x.device), order[n_val:].to(x.device)
    bound = 1.0 / math.sqrt(d1)
    w1_init = (torch.rand(d1, HIDDEN, generator=g, dtype=torch.float64) * 2 - 1) * bound
    return [_fit_one(x, y, train, val, w1_init.to(device=x.device, dtype=x.dtype)) for y in ys]


def _fit_one(
    x: torch.Tensor, y: torch.Tensor, train: torch.Tensor, val: torch.Tensor, w1_init: torch.Tensor
) -> ResidualMLP:
    xt, yt, xv, yv = x[train], y[train], x[val], y[val]
    w_all, b_all, _ = _ridge(x.to(torch.float64), y.to(torch.float64))
    if not bool((x != x[0]).any()):
        # constant anchors: nothing for the branch to learn, and Adam would turn the rounding
        # noise of a zero gradient into unit steps
        return ResidualMLP(
            w0=w_all,
            b0=b_all,
            w1=w1_init.to(torch.float64),
            b1=x.new_zeros(w1_init.shape[1]),
            w2=x.new_zeros(w1_init.shape[1], y.shape[1]),
        )
    w0, b0, _ = _ridge(xt.to(torch.float64), yt.to(torch.float64))
    params = {
        "w0": w0.to(x.dtype),
        "b0": b0.to(x.dtype),
        "w1": w1_init.clone(),
        "b1": x.new_zeros(w1_init.shape[1]),
        "w2": x.new_zeros(w1_init.shape[1], y.shape[1]),
    }
    for k in ("w1", "b1", "w2"):
        params[k].requires_grad_(True)
    optimizer = torch.optim.AdamW(
        [
            {"params": [params["w1"], params["w2"]], "weight_decay": WEIGHT_DECAY},
            {"params": [params["b1"]], "weight_decay": 0.0},
        ],
        lr=LR,
    )

    def loss(z: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return ((_forward(z, params) - target) ** 2).mean()

    with torch.no_grad():
        best_loss, best = float(loss(xv, yv)), {k: v.detach().clone() for k, v in params.items()}
    since = 0
    for _ in range(MAX_STEPS):
        optimizer.zero_grad(set_to_none=True)
        loss(xt, yt).backward()
        optimizer.step()
        with torch.no_grad():
            current = float(loss(xv, yv))
        if current < best_loss:
            best_loss, best, since = current, {k: v.detach().clone() for k, v in params.items()}, 0
        else:
            since += 1
            if since >= PATIENCE:
                break
    # The branch learned what ridge on the training split leaves; the linear path that ships
    # is ridge on every anchor (so with a zero branch, mlp is exactly ridge).
    return ResidualMLP(**{**best, "w0": w_all, "b0": b_all})
