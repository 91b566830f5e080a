"""From the simulator's trace to occupancy events (notebook.occupancy and notebook._simtrace)."""
from array import array
from types import SimpleNamespace

import numpy as np
import pytest

import step_lab as sl
from step_lab.notebook.frames import compute_frames
from step_lab.notebook.occupancy import (BUSY, IDLE, STALLED_IN, STALLED_OUT,
                                         occupancy_from_result)
from test_notebook_support import gemm_builder


@pytest.fixture(scope="module")
def gemm_run():
    prog, inputs, bindings = gemm_builder({})
    return prog, sl.simulate(prog, bindings=bindings, inputs=inputs, trace=True)


def fake_result(busy: dict, units: dict, fifos: dict, cycles: int = 20):
    trace = SimpleNamespace(cycles=cycles, busy={k: array("q", v) for k, v in busy.items()},
                            units=units, fifos=fifos, hbm=array("q", [2, 6, 400, 0, 0]),
                            node_names=list(busy))
    per_node = {name: {"op": "Map"} for name in busy}
    return SimpleNamespace(trace=trace, per_node=per_node, program="fake", placement=None,
                           hw=SimpleNamespace(offchip_bytes_per_cycle=1024))


def fifo(producer: str, consumer: str, puts, gets, capacity: int = 2):
    return SimpleNamespace(producer=producer, consumer=consumer, capacity=capacity,
                           puts=array("q", puts), gets=array("q", gets))


def test_only_placed_nodes_become_units_at_their_cells(gemm_run):
    prog, result = gemm_run
    occ = occupancy_from_result(result, prog)
    placed = {n: tuple(c) for n, c in result.trace.units.items() if c is not None}
    assert {u.name: (u.row, u.col) for u in occ.units} == placed
    assert occ.grid == tuple(result.placement.grid)
    assert {u.group for u in occ.units} == {"memory", "higher-order"}


def test_busy_time_per_unit_matches_the_simulators_statistics(gemm_run):
    prog, result = gemm_run
    occ = occupancy_from_result(result, prog)
    frames = compute_frames(occ, max_frames=10**9)                 # one frame per cycle
    width = np.diff(frames.boundaries)
    for i, unit in enumerate(occ.units):
        busy = result.per_node[unit.name]["busy"]
        assert (frames.busy[:, i] * width).sum() == pytest.approx(busy)


def test_offchip_bytes_and_fifo_levels_are_preserved(gemm_run):
    prog, result = gemm_run
    occ = occupancy_from_result(result, prog)
    assert occ.hbm_events[:, 2].sum() == result.offchip_bytes
    capacity = np.array([f.capacity for f in occ.fifos])
    levels = occ.fifo_events
    assert np.all(levels[:, 2] >= 0) and np.all(levels[:, 2] <= capacity[levels[:, 1]])
    assert occ.offchip_bytes_per_cycle == result.hw.offchip_bytes_per_cycle


def test_a_node_with_a_full_output_fifo_is_stalled_on_output():
    busy = {"load0": [0, 2, 10, 12], "map0": [4, 8]}
    fifos = {"f": fifo("load0", "map0", puts=[1, 2], gets=[6, 9], capacity=2)}
    result = fake_result(busy, {"load0": (0, 1), "map0": (0, 0)}, fifos)
    occ = occupancy_from_result(result)
    frames = compute_frames(occ)
    load = [u.name for u in occ.units].index("load0")
    assert frames.state[:, load].tolist()[:13] == (
        [BUSY, BUSY] + [STALLED_OUT] * 4 + [STALLED_IN] * 4 + [BUSY, BUSY] + [IDLE])


def test_a_node_waiting_between_its_first_and_last_work_is_stalled_on_input():
    result = fake_result({"map0": [4, 8, 12, 14]}, {"map0": (0, 0)}, {})
    frames = compute_frames(occupancy_from_result(result))
    states = frames.state[:, 0].tolist()
    assert states[:4] == [IDLE] * 4 and states[4:8] == [BUSY] * 4
    assert states[8:12] == [STALLED_IN] * 4 and states[14:] == [IDLE] * 6


def test_nodes_sharing_a_unit_combine_with_busy_first():
    busy = {"map0": [0, 4], "map1": [2, 10]}
    result = fake_result(busy, {"map0": (0, 0), "map1": (0, 0)}, {})
    occ = occupancy_from_result(result)
    assert [u.name for u in occ.units] == ["map0 + map1"]
    states = compute_frames(occ).state[:, 0].tolist()
    assert states[:10] == [BUSY] * 10 and states[10:] == [IDLE] * 10


def test_hbm_accesses_spread_their_bytes_over_their_span():
    result = fake_result({"map0": [0, 1]}, {"map0": (0, 0)}, {})
    frames = compute_frames(occupancy_from_result(result))
    assert frames.bandwidth[2:6].tolist() == [100.0] * 4 and frames.bandwidth.sum() == 400
