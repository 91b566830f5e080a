"""Stream types and stream handles (edges of a program graph)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from ..symbolic import Dim, Shape, as_dim, fmt, free_symbols, product, shapes_equal
from .dtypes import DType

if TYPE_CHECKING:
    from .node import Node
    from .program import Program

_T = TypeVar("_T", bound=type)

# Operator classes that Stream methods build, registered by the layer that defines them.
_OPERATORS: dict[str, type] = {}


def register_operator(cls: _T) -> _T:
    """Let ``Stream`` methods build ``cls`` (``Stream.assume`` -> ``ops.Assume``)."""
    _OPERATORS[cls.__name__] = cls
    return cls

__all__ = ["StreamType", "Stream"]


@dataclass(frozen=True)
class StreamType:
    """``Stream<dtype>[D_N, …, D_0]``: data type, shape (outermost first) and ragged symbols."""

    dtype: DType
    shape: Shape
    ragged: frozenset[Any] = field(default=frozenset())

    def __post_init__(self) -> None:
        object.__setattr__(self, "shape", tuple(as_dim(d, what="stream dim") for d in self.shape))
        if self.ragged:                     # (most streams have none: skip sympy's walk)
            live = free_symbols(*self.shape)
            object.__setattr__(self, "ragged", frozenset(s for s in self.ragged if s in live))
        elif type(self.ragged) is not frozenset:
            object.__setattr__(self, "ragged", frozenset())

    @property
    def rank(self) -> int:
        return len(self.shape) - 1

    @property
    def cardinality(self) -> Dim:
        return product(self.shape)

    def dim_of_rank(self, i: int) -> Dim:
        return self.shape[len(self.shape) - 1 - i]

    def is_ragged(self, d: Dim) -> bool:
        return bool(free_symbols(d) & self.ragged)

    def same_as(self, other: StreamType) -> bool:
        return self.dtype == other.dtype and shapes_equal(self.shape, other.shape)

    def __str__(self) -> str:
        return f"Stream<{self.dtype}>[{', '.join(fmt(d) for d in self.shape)}]"


class Stream:
    """An edge of a program: produced by output ``port`` of ``node``, typed by ``type``.

    Streams are handles; they compare by identity. ``shape``/``dtype``/``rank`` read the type.
    """

    __slots__ = ("program", "node", "port", "type")

    def __init__(self, program: Program, node: Node, port: int, stype: StreamType) -> None:
        self.program = program
        self.node = node
        self.port = port
        self.type = stype

    @property
    def shape(self) -> Shape:
        return self.type.shape

    @property
    def dtype(self) -> DType:
        return self.type.dtype

    @property
    def rank(self) -> int:
        return self.type.rank

    @property
    def ragged(self) -> frozenset[Any]:
        return self.type.ragged

    @property
    def name(self) -> str:
        n = self.node.name
        return n if len(self.node.outputs) <= 1 else f"{n}.{self.port}"

    def assume(self, shape: Shape) -> Stream:
        """Assert a known equivalent shape (STEP.md §2.6); checked at run time.

        Builds an ``ops.Assume`` node. The IR imports nothing above it: ``step_lab.ops.shape``
        registers its operator class here when it is imported (``import step_lab`` does).
        """
        return _OPERATORS["Assume"](self, shape)

    def __str__(self) -> str:
        return str(self.type)

    def __repr__(self) -> str:
        return f"<{self.name}: {self.type}>"
