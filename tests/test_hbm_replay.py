"""The request replay (``hw.hbm_request_replay``, step_lab/sim/hbm_replay.py): the artifact's HBM
node dealing and channel timing pinned on hand-computed requests, the presets, the checks, and
a Fig 8 schedule reproduced to the cycle."""
import pytest

from step_lab.errors import ConfigError
from step_lab.hw import ATTENTION, PAPER, VALIDATION, idealized
from step_lab.sim import HBM
from step_lab.sim.hbm_replay import RequestReplay

# 4 channels, one request per channel every 2 cycles, latency 2 + start-up 14 on every request
SMALL = PAPER.replace(hbm_channels=4, offchip_bytes_per_cycle=128, hbm_request_replay=True,
                      offchip_requests_per_cycle=1)


def _stream(hw):
    stream = HBM(hw).stream
    assert isinstance(stream, RequestReplay)
    return stream


def test_one_tile_pays_path_issue_rate_startup_and_latency_on_its_last_request():
    s = _stream(SMALL)
    first, end = s.issue(0, 4 * 64)        # 4 requests reach the node at cycles 2, 3, 4, 5
    assert (first, end) == (2, 6)
    # channels 0..3 take them at 2..5; the last answers at 5 + 14 + 2 = 21; +1 to the operator
    assert s.complete(first, end, 4 * 64) == 22


def test_the_startup_is_paid_on_every_request_not_once_per_channel():
    s = _stream(SMALL.replace(hbm_channels=1, offchip_bytes_per_cycle=32))
    a = s.issue(0, 64)
    b = s.issue(0, 64, node=1)             # same cycle, same (only) channel
    assert s.complete(*a, 64) == 2 + 16 + 1
    assert s.complete(*b, 64, node=1) == 2 + 2 + 16 + 1   # queued 2 cycles, start-up again


def test_requests_of_one_cycle_are_dealt_with_the_artifacts_cumulative_offset():
    hw = PAPER.replace(hbm_channels=8, offchip_bytes_per_cycle=256, hbm_request_replay=True,
                       hbm_latency_cycles=0, hbm_startup_cycles=0, hbm_request_path_cycles=0,
                       hbm_response_path_cycles=0)            # 4 requests per cycle
    s = _stream(hw)
    a = s.issue(0, 4 * 64)                 # cycle 0 -> channels 0, 1, 3, 6; offset -> 2
    b = s.issue(1, 4 * 64, node=1)         # cycle 1 -> channels 2, 3, 5, 0: 3 and 0 busy
    assert s.complete(*a, 256) == 0
    assert s.complete(*b, 256, node=1) == 2    # an even round-robin (4..7) would give 1


def test_presets_replay_where_the_reference_points_are_and_idealized_turns_it_off():
    assert VALIDATION.hbm_request_replay and ATTENTION.hbm_request_replay
    assert not PAPER.hbm_request_replay
    assert ATTENTION.offchip_outstanding_tiles == 1      # RandomOffChipLoad::run is serial
    assert not idealized(VALIDATION).hbm_request_replay
    assert not idealized(ATTENTION).hbm_request_replay


@pytest.mark.parametrize("changes,match", [
    ({"hbm_request_replay": 1}, "hbm_request_replay = 1"),
    ({"hbm_request_replay": True, "offchip_requests_per_cycle": 0}, "offchip_requests_per_cycle"),
    ({"hbm_request_replay": True, "offchip_bytes_per_cycle": 512}, "offchip_bytes_per_cycle")])
def test_bad_replay_settings_are_config_errors(changes, match):
    with pytest.raises(ConfigError, match=match):
        PAPER.replace(**changes)


def test_a_fig8_schedule_is_reproduced_to_the_cycle():
    from step_lab.reproduce.figures.fig8 import REF_CYCLES, simulate_point
    assert simulate_point(16, 16)["cycles"] == REF_CYCLES[(16, 16)] == 33289
    fluid = VALIDATION.replace(hbm_request_replay=False)
    from step_lab.workloads.swiglu import swiglu
    assert swiglu(tile_m=16, tile_n=16).simulate(hw=fluid, values=False).cycles != 33289
