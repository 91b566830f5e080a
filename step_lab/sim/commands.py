"""The rarer commands of the event loop, as a mixin of :class:`~step_lab.sim.engine.Engine`.

Broadcast puts, the memory-resident input term and the Bufferize write (§7.2), Partition port
switches, Streamify reads and write-back, compute on shared units (time-multiplexing), off-chip
tiles (HBM reservations, outstanding-tile limit) and ``ANY`` (arrival order, §4.3).
"""
from __future__ import annotations

from ..errors import ConfigError
from ..ir.tokens import DONE
from .plan import value_bytes
from .state import BLOCK, RUN

__all__ = ["Commands"]


class Commands:
    """Command helpers; ``self`` is the Engine (runq, heap, hbm, costs)."""

    def _put_fanout(self, p, cmd, data: bool, slot: bool, clock: int):
        """PUT on a stream with zero or several consumers (broadcast); None if it blocks."""
        j, tok = cmd[1], cmd[2]
        chs = p.outs[j]
        if slot:
            for ch in chs:
                if not ch.credits:
                    ch.w_put = True
                    return self._park(p, cmd, clock)
            t = p.out_next[j]
            if t < clock:
                t = clock
            if p.out_cost:
                t = self._out_cost(p, j, tok, data, t)
            for ch in chs:
                c = ch.credits.popleft()
                if c > t:
                    wait = c - (t if t > p.be else p.be if p.be < c else c)
                    p.stall_out += wait
                    ch.stall_put += wait
                    t = c
                if self.tracing:
                    ch.puts.append(t)
            clock = t
            p.out_next[j] = t + 1
            if p.log_ports:
                p.add_busy(t, t + 1)
        p.out_data[j] = data
        r = p.ready
        vis = (clock if clock > r else r) + p.lat
        for ch in chs:
            ch.q.append(tok)
            ch.t.append(vis)
            if ch.w_get:
                self._wake_consumer(ch, vis)
        return clock

    # -- command helpers (rarer paths) -----------------------------------------------------------
    def _in_cost(self, p, port: int, tok, clock: int) -> int:
        """Memory-resident input bytes (higher-order) or the Bufferize write of a tile."""
        if p.move_in:
            if port == 0:
                p.add_busy(clock, clock + p.move_in)
                clock += p.move_in
            return clock
        spec = p.res[port]
        if spec:
            p.res_bytes += spec if type(spec) is int else value_bytes(tok, *spec)
        return clock

    def _out_cost(self, p, j: int, tok, data: bool, t: int) -> int:
        """Port switch (Partition), Streamify buffer read, write-back of a result."""
        if p.switch_out:
            if p.last_out is not None and p.last_out != j:
                # a switch is a bubble: the node moves nothing else meanwhile
                t += self.switch_cost
                p.add_busy(t - self.switch_cost, t)
                in_next = p.in_next
                for i in range(len(in_next)):
                    if in_next[i] <= t:
                        in_next[i] = t + 1
            p.last_out = j
        if not data:
            return t
        if p.move_out:
            p.add_busy(t, t + p.move_out)
            t += p.move_out
        elif p.write_back:
            w = -(-value_bytes(tok, p.out_types[j]) // self.bw_onchip)
            if w > p.last_cost:
                p.add_busy(t, t + w - p.last_cost)
                t += w - p.last_cost
                p.last_cost = w
        return t

    def _compute(self, p, flops: int, clock: int) -> int:
        """Element cost max(⌈resident bytes/BW⌉, ⌈FLOPs/C⌉); the write-back term is at PUT."""
        cost = 0
        if flops:
            bw = p.compute_bw
            if bw <= 0:
                raise ConfigError(
                    f"{p.name!r} ({type(p.node).__name__}) needs {flops} FLOPs per element but "
                    f"its compute bandwidth is {bw} FLOPs/cycle (expected compute_bw > 0; set "
                    "compute_bw= on the node or hw.compute_flops_per_cycle)")
            cost = int(-(-flops // bw))
        if p.res_bytes:
            memory = -(-p.res_bytes // self.bw_onchip)
            p.res_bytes = 0
            if memory > cost:
                cost = memory
        if p.unit is not None:
            clock = self._claim_unit(p, clock)
            p.unit.free = clock + cost
        if cost:
            p.add_busy(clock, clock + cost)
            clock += cost
        p.last_cost = cost
        p.flops += flops
        if p.held:
            self._release(p, clock)
        return clock

    def _free_port(self, p, ch, clock: int) -> None:
        """``p`` reads ``ch`` again: it is done with the element it held there."""
        held = p.held
        if ch in held:
            held.remove(ch)
            self._credit(ch, clock + self.credit_lat)

    def _credit(self, ch, stamp: int) -> None:
        ch.credits.append(stamp)
        if ch.w_put:
            self._wake_producer(ch)

    def _wake_producer(self, ch) -> None:
        """A slot of ``ch`` was freed: wake its producer if it waits for one."""
        ch.w_put = False
        src = ch.src
        if src.state == BLOCK:
            src.state = RUN
            self.runq.append(src)

    def _release(self, p, clock: int) -> None:
        """The element is computed: free the input slots it held and wake their producers."""
        stamp = clock + self.credit_lat
        for ch in p.held:
            self._credit(ch, stamp)
        p.held.clear()

    def _claim_unit(self, p, clock: int) -> int:
        unit = p.unit
        start = unit.free if unit.free > clock else clock
        if unit.last is not p:
            if unit.last is not None:
                start += self.reconfig
            unit.last = p
        return start

    def _offchip_done(self, p, cmd, clock: int, granted: bool):
        """Second synchronisation of a streamed tile (``hbm_stream``): its completion is known
        once global time reaches its last request's arrival; None while it waits."""
        issue, s, e = p.pending
        key = -int(-e // 1)
        if not (granted and p.sync_key >= key) and (self.lockstep or
                                                    not self._earliest(p, key)):
            self._sync(p, cmd, key, clock)
            return None
        p.pending = None
        done = self.hbm.stream.complete(s, e, cmd[1], bool(cmd[2]), p.index)
        return self._offchip(p, cmd, issue, done)

    def _offchip(self, p, cmd, issue: int, done: int | None = None) -> int:
        nbytes = cmd[1]
        od = p.outstanding
        if len(od) >= p.max_outstanding:
            od.popleft()
        if len(cmd) > 3:
            address = cmd[3]
        else:
            address = p.cursor
            p.cursor += nbytes
        if done is None:
            done = self.hbm.access(issue, nbytes, address, bool(cmd[2]), p.index, p.tile_rows,
                                   p.row_bytes)
        od.append(done)
        p.ready = done
        p.offchip += nbytes
        if done > p.fly_end:
            p.add_busy(issue if issue > p.fly_end else p.fly_end, done)
            p.fly_end = done
        return issue

    def _any(self, p, cmd, clock: int, granted: bool):
        """Arrival order: the earliest chunk head (ties: lower input index), or -1 at Done."""
        ports = cmd[1]
        ins = p.ins
        best_k, best_v, best_port = -1, None, None
        pending = False
        for k, port in enumerate(ports):
            ch = ins[port]
            if not ch.q:
                pending = True
                continue
            if ch.q[0] is DONE:
                continue
            v = ch.t[0]
            if best_v is None or v < best_v or (v == best_v and port < best_port):
                best_k, best_v, best_port = k, v, port
        if best_v is None:
            if not pending:
                return -1, clock
            for port in ports:
                if not ins[port].q:
                    ins[port].w_get = True
            p.state = BLOCK
            p.cmd = cmd
            p.clock = clock
            return None
        key = best_v if best_v > clock else clock
        if not (granted and p.sync_key >= key) and (self.lockstep or not self._earliest(p, key)):
            for port in ports:
                if not ins[port].q:
                    ins[port].w_get = True
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
        return best_k, clock

