"""Numeric mode of ``metrics``: the STEP.md §6 totals at given bindings, without sympy totals.

``sl.metrics(prog, bindings={...})`` (or ``sl.metrics(run, numeric=True)``) returns a
:class:`NumericMetrics`: integer off-chip traffic, on-chip memory, FLOPs and allocated compute,
per node and in total. It applies the same per-operator rules as the symbolic mode
(:mod:`step_lab.analysis.formulas`, through their ``at`` argument) but evaluates every dimension a
rule reads the moment it reads it, so no per-node product, no Piecewise activity factor and no
program-wide sum is ever built as an expression. On a 3,000-node MoE layer this is several times
faster than building the symbolic totals and evaluating them (``benchmarks/bench_metrics.py``);
workloads and figures call it instead of re-summing the formulas by hand.

The result equals ``metrics(prog, ...).evaluate(bindings, peak=peak)`` exactly (and each node's
row equals ``Metrics.table(bindings)``): sums are exact (``int``/``Fraction``) and rounded half up
only at the end, as the symbolic mode does. Ragged symbols follow the same rule (§6.4): traffic,
FLOPs and allocated compute at ``bindings`` (a mean may be a ``Fraction``), on-chip memory at
``bindings`` overridden by ``peak`` (maxima).
"""
from __future__ import annotations

import math
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

import sympy

from ..errors import BindingError
from ..ir.program import Program
from ..ir.stream import Stream
from ..symbolic import Dim, evaluate_rational
from . import formulas, spill

__all__ = ["NumericMetrics", "numeric_metrics", "Values"]

METRIC_NAMES = ("offchip_traffic", "onchip_memory", "flops", "allocated_compute")


@dataclass(frozen=True, eq=False)
class NumericMetrics:
    """Integer metric totals of one program at one set of bindings (STEP.md §6)."""

    program_name: str
    preset: str
    policy: str
    offchip_traffic: int
    onchip_memory: int
    flops: int
    allocated_compute: int
    by_node: dict = field(repr=False)       # node name -> {metric name -> int}
    ops: dict = field(repr=False)           # node name -> operator type name

    @property
    def totals(self) -> dict:
        return {name: getattr(self, name) for name in METRIC_NAMES}

    def evaluate(self) -> dict:
        """The four totals (the same dict ``Metrics.evaluate(bindings)`` returns)."""
        return self.totals

    def table(self, *, nonzero: bool = True) -> list:
        """Rows ``{"node", "op", <metric>: int}`` plus a final ``"total"`` row (as
        ``Metrics.table(bindings)``); ``nonzero`` drops nodes whose four metrics are all 0."""
        rows = [{"node": node, "op": self.ops[node], **cells}
                for node, cells in self.by_node.items()
                if not (nonzero and not any(cells.values()))]
        return rows + [{"node": "total", "op": "", **self.totals}]

    def operational_intensity(self) -> float:
        """FLOPs per off-chip byte (``inf`` without off-chip traffic)."""
        return self.flops / self.offchip_traffic if self.offchip_traffic else math.inf

    def __str__(self) -> str:
        body = ", ".join(f"{name}={value}" for name, value in self.totals.items())
        return f"NumericMetrics({self.program_name!r}, {self.preset}/{self.policy}: {body})"


class Values:
    """Exact value (``int`` or ``Fraction``) of a dimension at fixed bindings, memoised per
    expression: programs share a few hundred distinct dimensions among thousands of streams.

    An unbound symbol is recorded in ``missing`` and counts 0, so one pass finds every unbound
    symbol; the caller raises if ``missing`` is not empty.
    """

    def __init__(self, values: Mapping):
        self.values = {k: _norm(v) for k, v in values.items()}
        self.integral = all(isinstance(v, int) for v in self.values.values())
        self.missing: set = set()
        self._memo: dict = {}

    def __call__(self, d: Dim):
        if isinstance(d, int) or not isinstance(d, sympy.Basic):
            return d
        try:
            return self._memo[d]
        except KeyError:
            value = self._memo[d] = self._eval(d)
            return value

    def _eval(self, e):
        handler = Values.symbol if e.is_Symbol else _HANDLERS.get(type(e))
        if handler is not None:
            return handler(self, e)
        if e.is_Integer:
            return int(e)
        if e.is_Rational:
            return Fraction(int(e.p), int(e.q))
        return self._fallback(e)

    def _fallback(self, e):
        """Anything the handlers do not know: substitute and let sympy evaluate."""
        names = {s.name for s in e.free_symbols}
        unbound = names - set(self.values)
        if unbound:
            self.missing |= unbound
            return 0
        value = evaluate_rational(e, {n: self.values[n] for n in names}, where="metrics")
        return int(value) if value.denominator == 1 else value

    def symbol(self, e: sympy.Symbol) -> Any:
        if e.name not in self.values:
            self.missing.add(e.name)
            return 0
        return self.values[e.name]

    def truth(self, cond: Any) -> bool:
        """Value of a condition (relations, And/Or/Not, true/false)."""
        if cond is sympy.true or cond is True:
            return True
        if cond is sympy.false or cond is False:
            return False
        if isinstance(cond, sympy.And):
            return all(self.truth(c) for c in cond.args)
        if isinstance(cond, sympy.Or):
            return any(self.truth(c) for c in cond.args)
        if isinstance(cond, sympy.Not):
            return not self.truth(cond.args[0])
        compare = _RELATIONS.get(type(cond))
        if compare is None:
            return bool(self._fallback(sympy.Piecewise((1, cond), (0, True))))
        return compare(self(cond.lhs), self(cond.rhs))


