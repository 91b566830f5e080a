"""HardwareConfig and presets (STEP.md §7, EXPERIMENTS.md §1.1)."""
import dataclasses
import json

import pytest

import step_lab as sl
from step_lab import ConfigError
from step_lab.hw import ATTENTION, PAPER, PRESETS, VALIDATION, HardwareConfig, preset


def test_paper_preset_has_the_papers_evaluation_numbers():
    assert PAPER.onchip_bytes_per_cycle == 64 and PAPER.offchip_bytes_per_cycle == 1024
    assert (PAPER.hbm_channels, PAPER.hbm_request_bytes, PAPER.hbm_cycles_per_request,
            PAPER.hbm_latency_cycles, PAPER.hbm_startup_cycles) == (32, 64, 2, 2, 14)
    assert PAPER.fifo_depth == 2 and PAPER.switch_cost_cycles == 1
    assert PAPER.reconfiguration_cycles == 0 and sl.hw.PAPER is PAPER


def test_channels_deliver_exactly_the_configured_bandwidth_in_every_preset():
    for hw in PRESETS.values():
        delivered = hw.hbm_channels * hw.hbm_request_bytes // hw.hbm_cycles_per_request
        assert delivered == hw.offchip_bytes_per_cycle


def test_attention_and_validation_presets_follow_the_experiments():
    assert ATTENTION.fifo_depth == 1 and ATTENTION.offchip_bytes_per_cycle == 1024
    assert VALIDATION.hbm_channels == 8 and VALIDATION.offchip_bytes_per_cycle == 256
    assert VALIDATION.onchip_bytes_per_cycle == 256 and VALIDATION.fifo_depth == 1
    assert VALIDATION.compute_flops_per_cycle == 4096
    # the artifact's loads keep one tile in flight (Fig 8's ranking needs it); PAPER double-buffers
    assert VALIDATION.offchip_outstanding_tiles == 1 and PAPER.offchip_outstanding_tiles == 2


def test_config_is_frozen_and_replace_validates_again():
    with pytest.raises(dataclasses.FrozenInstanceError):
        PAPER.fifo_depth = 4
    deeper = PAPER.replace(fifo_depth=4)
    assert deeper.fifo_depth == 4 and PAPER.fifo_depth == 2
    with pytest.raises(ConfigError, match=r"fifo_depth = 0 \(expected an int >= 1\)"):
        PAPER.replace(fifo_depth=0)


def test_replace_with_an_unknown_field_suggests_the_closest_name():
    with pytest.raises(ConfigError, match=r"no field 'fifo_dept'.*did you mean 'fifo_depth'"):
        PAPER.replace(fifo_dept=3)


@pytest.mark.parametrize("field,value", [("onchip_bytes_per_cycle", 0),
                                         ("hbm_channels", 2.5), ("fifo_depth", True),
                                         ("hbm_latency_cycles", -1),
                                         ("channel_latency_cycles", 0)])
def test_invalid_values_name_the_field_value_and_expectation(field, value):
    with pytest.raises(ConfigError, match=rf"{field} = {value!r} \(expected an int >= \d\)"):
        HardwareConfig(**{field: value})


def test_a_bandwidth_the_channels_cannot_deliver_is_rejected_with_a_hint():
    with pytest.raises(ConfigError, match=r"offchip_bytes_per_cycle = 2048 exceeds.*1024"):
        PAPER.replace(offchip_bytes_per_cycle=2048)
    assert PAPER.replace(offchip_bytes_per_cycle=2048, hbm_channels=64).hbm_channels == 64
    assert PAPER.replace(offchip_bytes_per_cycle=512).offchip_bytes_per_cycle == 512


def test_grid_must_be_two_positive_ints():
    assert PAPER.replace(grid=[4, 6]).grid == (4, 6)
    for bad in ((4,), (0, 3), "4x4", (2, 2.0)):
        with pytest.raises(ConfigError, match=r"grid = .*\(expected None or \(rows, cols\)"):
            PAPER.replace(grid=bad)
    with pytest.raises(ConfigError, match="time_multiplex"):
        PAPER.replace(time_multiplex="yes")


def test_preset_lookup_is_case_insensitive_and_suggests_names():
    assert preset("Validation") is VALIDATION and preset(PAPER) is PAPER
    with pytest.raises(ConfigError, match=r"unknown hardware preset 'atention'.*'attention'"):
        preset("atention")


def test_to_dict_is_json_serialisable():
    d = PAPER.replace(grid=(2, 3)).to_dict()
    assert json.loads(json.dumps(d))["grid"] == [2, 3]
    assert d["offchip_bytes_per_cycle"] == 1024
