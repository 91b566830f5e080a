"""The sweep cache cannot lie, and sweep worker processes never outlive their parent (issue 13)."""
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from step_lab.dse import sweep
from step_lab.dse.cache import FORMAT, ResultCache, point_key
from step_lab.errors import ConfigError

GRID = {"x": [1, 2, 3]}
CALLS: list = []


def square(x):
    CALLS.append(x)
    return {"y": x * x}


def run(tmp_path, **kw):
    CALLS.clear()
    return sweep(square, GRID, cache=tmp_path / "c", progress=False, **kw)


def files(tmp_path) -> dict:
    return {p.name: p for p in sorted((tmp_path / "c").glob("*.json"))}


def key_of(x) -> str:
    from step_lab.dse.sweep import _fn_key
    return point_key(_fn_key(square), {"x": x}) + ".json"


def test_a_clean_cache_is_reused_without_recomputing(tmp_path, capsys):
    first = run(tmp_path)
    assert CALLS == [1, 2, 3]
    again = run(tmp_path)
    assert CALLS == [] and again == first
    assert "invalid" not in capsys.readouterr().err


def _tamper(path: Path, change) -> None:
    env = json.loads(path.read_text())
    change(env)
    path.write_text(json.dumps(env))


TAMPERS = {
    "changed digit": lambda env: env["record"].__setitem__("y", env["record"]["y"] + 1),
    "changed key": lambda env: env.__setitem__("key", "0" * 24),
    "changed hash": lambda env: env.__setitem__("sha256", "f" * 64),
    "old format": lambda env: env.__setitem__("format", "step-lab-cache/1"),
    "record not a dict": lambda env: env.__setitem__("record", [1, 2]),
    "missing record": lambda env: env.pop("record"),
}


@pytest.mark.parametrize("name", list(TAMPERS))
def test_a_tampered_record_is_detected_recomputed_and_reported(tmp_path, capsys, name):
    first = run(tmp_path)
    _tamper(files(tmp_path)[key_of(2)], TAMPERS[name])
    again = run(tmp_path)
    assert CALLS == [2] and again == first
    err = capsys.readouterr().err
    assert "1 invalid record(s) ignored and recomputed" in err and key_of(2) in err


@pytest.mark.parametrize("content", ["[1, 2]", "{}", "null", "42", '"text"', "{not json",
                                     "", "\x00\x01binary", '{"y": 4, "x": 2, "error": null}'])
def test_a_foreign_or_corrupt_file_is_recomputed(tmp_path, capsys, content):
    first = run(tmp_path)
    files(tmp_path)[key_of(3)].write_text(content)
    assert run(tmp_path) == first and CALLS == [3]
    assert "invalid record" in capsys.readouterr().err


def test_two_swapped_files_are_both_recomputed(tmp_path, capsys):
    first = run(tmp_path)
    f = files(tmp_path)
    a, b = f[key_of(1)], f[key_of(3)]
    ta, tb = a.read_text(), b.read_text()
    a.write_text(tb)
    b.write_text(ta)
    assert run(tmp_path) == first and sorted(CALLS) == [1, 3]
    assert "swapped" in capsys.readouterr().err


def test_a_record_of_another_point_with_a_valid_envelope_is_rejected(tmp_path):
    run(tmp_path)
    store = ResultCache(tmp_path / "c")
    store.put(key_of(2)[:-5], {"x": 99, "y": 1, "error": None})   # right key, wrong point
    assert run(tmp_path)[1] == {"x": 2, "y": 4, "error": None} and CALLS == [2]


def test_a_record_written_by_put_round_trips_with_its_hash(tmp_path):
    store = ResultCache(tmp_path / "c")
    store.put("k", {"a": 1.5, "b": [1, "x"], "nan": float("nan")})
    env = json.loads((tmp_path / "c" / "k.json").read_text())
    assert env["format"] == FORMAT and env["key"] == "k" and len(env["sha256"]) == 64
    assert store.get("k")["a"] == 1.5 and store.rejected == []


def test_writes_are_atomic_and_leave_no_temporary_files(tmp_path):
    run(tmp_path)
    names = [p.name for p in (tmp_path / "c").iterdir()]
    assert len(names) == 3 and all(n.endswith(".json") for n in names)


def test_a_failed_write_leaves_no_partial_record(tmp_path):
    store = ResultCache(tmp_path / "c")

    class Boom:
        def __str__(self):
            raise RuntimeError("boom")
    with pytest.raises(RuntimeError):
        store.put("k", {"a": Boom()})
    assert list((tmp_path / "c").iterdir()) == []


def test_a_cache_path_naming_a_file_is_a_config_error(tmp_path):
    (tmp_path / "f").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        sweep(square, GRID, cache=tmp_path / "f", progress=False)
    with pytest.raises(ConfigError, match="regular file"):
        sweep(square, GRID, cache=tmp_path / "f" / "sub", progress=False)


def test_two_lambdas_never_share_cache_records(tmp_path):
    a = sweep(lambda x: {"y": x + 1}, GRID, cache=tmp_path, progress=False)
    b = sweep(lambda x: {"y": x * 10}, GRID, cache=tmp_path, progress=False)
    assert [r["y"] for r in a] == [2, 3, 4] and [r["y"] for r in b] == [10, 20, 30]


# -- processes --------------------------------------------------------------------------------
def test_a_lambda_runs_in_worker_processes():
    out = sweep(lambda x: {"y": x * 3}, GRID, jobs=2, progress=False)
    assert [r["y"] for r in out] == [3, 6, 9] and all(r["error"] is None for r in out)


