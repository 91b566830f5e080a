"""``reproduce all`` by default: a light pool of forked workers, earlier figures' points first,
Fig 17 swept stage by stage (issue 15). The Ctrl-C / SIGKILL behaviour matches ``--jobs N``'s
dask workers (tests/test_bad_input_cache.py)."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import CancelledError, ThreadPoolExecutor
from pathlib import Path

import pytest
from test_bad_input_cache import _alive, _children, _default_sigint, _outliving

from step_lab.reproduce import batch, pool
from step_lab.reproduce.ordered import OrderedExecutor, ranked

LINUX = sys.platform.startswith("linux")


# -- the default number of workers ---------------------------------------------------------------
@pytest.mark.parametrize(("cores", "ids", "expected"), [
    (2, ["fig8", "fig9"], 2), (1, ["fig8", "fig9"], None), (64, ["fig8", "fig9"], 8),
    (2, ["fig9"], None)])
def test_all_figures_default_to_one_worker_per_core(monkeypatch, cores, ids, expected):
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(cores)), raising=False)
    assert batch.default_jobs(ids) == expected


def test_a_pool_that_cannot_start_runs_inline_with_a_note(monkeypatch, capsys):
    def broken(jobs):
        raise OSError("no more processes")
    monkeypatch.setattr(pool, "local_pool", broken)
    with pool.default_executor(2) as (executor, jobs):
        assert executor is None and jobs is None
    err = capsys.readouterr().err
    assert "2 local worker processes did not start" in err and "no more processes" in err
    with pool.default_executor(None) as (executor, jobs):
        assert executor is None


# -- the ordered executor ------------------------------------------------------------------------
def test_calls_of_earlier_ranks_run_first_in_submission_order():
    inner = ThreadPoolExecutor(max_workers=1)
    ordered = OrderedExecutor(inner, slots=1)
    gate, ran = threading.Event(), []
    first = ordered.submit(gate.wait, 10)            # occupies the only slot
    futures = []
    for rank, name in [(2, "c1"), (0, "a1"), (1, "b1"), (0, "a2"), (2, "c2")]:
        with ranked(rank):
            futures.append(ordered.submit(ran.append, name))
    unranked = ordered.submit(ran.append, "last")    # a thread without a rank goes last
    gate.set()
    for f in [first, *futures, unranked]:
        f.result(timeout=10)
    assert ran == ["a1", "a2", "b1", "c1", "c2", "last"]
    ordered.shutdown()
    inner.shutdown()


def test_errors_reach_the_caller_and_shutdown_cancels_pending_calls():
    inner = ThreadPoolExecutor(max_workers=1)
    ordered = OrderedExecutor(inner, slots=1)
    with pytest.raises(ZeroDivisionError):
        ordered.submit(lambda: 1 / 0).result(timeout=10)
    gate, started = threading.Event(), threading.Event()
    running = ordered.submit(lambda: started.set() or gate.wait(10))
    assert started.wait(10)
    pending = ordered.submit(int, "3")
    ordered.shutdown(wait=False, cancel_futures=True)
    with pytest.raises(CancelledError):
        pending.result(timeout=10)
    gate.set()
    assert running.result(timeout=10) is True
    with pytest.raises(RuntimeError, match="after shutdown"):
        ordered.submit(int, "4")
    inner.shutdown()


def test_a_plain_shutdown_runs_the_pending_calls_first():
    inner = ThreadPoolExecutor(max_workers=1)
    ordered = OrderedExecutor(inner, slots=1)
    gate, started = threading.Event(), threading.Event()
    ordered.submit(lambda: started.set() or gate.wait(10))
    assert started.wait(10)
    pending = [ordered.submit(int, str(n)) for n in range(3)]
    threading.Timer(0.2, gate.set).start()
    ordered.shutdown()                                # waits for them
    assert [f.result(timeout=0) for f in pending] == [0, 1, 2]
    inner.shutdown()


# -- the local pool ------------------------------------------------------------------------------
def _worker_facts() -> tuple:
    return os.getpid(), signal.getsignal(signal.SIGINT) == signal.SIG_IGN


def test_the_pool_runs_calls_in_worker_processes_that_leave_ctrl_c_to_the_cli():
    with pool.local_pool(2) as executor:
        facts = [executor.submit(_worker_facts).result(timeout=60) for _ in range(4)]
    assert all(pid != os.getpid() for pid, _ in facts)
    assert all(ignored for _, ignored in facts)
    assert signal.getsignal(signal.SIGINT) is not signal.SIG_IGN    # restored here


def test_spawned_workers_start_under_ipython_whose_main_module_has_no_spec(monkeypatch):
    # a notebook kernel (or a test run after IPython tests) is multi-threaded, so the pool
    # spawns; IPython's __main__ has no __spec__ attribute, which spawn reads
    import types
    main = types.ModuleType("__main__")
    del main.__spec__
    monkeypatch.setitem(sys.modules, "__main__", main)
    monkeypatch.setattr(threading, "active_count", lambda: 2)
    with pool.local_pool(1) as executor:
        assert executor.submit(_worker_facts).result(timeout=60)[0] != os.getpid()


@pytest.mark.skipif(not LINUX, reason="reads /proc")
def test_an_error_in_the_body_stops_running_workers_at_once():
    start = time.monotonic()
    before = set(_children(os.getpid()))      # e.g. a resource tracker left by a spawned pool
    with pytest.raises(KeyboardInterrupt), pool.local_pool(2) as executor:
        busy = executor.submit(time.sleep, 60)
        pids = [p for p in _children(os.getpid()) if p not in before]
        time.sleep(0.5)
        raise KeyboardInterrupt
    assert time.monotonic() - start < 20
    assert busy.exception(timeout=10) is not None          # its worker was terminated
    assert pids and not any(_alive(p) for p in pids)


def _reproduce_default(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.Popen([sys.executable, "-m", "step_lab.cli", "reproduce", "all", "--quick",
                             "--out", str(tmp_path / "out")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True, preexec_fn=_default_sigint)


def _wait_for_workers(proc, n: int = 2) -> list:
    deadline = time.monotonic() + 60
    while len(_children(proc.pid)) < n:
        assert proc.poll() is None, "reproduce ended early"
        assert time.monotonic() < deadline, "the pool's workers never started"
        time.sleep(0.1)
    time.sleep(3)                      # some points are running
    return _children(proc.pid)


@pytest.mark.slow
@pytest.mark.skipif(not LINUX, reason="process groups, /proc")
def test_ctrl_c_of_the_default_reproduce_ends_in_one_line_and_ends_its_workers(tmp_path):
    proc = _reproduce_default(tmp_path)
    try:
        workers = _wait_for_workers(proc)
        os.killpg(proc.pid, signal.SIGINT)          # what Ctrl-C in a terminal does
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    lines = [ln for ln in err.replace("\r", "\n").splitlines()
             if ln.strip() and not ln.startswith(("[", "step-lab: note:"))]
    assert proc.returncode == 130
    assert lines == ["step-lab: interrupted"], err
    assert "Traceback" not in err
    assert not any(_alive(p) for p in workers)


@pytest.mark.slow
@pytest.mark.skipif(not LINUX, reason="reads /proc")
def test_sigkill_of_the_default_reproduce_ends_its_workers(tmp_path):
    proc = _reproduce_default(tmp_path)
    try:
        workers = _wait_for_workers(proc)
        proc.kill()
        proc.wait(10)
        assert not _outliving(workers, 15), "a worker outlived its parent"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


# -- Fig 17 stage by stage -----------------------------------------------------------------------
def _layers(rows_options=(None,)):
    from step_lab.reproduce.figures.fig17 import MODELS
    from step_lab.workloads.e2e import VARIANTS
    return [{"model": m, "variant": v, "qkv_rows": rows, "kv": "kv.npy", "routing": f"{m}.npz"}
            for m in MODELS.values() for v in VARIANTS for rows in rows_options]


def test_fig17_simulates_each_shared_stage_once():
    from step_lab.reproduce.figures.fig17 import stage_points
    points, where = stage_points(_layers())
    stages = [(p["model"], p["stage"]) for p in points]
    # per model: one QKV stage, two attention stages (interleaved, dynamic), three MoE stages
    assert len(points) == 12
    assert sorted(stages).count(("mixtral-8x7b", "qkv")) == 1
    assert sorted(stages).count(("qwen3-30b-a3b", "attention")) == 2
    assert where[0]["attention"] == where[1]["attention"] != where[2]["attention"]
    assert all("routing" not in p for p in points if p["stage"] != "moe")
    assert all("kv" not in p for p in points if p["stage"] != "attention")
    assert len(stage_points(_layers((None, 1)))[0]) == 14     # + the per-request QKV stages


class _FakeSweep:
    """``ctx.sweep`` answering stage points with made-up numbers (stage 'moe' of Qwen fails)."""

    def __init__(self, fail: bool = False):
        self.fail = fail

    def sweep(self, fn, grid, key=None):
        out = []
        for n, p in enumerate(grid["point"]):
            if self.fail and p["stage"] == "moe" and p["model"] == "qwen3-30b-a3b":
                out.append({"point": p, "error": "BindingError: boom"})
                continue
            out.append({"point": p, "cycles": 1000 * (n + 1), "memory": 10 * (n + 1),
                        "compute": n + 1, "moe_tile": p["options"].get("tile"), "error": None})
        return out


def test_fig17_layer_records_are_the_sums_of_their_stages():
    from step_lab.reproduce.figures.fig17 import _layer_records, stage_points
    layers = _layers()
    points, where = stage_points(layers)
    records = _layer_records(_FakeSweep(), layers)
    for n, rec in enumerate(records):
        idx = where[n]
        assert rec["point"] is layers[n] and rec["error"] is None
        assert rec["stage_cycles"] == {s: 1000 * (i + 1) for s, i in idx.items()}
        assert rec["cycles"] == sum(rec["stage_cycles"].values())
        assert rec["model_cycles"] == rec["cycles"] * rec["layers"]
        assert rec["onchip_memory"] == sum(10 * (i + 1) for i in idx.values())
        assert rec["allocated_compute"] == sum(i + 1 for i in idx.values())
        assert rec["qkv_rows"] == 16 and rec["moe_tile"] == points[idx["moe"]]["options"]["tile"]
    assert [r["attention_strategy"] for r in records[:3]] == ["interleaved"] * 2 + ["dynamic"]


def test_a_failed_stage_fails_its_layers_only():
    from step_lab.reproduce.figures.fig17 import _layer_records
    records = _layer_records(_FakeSweep(fail=True), _layers())
    failed = [r for r in records if r["error"]]
    assert [r["point"]["model"] for r in failed] == ["qwen3-30b-a3b"] * 3
    assert all(r == {"point": r["point"], "error": "BindingError: boom"} for r in failed)
