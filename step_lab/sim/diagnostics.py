"""Error messages of the simulator: deadlock reports and behaviour failures (STYLE.md §4)."""
from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import StepError
from ..ir.node import ANY, GET, PUT

if TYPE_CHECKING:
    from .state import Proc

__all__ = ["deadlock_message", "wrap_error"]


def deadlock_message(stuck: list) -> str:
    """Name every blocked node, the channel it waits on and that channel's occupancy."""
    lines = [_blocked_line(p) for p in stuck]
    return ("the program cannot make progress (deadlock): no event can fire but "
            f"{len(stuck)} node(s) have not finished:\n  " + "\n  ".join(lines)
            + "\n  hint: deepen the FIFOs on the cycle (program.set_fifo_depth or the "
              "feedback depth) or check that every branch consumes its inputs")


def _blocked_line(p) -> str:
    head = f"{p.name!r} ({type(p.node).__name__}) at cycle {p.clock}"
    cmd = p.cmd
    if cmd is None:
        return f"{head} is not waiting on a channel"
    op = cmd[0]
    if op == GET:
        ch = p.ins[cmd[1]]
        return (f"{head} waits for a token on {ch.stream.name!r} (input {cmd[1]}; "
                f"{ch.occupancy}/{ch.capacity} slots used)")
    if op == PUT:
        full = [ch for ch in p.outs[cmd[1]] if not ch.credits] or p.outs[cmd[1]]
        parts = [f"{ch.stream.name!r} -> {ch.dst.name!r} ({ch.occupancy}/{ch.capacity} "
                 "slots used)" for ch in full]
        return f"{head} waits to put on full channel " + ", ".join(parts)
    if op == ANY:
        names = [f"{p.ins[i].stream.name!r} ({p.ins[i].occupancy}/{p.ins[i].capacity})"
                 for i in cmd[1]]
        return f"{head} waits for a chunk on any of " + ", ".join(names)
    return f"{head} waits on command {cmd!r}"


def wrap_error(p: Proc, e: Exception, cause: BaseException | None = None) -> StepError:
    """``while simulating 'accum3' (Accum) at cycle N: …``, chained to ``cause`` (default ``e``).

    The chain is set here rather than by ``raise … from``: the compiled engine (``native.py``)
    does not keep ``from``'s cause. The error records the node it names (``sim_node``), so that
    an error wrapped inside another process's step (a coalesced stage) is not wrapped twice."""
    msg = f"while simulating {p.name!r} ({type(p.node).__name__}) at cycle {p.clock}: {e}"
    out: StepError
    if isinstance(e, StepError):
        try:
            out = type(e)(msg)
        except TypeError:
            out = StepError(msg)
    else:
        out = StepError(f"{msg} ({type(e).__name__})")
    out.__cause__ = e if cause is None else cause
    out.sim_node = p.name           # type: ignore[attr-defined]  # (see the docstring)
    return out
