"""The cost terms of a command beyond its port cycle (STEP.md §7.2), as plain functions of a
process and its plan: the memory-resident input term and the Bufferize write (GET), Partition
port switches, Streamify reads and write-back (PUT), the element cost of COMPUTE and the turn of
a shared unit (time-multiplexing, §8.2). The event loop (``engine.py``) calls them only when the
node's plan says the term can be non-zero (``in_cost``, ``out_cost``, ``plain_compute``).
"""
from __future__ import annotations

from ..errors import ConfigError
from .plan import value_bytes
from .state import Proc

__all__ = ["in_cost", "out_cost", "element_cost", "claim_unit"]


def in_cost(p: Proc, port: int, tok: object, clock: int) -> int:
    """After a data GET on ``port``: the Bufferize write of the tile (input 0) takes its cycles
    now; memory-resident input bytes are added up for the next COMPUTE. The new clock."""
    plan = p.plan
    if plan.move_in:
        if port == 0:
            p.add_busy(clock, clock + plan.move_in)
            clock += plan.move_in
        return clock
    spec = plan.resident[port]
    if spec:
        p.res_bytes += spec if type(spec) is int else value_bytes(tok, *spec)
    return clock


def out_cost(p: Proc, j: int, tok: object, data: bool, t: int) -> int:
    """Before a PUT on output ``j`` at cycle ``t``: a port switch (Partition), the Streamify
    buffer read, the write-back of a result. The put's new cycle."""
    plan = p.plan
    if plan.switch_cost:
        if p.last_out is not None and p.last_out != j:
            # a switch is a bubble: the node moves nothing else meanwhile
            t += plan.switch_cost
            p.add_busy(t - plan.switch_cost, t)
            in_next = p.in_next
            for i in range(len(in_next)):
                if in_next[i] <= t:
                    in_next[i] = t + 1
        p.last_out = j
    if not data:
        return t
    if plan.move_out:
        p.add_busy(t, t + plan.move_out)
        t += plan.move_out
    elif plan.write_back:
        w = -(-value_bytes(tok, plan.out_types[j]) // plan.onchip_bw)
        if w > p.last_cost:
            p.add_busy(t, t + w - p.last_cost)
            t += w - p.last_cost
            p.last_cost = w
    return t


def element_cost(p: Proc, flops: int, clock: int) -> int:
    """COMPUTE of one element: max(⌈resident bytes/BW⌉, ⌈FLOPs/C⌉) from ``clock`` (after the
    unit's turn when it is shared); the write-back term is charged at PUT. The new clock."""
    plan = p.plan
    cost = 0
    if flops:
        bw = plan.compute_bw
        if bw <= 0:
            raise ConfigError(
                f"{p.name!r} ({type(p.node).__name__}) needs {flops} FLOPs per element but "
                f"its compute bandwidth is {bw} FLOPs/cycle (expected compute_bw > 0; set "
                "compute_bw= on the node or hw.compute_flops_per_cycle)")
        cost = int(-(-flops // bw))
    if p.res_bytes:
        memory = -(-p.res_bytes // plan.onchip_bw)
        p.res_bytes = 0
        if memory > cost:
            cost = memory
    if p.unit is not None:
        clock = claim_unit(p, clock)
        p.unit.free = clock + cost
    if cost:
        p.add_busy(clock, clock + cost)
        clock += cost
    p.last_cost = cost
    p.flops += flops
    return clock


def claim_unit(p: Proc, clock: int) -> int:
    """The cycle ``p`` may start on its shared unit: when the unit is free, plus the
    reconfiguration cost when the previous user was another node."""
    unit = p.unit
    assert unit is not None
    start = unit.free if unit.free > clock else clock
    if unit.last is not p:
        if unit.last is not None:
            start += p.plan.reconfig
        unit.last = p
    return start
