"""GET, PUT and plain COMPUTE of one process: the hot commands of the event loop.

Each handler is a closure made once per process (``handlers``) over that process's ports, its
plan's flags and the engine's run queue, bound as default arguments, so that the per-token path
reads fast locals instead of attribute chains (``benchmarks/bench_sim.py`` part e); they are
typed precisely (``list[Channel]``, not ``list``) so that the compiled build reads the channels'
fields natively (``native.py``). A handler runs one command,
advances ``p.clock``, resumes the behaviour with the command's answer and returns the
behaviour's next command, or None when ``p`` must wait (``Engine._step``).

Channels carry timestamps (``state.py``): a GET returns a credit stamped with its cycle, a PUT of
a slot token takes the oldest credit and happens no earlier than its stamp (``stamp_put``), and
the token becomes visible ``latency`` cycles after the put, waking the waiting consumer.
"""
from __future__ import annotations

from collections import deque
from collections.abc import Callable
from operator import index
from typing import TYPE_CHECKING, Any

from ..errors import StepError
from ..ir.tokens import DONE, Stop
from .costs import in_cost, out_cost
from .state import BLOCK, RUN, Channel, Proc

if TYPE_CHECKING:
    from .engine import Engine

__all__ = ["Handler", "int_of", "get_handler", "put_handler", "compute_handler", "stamp_put",
           "wait_for_credit", "park", "credit", "release"]

Handler = Callable[[Proc, tuple], Any]


def int_of(field: Any) -> int:
    """A command's port or kind as an int (a numpy integer is accepted, as by the uncompiled
    engine's indexing; anything else is a StepError)."""
    if type(field) is int:
        return field
    try:
        return index(field)
    except TypeError:
        raise StepError(f"port {field!r:.40} is not an integer (expected an int, e.g. "
                        "yield (GET, 0))") from None


def park(p: Proc, cmd: tuple) -> None:
    """Block ``p`` on ``cmd`` (an empty input or a full output) until a peer wakes it."""
    p.state = BLOCK
    p.cmd = cmd


def get_handler(engine: Engine, p: Proc) -> Handler:
    """GET of ``p``: take the next token of input ``cmd[1]`` once it is visible, move it
    through the port (one cycle per slot token) and return its credit to the producer."""
    ins, in_next, send, runq = p.ins, p.in_next, p.send, engine.runq
    tracing, costed = engine.tracing, p.plan.in_cost
    held, hold, lat = p.held, p.hold_ports, p.plan.credit_lat

    def get(p: Proc, cmd: tuple, ins: list[Channel] = ins, in_next: list[int] = in_next,
            send: Any = send, runq: deque[Proc] = runq, tracing: bool = tracing,
            costed: bool = costed, held: list[Channel] = held, hold: list[bool] = hold,
            lat: int = lat, DONE: Any = DONE, Stop: Any = Stop) -> Any:  # NOTE: typed fast locals
        port = int_of(cmd[1])
        ch = ins[port]
        if held and ch in held:              # done with the port's previous (held) element
            held.remove(ch)
            ch.credits.append(p.clock + lat)     # NOTE: credit() inlined
            if ch.w_put:
                engine.wake_producer(ch)
        q = ch.q
        if not q:
            ch.w_get = True
            return park(p, cmd)
        val, vis = q.popleft(), ch.t.popleft()
        clock = p.clock
        if vis > clock:
            # stalled from the end of the last busy cycle (or the clock) until vis
            wait = vis - (clock if clock > p.be else p.be if p.be < vis else vis)
            p.stall_in += wait
            ch.stall_get += wait
            clock = vis
        stop = type(val) is Stop
        if val is DONE or (stop and ch.prev_data):
            ch.prev_data = False             # Done, or a stop token attached to data: free
        else:
            ch.prev_data = data = not stop
            nxt = in_next[port]
            if nxt > clock:
                clock = nxt                  # the port moved an item last cycle
            in_next[port] = clock + 1
            if tracing:
                ch.gets.append(clock)    # type: ignore[union-attr]  # an array when tracing
            if data and hold[port]:
                held.append(ch)              # its slot is freed once the element is used
            else:
                ch.credits.append(clock + lat)   # the freed slot, seen upstream
                if ch.w_put:
                    ch.w_put = False         # wake the producer blocked on the full FIFO
                    if ch.src.state == BLOCK:
                        ch.src.state = RUN
                        runq.append(ch.src)
            if clock >= p.be:                # NOTE: Proc.add_busy(clock, clock + 1) inlined
                p.busy += 1
                if tracing and clock > p.be:
                    p.log_gap(clock)
                p.be = clock + 1
            if data and costed:
                clock = in_cost(p, port, val, clock)
        p.clock = clock
        return send(val)
    return get


