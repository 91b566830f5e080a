"""One evaluation of a program builder: build, symbolic metrics, simulation, and their views.

A *builder* is any callable ``builder(knob_values) -> (program, inputs, bindings)`` — the body of
a ``%%step`` cell, a workload factory or a plain function. :func:`evaluate` runs it and never
raises for user mistakes: the :class:`Outcome` carries a short ``error`` message instead, so a
bad knob combination shows an error without killing the widgets.
"""
from __future__ import annotations

import html
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .cell import CellError, short_error

__all__ = ["Outcome", "Options", "evaluate", "complete", "summary_html", "metrics_latex"]


@dataclass(frozen=True)
class Options:
    """What an evaluation computes and shows."""

    hw: Any = "paper"
    simulate: bool = True
    animate: bool = False
    show_graph: bool = True
    show_metrics: bool = True
    annotate: str = "busy"
    values: bool = True                 # False: timing-only simulation (much faster)
    max_graph_nodes: int = 400          # larger programs are not redrawn on knob changes


@dataclass
class Outcome:
    """Everything one evaluation produced (``error`` set when something failed)."""

    values: dict
    program: Any = None
    inputs: dict = field(default_factory=dict)
    bindings: dict = field(default_factory=dict)
    metrics: Any = None
    metric_values: dict | None = None
    result: Any = None
    error: str | None = None
    exception: BaseException | None = None
    seconds: float = 0.0
    notes: str = ""                 # the workload's stated approximations (meta["notes"])
    cached: bool = False            # answered from memory (:mod:`.cache`)
    computed_seconds: float = 0.0   # when cached: what the evaluation took when it ran
    drawn: dict = field(default_factory=dict)   # views drawn once, reused (:mod:`.cache`)


def evaluate(builder: Callable, values: dict, options: Options,
             pause: Callable | None = None, *, metrics: bool = True) -> Outcome:
    """Build, analyse and (unless ``options.simulate`` is False) simulate.

    ``pause`` (speculative evaluations) is called between the stages and at the simulator's
    progress ticks; it blocks while foreground work has the CPU (:mod:`.cache`).
    ``metrics=False`` (a panel's foreground change) leaves the symbolic metrics and the run's
    on-chip peak to :func:`complete`, called once the run's numbers are on screen; without a
    simulation the metrics are the numbers, and are always computed.

    [Choice] A knob change shows the simulated numbers (cycles, off-chip bytes, FLOPs,
    utilization) before the symbolic metrics: those, and the on-chip peak that is evaluated
    from them, follow a moment later (the cell shows "…" meanwhile). They are the same values
    an uncached full evaluation gives (tested)."""
    start = time.perf_counter()
    out = Outcome(values=dict(values))
    try:
        built = builder(dict(values))
        out.program, out.inputs, out.bindings = built[:3]
        out.notes = built[3] if len(built) > 3 else ""
        if pause is not None:
            pause()
        if metrics or not options.simulate:
            out.metrics, out.metric_values = _metrics(out.program, out.bindings)
            if pause is not None:
                pause()
        if options.simulate:
            from ..sim import simulate
            out.result = simulate(out.program, hw=options.hw, bindings=out.bindings or None,
                                  inputs=out.inputs or None, trace=options.animate,
                                  values=options.values, progress=pause)
            if metrics:
                _ = out.result.onchip_peak_bytes      # lazy in SimResult: from the metrics
    except CellError as exc:
        out.error, out.exception = str(exc), exc.original
    except Exception as exc:  # shown in the output area; the widgets stay alive
        out.error, out.exception = _message(exc, out.program), exc
    out.seconds = time.perf_counter() - start
    return out


def complete(outcome: Outcome) -> str | None:
    """Add the symbolic metrics and the run's on-chip peak to an outcome evaluated with
    ``metrics=False`` (nothing to do otherwise); return an error message if they fail (the
    numbers already shown stay valid)."""
    if outcome.program is None or outcome.error is not None or is_complete(outcome):
        return None
    # kept in the slot every copy of a remembered outcome shares (cache.as_cached), under its
    # lock: computed once, whichever copy (the worker's or a foreground hit's) asks first
    slot = outcome.drawn
    try:
        with slot.setdefault("analysis lock", threading.Lock()):
            if "analysis" not in slot:
                slot["analysis"] = ((outcome.metrics, outcome.metric_values)
                                    if outcome.metrics is not None
                                    else _metrics(outcome.program, outcome.bindings))
            outcome.metrics, outcome.metric_values = slot["analysis"]
            if outcome.result is not None:
                _ = outcome.result.onchip_peak_bytes
    except Exception as exc:  # shown in the metrics area; the numbers stay
        return _message(exc, outcome.program).replace("simulating", "analysing", 1)
    return None


