"""OFFCHIP of one process on the request-stream HBM (``hw.offchip_requests_per_cycle``): the
engine's issue, completion and reservation steps (``Engine._offchip``, ``_offchip_done``,
``_reserve``) fused into one per-process closure for the common case.

A streamed tile has two synchronisation points (``sim/hbm_stream.py``): its issue (no peer may
act earlier) and its completion (global time has reached its last request's arrival, so every
tile that can interleave with it is known). When no peer can act before the completion either,
both are taken in the same call, with the node's constants bound once (bench_sim part a). Every
other case — a wait in the heap for either point, a tile of no bytes — goes through the engine's
general methods, which this closure leaves in exactly the state they expect, so the results are
those of the general path (the same order of HBM calls, the same sync keys).
"""
from __future__ import annotations

from collections import deque
from math import ceil
from typing import TYPE_CHECKING, Any

from .hbm_stream import RequestStreams
from .state import Proc

if TYPE_CHECKING:
    from .engine import Engine
    from .ports import Handler

__all__ = ["streamed_offchip_handler"]


def streamed_offchip_handler(engine: Engine, p: Proc) -> Handler:
    """OFFCHIP of ``p`` with the request streams (see the module docstring)."""
    stream = engine.hbm.stream
    if type(stream) is not RequestStreams:      # another request model: the general path
        return engine._offchip
    plan = p.plan
    od, maxo, index, send = p.outstanding, plan.max_outstanding, p.index, p.send
    rows, row_bytes = plan.tile_rows, plan.row_bytes

    def offchip(p: Proc, cmd: tuple, od: deque[int] = od, maxo: int = maxo, index: int = index,
                send: Any = send, rows: int = rows, row_bytes: int = row_bytes,
                stream: RequestStreams = stream) -> Any:
        # NOTE: the closure's values are bound as default arguments (fast locals in CPython),
        # typed for the compiled build (the engine's and the streams' methods called natively)
        if p.pending is not None:
            return engine._offchip_done(p, cmd, p.granted)
        issue = p.clock
        if len(od) >= maxo and od[0] > issue:
            issue = od[0]
        if not (p.granted and p.sync_key >= issue) and not engine._earliest(p, issue):
            engine._sync(p, cmd, issue, p.clock)
            return None
        nbytes = cmd[1]
        if nbytes <= 0:
            return engine._reserve(p, cmd, issue, None)
        s, e = stream.arrival(issue, nbytes, rows, row_bytes, index)
        key = ceil(e)
        if not engine._earliest(p, key):
            stream.begin(s, e, index)
            p.pending = (issue, s, e)            # the completion waits for global time
            engine._sync(p, cmd, key, p.clock)
            return None
        done = stream.serve(s, e, nbytes, bool(cmd[2]), index)
        # NOTE: Engine._reserve inlined (the completion is known; the address is not needed)
        if len(od) >= maxo:
            od.popleft()
        if len(cmd) <= 3:
            p.cursor += nbytes
        od.append(done)
        p.ready = done
        p.offchip += nbytes
        fly_end = p.fly_end
        if done > fly_end:
            p.add_busy(issue if issue > fly_end else fly_end, done)
            p.fly_end = done
        p.clock = issue
        return send(None)
    return offchip
