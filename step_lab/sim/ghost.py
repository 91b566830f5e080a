"""Timing-only runs: off-chip tensors become zero-memory "ghost" tiles (``simulate(values=False)``).

The ghosts themselves (shape-only numpy arrays that compute nothing) are defined in
``step_lab/ir/ghost.py``; this module decides which inputs become ghosts and serves their
tiles. Values that come from program inputs (selectors, addresses, lengths) stay real, so routing
and control flow are exact; only the numbers in tiles loaded from HBM (and everything computed
from them) are placeholders (zeros).
"""
from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..errors import BindingError, StepError
from ..interpret.context import RunContext
from ..ir.dtypes import numpy_dtype
from ..ir.ghost import Ghost, ghost
from ..ir.program import Program
from ..ir.tensor import Tensor
from ..symbolic import evaluate

__all__ = ["Ghost", "ghost", "ghost_inputs", "attach_ghosts"]


def ghost_inputs(program: Program, inputs: dict, bindings: dict) -> tuple:
    """Zero-strided stand-ins for every input tensor the user gave no array for.

    Returns ``(inputs with stand-ins, names of the stand-ins)``. Tensors whose shape is unbound
    are left out (the run context then raises its BindingError). [Choice] A given *float*
    array whose strides are all 0 (``np.broadcast_to(0, shape)``: a timing-only placeholder,
    e.g. the MoE workloads' expert weights) is served as ghosts too: it holds no information
    but one number, and computing on it for real costs as much as on real weights. Integer
    and bool arrays stay real (they may carry addresses or lengths that steer control flow).
    """
    out = dict(inputs)
    names = []
    for name, tensor in program.tensors.items():
        if tensor.role != "input":
            continue
        if name in out:
            if _placeholder(out[name]):
                names.append(name)
            continue
        try:
            shape = tuple(evaluate(d, bindings, where=f"tensor {name!r}") for d in tensor.shape)
        except StepError:
            continue
        out[name] = np.broadcast_to(np.zeros((), dtype=numpy_dtype(tensor.dtype)), shape)
        names.append(name)
    return out, names


def _placeholder(value) -> bool:
    """A float array of rank >= 1 whose strides are all 0 (a broadcast constant)."""
    return (isinstance(value, np.ndarray) and value.ndim >= 1 and not any(value.strides)
            and value.dtype.kind == "f")


class _GhostTiles:
    """``memory.tiles(tensor, tile)`` of a ghosted tensor: n tiles, every one the same ghost."""

    __slots__ = ("n", "tile", "name")

    def __init__(self, shape: tuple, dtype, tile: tuple, name: str, pad: bool = False):
        r, c = tile
        rows, cols = shape[-2:]
        if pad:                                # pad=True: the last tiles are zero-padded
            rows, cols = rows + (-rows % r), cols + (-cols % c)
        if rows % r or cols % c:
            raise BindingError(f"tensor {name!r} of shape {shape} is not divisible into "
                               f"[{r},{c}] tiles (expected rows % {r} == 0 and cols % {c} == 0)")
        self.n = int(np.prod(shape[:-2], dtype=np.int64)) * (rows // r) * (cols // c)
        self.tile = ghost((r, c), dtype)
        self.name = name

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int):
        return self.tile

    def __setitem__(self, i: int, value) -> None:
        raise StepError(f"cannot write into input tensor {self.name!r} of a timing-only run")


def attach_ghosts(ctx: RunContext, names: Iterable[str]) -> None:
    """Serve every tile of the stand-in tensors as a ghost (through ``memory.tiles`` only)."""
    if not names:
        return
    memory = ctx.memory

    def tiles(tensor: Tensor, tile: tuple, pad: bool = False) -> _GhostTiles:
        arr = memory.arrays[tensor.name]
        return _GhostTiles(arr.shape, arr.dtype, tuple(tile), tensor.name, pad)

    memory.serve_tiles(names, tiles)   # only this run's memory changes; it caches the views
