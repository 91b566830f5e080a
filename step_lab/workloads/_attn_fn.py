"""Tile functions private to the attention-decode workload (EXPERIMENTS.md §1.7).

* :class:`RequestTiles` (FlatMap): per request ``(index, tile count, offset)`` -> one element per
  KV tile, ``Tuple(address, role, valid columns)``: the tile's address in the request's cache slot,
  a ``Selector[2]`` (``{0}`` an old tile, ``{1}`` the last tile that receives the new row) and the
  number of valid KV positions in the tile (32, or ``offset + 1`` for the last tile).
* :class:`Pick` (Map): one component of a Tuple (unzip), 0 FLOPs.
* :class:`MaskedExp` (Map): ``exp`` of a score tile with the columns of invalid KV positions set
  to 0 (1 FLOP per element, like ``Exp``) — the rows of the last tile beyond the new token hold
  no data, so they must not enter the softmax sums.

All address generation and bookkeeping is 0 FLOPs (STEP.md §7.2).
"""
from __future__ import annotations

import numpy as np

from ..errors import ShapeError
from ..fn.base import (
    FlatMapFunction,
    MapFunction,
    addr,
    as_tile,
    index_value,
    is_int_tile,
    tile_value,
    tuple_items,
    tuple_values,
)
from ..ir.dtypes import Addr, DType, Selector, Tile, Tuple
from ..ir.tokens import encode
from ..symbolic import Dim, product

__all__ = ["RequestTiles", "Pick", "MaskedExp", "COUNT", "ROLE_OLD", "ROLE_LAST"]

COUNT = Tile(1, 1, "i64")           # integer metadata tile (index, tile count, offset, valid)
ROLE_OLD, ROLE_LAST = frozenset({0}), frozenset({1})


def _check_int(fn, arg: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ShapeError(f"{type(fn).__name__}: argument {arg!r} = {value!r} "
                         f"(expected an int >= {minimum})")
    return int(value)


class RequestTiles(FlatMapFunction):
    """``Tuple(index, count, offset)`` -> ``[1, count]`` of ``Tuple(Addr, Selector[2], valid)``.

    Tile ``t`` of request ``index`` has address ``index · slot_tiles + t`` (per-request cache
    slots of fixed length, EXPERIMENTS.md §1.7); the last tile (``t = count − 1``) has role
    ``{1}`` and ``offset + 1`` valid rows, every other tile role ``{0}`` and ``tile_rows`` valid
    rows. ``count`` is data-dependent: the result's inner dim is ragged (bound ``slot_tiles``).
    """

    _fields = ("slot_tiles", "tile_rows")

    def __init__(self, slot_tiles: int, tile_rows: int = 32):
        self.slot_tiles = _check_int(self, "slot_tiles", slot_tiles, 1)
        self.tile_rows = _check_int(self, "tile_rows", tile_rows, 1)

    def out_type(self, in_dtype: DType) -> tuple:
        items = tuple_items(in_dtype)
        if len(items) != 3 or not all(is_int_tile(t) for t in items):
            raise self._type_error("input type", in_dtype, "expected Tuple(index, count, offset) "
                                   "of [1,1] integer tiles")
        elem = Tuple((Addr, Selector(2), COUNT))
        return elem, (1, self.slot_tiles), (False, True)

    def __call__(self, value) -> list:
        index, count, offset = (index_value(self, v) for v in tuple_values(value))
        if not 1 <= count <= self.slot_tiles:
            raise self._run_error(f"request {index} needs {count} KV tiles but a cache slot "
                                  f"holds {self.slot_tiles} (expected 1 <= count <= "
                                  f"{self.slot_tiles})")
        if not 0 <= offset < self.tile_rows:
            raise self._run_error(f"new-token offset {offset} (expected 0 <= offset < "
                                  f"{self.tile_rows})")
        base = index * self.slot_tiles
        full = np.array([[self.tile_rows]], dtype=np.int64)
        last = np.array([[offset + 1]], dtype=np.int64)
        elems = [(addr(base + t), ROLE_OLD, full) for t in range(count - 1)]
        elems.append((addr(base + count - 1), ROLE_LAST, last))
        return encode([elems], 1)[:-1]

    def flops_of_type(self, in_dtype: DType) -> Dim:
        return 0

    def flops_of_value(self, value) -> int:
        return 0


class Pick(MapFunction):
    """Component ``index`` of a Tuple element (unzip); 0 FLOPs (data movement)."""

    _fields = ("index",)

    def __init__(self, index: int):
        self.index = _check_int(self, "index", index, 0)

    def out_type(self, in_dtype: DType) -> DType:
        if not isinstance(in_dtype, Tuple) or self.index >= len(in_dtype.items):
            raise self._type_error("input type", in_dtype,
                                   f"expected a Tuple with more than {self.index} components")
        return in_dtype.items[self.index]

    def __call__(self, value):
        return value[self.index]

    def flops_of_type(self, in_dtype: DType) -> Dim:
        return 0

    def flops_of_value(self, value) -> int:
        return 0


class MaskedExp(MapFunction):
    """``Tuple(S[r, c], valid [1,1])`` -> ``exp(S)`` with columns ``>= valid`` set to 0.

    1 FLOP per element (as ``Exp``, STEP.md §7.2); softmax without max subtraction (§1.7).
    """

    _fields = ("flops_per_element",)

    def __init__(self, flops_per_element: float = 1):
        if isinstance(flops_per_element, bool) or not isinstance(flops_per_element, (int, float)) \
                or flops_per_element < 0:
            raise ShapeError(f"MaskedExp: argument 'flops_per_element' = {flops_per_element!r} "
                             "(expected a number >= 0)")
        self.flops_per_element = flops_per_element

    def _score(self, in_dtype: DType) -> Tile:
        items = tuple_items(in_dtype)
        if len(items) != 2 or not is_int_tile(items[1]):
            raise self._type_error("input type", in_dtype,
                                   "expected Tuple(score tile, valid-column count)")
        return as_tile(self, items[0], "score type")

    def out_type(self, in_dtype: DType) -> DType:
        return self._score(in_dtype)

    def __call__(self, value):
        scores, valid = tuple_values(value)
        scores = tile_value(scores)
        keep = np.arange(scores.shape[1]) < index_value(self, valid)
        return np.exp(scores) * keep.astype(scores.dtype)[None, :]   # ufuncs only (ghost tiles)

    def flops_of_type(self, in_dtype: DType) -> Dim:
        t = self._score(in_dtype)
        return product((self.flops_per_element, t.rows, t.cols))

    def flops_of_value(self, value) -> int:
        scores = tuple_values(value)[0]
        return int(round(self.flops_per_element * np.asarray(scores).size))
