"""Memoised knob evaluations: a knob setting seen before answers from memory (issue 15).

An :class:`OutcomeCache` maps *(builder, knob values, options)* to the finished
:class:`~.outcome.Outcome` (program, metrics, simulation result and the player's HTML once drawn).
It is shared by the panel's foreground evaluation and its speculative worker
(:mod:`.speculate`): a key being computed by one is never computed again by the other — a
foreground request for a key the worker is computing waits for it instead. Both remember an
outcome as soon as it is simulated and leave the symbolic metrics to
:func:`~.outcome.complete` (the worker's ``prepare``, or the panel once the numbers are shown),
so the wait is for build and simulation only; the metrics are computed once for all copies.

It also arbitrates the CPU between them: while a foreground evaluation or redraw runs
(:meth:`OutcomeCache.foreground`), speculative work pauses at its next checkpoint (between
stages and at the simulator's progress ticks), so a knob change never competes with guesses
about the next one.

[Choice] A builder is assumed deterministic in its knob values (the same values build the same
program with the same inputs): that is what a knob means. Entries are keyed by the builder
object itself (identity), so re-running a ``%%step`` cell — which makes a new builder — starts
a fresh set of entries; the hardware, ``values=`` and ``animate=`` options are part of the key.
[Choice] At most :data:`MAX_ENTRIES` outcomes are kept per cache (least recently used dropped
first): a Qwen3-30B-A3B b64 outcome with its trace and drawn views holds ~25 MB. Closing the
panel empties its cache.
[Choice] The key is the knob setting, not the program's fingerprint: ``Program.fingerprint()``
of the Qwen3 b64 layer (3,341 nodes) takes ~0.4 s, more than simulating it, so hashing every
build would cost more than it saves; two settings that build the same program are simulated
twice.
[Choice] A remembered outcome is moved out of the garbage collector's sight (``gc.freeze()``
after each store): a Qwen3 outcome is ~60,000 tracked objects, and without this every full
collection would walk all remembered outcomes while holding the GIL (0.2–0.8 s pauses of the
kernel, measured). Outcomes dropped from a cache are handed back to the collector
(``gc.unfreeze()``) once :data:`MAX_ENTRIES` of them have been dropped, so memory held in
reference cycles is reclaimed in one collection instead of never.
"""
from __future__ import annotations

import gc
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace

from . import gcpause
from .outcome import Options, Outcome, evaluate

__all__ = ["OutcomeCache", "values_key", "options_key", "player_html", "drawn",
           "metrics_view", "graph_view", "draw_ahead", "show_player", "MAX_ENTRIES"]

MAX_ENTRIES = 8


def values_key(values: dict) -> tuple:
    """A hashable, order-independent key of a knob setting (``{"tile": 32}``)."""
    return tuple(sorted((name, _hashable(v)) for name, v in values.items()))


def options_key(options: Options) -> tuple:
    """The options that change an evaluation's outcome (hardware, simulate, trace, values)."""
    return (repr(options.hw), options.simulate, options.animate, options.values)


def _hashable(value):
    try:
        hash(value)
        return value
    except TypeError:
        return repr(value)


class OutcomeCache:
    """An LRU of finished evaluations with in-flight tracking and a foreground/background gate."""

    def __init__(self, builder: Callable, options: Options, max_entries: int = MAX_ENTRIES):
        self.builder = builder
        self.options = options
        self.max_entries = max_entries
        self._done: OrderedDict = OrderedDict()
        self._inflight: dict = {}
        self._lock = threading.Lock()
        self._busy = 0
        self._idle = threading.Event()
        self._idle.set()
        self.hits = 0

    def key(self, values: dict) -> tuple:
        return values_key(values), options_key(self.options)

    def __contains__(self, values: dict) -> bool:
        with self._lock:
            return self.key(values) in self._done

    def __len__(self) -> int:
        return len(self._done)

    # -- the gate between foreground and speculative work ----------------------------------
    @contextmanager
    def foreground(self) -> Iterator[None]:
        """While inside, speculative work pauses at its next checkpoint."""
        with self._lock:
            self._busy += 1
            self._idle.clear()
        try:
            yield
        finally:
            with self._lock:
                self._busy -= 1
                if self._busy == 0:
                    self._idle.set()

    def checkpoint(self, *_args) -> None:
        """Block (a speculative thread) while foreground work runs; usable as a progress hook."""
        self._idle.wait()

    # -- lookups ---------------------------------------------------------------------------
    def put(self, values: dict, outcome: Outcome) -> None:
        """Keep ``outcome`` (successful evaluations only: a failure is re-tried next time)."""
        if outcome.error is not None:
            return
        with self._lock:
            self._store(self.key(values), outcome)

    def _store(self, key: tuple, outcome: Outcome) -> None:
        self._done[key] = outcome
        self._done.move_to_end(key)
        while len(self._done) > self.max_entries:
            self._done.popitem(last=False)
            _dropped(1)
        gcpause.freeze()              # after the current knob change's garbage is collected

    def clear(self) -> None:
        """Forget every finished evaluation (in-flight ones finish and are kept)."""
        with self._lock:
            _dropped(len(self._done))
            self._done.clear()

    def get(self, values: dict, *, speculative: bool = False,
            pause: Callable | None = None) -> Outcome | None:
        """The outcome of ``values``: from memory, from the thread computing it, or computed now.

        A speculative call returns None when another thread is already computing the key (and
        the cached outcome when there is one, without recomputing)."""
        key, started = self.key(values), time.perf_counter()
        while True:
            with self._lock:
                hit = self._done.get(key)
                if hit is not None:
                    self._done.move_to_end(key)
                    if speculative:
                        return hit
                    self.hits += 1
                    return as_cached(hit, started)
                pending = self._inflight.get(key)
                if pending is None:
                    pending = self._inflight[key] = threading.Event()
                    break
            if speculative:
                return None
            pending.wait()                 # the worker computes it (never paused for us)
            with self._lock:
                if key in self._done:
                    continue
            # it failed there: compute it here (and report the error here)
        return self._compute(key, values, pending, speculative, pause or self.checkpoint)

    def _compute(self, key: tuple, values: dict, pending: threading.Event,
                 speculative: bool, pause: Callable) -> Outcome:
        try:
            if speculative:                    # the metrics follow (the worker's prepare):
                # a foreground change waiting for this key gets its numbers first
                outcome = evaluate(self.builder, values, self.options, pause=pause,
                                   metrics=False)
            else:
                with self.foreground():        # the metrics follow the numbers (complete)
                    outcome = evaluate(self.builder, values, self.options, metrics=False)
            with self._lock:
                if outcome.error is None:
                    self._store(key, outcome)
            return outcome
        finally:
            with self._lock:
                self._inflight.pop(key, None)
            pending.set()


