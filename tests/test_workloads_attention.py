"""Attention decode workload (EXPERIMENTS.md §1.7, STEP.md §8.3): programs, values, traffic."""
import numpy as np
import pytest

import step_lab as sl
from step_lab.errors import ConfigError, StepError
from step_lab.ir.program import Feedback
from step_lab.workloads import attention_decode
from step_lab.workloads.attention import (
    attention_bindings,
    attention_reference,
    dynamic_assignment,
    kv_tiles,
    region_of,
    slot_length,
)

QWEN = "qwen3-30b-a3b"
LENGTHS = np.array([5, 40, 31, 70, 3, 100, 64, 10])
STRATEGIES = ("coarse", "interleaved", "dynamic")


@pytest.fixture(scope="module")
def runs():
    out = {}
    for strategy in STRATEGIES:
        wl = attention_decode(QWEN, kv_lengths=LENGTHS, parallel=2, strategy=strategy)
        out[strategy] = (wl, wl.simulate())
    return out


def expected_traffic(lengths, group=8, d=64) -> int:
    tiles = int(kv_tiles(lengths).sum())
    b = len(lengths)
    return (2 * tiles * 32 * d * 2            # K and V tiles read
            + 2 * b * 32 * d * 2              # last K and V tile written back
            + 2 * b * group * d * 2           # query read, output written
            + 2 * b * d * 2)                  # new key and value rows


def test_kv_tiles_count_the_new_token_and_slots_fit_the_longest_request():
    assert kv_tiles([0, 30, 31, 32, 63]).tolist() == [1, 1, 1, 2, 2]
    assert slot_length(np.zeros(64, int)) == 6464
    assert slot_length(np.zeros(16, int)) == 4672
    assert slot_length(np.full(80, 7000)) == 7008


def test_static_maps_follow_the_paper_including_the_batch_80_special_case():
    coarse = region_of("coarse", 80, 4)
    assert coarse[:16].tolist() == [0] * 16 and coarse[64:].tolist() == [0] * 16
    assert coarse[16:32].tolist() == [1] * 16
    assert region_of("interleaved", 6, 4).tolist() == [0, 1, 2, 3, 0, 1]


def test_the_dynamic_program_is_a_feedback_cycle_built_from_eager_merge():
    wl = attention_decode(QWEN, kv_lengths=LENGTHS, parallel=2, strategy="dynamic")
    kinds = {type(n).__name__ for n in wl.program.nodes}
    assert {"EagerMerge", "Reassemble", "Partition", "Assume"} <= kinds
    feedback = [n for n in wl.program.nodes if isinstance(n, Feedback)]
    assert len(feedback) == 1 and feedback[0].inputs  # connected
    assert wl.bindings == {}     # per-region counts are decided at run time
    static = attention_decode(QWEN, kv_lengths=LENGTHS, parallel=2, strategy="interleaved")
    assert not any(isinstance(n, Feedback) for n in static.program.nodes)


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_outputs_equal_numpy_softmax_attention(runs, strategy):
    wl, res = runs[strategy]
    np.testing.assert_allclose(res.arrays["O"], attention_reference(wl), rtol=2e-4, atol=1e-5)


def test_all_three_strategies_give_the_same_outputs(runs):
    outs = [runs[s][1].arrays["O"] for s in STRATEGIES]
    np.testing.assert_allclose(outs[0], outs[1], rtol=1e-6)
    np.testing.assert_allclose(outs[0], outs[2], rtol=1e-6)


