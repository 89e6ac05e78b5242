"""Fitted maps that no matrix can stand for (``irp``, ``kernel``, ``mlp``; beyond the paper).

The paper's methods are affine in the pre-processed space, so a ``Translator`` folds them
into one matrix. A nonlinear method's aligner returns a ``NonlinearMap`` instead: a callable
from the pre-processed source space (m, d1) to the pre-processed target space (m, d2), whose
learned state is a dict of tensors (saved with the translator) plus nothing else.
"""

from __future__ import annotations

from typing import ClassVar

import torch


class NonlinearMap:
    """Base of the nonlinear aligners' results.

    Subclasses set ``state_names`` (tensors kept as float64 on CPU by the translator, scalars
    as 0-d tensors), ``n_in``/``n_out`` from them, and ``forward(z, state)`` computing the map
    with ``state`` cast to ``z``'s dtype and device. ``alpha`` is the fitted penalty where the
    method has one (shown as ``Translator.alpha_``), else None.
    """

    name: ClassVar[str]
    state_names: ClassVar[tuple[str, ...]]
    alpha: float | None = None
    # set by the translator's aligner: the centered x anchors' effective rank and the rank
    # they could have (fit warns when it is lower)
    rank: int | None = None
    needed_rank: int | None = None

    def __init__(self, **state: torch.Tensor) -> None:
        missing = set(self.state_names) - set(state)
        if missing:
            raise ValueError(f"{type(self).__name__} state lacks {sorted(missing)}")
        self._state = {k: state[k] for k in self.state_names}
        self._cast: dict[tuple[torch.device, torch.dtype], dict[str, torch.Tensor]] = {}
        if "alpha" in self._state:
            self.alpha = float(self._state["alpha"])

    def __getstate__(self) -> dict:
        state = self.__dict__.copy()
        state["_cast"] = {}  # device copies are a cache (and may be on a GPU)
        return state

    def state(self) -> dict[str, torch.Tensor]:
        return dict(self._state)

    def with_state(self, state: dict[str, torch.Tensor]) -> "NonlinearMap":
        """The same kind of map with ``state`` (e.g. converted for storage)."""
        return type(self)(**{k: state[k] for k in self.state_names})

    @property
    def n_in(self) -> int:
        raise NotImplementedError

    @property
    def n_out(self) -> int:
        raise NotImplementedError

    def __call__(self, z: torch.Tensor) -> torch.Tensor:
        key = (z.device, z.dtype)
        if key not in self._cast:
            self._cast[key] = {k: v.to(device=z.device, dtype=z.dtype) for k, v in self._state.items()}
        return self.forward(z, self._cast[key])

    def forward(self, z: torch.Tensor, state: dict[str, torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError
