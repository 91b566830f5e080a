"""Data-movement functions: Retile, inits, RetileStreamify, address generation (STEP.md §4.4)."""
from __future__ import annotations

from typing import Any, ClassVar

import numpy as np

from ..errors import ShapeError
from ..ir.dtypes import Addr, DType, Selector, Tile, Tuple, numpy_dtype
from ..ir.ghost import Ghost, concat_pair, ghost
from ..ir.tokens import encode
from ..symbolic import Dim, as_dim, dims_equal, fmt, try_int
from .base import (
    FlatMapFunction,
    Function,
    InitFunction,
    MapFunction,
    UpdateFunction,
    addr,
    as_tile,
    index_value,
    is_int_tile,
    show,
    tile_value,
    tuple_items,
    tuple_values,
)
from .packing import MASK_BITS, append_in_place, start_growable

__all__ = ["RetileRow", "RetileCol", "Count", "Zero", "Empty", "RetileStreamify",
           "AffineAddress", "TileAddresses", "InsertRow"]


class _Retile(UpdateFunction):
    """Concatenate tiles along one axis (0 FLOPs); Bool elements act as [1,1] tiles.

    [Choice] Accumulation is amortised (growable buffer, ``fn/packing.py``): the
    accumulator returned is a view of a buffer with spare capacity; values are identical.
    """

    _axis: ClassVar[int] = 0

    def accum_type(self, elem: DType, init: DType, count: Dim = 1) -> DType:
        x = as_tile(self, elem, "element type", scalars=True)
        acc = as_tile(self, init, "init type", scalars=True)
        keep = 1 - self._axis
        if not dims_equal(x.shape[keep], acc.shape[keep]):
            side = "columns" if keep else "rows"
            raise self._type_error(f"element and init {side} differ:", f"{x} and {acc}",
                                   f"expected equal {side}, e.g. init=Empty("
                                   + ("(0, C))" if keep else "(R, 0))"))
        grown = as_dim(acc.shape[self._axis] + count * x.shape[self._axis])
        dims = (grown, x.cols) if self._axis == 0 else (x.rows, grown)
        return Tile(dims[0], dims[1], x.elem)

    def scan_type(self, elem: DType, init: DType) -> DType:
        raise self._type_error("used in Scan on", elem, "expected Accum: the accumulator grows "
                               "with every element, so Scan's output type would vary")

    def __call__(self, x, acc):
        if type(x) is not np.ndarray or x.ndim != 2:
            # (a mask bit: its [1, 1] tile is only ever copied, so one read-only tile serves)
            x = MASK_BITS[x] if type(x) is bool else tile_value(x)
        if acc.shape[self._axis] == 0:   # Empty init: its other dim may be unbound (dynamic)
            return x.copy()
        if type(acc) is Ghost or type(x) is Ghost:
            out = concat_pair(acc, x, self._axis) if acc.ndim == 2 else None
            if out is None:
                raise self._run_error(f"cannot append a {x.shape} tile to a {acc.shape} "
                                      "accumulator")
            return out
        grown = append_in_place(acc, x, self._axis)
        if grown is not None:
            return grown
        try:
            out = np.concatenate([acc, x], axis=self._axis)
        except ValueError:
            raise self._run_error(f"cannot append a {x.shape} tile to a {acc.shape} "
                                  "accumulator") from None
        return start_growable(out, self._axis) if type(out) is np.ndarray else out

    def flops_of_type(self, elem: DType) -> Dim:
        return 0

    def flops_of_value(self, x: Any, acc: Any = None) -> int:
        return 0


class RetileRow(_Retile):
    """Update ``acc[r, C], x[r', C] -> [r + r', C]`` (row packing, §4.4); over ``count``
    elements from ``init[r0, C]`` the type is ``[r0 + count·r', C]``."""

    _axis = 0


class RetileCol(_Retile):
    """Update ``acc[R, c], x[R, c'] -> [R, c + c']`` (column packing, §4.4)."""

    _axis = 1


class Count(UpdateFunction):
    """Counts the elements of a group: ``acc + 1`` into a [1,1] integer tile (0 FLOPs, [Choice]
    bookkeeping like address generation). Use with ``init=Zero((1, 1), "i64")``."""

    def accum_type(self, elem: DType, init: DType, count: Dim = 1) -> DType:
        if not is_int_tile(init):
            raise self._type_error("init type", init, "expected a [1,1] integer tile, e.g. "
                                   "Zero((1, 1), 'i64')")
        return init

    def __call__(self, x, acc):
        return acc + 1

    def flops_of_type(self, elem: DType) -> Dim:
        return 0

    def flops_of_value(self, x: Any, acc: Any = None) -> int:
        return 0


# --------------------------------------------------------------------------- inits
def _init_shape(fn: Function, shape) -> tuple:
    if not isinstance(shape, (tuple, list)) or len(shape) != 2:
        raise ShapeError(f"{type(fn).__name__}: argument 'shape' = {shape!r} "
                         "(expected a (rows, cols) pair)")
    return tuple(as_dim(d, what=f"{type(fn).__name__} shape dim") for d in shape)


def _bound(d: Dim, bindings, unbound: int) -> int:
    if isinstance(d, int):
        return d
    value = try_int(d, bindings)
    return unbound if value is None else value


class Zero(InitFunction):
    """A zero tile ``Tile[shape] elem``. Symbolic dims take their bound value; [Choice] an
    unbound dim is materialised as 1, which broadcasts to the true size on the first update."""

    _fields = ("shape", "elem")

    def __init__(self, shape: tuple[Any, Any], elem: str = "f32") -> None:
        self.shape = _init_shape(self, shape)
        self.elem = Tile(1, 1, elem).elem

    def out_type(self) -> DType:
        return Tile(self.shape[0], self.shape[1], self.elem)

    def __call__(self, bindings=None):
        dims = tuple(_bound(d, bindings or {}, 1) for d in self.shape)
        return np.zeros(dims, dtype=numpy_dtype(self.elem))


class Empty(InitFunction):
    """An empty tile ``(0, C)`` or ``(R, 0)`` for RetileRow / RetileCol. [Choice] an unbound
    symbolic dim is materialised as 0: Retile then starts from the first element."""

    _fields = ("shape", "elem")

    def __init__(self, shape: tuple[Any, Any], elem: str = "f32") -> None:
        self.shape = _init_shape(self, shape)
        if 0 not in self.shape:
            raise ShapeError(f"Empty: argument 'shape' = {show(self.shape)} (expected a zero "
                             "dim: (0, C) for RetileRow or (R, 0) for RetileCol)")
        self.elem = Tile(1, 1, elem).elem

    def out_type(self) -> DType:
        return Tile(self.shape[0], self.shape[1], self.elem)

    def __call__(self, bindings=None):
        dims = tuple(_bound(d, bindings or {}, 0) for d in self.shape)
        return np.zeros(dims, dtype=numpy_dtype(self.elem))


# --------------------------------------------------------------------------- flat-maps
class RetileStreamify(FlatMapFunction):
    """Split a tile into its rows as ``[1, C]`` tiles (§4.4, §8.4); 0 FLOPs.

    Input ``Tile[r, C]`` (result shape ``[r]``, b = 0) or ``Tuple(Tile[r, C], mask)`` with a
    ``[r, 1]`` bool mask tile (a Bool scalar acts as ``[1, 1]``): only rows whose mask is False
    are emitted ([Choice] True marks padding, as Reshape's padding stream) — a ragged result.
    ``rank=1`` wraps the rows into one vector (result shape ``[1, r]``).
    """

    _fields = ("rank",)

    def __init__(self, rank: int = 0):
        if rank not in (0, 1) or isinstance(rank, bool):
            raise ShapeError(f"RetileStreamify: argument 'rank' = {rank!r} (expected 0 or 1)")
        self.rank = rank

    def _split(self, in_dtype: DType) -> tuple:
        items = tuple_items(in_dtype)
        if len(items) > 2 or (len(items) == 2 and not isinstance(in_dtype, Tuple)):
            raise self._type_error("input type", in_dtype, "expected a tile or Tuple(tile, mask)")
        tile = as_tile(self, items[0], "tile type", scalars=True)
        if len(items) == 1:
            return tile, None
        mask = as_tile(self, items[1], "mask type", scalars=True)
        if mask.elem != "bool" or mask.cols != 1 or not dims_equal(mask.rows, tile.rows):
            raise self._type_error("mask type", f"{mask} for tile {tile}",
                                   f"expected a [{fmt(tile.rows)}, 1] bool tile or Bool")
        return tile, mask

    def out_type(self, in_dtype: DType) -> tuple:
        tile, mask = self._split(in_dtype)
        rows = ((tile.rows,), (mask is not None,))
        shape, ragged = ((1,) + rows[0], (False,) + rows[1]) if self.rank else rows
        return Tile(1, tile.cols, tile.elem), shape, ragged

    def __call__(self, value) -> list:
        parts = tuple_values(value)
        tile = tile_value(parts[0])
        rows: list[np.ndarray]
        if type(tile) is Ghost:             # a timing-only run: the shared row ghost (GhostCalls)
            rows = [ghost((1, tile.shape[1]), tile.dtype)] * tile.shape[0]
        else:
            rows = [tile[i:i + 1] for i in range(tile.shape[0])]
        if len(parts) == 2:
            keep = ~tile_value(parts[1]).astype(bool).reshape(-1)
            if keep.size != len(rows):
                raise self._run_error(f"mask of {keep.size} rows for a tile of {len(rows)} rows")
            rows = [r for r, k in zip(rows, keep, strict=True) if k]
        return encode([rows], 1)[:-1] if self.rank else rows

    def flops_of_type(self, in_dtype: DType) -> Dim:
        return 0

    def flops_of_value(self, value: Any) -> int:
        return 0


