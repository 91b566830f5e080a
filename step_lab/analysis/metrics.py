"""Symbolic performance metrics of a STeP program (STEP.md §6).

``metrics(prog)`` returns a :class:`Metrics` holding four sympy totals — off-chip traffic (bytes),
on-chip memory (bytes), FLOPs and allocated compute (FLOPs/cycle) — and the per-node table they
sum. Substituting integers for the symbols (``Metrics.evaluate``) compares inputs or routing
decisions without simulating. Given bindings (``metrics(prog, bindings={...})``), the same rules
are evaluated numerically instead (:mod:`step_lab.analysis.numeric`): equal numbers, no sympy
totals, fast on programs with thousands of nodes.

Presets (on-chip memory only; traffic and FLOPs are the same under both):

* ``"paper"`` (default, §6.2): loads ``double_buffer·|tile|``, stores ``double_buffer·|data
  tile|``, Bufferize ``|tile| + double_buffer·‖buffer‖·|tile|``, Accum/Scan/Expand ``|out dtype|``,
  matmul Map ``T·in_tile_cols·|e| + |weight tile|``, matmul-accumulate Accum adds ``|out tile|``.
* ``"artifact"`` (§6.3, EXPERIMENTS.md §1.3): loads ``1·|tile|`` and stores at the declared element
  size; compute tiles (Accum/Scan/Expand outputs, Bufferize/Streamify buffers) at
  ``compute_elem_bytes`` per float element (default 4: the artifact's FP32 emulation of BF16);
  matmul Maps 0. ``double_buffer`` does not apply to this preset.

Policies (§6.4 "Idle branches"):

* ``"static"``: every instantiated node counts (hardware is configured for all branches).
* ``"on_demand"``: each node's on-chip memory and allocated compute is multiplied by
  ``P = nonempty(Σ_i ‖in_i‖)`` — ``Piecewise((1, Σ ≥ 1), (0, True))`` over the cardinalities of
  all its input streams — so a node none of whose inputs carries an element (an expert with
  ``X_i = 0``, a region that receives nothing) contributes 0. Nodes without input streams (loads
  without a reference, program inputs) are always active. Traffic and FLOPs are unaffected: they
  are already 0 for an idle node.

[Choice] Ragged symbols (§6.4): a ragged dim is a bare symbol whose value differs between
sub-tensors. Traffic and FLOP expressions are exact when a ragged symbol is bound to its **mean**
extent, memory expressions when it is bound to its **maximum** (peak). ``Metrics.ragged`` lists
those symbols; ``evaluate(bindings, peak={...})`` evaluates on-chip memory with ``peak``
overriding ``bindings``. Non-integer (mean) bindings are allowed; the results are rounded to the
nearest integer (half up).

Allocated compute (§6.4, §7.4, EXPERIMENTS.md §1.3) = Σ C over the *compute operators*:
[Choice] the higher-order nodes whose function performs FLOPs (``formulas.performs_flops``).
Data-movement functions (RetileRow/Col packing, RetileStreamify, address generation, Identity;
0 FLOPs, §7.2) are not compute operators even with a ``compute_bw`` (the artifact does not count
its row-packing Accum). A node without ``compute_bw`` counts 0 (no hardware default here);
``SimResult.allocated_compute`` uses the same rule with the hardware default for unset C.

Further [Choice]s where STEP.md is silent:

* paper preset: the factor 2 of stores and of Bufferize's buffer is the same configurable
  ``double_buffer`` as the loads' (§6.2 requires the factor to be configurable);
* artifact preset: Bufferize/Streamify buffers hold compute tiles (``compute_elem_bytes``), as the
  artifact keeps all on-chip data in FP32; Scan (absent from the artifact) is counted like Accum;
* ``compute_elem_bytes`` rescales float elements only; bool and integer tiles (masks, addresses)
  keep their declared size (the worked example's ``[4,1]`` bool mask is 4 B);
* a matmul Map whose input is a single tile (no Zip) has no weight operand: weight term 0;
* on-demand activity uses the *sum* of input cardinalities: a multi-input node (Zip, Streamify
  with a ref, Reassemble) is idle only when every input is empty.

Two more options, orthogonal to ``preset``, ``policy`` and ``double_buffer`` (issue 16):
``fifo_depth`` counts FIFOs as the artifact does (``formulas.fifo_memory`` states the rule) and
``buffer_capacity`` spills Bufferizes whose buffer does not fit to HBM (``analysis.spill``).
"""
from __future__ import annotations

