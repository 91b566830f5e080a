"""Off-chip memory contents for a run: tensors as numpy arrays, read and written tile by tile."""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, Protocol

import numpy as np

from ..errors import BindingError, StepError
from ..ir.dtypes import numpy_dtype
from ..ir.program import Program
from ..ir.tensor import Tensor
from ..symbolic import evaluate
from ..validate import check_input_array

__all__ = ["OffChipMemory", "Tiles", "tile_reader"]


class Tiles(Protocol):
    """A tensor seen as a flat row-major sequence of ``(r, c)`` tiles (reads and writes)."""

    def __len__(self) -> int: ...
    def __getitem__(self, i: int) -> np.ndarray: ...
    def __setitem__(self, i: int, value: Any) -> None: ...


def tile_reader(tiles: Any) -> Any:
    """``tiles.__getitem__``, numpy's own when the tiles are one ``(n, r, c)`` view (a load
    fetches every tile through it: a Python ``__getitem__`` cost 0.3 µs a tile)."""
    stacked = getattr(tiles, "stacked", None)
    return (stacked if stacked is not None else tiles).__getitem__


class OffChipMemory:
    """Holds one numpy array per tensor and serves tiles by linear tile index (row-major)."""

    def __init__(self, program: Program, inputs: dict, bindings: dict, seed: int = 0) -> None:
        self.program = program
        self.bindings = bindings
        self.arrays: dict[str, np.ndarray] = {}
        self._tiled: dict[tuple[str, tuple, bool], Tiles] = {}
        self.written: dict[str, dict[int, np.ndarray]] = {}
        self._stored: dict[str, np.ndarray] = {}    # tensor -> its array, written tile by tile
        self.keep_writes = True         # False in a timing-only run (its arrays are not shown)
        self._stand_ins: dict[str, Callable[[Tensor, tuple, bool], Tiles]] = {}
        self.padded: set[str] = set()     # tensors stored with pad=True (cropped when assembled)
        rng = np.random.default_rng(seed)
        for name, t in program.tensors.items():
            if name not in inputs and t.role != "input":
                continue  # output tensors may have shapes the run never binds
            shape = self.shape_of(t)
            if name in inputs:
                arr = check_input_array(name, inputs[name], shape, t.dtype, "inputs")
                self.arrays[name] = arr.astype(numpy_dtype(t.dtype), copy=False)
            elif t.role == "input":
                self.arrays[name] = _random(rng, shape, t.dtype)

    def shape_of(self, tensor: Tensor) -> tuple[int, ...]:
        return tuple(evaluate(d, self.bindings, where=f"tensor {tensor.name!r}")
                     for d in tensor.shape)

    def tiles(self, tensor: Tensor, tile: tuple, pad: bool = False) -> Tiles:
        """The tensor viewed as a flat row-major array of tiles: shape (n_tiles, r, c).

        ``pad``: the rows and columns are first zero-padded up to multiples of the tile (the
        off-chip operators' ``pad=True``); the padded copy is made once per run.
        """
        key = (tensor.name, tile, pad)
        view = self._tiled.get(key)
        if view is None:
            arr = self.arrays[tensor.name]
            stand_in = self._stand_ins.get(tensor.name)
            view = (stand_in(tensor, tile, pad) if stand_in
                    else tile_view(padded(arr, tile) if pad else arr, tile, tensor.name))
            self._tiled[key] = view
        return view

    def serve_tiles(self, names: Iterable[str],
                    serve: Callable[[Tensor, tuple, bool], Tiles]) -> None:
        """Serve the tiles of the tensors ``names`` with ``serve(tensor, tile, pad)`` instead of
        viewing their arrays (the simulator's timing-only stand-ins, ``sim.ghost``)."""
        for name in names:
            self._stand_ins[name] = serve

    def writer(self, tensor: Tensor, tile: tuple, pad: bool = False) -> Callable[[int, Any], None]:
        """What a store calls with ``(tile index, value)``, once per tile it writes.

        When the tensor's shape is bound (the stores then check every index against it) the
        tile is copied straight into the tensor's array (zero-padded to whole tiles with
        ``pad``) and not kept: keeping 50 k small tiles until the end of a run cost 14 % of a
        pipeline's simulation (issue 15). Otherwise tiles are kept by index and placed by
        ``assembled``. A timing-only run keeps nothing (``keep_writes``: its ``arrays`` are
        empty). A tensor has one store (``_check_single_writer``), so one array per tensor."""
        if not self.keep_writes:
            return _discard
        try:
            shape = self.shape_of(tensor)
        except BindingError:
            shape = None
        if not shape:
            return self.written.setdefault(tensor.name, {}).__setitem__
        out = self._stored[tensor.name] = np.zeros(padded_shape(shape, tile) if pad else shape,
                                                   numpy_dtype(tensor.dtype))
        tiles = tile_view(out, tile, tensor.name)
        stacked = getattr(tiles, "stacked", None)       # (numpy's own __setitem__: faster)
        return (stacked if stacked is not None else tiles).__setitem__

    def assembled(self, tensor: Tensor, tile: tuple, n_tiles: int | None = None) -> np.ndarray:
        """Array of a written tensor: tiles placed row-major into its declared shape if known."""
        done = self.written.get(tensor.name, {})
        r, c = tile
        try:
            shape = self.shape_of(tensor)
        except BindingError:
            shape = None
        if shape:
            crop = tensor.name in self.padded
            out = self._stored.get(tensor.name)
            if out is None:
                out = np.zeros(padded_shape(shape, tile) if crop else shape,
                               dtype=numpy_dtype(tensor.dtype))
            view = tile_view(out, tile, tensor.name)
            for i, v in done.items():
                if i >= len(view):
                    raise StepError(f"store to {tensor.name!r}: tile index {i} is outside the "
                                    f"tensor's {len(view)} tiles")
                view[i] = v
            return np.ascontiguousarray(out[..., :shape[-2], :shape[-1]]) if crop else out
        count = n_tiles if n_tiles is not None else (max(done) + 1 if done else 0)
        out = np.zeros((count, r, c), dtype=numpy_dtype(tensor.dtype))
        for i, v in done.items():
            out[i] = v
        return out


