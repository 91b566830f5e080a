"""``simulate(program, ...)``: build the processes and channels, run the engine, collect results."""
from __future__ import annotations

import gc
from fractions import Fraction
from typing import Any

import numpy as np
import sympy

from .. import validate
from ..analysis.spill import decide as decide_spills
from ..errors import BindingError, ConfigError, StepError
from ..hw.config import PAPER, HardwareConfig, preset
from ..hw.placement import place
from ..interpret.context import RunContext
from ..ir.run import as_run, carries_run
from ..ir.tokens import decode
from ..validate import check_program, check_seed
from .drivers import driver_for
from .engine import Engine
from .ghost import attach_ghosts, ghost_inputs
from .hbm import HBM
from .plan import COMPUTE, plan_nodes
from .progress import Progress
from .result import SimResult
from .state import Unit, run_stats, wire
from .trace import FifoTrace, Trace

__all__ = ["simulate"]


def simulate(program: Any, *, hw: HardwareConfig | str = PAPER,
             bindings: dict[str, Any] | None = None, inputs: dict[str, Any] | None = None,
             trace: bool = False, progress: Any = None, placement: dict | None = None,
             seed: int = 0, values: bool = True, lockstep: bool = False,
             coalesce: bool = True, max_events: int | None = None,
             fifo_memory: bool = False) -> SimResult:
    """Simulate ``program`` cycle-approximately on ``hw`` (STEP.md §7) with real values.

    ``program`` is a Program, or a :class:`~step_lab.ir.run.Run` / Workload carrying its own
    bindings and inputs (explicit ``bindings``/``inputs`` override theirs).

    ``inputs`` maps tensor names to numpy arrays and input-stream names to token lists or nested
    lists (missing tensors are drawn from ``seed``); ``bindings`` binds symbols (an unbound
    symbol sizing an input raises BindingError before cycle 0). ``trace=True`` records a
    :class:`~step_lab.sim.trace.Trace`. ``progress`` is a callable (called with the fraction of
    the expected data tokens moved, or the current cycle when that is unknown) or a tqdm-like
    object with ``update(n)`` (n data tokens; its ``total`` is set if it is None); ``True`` shows
    a ``tqdm.auto`` bar (notebook widget or terminal; none when stderr is a log). ``placement``
    overrides unit cells (``step_lab.hw.placement``). ``values=False`` is a timing-only run:
    input tensors without a given array, or given as a zero-stride float placeholder
    (``np.broadcast_to(0, shape)``), become zero-memory ghost tiles (``sim/ghost.py``), so
    cycles, traffic and FLOPs are exact while tile values are placeholders and ``arrays`` is
    empty — what a Qwen3-sized layer needs (its weights alone would take 2.4 GB as float32).
    ``lockstep=True`` runs every command as its own event in global time order (slow reference
    path; results are identical). ``coalesce`` (default True) runs each chain of stateless
    element-wise operators (Map → Map …) as one segment, every token through all its stages in
    one engine step (``sim/coalesce.py``), on the idealised and the presets' hardware (held
    input slots, credit latency); ``coalesce=False`` is the per-token reference path.
    [Choice] On by default: cycles, statistics, traces and values are identical (property
    tests, every paper workload by ``tools/behaviour_snapshot.py``) and a chain of six Maps
    runs ~15–20 % faster (``benchmarks/bench_sim.py`` part e); where loads feed a chain one tile
    per step (part a) it gains little, as a segment then moves one or two tokens per step.
    ``max_events`` caps the work: before cycle 0 the data tokens
    are estimated from the symbolic cardinalities at ``bindings`` and a run above the cap
    (default ``step_lab.validate.DEFAULT_MAX_EVENTS``, or ``$STEP_LAB_MAX_EVENTS``) raises
    ConfigError naming the estimate; below it, ``progress`` reports and Ctrl-C interrupts.
    ``fifo_memory=True`` reports ``onchip_peak_bytes`` with the artifact's FIFO counting
    (``metrics(..., fifo_depth=hw.fifo_depth)``: every channel's depth × token bytes added).
    A Bufferize whose buffer exceeds ``hw.onchip_buffer_capacity_bytes`` (or built with
    ``spill=True``) keeps its buffers in HBM (``step_lab.analysis.spill``).
    """
    if carries_run(program):                # a Run or a Workload: the one runnable unit
        run = as_run(program, bindings=bindings, inputs=inputs)
        program, bindings, inputs = run.program, dict(run.bindings), dict(run.inputs)
    enabled = gc.isenabled()
    gc.disable()            # NOTE: the run allocates many short-lived tuples; no cycles to collect
    try:
        return _simulate(program, hw, bindings, inputs, trace, progress, placement, seed,
                         values, lockstep, max_events, fifo_memory, coalesce)
    finally:
        if enabled:
            gc.enable()


