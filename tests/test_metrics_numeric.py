"""The numeric mode of ``sl.metrics`` equals the symbolic totals evaluated at the same bindings.

Checked on every paper workload (SwiGLU, the MoE layer static / dynamic / time-multiplexed, the
three attention strategies, QKV generation), under both presets and both policies, per node and
in total; on random programs (the hypothesis strategies of ``test_properties``); and on ragged
dims bound to a mean (``Fraction``) with a peak for on-chip memory.
"""
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_properties import build, pipelines, routings

import step_lab as sl
from step_lab import BindingError, fn, ops
from step_lab.analysis.metrics import metrics
from step_lab.analysis.numeric import NumericMetrics, Values
from step_lab.workloads import attention_decode, moe_layer, qkv_generation, swiglu
from step_lab.workloads.moe import moe_analysis
from step_lab.workloads.traces import trace_path

MODES = [(preset, policy) for preset in ("paper", "artifact")
         for policy in ("static", "on_demand")]
QWEN = "expert_routing/qwen_b64/032_012.npz"
MIXTRAL = "expert_routing/mixtral_b64/008_010.npz"


def _same_as_symbolic(program, bindings, peak=None, **options):
    numeric = metrics(program, bindings=bindings, peak=peak, **options)
    symbolic = metrics(program, **options)
    assert isinstance(numeric, NumericMetrics)
    assert numeric.totals == symbolic.evaluate(bindings, peak=peak)
    if peak is None:                          # Metrics.table evaluates every cell at bindings
        rows = {r["node"]: r for r in symbolic.table(bindings, nonzero=False)}
        for row in numeric.table(nonzero=False):
            assert row == rows[row["node"]], row["node"]
    return numeric


def _workload_cases():
    kv = np.array([700, 1200, 300, 2048, 90, 1500, 1024, 64])
    return {
        "swiglu": lambda: swiglu(),
        "swiglu_tile16x64": lambda: swiglu(batch=48, tile_m=16, tile_n=64),
        "moe_mixtral_static16": lambda: moe_layer("mixtral-8x7b", batch=64, tile=16,
                                                  routing=str(trace_path(MIXTRAL))),
        "moe_qwen_static8": lambda: moe_layer("qwen3-30b-a3b", batch=64, tile=8,
                                              routing=str(trace_path(QWEN))),
        "moe_qwen_dynamic": lambda: moe_layer("qwen3-30b-a3b", batch=64, tiling="dynamic",
                                              routing=str(trace_path(QWEN))),
        "moe_qwen_dynamic_tm": lambda: moe_layer("qwen3-30b-a3b", batch=64, tiling="dynamic",
                                                 time_multiplex=True,
                                                 routing=str(trace_path(QWEN))),
        **{f"attention_{s}": (lambda s=s: attention_decode("qwen3-30b-a3b", kv_lengths=kv,
                                                            parallel=4, strategy=s, data="none"))
           for s in ("interleaved", "coarse", "dynamic")},
        "qkv_generation": lambda: qkv_generation("mixtral-8x7b", batch=64),
    }


@pytest.mark.parametrize("name", sorted(_workload_cases()))
def test_numeric_equals_symbolic_on_every_paper_workload(name):
    wl = _workload_cases()[name]()
    bindings = wl.bindings or wl.meta.get("nominal_bindings", {})
    peak = wl.meta.get("peak_bindings")
    for preset, policy in MODES:
        _same_as_symbolic(wl.program, bindings, peak, preset=preset, policy=policy)
        if peak:                                  # the per-node rows, without the peak override
            _same_as_symbolic(wl.program, {**bindings, **peak}, preset=preset, policy=policy)


def test_moe_analysis_is_the_numeric_mode_split_by_node():
    wl = moe_layer("qwen3-30b-a3b", batch=64, tiling="dynamic", time_multiplex=True,
                   routing=str(trace_path(QWEN)))
    out = moe_analysis(wl)
    held = metrics(wl.program, preset="artifact", policy="on_demand").evaluate(
        wl.bindings, peak=wl.meta["peak_bindings"])
    counted = metrics(wl.program, preset="artifact").evaluate(wl.bindings,
                                                             peak=wl.meta["peak_bindings"])
    assert out["onchip_memory"] == held["onchip_memory"]
    assert out["offchip_traffic"] == held["offchip_traffic"]
    assert out["allocated_compute"] == counted["allocated_compute"]
    assert out["onchip_memory_io"] + out["onchip_memory_experts"] == out["onchip_memory"]
    assert 0 < out["weight_traffic"] < out["offchip_traffic"]


def test_a_workload_gives_its_numbers_with_numeric_true():
    wl = moe_layer("qwen3-30b-a3b", batch=64, tiling="dynamic", time_multiplex=True,
                   routing=str(trace_path(QWEN)))
    numeric = wl.metrics(preset="artifact", policy="on_demand", numeric=True)
    assert numeric.onchip_memory == moe_analysis(wl)["onchip_memory"]     # peaks applied


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pipelines())
def test_numeric_equals_symbolic_on_random_pipelines(case):
    r, c, row_tiles, col_tiles, steps, accum = case
    prog = build(r, c, col_tiles, steps, accum)
    for preset, policy in MODES:
        _same_as_symbolic(prog, {"N": row_tiles}, preset=preset, policy=policy)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(routings())
def test_numeric_equals_symbolic_on_random_routings(case):
    from step_lab.workloads.toy import simplified_moe
    experts, routing, tiling, chunk = case
    prog, _, bindings = simplified_moe(tokens=len(routing), experts=experts, width=8,
                                       out_width=16, col_tile=8, chunk=chunk, tiling=tiling,
                                       routing=np.array(routing, dtype=np.int64))
    for preset, policy in MODES:
        _same_as_symbolic(prog, bindings, preset=preset, policy=policy)


