"""The reference simulator's overheads (issue 16, step_lab/hw/overheads.py): each parameter's
effect pinned on a small program with hand-computed cycles, and the error metrics against the
reference points (Fig 8, attention batch 64)."""
import numpy as np
import pytest

import step_lab as sl
from step_lab import fn as F
from step_lab import ops
from step_lab.errors import ConfigError, StepError
from step_lab.hw import ARTIFACT_OVERHEADS, ATTENTION, PAPER, VALIDATION, idealized
from step_lab.reproduce.figures.fig8 import REF_CYCLES, mean_abs_error, simulate_point
from step_lab.sim import HBM
from step_lab.sim.hbm_stream import RequestStreams

IDEAL = idealized(PAPER).replace(fifo_depth=1)
ROW = sl.Tile(1, 16, "f32")
ZERO = np.zeros((1, 16), np.float32)


def test_every_preset_carries_the_artifact_values_and_idealized_removes_them():
    for hw in (PAPER, ATTENTION, VALIDATION):
        expected = dict(ARTIFACT_OVERHEADS)
        if hw is ATTENTION:                  # the attention scripts' par_dispatch = 1
            expected["offchip_requests_per_cycle"] = 1
        assert {k: getattr(hw, k) for k in ARTIFACT_OVERHEADS} == expected
        ideal = idealized(hw)
        assert ideal.hbm_channels == hw.hbm_channels and not ideal.compute_holds_inputs
        assert ideal.offchip_requests_per_cycle == ideal.hbm_request_path_cycles == 0
    assert idealized("validation") == idealized(VALIDATION)


@pytest.mark.parametrize("field,bad", [("offchip_requests_per_cycle", -1),
                                       ("hbm_request_path_cycles", 1.5),
                                       ("channel_credit_latency_cycles", None),
                                       ("compute_holds_inputs", 1)])
def test_bad_overhead_values_are_config_errors_naming_the_field(field, bad):
    with pytest.raises(ConfigError, match=field):
        PAPER.replace(**{field: bad})


# -- request and response path -------------------------------------------------------------------
def test_request_and_response_paths_add_their_cycles_to_a_lone_burst():
    hw = IDEAL.replace(hbm_startup_cycles=0)
    assert HBM(hw).access(100, 64, 0) == 100 + 2                     # latency only
    paths = hw.replace(hbm_request_path_cycles=2, hbm_response_path_cycles=1)
    assert HBM(paths).access(100, 64, 0) == 100 + 2 + 2 + 1          # + operator→channel, back
    # through the simulator: one tile, loaded then stored: both pay both paths (+ 2 × 3)
    prog = sl.Program("one")
    ops.LinearOffChipStore(ops.LinearOffChipLoad(prog.tensor("X", (1, 16), "f32"), (1, 16)), "Y")
    assert sl.simulate(prog, hw=paths, values=False).cycles == \
        sl.simulate(prog, hw=hw, values=False).cycles + 6


# -- credit latency and held operands --------------------------------------------------------------
def _map_chain(compute_bw):
    prog = sl.Program("chain")
    x = prog.input("x", ROW, (4,))
    prog.output("y", ops.Map(x, F.Exp(), compute_bw=compute_bw))
    return prog


def _puts(prog, hw, inputs, fifo):
    result = sl.simulate(prog, hw=hw, inputs=inputs, trace=True)
    return list(result.trace.fifos[fifo].puts), result.cycles


def test_a_freed_slot_reaches_the_producer_after_the_credit_latency():
    # depth 1, Exp of 16 elements at 1000 FLOPs/cycle: 1 cycle per element. Without the latency
    # a put at t is visible at t+1, read at t+1, the slot is free at t+1: one put per cycle;
    # with 1 cycle of credit latency the producer sees it at t+2: one put every two cycles
    inputs = {"x": [ZERO] * 4}
    assert _puts(_map_chain(1000), IDEAL, inputs, "x -> map0.0") == ([0, 1, 2, 3], 6)
    slow = IDEAL.replace(channel_credit_latency_cycles=1)
    assert _puts(_map_chain(1000), slow, inputs, "x -> map0.0") == ([0, 2, 4, 6], 9)


def test_a_compute_operator_holds_its_operand_slot_until_its_compute_ends():
    # Exp at 1.6 FLOPs/cycle: ⌈16 / 1.6⌉ = 10 cycles per element. Reading frees the slot at once
    # (the producer refills it during the compute: puts 0, 1, 11, 21); holding frees it when the
    # compute ends (puts 0, 11, 22, 33: each refill is seen one cycle later, +1 per element)
    inputs = {"x": [ZERO] * 4}
    assert _puts(_map_chain(1.6), IDEAL, inputs, "x -> map0.0") == ([0, 1, 11, 21], 42)
    held = IDEAL.replace(compute_holds_inputs=True)
    assert _puts(_map_chain(1.6), held, inputs, "x -> map0.0") == ([0, 11, 22, 33], 45)


def test_an_expand_holds_its_element_until_the_last_repetition():
    prog = sl.Program("expand")
    q, ref = prog.input("q", ROW, (2, 1)), prog.input("r", ROW, (2, 3))
    prog.output("y", ops.Expand(q, ref, 1))
    inputs = {"q": [ZERO] * 2, "r": [[ZERO] * 3] * 2}
    # the second query enters the depth-1 FIFO when the first one is read (cycle 1), or, held,
    # when the Expand is done with it: after its third repetition (cycle 3)
    assert _puts(prog, IDEAL, inputs, "q -> expand0.0")[0] == [0, 1]
    held = IDEAL.replace(compute_holds_inputs=True)
    assert _puts(prog, held, inputs, "q -> expand0.0")[0] == [0, 3]


