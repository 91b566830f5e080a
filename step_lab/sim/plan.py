"""Everything the event loop needs, computed once before cycle 0 (STYLE.md §4).

Per node: its role in the cost model (§7.2), compute bandwidth C, write-back flag, output latency,
on-chip move cost of Bufferize/Streamify, the memory-resident byte count of each input port, its
unit (for time-multiplexing), the start address of its off-chip cursor and the geometry of
its off-chip tiles (rows, bytes per row: the HBM charges whole requests per tile row,
``hbm.py``). Per stream: channel depth. No sympy runs after this module: dims are evaluated
here with the run's bindings.
"""
from __future__ import annotations

from fractions import Fraction
from typing import TYPE_CHECKING, Any

from ..analysis import formulas
from ..errors import BindingError
from ..ir.dtypes import ELEMENT_BYTES, Scalar, Selector, Tile
from ..ir.dtypes import Tuple as TupleType

if TYPE_CHECKING:
    from ..hw.config import HardwareConfig
    from ..ir.node import Node
    from ..ir.program import Program
    from ..ir.stream import Stream

__all__ = ["NodePlan", "plan_nodes", "value_bytes", "stream_resident",
           "offchip_geometry"]

# roles in the cost model
COMPUTE, OFFCHIP, BUFFERIZE, STREAMIFY, PLAIN = range(5)


class NodePlan:
    """Static timing parameters of one node (see module docstring), and the fast paths of the
    event loop derived from them (``in_cost``, ``out_cost``, ``plain_compute``, ``log_ports``).

    A :class:`~step_lab.sim.state.Proc` references its plan; the plan never changes during a run.
    """

    __slots__ = ("role", "compute_bw", "write_back", "latency", "move_in", "move_out",
                 "resident", "switch_out", "shared", "address", "performs_flops", "tile_rows",
                 "row_bytes", "out_types", "in_cost", "out_cost", "plain_compute", "log_ports",
                 "switch_cost", "onchip_bw", "reconfig", "max_outstanding", "holds_inputs",
                 "credit_lat")

    def __init__(self) -> None:
        self.role = PLAIN
        self.compute_bw: int | Fraction = 0
        self.write_back = False
        self.latency = 1
        self.move_in = 0
        self.move_out = 0
        self.resident: tuple = ()
        self.switch_out = False         # a Partition-like node: switching output ports costs
        self.shared = False             # runs on a unit shared with other nodes (§8.2)
        self.address = 0
        self.performs_flops = False     # a compute operator (counts in allocated compute)
        self.tile_rows = 0              # off-chip tile geometry; 0 = unknown (contiguous)
        self.row_bytes = 0
        self.out_types: tuple = ()      # dtype of each output stream (write-back bytes)
        self.in_cost = False            # a GET may cost more than the port cycle
        self.out_cost = False           # a PUT may cost more than the port cycle
        self.plain_compute = False      # COMPUTE is ⌈FLOPs / C⌉ alone
        self.log_ports = True           # busy counts port cycles (off-chip: tiles in flight)
        self.switch_cost = 0            # cycles of an output-port switch
        self.onchip_bw = 1              # hw.onchip_bytes_per_cycle
        self.reconfig = 0               # hw.reconfiguration_cycles (shared units)
        self.max_outstanding = 1        # hw.offchip_outstanding_tiles
        self.holds_inputs = False       # hw.compute_holds_inputs (sim/holding.py)
        self.credit_lat = 0             # hw.channel_credit_latency_cycles

    def derive(self, hw: HardwareConfig) -> None:
        """Fill the hardware constants and fast-path flags once the role and costs are set."""
        self.switch_cost = hw.switch_cost_cycles if self.switch_out else 0
        self.onchip_bw = hw.onchip_bytes_per_cycle
        self.reconfig = hw.reconfiguration_cycles
        self.max_outstanding = hw.offchip_outstanding_tiles
        self.holds_inputs = hw.compute_holds_inputs
        self.credit_lat = hw.channel_credit_latency_cycles
        self.in_cost = (self.role == COMPUTE and any(self.resident)) or \
            (self.role == BUFFERIZE and self.move_in > 0)
        self.out_cost = self.switch_cost > 0 or self.role == STREAMIFY or self.write_back
        self.log_ports = self.role != OFFCHIP
        bw = self.compute_bw
        self.plain_compute = (self.role == COMPUTE and not self.in_cost and not self.shared
                              and type(bw) is int and bw > 0)


_ROLES = {"compute": COMPUTE, "offchip": OFFCHIP, "bufferize": BUFFERIZE,
          "streamify": STREAMIFY, "plain": PLAIN}


def role_of(node: Node) -> int:
    """The node's cost role (its class's ``cost_role`` trait) as the loop's integer code."""
    return _ROLES[node.cost_role]


def plan_nodes(program: Program, hw: HardwareConfig, ctx: Any,
               placement: Any) -> list[NodePlan]:
    """One :class:`NodePlan` per node of ``program`` (in ``program.nodes`` order); ``placement``
    says which nodes share a unit."""
    resident_memo: dict = {}
    shared = {name for names in placement.shared.values() for name in names}
    plans = []
    for node in program.nodes:
        plan = NodePlan()
        plan.role = role_of(node)
        plan.latency = hw.channel_latency_cycles
        if plan.role == COMPUTE:
            _plan_compute(node, plan, hw, ctx, resident_memo)
        elif plan.role in (BUFFERIZE, STREAMIFY) and node not in ctx.spilled:
            _plan_move(node, plan, hw, ctx)     # a spilled buffer moves through the HBM instead
        elif plan.role == OFFCHIP:
            tensor = node.params.get("tensor")
            plan.address = getattr(tensor, "base_addr", 0)
            plan.tile_rows, plan.row_bytes = offchip_geometry(node)
        plan.switch_out = bool(node.switches_output)
        plan.out_types = tuple(s.dtype for s in node.outputs)
        plan.shared = node.name in shared
        plan.derive(hw)
        plans.append(plan)
    return plans


