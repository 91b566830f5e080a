"""The shared HBM model (STEP.md §7.3): bandwidth, latency, start-up, interleaving."""
import numpy as np
import pytest

import step_lab as sl
from step_lab import ops
from step_lab.hw import PAPER, VALIDATION, idealized
from step_lab.sim import HBM

# the per-channel reservations of sim/hbm.py (offchip_requests_per_cycle = 0) without the
# request/response path cycles; the request-stream model is tested in tests/test_overheads.py
PAPER, VALIDATION = idealized(PAPER), idealized(VALIDATION)


@pytest.mark.parametrize("hw", [PAPER, VALIDATION, PAPER.replace(offchip_bytes_per_cycle=300),
                                PAPER.replace(hbm_latency_cycles=9, hbm_startup_cycles=0)])
def test_per_tile_reservation_equals_issuing_every_burst_separately(hw):
    rng = np.random.default_rng(1)
    fast, slow = HBM(hw), HBM(hw)
    t = 0
    for _ in range(400):
        t += int(rng.integers(0, 6))
        nbytes = int(rng.choice([1, 64, 100, 128, 2048, 4096, 8192, 40_000]))
        address = int(rng.integers(0, 1 << 20))
        assert fast.access(t, nbytes, address) == slow.access_per_request(t, nbytes, address)
    assert fast.free == slow.free


def test_a_single_burst_returns_after_start_up_and_latency():
    hbm = HBM(PAPER)
    assert hbm.access(0, 64, 0) == PAPER.hbm_startup_cycles + PAPER.hbm_latency_cycles
    assert hbm.access(100, 64, 0) == 100 + PAPER.hbm_latency_cycles


def test_bursts_interleave_over_channels_by_address():
    hbm = HBM(PAPER.replace(hbm_startup_cycles=0))
    assert hbm.access(0, 64, 0) == 2 and hbm.access(0, 64, 64) == 2      # channels 0 and 1
    assert hbm.access(0, 64, 32 * 64) == 4                                # channel 0 again
    assert hbm.access(0, 64 * 32, 0) == 2 * 2 + 2                         # every channel once


def test_a_partial_burst_costs_a_whole_request():
    a, b = HBM(PAPER), HBM(PAPER)
    assert a.access(0, 1, 0) == b.access(0, 64, 0)


def copy_program(n_tiles, tile=(64, 256), store=True):
    prog = sl.Program("copy")
    x = ops.LinearOffChipLoad(prog.tensor("X", (tile[0] * n_tiles, tile[1]), "bf16"), tile=tile)
    if store:
        ops.LinearOffChipStore(x, "Y")
    else:
        prog.output("x", x)
    return prog


@pytest.mark.parametrize("hw", [PAPER, VALIDATION, PAPER.replace(offchip_bytes_per_cycle=512)])
@pytest.mark.parametrize("store", [True, False])
def test_a_bandwidth_bound_copy_reaches_the_configured_bandwidth_within_two_percent(hw, store):
    result = sl.simulate(copy_program(64, store=store), hw=hw, values=False)
    achieved = result.offchip_bytes / result.cycles
    assert 0.98 * hw.offchip_bytes_per_cycle <= achieved <= hw.offchip_bytes_per_cycle
    assert result.offchip_bandwidth_utilization >= 0.98


def test_concurrent_loads_share_the_bandwidth():
    prog = sl.Program("share")
    for i in range(4):
        x = ops.LinearOffChipLoad(prog.tensor(f"X{i}", (64 * 16, 256), "bf16"), tile=(64, 256))
        prog.output(f"x{i}", x)
    result = sl.simulate(prog, values=False, trace=True)
    assert result.offchip_bytes / result.cycles >= 0.98 * 1024
    accesses = result.trace.hbm_accesses()
    finish = [max(d for _, d, _, _, n in accesses if n == f"linearoffchipload{i}")
              for i in range(4)]
    assert min(finish) > 0.85 * result.cycles       # interleaved tile by tile, none starved


