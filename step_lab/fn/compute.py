"""Compute functions: Matmul, element-wise maps and updates (STEP.md §4.4, FLOPs §7.2)."""
from __future__ import annotations

import math
from typing import Any, ClassVar

import numpy as np

from ..errors import ShapeError
from ..ir.dtypes import DType, Tile, Tuple
from ..symbolic import Dim, dims_equal, product
from .base import (
    MapFunction,
    UpdateFunction,
    as_tile,
    broadcast,
    check_flops,
    elements,
    int_flops,
    pair,
    tile_value,
    tuple_values,
    wider,
)

__all__ = ["Identity", "Matmul", "Exp", "SiLU", "GELU", "Scale", "RowSum", "Add", "Sub", "Mul",
           "Div", "Max", "MatmulAccumulate"]


# --------------------------------------------------------------------------- maps
class Identity(MapFunction):
    """Passes every element unchanged (any non-buffer type); 0 FLOPs."""

    def out_type(self, in_dtype: DType) -> DType:
        return in_dtype

    def __call__(self, value):
        return value

    def flops_of_type(self, in_dtype: DType) -> Dim:
        return 0

    def flops_of_value(self, value: Any) -> int:
        return 0


class Matmul(MapFunction):
    """``Tuple(A[M,K], W[K,N]) -> [M,N]`` (``W[N,K]`` with ``transpose_weight``); dynamic tiles ok.

    FLOPs ``flops_per_mac · M·K·N`` (default 2, §7.2). [Choice] the result element type is the
    wider of the operands' (a float when either is a float).
    """

    _fields = ("transpose_weight", "flops_per_mac")
    is_matmul = True

    def __init__(self, transpose_weight: bool = False, flops_per_mac: float = 2):
        if not isinstance(transpose_weight, bool):
            raise ShapeError(f"Matmul: argument 'transpose_weight' = {transpose_weight!r} "
                             "(expected True or False)")
        self.transpose_weight = transpose_weight
        self.flops_per_mac = check_flops(self, flops_per_mac, "flops_per_mac")

    def _mkn(self, in_dtype: DType) -> tuple:
        a, w = pair(self, in_dtype)
        k_w, n = (w.cols, w.rows) if self.transpose_weight else (w.rows, w.cols)
        if not dims_equal(a.cols, k_w):
            layout = "W[N,K]" if self.transpose_weight else "W[K,N]"
            raise self._type_error("inner dims differ:", f"A {a} × W {w}",
                                   f"expected A[M,K] and {layout} with equal K")
        return a, w, n

    def out_type(self, in_dtype: DType) -> Tile:
        a, w, n = self._mkn(in_dtype)
        return Tile(a.rows, n, wider(a.elem, w.elem))

    def __call__(self, value):
        a, w = (tile_value(v) for v in tuple_values(value))
        w = w.T if self.transpose_weight else w
        if a.shape[1] != w.shape[0]:
            raise self._run_error(f"inner dims differ at run time: A {a.shape} × W "
                                  f"{w.shape}{' (transposed)' if self.transpose_weight else ''}")
        return a @ w

    def flops_of_type(self, in_dtype: DType) -> Dim:
        a, _, n = self._mkn(in_dtype)
        return product((self.flops_per_mac, a.rows, a.cols, n))

    def flops_of_value(self, value: Any) -> int:
        a, w = (tile_value(v) for v in tuple_values(value))
        n = w.shape[0] if self.transpose_weight else w.shape[1]
        return int_flops(self.flops_per_mac * a.shape[0] * a.shape[1] * n)


class _Unary(MapFunction):
    """Element-wise function of one tile; ``flops_per_element`` FLOPs per element."""

    _fields: ClassVar[tuple[str, ...]] = ("flops_per_element",)

    def __init__(self, flops_per_element: float = 1):
        self.flops_per_element = check_flops(self, flops_per_element, "flops_per_element")

    def out_type(self, in_dtype: DType) -> Tile:
        return as_tile(self, in_dtype)

    def flops_of_type(self, in_dtype: DType) -> Dim:
        return product((self.flops_per_element, elements(self.out_type(in_dtype))))

    def flops_of_value(self, value: Any) -> int:
        size = value.size if isinstance(value, np.ndarray) else np.asarray(value).size
        return int_flops(self.flops_per_element * size)


class Exp(_Unary):
    """``exp(x)`` element-wise; 1 FLOP per element (§7.2)."""

    elementwise = True

    def __call__(self, value):
        return np.exp(value)


class SiLU(_Unary):
    """``x · sigmoid(x)`` element-wise; 8 FLOPs per element (the reference's count, §7.2)."""

    elementwise = True

    def __init__(self, flops_per_element: float = 8):
        super().__init__(flops_per_element)

    def __call__(self, value):
        with np.errstate(over="ignore"):
            return value / (1 + np.exp(-value))


class GELU(_Unary):
    """GELU, tanh form: ``0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³)))`` element-wise.

    [Choice] the tanh approximation (numpy has no erf; it is what most accelerators implement)
    and 9 FLOPs per element by default: x³ (2), ·0.044715 (1), + x (1), ·√(2/π) (1), tanh (1),
    + 1 (1), · x (1), · 0.5 (1). GELU(0) = 0, so zero padding stays zero.
    """

    elementwise = True

    def __init__(self, flops_per_element: float = 9):
        super().__init__(flops_per_element)

    def __call__(self, value):
        x = np.asarray(value)
        inner = np.sqrt(2 / np.pi) * (x + 0.044715 * x * x * x)
        return (0.5 * x * (1 + np.tanh(inner))).astype(x.dtype, copy=False)


