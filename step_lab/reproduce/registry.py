"""The registry of reproducible paper figures (EXPERIMENTS.md §3–§4, §7).

A figure module defines ``run(ctx) -> FigureResult`` and registers it with :func:`figure`; the
headline keys are dotted (``"mixtral.pid"``) and written nested into ``FIG.json``.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, did_you_mean

__all__ = ["Figure", "FigureResult", "RunContext", "figure", "FIGURES", "get_figure"]


@dataclass
class RunContext:
    """What a figure run may use: sweep settings and where traces live."""

    quick: bool = False
    traces: Path | None = None      # a folder laid out like data/traces; None = vendored copy
    executor: object = None         # None, a concurrent.futures.Executor or a dask Client
    jobs: int | None = None
    cache: Path | None = None
    progress: bool = True
    allow_standins: bool = False    # under ``traces``: a missing file becomes a stand-in
    inputs: dict = field(default_factory=dict)   # relative trace -> what was used (per figure)

    def sweep(self, fn, grid: dict, key: str | None = None) -> list[dict]:
        """``dse.sweep`` of the points not simulated yet in this process (:mod:`.memo`)."""
        from ..dse import sweep
        from .memo import sweep_once
        return sweep_once(lambda f, g, k: sweep(f, g, executor=self.executor, jobs=self.jobs,
                                                cache=self.cache, progress=self.progress,
                                                key=k), fn, grid, key)


@dataclass
class FigureResult:
    headline: dict                  # dotted key -> our value
    points: list                    # one dict per simulated/analysed point
    notes: list = field(default_factory=list)   # honest explanations of gaps and choices
    plot: object = None             # a bokeh model (or None)
    quick: bool = False             # set from the RunContext by the registered run


@dataclass
class Figure:
    id: str
    title: str
    question: str
    paper: dict                     # dotted key -> the paper's value
    tolerance: dict                 # dotted key -> (kind, amount) e.g. ("rel", 0.15)
    run: object                     # callable(RunContext) -> FigureResult
    traces: tuple = ()              # trace files it reads (relative to data/traces)
    scopes: dict = field(default_factory=dict)   # key prefix -> the traces those keys rest on
    full_only: frozenset = frozenset()           # criteria --quick cannot decide


FIGURES: dict[str, Figure] = {}


def figure(id: str, title: str, question: str, paper: dict, tolerance: dict, traces=(),
           scopes=None, full_only=()):
    """Decorator registering ``run(ctx)`` as the reproduction of figure ``id``.

    ``scopes``: headline-key prefix (``"mixtral."``) or key -> the trace files those headlines
    rest on (default: every trace the run used); ``full_only``: criteria a ``--quick`` run cannot
    decide (its sweep is subsampled), reported as "not assessed in quick mode"."""
    def register(run):
        def stamped(ctx):
            result = run(ctx)
            result.quick = bool(ctx.quick)
            return result
        stamped.__doc__, stamped.__wrapped__ = run.__doc__, run
        FIGURES[id] = Figure(id, title, question, dict(paper), dict(tolerance), stamped,
                             tuple(traces),
                             {k: tuple(v) for k, v in (scopes or {}).items()},
                             frozenset(full_only))
        return run
    return register


def get_figure(fig_id: str) -> Figure:
    from . import figures  # noqa: F401  (imports every figure module, filling the registry)
    if fig_id not in FIGURES:
        raise ConfigError(f"unknown figure {fig_id!r} (expected one of "
                          f"{sorted(FIGURES) + ['all']})" + did_you_mean(fig_id, FIGURES))
    return FIGURES[fig_id]


def within(value, paper, tol) -> bool | None:
    """Whether ``value`` is within tolerance ``tol`` = (kind, amount) of ``paper``."""
    if value is None or paper is None or tol is None:
        return None
    kind, amount = tol[0], tol[1]
    if kind == "all":           # every condition holds, e.g. ("all", [("rel", 0.2), ("gt", 1)])
        return all(within(value, paper, t) for t in amount)
    if kind == "rel_any":       # within ±amount of any of several published values
        return any(abs(value - p) <= amount * abs(p) for p in tol[2])
    if kind == "gt":
        return value > amount
    if kind == "rel":
        return abs(value - paper) <= amount * abs(paper)
    if kind == "abs":
        return abs(value - paper) <= amount
    if kind == "min":           # value must be at least amount (e.g. PID > 1.15)
        return value >= amount
    if kind == "max":
        return value <= amount
    raise ConfigError(f"unknown tolerance kind {kind!r} (expected rel, abs, min, max, gt, "
                      "rel_any or all)")
