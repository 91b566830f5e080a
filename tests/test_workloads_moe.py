"""The MoE layer workload (EXPERIMENTS.md §1.6): programs, numbers, analytic metrics, errors."""
from fractions import Fraction

import numpy as np
import pytest

import step_lab as sl
from step_lab.errors import ConfigError, StepError
from step_lab.symbolic import evaluate
from step_lab.workloads import moe_layer, trace_path
from step_lab.workloads.models import ModelConfig
from step_lab.workloads.moe import moe_analysis, moe_bandwidths, moe_reference, standin_routing

TINY = ModelConfig("tiny", experts=4, top_k=2, hidden=16, moe_intermediate=32, query_heads=1,
                   kv_heads=1, head_dim=16, layers=1)
MIXTRAL_B64 = trace_path("expert_routing/mixtral_b64/008_010.npz")
QWEN_B64 = trace_path("expert_routing/qwen_b64/032_012.npz")
VARIANTS = [dict(tiling="static", tile=4), dict(tiling="static", tile=3),
            dict(tiling="dynamic"), dict(tiling="static", tile=4, time_multiplex=True, regions=2),
            dict(tiling="dynamic", time_multiplex=True, regions=2),
            dict(tiling="static", tile=2, time_multiplex=True, regions=1)]


def tiny(seed=3, **kw):
    return moe_layer(TINY, batch=10, tile_f=8, seed=seed, **kw)


# -- programs type-check ---------------------------------------------------------------------------
@pytest.mark.parametrize("kw", [dict(tiling="static", tile=8), dict(tiling="dynamic"),
                                dict(tiling="static", tile=32, time_multiplex=True, regions=4,
                                     tile_f=48)])
def test_real_model_programs_type_check_with_the_expected_streams(kw):
    wl = moe_layer("qwen3-30b-a3b", batch=64, routing=QWEN_B64, **kw)
    prog = wl.program
    assert prog.node("io_route").params["num_consumers"] == 128
    out = prog.node("io_store").inputs[0]
    assert out.shape == (64,) and (out.dtype.rows, out.dtype.cols) == (1, 2048)
    assert prog.node("io_sum").inputs[0].shape == (64, 8)         # Reassemble, k per token


def test_static_packed_tiles_and_weight_loads_have_paper_shapes():
    wl = moe_layer("mixtral-8x7b", batch=64, routing=MIXTRAL_B64, tiling="static", tile=16)
    pack = wl.program.node("e6_pack").outputs[0]
    assert (pack.dtype.rows, pack.dtype.cols) == (16, 4096)
    assert evaluate(pack.shape[0], wl.bindings) == 2          # ⌈24/16⌉ tiles
    wg = wl.program.node("e6_wg").outputs[0]
    assert (wg.dtype.rows, wg.dtype.cols) == (4096, 64)
    assert evaluate(wg.type.cardinality, wl.bindings) == 2 * 224


def test_dynamic_tiles_are_sized_by_the_expert_token_count():
    wl = moe_layer("mixtral-8x7b", batch=64, routing=MIXTRAL_B64, tiling="dynamic")
    pack = wl.program.node("e6_pack").outputs[0]
    assert evaluate(pack.dtype.rows, wl.bindings) == 24
    assert evaluate(pack.shape[0], wl.bindings) == 1


# -- numbers: dynamic == static == time-multiplexed == numpy -------------------------------------
@pytest.mark.parametrize("kw", VARIANTS)
def test_every_variant_computes_the_numpy_reference(kw):
    wl = tiny(**kw)
    ref = moe_reference(wl)
    got = sl.interpret(wl.program, inputs=wl.inputs, bindings=wl.bindings).arrays["Y"]
    np.testing.assert_allclose(got, ref, rtol=1e-4, atol=1e-5)


def test_simulated_dynamic_and_static_outputs_are_equal():
    outs = [tiny(seed=7, **kw).simulate().outputs["Y"] for kw in VARIANTS]
    for other in outs[1:]:
        np.testing.assert_allclose(other, outs[0], rtol=1e-4, atol=1e-5)