# -- request streams ------------------------------------------------------------------------------
# two channels serving one request every 2 cycles: 1 request per cycle in all; no start-up
TINY = IDEAL.replace(hbm_channels=2, offchip_bytes_per_cycle=64, hbm_startup_cycles=0)


def test_concurrent_tiles_share_the_channels_instead_of_queueing_whole():
    # two tiles of 8 requests issued at cycle 0. Whole-tile reservations: A on 2 channels,
    # 4 requests each, last starts at 6, done 6 + 2 = 8; B behind it: last starts 14, done 16.
    fcfs = HBM(TINY)
    assert [fcfs.access(0, 512, 0), fcfs.access(0, 512, 0)] == [8, 16]
    # streams at 4 requests/cycle: 16 requests arrive by cycle 2, served 1 per cycle in arrival
    # order: 14 wait at cycle 2, both last requests leave at 16, done at ⌈16⌉ − 1 + 2 = 17
    streams = RequestStreams(TINY.replace(offchip_requests_per_cycle=4), HBM(TINY).bursts)
    a, b = streams.issue(0, 512, node=0), streams.issue(0, 512, node=1)
    assert (a, b) == ((0, 2.0), (0, 2.0))
    assert [streams.complete(*a, 512), streams.complete(*b, 512)] == [17, 17]


def test_one_operator_is_capped_by_its_request_rate_and_its_tiles_follow_each_other():
    hw = idealized(PAPER).replace(offchip_requests_per_cycle=4, hbm_startup_cycles=0)
    streams = RequestStreams(hw, HBM(hw).bursts)      # 16 requests/cycle of channels
    first = streams.issue(0, 64 * 64, node=7)          # 64 requests at 4/cycle: cycles 0–16
    second = streams.issue(0, 64 * 64, node=7)         # the same operator: after the first
    assert first == (0, 16.0) and second == (16.0, 32.0)
    assert streams.complete(*first, 64 * 64) == 15 + 2
    assert streams.complete(*second, 64 * 64) == 31 + 2


def test_the_simulator_uses_the_streams_and_keeps_the_bandwidth_cap():
    prog = sl.Program("two")
    for i in range(2):
        prog.output(f"x{i}", ops.LinearOffChipLoad(prog.tensor(f"X{i}", (8, 16), "f32"), (8, 16)))
    hw = TINY.replace(offchip_requests_per_cycle=4)
    done = sorted(d for _, d, _, _, _ in
                  sl.simulate(prog, hw=hw, values=False, trace=True).trace.hbm_accesses())
    assert done == [17, 17]                              # as in the unit test above
    ideal = sorted(d for _, d, _, _, _ in
                   sl.simulate(prog, hw=TINY, values=False, trace=True).trace.hbm_accesses())
    assert ideal == [8, 16]
    copy = sl.Program("copy")
    for i in range(8):
        x = ops.LinearOffChipLoad(copy.tensor(f"X{i}", (64 * 64, 64), "f32"), (64, 64))
        ops.LinearOffChipStore(x, f"Y{i}")
    result = sl.simulate(copy, values=False)             # PAPER: 16 streams at 4 requests/cycle
    assert 0.98 * 1024 <= result.offchip_bytes / result.cycles <= 1024


# -- error metrics against the reference points ---------------------------------------------------
def test_mean_abs_error_is_the_mean_unsigned_relative_error():
    assert mean_abs_error([110, 90, 100], [100, 100, 100]) == pytest.approx(0.2 / 3)
    assert mean_abs_error(np.array([50.0]), np.array([100.0])) == 0.5
    with pytest.raises(StepError, match="mean_abs_error"):
        mean_abs_error([1, 2], [1])
    with pytest.raises(StepError, match="positive"):
        mean_abs_error([1], [0])


def test_fig8_is_within_two_percent_on_average_and_five_at_worst():
    ours = np.array([simulate_point(m, n)["cycles"] for m, n in REF_CYCLES], dtype=float)
    ref = np.array(list(REF_CYCLES.values()), dtype=float)
    assert mean_abs_error(ours, ref) <= 0.02
    assert np.max(np.abs(ours / ref - 1)) <= 0.05
    ideal = np.array([sl.simulate(_swiglu(m, n), hw=idealized(VALIDATION), values=False).cycles
                      for m, n in REF_CYCLES], dtype=float)
    assert np.all(ideal < ref)                  # the one-directional bias issue 16 started from


def _swiglu(m, n):
    from step_lab.workloads.swiglu import swiglu
    return swiglu(tile_m=m, tile_n=n).run


# issue 16 asks each within 5% (before the request replay dynamic was 5.9% below; before
# issue 16 8.3% below, interleaved 17%)
@pytest.mark.parametrize("strategy,reference,tolerance", [
    ("coarse", 70209, 0.05), ("interleaved", 64361, 0.05), ("dynamic", 49093, 0.05)])
def test_attention_batch64_strategies_are_close_to_the_reference(strategy, reference, tolerance):
    from step_lab.reproduce.figures._attention import TRACES
    from step_lab.reproduce.figures._attention import simulate_point as attention
    from step_lab.reproduce.inputs import load, trace_path
    sigma, lo, hi = TRACES[64]["medium"][0]                  # σ996, requests 4007–4070
    relative = f"kv_lengths/b64/conv_stdev{sigma:04d}_{lo:04d}_{hi:04d}.npy"
    lengths = load(relative, trace_path(relative))
    cycles = attention(lengths.tolist(), strategy)["cycles"]
    assert abs(cycles / reference - 1) <= tolerance
