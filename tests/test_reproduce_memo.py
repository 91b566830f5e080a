"""Points simulated once per reproduce run (reproduce/memo.py), figures run concurrently over a
shared pool (reproduce/batch.py), end-to-end stages shared across variants (workloads/e2e.py)."""
from __future__ import annotations

import threading

import pytest

from step_lab.reproduce import batch, memo


@pytest.fixture
def shared():
    """Inside a reproduce session (as the CLI's ``reproduce`` command runs its figures)."""
    with memo.session():
        yield


def test_outside_a_session_every_sweep_runs_in_full():
    calls = []
    for _ in range(2):
        memo.sweep_once(counting_run(calls), square, {"point": [{"x": 2}]}, "k")
    assert calls == [[2], [2]]


def test_a_session_forgets_its_points_when_it_ends():
    calls = []
    for _ in range(2):
        with memo.session():
            memo.sweep_once(counting_run(calls), square, {"point": [{"x": 2}]}, "k")
    assert calls == [[2], [2]]


def square(x, label="", ablation=False):
    return {"y": x * x}


def counting_run(calls: list, fail: set = frozenset()):
    def run(fn, grid, key):
        calls.append([p["x"] for p in grid["point"]])
        return [{"point": p, "error": "boom" if p["x"] in fail else None,
                 **({} if p["x"] in fail else fn(**p))} for p in grid["point"]]
    return run


def test_a_point_is_simulated_once_whatever_its_label(shared):
    calls = []
    first = memo.sweep_once(counting_run(calls), square,
                            {"point": [{"x": 2, "label": "a"}, {"x": 3, "label": "b"}]}, "k")
    again = memo.sweep_once(counting_run(calls), square,
                            {"point": [{"x": 3, "label": "fig21"}, {"x": 4},
                                       {"x": 4, "ablation": True}]}, "k")
    assert calls == [[2, 3], [4]]
    assert [r["y"] for r in first + again] == [4, 9, 9, 16, 16]
    assert again[0]["point"] == {"x": 3, "label": "fig21"}           # the asker's own point
    assert again[2]["point"] == {"x": 4, "ablation": True}


def test_the_function_and_the_sweep_key_are_part_of_a_point(shared):
    calls = []
    memo.sweep_once(counting_run(calls), square, {"point": [{"x": 2}]}, "k1")
    memo.sweep_once(counting_run(calls), square, {"point": [{"x": 2}]}, "k2")
    memo.sweep_once(counting_run(calls), lambda x: {"y": -x}, {"point": [{"x": 2}]}, "k1")
    assert calls == [[2], [2], [2]]


def test_failed_points_are_not_remembered(shared):
    calls = []
    out = memo.sweep_once(counting_run(calls, fail={5}), square, {"point": [{"x": 5}]}, "k")
    assert out[0]["error"] == "boom"
    memo.sweep_once(counting_run(calls), square, {"point": [{"x": 5}]}, "k")
    assert calls == [[5], [5]]


def test_other_grids_go_to_the_sweep_unchanged():
    seen = []

    def run(fn, grid, key):
        seen.append(grid)
        return ["whatever"]
    assert memo.sweep_once(run, square, {"m": [1, 2]}, None) == ["whatever"]
    assert seen == [{"m": [1, 2]}]


def test_concurrent_figures_share_a_point_being_simulated(shared):
    calls, started, release = [], threading.Event(), threading.Event()

    def slow_run(fn, grid, key):
        calls.append([p["x"] for p in grid["point"]])
        started.set()
        release.wait(10)
        return [{"point": p, "error": None, **fn(**p)} for p in grid["point"]]
    results = {}
    a = threading.Thread(target=lambda: results.update(
        a=memo.sweep_once(slow_run, square, {"point": [{"x": 7}]}, "k")))
    a.start()
    assert started.wait(10)
    b = threading.Thread(target=lambda: results.update(
        b=memo.sweep_once(slow_run, square, {"point": [{"x": 7, "label": "b"}, {"x": 8}]},
                          "k")))
    b.start()
    threading.Timer(0.3, release.set).start()
    a.join(10)
    b.join(10)
    assert sorted(calls) == [[7], [8]]                     # 7 once, by the first figure
    assert [r["y"] for r in results["b"]] == [49, 64]


def test_figures_run_concurrently_and_are_reported_in_order(monkeypatch):
    ids = ["fig8", "fig9", "fig10"]
    barrier = threading.Barrier(len(ids), timeout=10)      # only passes if all run at once

    def fake_reproduce(fig_id, out_dir, ctx):
        barrier.wait()
        return {"figure": fig_id}
    monkeypatch.setattr(batch, "reproduce", fake_reproduce)
    reported = []
    records = batch.reproduce_figures(ids, "out", None, lambda f, r: reported.append(f),
                                      concurrent=True)
    assert reported == ids and [r["figure"] for r in records] == ids


def test_figures_run_one_after_the_other_without_a_parallel_executor(monkeypatch):
    running = []

    def fake_reproduce(fig_id, out_dir, ctx):
        running.append(threading.current_thread().name)
        return {"figure": fig_id}
    monkeypatch.setattr(batch, "reproduce", fake_reproduce)
    batch.reproduce_figures(["fig8", "fig9"], "out", None, lambda f, r: None, concurrent=False)
    assert running == [threading.current_thread().name] * 2


def test_end_to_end_variants_share_identical_stages():
    from step_lab.workloads.e2e import _stage_key, end_to_end
    layers = {v: end_to_end("mixtral-8x7b", variant=v)
              for v in ("memory_matched", "performance_matched", "dynamic")}
    keys = {v: {s: _stage_key(layer.model, s, wl) for s, wl in layer.stages.items()}
            for v, layer in layers.items()}
    assert keys["memory_matched"]["attention"] == keys["performance_matched"]["attention"]
    assert keys["memory_matched"]["attention"] != keys["dynamic"]["attention"]
    assert len({k["qkv"] for k in keys.values()}) == 1
    assert len({k["moe"] for k in keys.values()}) == 3
