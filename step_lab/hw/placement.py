"""Placement of program nodes onto the unit grid of the SDA (STEP.md §1, §7.4, §8.2).

The grid is a checkerboard of **compute units** (cells with even ``row + col``) and **memory
units** (odd), as in Plasticine-style SDAs. Rules of the automatic placement:

* higher-order operators (Map, Accum, Scan, FlatMap) take a compute unit; their compute bandwidth
  C is reported as ``⌈C / flops_per_cycle_per_unit⌉`` 16×16 compute tiles of that unit;
* memory operators (off-chip loads/stores, Bufferize, Streamify) take a memory unit;
* routing and shape operators and program inputs/outputs/feedback placeholders live in the
  on-chip **network** (no unit): their ``anchor`` is the unit of their nearest placed producer
  (or consumer), used only to draw them.

Units are filled in snake order (row 0 left to right, row 1 right to left, …) in program order, so
neighbouring nodes land on neighbouring units. ``placement={"map3": (2, 4), …}`` overrides the
cell of any placed node; the rest are placed automatically around it. Several nodes on one cell
are **time-multiplexed**: the simulator serialises their work on the unit and charges
``hw.reconfiguration_cycles`` whenever the unit switches node. With a fixed ``hw.grid`` that is too
small, ``hw.time_multiplex=True`` shares units round-robin; otherwise a ConfigError says how many
units are missing.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..errors import ConfigError, did_you_mean
from ..ir.program import Program

if TYPE_CHECKING:
    from .config import HardwareConfig

__all__ = ["Placement", "place", "unit_kind", "cell_kind"]


def unit_kind(node: object) -> str | None:
    """"compute", "memory" or None (network) for a node, from its operator group."""
    group = getattr(node, "group", "other")
    if group == "higher-order":
        return "compute"
    if group == "memory":
        return "memory"
    return None


def cell_kind(row: int, col: int) -> str:
    return "compute" if (row + col) % 2 == 0 else "memory"


@dataclass
class Placement:
    """Where every node runs: ``unit_of[name]`` is a ``(row, col)`` cell or None (network)."""

    grid: tuple
    unit_of: dict
    anchor: dict = field(default_factory=dict)
    compute_tiles: dict = field(default_factory=dict)

    @property
    def shared(self) -> dict:
        """``{cell: [node names]}`` for cells hosting more than one node (time-multiplexed)."""
        by_cell: dict = {}
        for name, cell in self.unit_of.items():
            if cell is not None:
                by_cell.setdefault(cell, []).append(name)
        return {cell: names for cell, names in by_cell.items() if len(names) > 1}

    def to_dict(self) -> dict:
        return {"grid": list(self.grid),
                "unit_of": {k: (list(v) if v else None) for k, v in self.unit_of.items()},
                "anchor": {k: list(v) for k, v in self.anchor.items()},
                "compute_tiles": dict(self.compute_tiles),
                "shared": {f"{r},{c}": names for (r, c), names in self.shared.items()}}


def place(program: Program, hw: HardwareConfig, placement: dict | None = None) -> Placement:
    """Place ``program``'s nodes on ``hw``'s grid (see the module docstring for the rules)."""
    if placement is not None and not hasattr(placement, "items"):
        raise ConfigError(f"placement = {placement!r:.60} of type {type(placement).__name__} "
                          "(expected None or a dict node name -> (row, col))")
    kinds = {n.name: unit_kind(n) for n in program.nodes}
    fixed = _fixed_cells(program, kinds, placement or {})
    grid = hw.grid or _auto_grid(kinds, fixed)
    for name, cell in fixed.items():
        _check_cell(name, cell, grid, kinds[name])
    unit_of = {name: None for name in kinds}
    unit_of.update(fixed)
    for kind in ("compute", "memory"):
        todo = [n.name for n in program.nodes if kinds[n.name] == kind and n.name not in fixed]
        _fill(todo, kind, grid, unit_of, hw)
    tiles = {n.name: math.ceil(_compute_bw(n, hw) / hw.flops_per_cycle_per_unit)
             for n in program.nodes if kinds[n.name] == "compute"}
    return Placement(grid, unit_of, _anchors(program, unit_of), tiles)


def _compute_bw(node, hw) -> float:
    bw = node.params.get("compute_bw")
    return hw.compute_flops_per_cycle if bw is None else bw


def _fixed_cells(program, kinds: dict, placement: dict) -> dict:
    out = {}
    for key, cell in placement.items():
        name = getattr(key, "name", key)
        if name not in kinds:
            raise ConfigError(f"placement names node {name!r}, which is not in program "
                              f"{program.name!r}" + did_you_mean(name, list(kinds)))
        if kinds[name] is None:
            raise ConfigError(f"placement of {name!r}: routing, shape and io nodes live in the "
                              "network and take no unit (expected a compute or memory node)")
        ok = (isinstance(cell, (tuple, list)) and len(cell) == 2
              and all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in cell))
        if not ok:
            raise ConfigError(f"placement of {name!r} = {cell!r} (expected a (row, col) cell "
                              "of non-negative ints)")
        out[name] = (cell[0], cell[1])
    return out


def _auto_grid(kinds: dict, fixed: dict) -> tuple:
    need = max(sum(1 for k in kinds.values() if k == "compute"),
               sum(1 for k in kinds.values() if k == "memory"), 1)
    cols = max(2, math.ceil(math.sqrt(2 * need)))
    rows = max(1, math.ceil(2 * need / cols))
    rows = max([rows] + [r + 1 for r, _ in fixed.values()])
    cols = max([cols] + [c + 1 for _, c in fixed.values()])
    return (rows, cols)


def _check_cell(name: str, cell: tuple, grid: tuple, kind: str | None) -> None:
    if cell[0] >= grid[0] or cell[1] >= grid[1]:
        raise ConfigError(f"placement of {name!r} = {cell} is outside the {grid[0]}×{grid[1]} "
                          f"grid (expected row < {grid[0]} and col < {grid[1]})")
    if cell_kind(*cell) != kind:
        raise ConfigError(f"placement of {name!r} = {cell} is a {cell_kind(*cell)} unit but the "
                          f"node needs a {kind} unit (expected a cell with "
                          f"{'even' if kind == 'compute' else 'odd'} row + col)")


def _snake(grid: tuple, kind: str) -> list:
    rows, cols = grid
    cells = []
    for r in range(rows):
        order = range(cols) if r % 2 == 0 else range(cols - 1, -1, -1)
        cells += [(r, c) for c in order if cell_kind(r, c) == kind]
    return cells


def _fill(todo: list, kind: str, grid: tuple, unit_of: dict, hw) -> None:
    cells = _snake(grid, kind)
    taken = set(unit_of.values())
    free = [c for c in cells if c not in taken]
    if len(todo) <= len(free):
        for name, cell in zip(todo, free, strict=False):  # fewer nodes than free cells
            unit_of[name] = cell
        return
    if not hw.time_multiplex or not cells:
        raise ConfigError(
            f"the program needs {len(todo)} more {kind} units but the {grid[0]}×{grid[1]} grid "
            f"has {len(free)} free (expected enough units)\n  hint: use a larger hw.grid, "
            "hw.replace(time_multiplex=True) to share units, or placement= to map nodes")
    pool = free or cells
    for i, name in enumerate(todo):
        unit_of[name] = pool[i % len(pool)]


def _anchors(program, unit_of: dict) -> dict:
    """Network nodes sit at their first placed producer (else consumer); linear time."""
    anchor: dict = {}

    def cell_of(name):
        return unit_of.get(name) or anchor.get(name)

    for node in program.nodes:                   # construction order: producers first
        if unit_of[node.name] is None:
            cells = [cell_of(s.node.name) for s in node.inputs]
            cell = next((c for c in cells if c is not None), None)
            if cell is not None:
                anchor[node.name] = cell
    consumers = program.consumers()
    for node in reversed(program.nodes):          # inputs: anchor at a consumer
        if unit_of[node.name] is None and node.name not in anchor:
            cells = [cell_of(c.name) for s in node.outputs for c, _ in consumers.get(s, [])]
            anchor[node.name] = next((c for c in cells if c is not None), (0, 0))
    return anchor
