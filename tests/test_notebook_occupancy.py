"""From the simulator's trace to occupancy events (notebook.occupancy and notebook._simtrace)."""
from array import array
from types import SimpleNamespace

import numpy as np
import pytest
from test_notebook_support import gemm_builder

import step_lab as sl
from step_lab.notebook import occupancy_from_result
from step_lab.notebook.frames import compute_frames
from step_lab.notebook.occupancy import BUSY, IDLE, STALLED_IN, STALLED_OUT


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


# -- the vectorised conversion equals a per-node reference ----------------------------------------
def _ref_levels(f):
    puts, gets = np.asarray(f.puts, np.int64), np.asarray(f.gets, np.int64)
    times = np.unique(np.concatenate([puts, gets]))
    return times, (np.searchsorted(puts, times, side="right")
                   - np.searchsorted(gets, times, side="right"))


def _ref_node_states(trace, name, outs):
    busy = np.asarray(trace.busy.get(name, ()), dtype=np.int64)
    if len(busy) == 0:
        return np.zeros(1, np.int64), np.array([IDLE])
    start, end = int(busy[0]), int(busy[-1])
    points = np.unique(np.concatenate([busy, [0, start, end]] + [lv[0] for lv, _ in outs]))
    is_busy = np.searchsorted(busy, points, side="right") % 2 == 1
    full = np.zeros(len(points), bool)
    for (t, lv), capacity in outs:
        at = np.searchsorted(t, points, side="right") - 1
        full |= (at >= 0) & (lv[np.clip(at, 0, None)] >= capacity)
    active = (points >= start) & (points < end)
    return points, np.where(is_busy, BUSY, np.where(full, STALLED_OUT,
                                                    np.where(active, STALLED_IN, IDLE)))


def _reference_unit_events(trace, units):
    """Per node, then per unit (max of the priority ranks), one unit at a time."""
    rank = np.array([0, 3, 1, 2])                  # by state: idle, busy, stall in, stall out
    by_rank = np.array([IDLE, STALLED_IN, STALLED_OUT, BUSY])
    outputs = {}
    for f in trace.fifos.values():
        outputs.setdefault(f.producer, []).append((_ref_levels(f), f.capacity))
    rows = []
    for index, unit in enumerate(units):
        per_node = [_ref_node_states(trace, n, outputs.get(n, [])) for n in unit.name.split(" + ")]
        times = np.unique(np.concatenate([t for t, _ in per_node] + [np.zeros(1, np.int64)]))
        best = np.zeros(len(times), int)
        for t, s in per_node:
            at = np.clip(np.searchsorted(t, times, side="right") - 1, 0, None)
            best = np.maximum(best, np.where(times >= t[0], rank[s[at]], 0))
        states = by_rank[best]
        keep = np.concatenate([[True], states[1:] != states[:-1]])
        rows += [(t, index, s) for t, s in zip(times[keep], states[keep], strict=True)]
    return np.array(rows, dtype=np.int64)


@pytest.mark.parametrize("tiling", ["static", "dynamic"])
def test_the_vectorised_conversion_equals_the_per_node_reference(tiling):
    from step_lab.workloads import simplified_moe
    prog, inputs, bindings = simplified_moe(tokens=64, experts=8, tiling=tiling)
    result = sl.simulate(prog, bindings=bindings, inputs=inputs, trace=True)
    occ = occupancy_from_result(result, prog)
    assert np.array_equal(occ.unit_events, _reference_unit_events(result.trace, occ.units))
    expected = [np.column_stack([t, np.full(len(t), q), lv]) for q, (t, lv) in
                enumerate(_ref_levels(result.trace.fifos[f.name]) for f in occ.fifos)]
    assert np.array_equal(occ.fifo_events, np.vstack([e for e in expected if len(e)]))


def test_a_shared_unit_takes_the_highest_priority_state_of_its_nodes():
    busy = {"a": [0, 4], "b": [2, 3, 8, 10]}
    result = fake_result(busy, {"a": (0, 0), "b": (0, 0)}, {})
    occ = occupancy_from_result(result)
    assert [u.name for u in occ.units] == ["a + b"]
    assert occ.unit_events[:, [0, 2]].tolist() == [[0, BUSY], [4, STALLED_IN], [8, BUSY],
                                                   [10, IDLE]]