def player_html(outcome: Outcome) -> tuple:
    """``(Player, html)`` of an outcome's run: drawn once per outcome (also ahead of time by the
    speculative worker), shown again under a fresh element id (two outputs never share one).

    [Choice] A panel's player outputs carry no BokehJS: the panel shows it once, in an output of
    its own next to the player's (1.3 MB that a knob change need not send again); the player
    waits for it to load (up to 10 s) when the page renders the outputs in another order."""
    import uuid
    def draw() -> tuple:
        from .player import player_for
        player = player_for([outcome.result], [outcome.program], [outcome.program.name])
        text = player.html(include_bokehjs=False,     # the panel ships BokehJS once
                           replaceable=True)
        return player, text, _pid_of(text)
    player, text, pid = drawn(outcome, "player", draw)
    return player, text.replace(pid, "step-player-" + uuid.uuid4().hex[:12])


def show_player(box, outcome: Outcome):
    """Show ``outcome``'s player in ``box`` (a panel's VBox: the player's output, then one with
    BokehJS, made once); returns the Player. The output names the player it replaces
    (``data-replaces``): the browser then redraws that player's figures with the new run's
    values instead of building new ones when their structure is the same (:mod:`._player_js`)."""
    from .player import bokehjs_loader
    player, text = player_html(outcome)
    if not box.children:
        box.children = [_html_output(""), _html_output(bokehjs_loader(), "<BokehJS>")]
    shown = box.children[0].outputs
    if shown:                                # the browser may reuse the replaced one's figures
        old = _pid_of(shown[0]["data"]["text/html"])
        text = text.replace("data-step-player", f"data-step-player data-replaces='{old}'", 1)
    box.children[0].outputs = _display(text, "<step_lab player>")
    return player


def _pid_of(player_html: str) -> str:
    """The element id of a player's HTML (its root is the first element with an id)."""
    return player_html.split("id='", 1)[1].split("'", 1)[0]


def _display(html: str, plain: str) -> tuple:
    return ({"output_type": "display_data", "metadata": {},
             "data": {"text/html": html, "text/plain": plain}},)


def _html_output(html: str, plain: str = ""):
    """An Output widget showing ``html`` (``""``: empty)."""
    import ipywidgets as w
    out = w.Output()
    if html:
        out.outputs = _display(html, plain)
    return out


def metrics_view(outcome: Outcome) -> str:
    """The metrics' LaTeX, drawn once per outcome (computing the metrics first if the outcome
    was evaluated without them)."""
    from .outcome import complete, metrics_latex
    complete(outcome)
    return drawn(outcome, "metrics", lambda: metrics_latex(outcome))


def graph_view(outcome: Outcome, options: Options, expand) -> str:
    """The graph's HTML, drawn once per outcome and collapse/expand setting."""
    from .graph import graph_html
    o = options
    return drawn(outcome, ("graph", o.annotate, o.max_graph_nodes, expand),
                 lambda: graph_html(outcome.program, outcome.result, annotate=o.annotate,
                                    max_nodes=o.max_graph_nodes, expand=expand))


def draw_ahead(outcome: Outcome, options: Options) -> None:
    """Draw the views a panel shows for ``outcome`` (the speculative worker, ahead of time),
    after its symbolic metrics and on-chip peak (guesses are remembered without them)."""
    from .outcome import complete
    complete(outcome)
    if options.show_metrics:
        metrics_view(outcome)
    if options.show_graph:
        graph_view(outcome, options, "none")
    if options.animate and outcome.result is not None:
        player_html(outcome)


def drawn(outcome: Outcome, key, draw: Callable):
    """The view ``key`` of ``outcome``, drawn once by ``draw()`` and then reused (the slot is
    shared by the copies :func:`as_cached` makes; two threads may race to draw it: the views
    are pure, so either result is right)."""
    slot = outcome.drawn
    if key not in slot:
        slot[key] = draw()
    return slot[key]


def as_cached(outcome: Outcome, started: float) -> Outcome:
    """A shallow copy of a remembered outcome, marked as answered from memory."""
    return replace(outcome, cached=True, seconds=time.perf_counter() - started,
                   computed_seconds=outcome.computed_seconds or outcome.seconds)


_DROPPED = [0]


def _dropped(count: int) -> None:
    """Count outcomes dropped; every MAX_ENTRIES, let the collector see frozen objects again."""
    _DROPPED[0] += count
    if _DROPPED[0] >= MAX_ENTRIES:
        _DROPPED[0] = 0
        gc.unfreeze()
