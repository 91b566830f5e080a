"""Buffers that spill to off-chip memory (issue 16): where a Bufferize's buffers live.

A Bufferize keeps its buffers on chip (STEP.md §4.2) unless it is asked not to
(``Bufferize(..., spill=True)``) or its buffer does not fit: with a per-buffer on-chip capacity
(``metrics(..., buffer_capacity=N)``, ``HardwareConfig.onchip_buffer_capacity_bytes``), a
Bufferize whose buffer ``‖buffer‖ · |tile|`` exceeds N bytes spills; ``spill=False`` keeps it on
chip whatever its size. A spilled buffer lives in HBM:

* [Choice] the Bufferize writes every input tile off chip — traffic ``‖in‖ · |in tile|`` — and
  keeps only its one-tile staging on chip (paper preset ``|in tile|``, artifact ``|tile|`` at the
  compute element size): the ``double_buffer · ‖buffer‖ · |tile|`` (artifact ``2 · ‖buffer‖ ·
  |tile|``) term leaves the on-chip total;
* [Choice] every Streamify reading a spilled buffer loads each tile it emits — traffic
  ``‖out‖ · |out tile|`` — and stages like a LinearOffChipLoad (paper ``double_buffer ·
  |tile|``, artifact ``1 · |tile|`` instead of ``‖buffer‖ · |tile| + |tile|``);
* in the simulator those tiles are off-chip requests through the HBM model (the node's running
  byte cursor from address 0 picks the channels; the outstanding-tile limit applies) instead of
  on-chip moves at ``BW_onchip``; the interpreter counts the same bytes.

The decision is one factor per Bufferize: 1 (spilled), 0 (on chip) or, for a symbolic buffer
size, ``Piecewise((1, size > N), (0, True))``. [Choice] The capacity is per buffer (one
Bufferize's buffer against the memory it may use), not a global allocation; a run decides with
the buffer size at its bindings, and a size that depends on a symbol the run does not bind is a
BindingError (pass ``spill=True``/``False`` to decide explicitly). A Streamify takes the factor
of the Bufferize its buffer stream comes from (through routing and shape operators); buffers of
Bufferizes with different factors reaching one Streamify are a GraphError.
"""
from __future__ import annotations

import numbers

import sympy

from ..errors import BindingError, ConfigError, GraphError
from ..ir.dtypes import Buffer
from ..ir.node import Node
from ..ir.program import Program
from ..symbolic import Dim, evaluate, free_symbols, is_static, product

__all__ = ["SPILL_DOC", "check_capacity", "buffer_bytes", "factor", "sources", "decide"]

SPILL_DOC = __doc__


def check_capacity(value: object, where: str) -> int | None:
    """``None`` (no capacity: nothing spills unless asked) or an int >= 1 of bytes."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ConfigError(f"{where}: buffer_capacity = {value!r:.40} (expected None or an int "
                          ">= 1 of bytes per buffer)")
    return int(value)


def buffer_bytes(node: Node) -> Dim:
    """``‖buffer‖ · |tile|`` of a Bufferize's buffers (declared element size)."""
    buffer = node.outputs[0].dtype
    assert isinstance(buffer, Buffer)   # a Bufferize outputs buffer references
    return product((*buffer.shape, buffer.tile.nbytes))


def _own_factor(node, capacity: int | None) -> Dim:
    spill = node.params.get("spill")
    if spill is not None:
        return int(spill)
    if capacity is None:
        return 0
    size = buffer_bytes(node)
    if is_static(size):
        return int(size > capacity)
    return sympy.Piecewise((1, sympy.StrictGreaterThan(size, capacity)), (0, True))


def sources(node: Node) -> list[Node]:
    """The Bufferize nodes whose buffers reach ``node`` (a Streamify) through routing and shape
    operators (walking every upstream buffer stream)."""
    found, seen = [], set()
    todo = [s for s in node.inputs if s.dtype.is_buffer]
    while todo:
        stream = todo.pop()
        up = stream.node
        if up in seen:
            continue
        seen.add(up)
        if up.cost_role == "bufferize":
            found.append(up)
        else:
            todo += [s for s in up.inputs if s.dtype.is_buffer]
    return found


def factor(node: Node, capacity: int | None) -> Dim:
    """The spill factor of a Bufferize or Streamify (0 for every other node)."""
    role = node.cost_role
    if role == "bufferize":
        return _own_factor(node, capacity)
    if role != "streamify":
        return 0
    factors = {}
    for src in sources(node):
        factors[src.name] = _own_factor(src, capacity)
    distinct = set(factors.values())
    if len(distinct) > 1:
        raise GraphError(f"Streamify {node.name!r} reads buffers of Bufferizes that are not all "
                         f"in the same memory: {factors} (expected every source spilled or "
                         "every one on chip; pass the same spill= to each)")
    return distinct.pop() if distinct else 0


def decide(program: Program, capacity: int | None, bindings: dict) -> dict[Node, bool]:
    """``{node: True}`` for every Bufferize/Streamify whose buffers live off chip in a run."""
    out = {}
    for node in program.nodes:
        if node.cost_role not in ("bufferize", "streamify"):
            continue
        f = factor(node, capacity)
        if not is_static(f):
            missing = sorted(s.name for s in free_symbols(f) if s.name not in bindings)
            if missing:
                raise BindingError(
                    f"{type(node).__name__} {node.name!r}: whether its buffer fits "
                    f"onchip_buffer_capacity_bytes = {capacity} depends on unbound symbols "
                    f"{missing} (bind them, or pass spill=True/False to its Bufferize)")
            f = evaluate(f, bindings, where=f"{node.name} spill")
        if f:
            out[node] = True
    return out
