"""Frame computation from occupancy change events (step_lab.notebook.frames)."""
import numpy as np
import pytest
from test_notebook_support import synthetic_occupancy

from step_lab.notebook.frames import compute_frames, frame_boundaries
from step_lab.notebook.occupancy import (
    BUSY,
    IDLE,
    STALLED_IN,
    STALLED_OUT,
    Fifo,
    Occupancy,
    Unit,
    grid_positions,
)


def two_units() -> Occupancy:
    units = [Unit("map0", "Map", "higher-order", 0, 0), Unit("load0", "Load", "memory", 0, 1)]
    events = [(2, 0, BUSY), (6, 0, STALLED_IN), (8, 0, IDLE), (0, 1, BUSY)]
    return Occupancy(10, units, events, [Fifo("f", 4)], [(0, 0, 2), (5, 0, 4)],
                     [(1, 2, 64), (3, 3, 64)], 1024.0)


def test_short_runs_get_one_frame_per_cycle():
    frames = compute_frames(two_units())
    assert frames.count == 10
    assert frames.state[:, 0].tolist() == [IDLE] * 2 + [BUSY] * 4 + [STALLED_IN] * 2 + [IDLE] * 2
    assert frames.state[:, 1].tolist() == [BUSY] * 10
    assert np.allclose(frames.share, 1.0)


def test_fifo_fill_is_the_time_average_level_over_capacity():
    frames = compute_frames(two_units(), max_frames=2)
    assert frames.boundaries.tolist() == [0, 5, 10]
    assert np.allclose(frames.fifo_fill[:, 0], [0.5, 1.0])


def test_bandwidth_is_bytes_moved_per_cycle_of_the_window():
    frames = compute_frames(two_units(), max_frames=2)
    assert np.allclose(frames.bandwidth, [128 / 5, 0.0])


def test_bandwidth_never_exceeds_the_peak_when_a_long_access_overlaps_busy_windows():
    """A long access (its requests waiting behind others) spread evenly over its span would
    credit bytes to windows the memory spent serving the others: those wait (FCFS at the
    peak) for the next windows; every byte is still shown, and no window is above the peak."""
    units = [Unit("load0", "Load", "memory", 0, 0)]
    hbm = [(0, 1000, 100 * 1000)]                              # 100 B/cycle over the run
    hbm += [(t, t + 10, 10 * 100) for t in range(0, 300, 10)]  # a 100 B/cycle burst early on
    occ = Occupancy(1000, units, [(0, 0, BUSY)], [], [], hbm, 150.0)
    frames = compute_frames(occ, max_frames=10)
    width = np.diff(frames.boundaries)
    assert frames.bandwidth.max() <= 150.0 + 1e-9
    assert np.isclose((frames.bandwidth * width).sum(), 100 * 1000 + 30 * 1000)
    assert np.allclose(frames.bandwidth[:2], 150.0) and np.allclose(frames.bandwidth[-1], 100)


def test_a_window_is_coloured_by_the_state_it_spent_most_time_in():
    frames = compute_frames(two_units(), max_frames=2)
    assert frames.state[0, 0] == BUSY and frames.share[0, 0] == pytest.approx(0.6)
    # window 2 of map0: busy 1, stalled 2, idle 2 -> ties favour the stall over idle
    assert frames.state[1, 0] == STALLED_IN
    assert frames.busy[1, 0] == pytest.approx(0.2)


def test_long_runs_are_downsampled_to_at_most_max_frames():
    occ = synthetic_occupancy(cycles=100_000, units=5)
    frames = compute_frames(occ, max_frames=2000)
    assert frames.count == 2000
    assert frames.boundaries[0] == 0 and frames.boundaries[-1] == 100_000
    assert frames.state.shape == (2000, 5)


def test_state_times_add_up_to_the_window_for_every_unit():
    occ = synthetic_occupancy(cycles=1000)
    frames = compute_frames(occ, max_frames=37)
    assert np.all(frames.share <= 1.0 + 1e-9) and np.all(frames.share > 0)
    assert np.all((frames.busy >= 0) & (frames.busy <= 1.0 + 1e-9))


def test_busy_fraction_matches_a_cycle_by_cycle_replay():
    occ = synthetic_occupancy(cycles=300, seed=5)
    frames = compute_frames(occ, max_frames=7)
    per_cycle = np.zeros((300, len(occ.units)), int)
    for cycle, unit, state in sorted(map(tuple, occ.unit_events)):
        per_cycle[cycle:, unit] = state
    b = frames.boundaries
    for k in range(frames.count):
        window = per_cycle[b[k]:b[k + 1]]
        assert np.allclose(frames.busy[k], (window == BUSY).mean(axis=0))


def test_shared_boundaries_beyond_a_short_run_show_idle_units():
    occ = two_units()
    frames = compute_frames(occ, boundaries=np.array([0, 10, 20]))
    assert frames.state[1].tolist() == [IDLE, IDLE]
    assert frames.busy[1].tolist() == [0.0, 0.0]


def test_frame_of_cycle_finds_the_window_holding_a_cycle():
    frames = compute_frames(synthetic_occupancy(cycles=1000), max_frames=10)
    assert frames.frame_of_cycle(0) == 0
    assert frames.frame_of_cycle(999) == 9
    assert frames.frame_of_cycle(150) == 1


def test_frame_boundaries_never_exceed_the_cycle_count():
    assert frame_boundaries(3, 2000).tolist() == [0, 1, 2, 3]
    assert len(frame_boundaries(10**7, 2000)) == 2001


def test_malformed_event_arrays_are_rejected_with_their_shape():
    with pytest.raises(ValueError, match=r"unit_events has shape \(2,\) \(expected \(n, 3\)\)"):
        Occupancy(10, [], [1, 2])


def test_grid_positions_fill_a_near_square_grid_row_major():
    assert grid_positions(5) == [(0, 0), (0, 1), (0, 2), (1, 0), (1, 1)]
    assert STALLED_OUT == 3


def test_only_the_fullest_fifos_are_followed_per_frame():
    occ = synthetic_occupancy(fifos=6, cycles=500)
    full = Occupancy(occ.cycles, occ.units, occ.unit_events, occ.fifos,
                     np.vstack([occ.fifo_events, [(0, 4, 2)]]), occ.hbm_events)
    everything = compute_frames(full, max_frames=50)
    assert everything.fifo_pick.tolist() == list(range(6))
    two = compute_frames(full, max_frames=50, max_fifos=2)
    mean = everything.fifo_fill.mean(axis=0)
    assert two.fifo_pick.tolist() == sorted(np.argsort(-mean, kind="stable")[:2].tolist())
    assert np.allclose(two.fifo_fill, everything.fifo_fill[:, two.fifo_pick])