class Scale(_Unary):
    """``c · x`` element-wise by a constant; 1 FLOP per element."""

    elementwise = True

    _fields = ("factor", "flops_per_element")

    def __init__(self, factor: float, flops_per_element: float = 1):
        if isinstance(factor, bool) or not isinstance(factor, (int, float)):
            raise ShapeError(f"Scale: argument 'factor' = {factor!r} (expected a number)")
        self.factor = factor
        super().__init__(flops_per_element)

    def __call__(self, value):
        return (value * self.factor).astype(value.dtype, copy=False)


class RowSum(_Unary):
    """``[M,N] -> [M,1]`` row sums; 1 FLOP per input element (§7.2)."""

    def out_type(self, in_dtype: DType) -> Tile:
        t = as_tile(self, in_dtype)
        return Tile(t.rows, 1, t.elem)

    def flops_of_type(self, in_dtype: DType) -> Dim:
        return product((self.flops_per_element, elements(as_tile(self, in_dtype))))

    def __call__(self, value):
        return value.sum(axis=1, keepdims=True)


# --------------------------------------------------------------------------- element-wise binary
class _Binary(MapFunction, UpdateFunction):
    """Element-wise binary function: a Map over ``Tuple(a, b)`` and an update ``acc ∘ x``.

    Dims must be equal or 1 (broadcast); ``flops_per_element`` FLOPs per output element.
    [Choice] as an update the new accumulator is ``op(acc, x)`` (Sub: acc − x, Div: acc / x) and
    its type is the broadcast of the element and init shapes with the ELEMENT's element type
    (init only supplies the start value; ``Zero((1, 1))`` therefore fits any tile).
    """

    _fields = ("flops_per_element",)

    @staticmethod
    def _op(a: Any, b: Any, /) -> Any:  # pragma: no cover - each subclass sets a ufunc
        raise NotImplementedError("_Binary subclasses set _op")

    def __init__(self, flops_per_element: float = 1):
        self.flops_per_element = check_flops(self, flops_per_element, "flops_per_element")

    def out_type(self, in_dtype: DType) -> Tile:
        a, b = pair(self, in_dtype)
        return broadcast(self, a, b, "operand types")

    def accum_type(self, elem: DType, init: DType, count: Dim = 1) -> DType:
        x = as_tile(self, elem, "element type")
        acc = as_tile(self, init, "init type")
        t = broadcast(self, x, acc, "element and init types")
        return Tile(t.rows, t.cols, x.elem)

    def __call__(self, x, acc=None):
        a, b = (acc, x) if acc is not None else tuple(tuple_values(x))
        try:
            with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
                return type(self)._op(a, b)
        except ValueError as e:
            raise self._run_error(f"operand shapes {np.shape(a)} and {np.shape(b)} do not "
                                  f"broadcast ({e})") from None

    def flops_of_type(self, elem: DType) -> Dim:
        t = self.out_type(elem) if isinstance(elem, Tuple) else as_tile(self, elem)
        return product((self.flops_per_element, elements(t)))

    def flops_of_value(self, x: Any, acc: Any = None) -> int:
        shapes = [np.shape(v) for v in (tuple_values(x) if acc is None else [x, acc])]
        first = shapes[0]
        # NOTE: the hot path (one call per element): equal shapes skip numpy's broadcasting
        shape = first if all(s == first for s in shapes) else np.broadcast_shapes(*shapes)
        return int_flops(self.flops_per_element * math.prod(shape))


class Add(_Binary):
    """``a + b``; 1 FLOP per output element."""
    _op = staticmethod(np.add)


class Sub(_Binary):
    """``a − b``; 1 FLOP per output element."""
    _op = staticmethod(np.subtract)


class Mul(_Binary):
    """``a · b``; 1 FLOP per output element."""
    _op = staticmethod(np.multiply)


class Div(_Binary):
    """``a / b``; 1 FLOP per output element (division by 0 gives inf/nan silently)."""
    _op = staticmethod(np.divide)


class Max(_Binary):
    """``max(a, b)``; 1 FLOP per output element."""
    _op = staticmethod(np.maximum)


# --------------------------------------------------------------------------- updates
class MatmulAccumulate(UpdateFunction):
    """Fused map-accumulate: ``(Tuple(A[M,K], W[K,N]), acc) -> acc + A @ W`` (§5 BinaryMapAccum).

    ``acc`` type: ``[M,N]`` with the matmul's element type; init dims must equal or be 1
    (``Zero((1, 1))`` fits any dynamic size). FLOPs as Matmul (the add is not counted).
    """

    _fields = ("transpose_weight", "flops_per_mac")
    is_matmul = True

    def __init__(self, transpose_weight: bool = False, flops_per_mac: float = 2):
        self._matmul = Matmul(transpose_weight, flops_per_mac)
        self.transpose_weight = transpose_weight
        self.flops_per_mac = flops_per_mac

    def _product_type(self, elem: DType) -> Tile:
        try:
            return self._matmul.out_type(elem)
        except ShapeError as e:
            raise ShapeError(str(e).replace("Matmul", self.name, 1)) from None

    def accum_type(self, elem: DType, init: DType, count: Dim = 1) -> DType:
        p = self._product_type(elem)
        acc = as_tile(self, init, "init type")
        t = broadcast(self, p, acc, "product and init types")
        return Tile(t.rows, t.cols, p.elem)

    def __call__(self, x, acc):
        p = self._matmul(x)
        return p + acc if acc.shape == p.shape else np.broadcast_to(acc, p.shape) + p

    def flops_of_type(self, elem: DType) -> Dim:
        self._product_type(elem)
        return self._matmul.flops_of_type(elem)

    def flops_of_value(self, x: Any, acc: Any = None) -> int:
        return self._matmul.flops_of_value(x)