def test_the_new_row_is_written_back_into_the_last_tile(runs):
    wl, res = runs["dynamic"]
    slot = wl.meta["slot_length"]
    k_out = res.arrays["K_cache_out"]
    for i, n in enumerate(LENGTHS):
        np.testing.assert_array_equal(k_out[i * slot + n], wl.inputs["K_new"][i])
        last = (n // 32) * 32
        rows = [r for r in range(last, last + 32) if r != n]
        np.testing.assert_array_equal(k_out[i * slot + np.array(rows)],
                                      wl.inputs["K_cache"][i * slot + np.array(rows)])


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_simulated_traffic_equals_the_symbolic_metric(runs, strategy):
    wl, res = runs[strategy]
    bindings = attention_bindings(wl, res.values.get("assignment"))
    symbolic = sl.metrics(wl.program).evaluate(bindings)["offchip_traffic"]
    assert res.offchip_bytes == symbolic == expected_traffic(LENGTHS)


def test_interpreter_agrees_with_the_simulator_for_the_dynamic_cycle(runs):
    wl, res = runs["dynamic"]
    ref = sl.interpret(wl.program, inputs=wl.inputs)
    np.testing.assert_allclose(ref.arrays["O"], res.arrays["O"], rtol=1e-6)
    assert ref.offchip_bytes == res.offchip_bytes


def test_dynamic_dispatch_sends_work_to_the_region_that_frees_first():
    lengths = np.array([3000, 10, 10, 10, 10, 10, 10, 10])
    wl = attention_decode(QWEN, kv_lengths=lengths, parallel=2, strategy="dynamic", data="none")
    res = wl.simulate(values=False)
    regions = [next(iter(s)) for s in res.values["assignment"]]
    assert regions[0] == 0 and regions[1:].count(1) == 7     # region 0 is busy throughout
    assert dynamic_assignment(lengths, 2).tolist() == regions
    inter = attention_decode(QWEN, kv_lengths=lengths, parallel=2, strategy="interleaved",
                             data="none").simulate(values=False)
    assert res.cycles < inter.cycles


def test_timing_only_runs_match_the_full_run(runs):
    wl, res = runs["interleaved"]
    ghost = attention_decode(QWEN, kv_lengths=LENGTHS, parallel=2, strategy="interleaved",
                             data="none").simulate(values=False)
    assert ghost.cycles == res.cycles and ghost.offchip_bytes == res.offchip_bytes


def test_kv_lengths_load_from_an_npy_path(tmp_path):
    path = tmp_path / "kv.npy"
    np.save(path, LENGTHS)
    wl = attention_decode(QWEN, kv_lengths=str(path), parallel=2, strategy="coarse")
    assert wl.params["kv_lengths"].tolist() == LENGTHS.tolist()
    assert wl.knobs == {"strategy": list(STRATEGIES), "parallel": (1, 16)}
    assert wl.rebuild(strategy="interleaved").params["strategy"] == "interleaved"


def test_negative_kv_lengths_are_rejected():
    with pytest.raises(StepError, match="negative KV length -3"):
        attention_decode(QWEN, kv_lengths=[4, -3], parallel=2)


def test_unknown_strategy_suggests_the_closest():
    with pytest.raises(ConfigError, match="'dinamic'.*did you mean 'dynamic'"):
        attention_decode(QWEN, kv_lengths=LENGTHS, strategy="dinamic")


@pytest.mark.parametrize("parallel", [0, 17, 2.5, True])
def test_parallel_out_of_range_is_rejected(parallel):
    with pytest.raises(ConfigError, match="parallel = .* out of range .*1..16"):
        attention_decode(QWEN, kv_lengths=LENGTHS, parallel=parallel)


def test_dynamic_needs_at_least_as_many_requests_as_regions():
    with pytest.raises(ConfigError, match="parallel = 4 regions exceeds the batch of 2"):
        attention_decode(QWEN, kv_lengths=[3, 4], parallel=4, strategy="dynamic")


def test_empty_batch_missing_file_and_unknown_model_are_rejected(tmp_path):
    with pytest.raises(ConfigError, match="kv_lengths is empty"):
        attention_decode(QWEN, kv_lengths=[])
    with pytest.raises(StepError, match="does not exist"):
        attention_decode(QWEN, kv_lengths=str(tmp_path / "missing.npy"))
    with pytest.raises(ConfigError, match="did you mean 'qwen3-30b-a3b'"):
        attention_decode("qwen3-30b", kv_lengths=LENGTHS)
    with pytest.raises(ConfigError, match="data 'zeros'"):
        attention_decode(QWEN, kv_lengths=LENGTHS, data="zeros")


def test_mixtral_uses_its_own_query_tile():
    wl = attention_decode("mixtral-8x7b", kv_lengths=[40, 7], parallel=2, strategy="dynamic")
    assert wl.meta["query_tile"] == (4, 128)
    res = wl.simulate()
    np.testing.assert_allclose(res.arrays["O"], attention_reference(wl), rtol=2e-4, atol=1e-5)
