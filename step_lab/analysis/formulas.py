"""Per-operator metric formulas (STEP.md §6.1–6.4), one small function per metric.

Every function takes a node and returns a dimension (``int`` or sympy expression). The program
totals in :mod:`step_lab.analysis.metrics` are plain sums of these. Which formula applies is
read from the traits each operator class declares (``cost_role``, ``reads_tensor``,
``writes_tensor``, ``random_access``, ``data_inputs``, ``stages_matmul``, ``holds_accumulator``;
see :class:`step_lab.ir.node.Node`), never from class names, so a new operator class needs no
edit here.

Every function also takes ``at`` (default: the identity), applied to each dimension it reads
from the node (stream cardinalities, tile sizes, buffer extents, FLOPs per element) before
combining them: the identity gives the symbolic formula, a numeric evaluator
(:mod:`step_lab.analysis.numeric`) gives its value at bindings without building an expression.
One set of rules serves both modes.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from fractions import Fraction
from functools import lru_cache
from typing import Any

from ..ir.dtypes import ELEMENT_BYTES, Buffer, DType, Tile, Tuple
from ..ir.node import Node
from ..ir.program import Program
from ..ir.stream import Stream
from ..symbolic import Dim, nonempty, product

__all__ = ["Accounting", "traffic", "memory", "flops", "compute_bw", "performs_flops",
           "activity", "cardinality", "nbytes", "flops_per_element", "spilled_traffic",
           "spilled_memory", "fifo_memory", "fifo_depths"]

FLOAT_ELEMENTS = ("bf16", "f16", "f32")
At = Callable[[Dim], Dim]


def _same(d: Dim) -> Dim:
    return d


@dataclass(frozen=True)
class Accounting:
    """The knobs of the on-chip memory rules (STEP.md §6.2 "paper", §6.3 "artifact")."""

    preset: str = "paper"
    compute_tile: int = 16          # T, the hardware compute-tile edge
    double_buffer: int = 2          # paper preset: load/store staging and Bufferize factor
    compute_elem_bytes: int | None = None   # bytes per float element of compute tiles
    store_buffer_depth: int = 1     # artifact preset: RandomOffChipStore staging depth


# -- off-chip traffic (§6.1) -------------------------------------------------------------------
def traffic(node: Node, at: At = _same) -> Dim:
    """Bytes moved off chip: ``‖out‖·|out tile|`` for loads, the written data for stores."""
    if node.reads_tensor:
        out = node.outputs[0]
        return product((cardinality(out, at), nbytes(out.dtype, at)))
    if node.writes_tensor:
        data = store_data(node)
        return product((cardinality(data, at), nbytes(data.dtype, at)))
    return 0


def cardinality(stream: Stream, at: At = _same) -> Dim:
    """``‖stream‖ = Π shape`` (each dim passed through ``at``)."""
    return product(at(d) for d in stream.type.shape)


def nbytes(dtype: DType, at: At = _same) -> Dim:
    """``|e|``, the bytes of one element (a tile's dims passed through ``at``)."""
    if isinstance(dtype, Tile):
        return product((at(dtype.rows), at(dtype.cols), ELEMENT_BYTES[dtype.elem]))
    return at(dtype.nbytes)


def store_data(node: Node) -> Stream:
    """The data input of a store (its ``data_inputs`` trait: the only input, or
    RandomOffChipStore's ``wdata``, port 1)."""
    return node.inputs[node.data_inputs][0]


# -- FLOPs (§6.4) ------------------------------------------------------------------------------
def flops(node: Node, at: At = _same) -> Dim:
    """``‖in‖ · flops(fn, element type)`` for Map / Accum / Scan / FlatMap, else 0."""
    if node.cost_role != "compute":
        return 0
    per_element = at(flops_per_element(node))
    if per_element == 0:
        return 0
    return product((cardinality(node.inputs[0], at), per_element))


def flops_per_element(node: Node) -> Dim:
    """``flops(fn, element type)`` of a higher-order node (memoised: nodes of one program share a
    few functions and element types)."""
    fn, dtype = function_of(node), element_type(node)
    try:
        return _flops_of_type(fn, dtype)
    except TypeError:                   # a function whose parameters are not hashable
        return fn.flops_of_type(dtype)


@lru_cache(maxsize=8192)
def _flops_of_type(fn, dtype: DType) -> Dim:
    return fn.flops_of_type(dtype)


def function_of(node: Node) -> Any:
    """The per-element function of a higher-order node (``fn``, or ``update`` for Accum/Scan)."""
    params = node.params
    return params["update"] if "update" in params else params["fn"]


def element_type(node: Node) -> DType:
    """The element type the function sees: the input dtype, or a Tuple over several inputs."""
    if len(node.inputs) == 1:
        return node.inputs[0].dtype
    return Tuple(tuple(s.dtype for s in node.inputs))


# -- allocated compute and on-demand activity (§6.4, §7.4) -------------------------------------
def performs_flops(node: Node) -> bool:
    """Is ``node`` a *compute operator* (§6.4, §7.4; EXPERIMENTS.md §1.3)?

    [Choice] A higher-order node (Map / Accum / Scan / FlatMap) whose function performs FLOPs on
    its element type. Data-movement functions (RetileRow/Col, RetileStreamify, address
    generation, Identity: 0 FLOPs, §7.2) run on compute bandwidth in the simulator but are not
    compute operators, as in the artifact's count (its row-packing Accum is not allocated).
    """
    if node.cost_role != "compute":
        return False
    return bool(flops_per_element(node) != 0)      # (a function may count in numpy integers)


def compute_bw(node: Node) -> Dim | Fraction:
    """The programmer-set compute bandwidth C of a compute operator (§6.4 allocated compute).

    0 when unset (the metric has no hardware default) and for nodes that perform no FLOPs
    (:func:`performs_flops`).
    """
    value = node.params.get("compute_bw")
    if value is None or not performs_flops(node):
        return 0
    exact = Fraction(value)             # floats such as 1024.0 stay exact integers
    return int(exact) if exact.denominator == 1 else exact


def activity(node: Node, at: At = _same) -> Dim:
    """``1 if Σ ‖in_i‖ > 0 else 0``: whether the node receives any work (1 with no inputs)."""
    if not node.inputs:
        return 1
    total: Dim = 0
    for stream in node.inputs:
        total = total + cardinality(stream, at)
    return nonempty(total)


# -- on-chip memory (§6.2, §6.3) ---------------------------------------------------------------
def memory(node: Node, acc: Accounting, at: At = _same) -> Dim:
    """On-chip bytes a node allocates under ``acc.preset``."""
    if acc.preset == "artifact":
        return _artifact_memory(node, acc, at)
    return _paper_memory(node, acc, at)


def _paper_memory(node, acc: Accounting, at: At) -> Dim:
    if node.reads_tensor:
        return acc.double_buffer * nbytes(node.outputs[0].dtype, at)
    if node.writes_tensor:
        return acc.double_buffer * nbytes(store_data(node).dtype, at)
    if node.cost_role == "bufferize":
        tile = nbytes(node.inputs[0].dtype, at)
        return tile + acc.double_buffer * buffer_cardinality(node.outputs[0].dtype, at) * tile
    total: Dim = 0
    if node.stages_matmul and is_matmul(node):
        total = _matmul_staging(node, acc, at)
    if node.holds_accumulator:
        total = total + _compute_bytes(node.outputs[0].dtype, acc, at)
    return total


def _artifact_memory(node, acc: Accounting, at: At) -> Dim:
    role = node.cost_role
    if node.reads_tensor:
        return nbytes(node.outputs[0].dtype, at)
    if node.writes_tensor:
        depth = acc.store_buffer_depth if node.random_access else 1
        return depth * nbytes(store_data(node).dtype, at)
    if role in ("bufferize", "streamify"):
        buffer = node.outputs[0].dtype if role == "bufferize" else node.inputs[0].dtype
        tile = _compute_bytes(buffer.tile, acc, at)
        copies = 2 if role == "bufferize" else 1
        return copies * buffer_cardinality(buffer, at) * tile + tile
    if node.holds_accumulator:
        return _compute_bytes(node.outputs[0].dtype, acc, at)
    return 0


def buffer_cardinality(buffer: Buffer, at: At = _same) -> Dim:
    """``‖buffer‖ = Π B_j`` (a ragged outermost dim stays its symbol: bind it to the maximum)."""
    return product(at(d) for d in buffer.shape)


def is_matmul(node: Node) -> bool:
    return bool(getattr(function_of(node), "is_matmul", False))


def _matmul_staging(node, acc: Accounting, at: At = _same) -> Dim:
    """``T · in_tile_cols · |e| + |weight tile|`` (the weight is the second Zip component)."""
    operands = _operands(node)
    lhs = operands[0]
    weight = nbytes(operands[1], at) if len(operands) > 1 else 0
    lhs_cols = at(lhs.cols) if isinstance(lhs, Tile) else 1
    lhs_elem = ELEMENT_BYTES[lhs.elem] if isinstance(lhs, Tile) else nbytes(lhs, at)
    return product((acc.compute_tile, lhs_cols, lhs_elem)) + weight


def _operands(node) -> tuple:
    dtype = element_type(node)
    return dtype.items if isinstance(dtype, Tuple) else (dtype,)


def _compute_bytes(dtype: DType, acc: Accounting, at: At = _same) -> Dim:
    """Size of an on-chip compute tile: float elements at ``compute_elem_bytes`` when set."""
    size = acc.compute_elem_bytes
    if size is None:
        return nbytes(dtype, at)
    if isinstance(dtype, Tile) and dtype.elem in FLOAT_ELEMENTS:
        return product((at(dtype.rows), at(dtype.cols), size))
    if isinstance(dtype, Tuple):
        total: Dim = 0
        for item in dtype.items:
            total = total + _compute_bytes(item, acc, at)
        return total
    return nbytes(dtype, at)


# -- spilled buffers and FIFO counting (issue 16; rules in analysis/spill.py and metrics.py) ----
def spilled_traffic(node: Node, at: At = _same) -> Dim:
    """Off-chip bytes of a spilled buffer: a Bufferize writes every input tile, a Streamify
    reads every tile it emits."""
    stream = node.inputs[0] if node.cost_role == "bufferize" else node.outputs[0]
    return product((cardinality(stream, at), nbytes(stream.dtype, at)))


def spilled_memory(node: Node, acc: Accounting, at: At = _same) -> Dim:
    """On-chip staging of a spilled Bufferize (one tile) or Streamify (a load's staging)."""
    if acc.preset == "artifact":
        buffer = node.outputs[0].dtype if node.cost_role == "bufferize" else node.inputs[0].dtype
        assert isinstance(buffer, Buffer)   # Bufferize outputs, Streamify reads buffer references
        return _compute_bytes(buffer.tile, acc, at)
    if node.cost_role == "bufferize":
        return nbytes(node.inputs[0].dtype, at)
    return product((acc.double_buffer, nbytes(node.outputs[0].dtype, at)))


def fifo_depths(program: Program, fifo_depth: int | None) -> Callable[[Stream], Dim] | None:
    """stream -> the depth its FIFO counts with (its own depth, else ``fifo_depth``); None
    when FIFOs are not counted (``fifo_depth`` None)."""
    if fifo_depth is None:
        return None
    return lambda stream: program.fifo_depth.get(stream, fifo_depth)


def fifo_memory(node: Node, acc: Accounting, depth_of: Callable[[Stream], Dim],
                at: At = _same) -> Dim:
    """``Σ depth(in) · |token|`` over the node's input FIFOs: the artifact's FIFO-counting
    accounting, ``metrics(..., fifo_depth=d)``.

    None (the default of ``metrics``): FIFOs hold no on-chip memory (§6.2, §6.3). An int d:
    every input FIFO of every node adds ``depth · |token|`` to that node's on-chip memory, where
    depth is the stream's own depth if the program sets one (``program.set_fifo_depth``,
    feedback edges) else d — the depth the simulator gives the channel with
    ``hw.fifo_depth = d``. [Choice] One FIFO per consumer and input port (a stream read by two
    nodes has two FIFOs, as in the simulator; a program output's drain counts too); ``|token|``
    is §3's byte size of the stream's data type (a buffer reference counts its referenced
    storage ``‖buffer‖ · |S|``, a selector n, a tuple the sum), float tile elements at
    ``compute_elem_bytes`` when set (the artifact preset: 4). Standalone stop tokens and Done
    occupy slots but carry no data: a slot is sized for a data token. The FIFO bytes are part
    of the node's memory, so the on-demand policy drops them for an idle node. Off-chip traffic
    is unchanged (§6.3).
    """
    total: Dim = 0
    for stream in node.inputs:
        total = total + product((depth_of(stream), _compute_bytes(stream.dtype, acc, at)))
    return total