import math
import numbers
import weakref
from collections.abc import Mapping
from dataclasses import dataclass, field
from fractions import Fraction
from typing import TYPE_CHECKING, Any

from ..errors import BindingError, ConfigError, did_you_mean
from ..ir.program import Program, ragged_symbols
from ..ir.run import as_run, carries_run
from ..symbolic import Dim, evaluate, evaluate_rational, fmt, free_symbols, sum_dims
from ..validate import check_program, metric_bindings, program_symbols, unknown_hint
from . import formulas, spill

if TYPE_CHECKING:
    from .numeric import NumericMetrics

__all__ = ["metrics", "Metrics", "PRESETS", "POLICIES", "METRIC_NAMES"]

PRESETS = ("paper", "artifact")
POLICIES = ("static", "on_demand")
METRIC_NAMES = ("offchip_traffic", "onchip_memory", "flops", "allocated_compute")
_TITLES = {"offchip_traffic": ("off-chip traffic", "B"), "onchip_memory": ("on-chip memory", "B"),
           "flops": ("FLOPs", ""), "allocated_compute": ("allocated compute", "FLOPs/cycle")}


@dataclass(frozen=True, eq=False)
class Metrics:
    """Symbolic metric totals of one program under one preset and policy (STEP.md §6)."""

    program_name: str
    preset: str
    policy: str
    offchip_traffic: Dim
    onchip_memory: Dim
    flops: Dim
    allocated_compute: Dim
    by_node: dict = field(repr=False)       # node name -> {metric name -> Dim}
    ops: dict = field(repr=False)           # node name -> operator type name
    ragged: tuple = ()                      # ragged symbols of the program, sorted by name
    known: frozenset | None = field(default=None, repr=False)   # every symbol name of the program
    fractional: frozenset = field(default=frozenset(), repr=False)  # may bind to a mean (§6.4)
    fifo_depth: int | None = None           # FIFOs counted at this default depth (None: not)
    buffer_capacity: int | None = None      # bytes per on-chip buffer (None: unlimited)

    # -- symbols and evaluation ------------------------------------------------------------------
    @property
    def totals(self) -> dict:
        return {name: getattr(self, name) for name in METRIC_NAMES}

    @property
    def symbols(self) -> tuple:
        """Free symbols of the totals, sorted by name (bind them all to evaluate)."""
        return tuple(sorted(free_symbols(*self.totals.values()), key=lambda s: s.name))

    def evaluate(self, bindings: Mapping | None = None, *, peak: Mapping | None = None) -> dict:
        """Integer totals at ``bindings`` (symbol names or Symbols -> values).

        ``peak`` (optional) overrides bindings for ``onchip_memory`` only (ragged maxima).
        Values are non-negative integers; a ragged symbol may be bound to a non-negative
        ``Fraction`` (its mean, §6.4), a peak only to an integer. Raises :class:`BindingError`
        listing every unbound symbol, or naming a bad value or an unknown symbol. ``bindings``
        may also be a :class:`~step_lab.ir.run.Run` or a Workload (its bindings are used).
        """
        if carries_run(bindings):
            bindings = dict(as_run(bindings).bindings)
        values = self._validated(bindings, "bindings")
        peak_values = {**values, **self._validated(peak, "peak")}
        self._check_bound(values, peak_values, unknown_hint(peak_values, self.known))
        out = {}
        for name, expr in self.totals.items():
            env = peak_values if name == "onchip_memory" else values
            out[name] = _evaluate(expr, env, where=f"{self.program_name!r} {name}")
        return out

    def _validated(self, bindings, what: str) -> dict:
        return metric_bindings(bindings, f"metrics of {self.program_name!r}: {what}",
                               ragged=set(self.ragged) | self.fractional, peak=what == "peak")

    def _check_bound(self, values: dict, peak_values: dict, hint: str = "") -> None:
        missing = set()
        for name, expr in self.totals.items():
            env = peak_values if name == "onchip_memory" else values
            missing |= {s.name for s in free_symbols(expr) if s.name not in env}
        if missing:
            names = sorted(missing)
            raise BindingError(
                f"metrics of {self.program_name!r}: unbound symbols {names} "
                f"(pass bindings={{{', '.join(repr(m) + ': …' for m in names)}}}){hint}")

    def operational_intensity(self, bindings: Mapping | None = None) -> Any:
        """FLOPs per off-chip byte: a sympy expression, or a float when ``bindings`` are given.

        An upper bound if operators other than the off-chip ones may spill (§6.1).
        """
        if bindings is None:
            return self.flops / self.offchip_traffic if self.offchip_traffic != 0 else math.inf
        values = self.evaluate(bindings)
        traffic = values["offchip_traffic"]
        return values["flops"] / traffic if traffic else math.inf

    # -- display ---------------------------------------------------------------------------------
    def table(self, bindings: Mapping | None = None, *, nonzero: bool = True) -> list:
        """Rows ``{"node", "op", <metric>: value}`` plus a final ``"total"`` row.

        Values are ints when known (always, with ``bindings``), else readable strings
        (``⌈D1/4⌉``). ``nonzero`` drops nodes whose four metrics are all 0.
        """
        env = self._validated(bindings, "bindings") if bindings is not None else None
        rows = []
        for node, cells in self.by_node.items():
            if nonzero and all(v == 0 for v in cells.values()):
                continue
            rows.append(self._row(node, self.ops[node], cells, env))
        rows.append(self._row("total", "", self.totals, env))
        return rows

    def _row(self, node: str, op: str, cells: dict, env: dict | None) -> dict:
        row: dict[str, object] = {"node": node, "op": op}
        for name, expr in cells.items():
            if env is not None:
                row[name] = _evaluate(expr, env, where=f"{node} {name}")
            else:
                row[name] = expr if isinstance(expr, int) else fmt(expr)
        return row

    def to_latex(self) -> str:
        """The four totals as a LaTeX ``aligned`` block (no surrounding ``$``): symbols after a
        product dot, the unit upright (``3328 \\cdot M\\ \\mathrm{B}``, never ``3328M``)."""
        from ..formatting import latex_quantity
        lines = [rf"\text{{{_TITLES[name][0]}}} &= {latex_quantity(expr, _TITLES[name][1])}"
                 for name, expr in self.totals.items()]
        return r"\begin{aligned}" + r" \\ ".join(lines) + r"\end{aligned}"

    def _repr_latex_(self) -> str:
        return "$$" + self.to_latex() + "$$"

    def to_dict(self) -> dict:
        """JSON-serialisable form: expressions as sympy-parsable strings."""
        return {"program": self.program_name, "preset": self.preset, "policy": self.policy,
                **({"fifo_depth": self.fifo_depth} if self.fifo_depth is not None else {}),
                **({"buffer_capacity": self.buffer_capacity}
                   if self.buffer_capacity is not None else {}),
                **{name: str(expr) for name, expr in self.totals.items()},
                "by_node": {node: {k: str(v) for k, v in cells.items()}
                            for node, cells in self.by_node.items()},
                "symbols": [s.name for s in self.symbols],
                "ragged": [s.name for s in self.ragged]}

    def __str__(self) -> str:
        body = ", ".join(f"{name}={fmt(expr)}" for name, expr in self.totals.items())
        extra = "".join(f", {name}={value}" for name, value in
                        (("fifo_depth", self.fifo_depth), ("buffer_capacity", self.buffer_capacity))
                        if value is not None)
        return f"Metrics({self.program_name!r}, {self.preset}/{self.policy}{extra}: {body})"


