"""The browser player's data: a run's occupancy shipped once, compactly (numpy only, no bokeh).

Instead of one copy of every unit's state per frame, the player receives the *change events* of
every unit (run-length per unit: ``cycle, state`` from then on), grouped per unit, plus the
change events of the fullest FIFOs, and computes any frame in the browser from cumulative sums.
:func:`decode_frame` is the reference implementation of that computation (the JavaScript in
:mod:`._player_js` mirrors it) and the tests check it against :mod:`.frames`.

Units are grouped by what they belong to (:func:`group_units`): the node's name scope when the
IR provides one (``node.scope``, outermost first), else the prefix of the node name
(``r12_we40_pack`` → ``r12``, ``e3_wg`` → ``e3``), else the operator group.

[Choice] A unit's group is the full name scope joined by `` / `` (``("layer 0", "expert 12")``
→ ``layer 0 / expert 12``): every innermost scope is a cell. Unscoped nodes fall back to the
node-name prefix before the first ``_``, then to the operator group (``memory``, …).
"""
from __future__ import annotations

import base64
import re
from dataclasses import dataclass

import numpy as np

from .frames import MAX_FIFOS, _bandwidth, _fifo_pick, _Groups, frame_boundaries
from .occupancy import BUSY, IDLE, STALLED_IN, STALLED_OUT, Occupancy

__all__ = ["RunData", "build_run", "group_units", "group_of_name", "heatmap_levels",
           "decode_frame", "encode_array", "HEATMAP_BINS", "LEVELS"]

HEATMAP_BINS = 240
LEVELS = 4              # heatmap shades per state: share in (0, ¼], (¼, ½], (½, ¾], (¾, 1]
IDLE_BELOW = 0.02      # a heatmap cell less active than this is drawn idle
_PREFIX = re.compile(r"^([A-Za-z]+\d*)_.")


def group_of_name(name: str, fallback: str = "other") -> str:
    """The group of an unscoped node from its name: ``r12_we40_pack`` → ``r12``."""
    match = _PREFIX.match(name)
    return match.group(1) if match else fallback


def _natural(text: str) -> list:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", text)]


def group_units(occ: Occupancy, program=None) -> tuple[list[str], np.ndarray]:
    """``(group names, group index per unit)``; groups in natural order (``e2`` before ``e10``).

    A unit running several nodes (time-multiplexing) belongs to the group of its first node.
    """
    nodes = {n.name: n for n in program.nodes} if program is not None else {}
    keys = []
    for unit in occ.units:
        first = unit.name.split(" + ")[0]
        scope = tuple(getattr(nodes.get(first), "scope", ()) or ())
        keys.append(" / ".join(scope) if scope else group_of_name(first, unit.group))
    names = sorted(set(keys), key=_natural)
    index = {k: i for i, k in enumerate(names)}
    return names, np.array([index[k] for k in keys], dtype=np.int32)


def encode_array(arr: np.ndarray, dtype) -> dict:
    """``{"dtype", "b64"}``: a little-endian typed array for the browser."""
    data = np.ascontiguousarray(np.asarray(arr).astype(dtype, copy=False))
    return {"dtype": np.dtype(dtype).name, "b64": base64.b64encode(data.tobytes()).decode()}


@dataclass
class RunData:
    """Everything the player needs of one run (see :func:`build_run`)."""

    label: str
    cycles: int
    unit_names: list
    unit_ops: list
    unit_group: np.ndarray        # (U,) group index per unit
    groups: list                  # group names
    offsets: np.ndarray           # (U + 1,) start of each unit's events in times/states
    times: np.ndarray             # (E,) event cycles, per unit ascending, clipped to cycles
    states: np.ndarray            # (E,) state index (STATES) from that cycle on
    fifo_names: list
    fifo_capacity: np.ndarray
    fifo_offsets: np.ndarray
    fifo_times: np.ndarray
    fifo_levels: np.ndarray
    fifo_total: int               # FIFOs in the run (those shipped are the fullest)
    bandwidth: np.ndarray         # (F,) bytes/cycle per frame of the shared boundaries
    peak: float                   # configured off-chip bytes/cycle
    heat_edges: np.ndarray        # (B + 1,) cycle bins of the heatmap
    heat_shares: np.ndarray       # (G, B, 4) share of the group's unit-cycles per state

    def payload(self) -> dict:
        """The JSON sent to the browser (typed arrays as base64)."""
        return {"label": self.label, "cycles": int(self.cycles), "units": self.unit_names,
                "ops": self.unit_ops, "groups": self.groups,
                "unit_group": encode_array(self.unit_group, np.int32),
                "offsets": encode_array(self.offsets, np.int32),
                "times": encode_array(self.times, np.int32),
                "states": encode_array(self.states, np.uint8),
                "fifo_names": self.fifo_names, "fifo_total": int(self.fifo_total),
                "fifo_capacity": encode_array(self.fifo_capacity, np.int32),
                "fifo_offsets": encode_array(self.fifo_offsets, np.int32),
                "fifo_times": encode_array(self.fifo_times, np.int32),
                "fifo_levels": encode_array(self.fifo_levels, np.int32),
                "peak": float(self.peak)}


