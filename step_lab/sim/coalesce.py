"""Coalesced steps: a chain of stateless element-by-element operators (Map → Map → …) simulated
as one segment that moves each token through every stage of the chain in one engine step
(issue 15). The per-token path (``ports.py``: GET, COMPUTE, PUT through each node's behaviour
generator, one engine step per FIFO's worth of tokens per node) is the reference;
``simulate(..., coalesce=False)`` runs it alone and the tests compare both.

**What coalesces** is read from operator traits and the plan, never from class names: a node
whose class declares ``coalesces`` (per token: GET; for a data token COMPUTE of
``fn.flops_of_value(tok)`` FLOPs and PUT of ``fn(tok)``; stop tokens and Done passed through)
whose element costs max(⌈FLOPs / C⌉, ⌈resident input bytes / BW⌉) (``costs.element_cost``: an
integer compute bandwidth, no write-back, no shared unit; a tile read straight from an off-chip
load is memory-resident), with one input and one output read by one consumer. Such nodes
joined output → input 0 form a segment; a lone one is a segment of one stage (its tokens then
move without resuming its behaviour generator three times per element).

**The presets' overheads** (issue 16) apply to segments as to the per-token path: a stage that
holds its input slot (``hw.compute_holds_inputs``, ``sim/holding.py``) returns the slot's credit
when its compute ends, and every credit is stamped ``hw.channel_credit_latency_cycles`` after
the slot is freed.

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

from typing import TYPE_CHECKING, Any, Final, cast

from ..ir import ghost as _ghost
from ..ir import tokens as _tokens
from ..ir.ghost import GhostCalls
from ..ir.node import PUT
from .batch import StageBatch, chain_batch
from .costs import in_cost
from .diagnostics import wrap_error
from .plan import COMPUTE
from .state import BLOCK, FINISHED, Channel, Proc

if TYPE_CHECKING:
    from .engine import Engine

__all__ = ["Segment", "coalescible", "segments"]

_EMPTY: Final = object()    # no token in hand
# NOTE: the token kinds as Final module constants: the compiled build reads them from C statics
# (a name imported from an interpreted module is a module-dict lookup on every use)
DONE: Final = _tokens.DONE
Stop: Final = _tokens.Stop
Ghost: Final = _ghost.Ghost


def coalescible(p: Proc) -> bool:
    """Can ``p`` be a stage of a segment (see module docstring)?"""
    plan = p.plan
    return (bool(type(p.node).coalesces) and plan.role == COMPUTE and not plan.shared
            and type(plan.compute_bw) is int and plan.compute_bw > 0 and not plan.out_cost
            and len(p.ins) == 1 and len(p.outs) == 1 and len(p.outs[0]) == 1)


def segments(procs: list[Proc]) -> list[list[Proc]]:
    """Maximal chains (one stage or more) of coalescible processes, in process order."""
    ok = {p for p in procs if coalescible(p)}
    nxt: dict[Proc, Proc] = {}
    for p in ok:
        ch = p.outs[0][0]
        if ch.dst in ok and ch.dst_port == 0:
            nxt[p] = ch.dst
    inner = set(nxt.values())
    chains = []
    for p in procs:
        if p in ok and p not in inner:
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
        self.applies = [cast(Any, p.node)._apply for p in stages]   # Map's error wrapper
        self.calls = [GhostCalls() for _ in stages]     # results on ghosts (timing-only runs)
        self.memos: list[list] = [[_EMPTY, None] for _ in stages]   # latest hit (``_compute``)
        # values a chunk of tiles at a time when the head reads a linear load (sim/batch.py)
        head = stages[0].ins[0].src
        batch = chain_batch(head.gen, self.fns, len(head.outs[0]) == 1)
        self.batches: list[StageBatch | None] = [None] * len(stages)
        if batch is not None:
            self.batches[:len(batch.stages)] = batch.stages
        # the input channel of each stage, then the segment's output
        self.links: list[Channel] = [p.ins[0] for p in stages] + [stages[-1].outs[0][0]]
        self.done = [False] * len(stages)
        self.advances = 0                   # times the segment ran (SimResult.coalesced)
        self.hand: list[object] = [_EMPTY] * len(stages)   # token got, waiting to be put
        # per stage: does it keep its input slot until the element's compute ends
        # (hw.compute_holds_inputs, sim/holding.py)
        self.holds = [p.hold_ports[0] for p in stages]
        # per stage, what _drain reads (one unpacking per call; the FIFOs' methods bound once)
        self.bound = [(p, src, out, self.holds[i], self.fns[i], self.applies[i], self.calls[i],
                       p.plan, src.q, src.q.popleft, src.t.popleft, out.credits, out.q.append,
                       out.t.append, src.credits.append, self.memos[i], self.batches[i])
                      for i, (p, src, out) in enumerate(zip(stages, self.links[:-1],
                                                            self.links[1:], strict=True))]

    def get(self, p: Proc, cmd: tuple) -> Any:
        """The GET handler of every stage: advance the segment, then wait (or finish)."""
        self.advance()
        if p.state != FINISHED:
            p.state = BLOCK
            p.cmd = cmd
        return None

    def settle(self) -> None:
        """After the run: a stage holding a token it could not put waits to put it (what a
        deadlock report names, as for the per-token path)."""
        for i, p in enumerate(self.stages):
            if self.hand[i] is not _EMPTY and p.state != FINISHED:
                p.cmd = (PUT, 0, self.hand[i])

    def advance(self) -> None:
        """Run every stage until none can move (an empty input, or a token in hand and no
        slot for it on the output), as the per-token path would before its processes block;
        then ask the peers to wake it."""
        self.advances += 1
        done, hand, links, drain = self.done, self.hand, self.links, self._drain
        inner = range(len(self.stages) - 1)
        again = True
        while again:
            for i in range(len(done)):
                if not done[i] and (hand[i] is not _EMPTY or links[i].q):
                    drain(i)                     # (a stage with nothing to move is skipped)
            # after a pass every stage has an empty input or a slot token in hand: only a stage
            # whose consumer has just freed a slot can move again
            again = False
            for i in inner:
                if hand[i] is not _EMPTY and links[i + 1].credits:
                    again = True
                    break
        if not self.done[0] and self.hand[0] is _EMPTY and not self.links[0].q:
            self.links[0].w_get = True       # the producer's next put wakes the head
        if not self.done[-1] and self.hand[-1] is not _EMPTY:
            self.links[-1].w_put = True      # the consumer's next get wakes the tail

    def _drain(self, i: int) -> None:
        """Stage ``i``: put the token in hand when its output has a slot for it, then get and
        compute the next one (a Map holds one token while it waits to put it). NOTE: the hot
        path; a data token is got inline (``_get``: the same step, for stop tokens and Done)."""
        (p, src, out, holds, fn, apply, calls, plan, sq, take, take_vis, credits, emit,
         emit_vis, credit, memo, batch) = self.bound[i]
        engine, hand, tracing = self.engine, self.hand, self.engine.tracing
        while True:
            tok = hand[i]
            if tok is not _EMPTY:
                if not credits and (tok is not DONE and (type(tok) is not Stop
                                                         or not p.out_data[0])):
                    return                       # a slot token and no credit: wait
                hand[i] = _EMPTY
                vis = _put(p, out, tok, tracing)
                emit(tok)
                emit_vis(vis)
                if out.w_get:
                    engine.wake_consumer(out, vis)
                if tok is DONE:
                    self.done[i] = True
                    engine.finish(p)
                    return
            if not sq:
                return
            tok = take()
            if type(tok) is Stop or tok is DONE:
                _get(p, src, tok, take_vis(), tracing, holds)
            else:
                clock = p.clock                  # NOTE: _get inlined for a data token
                vis = take_vis()
                if vis > clock:
                    wait = vis - (clock if clock > p.be else p.be if p.be < vis else vis)
                    p.stall_in += wait
                    src.stall_get += wait
                    clock = vis
                src.prev_data = True
                if p.in_next[0] > clock:
                    clock = p.in_next[0]
                p.in_next[0] = clock + 1
                if not holds:
                    credit(clock + plan.credit_lat)
                if tracing:
                    src.gets.append(clock)   # type: ignore[union-attr]  # an array when tracing
                if clock >= p.be:
                    p.busy += 1
                    if tracing and clock > p.be:
                        p.log_gap(clock)
                    p.be = clock + 1
                if plan.in_cost:
                    clock = in_cost(p, 0, tok, clock)    # memory-resident bytes
                p.clock = clock
                tok = _compute(p, apply, fn, calls, tok, memo, batch)
                if holds:                        # the held slot is freed after the compute
                    credit(p.clock + plan.credit_lat)
            if src.w_put:
                engine.wake_producer(src)
            hand[i] = tok


def _compute(p: Proc, apply: Any, fn: Any, calls: GhostCalls, tok: object,
             memo: list, batch: StageBatch | None) -> object:
    """The stage's function on a data token (``apply``: Map's error wrapper; ``calls``: its
    results on ghosts, as ``Map._evaluate``), then max(⌈FLOPs / C⌉, ⌈resident bytes / BW⌉)
    cycles (Map's behaviour). ``memo`` = [ghost, (value, FLOPs)] of the stage's latest hit in
    ``calls``: the same shared ghost again (every tile of a timing-only run) skips the key;
    ``batch``: the stage's precomputed chunk results (``sim/batch.py``)."""
    value: Any = None
    flops: Any = 0
    if batch is not None:
        value = batch.take(tok)
        flops = batch.flops
    if value is None:
        value, flops = _evaluate(p, apply, fn, calls, tok, memo)
    cost = -(-flops // p.plan.compute_bw) if flops else 0
    if p.res_bytes:                          # NOTE: costs.element_cost without a shared unit
        memory = -(-p.res_bytes // p.plan.onchip_bw)
        p.res_bytes = 0
        if memory > cost:
            cost = memory
    if cost:
        p.add_busy(p.clock, p.clock + cost)
        p.clock += cost
    p.last_cost = cost
    p.flops += flops
    return value


def _evaluate(p: Proc, apply: Any, fn: Any, calls: GhostCalls, tok: object,
              memo: list) -> tuple[Any, Any]:
    """``(fn(tok), FLOPs)`` of one data token, through ``memo`` and ``calls`` for ghosts."""
    key: Any = None
    hit: Any = None
    if tok is memo[0]:
        hit = memo[1]
    elif type(tok) is Ghost or type(tok) is tuple:
        key = calls.key((tok,))
        if key is not None:
            hit = calls.get(key)
            if hit is not None and type(tok) is Ghost:
                memo[0], memo[1] = tok, hit      # (a shared ghost: kept alive by ``calls``)
    if hit is not None:
        return hit[0], hit[1]
    try:
        value = apply(fn, tok)
        flops = fn.flops_of_value(tok)
    except Exception as e:                   # KeyboardInterrupt is not an Exception
        raise wrap_error(p, e) from e
    if key is not None:
        calls.put(key, (tok,), value, flops)
    return value, flops


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
    if not stop and p.plan.in_cost:
        clock = in_cost(p, 0, tok, clock)    # memory-resident bytes for the compute
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
