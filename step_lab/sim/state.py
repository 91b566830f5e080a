"""Mutable simulation state: bounded FIFO channels, node processes and shared units (STEP.md §7.1).

Plain ``__slots__`` classes (STYLE.md §3); the event loop in ``engine.py`` reads their fields
directly.

**Channels carry timestamps.** A token put at the producer's cycle ``p`` is *visible* to the
consumer from cycle ``p + latency``. Slot accounting uses *credits*: a channel of depth d starts
with d credits stamped 0; a put of a slot token takes the oldest credit and happens no earlier
than its stamp; a get of a slot token returns a credit stamped with the get cycle. The k-th put
therefore waits for the (k − d)-th get, so at every cycle the occupancy ``#puts − #gets`` is at
most d, whatever order the processes are simulated in. Data elements and standalone stop tokens
take a slot; a stop token directly after a data element is attached to it and free, like Done
(§7.1 [Choice]).
"""
from __future__ import annotations

from array import array
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Final

from ..ir.tokens import DONE
from .holding import held_ports
from .plan import OFFCHIP, NodePlan

if TYPE_CHECKING:
    from ..ir.node import Node
    from ..ir.stream import Stream

__all__ = ["Channel", "Proc", "Unit", "RUN", "BLOCK", "SYNC", "FINISHED", "wire",
           "run_stats"]

# process states (Final: the compiled build inlines them instead of reading the module dict)
RUN: Final = 0
BLOCK: Final = 1
SYNC: Final = 2
FINISHED: Final = 3


class Channel:
    """One bounded FIFO from a producer's output port to one consumer's input port."""

    __slots__ = ("stream", "src", "dst", "dst_port", "capacity", "q", "t", "credits",
                 "prev_data", "w_get", "w_put", "puts", "gets", "stall_get", "stall_put",
                 "_name")

    def __init__(self, stream: Stream, src: Proc, dst: Proc, dst_port: int, capacity: int,
                 trace: bool) -> None:
        self.stream = stream
        self.src = src
        self.dst = dst
        self.dst_port = dst_port
        self.capacity = capacity
        self.q: deque[object] = deque()   # tokens in flight, in order
        self.t: deque[int] = deque()      # their visibility cycles
        self.credits: deque[int] = deque([0] * capacity)
        self.prev_data = False           # consumer side: was the last token got a data item?
        self.w_get = False               # the consumer waits for a token here
        self.w_put = False               # the producer waits for a slot here
        self.puts = array("q") if trace else None   # put cycle of every slot token
        self.gets = array("q") if trace else None   # get cycle of every slot token
        self.stall_get = 0               # cycles the consumer waited for a token here
        self.stall_put = 0               # cycles the producer waited for a free slot here
        self._name: str | None = None

    @property
    def occupancy(self) -> int:
        """Slots in use in simulation order (for deadlock reports)."""
        return self.capacity - len(self.credits)

    @property
    def name(self) -> str:
        name = self._name
        if name is None:                  # (read by the statistics, the trace and reports)
            name = self._name = f"{self.stream.name} -> {self.dst.name}.{self.dst_port}"
        return name


class Unit:
    """A compute or memory unit shared by several nodes (time-multiplexing, §8.2)."""

    __slots__ = ("cell", "free", "last")

    def __init__(self, cell: tuple[int, int]) -> None:
        self.cell = cell
        self.free = 0
        self.last: Proc | None = None


