"""The accumulators of row and column packing (``RetileRow`` / ``RetileCol`` in ``fn/data.py``).

**Amortised growth.** Accum appends one row at a time. A packing accumulator is a view
``buf[:n]`` (rows) or ``buf[:, :n]`` (cols) of a larger buffer whose filled extent is recorded
here (key: id of the buffer, checked against a weak reference). Appending to the *latest* view
handed out for a buffer (checked by identity) writes into its spare capacity and returns a
longer view: O(row) per append instead of copying the whole accumulator (quadratic per group).
Any other accumulator (an older view, another view of the buffer, a foreign array) is
concatenated as before, so results and the values of earlier views never change.

**Ghosts.** In a timing-only run (``simulate(values=False)``) an accumulator or an element may
be a ghost (``ir/ghost.py``): the result is the shared ghost of the concatenated shape, what
``np.concatenate`` returns through the ghost's override, without numpy's dispatch (issue 15:
it was a tenth of the Qwen3 layer's simulation).
"""
from __future__ import annotations

import weakref
from typing import Any

import numpy as np

from ..ir.ghost import Ghost, ghost

__all__ = ["MASK_BITS", "append_in_place", "ghost_concat", "start_growable"]

_FILLED: dict = {}          # id(buffer) -> (weakref to buffer, filled extent, weakref to view)

# A mask bit's [1, 1] tile: only ever copied into an accumulator, so one read-only tile serves.
MASK_BITS = {bit: np.full((1, 1), bit) for bit in (False, True)}
for _bit in MASK_BITS.values():
    _bit.flags.writeable = False


def _forget(key: int):
    return lambda _ref: _FILLED.pop(key, None)


def start_growable(out: np.ndarray, axis: int) -> np.ndarray:
    """Copy a freshly concatenated accumulator into a buffer with spare capacity (×2)."""
    n = out.shape[axis]
    shape = list(out.shape)
    shape[axis] = max(2 * n, 8)
    buf = np.empty(shape, dtype=out.dtype)
    view = buf[:n] if axis == 0 else buf[:, :n]
    view[...] = out
    _FILLED[id(buf)] = (weakref.ref(buf, _forget(id(buf))), n, weakref.ref(view))
    return view


def append_in_place(acc: Any, x: Any, axis: int) -> np.ndarray | None:
    """``acc ++ x`` along ``axis`` into ``acc``'s buffer, or None when that is not possible
    (``acc`` is not the latest view of a growable buffer, or the append would change a shape
    or widen the dtype)."""
    buf = acc.base if type(acc) is np.ndarray else None
    entry = _FILLED.get(id(buf)) if buf is not None else None
    if entry is None or entry[2]() is not acc or entry[0]() is not buf \
            or type(x) is not np.ndarray:
        return None
    n, m = acc.shape[axis], x.shape[axis]
    keep = 1 - axis
    dtype = buf.dtype
    if (entry[1] != n or x.ndim != 2 or x.shape[keep] != buf.shape[keep]
            or (x.dtype is not dtype and np.result_type(dtype, x.dtype) != dtype)):
        return None
    if n + m > buf.shape[axis]:
        shape = list(buf.shape)
        shape[axis] = 2 * (n + m)
        buf = np.empty(shape, dtype=dtype)
        (buf[:n] if axis == 0 else buf[:, :n])[...] = acc
        entry = (weakref.ref(buf, _forget(id(buf))),)
    (buf[n:n + m] if axis == 0 else buf[:, n:n + m])[...] = x
    view = buf[:n + m] if axis == 0 else buf[:, :n + m]
    _FILLED[id(buf)] = (entry[0], n + m, weakref.ref(view))
    return view


def ghost_concat(acc: Any, x: Any, axis: int) -> Ghost | None:
    """``acc ++ x`` along ``axis`` when either is a ghost: the shared ghost of the result, or
    None when the shapes cannot be concatenated (the caller names the error)."""
    if acc.ndim != 2 or x.ndim != 2 or acc.shape[1 - axis] != x.shape[1 - axis]:
        return None
    shape = (acc.shape[0] + x.shape[0], x.shape[1]) if axis == 0 else \
        (x.shape[0], acc.shape[1] + x.shape[1])
    dtype = acc.dtype if acc.dtype is x.dtype else np.result_type(acc.dtype, x.dtype)
    return ghost(shape, dtype)