def offchip_geometry(node: Node) -> tuple:
    """``(rows, bytes per row)`` of an off-chip node's tiles, ``(0, 0)`` when unknown.

    The tile ``(r, c)`` of the tensor's tiling (``node.tile``) at the tensor's element size: a
    tile row is contiguous in HBM, consecutive rows are one tensor row apart.
    """
    tile = getattr(node, "tile", None)
    tensor = getattr(node, "tensor", None)
    elem = getattr(tensor, "dtype", None)
    if not (isinstance(tile, tuple) and len(tile) == 2 and elem in ELEMENT_BYTES
            and all(isinstance(v, int) for v in tile)):
        return 0, 0
    return tile[0], tile[1] * ELEMENT_BYTES[elem]


def _plan_compute(node, plan, hw, ctx, memo) -> None:
    bw = node.params.get("compute_bw")
    bw = hw.compute_flops_per_cycle if bw is None else bw
    # a fractional bandwidth is kept exact (Fraction("0.1")) so ⌈FLOPs / C⌉ has no rounding
    plan.compute_bw = int(bw) if float(bw).is_integer() else Fraction(repr(bw))
    plan.write_back = bool(node.params.get("write_back", False))
    plan.performs_flops = formulas.performs_flops(node)
    plan.latency = hw.channel_latency_cycles + hw.pipeline_latency_cycles
    plan.resident = tuple(_port_resident_bytes(s, ctx, memo) for s in node.inputs)


def _plan_move(node, plan, hw, ctx) -> None:
    """Bufferize writes each input tile, Streamify reads each output tile, at BW_onchip."""
    bw = hw.onchip_bytes_per_cycle
    if plan.role == BUFFERIZE:
        nbytes = _static_bytes(node.inputs[0].dtype, ctx)
        plan.move_in = -(-nbytes // bw) if nbytes else 0
    else:
        nbytes = _static_bytes(node.outputs[0].dtype, ctx)
        plan.move_out = -(-nbytes // bw) if nbytes else 0


def _static_bytes(dtype, ctx) -> int | None:
    try:
        return int(ctx.value(dtype.nbytes))
    except (BindingError, TypeError, AttributeError):
        return None


def stream_resident(stream: Stream, memo: dict) -> Any:
    """Is a stream's data memory-resident (§7.2 [Choice])? True/False, or a tuple for Zip.

    Loads, Streamify and write-back nodes produce resident tiles; routing and shape operators
    forward the residency of their data input (Zip: one flag per component).
    """
    if stream in memo:
        return memo[stream]
    memo[stream] = False            # breaks feedback cycles
    node = stream.node
    role = role_of(node)
    forwards = node.forwards_residency
    out: bool | tuple[bool, ...]
    if role == OFFCHIP:
        out = isinstance(stream.dtype, Tile) and node.reads_tensor
    elif role == STREAMIFY:
        out = True
    elif role == COMPUTE:
        out = bool(node.params.get("write_back", False))
    elif forwards == "per_component":
        out = tuple(_as_flag(stream_resident(s, memo)) for s in node.inputs)
    elif forwards == "all_outputs" or (forwards == "first_output" and stream.port == 0
                                       and node.inputs):
        flags = [stream_resident(s, memo) for s in node.inputs[node.data_inputs]]
        out = bool(flags) and all(_as_flag(f) for f in flags)
    else:
        out = False
    memo[stream] = out
    return out


def _as_flag(flag) -> bool:
    return all(flag) if isinstance(flag, tuple) else bool(flag)


def _port_resident_bytes(stream, ctx, memo):
    """0 (not resident), a constant byte count, or ``(dtype, mask)`` to measure per value."""
    flag = stream_resident(stream, memo)
    dtype = stream.dtype
    if flag is False or (isinstance(flag, tuple) and not any(flag)):
        return 0
    mask = flag if isinstance(flag, tuple) else None
    items = dtype.items if (mask is not None and isinstance(dtype, TupleType)) else (dtype,)
    flags = mask if mask is not None else (True,)
    total = 0
    for item, on in zip(items, flags, strict=False):
        if not on:
            continue
        nbytes = _static_bytes(item, ctx) if _is_static(item) else None
        if nbytes is None:
            return (dtype, mask)
        total += nbytes
    return total


def _is_static(dtype) -> bool:
    if isinstance(dtype, Tile):
        return dtype.static
    return isinstance(dtype, (Scalar, Selector))


def value_bytes(value: Any, dtype: Any, mask: Any = None) -> int:
    """Bytes of one data value of ``dtype`` (components where ``mask`` is set, for tuples)."""
    if isinstance(dtype, TupleType):
        flags = mask or (True,) * len(dtype.items)
        return sum(value_bytes(v, t) for v, t, on in zip(value, dtype.items, flags, strict=False)
                   if on)
    if isinstance(dtype, Tile):
        return int(getattr(value, "size", 1)) * ELEMENT_BYTES[dtype.elem]
    if isinstance(dtype, Scalar):
        return ELEMENT_BYTES[dtype.elem]
    if isinstance(dtype, Selector):
        return dtype.n
    return 0
