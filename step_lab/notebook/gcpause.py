"""The garbage collector held off while a knob change is evaluated and drawn (issue 15).

A cold knob change on the Qwen3-30B-A3B b64 layer allocates some 200,000 container objects
(the simulation leaves ~175,000 of them as cyclic garbage), and the collector's automatic
passes over them — and over the outcomes still alive — cost 0.1–0.4 s of the change, spread
over the stages before the numbers appear (measured with ``gc.callbacks``). :func:`paused`
switches automatic collection off for the foreground evaluation and redraw; when the last
paused section ends, one young-generation collection reclaims the garbage (~0.1 s, after the
panel is complete) and the outcomes remembered meanwhile are frozen (:func:`freeze`).

[Choice] The pause is process-wide (CPython has one collector) and nests across threads: the
collector is re-enabled when the last paused section ends, and only if it was enabled when the
first one began (a user who disabled it keeps it disabled). Reference counting still frees
everything that is not in a cycle meanwhile, so memory grows only by one change's cyclic
garbage.
"""
from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["paused", "freeze", "is_paused"]

_LOCK = threading.Lock()
_STATE = {"depth": 0, "was_enabled": False, "freeze": False}


@contextmanager
def paused() -> Iterator[None]:
    """No automatic collection inside (see the module docstring)."""
    with _LOCK:
        if _STATE["depth"] == 0:
            _STATE["was_enabled"] = gc.isenabled()
            gc.disable()
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
        pending, _STATE["freeze"] = _STATE["freeze"], False
        enable = _STATE["was_enabled"]
    if enable:
        gc.collect(1)              # the garbage of this change, before anything is frozen
        gc.enable()
    if pending:
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