def put_handler(engine: Engine, p: Proc) -> Handler:
    """PUT of ``p``: token ``cmd[2]`` on output ``cmd[1]`` (see ``_broadcast_put_handler``);
    one consumer per output, the credit taken inline (the common case; bench_sim part e)."""
    if any(len(chs) != 1 for chs in p.outs):
        return _broadcast_put_handler(engine, p)
    out1, out_next, out_data, counts = [chs[0] for chs in p.outs], p.out_next, p.out_data, p.counts
    send, tracing, latency, wake = p.send, engine.tracing, p.plan.latency, engine.wake_consumer
    costed, log_ports = p.plan.out_cost, p.plan.log_ports

    def put(p: Proc, cmd: tuple, out1: list[Channel] = out1, out_next: list[int] = out_next,
            out_data: list[bool] = out_data, counts: list[list[int]] = counts,
            send: Any = send, tracing: bool = tracing, latency: int = latency, wake: Any = wake,
            costed: bool = costed, log_ports: bool = log_ports, DONE: Any = DONE,
            Stop: Any = Stop) -> Any:
        j = int_of(cmd[1])                   # NOTE: typed fast locals (module docstring)
        tok = cmd[2]
        if tok is DONE:
            data = slot = False
        elif type(tok) is Stop:
            data, slot = False, not out_data[j]
        else:
            data = slot = True
        ch = out1[j]
        clock = p.clock
        if slot:                             # NOTE: stamp_put inlined for one channel
            credits = ch.credits
            if not credits:
                ch.w_put = True
                return park(p, cmd)
            t = out_next[j]
            if t < clock:
                t = clock
            if costed:
                t = out_cost(p, j, tok, data, t)
            c = credits.popleft()
            if c > t:
                t = wait_for_credit(p, ch, t, c)
            if tracing:
                ch.puts.append(t)        # type: ignore[union-attr]  # an array when tracing
            clock = p.clock = t
            out_next[j] = t + 1
            if t >= p.be and log_ports:      # NOTE: Proc.add_busy(t, t + 1) inlined
                p.busy += 1
                if tracing and t > p.be:
                    p.log_gap(t)
                p.be = t + 1
        out_data[j] = data
        r = p.ready
        vis = (clock if clock > r else r) + latency
        ch.q.append(tok)
        ch.t.append(vis)
        if ch.w_get:
            wake(ch, vis)
        if data:
            counts[j][0] += 1
        else:
            p.count_control(j, tok)
        return send(None)
    return put