def is_complete(outcome: Outcome) -> bool:
    """Whether the metrics (and the run's on-chip peak) of ``outcome`` are known."""
    if outcome.metrics is None:
        return False
    return outcome.result is None or getattr(outcome.result, "_onchip", 0) is not None


def _message(exc: BaseException, program) -> str:
    """``<Type> while simulating 'name': <message>`` once a program exists, else the error."""
    if program is None:
        return short_error(exc)
    return f"{type(exc).__name__} while simulating {program.name!r}: {exc}"


FORMULA_NODES = 1000        # larger programs: metric values without formulas (_metrics)


def _metrics(program, bindings: dict):
    """Symbolic metrics and, when every symbol is bound, their integer values.

    [Choice] (issue 15) A program of more than :data:`FORMULA_NODES` nodes whose symbols are
    all bound gets its metrics numerically (``sl.metrics(prog, bindings=...)``: the same values,
    2-3x faster on the Qwen3 b64 layer's 3,341 nodes); the panel shows their values at the
    bindings and points to ``sl.metrics(prog)`` for the formulas. Formulas of programs that
    size are mostly too long to show (the MoE layers': one term per expert, which the view
    summarised as a value and a term count); a short one is no longer shown in the panel."""
    from ..analysis.metrics import metrics
    from ..errors import StepError
    if len(program.nodes) > FORMULA_NODES:
        try:
            numeric = metrics(program, bindings=bindings)
            return numeric, numeric.totals
        except StepError:                  # an unbound symbol: the formulas show it
            pass
    m = metrics(program)
    try:
        return m, m.evaluate(bindings)
    except StepError:
        return m, None


_METRIC_TITLES = {"offchip_traffic": ("off-chip traffic", "B"),
                  "onchip_memory": ("on-chip memory", "B"), "flops": ("FLOPs", ""),
                  "allocated_compute": ("allocated compute", "FLOPs/cycle")}
MAX_LATEX_CHARS = 400       # longer symbolic totals are summarised (MathJax chokes on them)


def metrics_latex(outcome: Outcome, max_bindings: int = 8) -> str:
    """LaTeX (``$$…$$``) of the symbolic totals with units, and their values at the bound
    symbols: ``off-chip traffic = 3328·M B = 851,968 B`` … ``at M = 256`` (a product dot and
    an upright unit, so the symbol ``M`` cannot be read as "mega").

    A total whose formula is very long (e.g. one term per expert) is shown by its value and
    its number of terms; ``sl.metrics(prog)`` has the full expression.
    """
    if outcome.metrics is None:
        return ""
    from ..analysis.numeric import NumericMetrics
    from ..formatting import latex_quantity
    values = outcome.metric_values or {}
    if isinstance(outcome.metrics, NumericMetrics):  # a large program (_metrics): values only
        return _values_latex(outcome, values, max_bindings)
    lines = []
    for name, (title, unit) in _METRIC_TITLES.items():
        expr = getattr(outcome.metrics, name, None)
        if expr is None:
            continue
        long = getattr(expr, "is_Add", False) and len(expr.args) > MAX_LATEX_CHARS // 4
        text = "" if long else latex_quantity(expr, unit)    # a term prints " + x" at least
        if long or len(text) > MAX_LATEX_CHARS:
            terms = len(expr.args) if hasattr(expr, "args") else 1
            value = latex_quantity(values[name], unit) if name in values else "?"
            text = (value + r"\quad" +
                    _latex_text(f"(a formula of {terms} terms: see sl.metrics(prog))"))
        elif name in values and getattr(expr, "free_symbols", None):
            text += " &&= " + latex_quantity(values[name], unit)
        lines.append(rf"\text{{{title}}} &= {text}")
    names = {s.name for s in outcome.metrics.symbols}
    at = _bound(outcome, names, max_bindings)
    if values and at:
        lines.append(r"&" + _latex_text("at " + at))     # its own row: never off the right edge
    return _aligned(lines)


def _aligned(lines: list) -> str:
    """Display-math rows aligned on their ``&``."""
    return r"$$\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}$$"