def build_run(occ: Occupancy, boundaries: np.ndarray, program=None, *,
              bins: int = HEATMAP_BINS, max_fifos: int = MAX_FIFOS) -> RunData:
    """The compact data of ``occ``; ``boundaries`` are the player's shared frame boundaries."""
    groups, unit_group = group_units(occ, program)
    offsets, times, states = _per_unit(occ.unit_events, len(occ.units), occ.cycles)
    pick = _fifo_pick(occ, max_fifos)
    f_off, f_t, f_lv = _per_fifo(occ, pick)
    width = np.diff(boundaries).astype(float)
    edges = frame_boundaries(occ.cycles, bins)
    return RunData(label=occ.label, cycles=occ.cycles, unit_names=[u.name for u in occ.units],
                   unit_ops=[u.op for u in occ.units], unit_group=unit_group, groups=groups,
                   offsets=offsets, times=times, states=states,
                   fifo_names=[occ.fifos[q].name for q in pick],
                   fifo_capacity=np.array([max(occ.fifos[q].capacity, 1) for q in pick],
                                          dtype=np.int64),
                   fifo_offsets=f_off, fifo_times=f_t, fifo_levels=f_lv,
                   fifo_total=len(occ.fifos), bandwidth=_bandwidth(occ, boundaries, width),
                   peak=occ.offchip_bytes_per_cycle, heat_edges=edges,
                   heat_shares=_group_shares(occ, unit_group, len(groups), edges))


def _per_unit(events: np.ndarray, count: int, cycles: int):
    """Events sorted by unit then cycle (stable: the last of equal cycles wins), repeated
    states dropped; returns ``(offsets, times, states)``."""
    order = np.lexsort((events[:, 0], events[:, 1]))
    unit, t, s = events[order, 1], np.minimum(events[order, 0], cycles), events[order, 2]
    if len(t):
        same_time = np.append((unit[1:] == unit[:-1]) & (t[1:] == t[:-1]), False)
        unit, t, s = unit[~same_time], t[~same_time], s[~same_time]
        repeat = np.concatenate([[False], (unit[1:] == unit[:-1]) & (s[1:] == s[:-1])])
        unit, t, s = unit[~repeat], t[~repeat], s[~repeat]
    offsets = np.searchsorted(unit, np.arange(count + 1), side="left")
    return offsets.astype(np.int64), t.astype(np.int64), s.astype(np.int8)


def _per_fifo(occ: Occupancy, pick: np.ndarray):
    if len(pick) == 0:
        return np.zeros(1, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    remap = np.full(len(occ.fifos), -1)
    remap[pick] = np.arange(len(pick))
    ev = occ.fifo_events[remap[occ.fifo_events[:, 1]] >= 0]
    q = remap[ev[:, 1]]
    order = np.lexsort((ev[:, 0], q))
    q, t, lv = q[order], np.minimum(ev[order, 0], occ.cycles), ev[order, 2]
    offsets = np.searchsorted(q, np.arange(len(pick) + 1), side="left")
    return offsets.astype(np.int64), t.astype(np.int64), lv.astype(np.int64)


def _group_shares(occ: Occupancy, unit_group: np.ndarray, count: int,
                  edges: np.ndarray) -> np.ndarray:
    """``(G, B, 4)``: per group and bin, the share of its unit-cycles in each state."""
    n_units = len(occ.units)
    width = np.diff(edges).astype(float)
    out = np.zeros((count, len(width), 4))
    if n_units == 0:
        return out
    integ = _Groups(occ.unit_events, n_units, edges, occ.cycles)
    busy_etc = np.zeros((n_units, len(width)))
    # per-group sums: the units sorted by group (stably: each group's own order, the order
    # np.add.at adds them in), one reduceat per state; every group has a unit
    order = np.argsort(unit_group, kind="stable")
    starts = np.searchsorted(unit_group[order], np.arange(count))
    for state in (BUSY, STALLED_IN, STALLED_OUT):
        per_unit = integ.window_integrals(occ.unit_events[:, 2] == state)      # (U, B)
        busy_etc += per_unit
        out[:, :, state] = np.add.reduceat(per_unit[order], starts, axis=0)
    out[:, :, IDLE] = np.add.reduceat((width[None, :] - busy_etc)[order], starts, axis=0)
    sizes = np.bincount(unit_group, minlength=count).astype(float)
    return out / (sizes[:, None, None] * width[None, :, None])


def heatmap_levels(shares: np.ndarray, levels: int = LEVELS) -> np.ndarray:
    """Colour index per heatmap cell: 0 = idle (nothing active), else ``1 + (state − 1) ·
    levels + shade`` for the dominant non-idle state (busy, stalled on input, stalled on
    output; ties favour busy) and the shade of its share (``levels`` equal steps); cells active
    less than :data:`IDLE_BELOW` of the time are idle."""
    active = shares[..., 1:]                                  # busy, stall in, stall out
    dominant = np.argmax(active, axis=-1)                     # first max wins: busy on ties
    share = np.take_along_axis(active, dominant[..., None], axis=-1)[..., 0]
    shade = np.clip(np.ceil(share * levels).astype(int) - 1, 0, levels - 1)
    index = 1 + dominant * levels + shade
    return np.where(share < IDLE_BELOW, 0, index).astype(np.uint8)


def decode_frame(run: RunData, lo: int, hi: int) -> np.ndarray:
    """``(U, 4)`` cycles each unit spent in each state in ``[lo, hi)``: what the browser
    computes for a frame from the compact events (the reference for the JavaScript)."""
    out = np.zeros((len(run.unit_names), 4))
    for u in range(len(run.unit_names)):
        a, b = run.offsets[u], run.offsets[u + 1]
        t = np.append(run.times[a:b], run.cycles)
        s = run.states[a:b]
        start = np.clip(t[:-1], lo, hi)
        end = np.clip(t[1:], lo, hi)
        np.add.at(out[u], s, np.maximum(end - start, 0))
    out[:, IDLE] = (hi - lo) - out[:, [BUSY, STALLED_IN, STALLED_OUT]].sum(axis=1)
    return out
