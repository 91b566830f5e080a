"""Progress bars (step_lab.progress_bar, tqdm.auto): a bar on a terminal with counts and rate,
nothing in a log file, owned bars closed; ``import step_lab`` does not import tqdm."""
import io
import subprocess
import sys

import pytest

import step_lab as sl
from step_lab import fn, ops
from step_lab.dse import sweep
from step_lab.progress_bar import NoBar, progress_bar

pytest.importorskip("tqdm")


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def square(x):
    return {"y": x * x}


def test_a_disabled_bar_is_a_no_op():
    bar = progress_bar(3, "x", enabled=False)
    assert isinstance(bar, NoBar)
    bar.update(2)
    bar.close()
    assert bar.n == 2


def test_a_sweep_draws_a_bar_with_counts_and_rate_on_a_terminal(monkeypatch):
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    recs = sweep(square, {"x": [1, 2, 3]}, desc="squares")
    assert [r["y"] for r in recs] == [1, 4, 9]
    text = term.getvalue()
    assert "squares" in text and "3/3" in text and "point/s" in text and "100%" in text


def test_a_sweep_writes_nothing_when_stderr_is_a_log_file(monkeypatch):
    log = io.StringIO()                      # not a TTY
    monkeypatch.setattr(sys, "stderr", log)
    sweep(square, {"x": [1, 2, 3]})
    assert log.getvalue() == ""


def test_a_fully_cached_sweep_draws_no_bar(monkeypatch, tmp_path):
    sweep(square, {"x": [1, 2]}, cache=tmp_path, progress=False)
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    sweep(square, {"x": [1, 2]}, cache=tmp_path)
    assert term.getvalue() == ""


def _copy_program():
    prog = sl.Program("copy")
    X = prog.tensor("X", (64, 64), "f32")
    ops.LinearOffChipStore(ops.Map(ops.LinearOffChipLoad(X, tile=(8, 64)), fn.Exp(),
                                   compute_bw=64), "Y")
    return prog


def test_simulate_progress_true_shows_and_closes_its_own_bar(monkeypatch):
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    result = sl.simulate(_copy_program(), progress=True)
    assert result.cycles > 0
    text = term.getvalue()
    assert "simulate copy" in text and "100%" in text and "token" in text
    assert text.endswith("\n")                # closed: the line is finished


def test_simulate_progress_false_is_no_bar(monkeypatch):
    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    sl.simulate(_copy_program(), progress=False)
    assert term.getvalue() == ""


def test_import_step_lab_does_not_import_tqdm():
    code = "import sys, step_lab; assert 'tqdm' not in sys.modules, 'tqdm imported'"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
