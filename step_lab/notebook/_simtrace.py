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

__all__ = ["convert", "occupancy_from_result"]

def convert(result, trace, program=None, label: str = "") -> Occupancy:
    fifo_names = list(trace.fifos)
    fifos = [Fifo(name, int(trace.fifos[name].capacity)) for name in fifo_names]
    fifo_events = _all_levels([trace.fifos[n] for n in fifo_names])
    cells = _cells(trace)
    nodes = {n.name: n for n in program.nodes} if program is not None else {}
    units = [_unit(cell, names, result, nodes) for cell, names in sorted(cells.items())]
    unit_events = _unit_events(trace, [names for _, names in sorted(cells.items())],
                               [trace.fifos[n] for n in fifo_names], fifo_events)
    hbm = _hbm_transfers(trace, result)
    placement = getattr(result, "placement", None)
    return Occupancy(cycles=int(trace.cycles), units=units, unit_events=unit_events, fifos=fifos,
                     fifo_events=fifo_events, hbm_events=hbm,
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


_NONE = np.zeros(0, np.int64)


def _i64(values) -> np.ndarray:
    """An int64 view of an ``array('q')`` (no copy), or a converted copy of anything else.
    NOTE: an empty log (most FIFOs and units of a large layer) is one shared empty array:
    ``np.asarray`` of an empty ``array('q')`` cost 5 µs, 16,000 times per player."""
    if getattr(values, "typecode", None) == "q":
        return np.frombuffer(values, dtype=np.int64) if len(values) else _NONE
    if isinstance(values, (tuple, list)) and not values:
        return _NONE
    return np.asarray(values, dtype=np.int64).reshape(-1)


def _grouped(parts: list) -> tuple[np.ndarray, np.ndarray]:
    """``(concatenated values, owner index per value)`` of a list of arrays."""
    lengths = np.array([len(p) for p in parts], dtype=np.int64)
    if lengths.sum() == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    return np.concatenate(parts), np.repeat(np.arange(len(parts)), lengths)


def _last_of_runs(*keys: np.ndarray) -> np.ndarray:
    """Mask of the last element of every run of equal keys (arrays sorted by those keys)."""
    last = np.ones(len(keys[0]), bool)
    if len(last) > 1:
        same = np.ones(len(last) - 1, bool)
        for k in keys:
            same &= k[1:] == k[:-1]
        last[:-1] = ~same
    return last


def _cumsum_within(values: np.ndarray, owner: np.ndarray) -> np.ndarray:
    """Running sums of ``values`` restarting at every owner (``owner`` sorted)."""
    total = np.cumsum(values)
    if len(total) == 0:
        return total
    first = np.searchsorted(owner, owner, side="left")
    return total - total[first] + values[first]


def _all_levels(fifos: list) -> np.ndarray:
    """``(cycle, fifo index, level)`` at every change of every FIFO's occupancy, sorted by
    FIFO then cycle (a put and a get in one cycle give one event with the net level)."""
    puts, put_q = _grouped([_i64(f.puts) for f in fifos])
    gets, get_q = _grouped([_i64(f.gets) for f in fifos])
    t = np.concatenate([puts, gets])
    q = np.concatenate([put_q, get_q])
    delta = np.concatenate([np.ones(len(puts), np.int64), -np.ones(len(gets), np.int64)])
    order = np.lexsort((t, q))
    t, q, delta = t[order], q[order], delta[order]
    level = _cumsum_within(delta, q)
    keep = _last_of_runs(q, t)
    return np.column_stack([t[keep], q[keep], level[keep]]).astype(np.int64)


def _unit_events(trace, cells: list, fifos: list, fifo_events: np.ndarray) -> np.ndarray:
    """``(cycle, unit index, state)`` change events of every unit (see the module docstring).

    One sweep over counters per unit: busy intervals of its nodes, full output FIFOs of its
    nodes that work at all, and nodes between their first and last busy cycle. A unit is busy
    if any node is busy, else stalled on output if any output FIFO is full, else stalled on
    input if any node is active, else idle (the priority of a shared unit's nodes).
    """
    unit_of = {name: u for u, names in enumerate(cells) for name in names}
    times, owners, kinds, deltas = [], [], [], []

    def add(t, u, kind, delta):
        times.append(t)
        owners.append(np.full(len(t), u, np.int64))
        kinds.append(np.full(len(t), kind, np.int8))
        deltas.append(delta)
    working = set()
    for name, u in unit_of.items():
        busy = _i64(trace.busy.get(name, ()))
        if len(busy) == 0:
            continue
        working.add(name)
        add(busy, u, 0, np.tile(np.array([1, -1], np.int64), len(busy) // 2))
        add(np.array([busy[0], busy[-1]], np.int64), u, 2, np.array([1, -1], np.int64))
    full = _full_changes(fifos, fifo_events)
    for q, fifo in enumerate(fifos):
        u = unit_of.get(fifo.producer)
        if u is not None and fifo.producer in working and q in full:
            add(full[q][0], u, 1, full[q][1])
    times.append(np.zeros(len(cells), np.int64))              # every unit's state at cycle 0
    owners.append(np.arange(len(cells), dtype=np.int64))
    kinds.append(np.zeros(len(cells), np.int8))
    deltas.append(np.zeros(len(cells), np.int64))
    t, u = np.concatenate(times), np.concatenate(owners)
    kind, delta = np.concatenate(kinds), np.concatenate(deltas)
    order = np.lexsort((t, u))
    t, u, kind, delta = t[order], u[order], kind[order], delta[order]
    counts = [_cumsum_within(np.where(kind == k, delta, 0), u) for k in range(3)]
    keep = _last_of_runs(u, t)
    busy, fullc, active = (c[keep] for c in counts)
    state = np.where(busy > 0, BUSY, np.where(fullc > 0, STALLED_OUT,
                                              np.where(active > 0, STALLED_IN, IDLE)))
    t, u = t[keep], u[keep]
    changed = np.ones(len(t), bool)
    changed[1:] = (u[1:] != u[:-1]) | (state[1:] != state[:-1])
    return np.column_stack([t[changed], u[changed], state[changed]]).astype(np.int64)


def _full_changes(fifos: list, events: np.ndarray) -> dict:
    """``{fifo index: (cycles, ±1)}`` where a FIFO becomes full (+1) or stops being full (−1)."""
    if len(events) == 0:
        return {}
    capacity = np.array([f.capacity for f in fifos], dtype=np.int64)
    q = events[:, 1]
    is_full = (events[:, 2] >= capacity[q]).astype(np.int64)
    before = np.zeros(len(q), np.int64)
    same = np.zeros(len(q), bool)
    same[1:] = q[1:] == q[:-1]
    before[1:] = np.where(same[1:], is_full[:-1], 0)
    change = is_full - before
    at = np.flatnonzero(change != 0)
    out: dict = {}
    if len(at) == 0:
        return out
    bounds = np.searchsorted(q[at], np.arange(len(fifos) + 1), side="left")
    for index in np.flatnonzero(np.diff(bounds)):
        sel = at[bounds[index]:bounds[index + 1]]
        out[int(index)] = (events[sel, 0], change[sel])
    return out


def occupancy_from_result(result, program=None, label: str = "") -> Occupancy:
    """The :class:`Occupancy` of a :class:`step_lab.sim.SimResult` recorded with ``trace=True``.

    Raises ``ValueError`` naming the fix when the result carries no trace.
    """
    trace = getattr(result, "trace", None)
    if trace is None:
        raise ValueError("this SimResult has no trace (simulate with trace=True, or use "
                         "%%step --animate)")
    return convert(result, trace, program, label)
