"""Pareto frontiers and the Pareto Improvement Distance (EXPERIMENTS.md §2). Both axes minimised."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import StepError

__all__ = ["pareto", "pid"]


def _xy(point, x: str, y: str) -> tuple[float, float]:
    if isinstance(point, (tuple, list)) and len(point) == 2:
        return float(point[0]), float(point[1])
    try:
        return float(point[x]), float(point[y])
    except (KeyError, TypeError):
        raise StepError(f"point {point!r:.80} has no {x!r}/{y!r} values "
                        "(expected a dict with both keys or an (x, y) pair)") from None


def _dominates(a, b) -> bool:
    return a[0] <= b[0] and a[1] <= b[1] and (a[0] < b[0] or a[1] < b[1])


def pareto(points: Sequence[Any], x: str = "onchip_memory", y: str = "cycles") -> list[Any]:
    """The non-dominated subset of ``points`` (in input order); exact duplicates are kept once."""
    coords = [_xy(p, x, y) for p in points]
    keep: list[Any] = []
    seen: set[tuple] = set()
    for i, (p, c) in enumerate(zip(points, coords, strict=True)):
        if any(_dominates(o, c) for j, o in enumerate(coords) if j != i) or c in seen:
            continue
        seen.add(c)
        keep.append(p)
    return keep


def pid(point: Any, frontier: Sequence[Any], x: str = "onchip_memory", y: str = "cycles") -> float:
    """``min over q in pareto(frontier) of max(y(q)/y(p), x(q)/x(p))``.

    > 1: ``point`` lies beyond the frontier; = 1: on it; < 1: dominated.
    """
    px, py = _xy(point, x, y)
    if px <= 0 or py <= 0:
        raise StepError(f"PID needs positive {x!r} and {y!r} for the point (got {px}, {py})")
    front = pareto(frontier, x, y)
    if not front:
        raise StepError("PID needs at least one frontier point (got none)")
    return min(max(qy / py, qx / px) for qx, qy in (_xy(q, x, y) for q in front))
