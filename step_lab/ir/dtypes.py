"""Data types carried by streams (STEP.md §3) and their byte sizes.

Element types name the storage format; values are computed in numpy with ``numpy_dtype`` (bf16 is
emulated in float32, as the paper's artifact does).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ShapeError, did_you_mean
from ..symbolic import Dim, Shape, as_dim, fmt, is_static, product, sum_dims

ELEMENT_BYTES = {"bf16": 2, "f16": 2, "f32": 4, "i32": 4, "u32": 4, "i64": 8, "u64": 8, "bool": 1}
_ALIASES = {"fp16": "f16", "float16": "f16", "half": "f16", "fp32": "f32", "float32": "f32",
            "float": "f32", "bfloat16": "bf16", "int32": "i32", "uint32": "u32", "int64": "i64",
            "uint64": "u64", "int": "i64", "bool_": "bool"}
NUMPY = {"bf16": np.float32, "f16": np.float32, "f32": np.float32, "i32": np.int32,
         "u32": np.uint32, "i64": np.int64, "u64": np.uint64, "bool": np.bool_}

__all__ = ["ELEMENT_BYTES", "element", "DType", "Tile", "Scalar", "Selector", "Buffer", "Tuple",
           "Bool", "Addr", "is_static_tile", "is_address", "numpy_dtype"]


def element(name: str, *, what: str = "dtype") -> str:
    """Canonical element type name; unknown names raise ShapeError with a suggestion."""
    key = str(name).lower()
    key = _ALIASES.get(key, key)
    if key not in ELEMENT_BYTES:
        raise ShapeError(f"unknown {what} {name!r} (expected one of {sorted(ELEMENT_BYTES)})"
                         + did_you_mean(name, list(ELEMENT_BYTES) + list(_ALIASES)))
    return key


def numpy_dtype(elem: str) -> type[np.generic]:
    return NUMPY[elem]


class DType:
    """Base of stream data types. Subclasses are frozen dataclasses."""

    @property
    def nbytes(self) -> Dim:  # pragma: no cover - every data type overrides
        raise NotImplementedError(f"{type(self).__name__} does not define nbytes")

    @property
    def is_buffer(self) -> bool:
        return False


@dataclass(frozen=True)
class Tile(DType):
    """``Tile[rows, cols] elem``: a 2-D matrix element; rows/cols may be symbolic (dynamic tile)."""

    rows: Dim
    cols: Dim
    elem: str = "bf16"

    def __post_init__(self) -> None:
        object.__setattr__(self, "elem", element(self.elem))
        for what in ("rows", "cols"):
            object.__setattr__(self, what, as_dim(getattr(self, what), what=f"tile {what}"))

    @property
    def nbytes(self) -> Dim:
        return product((self.rows, self.cols, ELEMENT_BYTES[self.elem]))

    @property
    def shape(self) -> tuple[Dim, Dim]:
        return (self.rows, self.cols)

    @property
    def static(self) -> bool:
        return is_static(self.rows) and is_static(self.cols)

    def __str__(self) -> str:
        return f"Tile[{fmt(self.rows)},{fmt(self.cols)}] {self.elem}"


@dataclass(frozen=True)
class Scalar(DType):
    """A scalar element (``Bool`` flags of padding streams and store acknowledgements)."""

    elem: str = "bool"

    def __post_init__(self) -> None:
        object.__setattr__(self, "elem", element(self.elem))

    @property
    def nbytes(self) -> int:
        return ELEMENT_BYTES[self.elem]

    def __str__(self) -> str:
        return "Bool" if self.elem == "bool" else self.elem


@dataclass(frozen=True)
class Selector(DType):
    """``Selector[n]``: a multi-hot vector over n targets; values are frozensets of indices."""

    n: int

    def __post_init__(self) -> None:
        if not isinstance(self.n, int) or isinstance(self.n, bool) or self.n < 1:
            raise ShapeError(f"Selector width {self.n!r} is invalid (expected an int >= 1)")

    @property
    def nbytes(self) -> int:
        return self.n  # [Choice] STEP.md §3: the reference's value

    def __str__(self) -> str:
        return f"Selector[{self.n}]"


@dataclass(frozen=True)
class Buffer(DType):
    """Read-only reference to an on-chip buffer holding a rank-b tensor of tiles."""

    tile: DType
    shape: Shape
    ragged: frozenset[Any] = frozenset()

    @property
    def nbytes(self) -> Dim:
        return product(self.shape) * self.tile.nbytes  # referenced storage ([Choice] §3)

    @property
    def is_buffer(self) -> bool:
        return True

    @property
    def rank(self) -> int:
        return len(self.shape)

    def __str__(self) -> str:
        return f"Buffer<{self.tile}, [{', '.join(fmt(d) for d in self.shape)}]>"


@dataclass(frozen=True)
class Tuple(DType):
    """``Tuple(T1, T2, …)`` produced by Zip."""

    items: tuple[DType, ...]

    @property
    def nbytes(self) -> Dim:
        return sum_dims(t.nbytes for t in self.items)

    def __str__(self) -> str:
        return "Tuple(" + ", ".join(str(t) for t in self.items) + ")"


Bool = Scalar("bool")
Addr = Tile(1, 1, "u64")


def is_static_tile(t: DType) -> bool:
    return isinstance(t, Tile) and t.static


def is_address(t: DType) -> bool:
    return (isinstance(t, Tile) and t.rows == 1 and t.cols == 1
            and t.elem in ("i32", "u32", "i64", "u64"))