class Proc:
    """A node's behaviour generator plus its clock, ports and statistics.

    The static cost parameters are the node's :class:`~step_lab.sim.plan.NodePlan`
    (``self.plan``), referenced, not copied; a Proc holds only what changes during the run.
    """

    __slots__ = (
        "index", "node", "name", "plan", "gen", "send", "handlers", "state", "cmd", "granted",
        "sync_key", "sync_seq", "clock", "ready", "ins", "outs", "out1", "in_next", "out_next",
        "out_data",
        # cost model state
        "res_bytes", "last_out", "last_in", "last_cost", "unit", "outstanding", "cursor",
        "fly_end", "hold_ports", "held", "pending",
        # statistics and trace
        "busy", "bs", "be", "stall_in", "stall_out", "flops", "offchip", "counts", "done_out",
        "track", "marks", "maxima", "end", "busy_log")

    def __init__(self, index: int, node: Node, plan: NodePlan, trace: bool) -> None:
        self.index = index
        self.node = node
        self.name: str = node.name
        self.plan = plan
        self.gen: Any = None             # the behaviour generator (or its driver)
        self.send: Callable[[Any], tuple] = _not_started
        self.handlers: tuple = ()        # the engine's handler of each command kind
        self.state = RUN
        self.cmd: tuple | None = None
        self.granted = False
        self.sync_key = 0
        self.sync_seq = -1
        self.clock = 0
        self.ready = 0                   # the last off-chip tile's arrival (outputs wait for it)
        outputs = node.outputs
        n_in, n_out = len(node.inputs), len(outputs)
        self.ins: list[Channel] = []
        self.outs: list[list[Channel]] = [[] for _ in range(n_out)]
        self.out1: list[Channel | None] = []   # the channel of a single-consumer output
        self.in_next = [0] * n_in
        self.out_next = [0] * n_out
        self.out_data = [False] * n_out
        self.res_bytes = 0
        self.last_out: int | None = None
        self.last_in: int | None = None
        self.last_cost = 0
        self.unit: Unit | None = None
        self.outstanding: deque[int] = deque()
        self.cursor = plan.address if plan.role == OFFCHIP else 0
        self.fly_end = 0
        # the artifact's operators peek an element and dequeue it once done with it
        # (sim/holding.py, hw.compute_holds_inputs): per input port, hold its data slots?
        self.hold_ports = held_ports(node, plan.role, n_in, plan.holds_inputs)
        self.held: list[Channel] = []    # input channels whose slot the current element holds
        self.pending: tuple | None = None   # a streamed OFFCHIP tile awaiting its completion
        self.busy = self.stall_in = self.stall_out = 0
        self.bs = self.be = -1
        self.flops = self.offchip = 0
        types = [s.type for s in outputs]
        ranks = [len(t.shape) - 1 for t in types]
        # counts[j][0] = data items put on output j, counts[j][k] = stop tokens S_k
        self.counts = [[0] * (r + 2) for r in ranks]
        self.done_out = [0] * n_out
        # ragged inner dims: maxima[j][r] = largest extent seen of output j's rank-r dim (§6.4)
        self.track = [bool(t.ragged) and bool(t.ragged - _outer(t.shape[0])) for t in types]
        self.marks = [[0] * (r + 2) for r in ranks]
        self.maxima = [[0] * (r + 1) for r in ranks]
        self.end = 0
        self.busy_log = array("q") if trace else None

    def start(self, gen: Any) -> None:
        """Once every channel is attached: note the outputs with a single consumer and take
        the node's behaviour generator or driver (``sim/drivers.py``; ``send`` resumes it and
        returns its next command)."""
        self.out1 = [chs[0] if len(chs) == 1 else None for chs in self.outs]
        self.gen = gen
        self.send = gen.send

    def count_control(self, port: int, tok: object) -> None:
        """Count a stop or Done token put on output ``port`` (data items are counted inline)."""
        if tok is DONE:
            self.done_out[port] = 1
            return
        level = tok.level                 # type: ignore[attr-defined]  # a Stop token
        try:
            self.counts[port][level] += 1
        except IndexError:
            self.count_stop(port, level)
        if self.track[port]:
            self.track_stop(port, level)

    def count_stop(self, port: int, level: int) -> None:
        counts = self.counts[port]
        counts.extend([0] * (level + 1 - len(counts)))
        counts[level] += 1

    def track_stop(self, port: int, level: int) -> None:
        """After a stop token of ``level`` on ``port``: close the sub-tensors of ranks
        1…level and record the extent of each closed one's inner dim (for the peak)."""
        counts, marks, maxima = self.counts[port], self.marks[port], self.maxima[port]
        for closed in range(1, min(level, len(maxima) - 1) + 1):
            done = counts[0] if closed == 1 else sum(counts[closed - 1:])
            extent = done - marks[closed]
            if extent > maxima[closed - 1]:
                maxima[closed - 1] = extent
            marks[closed] = done

    def tokens_out(self, port: int) -> int:
        return sum(self.counts[port]) + self.done_out[port]

    def add_busy(self, start: int, end: int) -> None:
        """Add [start, end) to the busy union (starts arrive in non-decreasing order)."""
        be = self.be
        if end > be:
            if start >= be:
                self.busy += end - start
                if start > be and self.busy_log is not None:
                    self.log_gap(start)
            else:
                self.busy += end - be
            self.be = end

    def log_gap(self, start: int) -> None:
        """Trace only: a new busy interval starts at ``start``; log the previous one."""
        log = self.busy_log
        if log is not None and self.be > self.bs >= 0:
            log.append(self.bs)
            log.append(self.be)
        self.bs = start

    def close_busy(self) -> None:
        log = self.busy_log
        if log is not None and self.be > self.bs >= 0:
            log.append(self.bs)
            log.append(self.be)
            self.bs = self.be

    def __repr__(self) -> str:
        return f"<Proc {self.name} clock={self.clock} state={self.state}>"