def _simulate(program, hw, bindings, inputs, trace, progress, placement, seed, values,
              lockstep, max_events, fifo_memory=False, coalesce=True) -> SimResult:
    hw = preset(hw) if isinstance(hw, str) else hw
    if not isinstance(hw, HardwareConfig):
        raise ConfigError(f"simulate: hw = {hw!r:.60} (expected a HardwareConfig or a preset "
                          "name such as 'paper')")
    check_program(program, "simulate")
    program.validate()
    _check_flags(trace=trace, values=values, lockstep=lockstep, fifo_memory=fifo_memory,
                 coalesce=coalesce)
    check_seed(seed, "simulate")
    limit = validate.max_events(max_events, "simulate")
    bindings = validate.run_bindings(program, bindings, "simulate")
    given = set(program.tensors) if not values else set(inputs or {}) \
        if hasattr(inputs, "items") else set()
    validate.check_work(program, bindings, limit, "simulate", given=given)   # before any array
    ghosts: list = []
    if not values:
        if inputs is not None and not hasattr(inputs, "items"):
            raise BindingError(f"simulate: inputs = {inputs!r:.60} (expected a dict name -> "
                               "array or token list)")
        inputs, ghosts = ghost_inputs(program, inputs or {}, bindings)
    ctx = RunContext(program, inputs, bindings, seed, where="simulate")   # work checked above
    attach_ghosts(ctx, ghosts)
    ctx.memory.keep_writes = values         # a timing-only run shows no arrays
    capacity = hw.onchip_buffer_capacity_bytes or None
    ctx.spilled = decide_spills(program, capacity, ctx.bindings)
    peak = {"fifo_depth": hw.fifo_depth if fifo_memory else None, "buffer_capacity": capacity}
    layout = place(program, hw, placement)
    plans = plan_nodes(program, hw, ctx, layout)
    # the generator-free drivers (sim/drivers.py) belong to the fast path, as segments do
    procs, channels = _build(program, hw, ctx, plans, layout, trace,
                             drivers=bool(coalesce) and not lockstep)
    hbm = HBM(hw, trace)
    tracker = Progress.wrap(progress, program, ctx)
    engine = Engine(procs, channels, hbm, hw, lockstep=lockstep, coalesce=bool(coalesce),
                    progress=tracker)
    try:
        engine.run()
    except BaseException:
        if tracker is not None and tracker.own:
            tracker.target.close()           # no dangling bar after a deadlock
        raise
    if tracker is not None:
        tracker.close(engine)
    result = _result(program, hw, ctx, plans, procs, channels, hbm, layout, trace,
                     with_values=values, peak=peak)
    result.coalesced = [tuple(p.name for p in s.stages) for s in engine.segments if s.advances]
    return result


def _check_flags(**flags) -> None:
    for name, value in flags.items():
        if not isinstance(value, (bool, np.bool_)):
            raise ConfigError(f"simulate: {name} = {value!r:.40} (expected True or False)")


def _build(program, hw, ctx, plans, layout, trace: bool, drivers: bool = True):
    procs, channels = wire(program.nodes, plans, trace, program.fifo_depth, hw.fifo_depth)
    shared = layout.shared
    if shared:
        index = {p.name: p for p in procs}
        for cell, names in shared.items():
            unit = Unit(cell)
            for name in names:
                index[name].unit = unit
    for p in procs:
        driver = driver_for(p.node, ctx) if drivers else None
        p.start(p.node.behaviour(ctx) if driver is None else driver)
    return procs, channels


def _result(program, hw, ctx, plans, procs, channels, hbm, layout, trace: bool, *,
            with_values: bool, peak: dict | None = None) -> SimResult:
    cycles = max((p.end for p in procs), default=0)
    values = {name: decode(ctx.outputs.get(name, []), out.inputs[0].rank)
              for name, out in program.outputs.items()}
    arrays = {name: ctx.memory.assembled(tensor, tile, count)
              for name, (tensor, tile, count) in ctx.stored.items()} if with_values else {}
    flops = sum(p.flops for p in procs)
    allocated = sum(pl.compute_bw for pl in plans if pl.role == COMPUTE and pl.performs_flops)
    util = flops / cycles / allocated if cycles and allocated else 0.0
    measured = _measured_dims(program, procs)
    # §6.4: memory binds ragged dims at their maximum, traffic and FLOPs at their mean
    symbols = {**measured, **ctx.bindings, **_ragged_maxima(program, procs)}
    per_node, chans = run_stats(procs, channels, cycles, layout.unit_of)
    return SimResult(program=program.name, cycles=cycles,
                     offchip_bytes=sum(p.offchip for p in procs),
                     onchip_source=lambda: _onchip(program, symbols, peak or {}), flops=flops,
                     compute_utilization=util, allocated_compute=allocated,
                     tokens=dict(ctx.outputs), values=values, arrays=arrays, per_node=per_node,
                     channels=chans, measured=measured, hw=hw, placement=layout,
                     trace=_trace(procs, channels, hbm, layout, cycles) if trace else None,
                     notes=_binding_notes(measured, ctx.bindings))


