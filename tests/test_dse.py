"""Pareto, PID (EXPERIMENTS.md §2) and sweeps: caching, resume, error records, executors."""
import os
import sys
from concurrent.futures import ThreadPoolExecutor

import pytest

import step_lab as sl
from step_lab.dse import pareto, pid, sweep

FIG9_MIXTRAL = [  # (memory bytes, cycles) from EXPERIMENTS.md §2's worked example
    {"name": "tile8", "onchip_memory": 15_728_640, "cycles": 7.5e6},
    {"name": "tile16", "onchip_memory": 18_874_368, "cycles": 4.65e6},
    {"name": "tile32", "onchip_memory": 25_165_824, "cycles": 2.793e6},
    {"name": "tile64", "onchip_memory": 37_748_736, "cycles": 2.80e6},
]
DYNAMIC = {"onchip_memory": 18_874_368, "cycles": 2.800e6}


def test_pareto_drops_the_dominated_tile64_point():
    names = [p["name"] for p in pareto(FIG9_MIXTRAL)]
    assert names == ["tile8", "tile16", "tile32"]


def test_pid_reproduces_the_worked_example_of_fig9():
    assert pid(DYNAMIC, FIG9_MIXTRAL) == pytest.approx(25_165_824 / 18_874_368)
    assert round(pid(DYNAMIC, FIG9_MIXTRAL), 2) == 1.33


def test_pid_is_one_on_the_frontier_and_below_one_when_dominated():
    assert pid(FIG9_MIXTRAL[1], FIG9_MIXTRAL) == pytest.approx(1.0)
    worse = {"onchip_memory": 40_000_000, "cycles": 8e6}
    assert pid(worse, FIG9_MIXTRAL) < 1


def test_pareto_keeps_one_of_two_identical_points_and_accepts_pairs():
    assert pareto([(1, 2), (1, 2), (2, 1), (3, 3)]) == [(1, 2), (2, 1)]


def test_pid_rejects_points_without_the_axes():
    with pytest.raises(sl.StepError, match="has no 'onchip_memory'"):
        pid({"cycles": 1}, FIG9_MIXTRAL)


def square(x, y=0):
    if x == 3:
        raise ValueError("three is not allowed")
    return {"value": x * x + y}


def test_sweep_runs_inline_and_records_failures_without_aborting():
    recs = sweep(square, {"x": [1, 2, 3, 4]}, progress=False)
    assert [r["value"] for r in recs if r["error"] is None] == [1, 4, 16]
    bad = recs[2]
    assert bad["x"] == 3 and bad["error"].startswith("ValueError: three is not allowed")


def test_sweep_cache_resumes_without_recomputing(tmp_path):
    calls = []

    def counted(x):
        calls.append(x)
        return {"value": x + 1}

    grid = {"x": [1, 2, 3]}
    first = sweep(counted, grid, cache=tmp_path, progress=False, key="counted-v1")
    assert calls == [1, 2, 3]
    os.remove(next(tmp_path.glob("*.json")))          # as if killed before that point finished
    second = sweep(counted, grid, cache=tmp_path, progress=False, key="counted-v1")
    assert len(calls) == 4 and first == second


def test_sweep_with_a_process_pool_matches_inline():
    grid = {"x": [1, 2, 4], "y": [0, 10]}
    assert sweep(square, grid, jobs=2, progress=False) == sweep(square, grid, progress=False)


def test_sweep_accepts_any_executor():
    with ThreadPoolExecutor(2) as ex:
        recs = sweep(square, {"x": [1, 2]}, executor=ex, progress=False)
    assert [r["value"] for r in recs] == [1, 4]


def test_sweep_rejects_a_bad_grid_and_a_bad_executor():
    with pytest.raises(sl.ConfigError, match="grid entry 'x'"):
        sweep(square, {"x": []})
    with pytest.raises(sl.ConfigError, match="expected a concurrent.futures.Executor"):
        sweep(square, {"x": [1]}, executor=object(), progress=False)


def test_sweep_on_a_dask_local_cluster_matches_the_local_run(monkeypatch):
    distributed = pytest.importorskip("distributed", reason="dask extra not installed")
    monkeypatch.setattr(sys.modules["__main__"], "__spec__", None, raising=False)  # see scale_out
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client:
        recs = sweep(square, {"x": [1, 2, 3, 4], "y": [1]}, executor=client, progress=False)
    assert recs == sweep(square, {"x": [1, 2, 3, 4], "y": [1]}, progress=False)