def _bound(outcome: Outcome, names, max_bindings: int) -> str:
    """``"M = 256, N = 64"``: the bindings of the symbols ``names`` (natural order, at most
    ``max_bindings`` of them and a count), or "" when none is bound."""
    shown = sorted(((k if isinstance(k, str) else k.name, v) for k, v in outcome.bindings.items()
                    if (k if isinstance(k, str) else getattr(k, "name", "")) in names),
                   key=lambda kv: _natural(kv[0]))
    at = ", ".join(f"{k} = {v:,}" if isinstance(v, int) else f"{k} = {v}"
                   for k, v in shown[:max_bindings])
    return at + (f", … ({len(shown)} symbols)" if len(shown) > max_bindings else "")


def _values_latex(outcome: Outcome, values: dict, max_bindings: int) -> str:
    """The metric values of a large program computed numerically (see :func:`_metrics`)."""
    from ..formatting import latex_quantity
    from ..validate import program_symbols
    lines = [rf"\text{{{title}}} &= " + latex_quantity(values[name], unit)
             for name, (title, unit) in _METRIC_TITLES.items() if name in values]
    at = _bound(outcome, set(program_symbols(outcome.program)), max_bindings)
    if at:
        lines.append(r"&" + _latex_text("at " + at))
    nodes = len(outcome.program.nodes)
    lines.append(r"&" + _latex_text(f"({nodes:,} nodes: sl.metrics(prog) has the formulas)"))
    return _aligned(lines)


def _natural(name: str) -> tuple:
    """Sort key: ``sel_x2`` before ``sel_x10`` (digit runs compare as numbers)."""
    return tuple(int(part) if part.isdigit() else part for part in re.split(r"(\d+)", name))


def _latex_text(text: str) -> str:
    return r"\text{" + text.replace("_", r"\_") + "}"


_ROWS = (("cycles", "cycles", "{:,}"), ("offchip_bytes", "off-chip bytes", "{:,}"),
         ("onchip_peak_bytes", "on-chip peak bytes (paper preset)", "{:,}"),
         ("flops", "FLOPs", "{:,}"), ("compute_utilization", "compute utilization", "{:.1%}"))


def summary_html(outcome: Outcome, pending: bool = False) -> str:
    """The simulation summary: a one-row HTML table (symbolic values when not simulated).

    ``pending``: the on-chip peak shows "…" (the outcome's metrics are being computed, see
    :func:`complete`)."""
    rows = []
    if outcome.result is not None:
        for attr, label, pattern in _ROWS:
            if pending and attr == "onchip_peak_bytes":
                rows.append((label, "…"))
                continue
            value = getattr(outcome.result, attr, None)
            if value is not None:
                rows.append((label, pattern.format(value)))
    elif outcome.metric_values:
        rows += [("off-chip traffic (symbolic)", f"{outcome.metric_values['offchip_traffic']:,}"),
                 ("on-chip memory (symbolic)", f"{outcome.metric_values['onchip_memory']:,}"),
                 ("FLOPs (symbolic)", f"{outcome.metric_values['flops']:,}")]
    knobs = ", ".join(f"{k}={v!r}" for k, v in outcome.values.items())
    cell = "padding:1px 14px 1px 0;text-align:left"
    head = "".join(f"<th style='{cell};font-weight:normal;color:#555'>{html.escape(k)}</th>"
                   for k, _ in rows)
    body = "".join(f"<td class='step-lab-{_slug(k)}' style='{cell};font-size:1.1em'>"
                   f"{html.escape(v)}</td>" for k, v in rows)
    name = html.escape(outcome.program.name) if outcome.program is not None else "?"
    title = f"<b>{name}</b>" + (f" — {html.escape(knobs)}" if knobs else "")
    took = (f"<span style='color:#777'> ({outcome.seconds * 1000:.0f} ms"
            + (f", remembered: it took {outcome.computed_seconds * 1000:.0f} ms to compute"
               if outcome.cached else "") + ")</span>")
    table = (f"<table style='border-collapse:collapse;margin:2px 0'><tr>{head}</tr>"
             f"<tr>{body}</tr></table>")
    notes = (f"<div class='step-lab-notes' style='color:#8a5a00'>approximation: "
             f"{html.escape(outcome.notes)}</div>" if outcome.notes else "")
    return f"<div class='step-lab-summary'>{title}{took}{table}{notes}</div>"


def _slug(label: str) -> str:
    return label.split(" (")[0].replace(" ", "-").replace("_", "-")


def error_html(message: str) -> str:
    return ("<pre class='step-lab-error' style='color:#b00020;background:#fff5f5;"
            f"white-space:pre-wrap;padding:6px;margin:0'>{html.escape(message)}</pre>")
