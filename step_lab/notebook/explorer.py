"""``explore(workload_or_fn, **knob_ranges)``: knob widgets outside magics.

The target is either a plain function ``fn(**knobs) -> (program, inputs, bindings)`` (or returning
a Workload), or a Workload — an object with ``.program``, ``.inputs``, ``.bindings``, ``.knobs``
and a ``.rebuild(**knobs)`` method returning a new Workload for other knob values.
"""
from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from ..errors import ConfigError, did_you_mean
from .knobs import Knob, knob_from_range
from .outcome import Options

__all__ = ["explore", "builder_for", "unpack", "notes_of"]


def explore(target, *, hw: Any = "paper", simulate: bool = True, animate: bool = True,
            show_graph: bool = True, annotate: str = "busy", background: bool = True,
            values: bool = True, max_graph_nodes: int = 400, constraints=None,
            speculate: bool | None = None, **knob_ranges):
    """An ipywidgets box: one widget per knob, summary, metrics, graph and animation.

    ``knob_ranges`` map knob names to a list of choices, a ``(lo, hi[, step])`` range, a bool or
    a :class:`~.knobs.Knob`; a Workload's own ``.knobs`` are used when none are given. The
    keyword options (``hw`` … ``speculate``) are not knobs; ``values=False`` simulates
    timing only (much faster for big layers). ``speculate`` (default: as ``background``)
    evaluates the neighbouring knob settings ahead in a background thread, so that the next
    move is answered from memory (:mod:`.speculate`). The returned widget has a ``.panel``
    (:class:`~.panel.StepPanel`).

    ``constraints(values) -> {knob: rule}`` offers only what works (:mod:`.constraints`): a
    list restricts a knob's choices, a string disables it with that reason as its tooltip.
    The panel's "copy as code" box and ``panel.save_report()`` take the setting with you
    (:mod:`.takeaway`); a Workload's ``meta["notes"]`` (its approximations) are shown in the
    summary.
    """
    from .panel import StepPanel
    builder, knobs = builder_for(target, knob_ranges)
    options = Options(hw=hw, simulate=simulate, animate=animate, show_graph=show_graph,
                      annotate=annotate, values=values, max_graph_nodes=max_graph_nodes)
    return StepPanel(builder, knobs, options, background=background,
                     constraints=constraints, speculate=speculate).widget


def builder_for(target, knob_ranges: dict) -> tuple[Callable, dict]:
    """``(builder, {name: Knob})`` for a Workload or a plain function."""
    from .takeaway import FunctionSource, WorkloadSource
    if _is_workload(target):
        build, knobs = _workload_builder(target, knob_ranges)
        build.step_source = WorkloadSource(target)
        return build, knobs
    if not callable(target):
        raise ConfigError(f"explore: {type(target).__name__} {target!r:.60} is neither a Workload "
                          "nor a function (expected a Run, a Workload or fn(**knobs) -> "
                          "(program, inputs, bindings))")
    params = _parameters(target)
    knobs = _knobs(knob_ranges, params, f"{getattr(target, '__name__', 'fn')}()")

    def build(values: dict):
        built = target(**values)
        return (*unpack(built), notes_of(built))
    build.step_source = FunctionSource(target)
    return build, knobs


def _workload_builder(workload, knob_ranges: dict) -> tuple[Callable, dict]:
    own = dict(getattr(workload, "knobs", None) or {})
    ranges = dict(knob_ranges or own)
    rebuild = getattr(workload, "rebuild", None)
    if ranges and not callable(rebuild):
        raise ConfigError(f"explore: {type(workload).__name__} has no .rebuild(**knobs) method, so "
                          "knob changes cannot rebuild it (pass a function instead)")
    current = dict(getattr(workload, "params", None) or {})
    allowed = _parameters(rebuild) if callable(rebuild) else {}
    if allowed is None:                  # rebuild(**changes): the builder's recorded arguments
        allowed = {name: None for name in [*current, *own]}
    allowed = {name: current.get(name, default) for name, default in allowed.items()}
    knobs = _knobs(ranges, allowed, f"{type(workload).__name__}.rebuild()", current)

    def build(values: dict):
        if all(current.get(k) == v for k, v in values.items()):
            return (*unpack(workload), notes_of(workload))
        built = rebuild(**values)
        return (*unpack(built), notes_of(built))
    return build, knobs


def _knobs(ranges: dict, params: dict | None, where: str, current: dict | None = None) -> dict:
    """Knobs from ranges, checking names against the target's parameters (did-you-mean)."""
    knobs: dict[str, Knob] = {}
    for name, spec in ranges.items():
        if params is not None and name not in params:
            raise ConfigError(f"unknown knob {name!r}" + did_you_mean(name, params)
                              + f" ({where} takes {sorted(params)})")
        default = (current or {}).get(name, (params or {}).get(name))
        knobs[name] = knob_from_range(name, spec, default)
    return knobs


def _parameters(fn) -> dict | None:
    """``{name: default or None}`` of ``fn``'s keyword parameters; None if it takes **kwargs."""
    try:
        sig = inspect.signature(fn)
    except (TypeError, ValueError):
        return None
    out = {}
    for p in sig.parameters.values():
        if p.kind is p.VAR_KEYWORD:
            return None
        if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY):
            out[p.name] = None if p.default is p.empty else p.default
    return out


def _is_workload(obj) -> bool:
    """A :class:`~step_lab.ir.run.Run` or a Workload (which builds one), not a builder."""
    from ..ir.run import carries_run
    return carries_run(obj) and not callable(obj)


def notes_of(built) -> str:
    """A Workload's stated approximations (``meta["notes"]``), else ``""``."""
    meta = getattr(built, "meta", None)
    return str(meta.get("notes") or "") if isinstance(meta, dict) else ""


def unpack(built) -> tuple:
    """``(program, inputs, bindings)`` from a builder's return value or a Workload (through
    :func:`step_lab.ir.run.as_run`, the one converter)."""
    from ..ir.run import as_run
    try:
        run = as_run(built)
    except ConfigError:
        raise ConfigError(f"explore: the function returned {type(built).__name__} (expected "
                          "(program, inputs, bindings), a Program or a Workload)") from None
    return run.program, dict(run.inputs), dict(run.bindings)
