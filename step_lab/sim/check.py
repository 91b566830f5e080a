"""Check that the timed simulator computes what the reference interpreter computes.

``check_against_interpreter(program, inputs=…, bindings=…)`` runs both and raises AssertionError
naming the first output that differs. Outputs downstream of EagerMerge or Reassemble may
legitimately differ in chunk order (arrival order vs the interpreter's index order, STEP.md §4.3);
for those, data values are compared as multisets and stop tokens as per-level counts.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..interpret import interpret
from ..interpret.interpreter import RunResult
from ..ir.program import Program
from ..ir.tokens import DONE, Stop
from .api import simulate
from .result import SimResult

__all__ = ["check_against_interpreter", "order_free_outputs"]

def order_free_outputs(program: Program) -> set[str]:
    """Names of outputs and stored tensors fed (transitively) by an order-free operator
    (EagerMerge, Reassemble: the ``order_free`` trait)."""
    tainted: dict = {}

    def depends(node) -> bool:
        if node in tainted:
            return tainted[node]
        tainted[node] = False           # feedback cycles
        hit = node.order_free or any(depends(s.node) for s in node.inputs)
        tainted[node] = hit
        return hit

    out = {name for name, node in program.outputs.items() if depends(node)}
    for node in program.nodes:
        tensor = node.params.get("tensor")
        if getattr(node, "is_offchip", False) and node.inputs and depends(node) and tensor:
            if getattr(tensor, "role", "") == "output":
                out.add(tensor.name)
    return out


def check_against_interpreter(program: Program, *, inputs: dict[str, Any] | None = None,
                              bindings: dict[str, Any] | None = None, seed: int = 0,
                              rtol: float = 1e-5, atol: float = 1e-6,
                              **sim_kwargs: Any) -> tuple[RunResult, SimResult]:
    """Run ``interpret`` and ``simulate``; assert equal outputs; return ``(run, sim)``."""
    run = interpret(program, inputs=inputs, bindings=bindings, seed=seed)
    sim = simulate(program, inputs=inputs, bindings=bindings, seed=seed, **sim_kwargs)
    free = order_free_outputs(program)
    assert set(run.tokens) == set(sim.tokens), (set(run.tokens), set(sim.tokens))
    for name in run.tokens:
        _compare_tokens(name, run.tokens[name], sim.tokens[name], name in free, rtol, atol)
    assert set(run.arrays) == set(sim.arrays), (set(run.arrays), set(sim.arrays))
    for name, expected in run.arrays.items():
        got = sim.arrays[name]
        if name in free:
            expected, got = np.sort(expected, axis=None), np.sort(got, axis=None)
        np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol,
                                   err_msg=f"stored tensor {name!r} differs")
    assert sim.offchip_bytes == run.offchip_bytes, (sim.offchip_bytes, run.offchip_bytes)
    assert sim.flops == run.flops, (sim.flops, run.flops)
    return run, sim


def _compare_tokens(name, expected, got, order_free: bool, rtol, atol) -> None:
    assert len(expected) == len(got), \
        f"output {name!r}: {len(got)} tokens simulated, {len(expected)} interpreted"
    if order_free:
        _compare_multisets(name, expected, got, rtol, atol)
        return
    for i, (a, b) in enumerate(zip(expected, got, strict=True)):
        _same(name, i, a, b, rtol, atol)


def _same(name, i, a, b, rtol, atol) -> None:
    if a is DONE or type(a) is Stop or b is DONE or type(b) is Stop:
        assert a is b, f"output {name!r} token {i}: simulated {b!r}, interpreted {a!r}"
        return
    _same_value(f"output {name!r} token {i}", a, b, rtol, atol)


def _same_value(where, a, b, rtol, atol) -> None:
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=rtol, atol=atol,
                                   err_msg=where)
    elif isinstance(a, tuple):
        assert isinstance(b, tuple) and len(a) == len(b), f"{where}: {b!r} vs {a!r}"
        for x, y in zip(a, b, strict=True):
            _same_value(where, x, y, rtol, atol)
    elif hasattr(a, "tiles"):               # buffer references: compare their contents
        assert len(a.tiles) == len(b.tiles) and a.shape == b.shape, f"{where}: buffers differ"
        for x, y in zip(a.tiles, b.tiles, strict=True):
            _same_value(where, x, y, rtol, atol)
    else:
        assert a == b, f"{where}: simulated {b!r}, interpreted {a!r}"


def _compare_multisets(name, expected, got, rtol, atol) -> None:
    def split(tokens):
        stops: dict = {}
        data = []
        for t in tokens:
            if type(t) is Stop:
                stops[t.level] = stops.get(t.level, 0) + 1
            elif t is not DONE:
                data.append(t)
        return stops, sorted(data, key=_key)
    (s1, d1), (s2, d2) = split(expected), split(got)
    assert s1 == s2, f"output {name!r}: stop tokens {s2} simulated, {s1} interpreted"
    for i, (a, b) in enumerate(zip(d1, d2, strict=True)):
        _same_value(f"output {name!r} (order-free) item {i}", a, b, rtol, atol)


def _key(value):
    if isinstance(value, np.ndarray):
        return (value.shape, tuple(np.round(value.astype(np.float64).ravel(), 4)))
    if isinstance(value, (frozenset, set)):
        return ((), tuple(sorted(value)))
    if isinstance(value, tuple):
        return ((), tuple(_key(v) for v in value))
    return ((), (repr(value),))
