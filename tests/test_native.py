"""The compiled simulator core (step_lab/native.py): loaded only when up to date, identical to
the pure-Python reference, and never required."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import step_lab as sl
from step_lab import native

ROOT = Path(__file__).resolve().parents[1]
BUILT = native._usable(native.BUILD_DIR)[0] is not None
needs_build = pytest.mark.skipif(not BUILT, reason="no compiled build (./run setup makes one; "
                                                   "needs gcc and mypy's mypyc)")


def _run(code: str, **env: str) -> str:
    full = {**os.environ, **env}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=full, cwd=ROOT, check=True)
    return done.stdout.strip()


PROBE = ("import step_lab, step_lab.sim.engine as e; "
         "print(step_lab.native.status()); print(e.__file__)")


def test_ci_runs_the_compiled_core():
    """`./run test` builds the core before the tests: in CI the suite must exercise it."""
    if not os.environ.get("CI"):
        pytest.skip("outside CI a missing build is allowed (pure Python)")
    assert native.active(), native.status()


@needs_build
def test_the_compiled_modules_load_and_STEP_LAB_NATIVE_0_runs_the_sources():
    status, engine = _run(PROBE, STEP_LAB_NATIVE="1").splitlines()   # whatever the caller's
    assert status == "compiled (mypyc)" and engine.endswith(native._platform()["ext_suffix"])
    status, engine = _run(PROBE, STEP_LAB_NATIVE="0").splitlines()
    assert status == "pure Python (STEP_LAB_NATIVE=0)" and engine.endswith("engine.py")


@needs_build
def test_compiled_and_pure_simulations_are_identical(tmp_path):
    """tools/sim_fingerprint.py (26 simulations: cycles, per-node and per-channel statistics,
    every FIFO and HBM event of the trace, output arrays) under both."""
    files = {}
    for flag in ("1", "0"):
        out = tmp_path / f"fp{flag}.json"
        subprocess.run([sys.executable, str(ROOT / "tools" / "sim_fingerprint.py"), str(out)],
                       env={**os.environ, "STEP_LAB_NATIVE": flag, "PYTHONPATH": str(ROOT)},
                       cwd=ROOT, check=True, capture_output=True)
        files[flag] = json.loads(out.read_text())
    assert len(files["1"]) >= 20
    differ = [k for k in files["0"] if files["0"][k] != files["1"].get(k)]
    assert not differ, differ


def _copy_build(tmp_path: Path) -> Path:
    dest = tmp_path / "_compiled"
    shutil.copytree(native.BUILD_DIR, dest)
    return dest


@needs_build
def test_a_build_older_than_its_sources_is_not_loaded(tmp_path):
    dest = _copy_build(tmp_path)
    assert native._usable(dest)[0] is not None
    meta = json.loads((dest / native.MANIFEST).read_text())
    source = "step_lab/sim/engine.py"
    meta["sources"][source] = "0" * 64                 # as if engine.py changed since
    (dest / native.MANIFEST).write_text(json.dumps(meta))
    files, why = native._usable(dest)
    assert files is None and source in why and "./run setup" in why
    # an edited module that the compiled ones only import counts too
    assert "step_lab/ir/node.py" in meta["sources"]


@needs_build
def test_a_build_for_another_python_or_incomplete_is_not_loaded(tmp_path):
    dest = _copy_build(tmp_path)
    meta = json.loads((dest / native.MANIFEST).read_text())
    meta["platform"]["python"] = "3.99.0"
    (dest / native.MANIFEST).write_text(json.dumps(meta))
    assert "another Python" in native._usable(dest)[1]
    dest = tmp_path / "b"
    shutil.copytree(native.BUILD_DIR, dest)
    meta = json.loads((dest / native.MANIFEST).read_text())
    (dest / meta["modules"]["step_lab.sim.ports"]).unlink()
    assert "incomplete" in native._usable(dest)[1]


def test_no_build_means_pure_python(tmp_path):
    files, why = native._usable(tmp_path / "nothing")
    assert files is None and "./run setup" in why


@needs_build
def test_building_again_is_a_no_op_when_up_to_date(tmp_path):
    dest = _copy_build(tmp_path)
    stamp = (dest / native.MANIFEST).stat().st_mtime_ns
    assert "up to date" in native.build(dest)
    assert (dest / native.MANIFEST).stat().st_mtime_ns == stamp


def test_a_failed_build_says_the_simulator_stays_pure_python(monkeypatch, capsys):
    def fail(*a, **k):
        raise RuntimeError("mypyc failed (exit 1):\nstep_lab/sim/x.py:1: error: boom")
    monkeypatch.setattr(native, "build", fail)
    assert native.main(["build"]) == 1
    err = capsys.readouterr().err
    assert "stays pure Python" in err and "x.py:1: error: boom" in err
    assert native.main(["nonsense"]) == 2


def test_the_dependency_closure_covers_what_the_compiled_modules_import():
    deps = native.dependencies()
    assert set(native.COMPILED) <= set(deps)
    for module in ("step_lab.ir.node", "step_lab.errors", "step_lab.hw.config"):
        assert module in deps
    assert all(m.startswith("step_lab") for m in deps)


def test_status_is_a_sentence_either_way():
    assert sl.native.status() == "compiled (mypyc)" or sl.native.status().startswith(
        "pure Python")


@pytest.mark.parametrize("text", ['{"platform": {}}', "[]", '{"platform": 1, "sources": 2}',
                                  "not json"])
def test_a_malformed_manifest_means_no_build_not_a_broken_import(tmp_path, text):
    (tmp_path / native.MANIFEST).write_text(text)
    files, why = native._usable(tmp_path)
    assert files is None and "no compiled build" in why


def test_a_failed_build_is_not_retried_for_the_same_sources(tmp_path, monkeypatch, capsys):
    dest = tmp_path / "_compiled"
    monkeypatch.setattr(native, "BUILD_DIR", dest)

    def fail(*a, **k):
        raise OSError("disk full")
    monkeypatch.setattr(native, "build", fail)
    assert native.main(["fresh"]) == 1                     # nothing built, nothing failed
    assert native.main(["build"]) == 1 and "disk full" in capsys.readouterr().err
    assert native.main(["fresh"]) == 3                     # ./run setup: say so, don't retry
    stamp = tmp_path / "_compiled.failed"
    stamp.write_text(json.dumps({"step_lab/sim/engine.py": "0" * 64}))  # sources changed since
    assert native.main(["fresh"]) == 1
