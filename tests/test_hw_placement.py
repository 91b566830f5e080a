"""Placement of nodes on the unit grid and time-multiplexing (STEP.md §7.4, §8.2)."""
import numpy as np
import pytest

import step_lab as sl
from step_lab import ConfigError, fn, ops
from step_lab.hw import PAPER, cell_kind, place


def chain(n_maps=3, rows=64):
    prog = sl.Program("chain")
    y = ops.LinearOffChipLoad(prog.tensor("X", (rows, 16), "f32"), tile=(16, 16))
    y = ops.Flatten(y, 0, 1)
    for _ in range(n_maps):
        y = ops.Map(y, fn.Scale(2.0), compute_bw=64)
    ops.LinearOffChipStore(y, "Y")
    return prog


def test_compute_nodes_get_compute_units_memory_nodes_memory_units():
    prog = chain()
    p = place(prog, PAPER)
    for node in prog.nodes:
        cell = p.unit_of[node.name]
        if node.group == "higher-order":
            assert cell_kind(*cell) == "compute"
        elif node.group == "memory":
            assert cell_kind(*cell) == "memory"
        else:
            assert cell is None and p.anchor[node.name] is not None
    assert not p.shared and len(set(c for c in p.unit_of.values() if c)) == 5


def test_network_nodes_are_anchored_at_their_nearest_producer():
    prog = chain()
    p = place(prog, PAPER)
    assert p.anchor["flatten0"] == p.unit_of["linearoffchipload0"]


def test_compute_tiles_follow_the_compute_bandwidth():
    prog = chain(1)
    p = place(prog, PAPER.replace(flops_per_cycle_per_unit=16))
    assert p.compute_tiles == {"map0": 4}


def test_override_moves_a_node_and_two_nodes_on_one_cell_are_shared():
    prog = chain()
    p = place(prog, PAPER, {"map0": (0, 0), "map1": (0, 0)})
    assert p.unit_of["map0"] == p.unit_of["map1"] == (0, 0)
    assert p.shared == {(0, 0): ["map0", "map1"]}


@pytest.mark.parametrize("placement,match", [
    ({"mapp0": (0, 0)}, r"'mapp0'.*did you mean 'map0'"),
    ({"flatten0": (0, 0)}, r"network.*take no unit"),
    ({"map0": (0, 1)}, r"\(0, 1\) is a memory unit but the node needs a compute unit"),
    ({"map0": (-1, 0)}, r"expected a \(row, col\) cell"),
])
def test_bad_overrides_raise_config_errors_naming_the_node(placement, match):
    with pytest.raises(ConfigError, match=match):
        place(chain(), PAPER, placement)


def test_a_cell_outside_a_fixed_grid_is_rejected():
    with pytest.raises(ConfigError, match=r"outside the 2×2 grid"):
        place(chain(1), PAPER.replace(grid=(2, 2)), {"map0": (2, 2)})


def test_a_too_small_grid_fails_unless_time_multiplexing_is_allowed():
    hw = PAPER.replace(grid=(2, 2))
    with pytest.raises(ConfigError, match=r"(?s)needs 3 more compute units.*time_multiplex"):
        place(chain(3), hw)
    p = place(chain(3), hw.replace(time_multiplex=True))
    maps = [p.unit_of[f"map{i}"] for i in range(3)]
    assert len(set(maps)) == 2 and all(cell_kind(*c) == "compute" for c in maps)
    assert [sorted(v) for v in p.shared.values()] == [["map0", "map2"]]


def test_time_multiplexed_nodes_serialise_and_pay_reconfiguration():
    prog = chain(2, rows=256)
    x = np.ones((256, 16), np.float32)
    alone = sl.simulate(prog, inputs={"X": x})
    shared = sl.simulate(prog, inputs={"X": x}, placement={"map0": (0, 0), "map1": (0, 0)})
    reconf = sl.simulate(prog, inputs={"X": x}, placement={"map0": (0, 0), "map1": (0, 0)},
                         hw=PAPER.replace(reconfiguration_cycles=10))
    np.testing.assert_array_equal(alone.arrays["Y"], shared.arrays["Y"])
    # 16 tiles; map0 reads memory-resident 1 KB tiles (16 cycles each), map1 computes 4 each:
    # alone they overlap (≈ 16·16 cycles), on one unit they serialise (>= 16·(16 + 4))
    assert alone.cycles < 16 * 20 <= shared.cycles
    # every switch between the two nodes costs 10 more cycles
    assert reconf.cycles >= shared.cycles + 10 * 16


def test_placement_is_reported_in_the_result():
    r = sl.simulate(chain(1), inputs={"X": np.ones((64, 16), np.float32)})
    assert r.per_node["map0"]["unit"] is not None and r.per_node["flatten0"]["unit"] is None
    assert r.placement.to_dict()["grid"] == list(r.placement.grid)