def _discard(index: int, value: Any) -> None:
    """A timing-only run's store: its tiles are placeholders and its arrays are not shown."""


def padded_shape(shape: tuple, tile: tuple) -> tuple:
    """``shape`` with its last two dims rounded up to multiples of ``tile``."""
    if len(shape) < 2:
        return tuple(shape)
    rows, cols = shape[-2:]
    return tuple(shape[:-2]) + (rows + (-rows % tile[0]), cols + (-cols % tile[1]))


def padded(arr: np.ndarray, tile: tuple) -> np.ndarray:
    """``arr`` with its last two dims zero-padded up to multiples of ``tile`` (itself if they
    already are). A zero-stride (broadcast) constant stays a broadcast of the padded shape (its
    padding then holds the constant: a timing-only placeholder)."""
    if arr.ndim < 2:
        return arr
    rows, cols = arr.shape[-2:]
    extra = (-rows % tile[0], -cols % tile[1])
    if extra == (0, 0):
        return arr
    if arr.size and not any(arr.strides):
        return np.broadcast_to(arr.flat[0], arr.shape[:-2] + (rows + extra[0], cols + extra[1]))
    width = [(0, 0)] * (arr.ndim - 2) + [(0, extra[0]), (0, extra[1])]
    return np.pad(arr, width)


def tile_view(arr: np.ndarray, tile: tuple, name: str) -> Tiles:
    """A writable (n_tiles, r, c) view when possible (copy-back is the caller's problem)."""
    r, c = tile
    if arr.ndim < 2:
        raise StepError(f"tensor {name!r} has rank {arr.ndim} (expected rank >= 2 to tile)")
    rows, cols = arr.shape[-2:]
    if rows % r or cols % c:
        raise BindingError(f"tensor {name!r} of shape {arr.shape} is not divisible into "
                           f"[{r},{c}] tiles (expected rows % {r} == 0 and cols % {c} == 0, or "
                           "pad=True on the off-chip operator for a zero-padded last tile)")
    lead = arr.shape[:-2]
    if arr.size and not any(arr.strides):
        return _ConstTiles(arr, r, c)           # a broadcast constant (timing-only weights)
    t = arr.reshape(lead + (rows // r, r, cols // c, c))
    t = np.moveaxis(t, -3, -2)  # (..., R, C, r, c)
    return _TileArray(arr, t.reshape((-1, r, c)) if t.flags.c_contiguous else t, lead, r, c)


class _TileArray:
    """Index tiles of an array by linear tile number; writes go through to the array."""

    def __init__(self, base, view, lead, r, c):
        self.base, self.view, self.r, self.c = base, view, r, c
        self.grid = view.shape[:-2] if view.ndim > 3 else (view.shape[0],)
        self.n = int(np.prod(self.grid)) if self.grid else 1

    def __len__(self) -> int:
        return self.n

    @property
    def stacked(self) -> np.ndarray | None:
        """The ``(n_tiles, r, c)`` view (tile i is ``stacked[i]``), or None when the tiles
        are not one such view (a tiled column block of a wider row)."""
        return self.view if self.view.ndim == 3 else None

    def __getitem__(self, i: int) -> np.ndarray:
        if self.view.ndim == 3:
            return self.view[i]
        return self.view[np.unravel_index(i, self.grid)]

    def __setitem__(self, i: int, value) -> None:
        if self.view.ndim == 3:
            self.view[i] = value
        else:
            self.view[np.unravel_index(i, self.grid)] = value


class _ConstTiles:
    """Tiles of a zero-stride (``np.broadcast_to``) constant array: one shared, contiguous,
    read-only tile, so a timing-only run of a huge tensor allocates a single tile."""

    def __init__(self, base, r, c):
        rows, cols = base.shape[-2:]
        self.base, self.r, self.c = base, r, c
        self.n = int(np.prod(base.shape[:-2], dtype=np.int64)) * (rows // r) * (cols // c)
        self.tile = np.full((r, c), base.flat[0], dtype=base.dtype)
        self.tile.flags.writeable = False

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> np.ndarray:
        return self.tile

    def __setitem__(self, i: int, value) -> None:
        raise StepError("cannot write into a broadcast (read-only, zero-stride) input tensor")


def _random(rng, shape, dtype: str) -> np.ndarray:
    np_dtype = numpy_dtype(dtype)
    if np.issubdtype(np_dtype, np.floating):
        return rng.standard_normal(shape).astype(np_dtype)
    if np_dtype == np.bool_:
        return rng.integers(0, 2, shape).astype(np.bool_)
    return rng.integers(0, 16, shape).astype(np_dtype)
