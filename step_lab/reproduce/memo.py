"""Points simulated once per ``reproduce`` command, shared by all its figures (issue 15).

Several figures simulate the same point: Figs 14, 15 and 21 share attention-decode points (the
same KV trace and strategy), Figs 12 and 13 share MoE points. Inside :func:`session` (the CLI's
``reproduce`` command), :func:`sweep_once` wraps a figure's ``ctx.sweep`` of a
``{"point": [...]}`` grid: a point already simulated in this session (by this or another figure)
is answered from memory, and only the others go to the sweep (inline, worker processes or dask).
A record is the same dict the sweep would have produced, with the asking figure's own point (its
label) in it. Outside a session every sweep runs in full, as before.

[Choice] A point's identity is the sweep function, the sweep's cache key (it hashes the
simulator sources and traces) and the point without its tags ``label`` and ``ablation`` (which
name a point in a figure's table and never change what is simulated: see
``figures/_moe.simulate_point`` and ``figures/_attention.simulate_point``). Failed points are
not remembered. Memory: records are small JSON-like dicts.
"""
from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

__all__ = ["sweep_once", "session", "TAGS", "forget"]

TAGS = ("label", "ablation")
_RECORDS: dict[str, dict] = {}
_INFLIGHT: dict[str, threading.Event] = {}      # figures running concurrently share points
_LOCK = threading.Lock()
_ACTIVE = [0]                                   # nesting depth of session()


@contextmanager
def session() -> Iterator[None]:
    """Share points between the figures run inside; forget them all on exit."""
    _ACTIVE[0] += 1
    try:
        yield
    finally:
        _ACTIVE[0] -= 1
        if not _ACTIVE[0]:
            forget()


def forget() -> None:
    """Drop every remembered record (tests; a new ``reproduce`` command starts empty anyway)."""
    _RECORDS.clear()


def point_id(fn, key: str | None, point: dict) -> str:
    name = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
    core = {k: v for k, v in point.items() if k not in TAGS}
    return json.dumps([name, key, core], sort_keys=True, default=_plain)


def _plain(value):
    tolist = getattr(value, "tolist", None)
    return tolist() if callable(tolist) else str(value)


def sweep_once(run: Callable, fn, grid: dict, key: str | None) -> list[dict]:
    """``run(fn, grid, key)`` (a sweep) for the points not simulated yet; records in order."""
    if not _ACTIVE[0] or list(grid) != ["point"] or not isinstance(grid["point"], list):
        return run(fn, grid, key)
    points = grid["point"]
    ids = [point_id(fn, key, p) if isinstance(p, dict) else None for p in points]
    if None in ids:
        return run(fn, grid, key)
    todo, elsewhere = _claim(ids, points)
    fresh = _run(run, fn, key, todo)
    for event in elsewhere.values():          # another figure is simulating it: wait
        event.wait()
    missed = {pid: points[ids.index(pid)] for pid in elsewhere if pid not in _RECORDS}
    fresh.update(_run(run, fn, key, missed))   # it failed there: run (and report) it here
    return [{**(fresh.get(pid) or _RECORDS[pid]), "point": p}
            for pid, p in zip(ids, points, strict=True)]


def _claim(ids: list, points: list) -> tuple[dict, dict]:
    """``(points this call simulates, {id: event} of points another call is simulating)``."""
    todo: dict[str, dict] = {}
    elsewhere: dict[str, threading.Event] = {}
    with _LOCK:
        for pid, p in zip(ids, points, strict=True):
            if pid in _RECORDS or pid in todo:
                continue
            if pid in _INFLIGHT:
                elsewhere[pid] = _INFLIGHT[pid]
            else:
                todo[pid] = p
                _INFLIGHT[pid] = threading.Event()
    return todo, elsewhere


def _run(run: Callable, fn, key, todo: dict) -> dict:
    """Sweep ``todo`` (id -> point); remember what succeeded; wake the waiters."""
    fresh: dict = {}
    try:
        if todo:
            records = run(fn, {"point": list(todo.values())}, key)
            for pid, rec in zip(todo, records, strict=True):
                fresh[pid] = rec
                if rec.get("error") is None:
                    _RECORDS[pid] = rec
    finally:
        with _LOCK:
            for pid in todo:
                event = _INFLIGHT.pop(pid, None)
                if event is not None:
                    event.set()
    return fresh
