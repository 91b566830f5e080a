"""The live view of a program builder: knob widgets, summary, metrics, graph and animation.

A :class:`StepPanel` owns one ipywidgets box. Changing a knob calls :meth:`StepPanel.request`,
which bumps a *generation* counter and evaluates the builder (in a single background thread by
default, so the kernel stays responsive). A finished evaluation is applied only if its generation
is still the newest: a stale result never overwrites a newer one, and requests that were
overtaken before they started are skipped. Errors go to the error area; the widgets stay alive.

Knob settings are remembered (:mod:`.cache`: a setting seen before answers from memory) and,
after each draw, the neighbouring settings are evaluated ahead in a background thread
(:mod:`.speculate`) so that the next move is most likely answered from memory too. A setting
never seen shows its simulated numbers first, then the symbolic metrics (and the on-chip peak
evaluated from them), the verdict and graph, then the player (the previous ones dimmed until
then, :mod:`.stale`); the garbage collector is held off until it is drawn (:mod:`.gcpause`).
Copy as code and save report: :mod:`.panel_takeaway`.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

from . import gcpause, stale
from .cache import OutcomeCache, draw_ahead, drawn, graph_view, metrics_view, show_player
from .graph import expand_choices, graph_html
from .knobs import Knob, make_widget
from .outcome import Options, Outcome, complete, error_html, is_complete, summary_html
from .panel_takeaway import TakeawayMixin

__all__ = ["StepPanel"]


class StepPanel(TakeawayMixin):
    """Widgets that re-build, re-simulate and redraw ``builder`` when a knob changes."""

    def __init__(self, builder: Callable, knobs: dict, options: Options, *,
                 first: Outcome | None = None, background: bool = True,
                 on_result: Callable | None = None, constraints: Callable | None = None,
                 source=None, speculate: bool | None = None):
        self.builder = builder
        self.constraints = constraints            # values -> {knob: rule} (.constraints)
        self.source = source if source is not None else getattr(builder, "step_source", None)
        self.rules: dict = {}
        self._constraining = False
        self.knobs: dict[str, Knob] = dict(knobs)
        self.options = options
        self.background = background
        self.on_result = on_result
        self.generation = 0
        self.applied_generation = -1
        self.outcome: Outcome | None = None
        self.animation = None                     # the Player, once there is a trace
        self._lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._pending: Future | None = None
        self.cache = OutcomeCache(builder, options)
        self.speculator = None                    # neighbours evaluated ahead (.speculate)
        if background if speculate is None else speculate:
            from .speculate import Speculator
            self.speculator = Speculator(self.cache, prepare=lambda o: draw_ahead(o, options))
        self._build_widgets()
        self._constrain()
        if first is None:
            first = self.cache.get(self.values())
        if not first.values:                      # the first run used the knobs' defaults
            first.values = self.values()
        self.cache.put(first.values, first)
        self._apply(0, first)

    # -- widgets ---------------------------------------------------------------------------
    def _build_widgets(self) -> None:
        import ipywidgets as w
        self.controls = {name: make_widget(k) for name, k in self.knobs.items()}
        for control in self.controls.values():
            control.observe(self._on_knob, names="value")
        self.status = w.HTML(layout=w.Layout(min_height="20px"))
        self.error = w.HTML()
        self.summary = w.HTML()
        self.metrics = w.HTMLMath()
        self.graph = w.HTML()
        self.expand = w.Dropdown(description="graph", options=[("collapsed", "none")],
                                 layout=w.Layout(width="max-content", display="none"))
        self.expand.observe(self._on_expand, names="value")
        self._setting_expand = False
        self.why = w.HTML()
        self.roofline_toggle = w.ToggleButton(description="roofline", value=False,
                                              tooltip="show the roofline of this run and the "
                                                      "knob settings simulated so far")
        self.roofline_toggle.observe(self._on_roofline, names="value")
        self.roofline = w.HTML()
        self.history: dict = {}                   # knob label -> SimResult (roofline variants)
        self.bottleneck = None
        self.plots = w.VBox()
        self.code_box = w.HTML()
        self.save_button = w.Button(description="save report", icon="download",
                                    tooltip="write this panel as a standalone HTML report "
                                            "(graph, player, why) next to the notebook")
        self.save_button.on_click(lambda _b: self._on_save())
        self.saved = w.HTML()
        takeaway = w.HBox([self.save_button, self.saved],
                          layout=w.Layout(align_items="center"))
        knob_box = w.HBox(list(self.controls.values()),
                          layout=w.Layout(flex_flow="row wrap"))
        children = ([knob_box] if self.controls else []) + [self.status, self.error,
                                                             self.summary, self.metrics,
                                                             self.why, self.roofline_toggle,
                                                             self.roofline, self.expand,
                                                             self.graph, self.plots,
                                                             self.code_box, takeaway]
        self.widget = w.VBox(children + [w.HTML(stale.STYLE)])
        self.widget.add_class("step-lab-panel")
        self.widget.panel = self               # reachable from the displayed widget

    def values(self) -> dict:
        """The knob values currently shown by the widgets."""
        return {name: control.value for name, control in self.controls.items()}

    def set(self, **values) -> None:
        """Set knob widgets programmatically (as a user would); unknown names are an error."""
        from ..errors import ConfigError, did_you_mean
        for name in values:
            if name not in self.controls:
                raise ConfigError(f"unknown knob {name!r}" + did_you_mean(name, self.controls)
                                  + f" (knobs: {sorted(self.controls)})")
        for name, value in values.items():
            value = self.knobs[name].check(value)
            self._check_offered(name, value)
            self.controls[name].value = value

    def _check_offered(self, name: str, value) -> None:
        from ..errors import ConfigError
        rule = self.rules.get(name)
        if rule is None:
            return
        if rule.disabled:
            raise ConfigError(f"knob {name!r} is disabled here: {rule.disabled}")
        if rule.choices is not None and value not in rule.choices:
            raise ConfigError(f"knob {name!r} = {value!r} is not offered for this setting "
                              f"(expected one of {list(rule.choices)})"
                              + (f": {rule.why}" if rule.why else ""))

    # -- evaluation ------------------------------------------------------------------------
    def _on_knob(self, _change) -> None:
        if self._constraining:
            return
        try:
            moved = self._constrain()
        except Exception as exc:  # a broken rule is shown; the widgets stay alive
            self.error.value = error_html(f"constraints: {exc}")
            return
        self.request(self.values())
        if moved:
            self.status.value += f"<span style='color:#8a5a00'> {moved}</span>"

    def _constrain(self) -> str:
        """Offer, enable and disable the knobs for the current values (:mod:`.constraints`);
        return a note on knobs that had to move."""
        from .constraints import rules_for
        if self.constraints is None:
            return ""
        moved = []
        self._constraining = True
        try:
            for _ in range(len(self.knobs) + 1):        # a move can change another knob's rule
                self.rules = rules_for(self.constraints, self.values(), self.knobs)
                changed = False
                for name, rule in self.rules.items():
                    changed |= self._restrict(name, rule, moved)
                if not changed:
                    break
        finally:
            self._constraining = False
        return "; ".join(moved)

    def _restrict(self, name: str, rule, moved: list) -> bool:
        control, knob = self.controls[name], self.knobs[name]
        single = rule.choices is not None and len(rule.choices) == 1   # nothing to choose
        control.disabled = bool(rule.disabled) or single
        control.tooltip = rule.disabled or rule.why or knob.description or None
        if knob.choices is None:
            return False
        offered = rule.choices or knob.choices
        if tuple(control.options) == tuple(offered):
            return False
        from .constraints import closest
        value = closest(control.value, offered)
        if value != control.value:
            moved.append(f"{name} {control.value} → {value}"
                         + (f" ({rule.why})" if rule.why else ""))
        control.options = list(offered)
        control.value = value
        return True

    def request(self, values: dict) -> int:
        """Evaluate ``values`` as the newest generation; return that generation."""
        with self._lock:
            self.generation += 1
            generation = self.generation
        self.status.value = "<i style='color:#777'>simulating…</i>"
        if not self.background:
            self._run(generation, values)
            return generation
        if self._executor is None:
            self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="step-lab")
        self._pending = self._executor.submit(self._run, generation, values)
        return generation

    def _run(self, generation: int, values: dict) -> None:
        if generation != self.generation:          # overtaken before it started: skip
            return
        with gcpause.paused():                     # no collector passes until it is drawn
            outcome = self.cache.get(values)       # from memory, or computed here
            self._apply(generation, outcome)

    def _apply(self, generation: int, outcome: Outcome) -> bool:
        """Show ``outcome`` unless a newer generation was requested meanwhile.

        The numbers and metrics appear first, then the verdict and the graph, then the player
        (each later step skipped if a newer request arrived in between); speculative work
        pauses meanwhile and then evaluates the neighbouring settings.
        """
        with self.cache.foreground():             # speculative work pauses meanwhile
            shown = self._draw(generation, outcome)
        if shown and outcome.error is None and self.speculator is not None:
            from .speculate import neighbours
            self.speculator.schedule(neighbours(self.knobs, outcome.values, self.rules,
                                                self.constraints))
        return shown

    def _draw(self, generation: int, outcome: Outcome) -> bool:
        """Numbers first, then the metrics, then the verdict and the graph, then the player
        (each skipped once a newer request arrived)."""
        views = self._render(outcome)
        with self._lock:
            if generation != self.generation or generation < self.applied_generation:
                return False
            self.applied_generation = generation
            self._show(outcome, views)
        if outcome.error is None and outcome.program is not None:
            self._show_metrics(generation, outcome)
        if self.on_result is not None and outcome.error is None:
            self.on_result(outcome)
        if outcome.error is None and outcome.program is not None:
            views = self._render_views(outcome)
            with self._lock:
                if generation == self.generation:
                    self._show_views(outcome, views)
        animate = self.options.animate and outcome.result is not None
        if animate and outcome.error is None and generation == self.generation:
            self._show_animation(outcome)
        return True

    def _render(self, outcome: Outcome) -> dict:
        """HTML and widgets of an outcome (computed outside the lock: dot runs here)."""
        views: dict = {"error": error_html(outcome.error) if outcome.error else ""}
        if outcome.program is None or outcome.error is not None:
            return views
        ready = is_complete(outcome)          # else the metrics follow (_show_metrics)
        views["summary"] = summary_html(outcome, pending=not ready)
        if self.options.show_metrics and ready:
            views["metrics"] = metrics_view(outcome)
        return views

    def _show_metrics(self, generation: int, outcome: Outcome) -> None:
        """The symbolic metrics and the on-chip peak of an outcome whose numbers are shown."""
        if is_complete(outcome):
            return
        error = complete(outcome)
        summary = summary_html(outcome, pending=bool(error))
        metrics = error_html(f"metrics: {error}") if error else (
            metrics_view(outcome) if self.options.show_metrics else "")
        with self._lock:
            if generation == self.generation:
                self.summary.value = summary
                self.metrics.value = metrics

    def _render_views(self, outcome: Outcome) -> dict:
        """The verdict and the graph of an outcome (after its numbers are shown)."""
        views: dict = {}
        if outcome.result is not None:
            try:
                views.update(self._why(outcome))
            except Exception as exc:  # the verdict must not hide the numbers
                views["why"] = error_html(f"why is it slow: {exc}")
        if self.options.show_graph:
            try:
                choices = drawn(outcome, "expand", lambda: expand_choices(outcome.program))
                values = [v for _, v in choices]
                expand = self.expand.value if self.expand.value in values else "none"
                views["expand"] = (choices, expand)
                views["graph"] = graph_view(outcome, self.options, expand)
            except Exception as exc:  # a drawing problem must not hide the numbers
                views["graph"] = error_html(f"graph: {exc}")
        return views

    def _show_animation(self, outcome: Outcome) -> None:
        """Show the browser player of the new run (a self-contained HTML output)."""
        try:
            self.animation = show_player(self.plots, outcome)
            stale.mark((self.plots,), False)
        except Exception as exc:  # shown instead of the animation; the numbers stay
            self.error.value += error_html(f"animation: {exc}")

    def _show(self, outcome: Outcome, views: dict) -> None:
        self.error.value = views["error"]
        self.status.value = ""
        if outcome.error is not None:               # keep the last good views visible
            self.status.value = ("<i style='color:#b00020'>this knob setting failed; showing "
                                 "the last good result</i>" if self.outcome else "")
            return
        self.outcome = outcome
        stale.mark((self.why, self.roofline, self.graph, self.plots), True)   # until redrawn
        self.code_box.value = self._code_html()
        self.summary.value = views.get("summary", "")
        self.metrics.value = views.get("metrics", "")

    def _show_views(self, outcome: Outcome, views: dict) -> None:
        stale.mark((self.why, self.roofline, self.graph), False)
        if not (self.options.animate and outcome.result is not None):
            stale.mark((self.plots,), False)        # no player follows
        self.graph.value = views.get("graph", "")
        self.why.value = views.get("why", "")
        self.bottleneck = views.get("bottleneck")
        if self.roofline_toggle.value:
            self.roofline.value = views.get("roofline", "")
        if outcome.result is not None:
            self.history[_label(outcome.values)] = outcome.result
            while len(self.history) > 16:
                self.history.pop(next(iter(self.history)))
        if "expand" in views:
            choices, expand = views["expand"]
            self._setting_expand = True
            try:
                self.expand.options = choices
                self.expand.value = expand
                self.expand.layout.display = "" if len(choices) > 1 else "none"
            finally:
                self._setting_expand = False

    def _why(self, outcome: Outcome) -> dict:
        """The "why is it slow?" verdict, with the knob settings simulated so far as variants."""
        from .roofline import roofline_iframe, why_html
        label = _label(outcome.values)
        variants = {k: r for k, r in list(self.history.items()) if k != label}
        b = outcome.result.why_slow(variants, label=label)
        views = {"why": why_html(b), "bottleneck": b}
        if self.roofline_toggle.value:
            views["roofline"] = roofline_iframe(b)
        return views

    def _on_roofline(self, change) -> None:
        if not change["new"] or self.bottleneck is None:
            self.roofline.value = ""
            return
        from .roofline import roofline_iframe
        try:
            self.roofline.value = roofline_iframe(self.bottleneck)
        except Exception as exc:  # a drawing problem must not break the panel
            self.roofline.value = error_html(f"roofline: {exc}")

    def _on_expand(self, _change) -> None:
        """Redraw only the graph with the chosen collapse/expand setting (no re-simulation)."""
        if self._setting_expand or self.outcome is None or self.outcome.program is None:
            return
        try:
            self.graph.value = graph_html(self.outcome.program, self.outcome.result,
                                          annotate=self.options.annotate,
                                          max_nodes=self.options.max_graph_nodes,
                                          expand=self.expand.value)
        except Exception as exc:  # a drawing problem must not break the panel
            self.graph.value = error_html(f"graph: {exc}")

    def wait(self, timeout: float = 60.0) -> None:
        """Block until the pending background evaluation (if any) has finished."""
        pending = self._pending
        if pending is not None:
            pending.result(timeout=timeout)

    def close(self) -> None:
        if self.speculator is not None:
            self.speculator.close()
        self.cache.clear()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        _close_tree(self.widget)


def _label(values: dict) -> str:
    """``"tile=32, M=256"``: a knob setting as a roofline label."""
    return ", ".join(f"{k}={v}" for k, v in values.items()) or "this run"


def _close_tree(widget) -> None:
    """Close a widget and its descendants (their comms stay open otherwise)."""
    for child in getattr(widget, "children", ()):
        _close_tree(child)
    widget.close()