# --------------------------------------------------------------------------- address generation
class AffineAddress(MapFunction):
    """``index · scale + offset`` as an Addr tile, from an integer [1,1] tile or a one-hot
    Selector (its set bit); 0 FLOPs (address generation, §7.2)."""

    _fields = ("scale", "offset")

    def __init__(self, scale: int = 1, offset: int = 0):
        for arg, v in (("scale", scale), ("offset", offset)):
            if isinstance(v, bool) or not isinstance(v, int) or v < 0:
                raise ShapeError(f"AffineAddress: argument {arg!r} = {v!r} (expected an int >= 0)")
        self.scale, self.offset = scale, offset

    def out_type(self, in_dtype: DType) -> DType:
        if not (isinstance(in_dtype, Selector) or is_int_tile(in_dtype)):
            raise self._type_error("input type", in_dtype,
                                   "expected a Selector or a [1,1] integer tile such as Addr")
        return Addr

    def __call__(self, value):
        return addr(index_value(self, value) * self.scale + self.offset)

    def flops_of_type(self, in_dtype: DType) -> Dim:
        return 0

    def flops_of_value(self, value: Any) -> int:
        return 0


class TileAddresses(FlatMapFunction):
    """Addresses ``base + i · stride`` for ``i < count`` (0 FLOPs).

    Input: an Addr ``base`` with a static ``count``, or ``Tuple(base, n)`` of two [1,1] integer
    tiles with ``count=None`` (data-dependent count: ragged, ``max_count`` is the bound written
    in the declared shape). ``rank=1`` emits one vector per element (b = 1), ``rank=0`` a flat run.
    """

    _fields = ("count", "stride", "rank", "max_count")

    def __init__(self, count: Dim | None = None, stride: int = 1, rank: int = 1,
                 max_count: Dim | None = None) -> None:
        self.count = None if count is None else as_dim(count, what="TileAddresses count")
        if isinstance(stride, bool) or not isinstance(stride, int):
            raise ShapeError(f"TileAddresses: argument 'stride' = {stride!r} (expected an int)")
        self.stride = stride
        if rank not in (0, 1) or isinstance(rank, bool):
            raise ShapeError(f"TileAddresses: argument 'rank' = {rank!r} (expected 0 or 1)")
        self.rank = rank
        self.max_count = None if max_count is None else as_dim(max_count, what="max_count")

    def out_type(self, in_dtype: DType) -> tuple:
        items = tuple_items(in_dtype)
        want = 1 if self.count is not None else 2
        if len(items) != want or not all(is_int_tile(t) for t in items):
            expected = ("an Addr base (count given)" if want == 1
                        else "Tuple(base, count) of [1,1] integer tiles (count=None)")
            raise self._type_error("input type", in_dtype, f"expected {expected}")
        n = self.count if self.count is not None else as_dim(self.max_count or 0)
        data_dependent = self.count is None
        if self.rank:
            return Addr, (1, n), (False, data_dependent)
        return Addr, (n,), (data_dependent,)

    def __call__(self, value) -> list:
        parts = tuple_values(value)
        base = index_value(self, parts[0])
        n = self.count if self.count is not None else index_value(self, parts[1])
        if not isinstance(n, int):
            raise self._run_error(f"symbolic count {fmt(n)} (expected an int count)")
        addrs = [addr(base + i * self.stride) for i in range(n)]
        return encode([addrs], 1)[:-1] if self.rank else addrs

    def flops_of_type(self, in_dtype: DType) -> Dim:
        return 0

    def flops_of_value(self, value: Any) -> int:
        return 0


class InsertRow(MapFunction):
    """``Tuple(tile[R, C], row[1, C], offset)`` -> the tile with row ``offset`` replaced
    (KV-cache append); 0 FLOPs (data movement)."""

    def out_type(self, in_dtype: DType) -> DType:
        items = tuple_items(in_dtype)
        if len(items) != 3 or not is_int_tile(items[2]):
            raise self._type_error("input type", in_dtype,
                                   "expected Tuple(tile, row, offset) with an integer offset")
        tile = as_tile(self, items[0], "tile type")
        row = as_tile(self, items[1], "row type")
        if row.rows != 1 or not dims_equal(row.cols, tile.cols):
            raise self._type_error("row type", f"{row} for tile {tile}",
                                   f"expected a [1, {fmt(tile.cols)}] row")
        return tile

    def __call__(self, value):
        tile, row, offset = tuple_values(value)
        i = index_value(self, offset)
        if not 0 <= i < tile.shape[0]:
            raise self._run_error(f"row offset {i} out of range for a {tile.shape} tile")
        out = tile.copy()
        out[i] = row[0]
        return out

    def flops_of_type(self, in_dtype: DType) -> Dim:
        return 0

    def flops_of_value(self, value: Any) -> int:
        return 0
