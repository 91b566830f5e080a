"""The functional reference interpreter: runs a program token by token, untimed.

It is the semantic oracle for the timed simulator, so it is simple rather than fast: every node
is a behaviour generator, every consumer of a stream gets its own unbounded queue, and a
round-robin scheduler runs each behaviour until it blocks. Deterministic: EagerMerge serves
inputs holding a complete chunk in cyclic index order, Reassemble in ascending index order.
"""
from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import Any

from ..analysis.spill import decide as decide_spills
from ..errors import DeadlockError, StepError
from ..ir.node import ANY, COMPUTE, GET, OFFCHIP, PUT, Node
from ..ir.run import as_run, carries_run
from ..ir.stream import Stream
from ..ir.tokens import DONE, Stop, decode
from ..validate import check_program, check_seed
from ..validate import max_events as max_events_limit
from .context import RunContext

__all__ = ["interpret", "RunResult"]


@dataclass
class RunResult:
    """Everything a reference run produced."""

    program: object
    tokens: dict                    # output name -> token list (ends with Done)
    values: dict                    # output name -> decoded nested lists
    arrays: dict                    # stored tensor name -> numpy array
    stream_tokens: dict             # Stream -> its full token list
    offchip_bytes: int = 0
    offchip_by_node: dict = field(default_factory=dict)
    flops: int = 0
    flops_by_node: dict = field(default_factory=dict)


class _Proc:
    __slots__ = ("node", "gen", "blocked", "done")

    def __init__(self, node, gen):
        self.node, self.gen, self.blocked, self.done = node, gen, None, False


def interpret(program: Any, *, inputs: dict[str, Any] | None = None,
              bindings: dict[str, Any] | None = None, seed: int = 0,
              max_events: int | None = None) -> RunResult:
    """Run ``program`` on numpy ``inputs`` with symbol ``bindings``; return all tokens and values.

    ``max_events`` caps the estimated data tokens as in :func:`step_lab.simulate`. ``program``
    may also be a :class:`~step_lab.ir.run.Run` or a Workload (its bindings and inputs are used
    unless given here).
    """
    if carries_run(program):
        run = as_run(program, bindings=bindings, inputs=inputs)
        program, bindings, inputs = run.program, dict(run.bindings), dict(run.inputs)
    check_program(program, "interpret")
    program.validate()
    check_seed(seed, "interpret")
    limit = max_events_limit(max_events, "interpret")
    ctx = RunContext(program, inputs, bindings, seed, where="interpret", max_events=limit)
    ctx.spilled = decide_spills(program, None, ctx.bindings)   # no hardware: spill=True only
    queues: dict[tuple[Node, int], deque] = {}     # (node, port) -> deque of input tokens
    fanout: dict[Stream, list[deque]] = {s: [] for s in program.streams}
    for n in program.nodes:
        for i, s in enumerate(n.inputs):
            q: deque = deque()
            queues[(n, i)] = q
            fanout[s].append(q)
    recorded: dict[Stream, list] = {s: [] for s in program.streams}
    procs = [_Proc(n, n.behaviour(ctx)) for n in program.nodes]
    result = RunResult(program, ctx.outputs, {}, {}, recorded)
    _run(procs, queues, fanout, recorded, result)
    _finish(program, ctx, result)
    return result


def _run(procs, queues, fanout, recorded, result) -> None:
    progress = True
    while progress:
        progress = False
        for p in procs:
            if not p.done and _step(p, queues, fanout, recorded, result):
                progress = True
    stuck = [p for p in procs if not p.done]
    if stuck:
        lines = [_blocked(p, queues) for p in stuck]
        raise DeadlockError("the program cannot make progress; blocked nodes:\n  "
                            + "\n  ".join(lines))


def _step(p, queues, fanout, recorded, result) -> bool:
    """Advance one behaviour until it blocks or finishes; return whether it moved."""
    node = p.node
    moved = False
    cmd = p.blocked
    send = None
    while True:
        if cmd is None:
            try:
                cmd = p.gen.send(send)
            except StopIteration:
                p.done = True
                return True
            except StepError as e:
                raise type(e)(f"while interpreting {node.name!r} ({type(node).__name__}): "
                              f"{e}") from e
        op = cmd[0]
        if op == GET:
            q = queues[(node, cmd[1])]
            if not q:
                p.blocked = cmd
                return moved
            send = q.popleft()
        elif op == PUT:
            s = node.outputs[cmd[1]]
            tok = cmd[2]
            recorded[s].append(tok)
            for q in fanout[s]:
                q.append(tok)
            send = None
        elif op == ANY:
            send = _choose(node, cmd, queues)
            if send is None:
                p.blocked = cmd
                return moved
        elif op == COMPUTE:
            result.flops += cmd[1]
            result.flops_by_node[node.name] = result.flops_by_node.get(node.name, 0) + cmd[1]
            send = None
        elif op == OFFCHIP:
            result.offchip_bytes += cmd[1]
            result.offchip_by_node[node.name] = result.offchip_by_node.get(node.name, 0) + cmd[1]
            send = None
        else:  # pragma: no cover - internal invariant
            raise AssertionError(f"unknown behaviour command {cmd!r} from {node.name}")
        p.blocked = None
        cmd = None
        moved = True


def _choose(node, cmd, queues):
    ports, level, start = cmd[1], cmd[2], cmd[3]
    n = len(ports)
    all_done = True
    ordered = len(cmd) > 4 and cmd[4]
    for j in range(1 if ordered else n):  # ordered: only ports[start] may be served next
        k = (start + j) % n
        q = queues[(node, ports[k])]
        if q and q[0] is DONE:
            continue
        all_done = False
        if _has_chunk(q, level):
            return k
    return -1 if all_done else None


def _has_chunk(q, level: int) -> bool:
    if not q:
        return False
    if level == 0:
        return q[0] is not DONE and type(q[0]) is not Stop
    return any(type(t) is Stop and t.level >= level for t in q)


def _blocked(p, queues) -> str:
    node = p.node
    waiting = [f"{s.name} (empty)" for i, s in enumerate(node.inputs) if not queues[(node, i)]]
    what = ", ".join(waiting) if waiting else "a complete chunk"
    return f"{node.name!r} ({type(node).__name__}) waits on {what}"


def _finish(program, ctx, result) -> None:
    for name, out in program.outputs.items():
        toks = ctx.outputs.get(name, [])
        result.values[name] = decode(toks, out.inputs[0].rank)
    from ..ir.program import Tensor  # noqa: F401  (documentation of the type below)
    for name, (tensor, tile, count) in ctx.stored.items():
        result.arrays[name] = ctx.memory.assembled(tensor, tile, count)