def metrics(program: Program, *, preset: str = "paper", policy: str = "static",
            compute_tile: int = 16, double_buffer: int = 2, compute_elem_bytes: int | None = None,
            store_buffer_depth: int = 1, fifo_depth: int | None = None,
            buffer_capacity: int | None = None, bindings: Mapping | None = None,
            peak: Mapping | None = None, numeric: bool = False) -> Metrics | NumericMetrics:
    """Symbolic traffic, on-chip memory, FLOPs and allocated compute of ``program`` (§6).

    ``preset``: "paper" (default, §6.2) or "artifact" (§6.3). ``policy``: "static" or
    "on_demand" (idle nodes contribute 0 memory and compute). ``compute_tile`` is T, the
    hardware compute-tile edge; ``double_buffer`` the paper preset's staging factor;
    ``compute_elem_bytes`` the bytes per float element of compute tiles (default: declared size
    under "paper", 4 under "artifact"); ``store_buffer_depth`` the artifact's RandomOffChipStore
    staging depth; ``fifo_depth`` counts FIFOs (``depth · |token|`` per input FIFO, the
    artifact's accounting; None: FIFOs count 0); ``buffer_capacity`` spills Bufferizes whose
    buffer exceeds it to HBM (see the module docstring). ``program`` may also be a
    :class:`~step_lab.ir.run.Run` or a Workload.

    Numeric mode: with ``bindings`` (or ``numeric=True``, which uses the Run's bindings) the
    result is a :class:`~step_lab.analysis.numeric.NumericMetrics` of integers, equal to
    ``metrics(...).evaluate(bindings, peak=peak)`` but computed without symbolic totals (fast on
    programs with thousands of nodes). ``peak`` overrides bindings for on-chip memory (§6.4).
    """
    if bindings is not None or numeric or peak is not None:
        return _numeric(program, bindings, peak, preset, policy, compute_tile, double_buffer,
                        compute_elem_bytes, store_buffer_depth, fifo_depth, buffer_capacity)
    if carries_run(program):
        program = as_run(program).program
    check_program(program, "metrics")
    if fifo_depth is not None:
        _check_positive("fifo_depth", fifo_depth)
    capacity = spill.check_capacity(buffer_capacity, "metrics")
    key = (len(program.nodes), preset, policy, compute_tile, double_buffer, compute_elem_bytes,
           store_buffer_depth, fifo_depth, capacity, _depths(program, fifo_depth))
    cached = _CACHE.get(program)
    if cached is not None and cached[0] == key:
        return cached[1]   # NOTE: a knob change re-simulates and re-displays the same program
    result = _compute(program, preset, policy, compute_tile, double_buffer, compute_elem_bytes,
                      store_buffer_depth, (fifo_depth, capacity))
    _CACHE[program] = (key, result)
    return result