def test_idle_experts_do_not_break_the_program():
    routing = np.array([[0, 1]] * 6 + [[1, 0]] * 4)          # experts 2 and 3 idle
    for kw in VARIANTS[:5]:
        wl = tiny(routing=routing, **kw)
        got = wl.simulate().outputs["Y"]
        np.testing.assert_allclose(got, moe_reference(wl), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("kw", VARIANTS)
def test_simulated_traffic_equals_the_symbolic_metric(kw):
    wl = tiny(**kw)
    result = wl.simulate()
    assert result.offchip_bytes == moe_analysis(wl)["offchip_traffic"]
    assert result.offchip_bytes == evaluate(sl.metrics(wl.program).offchip_traffic, wl.bindings)


@pytest.mark.parametrize("kw", VARIANTS)
@pytest.mark.parametrize("policy", ["static", "on_demand"])
def test_analysis_equals_the_symbolic_metrics_at_the_bindings(kw, policy):
    routing = np.array([[0, 1]] * 6 + [[1, 2]] * 4)          # expert 3 idle
    wl = tiny(routing=routing, **kw)
    peaks = {"r0_merge_rows": 10, "r1_merge_rows": 4}        # largest expert of each region
    expected = sl.metrics(wl.program, preset="artifact", policy=policy).evaluate(
        {**wl.bindings, **peaks})
    got = moe_analysis(wl, policy=policy)
    assert got["onchip_memory"] == expected["onchip_memory"]
    assert got["offchip_traffic"] == expected["offchip_traffic"]


@pytest.mark.parametrize("routing", [None, np.array([[0, 1]] * 6 + [[1, 2]] * 4),
                                     np.array([[0, 1]] * 3 + [[1, 2]] + [[2, 3]] * 6)])
def test_dynamic_time_multiplexed_metrics_evaluate_at_the_workload_bindings(routing):
    # r<j>_merge_rows (the EagerMerge's ragged tile rows) is bound to the region's mean rows:
    # traffic and FLOPs are exact; the peak bindings give the on-chip memory
    wl = tiny(routing=routing, tiling="dynamic", time_multiplex=True, regions=2, values=False)
    m = sl.metrics(wl.program, preset="artifact", policy="on_demand")
    values = m.evaluate(wl.bindings, peak=wl.meta["peak_bindings"])
    result = wl.simulate(values=False)
    assert values["flops"] == result.flops
    assert values["offchip_traffic"] == result.offchip_bytes
    assert values["onchip_memory"] == moe_analysis(wl)["onchip_memory"]
    counts = wl.meta["counts"]
    assert wl.meta["peak_bindings"] == {"r0_merge_rows": max(counts[:2]),
                                        "r1_merge_rows": max(counts[2:])}
    assert sl.metrics(wl.program).evaluate(wl.bindings)["flops"] == result.flops
    if routing is not None and routing[-1, 1] == 3:                 # counts 3, 4 | 7, 6
        assert wl.bindings["r0_merge_rows"] == Fraction(7, 2)


@pytest.mark.parametrize("kw", VARIANTS)
def test_timing_only_runs_ghost_the_placeholder_weights_with_identical_cycles(kw):
    wl = tiny(values=False, **kw)                       # zero-stride placeholder weights
    full, ghost = wl.simulate(), wl.simulate(values=False)
    assert (ghost.cycles, ghost.flops, ghost.offchip_bytes) == \
        (full.cycles, full.flops, full.offchip_bytes)
    assert ghost.per_node == full.per_node


def test_timing_only_weights_occupy_no_memory_and_simulate():
    wl = moe_layer("mixtral-8x7b", batch=64, routing=MIXTRAL_B64, tiling="dynamic")
    assert wl.inputs["Wg0"].shape == (4096, 14336) and wl.inputs["Wg0"].strides == (0, 0)
    assert tiny().inputs["Wg0"].strides != (0, 0)                # small layers keep values
    small = tiny(values=False)
    result = small.simulate()
    assert result.offchip_bytes == moe_analysis(small)["offchip_traffic"]
    assert not np.any(result.outputs["Y"])                        # zero weights, zero output


# -- analytic values of the figures (EXPERIMENTS.md §3) ------------------------------------------
MIX_IO = 2 * 4096 * 2 + 2 + 4096 * 4          # input/store buffers, routing-weight tile, sum
QWEN_IO = 2 * 2048 * 2 + 2 + 2048 * 4


@pytest.mark.parametrize("tile, tiles, memory", [(8, 20, 15_728_640), (16, 12, 18_874_368),
                                                 (32, 8, 25_165_824), (64, 8, 37_748_736)])
def test_fig9_mixtral_static_memory_and_weight_traffic(tile, tiles, memory):
    a = moe_analysis(moe_layer("mixtral-8x7b", batch=64, routing=MIXTRAL_B64, tiling="static",
                               tile=tile))
    assert a["weight_traffic"] == tiles * 3 * 4096 * 14336 * 2
    assert a["onchip_memory"] == memory + 8 * tile + MIX_IO         # + padding-mask tiles
    assert a["onchip_memory_io"] == MIX_IO


def test_fig9_dynamic_points_match_the_paper_table():
    mix = moe_analysis(moe_layer("mixtral-8x7b", batch=64, routing=MIXTRAL_B64,
                                 tiling="dynamic"))
    assert mix["onchip_memory_experts"] == 18_874_368
    assert mix["weight_traffic"] == 8 * 3 * 4096 * 14336 * 2
    qwen = moe_analysis(moe_layer("qwen3-30b-a3b", batch=64, routing=QWEN_B64,
                                  tiling="dynamic"))
    assert qwen["onchip_memory_experts"] == 60 * 3 * 2048 * 64 * 2 + 3 * 512 * 2048 * 4
    assert qwen["onchip_memory"] == pytest.approx(59.8e6, rel=1e-3)
    assert qwen["weight_traffic"] == pytest.approx(5.66e8, rel=2e-3)
    assert qwen["idle_policy"] == "on_demand"


def test_fig9_qwen_static_counts_all_experts_unless_on_demand():
    wl = moe_layer("qwen3-30b-a3b", batch=64, routing=QWEN_B64, tiling="static", tile=8)
    static = moe_analysis(wl)
    assert static["onchip_memory"] == 128 * (3 * 2048 * 64 * 2 + 3 * 8 * 2048 * 4 + 8) + QWEN_IO
    assert static["onchip_memory"] == pytest.approx(125.8e6, rel=1e-3)
    assert static["weight_traffic"] == 95 * 3 * 2048 * 768 * 2
    on_demand = moe_analysis(wl, policy="on_demand")
    assert on_demand["onchip_memory"] == 60 * (3 * 2048 * 64 * 2 + 3 * 8 * 2048 * 4 + 8) \
        + QWEN_IO


def test_fig12_padded_flop_ratio_and_allocated_compute():
    kw = dict(batch=64, routing=QWEN_B64, tile_f=48, compute_bw=1024)
    static = moe_layer("qwen3-30b-a3b", tiling="static", tile=32, **kw)
    dynamic = moe_layer("qwen3-30b-a3b", tiling="dynamic", **kw)
    assert sum(static.meta["padded_rows"]) == 1952 and sum(dynamic.meta["padded_rows"]) == 512
    ratio = static.meta["algorithmic_flops"] / dynamic.meta["algorithmic_flops"]
    assert ratio == pytest.approx(3.81, abs=0.005)
    assert moe_analysis(static)["allocated_compute"] == 128 * 5 * 1024 + 128 * 1024 + 1024


@pytest.mark.parametrize("regions, kb, compute", [(128, 82_575, 787_456), (64, 66_978, 459_776),
                                                  (32, 44_696, 295_936), (16, 32_440, 214_016),
                                                  (8, 24_642, 173_056), (4, 20_185, 152_576)])
def test_fig13_memory_and_compute_per_region_count(regions, kb, compute):
    tm = {} if regions == 128 else dict(time_multiplex=True, regions=regions)
    wl = moe_layer("qwen3-30b-a3b", batch=64, routing=QWEN_B64, tiling="static", tile=32,
                   tile_f=48, compute_bw=1024, idle_policy="on_demand", **tm)
    a = moe_analysis(wl)
    masks = 60 * 32                                  # one [32, 1] bool mask per active expert
    assert round((a["onchip_memory_experts"] - masks) / 1e3) == kb
    assert a["allocated_compute"] == compute


def test_fig13_reductions_at_32_regions():
    kw = dict(batch=64, routing=QWEN_B64, tiling="static", tile=32, tile_f=48, compute_bw=1024,
              idle_policy="on_demand")
    base = moe_analysis(moe_layer("qwen3-30b-a3b", **kw))
    r32 = moe_analysis(moe_layer("qwen3-30b-a3b", time_multiplex=True, regions=32, **kw))
    assert 1 - r32["onchip_memory"] / base["onchip_memory"] == pytest.approx(0.46, abs=0.005)
    assert 1 - r32["allocated_compute"] / base["allocated_compute"] == pytest.approx(0.62,
                                                                                    abs=0.005)


def test_standin_routing_follows_the_described_skew():
    mix = np.bincount(standin_routing("mixtral-8x7b", 1024).ravel(), minlength=8)
    assert mix.sum() == 2048 and mix.min() > 0 and 2 <= mix.max() / mix.min() <= 3
    qwen = np.bincount(standin_routing("qwen3-30b-a3b", 1024).ravel(), minlength=128)
    assert 75 <= np.count_nonzero(qwen) <= 95 and 200 <= qwen.max() <= 900


def test_bandwidth_presets_follow_the_artifact():
    assert moe_bandwidths("static") == {"expert": 4096, "combine": 4096, "pack": 4096}
    assert moe_bandwidths("dynamic") == {"expert": 6400, "combine": 6400, "pack": 1024}
    assert moe_bandwidths("dynamic", 1024) == {"expert": 1024, "combine": 1024, "pack": 1024}
    wl = moe_layer("mixtral-8x7b", batch=64, routing=MIXTRAL_B64, tiling="dynamic")
    assert wl.program.node("e0_gate").params["compute_bw"] == 6400
    assert wl.program.node("e0_pack").params["compute_bw"] == 1024


def test_workload_knobs_and_rebuild():
    wl = tiny(tiling="static", tile=4)
    assert wl.knobs["tiling"] == ["static", "dynamic"] and 16 in wl.knobs["tile_f"]
    other = wl.rebuild(tiling="dynamic", tile=None)
    assert other.meta["tiling"] == "dynamic" and other.meta["counts"] == wl.meta["counts"]


# -- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kw, match", [
    (dict(model="mixtral"), r"unknown model 'mixtral'.*mixtral-8x7b"),
    (dict(tiling="dinamic"), r"tiling 'dinamic' is unknown.*dynamic"),
    (dict(tile=0), r"tile = 0 \(expected an int in \[1, 64\]"),
    (dict(tile=128), r"tile = 128 .*tile_N <= batch"),
    (dict(tiling="dynamic", tile=8), r"tile = 8 with dynamic tiling"),
    (dict(tile_f=100), r"tile_f = 100 does not divide F = 14336"),
    (dict(time_multiplex=True, regions=3), r"regions = 3 does not divide the 8 experts"),
    (dict(regions=4), r"regions = 4 without time_multiplex"),
    (dict(compute_bw=0), r"compute_bw = 0"),
    (dict(compute_bw={"gate": 5}), r"compute_bw role 'gate' is unknown"),
    (dict(idle_policy="lazy"), r"idle_policy 'lazy' is unknown"),
])
def test_bad_configuration_names_the_value_and_what_is_allowed(kw, match):
    args = dict(model="mixtral-8x7b", batch=64, routing=MIXTRAL_B64, tiling="static", tile=8)
    args.update(kw)
    with pytest.raises(ConfigError, match=match):
        moe_layer(args.pop("model"), **args)


@pytest.mark.parametrize("routing, match", [
    (np.tile([0, 1, 2], (64, 1)), r"shape \(64, 3\).*\[64, 2\]"),
    (np.full((64, 2), 9), r"expert id 9.*< 8"),
    (np.zeros((64, 2), dtype=np.int64), r"lists an expert twice"),
    (np.ones((64, 2)) * 0.5, r"expected an integer array"),
])
def test_bad_routing_names_the_problem(routing, match):
    with pytest.raises(StepError, match=match):
        moe_layer("mixtral-8x7b", batch=64, routing=routing, tiling="dynamic")


def test_missing_trace_file_is_a_step_error(tmp_path):
    with pytest.raises(StepError, match="does not exist"):
        moe_layer("mixtral-8x7b", batch=64, routing=tmp_path / "nope.npz", tiling="dynamic")
