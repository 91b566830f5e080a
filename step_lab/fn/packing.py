"""The accumulators of row and column packing (``RetileRow`` / ``RetileCol`` in ``fn/data.py``).

**Amortised growth.** Accum appends one row at a time. A packing accumulator is a view
``buf[:n]`` (rows) or ``buf[:, :n]`` (cols) of a larger buffer whose filled extent is recorded
here (key: id of the buffer, checked against a weak reference). Appending to the *latest* view
handed out for a buffer (checked by identity) writes into its spare capacity and returns a
longer view: O(row) per append instead of copying the whole accumulator (quadratic per group).
Any other accumulator (an older view, another view of the buffer, a foreign array) is
concatenated as before, so results and the values of earlier views never change.

In a timing-only run an accumulator or an element may be a ghost: Retile then takes
``ir/ghost.concat_pair`` (the shared ghost of the concatenated shape, without numpy's dispatch).
"""
from __future__ import annotations

import weakref
from typing import Any

import numpy as np

__all__ = ["MASK_BITS", "append_in_place", "start_growable"]

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