def _depths(program, fifo_depth) -> tuple:
    """The per-stream FIFO depths a FIFO-counting result depends on, by stream name (no Stream
    objects in the cache key: they would keep the weakly keyed program alive)."""
    if fifo_depth is None:
        return ()
    return tuple((s.name, d) for s, d in program.fifo_depth.items())


def _numeric(program, bindings, peak, preset, policy, compute_tile, double_buffer,
             compute_elem_bytes, store_buffer_depth, fifo_depth, buffer_capacity):
    """Numeric mode (:mod:`step_lab.analysis.numeric`): validated bindings, then one pass."""
    from .numeric import numeric_metrics
    if carries_run(program):
        run = as_run(program)
        program, bindings = run.program, run.bindings if bindings is None else bindings
    elif carries_run(bindings):
        bindings = as_run(bindings).bindings
    check_program(program, "metrics")
    acc = _accounting(preset, compute_tile, double_buffer, compute_elem_bytes,
                      store_buffer_depth)
    policy = _check_policy(policy)
    if fifo_depth is not None:
        _check_positive("fifo_depth", fifo_depth)
    capacity = spill.check_capacity(buffer_capacity, "metrics")
    depth_of = formulas.fifo_depths(program, fifo_depth)
    symbols = program_symbols(program)
    ragged = set(ragged_symbols(program)) | {k for k, v in symbols.items() if v}
    where = f"metrics of {program.name!r}"
    values = metric_bindings(bindings, f"{where}: bindings", ragged=ragged)
    peak_values = {**values, **metric_bindings(peak, f"{where}: peak", ragged=ragged,
                                               peak=True)}
    return numeric_metrics(program, acc, policy, values, peak_values,
                           unknown_hint(peak_values, symbols), depth_of=depth_of,
                           capacity=capacity)