def _trace(procs, channels, hbm, layout, cycles: int) -> Trace:
    fifos = {ch.name: FifoTrace(ch.name, ch.stream.name, ch.src.name, ch.dst.name,
                                ch.capacity, ch.puts, ch.gets) for ch in channels}
    return Trace(cycles, {p.name: p.busy_log for p in procs},
                 {p.name: layout.unit_of.get(p.name) for p in procs}, fifos, hbm.log,
                 [p.name for p in procs])


def _measured_dims(program, procs) -> dict:
    """Values of the bare-symbol dims of every stream, observed in the run (§6.4).

    The outermost dim of a stream is its number of top-level tensors (an int); an inner dim of
    rank r is its mean extent, (r-dim sub-tensors) / ((r+1)-dim sub-tensors), an int or an
    exact Fraction (ragged dims bind to their mean for traffic and FLOPs, §6.4).
    """
    out: dict = {}
    index = {p.node: p for p in procs}
    for stream in program.streams:
        shape = stream.shape
        if not any(isinstance(d, sympy.Symbol) and d.name not in out for d in shape):
            continue                          # (most streams: nothing left to measure)
        counts = _level_counts(index[stream.node], stream.port, stream.rank)
        for pos, d in enumerate(shape):
            if not isinstance(d, sympy.Symbol) or d.name in out:
                continue
            rank = stream.rank - pos          # the dim of rank `rank` (0 = innermost)
            if pos == 0:
                out[d.name] = counts[stream.rank]
            elif counts[rank + 1]:
                mean = Fraction(counts[rank], counts[rank + 1])
                out[d.name] = int(mean) if mean.denominator == 1 else mean
    return out


def _ragged_maxima(program, procs) -> dict:
    """The largest extent observed of every ragged inner dim (a bare symbol, §2.4)."""
    out: dict = {}
    index = {p.node: p for p in procs}
    for stream in program.streams:
        if not stream.ragged:
            continue
        p = index[stream.node]
        maxima = p.maxima[stream.port]
        for pos, d in enumerate(stream.shape):
            rank = stream.rank - pos
            if pos and isinstance(d, sympy.Symbol) and d in stream.ragged \
                    and any(p.counts[stream.port][rank + 1:]):
                out[d.name] = max(out.get(d.name, 0), maxima[rank])
    return out


def _binding_notes(measured: dict, bindings: dict) -> list:
    """§6.4: derived symbols SHOULD be checked against given bindings (reported, not fatal)."""
    return [f"symbol {name!r} is bound to {bindings[name]} but the run measured {value}"
            for name, value in measured.items()
            if name in bindings and isinstance(value, int) and value != bindings[name]]


def _level_counts(p, port: int, rank: int) -> list:
    """``counts[k]`` = number of k-dimensional sub-tensors put on ``port`` (k = 0: elements).

    Every stop token of level >= k closes one k-dimensional sub-tensor (E2).
    """
    raw = p.counts[port]
    counts = [raw[0]]
    for level in range(1, rank + 2):
        counts.append(sum(raw[level:]))
    return counts


def _onchip(program, values: dict, options: dict) -> tuple:
    """``(bytes, notes)``: the paper-preset on-chip metric at the run's bindings (§6.2), with
    the run's FIFO counting and buffer capacity (``options``: metrics keyword arguments).

    Computed numerically when every symbol was observed (``metrics(..., bindings=...)``: the
    same value as the symbolic formula evaluated, without building the formula: 0.03 s instead
    of 0.07 s on the Qwen3 b64 layer); else from the formula, unobserved symbols counting 0."""
    from ..analysis.metrics import Metrics, metrics
    try:
        return metrics(program, bindings=values, **options).onchip_memory, []
    except BindingError:
        pass
    m = metrics(program, **options)
    assert isinstance(m, Metrics)   # symbolic: options never hold bindings, peak or numeric
    try:
        return m.evaluate(values)["onchip_memory"], []
    except BindingError as e:
        missing = {s.name: 0 for s in m.symbols if s.name not in values}
        note = (f"onchip_peak_bytes: symbols {sorted(missing)} were never observed and count "
                f"as 0 ({e})")
        try:
            return m.evaluate({**values, **missing})["onchip_memory"], [note]
        except StepError:
            return 0, [note]