def _ragged():
    prog = sl.Program("ragged")
    R = sl.dim("R")
    T = prog.tensor("T", (1, 4), "f32")
    ref = prog.input("lens", sl.Bool, (2, R), ragged=(R,))
    tiles = ops.LinearOffChipLoad(T, tile=(1, 4), ref=ref)          # [2, R, 1, 1] of 16 B
    prog.output("b", ops.Bufferize(tiles, 3))                        # [2] of Buffer[R, 1, 1]
    prog.output("m", ops.Map(tiles, sl.fn.Exp(), compute_bw=1.5))
    return prog


@settings(max_examples=30, deadline=None)
@given(mean=st.fractions(0, 20, max_denominator=12), extra=st.integers(0, 5))
def test_ragged_dims_bind_to_a_mean_and_memory_to_the_peak(mean, extra):
    prog = _ragged()
    peak = {"R": int(np.ceil(float(mean))) + extra}
    for preset, policy in MODES:
        _same_as_symbolic(prog, {"R": mean}, peak, preset=preset, policy=policy)


def test_ragged_values_are_rounded_half_up_like_the_symbolic_mode():
    numeric = metrics(_ragged(), bindings={"R": Fraction(5, 2)}, peak={"R": 4})
    assert numeric.offchip_traffic == 2 * 2.5 * 16 == 80
    assert numeric.onchip_memory == 2 * 16 + (16 + 2 * 4 * 16)
    assert numeric.flops == metrics(_ragged()).evaluate({"R": Fraction(5, 2)})["flops"]


def test_every_unbound_symbol_is_named_once():
    wl = moe_layer("mixtral-8x7b", batch=64, tile=16, routing=str(trace_path(MIXTRAL)))
    partial = {k: v for k, v in wl.bindings.items() if k not in ("sel_x0", "wsel_x3")}
    with pytest.raises(BindingError, match=r"unbound symbols \['sel_x0', 'wsel_x3'\]"):
        metrics(wl.program, bindings=partial)
    with pytest.raises(BindingError, match=r"unbound symbols \['sel_x0', 'wsel_x3'\]"):
        metrics(wl.program).evaluate(partial)


def test_bad_bindings_are_rejected_as_in_the_symbolic_mode():
    prog = build(1, 2, 1, [], False)
    with pytest.raises(BindingError, match="'N'"):
        metrics(prog, bindings={"N": -1})
    with pytest.raises(BindingError, match="did you mean 'N'"):
        metrics(prog, bindings={"n": 3})
    with pytest.raises(BindingError, match="expected a dict"):
        metrics(prog, bindings=[("N", 3)])
    with pytest.raises(sl.ConfigError, match="policy 'lazy' is unknown"):
        metrics(prog, bindings={"N": 3}, policy="lazy")


def test_values_evaluates_the_expression_kinds_of_dims_exactly():
    import sympy
    X, Y = sl.dim("X"), sl.dim("Y")
    v = Values({"X": 7, "Y": Fraction(3, 2)})
    assert v(sl.ceil_div(X, 4)) == 2 and v(sympy.floor(X / 2)) == 3
    assert v(X * Y + 1) == Fraction(23, 2) and v(X ** 2) == 49 and v(1 / Y) == Fraction(2, 3)
    assert v(sympy.Max(X, 3 * Y)) == 7 and v(sympy.Min(X, 3 * Y)) == Fraction(9, 2)
    assert v(sympy.Piecewise((1, sympy.And(X >= 1, Y > 2)), (0, True))) == 0
    assert v(sympy.Piecewise((1, sympy.Or(X >= 1, Y > 2)), (0, True))) == 1
    assert v(sympy.Mod(X, 4)) == 3                               # through the sympy fallback
    v(sl.dim("Z") + X)
    assert v.missing == {"Z"}


def _spill_program():
    prog = sl.Program("spill_numeric")
    X = prog.tensor("X", (4, sl.dim("C")), "f32")
    tiles = ops.LinearOffChipLoad(X, tile=(1, 64))
    rows = ops.Bufferize(tiles, 1, name="buf")
    again = ops.Streamify(rows, repeat=(2,), name="read")
    ops.LinearOffChipStore(ops.Flatten(ops.Map(again, fn.Exp(), compute_bw=64), 0, 3), "Y")
    return prog


@pytest.mark.parametrize("preset", ["paper", "artifact"])
@pytest.mark.parametrize("policy", ["static", "on_demand"])
@pytest.mark.parametrize("c", [64, 256, 512])
def test_numeric_equals_symbolic_with_spilled_buffers_and_counted_fifos(preset, policy, c):
    prog = _spill_program()
    for options in ({"buffer_capacity": 1024}, {"fifo_depth": 2},
                    {"buffer_capacity": 1024, "fifo_depth": 3}):
        symbolic = sl.metrics(prog, preset=preset, policy=policy, **options)
        numeric = sl.metrics(prog, preset=preset, policy=policy, bindings={"C": c}, **options)
        assert numeric.totals == symbolic.evaluate({"C": c}), options
    spilled = sl.metrics(prog, buffer_capacity=1024, bindings={"C": 512})
    kept = sl.metrics(prog, bindings={"C": 512})
    assert spilled.offchip_traffic > kept.offchip_traffic       # the buffer went to HBM
    assert spilled.onchip_memory < kept.onchip_memory