def test_hbm_trace_accounts_for_every_byte():
    result = sl.simulate(copy_program(8), values=False, trace=True)
    assert sum(b for _, _, b, _, _ in result.trace.hbm_accesses()) == result.offchip_bytes
    assert sum(result.trace.hbm_bytes(window=50)) == pytest.approx(result.offchip_bytes)
    writes = [a for a in result.trace.hbm_accesses() if a[3]]
    assert len(writes) == 8 and all(a[4] == "linearoffchipstore0" for a in writes)


def test_outstanding_tiles_bound_a_latency_bound_load():
    slow = PAPER.replace(hbm_latency_cycles=100, hbm_startup_cycles=0)
    one = sl.simulate(copy_program(16, store=False), hw=slow.replace(offchip_outstanding_tiles=1),
                      values=False)
    two = sl.simulate(copy_program(16, store=False), hw=slow, values=False)
    assert one.cycles > 16 * 100 > two.cycles > 8 * 100


# -- request granularity: whole requests per tile row (the reference's off-chip operators) ---------
def test_a_tile_costs_whole_requests_per_row():
    hbm = HBM(PAPER)
    assert hbm.bursts(2048 * 96, 2048, 96) == 2048 * 2        # 96-B rows: 2 requests each
    assert hbm.bursts(64 * 512, 64, 512) == 64 * 8            # 64-B multiples: unchanged
    assert hbm.bursts(2048 * 96) == 2048 * 96 // 64            # no geometry: one block
    assert hbm.bursts(100, 3, 40) == 2                         # geometry does not fit: block


@pytest.mark.parametrize("hw", [PAPER, VALIDATION, PAPER.replace(offchip_bytes_per_cycle=300)])
def test_row_requests_reserve_like_issuing_every_burst_separately(hw):
    rng = np.random.default_rng(2)
    fast, slow = HBM(hw), HBM(hw)
    t = 0
    for _ in range(200):
        t += int(rng.integers(0, 6))
        rows, row_bytes = int(rng.choice([1, 16, 48, 2048])), int(rng.choice([2, 96, 130, 512]))
        address = int(rng.integers(0, 1 << 20))
        assert fast.access(t, rows * row_bytes, address, False, -1, rows, row_bytes) == \
            slow.access_per_request(t, rows * row_bytes, address, rows, row_bytes)
    assert fast.free == slow.free


def test_narrow_rows_take_request_time_but_count_useful_bytes():
    # [2048, 48] bf16 tiles (a Qwen3 gate tile at tile_F = 48): 96 useful bytes per row cost two
    # 64-B requests, so a bandwidth-bound load reaches 96/128 = 75% of the HBM bandwidth
    prog = sl.Program("narrow")
    x = ops.LinearOffChipLoad(prog.tensor("W", (2048, 48 * 16), "bf16"), tile=(2048, 48))
    prog.output("w", x)
    result = sl.simulate(prog, values=False, hw=PAPER)
    assert result.offchip_bytes == 2048 * 48 * 16 * 2
    assert result.offchip_bytes == sl.metrics(prog).evaluate({})["offchip_traffic"]
    assert 0.72 <= result.offchip_bandwidth_utilization <= 0.75
    wide = copy_program(16, tile=(2048, 64), store=False)     # 128-B rows: full bandwidth
    assert sl.simulate(wide, values=False, hw=PAPER).offchip_bandwidth_utilization >= 0.97


def test_stores_also_pay_per_row():
    prog = sl.Program("narrow_store")
    x = ops.LinearOffChipLoad(prog.tensor("W", (256, 48 * 32), "bf16"), tile=(256, 48))
    ops.LinearOffChipStore(x, "Y")
    result = sl.simulate(prog, values=False, trace=True, hw=PAPER)
    writes = [a for a in result.trace.hbm_accesses() if a[3]]
    assert sum(a[2] for a in writes) == 256 * 48 * 32 * 2      # useful bytes in the trace
    assert 0.72 <= result.offchip_bandwidth_utilization <= 0.76
