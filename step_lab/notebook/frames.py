"""Animation frames computed once from change events (numpy only, no bokeh).

A run of ``cycles`` cycles is cut into at most ``max_frames`` equal windows. For every window the
frame holds, per unit, the state it spent most time in (ties favour busy, then stalls) and the
fraction of the window spent in that state; per FIFO the time-averaged fill fraction; and the
average off-chip bandwidth in bytes/cycle. Step functions are integrated exactly with cumulative
sums evaluated at the window boundaries (``searchsorted``), so the cost is linear in the events.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .occupancy import BUSY, IDLE, STALLED_IN, STALLED_OUT, STATES, Occupancy

__all__ = ["Frames", "compute_frames", "frame_boundaries", "MAX_FRAMES"]

MAX_FRAMES = 2000
MAX_FIFOS = 48          # FIFOs followed per frame: all, or the fullest on average
# When two states fill a window equally, the later one here wins: busy, then stalls, then idle.
_TIE_ORDER = (STALLED_OUT, STALLED_IN, BUSY)


@dataclass
class Frames:
    """Per-frame arrays of one run (F frames, U units, Q FIFOs)."""

    boundaries: np.ndarray      # (F + 1,) cycle boundaries, boundaries[-1] = cycles covered
    state: np.ndarray           # (F, U) int8 dominant state index into STATES
    share: np.ndarray           # (F, U) float fraction of the window in that state
    busy: np.ndarray            # (F, U) float fraction of the window busy
    fifo_fill: np.ndarray       # (F, Q') float time-averaged level / capacity of picked FIFOs
    fifo_pick: np.ndarray       # (Q',) indices into Occupancy.fifos of those FIFOs
    bandwidth: np.ndarray       # (F,) float average off-chip bytes per cycle
    cycles: int                 # cycles of this run (<= boundaries[-1] when frames are shared)

    @property
    def count(self) -> int:
        return len(self.boundaries) - 1

    def frame_of_cycle(self, cycle: int) -> int:
        k = int(np.searchsorted(self.boundaries, cycle, side="right")) - 1
        return min(max(k, 0), self.count - 1)


def frame_boundaries(cycles: int, max_frames: int = MAX_FRAMES) -> np.ndarray:
    """Window boundaries: one frame per cycle for short runs, else ``max_frames`` windows."""
    cycles = max(int(cycles), 1)
    count = min(cycles, max(int(max_frames), 1))
    return np.unique(np.linspace(0, cycles, count + 1).round().astype(np.int64))


def compute_frames(occ: Occupancy, boundaries: np.ndarray | None = None,
                   max_frames: int = MAX_FRAMES, max_fifos: int = MAX_FIFOS) -> Frames:
    """Frames of ``occ`` over ``boundaries`` (default: :func:`frame_boundaries` of the run).

    Per-frame FIFO fill is computed for at most ``max_fifos`` FIFOs: all of them, or those
    with the highest average fill over the whole run (where backpressure is).
    """
    b = frame_boundaries(occ.cycles, max_frames) if boundaries is None else np.asarray(boundaries)
    width = np.diff(b).astype(float)
    times = _state_times(occ, b)                                   # per state: (F, U)
    state = np.full(times[IDLE].shape, IDLE, dtype=np.int8)
    best = times[IDLE]
    for s in _TIE_ORDER:                                           # later wins ties
        better = times[s] >= best
        state[better] = s
        best = np.where(better, times[s], best)
    share = best / width[:, None]
    pick = _fifo_pick(occ, max_fifos)
    return Frames(boundaries=b, state=state, share=share, busy=times[BUSY] / width[:, None],
                  fifo_fill=_fifo_fill(occ, b, width, pick), fifo_pick=pick,
                  bandwidth=_bandwidth(occ, b, width), cycles=occ.cycles)


def _state_times(occ: Occupancy, b: np.ndarray) -> list:
    """Cycles spent in each state per window: one array (F, U) per state of :data:`STATES`."""
    n_units = len(occ.units)
    groups = _Groups(occ.unit_events, n_units, b, occ.cycles)
    out = [None] * len(STATES)
    rest = np.repeat(np.diff(b).astype(float)[:, None], n_units, axis=1)
    for state in range(len(STATES)):
        if state != IDLE:
            out[state] = groups.window_integrals(occ.unit_events[:, 2] == state).T
            rest -= out[state]
    out[IDLE] = rest                                  # including before/after a unit's events
    return out


class _Groups:
    """Step functions of many indices (units or FIFOs) integrated at once, without a loop.

    Events ``(cycle, index, value)`` are sorted by index then cycle (stable: for equal cycles
    the last event wins). Every (index, boundary) pair is located with one ``searchsorted`` on
    the key ``index · span + cycle``; a function is 0 before its index's first event and after
    ``end``.
    """

    def __init__(self, events: np.ndarray, count: int, b: np.ndarray, end: int):
        self.order = np.lexsort((events[:, 0], events[:, 1]))
        self.index = events[self.order, 1]
        self.t = np.minimum(events[self.order, 0], end)
        last = np.append(self.index[1:] != self.index[:-1], True)       # last event of its index
        self.next_t = np.where(last, end, np.append(self.t[1:], end))
        self.first = np.searchsorted(self.index, self.index, side="left")
        span = int(max(end, int(b.max()))) + 1
        keys = self.index * span + self.t
        self.bq = np.minimum(b, end)
        queries = (np.arange(count)[:, None] * span + self.bq[None, :]).ravel()
        pos = np.searchsorted(keys, queries, side="right") - 1
        owner = np.repeat(np.arange(count), len(b))
        self.valid = (pos >= 0) & (self.index[np.clip(pos, 0, None)] == owner)
        self.pos = np.clip(pos, 0, None).reshape(count, len(b))
        self.valid = self.valid.reshape(count, len(b))

    def window_integrals(self, values: np.ndarray) -> np.ndarray:
        """``(count, F)``: the integral of each index's function over each window."""
        if len(self.t) == 0:
            return np.zeros((self.pos.shape[0], len(self.bq) - 1))
        v = np.asarray(values, dtype=float)[self.order]
        area = np.maximum(self.next_t - self.t, 0) * v
        cum = np.concatenate([[0.0], np.cumsum(area)])                  # exclusive prefix sums
        before = cum[:-1] - cum[self.first]                              # within the index
        at = self.pos
        total = before[at] + np.maximum(self.bq[None, :] - self.t[at], 0) * v[at]
        return np.diff(np.where(self.valid, total, 0.0), axis=1)


