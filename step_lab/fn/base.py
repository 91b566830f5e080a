"""Base classes and type helpers of the function library (see ``functions.py`` for the contract)."""
from __future__ import annotations

import inspect
from typing import Any, ClassVar

import numpy as np

from ..errors import ShapeError, StepError
from ..ir.dtypes import ELEMENT_BYTES, DType, Scalar, Tile, Tuple
from ..symbolic import Dim, dims_equal, fmt, product

FLOATS = ("bf16", "f16", "f32")
INTEGERS = ("i32", "u32", "i64", "u64")


# --------------------------------------------------------------------------- base classes
class Function:
    """Base class: value semantics from the constructor arguments listed in ``_fields``."""

    _fields: ClassVar[tuple[str, ...]] = ()
    is_matmul: ClassVar[bool] = False

    def _key(self) -> tuple:
        return tuple(getattr(self, f) for f in self._fields)

    def __eq__(self, other: object) -> bool:
        return type(self) is type(other) and self._key() == other._key()

    def __hash__(self) -> int:
        return hash((type(self).__name__, self._key()))

    @property
    def name(self) -> str:
        params = inspect.signature(type(self).__init__).parameters
        args = []
        for f in self._fields:
            value, default = getattr(self, f), params[f].default
            if default is inspect.Parameter.empty:
                args.append(show(value))
            elif value != default:
                args.append(f"{f}={show(value)}")
        return f"{type(self).__name__}({', '.join(args)})" if args else type(self).__name__

    def __repr__(self) -> str:
        return self.name

    def _type_error(self, what: str, value: Any, expected: str) -> ShapeError:
        shown = value if isinstance(value, str) else show(value)
        return ShapeError(f"{self.name}: {what} {shown} ({expected})")

    def _run_error(self, message: str) -> StepError:
        return StepError(f"{self.name}: {message}")


class MapFunction(Function):
    """A per-element function ``A -> B`` for Map.

    ``elementwise`` (a trait): the function maps each number of a tile independently, so
    applied to a stack of tiles ``[n, r, c]`` it gives the stack of its per-tile results,
    bit for bit, and its FLOPs depend on the tile's shape only (the simulator then computes a
    run of tiles in one numpy call, ``sim/batch.py``). Declare it only when both hold; a
    subclass that overrides ``__call__`` or ``flops_of_value`` does not inherit it, and
    ``elementwise = False`` opts out. [Choice] such a function is called once per chunk of
    tiles in a simulation with values, so a function that counts its calls sees fewer of them
    and a numpy warning (an overflow) comes once per chunk (values and FLOPs are the same).
    """

    elementwise: ClassVar[bool] = False


class UpdateFunction(Function):
    """An accumulator update ``(A, R) -> R`` for Accum and Scan."""

    def accum_type(self, elem: DType, init: DType, count: Dim = 1) -> DType:  # pragma: no cover
        raise NotImplementedError(f"{type(self).__name__} does not define accum_type")

    def scan_type(self, elem: DType, init: DType) -> DType:
        return self.accum_type(elem, init, 1)


class InitFunction(Function):
    """An initial accumulator ``() -> R`` for Accum and Scan."""


class FlatMapFunction(Function):
    """A per-element function ``A -> Strm<B, b>`` for FlatMap."""


# --------------------------------------------------------------------------- helpers
def show(v: object) -> str:
    if isinstance(v, tuple):
        return "(" + ", ".join(show(x) for x in v) + ("," if len(v) == 1 else "") + ")"
    if isinstance(v, (DType, str)):
        return str(v) if isinstance(v, DType) else repr(v)
    return fmt(v) if not isinstance(v, float) else repr(v)


def tuple_items(dtype: DType) -> list[DType]:
    """Components of a (possibly nested) Zip tuple type, flattened."""
    if isinstance(dtype, Tuple):
        return [x for t in dtype.items for x in tuple_items(t)]
    return [dtype]


def tuple_values(value: Any) -> list[Any]:
    if isinstance(value, tuple):
        return [x for v in value for x in tuple_values(v)]
    return [value]


def wider(*elems: str) -> str:
    """Result element type: the widest float if any operand is a float, else the widest."""
    pool = [e for e in elems if e in FLOATS] or list(elems)
    return max(pool, key=lambda e: ELEMENT_BYTES[e])


def as_tile(fn: Function, dtype: DType, what: str = "input type", *,
            scalars: bool = False) -> Tile:
    if isinstance(dtype, Tile):
        return dtype
    if scalars and isinstance(dtype, Scalar):
        return Tile(1, 1, dtype.elem)  # §4.4: Bool elements act as [1,1] tiles for Retile
    raise fn._type_error(what, dtype, "expected a Tile" + (" or Bool" if scalars else ""))


def tile_value(x: Any) -> np.ndarray:
    return x if isinstance(x, np.ndarray) and x.ndim == 2 else np.asarray(x).reshape(1, 1)


def pair(fn: Function, dtype: DType) -> tuple[Tile, Tile]:
    items = tuple_items(dtype)
    if not isinstance(dtype, Tuple) or len(items) != 2:
        raise fn._type_error("input type", dtype,
                             "expected a Tuple of two tiles: Map over Zip(a, b) or a list [a, b]")
    return as_tile(fn, items[0], "first operand"), as_tile(fn, items[1], "second operand")


def broadcast_dim(a: Dim, b: Dim) -> Dim | None:
    if dims_equal(a, b) or b == 1:
        return a
    if a == 1:
        return b
    return None


def broadcast(fn: Function, a: Tile, b: Tile, what: str) -> Tile:
    dims = [broadcast_dim(x, y) for x, y in zip(a.shape, b.shape, strict=True)]
    if None in dims:
        raise fn._type_error(what, f"{a} and {b}",
                             "expected equal dims or dims of size 1 (numpy broadcasting)")
    return Tile(dims[0], dims[1], wider(a.elem, b.elem))


def elements(t: Tile) -> Dim:
    return product(t.shape)


def index_value(fn: Function, x: Any) -> int:
    """The integer held by an address tile or a one-hot selector."""
    if isinstance(x, frozenset):
        if len(x) != 1:
            raise fn._run_error(f"selector {sorted(x)} is not one-hot (expected exactly one bit)")
        return next(iter(x))
    return int(np.asarray(x).reshape(-1)[0])


def addr(v: int) -> np.ndarray:
    return np.array([[v]], dtype=np.uint64)


def is_int_tile(t: DType) -> bool:
    return isinstance(t, Tile) and t.elem in INTEGERS and t.rows == 1 and t.cols == 1


def check_flops(fn: Function, value: Any, arg: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
        raise ShapeError(f"{type(fn).__name__}: argument {arg!r} = {value!r} "
                         "(expected a number >= 0)")
    return value


def int_flops(expr: Any) -> int:
    return int(expr) if not isinstance(expr, float) else int(round(expr))
