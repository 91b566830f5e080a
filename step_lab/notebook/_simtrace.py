"""Convert the simulator's :class:`~step_lab.sim.trace.Trace` into an :class:`Occupancy`.

The trace records busy intervals per node, put/get cycles per FIFO and HBM accesses. A unit's
state at cycle ``c`` is derived from them (priority order):

* **busy** — one of its nodes has a busy interval covering ``c``;
* **stalled on output** — a node's output FIFO is full (level = capacity) at ``c``;
* **stalled on input** — a node has started (its first busy cycle) but not finished (its last
  busy cycle) and is neither busy nor blocked on output: it waits for tokens;
* **idle** — before its first and after its last busy cycle (nothing arrived / all done).

Only nodes placed on a unit (compute and memory operators) are drawn; routing and shape
operators live in the network. Several nodes on one cell (time-multiplexing) combine by the
priority above. Everything is vectorised with numpy: cost is linear in the trace size.
"""
from __future__ import annotations

import numpy as np

from .occupancy import BUSY, IDLE, STALLED_IN, STALLED_OUT, Fifo, Occupancy, Unit

__all__ = ["convert"]

# Combination rank of states on a shared unit: busy > stalled out > stalled in > idle.
_RANK = np.zeros(4, np.int8)
_RANK[[IDLE, STALLED_IN, STALLED_OUT, BUSY]] = [0, 1, 2, 3]
_BY_RANK = np.array([IDLE, STALLED_IN, STALLED_OUT, BUSY], np.int8)


def convert(result, trace, program=None, label: str = "") -> Occupancy:
    fifo_names = list(trace.fifos)
    fifos = [Fifo(name, int(trace.fifos[name].capacity)) for name in fifo_names]
    levels = {name: _levels(trace.fifos[name]) for name in fifo_names}
    cells = _cells(trace)
    outputs: dict = {}
    for name in fifo_names:
        fifo = trace.fifos[name]
        outputs.setdefault(fifo.producer, []).append((levels[name], fifo.capacity))
    nodes = {n.name: n for n in program.nodes} if program is not None else {}
    units, unit_events = [], []
    for index, (cell, names) in enumerate(sorted(cells.items())):
        units.append(_unit(cell, names, result, nodes))
        times, states = _unit_states(trace, names, outputs)
        unit_events.append(np.column_stack([times, np.full(len(times), index), states]))
    fifo_events = [np.column_stack([t, np.full(len(t), q), lv])
                   for q, (t, lv) in enumerate(levels[n] for n in fifo_names)]
    hbm = _hbm_transfers(trace, result)
    placement = getattr(result, "placement", None)
    return Occupancy(cycles=int(trace.cycles), units=units,
                     unit_events=_stack(unit_events, 3), fifos=fifos,
                     fifo_events=_stack(fifo_events, 3), hbm_events=hbm,
                     offchip_bytes_per_cycle=float(result.hw.offchip_bytes_per_cycle),
                     label=label or getattr(result, "program", ""),
                     grid=tuple(placement.grid) if placement is not None else None)


def _hbm_transfers(trace, result) -> np.ndarray:
    """``(start, end, bytes)`` per access: the data moves between the first burst's start and
    the completion minus the HBM latency (the tail is latency, not bandwidth)."""
    hbm = np.asarray(trace.hbm, dtype=np.int64).reshape(-1, 5)[:, :3].copy()
    latency = int(getattr(getattr(result, "hw", None), "hbm_latency_cycles", 0) or 0)
    hbm[:, 1] = np.maximum(hbm[:, 1] - latency, hbm[:, 0] + 1)
    return hbm


def _stack(parts: list, width: int) -> np.ndarray:
    parts = [p for p in parts if len(p)]
    return np.vstack(parts).astype(np.int64) if parts else np.zeros((0, width), np.int64)


def _cells(trace) -> dict:
    cells: dict = {}
    for name in trace.node_names or trace.units:
        cell = trace.units.get(name)
        if cell is not None:
            cells.setdefault((int(cell[0]), int(cell[1])), []).append(name)
    return cells


def _unit(cell: tuple, names: list, result, nodes: dict) -> Unit:
    """``nodes``: name -> Node of the program (may be empty: then the cell kind decides)."""
    ops = [_op_of(n, result, nodes) for n in names]
    group = _group_of(names[0], nodes, cell)
    return Unit(" + ".join(names), " + ".join(dict.fromkeys(ops)), group, cell[0], cell[1])


def _op_of(name: str, result, nodes: dict) -> str:
    stats = (getattr(result, "per_node", None) or {}).get(name, {})
    if "op" in stats:
        return str(stats["op"])
    return type(nodes[name]).__name__ if name in nodes else "?"


def _group_of(name: str, nodes: dict, cell: tuple) -> str:
    if name in nodes:
        return nodes[name].group
    from ..hw.placement import cell_kind
    return "higher-order" if cell_kind(*cell) == "compute" else "memory"


def _levels(fifo) -> tuple[np.ndarray, np.ndarray]:
    """``(cycles, levels)`` at every change of a FIFO's occupancy."""
    puts = np.asarray(fifo.puts, dtype=np.int64)
    gets = np.asarray(fifo.gets, dtype=np.int64)
    times = np.unique(np.concatenate([puts, gets]))
    level = (np.searchsorted(puts, times, side="right")
             - np.searchsorted(gets, times, side="right"))
    return times, level


def _unit_states(trace, names: list, outputs: dict) -> tuple[np.ndarray, np.ndarray]:
    """Change events of the combined state of the nodes on one unit."""
    per_node = [_node_states(trace, n, outputs.get(n, [])) for n in names]
    times = np.unique(np.concatenate([t for t, _ in per_node] + [np.zeros(1, np.int64)]))
    rank = np.zeros(len(times), np.int8)
    for t, s in per_node:
        at = np.clip(np.searchsorted(t, times, side="right") - 1, 0, None)
        here = np.where(times >= t[0], _RANK[s[at]], 0) if len(t) else 0
        rank = np.maximum(rank, here)
    states = _BY_RANK[rank]
    keep = np.concatenate([[True], states[1:] != states[:-1]])
    return times[keep], states[keep]


def _node_states(trace, name: str, outs: list) -> tuple[np.ndarray, np.ndarray]:
    """State change events of one node; ``outs`` = ``[((cycles, levels), capacity), …]`` of its
    output FIFOs."""
    busy = np.asarray(trace.busy.get(name, ()), dtype=np.int64)
    if len(busy) == 0:
        return np.zeros(1, np.int64), np.array([IDLE], np.int8)
    start, end = int(busy[0]), int(busy[-1])
    points = np.unique(np.concatenate([busy, [0, start, end]] + [lv[0] for lv, _ in outs]))
    is_busy = np.searchsorted(busy, points, side="right") % 2 == 1
    full = np.zeros(len(points), bool)
    for (t, lv), capacity in outs:
        at = np.searchsorted(t, points, side="right") - 1
        full |= (at >= 0) & (lv[np.clip(at, 0, None)] >= capacity)
    active = (points >= start) & (points < end)
    states = np.where(is_busy, BUSY, np.where(full, STALLED_OUT,
                                              np.where(active, STALLED_IN, IDLE)))
    return points, states.astype(np.int8)
