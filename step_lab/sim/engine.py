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

``lockstep=True`` turns every command into a synchronisation point (one heap event per command in
global time order): the slow reference path the tests compare the run-ahead path against.

**Deadlock** is structural: when the run queue and the heap are both empty but some process has
not finished, nothing can ever move again, and :class:`DeadlockError` names every blocked node,
the channel it waits on and that channel's occupancy/capacity.
"""
from __future__ import annotations

from collections import deque
from heapq import heappop, heappush

from ..errors import DeadlockError, StepError
from ..ir.node import ANY, COMPUTE, GET, OFFCHIP, PUT
from ..ir.tokens import DONE, Stop
from .commands import Commands
from .diagnostics import deadlock_message, wrap_error
from .state import BLOCK, FINISHED, RUN, SYNC

__all__ = ["Engine"]


class Engine(Commands):
    """Owns the run queue, the event heap, the HBM and the processes of one simulation."""

    def __init__(self, procs: list, channels: list, hbm, hw, *, lockstep: bool = False,
                 progress=None):
        self.procs = procs
        self.channels = channels
        self.hbm = hbm
        self.hw = hw
        self.lockstep = lockstep
        self.runq: deque = deque(procs)
        self.heap: list = []
        self.seq = 0
        self.now = 0
        self.bw_onchip = hw.onchip_bytes_per_cycle
        self.switch_cost = hw.switch_cost_cycles
        self.credit_lat = hw.channel_credit_latency_cycles
        self.reconfig = hw.reconfiguration_cycles
        self.progress = progress
        self.tracing = any(ch.puts is not None for ch in channels)

    # -- main loop ------------------------------------------------------------------------------
    def run(self) -> None:
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
        stuck = [p for p in self.procs if p.state != FINISHED]
        if stuck:
            raise DeadlockError(self._deadlock_message(stuck))

    def _sync(self, p, cmd, key: int, clock: int) -> None:
        """Park ``p`` in the event heap until global time reaches ``key``."""
        p.state = SYNC
        p.cmd = cmd
        p.clock = clock
        p.sync_key = key
        self.seq += 1
        p.sync_seq = self.seq
        heappush(self.heap, (key, p.index, self.seq, p))

    def _rekey(self, p, vis: int) -> None:
        """A token arrived for a process waiting on ANY: it may have to decide earlier."""
        if p.cmd[0] != ANY:
            return
        key = vis if vis > p.clock else p.clock
        if key < p.sync_key:
            self._sync(p, p.cmd, key, p.clock)

    # -- one slice of one process ----------------------------------------------------------------
    def _step(self, p, GET=GET, PUT=PUT, COMPUTE=COMPUTE, OFFCHIP=OFFCHIP, DONE=DONE, Stop=Stop,
              BLOCK=BLOCK, RUN=RUN, SYNC=SYNC) -> None:
        """Run ``p`` until it blocks, needs a synchronisation point or finishes.

        NOTE: the hot path. GET, PUT, plain COMPUTE and OFFCHIP are handled inline with local
        variables; rarer work (memory-resident input costs, Partition switches, shared units,
        ANY, fan-out) goes to helper methods. Constants are bound as default arguments (fast
        locals). Busy time is the union of [cycle, cycle + 1) per item moved through a port and
        [start, start + cost) per element computed (see Proc.add_busy).
        """
        gen = p.gen
        cmd = p.cmd
        val = None
        clock = p.clock
        ins, out1 = p.ins, p.out1
        runq = self.runq
        lockstep = self.lockstep
        tracing = self.tracing
        credit_lat = self.credit_lat
        held, hold_ports = p.held, p.hold_ports
        granted = p.granted
        p.granted = False
        p.cmd = None
        while True:
            if cmd is None:
                try:
                    cmd = gen.send(val)
                except StopIteration:
                    p.clock = clock
                    self._finish(p)
                    return
                except Exception as e:          # KeyboardInterrupt is not an Exception
                    p.clock = clock
                    raise wrap_error(p, e) from e
            if lockstep and not granted:
                self._sync(p, cmd, clock, clock)
                return
            op = cmd[0]
            if op == GET:
                port = cmd[1]
                ch = ins[port]
                if held:
                    self._free_port(p, ch, clock)    # done with the port's previous element
                q = ch.q
                if not q:
                    ch.w_get = True
                    return self._park(p, cmd, clock)
                val = q.popleft()
                vis = ch.t.popleft()
                if vis > clock:
                    # stalled from the end of the last busy cycle (or the clock) until vis
                    wait = vis - (clock if clock > p.be else p.be if p.be < vis else vis)
                    p.stall_in += wait
                    ch.stall_get += wait
                    clock = vis
                if val is DONE:
                    ch.prev_data = False
                elif type(val) is Stop and ch.prev_data:
                    ch.prev_data = False             # attached stop token: free
                else:
                    data = ch.prev_data = type(val) is not Stop
                    nxt = p.in_next[port]
                    if nxt > clock:
                        clock = nxt                  # the port moved an item last cycle
                    p.in_next[port] = clock + 1
                    if tracing:
                        ch.gets.append(clock)
                    if data and hold_ports[port]:
                        held.append(ch)              # freed once the element is used
                    else:
                        ch.credits.append(clock + credit_lat)   # the freed slot, seen upstream
                        if ch.w_put:
                            # NOTE: wake the producer blocked on the full FIFO (inline for speed)
                            ch.w_put = False
                            src = ch.src
                            if src.state == BLOCK:
                                src.state = RUN
                                runq.append(src)
                    # NOTE: inlined Proc.add_busy(clock, clock + 1) for speed
                    if clock >= p.be:
                        p.busy += 1
                        if tracing and clock > p.be:
                            p.log_gap(clock)
                        p.be = clock + 1
                    if data and p.in_cost:
                        clock = self._in_cost(p, port, val, clock)
            elif op == PUT:
                j = cmd[1]
                tok = cmd[2]
                if tok is DONE:
                    data = slot = False
                elif type(tok) is Stop:
                    data = False
                    slot = not p.out_data[j]
                else:
                    data = slot = True
                ch = out1[j]
                if ch is None:
                    clock = self._put_fanout(p, cmd, data, slot, clock)
                    if clock is None:
                        return
                else:
                    if slot:
                        credits = ch.credits
                        if not credits:
                            ch.w_put = True
                            return self._park(p, cmd, clock)
                        t = p.out_next[j]
                        if t < clock:
                            t = clock
                        if p.out_cost:
                            t = self._out_cost(p, j, tok, data, t)
                        c = credits.popleft()
                        if c > t:
                            wait = c - (t if t > p.be else p.be if p.be < c else c)
                            p.stall_out += wait
                            ch.stall_put += wait
                            t = c
                        if tracing:
                            ch.puts.append(t)
                        clock = t
                        p.out_next[j] = t + 1
                        # NOTE: inlined Proc.add_busy(t, t + 1); off-chip nodes log in-flight
                        # time instead of port cycles
                        if t >= p.be and p.log_ports:
                            p.busy += 1
                            if tracing and t > p.be:
                                p.log_gap(t)
                            p.be = t + 1
                    p.out_data[j] = data
                    r = p.ready
                    vis = (clock if clock > r else r) + p.lat
                    ch.q.append(tok)
                    ch.t.append(vis)
                    if ch.w_get:
                        # NOTE: inlined Engine._wake_consumer (shared with _put_fanout) for speed
                        d = ch.dst
                        if d.state == BLOCK:
                            ch.w_get = False
                            d.state = RUN
                            runq.append(d)
                        elif d.state == SYNC:
                            ch.w_get = False
                            self._rekey(d, vis)
                if data:
                    p.counts[j][0] += 1
                else:
                    self._count_control(p, j, tok)
                val = None
            elif op == COMPUTE:
                flops = cmd[1]
                if p.plain_compute:
                    # NOTE: inlined Engine._compute for the common case (no memory-resident
                    # input bytes, no shared unit, integer compute bandwidth)
                    if flops:
                        cost = -(-flops // p.compute_bw)
                        p.flops += flops
                        p.add_busy(clock, clock + cost)
                        clock += cost
                        p.last_cost = cost
                    else:
                        p.last_cost = 0
                    if held:
                        # NOTE: inlined Commands._release (operands held while computing)
                        for ch in held:
                            ch.credits.append(clock + credit_lat)
                            if ch.w_put:
                                self._wake_producer(ch)
                        held.clear()
                else:
                    clock = self._compute_cmd(p, cmd, clock, granted)
                    if clock is None:
                        return                       # waits for its shared unit
                val = None
            elif op == OFFCHIP:
                clock = self._offchip_cmd(p, cmd, clock, granted)
                if clock is None:
                    return                           # waits for its issue cycle
                val = None
            elif op == ANY:
                choice = self._any(p, cmd, clock, granted)
                if choice is None:
                    return                           # parked (blocked or in the heap)
                val, clock = choice
            else:
                p.clock = clock
                raise wrap_error(p, StepError(f"unknown behaviour command {cmd!r}"))
            cmd = None
            granted = False

    # -- named pieces of a slice (rarer paths, out of the inlined hot loop) -----------------------
    def _park(self, p, cmd, clock: int) -> None:
        """Block ``p`` on ``cmd`` (an empty input or a full output) until a peer wakes it."""
        p.state = BLOCK
        p.cmd = cmd
        p.clock = clock

    def _wake_consumer(self, ch, vis: int) -> None:
        """A token became visible at ``vis`` on ``ch``: wake (or re-key) its waiting consumer."""
        d = ch.dst
        if d.state == BLOCK:
            ch.w_get = False
            d.state = RUN
            self.runq.append(d)
        elif d.state == SYNC:
            ch.w_get = False
            self._rekey(d, vis)

    def _count_control(self, p, j: int, tok) -> None:
        """Count a stop or Done token put on output ``j`` (data tokens are counted inline)."""
        if tok is DONE:
            p.done_out[j] = 1
            return
        try:
            p.counts[j][tok.level] += 1
        except IndexError:
            p.count_stop(j, tok.level)
        if p.track[j]:
            p.track_stop(j, tok.level)

    def _compute_cmd(self, p, cmd, clock: int, granted: bool):
        """COMPUTE with memory-resident inputs, a shared unit or a fractional bandwidth; the
        new clock, or None when ``p`` must first wait for its turn on the unit."""
        if p.unit is not None and not granted and not self._earliest(p, clock):
            self._sync(p, cmd, clock, clock)
            return None
        return self._compute(p, cmd[1], clock)

    def _offchip_cmd(self, p, cmd, clock: int, granted: bool):
        """OFFCHIP: issue once a request slot is free and no peer can act earlier; the new
        clock, or None when ``p`` waits in the heap for its issue cycle."""
        if p.pending is not None:
            return self._offchip_done(p, cmd, clock, granted)
        od = p.outstanding
        issue = clock
        if len(od) >= p.max_outstanding and od[0] > issue:
            issue = od[0]
        if not (granted and p.sync_key >= issue) and (self.lockstep or
                                                      not self._earliest(p, issue)):
            self._sync(p, cmd, issue, clock)
            return None
        if self.hbm.stream is not None and cmd[1] > 0:
            p.pending = (issue,) + self.hbm.stream.issue(issue, cmd[1], p.tile_rows,
                                                         p.row_bytes, p.index)
            return self._offchip_done(p, cmd, clock, False)
        return self._offchip(p, cmd, issue)

    def _earliest(self, p, key: int) -> bool:
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

    def _finish(self, p) -> None:
        if p.held:
            self._release(p, p.clock)
        p.state = FINISHED
        p.close_busy()
        p.end = max(p.clock, p.ready, p.fly_end)

    def _deadlock_message(self, stuck: list) -> str:
        return deadlock_message(stuck)
