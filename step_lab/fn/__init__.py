"""Hardware tile functions for Map / Accum / Scan / FlatMap (STEP.md §4.4, FLOPs §7.2).

Exported as ``sl.fn``. Every function is an immutable, hashable value object (equal parameters
=> equal objects) with a readable ``name`` (``Matmul(transpose_weight=True)``). Contract, by kind
(``isinstance`` against the four base classes; a class may be of several kinds):

``MapFunction`` (Map)
    ``out_type(in_dtype) -> DType``  type rule; raises ShapeError naming the function, the bad
    type and the expectation.  ``fn(value) -> value`` numpy implementation.
    ``flops_of_type(in_dtype) -> Dim`` FLOPs of ONE element (symbolic for dynamic tiles).
    ``flops_of_value(value) -> int``.  ``is_matmul: bool``.
``UpdateFunction`` (Accum / Scan; ``x`` = one input element, ``acc`` = accumulator)
    ``accum_type(elem_dtype, init_dtype, count) -> DType`` type of the accumulator after
    ``count`` updates (``count`` = number of elements of a group, a Dim).
    ``scan_type(elem_dtype, init_dtype) -> DType`` (ShapeError if the accumulator type changes
    with every update, as for the Retile functions).  ``fn(x, acc) -> acc``.
    ``flops_of_type(elem_dtype) -> Dim`` per element.  ``flops_of_value(x, acc) -> int``.
    ``is_matmul`` (True for MatmulAccumulate).
``InitFunction`` (Accum / Scan ``init``)
    ``out_type() -> DType``.  ``fn(bindings=None) -> value`` (symbolic dims are evaluated with
    ``bindings`` when bound; see Zero / Empty for unbound dims).
``FlatMapFunction`` (FlatMap)
    ``out_type(in_dtype) -> (DType, shape, ragged)``: the result stream of ONE element has rank
    ``b = len(shape) - 1`` and shape ``[E_b, …, E_0]``; ``ragged`` is a tuple of bools, one per
    shape entry, True where that entry is data-dependent (the entry is then an upper bound).
    ``fn(value) -> list`` of tokens (the rank-b encoding without Done).  ``flops_of_type`` /
    ``flops_of_value`` as for maps.

Every kind is **pure**: ``fn(...)`` and ``flops_of_value(...)`` depend only on their arguments
(and the function's parameters) and never modify an argument in place (an update returns its
new accumulator; the built-in Retile functions grow a buffer of their own, never one they were
given). The simulator relies on it: a timing-only run applies a function once per distinct
ghost argument (``step_lab/ir/ghost.py``), and a store copies the tile it is given when it
arrives, so a later in-place change would not be seen there.

Element-wise binary functions (Add, Sub, Mul, Div, Max) are both maps (on a ``Tuple`` of two
tiles) and updates; ``flops_of_type``/``flops_of_value`` tell the two uses apart by the argument
(a Tuple vs a tile; one value vs ``(x, acc)``). Every FLOP default is a constructor argument.
Tile values are 2-D numpy arrays; Bool elements act as ``[1, 1]`` tiles for the Retile functions.
"""
from .base import FlatMapFunction, Function, InitFunction, MapFunction, UpdateFunction
from .compute import (
    GELU,
    Add,
    Div,
    Exp,
    Identity,
    Matmul,
    MatmulAccumulate,
    Max,
    Mul,
    RowSum,
    Scale,
    SiLU,
    Sub,
)
from .data import (
    AffineAddress,
    Count,
    Empty,
    InsertRow,
    RetileCol,
    RetileRow,
    RetileStreamify,
    TileAddresses,
    Zero,
)

__all__ = ["Function", "MapFunction", "UpdateFunction", "InitFunction", "FlatMapFunction",
           "Identity", "Matmul", "MatmulAccumulate", "Add", "Sub", "Mul", "Div", "Max", "Exp",
           "SiLU", "GELU", "Scale", "RowSum", "RetileRow", "RetileCol", "RetileStreamify", "Count",
           "Zero", "Empty", "AffineAddress", "TileAddresses", "InsertRow"]


def __getattr__(name: str):
    """``fn.matmul`` -> an error suggesting ``Matmul``."""
    from ..errors import missing_attribute
    raise missing_attribute("step_lab.fn", __all__, name, "function")
