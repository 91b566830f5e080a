"""Coalesced steps: a chain of stateless element-by-element operators (Map → Map → …) simulated
as one segment that moves each token through every stage of the chain in one engine step
(issue 15). The per-token path (``ports.py``: GET, COMPUTE, PUT through each node's behaviour
generator, one engine step per FIFO's worth of tokens per node) is the reference;
``simulate(..., coalesce=False)`` runs it alone and the tests compare both.

**What coalesces** is read from operator traits and the plan, never from class names: a node
whose class declares ``coalesces`` (per token: GET; for a data token COMPUTE of
``fn.flops_of_value(tok)`` FLOPs and PUT of ``fn(tok)``; stop tokens and Done passed through)
and whose plan costs ⌈FLOPs / C⌉ alone (``plain_compute``: no memory-resident input bytes, no
write-back, no shared unit), with one input and one output read by one consumer. Two or more
such nodes joined output → input 0 form a segment.

**Exact timing.** Channel timestamps make the result independent of the order in which
processes run (``engine.py``), so the segment may take one token through all its stages before
the next: stage i's put of token k takes the credit returned by stage i+1's get of token k − d,
already stamped. Every stage keeps its own Proc (clock, busy intervals, stalls, counts, trace)
and every internal channel its Channel (credits, stalls, put/get stamps); only the tokens of
internal channels are never queued. A token enters only when the segment's output has a credit
for it, so a step stops at a full output or an empty input; the first stage's and the last
stage's processes wake the segment (their peers wake them as usual), the inner ones never run.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, cast

from ..ir.tokens import DONE, Stop
from .diagnostics import wrap_error
from .state import BLOCK, FINISHED, Channel, Proc

if TYPE_CHECKING:
    from .engine import Engine

__all__ = ["Segment", "coalescible", "segments"]

_EMPTY = object()           # no token in hand


def coalescible(p: Proc) -> bool:
    """Can ``p`` be a stage of a segment (see module docstring)?"""
    plan = p.plan
    return (bool(type(p.node).coalesces) and plan.plain_compute and not plan.in_cost
            and not plan.out_cost and len(p.ins) == 1 and len(p.outs) == 1
            and len(p.outs[0]) == 1)


def segments(procs: list[Proc]) -> list[list[Proc]]:
    """Maximal chains (two stages or more) of coalescible processes, in process order."""
    ok = {p for p in procs if coalescible(p)}
    nxt: dict[Proc, Proc] = {}
    for p in ok:
        ch = p.outs[0][0]
        if ch.dst in ok and ch.dst_port == 0:
            nxt[p] = ch.dst
    inner = set(nxt.values())
    chains = []
    for p in procs:
        if p in ok and p not in inner and p in nxt:
            chain = [p]
            while chain[-1] in nxt:
                chain.append(nxt[chain[-1]])
            chains.append(chain)
    return chains


class Segment:
    """One chain of coalescible stages run as a single process (see module docstring)."""

    def __init__(self, engine: Engine, stages: list[Proc]) -> None:
        self.engine = engine
        self.stages = stages
        self.fns = [p.node.params["fn"] for p in stages]
        # the input channel of each stage, then the segment's output
        self.links: list[Channel] = [p.ins[0] for p in stages] + [stages[-1].outs[0][0]]
        self.done = [False] * len(stages)
        self.hand: list[object] = [_EMPTY] * len(stages)   # token got, waiting to be put
        # per stage: does it keep its input slot until the element's compute ends
        # (hw.compute_holds_inputs, sim/holding.py)
        self.holds = [p.hold_ports[0] for p in stages]

    def get(self, p: Proc, cmd: tuple) -> Any:
        """The GET handler of every stage: advance the segment, then wait (or finish)."""
        self.advance()
        if p.state != FINISHED:
            p.state = BLOCK
            p.cmd = cmd
        return None

    def advance(self) -> None:
        """Run every stage until none can move (an empty input, or a token in hand and no
        slot for it on the output), as the per-token path would before its processes block;
        then ask the peers to wake it."""
        moved = True
        while moved:
            moved = False
            for i in range(len(self.stages)):
                if not self.done[i] and self._drain(i):
                    moved = True
        if not self.done[0] and self.hand[0] is _EMPTY and not self.links[0].q:
            self.links[0].w_get = True       # the producer's next put wakes the head
        if not self.done[-1] and self.hand[-1] is not _EMPTY:
            self.links[-1].w_put = True      # the consumer's next get wakes the tail

    def _drain(self, i: int) -> bool:
        """Stage ``i``: put the token in hand when its output has a slot for it, then get and
        compute the next one (a Map holds one token while it waits to put it)."""
        p, src, out = self.stages[i], self.links[i], self.links[i + 1]
        tracing = self.engine.tracing
        moved = False
        while True:
            tok = self.hand[i]
            if tok is not _EMPTY:
                if not out.credits and (tok is not DONE and (type(tok) is not Stop
                                                             or not p.out_data[0])):
                    return moved                 # a slot token and no credit: wait
                self.hand[i] = _EMPTY
                vis = _put(p, out, tok, tracing)
                out.q.append(tok)
                out.t.append(vis)
                if out.w_get:
                    self.engine.wake_consumer(out, vis)
                if tok is DONE:
                    self.done[i] = True
                    self.engine.finish(p)
                    return True
            if not src.q:
                return moved
            tok = src.q.popleft()
            if _get(p, src, tok, src.t.popleft(), tracing, self.holds[i]):
                tok = _compute(p, self.fns[i], tok)
                if self.holds[i]:                # the held slot is freed after the compute
                    src.credits.append(p.clock + p.plan.credit_lat)
            if src.w_put:
                self.engine.wake_producer(src)
            self.hand[i] = tok
            moved = True


def _compute(p: Proc, fn: Any, tok: object) -> object:
    """The stage's function on a data token, then ⌈FLOPs / C⌉ cycles (Map's behaviour)."""
    try:
        value = cast(Any, p.node)._apply(fn, tok)     # Map's error wrapper
        flops = fn.flops_of_value(tok)
    except Exception as e:                   # KeyboardInterrupt is not an Exception
        raise wrap_error(p, e) from e
    if flops:
        cost = -(-flops // p.plan.compute_bw)
        p.flops += flops
        p.add_busy(p.clock, p.clock + cost)
        p.clock += cost
        p.last_cost = cost
    else:
        p.last_cost = 0
    return value


def _get(p: Proc, ch: Channel, tok: object, vis: int, tracing: bool, holds: bool) -> bool:
    """GET of ``tok`` (visible at ``vis``) from ``ch`` by stage ``p``; is it a data item?
    A data item's slot is freed here, ``credit_lat`` cycles later, unless the stage ``holds``
    it until its compute ends (the caller returns that credit)."""
    clock = p.clock
    if vis > clock:
        wait = vis - (clock if clock > p.be else p.be if p.be < vis else vis)
        p.stall_in += wait
        ch.stall_get += wait
        clock = vis
    stop = type(tok) is Stop
    if tok is DONE or (stop and ch.prev_data):
        ch.prev_data = False
        p.clock = clock
        return False
    ch.prev_data = not stop
    if p.in_next[0] > clock:
        clock = p.in_next[0]
    p.in_next[0] = clock + 1
    if stop or not holds:
        ch.credits.append(clock + p.plan.credit_lat)
    if tracing:
        ch.gets.append(clock)            # type: ignore[union-attr]  # an array when tracing
    if clock >= p.be:                    # NOTE: Proc.add_busy(clock, clock + 1) inlined
        p.busy += 1
        if tracing and clock > p.be:
            p.log_gap(clock)
        p.be = clock + 1
    p.clock = clock
    return not stop


def _put(p: Proc, ch: Channel, tok: object, tracing: bool) -> int:
    """PUT of ``tok`` on ``ch`` by stage ``p`` (a credit is there); its visibility cycle."""
    if tok is DONE:
        data = slot = False
    elif type(tok) is Stop:
        data, slot = False, not p.out_data[0]
    else:
        data = slot = True
    clock = p.clock
    if slot:
        t = p.out_next[0] if p.out_next[0] > clock else clock
        c = ch.credits.popleft()
        if c > t:
            wait = c - (t if t > p.be else p.be if p.be < c else c)
            p.stall_out += wait
            ch.stall_put += wait
            t = c
        if tracing:
            ch.puts.append(t)            # type: ignore[union-attr]  # an array when tracing
        clock = p.clock = t
        p.out_next[0] = t + 1
        if t >= p.be:                    # NOTE: Proc.add_busy(t, t + 1) inlined
            p.busy += 1
            if tracing and t > p.be:
                p.log_gap(t)
            p.be = t + 1
    p.out_data[0] = data
    if data:
        p.counts[0][0] += 1
    else:
        p.count_control(0, tok)
    return (clock if clock > p.ready else p.ready) + p.plan.latency
