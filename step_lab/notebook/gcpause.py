"""The garbage collector held back while a knob change is evaluated and drawn (issue 15).

A cold knob change on the Qwen3-30B-A3B b64 layer allocates some 200,000 container objects
(the simulation leaves ~175,000 of them as cyclic garbage), and the collector's automatic
passes over them — and over the outcomes still alive — cost 0.1–0.4 s of the change, spread
over the stages before the numbers appear (measured with ``gc.callbacks``). :func:`paused`
raises the youngest generation's threshold to :data:`YOUNG_THRESHOLD` for the foreground
evaluation and redraw: at most one young collection per change instead of hundreds, each one
walking only the young objects, and memory held in cycles stays bounded by that many objects
(a layer of any size can be simulated inside a pause). When the last paused section ends, the
thresholds are restored, and the outcomes remembered meanwhile are frozen (:func:`freeze`)
after one young collection, so that no garbage of the change is frozen with them.

[Choice] The pause is process-wide (CPython has one collector) and nests across threads: the
thresholds are restored when the last paused section ends. A collector that was disabled when
the pause began is neither collected nor re-enabled by it.
"""
from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused", "freeze", "is_paused", "YOUNG_THRESHOLD"]

YOUNG_THRESHOLD = 300_000        # CPython's default is 700 (allocations minus deallocations)

_LOCK = threading.Lock()
_STATE: dict = {"depth": 0, "thresholds": None, "freeze": False}


@contextmanager
def paused() -> Iterator[None]:
    """Few collector passes inside (see the module docstring)."""
    with _LOCK:
        if _STATE["depth"] == 0:
            thresholds = gc.get_threshold()
            _STATE["thresholds"] = thresholds
            gc.set_threshold(max(YOUNG_THRESHOLD, thresholds[0]), *thresholds[1:])
        _STATE["depth"] += 1
    try:
        yield
    finally:
        _resume()


def _resume() -> None:
    with _LOCK:
        _STATE["depth"] -= 1
        if _STATE["depth"] > 0:
            return
        gc.set_threshold(*_STATE["thresholds"])
        pending, _STATE["freeze"] = _STATE["freeze"], False
    if pending:
        if gc.isenabled():
            gc.collect(1)          # the garbage of this change, before anything is frozen
        gc.freeze()


def is_paused() -> bool:
    return _STATE["depth"] > 0


def freeze() -> None:
    """``gc.freeze()`` now, or when the current pause ends (freezing inside a pause would keep
    the change's uncollected garbage forever)."""
    with _LOCK:
        if _STATE["depth"] > 0:
            _STATE["freeze"] = True
            return
    gc.freeze()
