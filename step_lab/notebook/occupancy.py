"""The occupancy adapter: what the animation needs from a simulation trace.

The animation never reads the simulator's trace directly; it reads an :class:`Occupancy`, a small
documented record of *change events*, so the frame computation can be tested with a synthetic
trace and the simulator's trace format can evolve behind
:func:`step_lab.notebook._simtrace.occupancy_from_result`.

An :class:`Occupancy` holds

* ``cycles`` — length of the run (events at or after it are ignored);
* ``units`` — one :class:`Unit` per hardware unit: its node name, operator type, operator group
  and grid position ``(row, col)`` from the placement;
* ``unit_events`` — int array ``(n, 3)``: ``cycle, unit index, state`` where state is one of
  :data:`STATES` (index); a unit keeps its state until its next event and is idle before its
  first one;
* ``fifos`` — one :class:`Fifo` per channel (name, capacity in tokens);
* ``fifo_events`` — int array ``(n, 3)``: ``cycle, fifo index, level`` (tokens held from then on);
* ``hbm_events`` — int array ``(n, 3)``: ``start, end, bytes`` of every off-chip access (its
  bytes are spread evenly over ``[start, end)``; ``end <= start`` means the single cycle
  ``start``);
* ``offchip_bytes_per_cycle`` — the configured peak, for the bandwidth plot's ceiling.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = ["STATES", "IDLE", "BUSY", "STALLED_IN", "STALLED_OUT", "Unit", "Fifo", "Occupancy",
           "grid_positions"]

STATES = ("idle", "busy", "stalled on input", "stalled on output")
IDLE, BUSY, STALLED_IN, STALLED_OUT = range(4)


@dataclass(frozen=True)
class Unit:
    """One hardware unit running one operator node at grid position ``(row, col)``."""

    name: str
    op: str
    group: str
    row: int
    col: int


@dataclass(frozen=True)
class Fifo:
    """One on-chip channel with its capacity in tokens."""

    name: str
    capacity: int


@dataclass
class Occupancy:
    """Change events of every unit, FIFO and the off-chip memory over one run."""

    cycles: int
    units: list
    unit_events: np.ndarray
    fifos: list = field(default_factory=list)
    fifo_events: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int64))
    hbm_events: np.ndarray = field(default_factory=lambda: np.zeros((0, 3), np.int64))
    offchip_bytes_per_cycle: float = 1024.0
    label: str = ""
    grid: tuple | None = None       # (rows, cols) of the placement, to draw unused units too

    def __post_init__(self):
        self.unit_events = _events(self.unit_events, 3, "unit_events")
        self.fifo_events = _events(self.fifo_events, 3, "fifo_events")
        self.hbm_events = _events(self.hbm_events, 3, "hbm_events")
        self.cycles = max(int(self.cycles), 1)


def _events(value, width: int, what: str) -> np.ndarray:
    arr = np.asarray(value, dtype=np.int64)
    if arr.size == 0:
        return np.zeros((0, width), np.int64)
    if arr.ndim != 2 or arr.shape[1] != width:
        raise ValueError(f"Occupancy.{what} has shape {arr.shape} (expected (n, {width}))")
    return arr


def grid_positions(count: int, columns: int | None = None) -> list[tuple[int, int]]:
    """Row-major ``(row, col)`` positions on a near-square grid (placement fallback)."""
    columns = columns or max(1, math.ceil(math.sqrt(count)))
    return [(i // columns, i % columns) for i in range(count)]