# Programs only grow (nodes are immutable once built), so the node count identifies a state.
_CACHE: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _compute(program, preset, policy, compute_tile, double_buffer, compute_elem_bytes,
             store_buffer_depth, extra: tuple = (None, None)) -> Metrics:
    acc = _accounting(preset, compute_tile, double_buffer, compute_elem_bytes,
                      store_buffer_depth)
    policy = _check_policy(policy)
    by_node, ops = {}, {}
    terms: dict = {name: [] for name in METRIC_NAMES}
    fifo_depth, capacity = extra
    depth_of = formulas.fifo_depths(program, fifo_depth)
    for node in program.nodes:
        cells = _node_metrics(node, acc, policy, depth_of, capacity)
        by_node[node.name] = cells
        ops[node.name] = type(node).__name__
        for name, value in cells.items():
            if value != 0:
                terms[name].append(value)
    # NOTE: one n-ary sympy.Add per total; summing term by term re-canonicalises the growing
    # sum on every step, which is quadratic on programs with thousands of nodes.
    totals = {name: sum_dims(values) for name, values in terms.items()}
    symbols = program_symbols(program)
    return Metrics(program.name, preset, policy, by_node=by_node, ops=ops,
                   ragged=ragged_symbols(program), known=frozenset(symbols),
                   fractional=frozenset(k for k, v in symbols.items() if v),
                   fifo_depth=fifo_depth, buffer_capacity=capacity, **totals)


def _node_metrics(node, acc: formulas.Accounting, policy: str, depth_of=None,
                  capacity: int | None = None) -> dict:
    memory = formulas.memory(node, acc)
    traffic = formulas.traffic(node)
    spilled = spill.factor(node, capacity)
    if spilled != 0:            # 1, or a Piecewise for a symbolic buffer size
        memory = (1 - spilled) * memory + spilled * formulas.spilled_memory(node, acc)
        traffic = traffic + spilled * formulas.spilled_traffic(node)
    if depth_of is not None:
        memory = memory + formulas.fifo_memory(node, acc, depth_of)
    compute = formulas.compute_bw(node)
    if policy == "on_demand" and (memory != 0 or compute != 0):
        active = formulas.activity(node)
        memory, compute = memory * active, compute * active
    return {"offchip_traffic": traffic, "onchip_memory": memory,
            "flops": formulas.flops(node), "allocated_compute": compute}


def _accounting(preset, compute_tile, double_buffer, compute_elem_bytes,
                store_buffer_depth) -> formulas.Accounting:
    preset = _check_choice("preset", preset, PRESETS)
    _check_positive("compute_tile", compute_tile)
    _check_positive("double_buffer", double_buffer)
    _check_positive("store_buffer_depth", store_buffer_depth)
    if compute_elem_bytes is None:
        compute_elem_bytes = 4 if preset == "artifact" else None
    else:
        _check_positive("compute_elem_bytes", compute_elem_bytes)
    return formulas.Accounting(preset, compute_tile, double_buffer, compute_elem_bytes,
                               store_buffer_depth)


def _check_policy(policy) -> str:
    return _check_choice("policy", policy.replace("-", "_") if isinstance(policy, str)
                         else policy, POLICIES)


def _check_choice(what: str, value, allowed: tuple) -> str:
    if value not in allowed:
        raise ConfigError(f"metrics: {what} {value!r} is unknown (expected one of "
                          f"{list(allowed)})" + did_you_mean(value, allowed))
    return value


def _check_positive(what: str, value) -> None:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ConfigError(f"metrics: {what} = {value!r:.40} (expected an int >= 1)")


def _evaluate(expr, values: dict, *, where: str) -> int:
    """Exact value of ``expr`` at ``values``, rounded half up when not an integer.

    Integer bindings of integer expressions give exact results (ceilings and Piecewise factors
    included); rational (mean) bindings of ragged symbols or a fractional compute bandwidth give
    a rational that is rounded.
    """
    if not hasattr(expr, "free_symbols"):          # int, float or Fraction
        return _round(Fraction(expr))
    missing = sorted(s.name for s in expr.free_symbols if s.name not in values)
    if missing:
        raise BindingError(f"unbound symbols {missing} in {where} {fmt(expr)}")
    if all(isinstance(values[s.name], numbers.Integral) for s in expr.free_symbols):
        try:
            return evaluate(expr, values, where=where)
        except BindingError:
            pass                                    # a non-integer value: rounded below
    return _round(evaluate_rational(expr, values, where=where))


def _round(value: Fraction) -> int:
    return math.floor(value + Fraction(1, 2))