def _add(v: Values, e):
    return _norm(sum((v(a) for a in e.args), 0))


def _mul(v: Values, e):
    out = 1
    for a in e.args:
        out = out * v(a)
    return _norm(out)


def _pow(v: Values, e):
    exp = v(e.exp)
    if isinstance(exp, int):
        base = v(e.base)
        return _norm(Fraction(base) ** exp if exp < 0 else base ** exp)
    return v._fallback(e)


def _ceiling(v: Values, e):
    return math.ceil(v(e.args[0]))


def _floor(v: Values, e):
    return math.floor(v(e.args[0]))


def _piecewise(v: Values, e):
    for value, cond in e.args:
        if v.truth(cond):
            return v(value)
    return v._fallback(e)


def _max(v: Values, e):
    return max(v(a) for a in e.args)


def _min(v: Values, e):
    return min(v(a) for a in e.args)


def _norm(x):
    """Fractions with denominator 1 become ints (so ints stay ints through a product)."""
    if isinstance(x, Fraction) and x.denominator == 1:
        return int(x)
    return x


_HANDLERS = {sympy.Add: _add, sympy.Mul: _mul, sympy.Pow: _pow, sympy.ceiling: _ceiling,
             sympy.floor: _floor, sympy.Piecewise: _piecewise, sympy.Max: _max, sympy.Min: _min}
_RELATIONS = {sympy.GreaterThan: operator.ge, sympy.StrictGreaterThan: operator.gt,
              sympy.LessThan: operator.le, sympy.StrictLessThan: operator.lt,
              sympy.Equality: operator.eq, sympy.Unequality: operator.ne}


def numeric_metrics(program: Program, acc: formulas.Accounting, policy: str, values: Mapping,
                    peak_values: Mapping, hint: str = "", *,
                    depth_of: Callable[[Stream], Dim] | None = None,
                    capacity: int | None = None) -> NumericMetrics:
    """The four metrics of every node and their totals at validated bindings.

    ``values``: name -> int or Fraction (traffic, FLOPs, allocated compute); ``peak_values``:
    the same overridden by peaks (on-chip memory). Called by :func:`~step_lab.analysis.metrics.
    metrics`, which validates its arguments. Raises :class:`BindingError` listing every unbound
    symbol (``hint`` is appended). ``depth_of`` (stream -> FIFO depth) counts FIFOs and
    ``capacity`` spills Bufferizes, as in the symbolic mode (``metrics(fifo_depth=…,
    buffer_capacity=…)``).
    """
    mean, peak = Values(values), Values(peak_values)
    by_node, ops = {}, {}
    totals = dict.fromkeys(METRIC_NAMES, 0)
    for node in program.nodes:
        cells = _node_values(node, acc, policy, mean, peak, depth_of, capacity)
        for name, value in cells.items():
            totals[name] += value
        by_node[node.name] = {name: _round(value) for name, value in cells.items()}
        ops[node.name] = type(node).__name__
    missing = mean.missing | peak.missing
    if missing:
        names = sorted(missing)
        raise BindingError(
            f"metrics of {program.name!r}: unbound symbols {names} "
            f"(pass bindings={{{', '.join(repr(m) + ': …' for m in names)}}}){hint}")
    return NumericMetrics(program.name, acc.preset, policy, by_node=by_node, ops=ops,
                          **{name: _round(value) for name, value in totals.items()})


def _node_values(node, acc: formulas.Accounting, policy: str, mean: Values,
                 peak: Values, depth_of=None, capacity: int | None = None) -> dict:
    memory = formulas.memory(node, acc, peak)
    traffic = formulas.traffic(node, mean)
    spilled = spill.factor(node, capacity)
    if spilled != 0:            # 1, or a Piecewise for a symbolic buffer size
        at_peak, at_mean = peak(spilled), mean(spilled)
        memory = (1 - at_peak) * memory + at_peak * formulas.spilled_memory(node, acc, peak)
        traffic = traffic + at_mean * formulas.spilled_traffic(node, mean)
    if depth_of is not None:
        memory = memory + formulas.fifo_memory(node, acc, lambda s: peak(depth_of(s)), peak)
    compute = formulas.compute_bw(node)
    if policy == "on_demand":
        if memory and not _active(node, peak):
            memory = 0
        if compute and not _active(node, mean):
            compute = 0
    return {"offchip_traffic": traffic, "onchip_memory": memory,
            "flops": formulas.flops(node, mean), "allocated_compute": compute}


def _active(node, at: Values) -> bool:
    """The on-demand factor of ``node`` (§6.4) at ``at``'s bindings.

    With integer bindings ``Σ ‖in_i‖ > 0`` is exactly the symbolic indicator. A mean
    (``Fraction``) binding evaluates the symbolic indicator itself, whose conditions are those
    of integers (``X >= 1``), so both modes agree on every binding.
    """
    if at.integral:
        return bool(formulas.activity(node, at))
    return bool(at(formulas.activity(node)))


def _round(value) -> int:
    """Half up, as ``Metrics.evaluate`` rounds a non-integral total."""
    if isinstance(value, int):
        return value
    return math.floor(Fraction(value) + Fraction(1, 2))