def wire(nodes: list, plans: list, trace: bool, depths: dict,
         default_depth: int) -> tuple[list[Proc], list[Channel]]:
    """One process per node (in program order) and one channel per (stream, consumer port):
    ``depths`` maps a stream to its FIFO depth (else ``default_depth``)."""
    procs = [Proc(i, node, plans[i], trace) for i, node in enumerate(nodes)]
    proc_of = {p.node: p for p in procs}
    channels: list[Channel] = []
    for dst in procs:
        for port, stream in enumerate(dst.node.inputs):
            src = proc_of[stream.node]
            depth = depths.get(stream, default_depth) if depths else default_depth
            ch = Channel(stream, src, dst, port, depth, trace)
            dst.ins.append(ch)
            src.outs[stream.port].append(ch)
            channels.append(ch)
    return procs, channels


def run_stats(procs: list[Proc], channels: list[Channel], cycles: int,
              unit_of: dict) -> tuple[dict, dict]:
    """``(per_node, per_channel)`` statistics of a finished run (``SimResult.per_node`` and
    ``.channels``); ``unit_of`` maps a node name to its unit cell (or None)."""
    got: dict[Channel, int] = {}            # tokens the consumer took: put minus left queued
    chans: dict[str, dict] = {}
    for ch in channels:
        n = ch.src.tokens_out(ch.stream.port) - len(ch.q)
        got[ch] = n
        chans[ch.name] = {"capacity": ch.capacity, "tokens": n, "stall_get": ch.stall_get,
                          "stall_put": ch.stall_put}
    per_node: dict[str, dict] = {}
    for p in procs:
        idle = max(0, cycles - p.busy - p.stall_in - p.stall_out)
        cell = unit_of.get(p.name)
        worst_in: str | None = None          # the input channel stalled longest (None: none)
        most = 0
        tokens_in = 0
        for ch in p.ins:
            tokens_in += got[ch]
            if ch.stall_get > most:
                worst_in, most = ch.name, ch.stall_get
        worst_out: str | None = None         # the output channel stalled longest
        most = 0
        tokens_out = 0
        for j, chs in enumerate(p.outs):
            tokens_out += p.tokens_out(j)
            for ch in chs:
                if ch.stall_put > most:
                    worst_out, most = ch.name, ch.stall_put
        per_node[p.name] = {
            "op": type(p.node).__name__, "busy": p.busy, "stall_in": p.stall_in,
            "stall_out": p.stall_out, "idle": idle, "tokens_in": tokens_in,
            "tokens_out": tokens_out, "flops": p.flops, "offchip_bytes": p.offchip,
            "unit": list(cell) if cell else None, "stall_in_on": worst_in,
            "stall_out_on": worst_out}
    return per_node, chans


def _not_started(value: Any) -> tuple:
    raise RuntimeError("Proc.start() was not called")


def _outer(dim: Any) -> set:
    """Symbols of a stream's outermost dim (a single count: its value is its maximum)."""
    from ..symbolic import free_symbols
    return free_symbols(dim)
