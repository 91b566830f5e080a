"""The discrete-event core: runs node behaviours with time, bounded FIFOs and a shared HBM.

**Scheduling.** Every node is a :class:`~step_lab.sim.state.Proc` with its own clock (integer
cycles). Channels carry visibility timestamps and credit stamps (``state.py``), so GET, PUT and
COMPUTE give the same cycles whatever order processes are simulated in (the network of
deterministic behaviours is a Kahn network; this is how DAM-style simulators run). A process
therefore runs *ahead* through as many commands as it can — a whole run of tokens in one slice,
with no event per token — until it blocks on an empty or full channel.

Only two things depend on global time order: the shared HBM (requests are served first come,
first served) and ``ANY`` (arrival order), plus units shared by several nodes. Those commands are
**synchronisation points**: the process enters the event heap keyed ``(cycle, node index, seq)``
and runs the command only once no runnable process is left, i.e. every other process is blocked
or waiting at a later or equal key. Since a token put at cycle c is visible at c + 1 or later,
every token that can arrive by the popped cycle has then been put. Ties break by node index, so
results do not depend on the order of the run queue, and two runs are identical.

A synchronisation point is taken at once, without the heap, when no other process can act at or
before its cycle (``_earliest``: every runnable process's clock and every heap key is later).

**Commands.** Each process has one handler per command kind (``Proc.handlers``, indexed by
kind): GET, PUT and plain COMPUTE are closures over the process's ports (``ports.py``: take a
credit and stamp a put, wake a consumer), general COMPUTE, OFFCHIP and ANY are methods here. A
handler runs one command, advances ``p.clock``, resumes the behaviour with the command's answer
and returns its next command, or None when the process must wait (blocked on a channel or
parked in the heap); ``_step`` loops over them. Cost terms beyond port cycles are in
``costs.py``.

``lockstep=True`` turns every command into a synchronisation point (one heap event per command in
global time order): the slow reference path the tests compare the run-ahead path against.

**Deadlock** is structural: when the run queue and the heap are both empty but some process has
not finished, nothing can ever move again, and :class:`DeadlockError` names every blocked node,
the channel it waits on and that channel's occupancy/capacity.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Sequence
from heapq import heappop, heappush
from math import ceil
from typing import Any

from ..errors import DeadlockError, StepError
from ..hw.config import HardwareConfig
from ..ir.node import ANY, COMPUTE, GET, OFFCHIP, PUT
from ..ir.tokens import DONE
from .coalesce import Segment, segments
from .costs import element_cost
from .diagnostics import deadlock_message, wrap_error
from .hbm import HBM
from .offchip import streamed_offchip_handler
from .ports import Handler, compute_handler, get_handler, int_of, park, put_handler, release
from .state import BLOCK, FINISHED, RUN, SYNC, Channel, Proc

__all__ = ["Engine"]


class Engine:
    """Owns the run queue, the event heap, the HBM and the processes of one simulation."""

    def __init__(self, procs: list[Proc], channels: list[Channel], hbm: HBM, hw: HardwareConfig, *,
                 lockstep: bool = False, coalesce: bool = True, progress: Any = None) -> None:
        self.procs = procs
        self.channels = channels
        self.hbm = hbm
        self.hw = hw
        self.lockstep = lockstep
        self.runq: deque[Proc] = deque(procs)
        self.heap: list[tuple[int, int, int, Proc]] = []
        self.seq = 0
        self.now = 0
        self.switch_cost: int = hw.switch_cost_cycles
        self.progress = progress
        self.tracing = any(ch.puts is not None for ch in channels)
        for p in procs:
            p.handlers = self._handlers(p)
        self.segments: list[Segment] = []
        if coalesce and not lockstep:
            for chain in segments(procs):
                segment = Segment(self, chain)
                self.segments.append(segment)
                for p in chain:
                    p.handlers = tuple(segment.get if kind == GET else handler
                                       for kind, handler in enumerate(p.handlers))

    def _handlers(self, p: Proc) -> tuple[Handler, ...]:
        """The handler of each command kind for ``p`` (indexed by kind); under ``lockstep``
        every command first waits for its turn."""
        offchip: Handler = self._offchip
        if self.hbm.stream is not None and not self.lockstep:
            offchip = self._first_offchip        # made on first use: most nodes never issue one
        table: dict[int, Handler] = {
            GET: get_handler(self, p), PUT: put_handler(self, p),
            COMPUTE: compute_handler(self, p), OFFCHIP: offchip, ANY: self._any}
        if self.lockstep:
            table = {kind: self._in_turn(handler) for kind, handler in table.items()}
        return tuple(table[kind] for kind in range(len(table)))

    def _first_offchip(self, p: Proc, cmd: tuple) -> Any:
        """``p``'s first OFFCHIP on the request streams: make its handler (``sim/offchip.py``),
        keep it in ``p.handlers`` and run the command."""
        handler = streamed_offchip_handler(self, p)
        handlers = list(p.handlers)
        handlers[OFFCHIP] = handler
        p.handlers = tuple(handlers)
        return handler(p, cmd)

    def _in_turn(self, handler: Handler) -> Handler:
        def gated(p: Proc, cmd: tuple) -> Any:
            if not p.granted:
                self._sync(p, cmd, p.clock, p.clock)
                return None
            return handler(p, cmd)
        return gated

    # -- main loop ------------------------------------------------------------------------------
    def run(self) -> None:
        """Step processes until all finish; DeadlockError if some never can."""
        runq, heap, step = self.runq, self.heap, self._step
        ticks = 0
        while True:
            while runq:
                step(runq.popleft())
                ticks += 1
                if not ticks & 4095 and self.progress is not None:
                    self.progress.tick(self)
            if not heap:
                break
            key, _, seq, p = heappop(heap)
            if p.state != SYNC or p.sync_seq != seq:
                continue                     # stale entry (the process was re-keyed)
            self.now = key
            p.state = RUN
            p.granted = True
            step(p)
            ticks += 1
            if not ticks & 4095 and self.progress is not None:
                self.progress.tick(self)
        for segment in self.segments:
            segment.settle()
        stuck = [p for p in self.procs if p.state != FINISHED]
        if stuck:
            raise DeadlockError(deadlock_message(stuck))

    def _step(self, p: Proc) -> None:
        """Run ``p`` until it blocks, needs a synchronisation point or finishes.

        Each handler runs one command, resumes the behaviour with the command's answer and
        returns its next command (None when ``p`` must wait), so the loop is one dispatch per
        command. Busy time is the union of [cycle, cycle + 1) per item moved through a port and
        [start, start + cost) per element computed (see Proc.add_busy).
        """
        cmd = p.cmd
        p.cmd = None
        handlers = p.handlers
        try:
            if cmd is None:
                cmd = p.send(None)
            if p.granted:                       # the first command's turn came (heap)
                cmd = handlers[int_of(cmd[0])](p, cmd)
                p.granted = False
            while cmd is not None:
                cmd = handlers[int_of(cmd[0])](p, cmd)     # (the tuple indexed natively)
        except StopIteration:
            self.finish(p)
        except Exception as e:                  # KeyboardInterrupt is not an Exception
            if getattr(e, "sim_node", None) is not None:
                raise                           # already names its node (a coalesced stage)
            err = e if cmd is None or _known(cmd) else StepError(
                f"unknown behaviour command {cmd!r}")
            raise wrap_error(p, err, e) from e

    # -- waking peers ---------------------------------------------------------------------------
    def wake_producer(self, ch: Channel) -> None:
        """A credit came back on ``ch``: wake its producer blocked on the full FIFO."""
        ch.w_put = False
        if ch.src.state == BLOCK:
            ch.src.state = RUN
            self.runq.append(ch.src)

    def wake_consumer(self, ch: Channel, vis: int) -> None:
        """A token became visible at ``vis`` on ``ch``: wake (or re-key) its waiting consumer."""
        d = ch.dst
        if d.state == BLOCK:
            ch.w_get = False
            d.state = RUN
            self.runq.append(d)
        elif d.state == SYNC:
            ch.w_get = False
            self._rekey(d, vis)

    # -- COMPUTE, OFFCHIP, ANY ------------------------------------------------------------------
    def compute(self, p: Proc, cmd: tuple) -> Any:
        """COMPUTE with memory-resident input bytes, a shared unit or a fractional bandwidth
        (the plain case is ``ports.compute_handler``); a node on a shared unit first waits for
        its turn."""
        if p.unit is not None and not p.granted and not self._earliest(p, p.clock):
            self._sync(p, cmd, p.clock, p.clock)
            return None
        p.clock = element_cost(p, cmd[1], p.clock)
        if p.held:
            release(self, p)
        return p.send(None)

    def _offchip(self, p: Proc, cmd: tuple) -> Any:
        """An off-chip tile of ``cmd[1]`` bytes (a write if ``cmd[2]``, at address ``cmd[3]``
        or the node's cursor): issued once a request slot is free and no peer can act earlier,
        then reserved on the HBM; the node's outputs wait for its arrival (``p.ready``). With
        ``hbm_stream`` (``hw.offchip_requests_per_cycle``) the tile's requests join the channel
        queues at issue and its completion is a second synchronisation point
        (``_offchip_done``); ``sim/offchip.py`` is the same steps fused for the common case (the
        handler of every off-chip process on the request streams, outside lockstep)."""
        if p.pending is not None:
            return self._offchip_done(p, cmd, p.granted)
        od = p.outstanding
        issue = p.clock
        if len(od) >= p.plan.max_outstanding and od[0] > issue:
            issue = od[0]
        if not (p.granted and p.sync_key >= issue) and (self.lockstep or
                                                      not self._earliest(p, issue)):
            self._sync(p, cmd, issue, p.clock)
            return None
        stream = self.hbm.stream
        if stream is not None and cmd[1] > 0:
            p.pending = (issue, *stream.issue(issue, cmd[1], p.plan.tile_rows,
                                              p.plan.row_bytes, p.index))
            return self._offchip_done(p, cmd, False)
        return self._reserve(p, cmd, issue, None)

    def _offchip_done(self, p: Proc, cmd: tuple, granted: bool) -> Any:
        """Second synchronisation of a streamed tile: its completion is known once global time
        reaches its last request's arrival."""
        assert p.pending is not None and self.hbm.stream is not None
        issue, s, e = p.pending
        key = ceil(e)
        if not (granted and p.sync_key >= key) and (self.lockstep or
                                                    not self._earliest(p, key)):
            self._sync(p, cmd, key, p.clock)
            return None
        p.pending = None
        done = self.hbm.stream.complete(s, e, cmd[1], bool(cmd[2]), p.index)
        return self._reserve(p, cmd, issue, done)

    def _reserve(self, p: Proc, cmd: tuple, issue: int, done: int | None) -> Any:
        """Book the tile issued at ``issue`` (on the HBM unless its completion ``done`` is known)
        and account its time in flight."""
        nbytes = cmd[1]
        od = p.outstanding
        if len(od) >= p.plan.max_outstanding:
            od.popleft()
        if len(cmd) > 3:
            address = cmd[3]
        else:
            address = p.cursor
            p.cursor += nbytes
        if done is None:
            done = self.hbm.access(issue, nbytes, address, bool(cmd[2]), p.index,
                                   p.plan.tile_rows, p.plan.row_bytes)
        od.append(done)
        p.ready = done
        p.offchip += nbytes
        if done > p.fly_end:
            p.add_busy(issue if issue > p.fly_end else p.fly_end, done)
            p.fly_end = done
        p.clock = issue
        return p.send(None)

    def _any(self, p: Proc, cmd: tuple) -> Any:
        """Arrival order: the index in ``cmd[1]`` of the input whose head arrives first (ties:
        lower input index), or -1 once every input is at Done."""
        ports = cmd[1]
        if any(type(port) is not int for port in ports):
            ports = [int_of(port) for port in ports]     # (numpy integers, as uncompiled)
        ins = p.ins
        best_k, best_v, best_port = _earliest_head(ins, ports)
        clock = p.clock
        if best_k < 0:
            if best_k == -1:
                return p.send(-1)                # every input is at Done
            _watch(ins, ports)
            return park(p, cmd)
        key = best_v if best_v > clock else clock
        if not (p.granted and p.sync_key >= key) and (self.lockstep or not self._earliest(p, key)):
            _watch(ins, ports)
            self._sync(p, cmd, key, clock)
            return None
        for port in ports:
            ins[port].w_get = False
        if best_v > clock:
            wait = best_v - (clock if clock > p.be else p.be if p.be < best_v else best_v)
            p.stall_in += wait
            ins[best_port].stall_get += wait
            clock = best_v
        if p.last_in is not None and p.last_in != best_port and self.switch_cost:
            p.add_busy(clock, clock + self.switch_cost)
            clock += self.switch_cost
        p.last_in = best_port
        p.clock = clock
        return p.send(best_k)

    # -- synchronisation points -----------------------------------------------------------------
    def _sync(self, p: Proc, cmd: tuple, key: int, clock: int) -> None:
        """Park ``p`` in the event heap until global time reaches ``key``."""
        p.state = SYNC
        p.cmd = cmd
        p.clock = clock
        p.sync_key = key
        self.seq += 1
        p.sync_seq = self.seq
        heappush(self.heap, (key, p.index, self.seq, p))

    def _rekey(self, p: Proc, vis: int) -> None:
        """A token arrived for a process waiting on ANY: it may have to decide earlier."""
        assert p.cmd is not None
        if p.cmd[0] != ANY:
            return
        key = vis if vis > p.clock else p.clock
        if key < p.sync_key:
            self._sync(p, p.cmd, key, p.clock)

    def _earliest(self, p: Proc, key: int) -> bool:
        """Can no other process act at or before cycle ``key``? Then ``p`` may act now.

        Runnable processes act at or after their clocks, parked ones at or after their heap
        keys, and blocked ones only after one of those acts (one cycle later at the earliest).
        Stale heap entries only make the answer more conservative. Strict inequalities keep
        ties in (cycle, node index) order, so results equal those of the heap path.
        """
        heap = self.heap
        if heap and heap[0][0] <= key:
            return False
        runq = self.runq
        if len(runq) > 16:
            return False
        for other in runq:
            if other.clock <= key:
                return False
        return True

    def finish(self, p: Proc) -> None:
        """``p``'s behaviour returned: it is done once its last off-chip tile has arrived."""
        if p.held:
            release(self, p)
        p.state = FINISHED
        p.close_busy()
        p.end = max(p.clock, p.ready, p.fly_end)


def _earliest_head(ins: list[Channel], ports: Sequence[int]) -> tuple[int, int, int]:
    """``(k, visibility, port)`` of the earliest data head among ``ports`` (ties: lower port);
    ``k`` is -1 when every input is at Done, -2 when one is empty and none has data."""
    best_k, best_v, best_port = -1, -1, -1
    pending = False
    for k, port in enumerate(ports):
        ch = ins[port]
        if not ch.q:
            pending = True
            continue
        if ch.q[0] is DONE:
            continue
        v = ch.t[0]
        if best_k < 0 or v < best_v or (v == best_v and port < best_port):
            best_k, best_v, best_port = k, v, port
    if best_k < 0 and pending:
        return -2, -1, -1
    return best_k, best_v, best_port


def _watch(ins: list[Channel], ports: Sequence[int]) -> None:
    """Ask to be woken by a token on any empty input among ``ports``."""
    for port in ports:
        if not ins[port].q:
            ins[port].w_get = True


def _known(cmd: object) -> bool:
    return isinstance(cmd, tuple) and bool(cmd) and cmd[0] in (GET, PUT, ANY, COMPUTE, OFFCHIP)