def _integrate(t: np.ndarray, values: np.ndarray, b: np.ndarray, end: int) -> np.ndarray:
    """``∫_0^b f`` at every boundary ``b`` for the step function ``f = values[k]`` on
    ``[t_k, t_{k+1})``, ``f = 0`` before the first event and after ``end``.

    Returns an array (len(b), columns). Events are stably sorted by time; for equal times the
    last event wins.
    """
    order = np.argsort(t, kind="stable")
    t, values = np.minimum(t[order], end), values[order]
    before = np.zeros(values.shape[1])
    seg_t = np.concatenate([[0], t])
    seg_v = np.vstack([before, values])
    dur = np.diff(np.concatenate([seg_t, [max(end, int(seg_t[-1]))]]))
    cum = np.vstack([np.zeros(values.shape[1]), np.cumsum(dur[:, None] * seg_v, axis=0)])
    idx = np.clip(np.searchsorted(seg_t, b, side="right") - 1, 0, len(seg_t) - 1)
    inside = np.minimum(b, max(end, int(seg_t[-1]))) - seg_t[idx]
    return cum[idx] + np.maximum(inside, 0)[:, None] * seg_v[idx]


def _fifo_pick(occ: Occupancy, limit: int) -> np.ndarray:
    """All FIFO indices, or the ``limit`` with the highest average fill over the run."""
    count = len(occ.fifos)
    if count <= limit:
        return np.arange(count)
    whole = np.array([0, occ.cycles])
    mean = _fifo_fill(occ, whole, np.diff(whole).astype(float), np.arange(count))[0]
    return np.sort(np.argsort(-mean, kind="stable")[:limit])


def _fifo_fill(occ: Occupancy, b: np.ndarray, width: np.ndarray,
               pick: np.ndarray) -> np.ndarray:
    """``(F, len(pick))`` time-averaged fill fraction of the FIFOs ``pick`` per window."""
    if len(pick) == 0:
        return np.zeros((len(b) - 1, 0))
    remap = np.full(len(occ.fifos), -1)
    remap[pick] = np.arange(len(pick))
    events = occ.fifo_events[remap[occ.fifo_events[:, 1]] >= 0]
    events = np.column_stack([events[:, 0], remap[events[:, 1]], events[:, 2]])
    groups = _Groups(events, len(pick), b, occ.cycles)
    capacity = np.array([max(occ.fifos[q].capacity, 1) for q in pick], dtype=float)
    levels = groups.window_integrals(events[:, 2]).T                     # (F, Q')
    return np.clip(levels / width[:, None] / capacity[None, :], 0.0, 1.0)


def _bandwidth(occ: Occupancy, b: np.ndarray, width: np.ndarray) -> np.ndarray:
    """Average bytes/cycle per window; each access moves its bytes evenly over its span, and
    no window moves more than the off-chip bandwidth allows.

    [Choice] An access's span runs from its first request to its completion, so it includes
    the time its requests waited behind other accesses: spreading its bytes evenly over it
    credits some to windows in which the memory was busy serving others (a Qwen3 b64 layer's
    weight tiles span 46,000 cycles each: spread evenly, 80 % of the frames showed more than
    the configured bandwidth, up to 1.5×). The bytes credited to the windows are therefore
    served as a first-come, first-served queue at ``offchip_bytes_per_cycle`` would serve
    them: what a window cannot carry moves to the next one (bytes conserved, never above the
    peak except for what is still queued when the run ends, added to the last window)."""
    ev = occ.hbm_events
    if len(ev) == 0:
        return np.zeros(len(b) - 1)
    start = ev[:, 0]
    end = np.maximum(ev[:, 1], start + 1)
    rate = ev[:, 2] / (end - start)
    times = np.concatenate([start, end])
    order = np.argsort(times, kind="stable")
    level = np.cumsum(np.concatenate([rate, -rate])[order])
    horizon = max(occ.cycles, int(end.max()))
    moved = _integrate(times[order], level[:, None], b, horizon)[:, 0]
    return _served(np.diff(moved), width, float(occ.offchip_bytes_per_cycle)) / width


def _served(arriving: np.ndarray, width: np.ndarray, cap: float) -> np.ndarray:
    """Bytes a first-come, first-served server of ``cap`` bytes/cycle moves per window when
    ``arriving`` bytes reach it per window (the queue left at the end goes to the last)."""
    if cap <= 0 or not len(arriving):
        return arriving
    capacity = cap * width
    if np.all(arriving <= capacity):               # the usual case: nothing waits
        return arriving
    out = np.empty_like(arriving)
    queued = 0.0
    for k, (a, c) in enumerate(zip(arriving.tolist(), capacity.tolist(), strict=True)):
        queued += a
        out[k] = queued if queued < c else c
        queued -= out[k]
    out[-1] += queued
    return out
