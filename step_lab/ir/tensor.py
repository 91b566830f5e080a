"""An off-chip (HBM) tensor of a program (its own module so that ``ir.dot`` and the operators
can name it without importing the program builder)."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..symbolic import Shape, fmt

if TYPE_CHECKING:
    from .program import Program

__all__ = ["Tensor"]


@dataclass(frozen=True, eq=False)
class Tensor:
    """An off-chip (HBM) tensor: ``shape`` in elements (symbolic allowed), element ``dtype``."""

    program: Program
    name: str
    shape: Shape
    dtype: str
    base_addr: int
    role: str = "input"          # "input" (read by loads) or "output" (written by stores)
    ragged: frozenset = field(default=frozenset())

    @property
    def rank(self) -> int:
        return len(self.shape)

    def __str__(self) -> str:
        return f"{self.name}[{', '.join(fmt(d) for d in self.shape)}] {self.dtype}"