def test_a_local_function_runs_in_worker_processes():
    offset = 5

    def local(x):
        return {"y": x + offset}
    assert [r["y"] for r in sweep(local, GRID, jobs=2, progress=False)] == [6, 7, 8]


def test_a_function_that_cannot_be_shipped_is_a_clear_config_error():
    import threading
    lock = threading.Lock()

    def holds_a_lock(x):
        with lock:
            return {"y": x}
    with pytest.raises(ConfigError, match="cannot be sent to worker processes.*module-level"):
        sweep(holds_a_lock, GRID, jobs=2, progress=False)
    assert [r["y"] for r in sweep(holds_a_lock, GRID, jobs=1, progress=False)] == [1, 2, 3]


PARENT = textwrap.dedent("""
    import os, sys, time
    sys.path.insert(0, {root!r})
    from step_lab.dse import sweep

    def slow(x):
        os.write(1, f"worker {{os.getpid()}}\\n".encode())  # one write: lines never interleave
        time.sleep(120)
        return {{"x": x}}

    if __name__ == "__main__":
        sweep(slow, {{"x": [1, 2, 3, 4]}}, jobs=2, progress=False)
""")


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def _outliving(pids: list, seconds: float) -> list:
    """The processes of ``pids`` still alive after waiting up to ``seconds`` for them to end."""
    deadline = time.monotonic() + seconds
    while any(_alive(p) for p in pids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return [p for p in pids if _alive(p)]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkill_of_a_sweep_parent_ends_its_workers(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(PARENT.format(root=str(Path(__file__).resolve().parents[1])))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    workers, seen = [], []
    try:
        while len(workers) < 2:
            line = proc.stdout.readline()
            seen.append(line)
            assert line, f"the sweep ended before its workers started: {seen}"
            if line.startswith("worker "):
                workers.append(int(line.split()[1]))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        assert not _outliving(workers, 10), "a worker outlived its parent"
    finally:
        for pid in [proc.pid, *workers]:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass


def test_a_worker_watches_its_parent_pid():
    from step_lab.dse.sweep import watch_parent
    root = str(Path(__file__).resolve().parents[1])
    code = (f"import os, sys, time\nsys.path.insert(0, {root!r})\nfrom step_lab.dse.sweep import "
            "watch_parent\nwatch_parent(os.getppid() + 100000)\ntime.sleep(30)\n")
    done = subprocess.run([sys.executable, "-c", code], timeout=20)
    assert done.returncode != 0 and callable(watch_parent)


def _reproduce_jobs_2(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    return subprocess.Popen([sys.executable, "-m", "step_lab.cli", "reproduce", "all", "--quick",
                             "--jobs", "2", "--out", str(tmp_path / "out")],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                            start_new_session=True, preexec_fn=_default_sigint)


def _default_sigint():
    # a background test runner may ignore SIGINT, and children inherit that: restore it
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _children(pid: int) -> list:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def _wait_for_progress(proc) -> str:
    """Wait until the two dask workers (and the resource tracker) run, then a little more."""
    deadline = time.monotonic() + 120
    while len(_children(proc.pid)) < 3:
        assert proc.poll() is None, "reproduce ended early"
        assert time.monotonic() < deadline, "the dask workers never started"
        time.sleep(0.2)
    time.sleep(10)           # past the cluster start-up (Ctrl-C is ignored during it)
    return ""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="process groups")
def test_ctrl_c_of_reproduce_with_dask_workers_ends_in_one_line(tmp_path):
    pytest.importorskip("dask.distributed")
    proc = _reproduce_jobs_2(tmp_path)
    try:
        seen = _wait_for_progress(proc)
        err = None
        for _ in range(6):            # Ctrl-C is ignored during the cluster start-up: press again
            os.killpg(proc.pid, signal.SIGINT)        # what Ctrl-C in a terminal does
            try:
                _, err = proc.communicate(timeout=20)
                break
            except subprocess.TimeoutExpired:
                continue
        assert err is not None, "reproduce did not stop on Ctrl-C"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    err = seen + err
    lines = [ln for ln in err.replace("\r", "\n").splitlines()
             if ln.strip() and not ln.startswith(("[", "step-lab: note:"))]  # bars, notes aside
    assert proc.returncode == 130
    assert lines == ["step-lab: interrupted"], err
    assert "Traceback" not in err and "distributed" not in err


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_sigkill_of_reproduce_ends_its_dask_workers(tmp_path):
    pytest.importorskip("dask.distributed")
    proc = _reproduce_jobs_2(tmp_path)
    try:
        _wait_for_progress(proc)
        children = _children(proc.pid)
        assert len(children) >= 2
        proc.kill()
        proc.wait(10)
        deadline = time.monotonic() + 15
        while any(_alive(int(c)) for c in children) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not any(_alive(int(c)) for c in children), "a dask worker outlived its parent"
    finally:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def test_a_busy_dashboard_port_prints_no_warning():
    """``--jobs 2`` starts a LocalCluster without a dashboard: port 8787 held by another
    cluster (or JupyterLab's dask extension) must not print distributed's UserWarning."""
    pytest.importorskip("dask.distributed")
    import socket
    import warnings

    from step_lab.cli import _executor
    holder = socket.socket()
    holder.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        holder.bind(("", 8787))
        holder.listen()
    except OSError:
        pass                                    # already busy: the same situation
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            with _executor(None, 2) as (client, _):
                assert client.submit(sum, [1, 2]).result(timeout=60) == 3
        assert not [w for w in caught if "8787" in str(w.message)]
    finally:
        holder.close()
