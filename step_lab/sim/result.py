"""The result of :func:`step_lab.simulate`."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from ..hw.config import HardwareConfig
    from ..hw.placement import Placement
    from .bottleneck import Bottleneck
    from .trace import Trace

__all__ = ["SimResult"]


@dataclass(kw_only=True)
class SimResult:
    """Cycles, traffic, memory, FLOPs, utilisation, real outputs and per-node statistics.

    A typed dataclass built by keyword only (``SimResult(program=..., cycles=..., ...)``).

    * ``cycles`` — when the last node finished (including its last off-chip write).
    * ``offchip_bytes`` — the sum of every off-chip tile moved; equals
      ``metrics(prog).evaluate(bindings)["offchip_traffic"]``.
    * ``onchip_peak_bytes`` — the symbolic on-chip requirement (``metrics``, paper preset, §6.2)
      evaluated at the run's bindings plus the dims measured during the run (``measured``):
      outermost counts such as Partition's ``X_i`` exactly, ragged inner dims at their
      **maximum** (the peak, STEP.md §6.4), not their mean.
      FIFO slots are not counted (the spec's accounting gives routing and FIFOs 0) unless the
      run asked for the artifact's FIFO counting (``simulate(fifo_memory=True)``: metrics'
      ``fifo_depth=hw.fifo_depth``); spilled buffers (``hw.onchip_buffer_capacity_bytes``,
      ``Bufferize(spill=True)``) count only their staging.
    * ``flops`` — FLOPs charged by the compute nodes; ``compute_utilization`` =
      ``flops / cycles / allocated_compute`` with ``allocated_compute`` = Σ C of the *compute
      operators* (§7.4, EXPERIMENTS.md §1.3): higher-order nodes whose function performs FLOPs
      (``analysis.formulas.performs_flops``). [Choice] Data-movement nodes — row packing
      (RetileRow/Col), RetileStreamify, address generation, Identity: 0 FLOPs — run on their C
      but are not allocated compute, as in the artifact's count. C is the node's
      ``compute_bw``, else ``hw.compute_flops_per_cycle``; ``sl.metrics(prog)`` gives the same
      total when every compute operator sets ``compute_bw`` (the metric counts an unset one
      as 0: it has no hardware).
    * ``tokens`` / ``values`` / ``arrays`` — as the reference interpreter's RunResult;
      ``outputs`` = ``{**values, **arrays}`` (output streams decoded, stored tensors as arrays).
    * ``per_node[name]`` — ``op``, ``busy``, ``stall_in``, ``stall_out``, ``idle`` (cycles),
      ``tokens_in``, ``tokens_out``, ``flops``, ``offchip_bytes``, ``unit``, and
      ``stall_in_on`` / ``stall_out_on``: the channel it waited on longest for a token / for a
      free slot (None if it never did). ``busy`` of an off-chip node counts cycles with one of
      its tiles in flight.
    * ``channels[name]`` — ``capacity`` and ``tokens`` of every FIFO, and ``stall_get`` /
      ``stall_put``: cycles its consumer waited for a token / its producer for a free slot.
    * ``measured`` — every bare-symbol stream dim observed in the run (outermost: count; inner:
      mean extent, possibly a Fraction); ``notes`` lists measured counts that contradict the
      given bindings (§6.4).
    * ``trace`` — a :class:`~step_lab.sim.trace.Trace` when ``trace=True``, else None.
    * ``coalesced`` — the node names of each chain that ran as one coalesced segment
      (``sim/coalesce.py``; empty with ``coalesce=False``).
    * ``bottleneck`` / ``why_slow(variants)`` — why is it slow? (``sim/bottleneck.py``).
    """

    program: str
    cycles: int
    offchip_bytes: int
    onchip_source: Callable[[], tuple[int, list[str]]] = field(repr=False, compare=False)
    flops: int
    compute_utilization: float
    allocated_compute: int | Fraction
    tokens: dict[str, list]
    values: dict[str, list]
    arrays: dict[str, np.ndarray]
    per_node: dict[str, dict[str, Any]]
    channels: dict[str, dict[str, Any]]
    measured: dict[str, int | Fraction]
    hw: HardwareConfig
    placement: Placement | None = None
    trace: Trace | None = None
    notes: list[str] = field(default_factory=list)
    coalesced: list[tuple[str, ...]] = field(default_factory=list, compare=False)
    _onchip: int | None = field(default=None, repr=False, compare=False)

    @property
    def onchip_peak_bytes(self) -> int:
        """Evaluated on first access (building symbolic metrics of a big program takes time)."""
        if self._onchip is None:
            self._onchip, notes = self.onchip_source()
            self.notes.extend(notes)
        return self._onchip

    @property
    def outputs(self) -> dict[str, Any]:
        return {**self.values, **self.arrays}

    @property
    def offchip_bandwidth_utilization(self) -> float:
        if not self.cycles:
            return 0.0
        return self.offchip_bytes / self.cycles / self.hw.offchip_bytes_per_cycle

    def to_dict(self, *, outputs: bool = False, trace: bool = False) -> dict[str, Any]:
        """JSON-serialisable summary; ``outputs``/``trace`` add the (possibly large) payloads."""
        out = {"program": self.program, "cycles": self.cycles,
               "offchip_bytes": self.offchip_bytes, "onchip_peak_bytes": self.onchip_peak_bytes,
               "flops": self.flops, "compute_utilization": self.compute_utilization,
               "allocated_compute": self.allocated_compute,
               "offchip_bandwidth_utilization": self.offchip_bandwidth_utilization,
               "per_node": self.per_node, "channels": self.channels,
               "measured": {k: (v if isinstance(v, int) else float(v))
                            for k, v in self.measured.items()},
               "hw": self.hw.to_dict(),
               "placement": self.placement.to_dict() if self.placement else None,
               "notes": list(self.notes)}
        if outputs:
            out["outputs"] = {k: _jsonable(v) for k, v in self.outputs.items()}
        if trace and self.trace is not None:
            out["trace"] = self.trace.to_dict()
        return out

    @property
    def bottleneck(self) -> Bottleneck:
        """Why is it slow? The run's bound, most stalled units and roofline
        (:class:`~step_lab.sim.bottleneck.Bottleneck`; ``.to_dict()`` for JSON)."""
        return self.why_slow()

    def why_slow(self, variants: dict[str, SimResult] | None = None, *, top: int = 5,
                 label: str = "this run", useful_flops: int | None = None) -> Bottleneck:
        """:func:`~step_lab.sim.bottleneck.why_slow` of this run; ``variants``
        ``{label: SimResult}`` already simulated are placed on the roofline and compared;
        ``useful_flops`` places every point by the same useful work (padding excluded)."""
        from .bottleneck import why_slow
        return why_slow(self, variants, top=top, label=label, useful_flops=useful_flops)

    def summary(self) -> str:
        return (f"{self.program}: {self.cycles:,} cycles, {self.offchip_bytes:,} B off-chip "
                f"({self.offchip_bandwidth_utilization:.0%} of HBM), {self.flops:,} FLOPs "
                f"({self.compute_utilization:.1%} of allocated compute), on-chip "
                f"{self.onchip_peak_bytes:,} B")

    def __repr__(self) -> str:
        return f"<SimResult {self.summary()}>"


def _jsonable(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (frozenset, set)):
        return sorted(_jsonable(v) for v in value)
    if isinstance(value, (np.generic,)):
        return value.item()
    if isinstance(value, (int, float, str, bool)) or value is None:
        return value
    return repr(value)
