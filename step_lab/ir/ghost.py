"""Shape-only tile values ("ghosts") for timing-only runs (``simulate(values=False)``).

A :class:`Ghost` is a numpy array with all strides 0 over a single zero element: it has the shape
and dtype of a real tile but no data. Element-wise ufuncs, matmul, reductions and concatenation
of ghosts return new ghosts of the right shape and dtype *without computing anything*, so the
operators' numpy functions, FLOP counts and dynamic tile shapes work unchanged while a weight
tile costs a few bytes and a matmul a few microseconds. Ghosts of one shape and dtype are one
shared, read-only object (``ghost``), so a function applied to the same ghosts gives the same
result: :class:`GhostCalls` remembers it for the operators (issue 15: applying a tile function
through numpy's override protocol was a third of a timing-only Qwen3 layer).

Operations a ghost does not intercept fall back to ordinary numpy on the zero-strided data (slow
for big tiles but correct in shape). Which inputs become ghosts is the simulator's business
(``step_lab/sim/ghost.py``); this module only defines the values, so the operators can
recognise them without importing the simulator.
"""
from __future__ import annotations

from typing import Any

import numpy as np

__all__ = ["Ghost", "GhostCalls", "concat_pair", "ghost"]


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


def concat_pair(a: np.ndarray, b: np.ndarray, axis: int) -> Ghost | None:
    """The ghost of ``np.concatenate([a, b], axis)`` for two 2-D arrays (axis 0 or 1), or None
    when their other dims differ: the common case of ``_concatenate`` (Retile's row packing),
    without numpy's dispatch."""
    if a.shape[1 - axis] != b.shape[1 - axis]:
        return None
    shape = (a.shape[0] + b.shape[0], b.shape[1]) if axis == 0 else \
        (b.shape[0], a.shape[1] + b.shape[1])
    return ghost(shape, a.dtype if a.dtype is b.dtype else np.result_type(a.dtype, b.dtype))


def _concatenate(arrays, axis=0, **kwargs):
    arrays = list(arrays)
    if len(arrays) == 2 and not kwargs and all(isinstance(a, np.ndarray) and a.ndim == 2
                                               for a in arrays) and -2 <= axis < 2:
        out = concat_pair(arrays[0], arrays[1], axis % 2)
        if out is not None:
            return out
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


_MAX_CALLS = 4096       # results one GhostCalls keeps (a run meets a few dozen ghost shapes)


class GhostCalls:
    """One operator's function results on ghost arguments, by argument identity (one per run).

    ``key(args)`` is None unless every argument is a *shared* ghost (what ``ghost`` returns for a
    shape and dtype: read-only, its memory the one zero element) or a tuple of them (a zipped
    Map's element); equal shapes and dtypes are then the same objects, so ``get(key)`` gives the
    ``(value, flops)`` recorded by ``put`` for the same arguments. A copy or a slice of a ghost
    owns or views memory and is never a key; a result is kept only if it is a shared ghost (no
    one can change it in place: a list or a real array is computed again every time).
    [Choice] Tile functions are pure (STEP.md §4.4: an operator applies a hardware function of
    its inputs; the ``sl.fn`` contract: value and FLOPs depend only on the arguments, which are
    never modified), so the same arguments give the same value and FLOPs; a user function that
    counts its calls or keeps state sees fewer calls in a timing-only run. The arguments are
    kept alive with their result, so an identity is never reused while it is a key.
    """

    __slots__ = ("_table", "_alive")

    def __init__(self) -> None:
        self._table: dict = {}
        self._alive: list = []

    @staticmethod
    def key(args: tuple) -> Any:
        """The identity key of ``args``, or None when one of them is not a shared ghost. (One
        GhostCalls serves one operator, so its calls have one arity: a Map's one-argument key
        is its element's own key and never meets a two-argument update's tuple of keys.)"""
        if len(args) == 1:                  # NOTE: a Map's element: a ghost or zipped ghosts
            return _key(args[0])
        out = []
        for a in args:
            k = _key(a)
            if k is None:
                return None
            out.append(k)
        return tuple(out)

    def get(self, key: Any) -> tuple | None:
        """``(value, flops)`` recorded for ``key``, or None."""
        return self._table.get(key)

    def put(self, key: Any, args: tuple, value: Any, flops: Any) -> None:
        """Record ``value`` and ``flops`` of ``args`` (only when ``value`` is a shared ghost)."""
        if type(value) is Ghost and value.base is _ZERO and len(self._table) < _MAX_CALLS:
            self._table[key] = (value, flops)
            self._alive.append(args)


def _key(a: Any) -> Any:
    """A shared ghost's identity, the identities of a tuple of them, or None."""
    if type(a) is Ghost:
        return id(a) if a.base is _ZERO else None
    if type(a) is not tuple:
        return None
    for b in a:
        if type(b) is not Ghost or b.base is not _ZERO:
            return None
    return tuple([id(b) for b in a])