def _broadcast_put_handler(engine: Engine, p: Proc) -> Handler:
    """PUT of a node with an output read by zero or several consumers (see ``put_handler``)."""
    outs, out_data, counts, send = p.outs, p.out_data, p.counts, p.send
    tracing, latency, wake = engine.tracing, p.plan.latency, engine.wake_consumer

    def put(p: Proc, cmd: tuple) -> Any:
        j = int_of(cmd[1])
        tok = cmd[2]
        if tok is DONE:
            data = slot = False
        elif type(tok) is Stop:
            data = False
            slot = not out_data[j]
        else:
            data = slot = True
        chs = outs[j]
        if slot:
            for ch in chs:
                if not ch.credits:
                    ch.w_put = True
                    return park(p, cmd)
            p.clock = stamp_put(p, j, tok, data, chs, tracing)
        out_data[j] = data
        clock, r = p.clock, p.ready
        vis = (clock if clock > r else r) + latency
        for ch in chs:
            ch.q.append(tok)
            ch.t.append(vis)
            if ch.w_get:
                wake(ch, vis)
        if data:
            counts[j][0] += 1
        else:
            p.count_control(j, tok)
        return send(None)
    return put


def stamp_put(p: Proc, j: int, tok: object, data: bool, chs: list[Channel],
              tracing: bool) -> int:
    """Take the oldest credit of every channel of output ``j`` and stamp the put: no earlier
    than the port's last put + 1 and ``p``'s clock, after the output cost terms (``out_cost``)
    and no earlier than any credit's stamp (the wait is a stall). The put cycle."""
    t = p.out_next[j]
    if t < p.clock:
        t = p.clock
    plan = p.plan
    if plan.out_cost:
        t = out_cost(p, j, tok, data, t)
    for ch in chs:
        c = ch.credits.popleft()
        if c > t:
            t = wait_for_credit(p, ch, t, c)
        if tracing:
            ch.puts.append(t)            # type: ignore[union-attr]  # an array when tracing
    p.out_next[j] = t + 1
    # off-chip nodes log in-flight time instead of port cycles
    if t >= p.be and plan.log_ports:     # NOTE: Proc.add_busy(t, t + 1) inlined
        p.busy += 1
        if tracing and t > p.be:
            p.log_gap(t)
        p.be = t + 1
    return t


def wait_for_credit(p: Proc, ch: Channel, t: int, c: int) -> int:
    """A put ready at ``t`` waits for a credit stamped ``c`` > ``t``: the producer stalled from
    the end of its last busy cycle (or ``t``) until ``c``. The put cycle ``c``."""
    wait = c - (t if t > p.be else p.be if p.be < c else c)
    p.stall_out += wait
    ch.stall_put += wait
    return c


def compute_handler(engine: Engine, p: Proc) -> Handler:
    """COMPUTE of ``p``: ⌈FLOPs / C⌉ cycles when the plan says that is all
    (``plain_compute``), else the engine's general handler (resident bytes, shared unit)."""
    if not p.plan.plain_compute:
        return engine.compute
    bw, send, held = int(p.plan.compute_bw), p.send, p.held
    lat, wake = p.plan.credit_lat, engine.wake_producer

    def compute(p: Proc, cmd: tuple, bw: int = bw, send: Any = send,
                held: list[Channel] = held, lat: int = lat, wake: Any = wake) -> Any:
        flops = cmd[1]
        if flops:
            cost = -(-flops // bw)
            p.flops += flops
            clock = p.clock
            p.add_busy(clock, clock + cost)
            p.clock = clock + cost
            p.last_cost = cost
        else:
            p.last_cost = 0
        if held:                             # NOTE: release() inlined (operands held)
            stamp = p.clock + lat
            for ch in held:
                ch.credits.append(stamp)
                if ch.w_put:
                    wake(ch)
            held.clear()
        return send(None)
    return compute


def credit(engine: Engine, ch: Channel, stamp: int) -> None:
    """Return a slot of ``ch`` stamped ``stamp`` and wake its producer if it waits for one."""
    ch.credits.append(stamp)
    if ch.w_put:
        engine.wake_producer(ch)


def release(engine: Engine, p: Proc) -> None:
    """``p``'s element is done: free the input slots it held (``sim/holding.py``), seen
    upstream ``credit_lat`` cycles after ``p``'s clock."""
    stamp = p.clock + p.plan.credit_lat
    for ch in p.held:
        credit(engine, ch, stamp)
    p.held.clear()
