"""Speculative evaluation of the knob settings next to the one shown (issue 15).

After a panel draws, :class:`Speculator` evaluates the *neighbouring* settings — each knob one
choice (or one slider step) up and down, constraints applied as the panel would — in one daemon
thread, into the panel's :class:`~.cache.OutcomeCache`, and draws their player too. The next
knob move is then most likely a cache hit: the numbers appear at once.

The worker never competes with the foreground: it pauses at every checkpoint (between stages and
at the simulator's progress ticks) while a foreground evaluation or redraw runs, or while the
IPython kernel runs a cell (its ``pre_run_cell``/``post_run_cell`` events), and a new
schedule replaces the queue of the previous one (guesses about a setting the user has left are
dropped). It runs in a thread, not in the kernel's main thread: the kernel's message loop keeps
answering (``benchmarks/bench_knob.py`` measures its latency while the worker runs).

[Choice] Neighbours are tried in knob order, one step up then one step down per knob, at most
:data:`MAX_NEIGHBOURS` settings per schedule; a disabled knob has no neighbours, a range knob
steps by its slider step.
[Choice] A failed speculative evaluation is dropped silently: the foreground evaluates that
setting again if the user picks it and shows the error there.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

from .cache import OutcomeCache
from .knobs import Knob

__all__ = ["Speculator", "neighbours", "settle", "MAX_NEIGHBOURS"]

MAX_NEIGHBOURS = 6
_KERNEL_IDLE = threading.Event()     # cleared while the IPython kernel runs a cell
_KERNEL_IDLE.set()
_HOOKED: list = []


def _hook_kernel() -> None:
    """Follow the IPython kernel's cell runs (once per process; nothing outside IPython)."""
    if _HOOKED:
        return
    try:
        from IPython import get_ipython
    except ImportError:
        return
    shell = get_ipython()
    if shell is None:
        return
    shell.events.register("pre_run_cell", _cell_starts)
    shell.events.register("post_run_cell", _cell_ends)
    _HOOKED.append(shell)


def _cell_starts(_info=None) -> None:
    _KERNEL_IDLE.clear()


def _cell_ends(_result=None) -> None:
    _KERNEL_IDLE.set()


def neighbours(knobs: dict[str, Knob], values: dict, rules: dict | None = None,
               constraints: Callable | None = None,
               limit: int = MAX_NEIGHBOURS) -> list[dict]:
    """Knob settings one step from ``values``, most likely first (see the module's [Choice])."""
    out: list[dict] = []
    for name, knob in knobs.items():
        for value in _steps(knob, values.get(name), (rules or {}).get(name)):
            candidate = settle(constraints, {**values, name: value}, knobs)
            if candidate != values and candidate not in out:
                out.append(candidate)
    return out[:limit]


def _steps(knob: Knob, value, rule) -> list:
    """The values one step up and one step down of ``value`` (those that exist)."""
    if rule is not None and rule.disabled:
        return []
    if knob.kind == "toggle":
        return [not value]
    if knob.kind == "choice":
        offered = list(rule.choices if rule is not None and rule.choices else knob.choices)
        if value not in offered:
            return []
        i = offered.index(value)
        return [offered[j] for j in (i + 1, i - 1) if 0 <= j < len(offered)]
    lo, hi, step = knob.range
    return [knob.check(v) for v in (value + step, value - step) if lo <= v <= hi]


def settle(constraints: Callable | None, values: dict, knobs: dict) -> dict:
    """``values`` after the constraints moved knobs to offered values (as the panel does)."""
    if constraints is None:
        return values
    from .constraints import closest, rules_for
    values = dict(values)
    for _ in range(len(knobs) + 1):
        moved = False
        for name, rule in rules_for(constraints, values, knobs).items():
            if rule.choices is not None and values[name] not in rule.choices:
                values[name] = closest(values[name], rule.choices)
                moved = True
        if not moved:
            break
    return values


class Speculator:
    """One daemon thread evaluating scheduled knob settings into ``cache``."""

    def __init__(self, cache: OutcomeCache, prepare: Callable | None = None):
        self.cache = cache
        self.prepare = prepare              # prepare(outcome): e.g. draw the player ahead
        self._queue: list[dict] = []
        self._cond = threading.Condition()
        self._busy = False
        self._closed = False
        self._thread: threading.Thread | None = None
        self._waited = threading.Event()    # wait_idle() lets it run during a cell
        self.done = 0                       # settings evaluated (for tests and benchmarks)
        _hook_kernel()

    def schedule(self, candidates: list[dict]) -> None:
        """Replace the queue with ``candidates`` (those not cached yet)."""
        with self._cond:
            self._queue = [c for c in candidates if c not in self.cache]
            if self._queue and self._thread is None and not self._closed:
                self._thread = threading.Thread(target=self._loop, daemon=True,
                                                name="step-lab-speculate")
                self._thread.start()
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._queue) + self._busy

    def wait_idle(self, timeout: float = 60.0) -> bool:
        """Block until the queue is empty and nothing is being evaluated; False on timeout."""
        self._waited.set()
        try:
            with self._cond:
                return self._cond.wait_for(lambda: not self._queue and not self._busy, timeout)
        finally:
            self._waited.clear()

    def _pause(self, *_args) -> None:
        """Block while the foreground works, and while the kernel runs a cell (unless a caller
        is waiting for this worker)."""
        self.cache.checkpoint()
        while not (_KERNEL_IDLE.is_set() or self._waited.is_set()):
            _KERNEL_IDLE.wait(0.1)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._queue = []
            self._cond.notify_all()

    def _loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._closed)
                if self._closed:
                    return
                values = self._queue.pop(0)
                self._busy = True
            try:
                self._evaluate(values)
            finally:
                with self._cond:
                    self._busy = False
                    self._cond.notify_all()

    def _evaluate(self, values: dict) -> None:
        try:
            self._pause()
            outcome = self.cache.get(values, speculative=True, pause=self._pause)
            if outcome is None or outcome.error is not None:
                return
            self.done += 1
            if self.prepare is not None:
                self._pause()
                self.prepare(outcome)
        except Exception:  # noqa: BLE001 - a guess that fails is re-done (and shown) on demand
            return
