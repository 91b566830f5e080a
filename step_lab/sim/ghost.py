"""Timing-only runs: off-chip tensors become zero-memory "ghost" tiles (``simulate(values=False)``).

A :class:`Ghost` is a numpy array with all strides 0 over a single zero element: it has the shape
and dtype of a real tile but no data. Element-wise ufuncs, matmul, reductions and concatenation
of ghosts return new ghosts of the right shape and dtype *without computing anything*, so the
operators' numpy functions, FLOP counts and dynamic tile shapes work unchanged while a weight
tile costs a few bytes and a matmul a few microseconds. Values that come from program inputs
(selectors, addresses, lengths) stay real, so routing and control flow are exact; only the
numbers in tiles loaded from HBM (and everything computed from them) are placeholders (zeros).

Operations a ghost does not intercept fall back to ordinary numpy on the zero-strided data (slow
for big tiles but correct in shape).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from ..errors import BindingError, StepError
from ..interpret.context import RunContext
from ..ir.dtypes import numpy_dtype
from ..ir.program import Program
from ..ir.tensor import Tensor
from ..symbolic import evaluate

__all__ = ["Ghost", "ghost", "ghost_inputs", "attach_ghosts"]


_ZERO = bytes(64)       # read-only backing store of every ghost (all strides are 0)


_GHOSTS: dict = {}      # (shape, dtype) -> the shared ghost (ghosts are read-only)


def ghost(shape: tuple[int, ...], dtype: Any) -> Ghost:
    """A read-only ghost array of ``shape`` and ``dtype`` (no memory beyond one element)."""
    key = (tuple(shape), np.dtype(dtype))
    g = _GHOSTS.get(key)
    if g is None:
        g = np.ndarray.__new__(Ghost, key[0], key[1], _ZERO, 0, (0,) * len(key[0]))
        if len(_GHOSTS) < 4096:
            _GHOSTS[key] = g
    return g


def _plain(x):
    return x.view(np.ndarray) if isinstance(x, Ghost) else x


def _sample(x):
    """A one-element stand-in with the same dtype and rank (for dtype resolution)."""
    if isinstance(x, np.ndarray):
        return np.zeros((1,) * x.ndim, dtype=x.dtype)
    return x


_DTYPES: dict = {}     # (ufunc, operand dtypes/types) -> result dtype
_CALLS: dict = {}      # (ufunc, operand shapes/dtypes or types) -> result ghost


def _result_dtype(ufunc, inputs, kwargs):
    key = (ufunc, tuple(x.dtype if isinstance(x, np.ndarray) else type(x) for x in inputs))
    dtype = _DTYPES.get(key) if not kwargs else None
    if dtype is None:
        with np.errstate(all="ignore"):
            dtype = ufunc(*[_sample(x) for x in inputs], **kwargs).dtype
        if not kwargs:
            _DTYPES[key] = dtype
    return dtype


class Ghost(np.ndarray):
    """Shape-only array (see module docstring)."""

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        if out is None and method == "__call__" and ufunc.nout == 1:
            if kwargs:
                return self._call(ufunc, inputs, kwargs)
            # NOTE: same operand shapes and dtypes give the same (shared) ghost: memoised
            key = (ufunc,) + tuple((x.shape, x.dtype) if isinstance(x, np.ndarray) else type(x)
                                   for x in inputs)
            result = _CALLS.get(key)
            if result is None:
                result = self._call(ufunc, inputs, kwargs)
                if len(_CALLS) < 4096:
                    _CALLS[key] = result
            return result
        if out is None and method == "reduce" and len(inputs) == 1:
            return self._reduce(ufunc, inputs[0], **kwargs)
        plain = [_plain(x) for x in inputs]
        if out is not None:
            kwargs["out"] = tuple(_plain(o) for o in out)
        return getattr(ufunc, method)(*plain, **kwargs)

    @staticmethod
    def _call(ufunc, inputs, kwargs):
        shapes = [x.shape if isinstance(x, np.ndarray) else np.shape(x) for x in inputs]
        if ufunc is np.matmul:
            (m, k), (k2, n) = shapes
            if k != k2:
                raise ValueError(f"matmul: input operand 1 has a mismatch in its core dimension "
                                 f"0 ({k2} is different from {k})")
            shape = (m, n)
        else:
            shape = np.broadcast_shapes(*shapes)
        return ghost(shape, _result_dtype(ufunc, inputs, kwargs))

    @staticmethod
    def _reduce(ufunc, x, axis=0, dtype=None, keepdims=False, **kwargs):
        shape = list(np.shape(x))
        axes = range(len(shape)) if axis is None else (axis if isinstance(axis, tuple)
                                                        else (axis,))
        axes = sorted(a % len(shape) for a in axes) if shape else []
        for a in reversed(axes):
            if keepdims:
                shape[a] = 1
            else:
                del shape[a]
        sample = np.zeros((1,), dtype=x.dtype)
        with np.errstate(all="ignore"):
            out_dtype = ufunc.reduce(sample, dtype=dtype).dtype
        return ghost(shape, out_dtype)

    def __array_function__(self, func, types, args, kwargs):
        if func is np.concatenate:
            return _concatenate(*args, **kwargs)
        return super().__array_function__(func, types, args, kwargs)

    def __reduce__(self):
        return (ghost, (self.shape, self.dtype))


def _concatenate(arrays, axis=0, **kwargs):
    arrays = list(arrays)
    shapes = [np.shape(a) for a in arrays]
    if len({len(s) for s in shapes}) != 1:
        raise ValueError("all the input arrays must have the same number of dimensions")
    axis = axis % len(shapes[0])
    shape = list(shapes[0])
    for s in shapes[1:]:
        for d, (x, y) in enumerate(zip(shape, s, strict=True)):
            if d != axis and x != y:
                raise ValueError(f"all the input array dimensions except for the concatenation "
                                 f"axis must match exactly ({shape} vs {list(s)})")
        shape[axis] += s[axis]
    dtype = np.result_type(*[a.dtype if isinstance(a, np.ndarray) else a for a in arrays])
    return ghost(shape, dtype)


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
