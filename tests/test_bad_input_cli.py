"""Bad input to the `step-lab` command line: one line on stderr, no traceback (issue 13).

User mistakes (arguments, paths, the user's script) exit 2 with ``step-lab: error: …``; a
StepError raised by a run exits 1 with the same one-line prefix. Paths are checked before any
computation.
"""
import subprocess
import sys
from pathlib import Path

import pytest

from step_lab.cli import main

ROOT = Path(__file__).resolve().parents[1]


def cli(*argv, cwd=None):
    import os
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("STEP_LAB_DEBUG", None)
    return subprocess.run([sys.executable, "-m", "step_lab.cli", *map(str, argv)],
                          capture_output=True, text=True, timeout=120, cwd=cwd, env=env)


def one_line(done, code: int, *words):
    assert done.returncode == code, done.stderr
    assert "Traceback" not in done.stderr
    lines = [ln for ln in done.stderr.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("step-lab: error:"), lines[0]
    for w in words:
        assert w in lines[0], (w, lines[0])
    return lines[0]


PROGRAM = ("import step_lab as sl\nfrom step_lab import ops\nprog = sl.Program('p')\n"
           "X = prog.tensor('X', (sl.dim('B'), 64), 'f32')\n"
           "prog.output('o', ops.LinearOffChipLoad(X, tile=(1, 64)))\n")

SCRIPTS = {
    "syntax": ("x = (\n", "SyntaxError"),
    "name": ("import step_lab\nprog = undefined_name\n", "NameError"),
    "zero": ("prog = 1 / 0\n", "ZeroDivisionError"),
    "import": ("import no_such_module_xyz\n", "ModuleNotFoundError"),
    "type": ("prog = len(5)\n", "TypeError"),
    "indent": ("if True:\nprog = 1\n", "IndentationError"),
    "build": ("def build():\n    return {}['missing']\n", "KeyError"),
    "noprog": ("x = 1\n", "defines no Program"),
    "notprog": ("prog = 42\n", "defines no Program"),
}


@pytest.mark.parametrize("name", list(SCRIPTS))
def test_a_broken_script_is_a_one_line_usage_error(tmp_path, name):
    body, word = SCRIPTS[name]
    src = tmp_path / f"{name}.py"
    src.write_text(body)
    one_line(cli("simulate", src), 2, word, f"{name}.py")


RUN_ERRORS = {
    "negative": ("bindings = {'B': -4}\n", "BindingError", "negative"),
    "float": ("bindings = {'B': 2.5}\n", "BindingError", "float"),
    "string": ("bindings = {'B': 'four'}\n", "BindingError", "'four'"),
    "none": ("bindings = {'B': None}\n", "BindingError", "None"),
    "typo": ("bindings = {'b': 2}\n", "BindingError", "did you mean 'B'"),
    "huge": ("bindings = {'B': 10**12}\n", "ConfigError", "max_events"),
    "unbound": ("", "BindingError", "'B'"),
    "strings": ("import numpy as np\nbindings = {'B': 2}\n"
                "inputs = {'X': np.full((2, 64), 'a')}\n", "InputError", "strings"),
    "shape": ("import numpy as np\nbindings = {'B': 2}\ninputs = {'X': np.zeros((3, 64))}\n",
              "InputError", "(3, 64)"),
}


@pytest.mark.parametrize("name", list(RUN_ERRORS))
def test_a_run_error_exits_1_in_one_line(tmp_path, name):
    extra, cls, word = RUN_ERRORS[name]
    src = tmp_path / "prog.py"
    src.write_text(PROGRAM + extra)
    one_line(cli("simulate", src), 1, cls, word)


@pytest.mark.parametrize("path, word", [("missing.py", "does not exist"),
                                        ("data.txt", "not a .py file"),
                                        ("folder", "does not exist")])
def test_a_bad_simulate_path_is_a_usage_error(tmp_path, path, word):
    (tmp_path / "data.txt").write_text("x")
    (tmp_path / "folder").mkdir()
    one_line(cli("simulate", tmp_path / path), 2, word)


@pytest.mark.parametrize("address, word", [
    ("notaurl", "not a dask scheduler address"),
    ("http://127.0.0.1:1", "not a dask scheduler address"),
    ("tcp://127.0.0.1:99999", "not a dask scheduler address"),
    ("tcp://", "not a dask scheduler address"),
    ("127.0.0.1", "not a dask scheduler address"),
    ("tcp://host name:80", "not a dask scheduler address"),
    ("", "not a dask scheduler address"),
])
def test_a_malformed_scheduler_address_is_a_usage_error(address, word):
    one_line(cli("reproduce", "fig9", "--scheduler", address), 2, "--scheduler", word)


def _tree(tmp_path):
    (tmp_path / "afile").write_text("x")
    return tmp_path


@pytest.mark.parametrize("argv, words", [
    (["reproduce", "fig9", "--quick", "--out", "afile/sub"], ["--out", "regular file"]),
    (["reproduce", "fig9", "--quick", "--out", "afile"], ["--out", "is a file"]),
    (["reproduce", "fig9", "--quick", "--out", "afile/a/b/c"], ["--out", "regular file"]),
    (["reproduce", "fig9", "--quick", "--cache", "afile"], ["--cache", "is a file"]),
    (["reproduce", "fig9", "--quick", "--cache", "afile/c"], ["--cache", "regular file"]),
    (["reproduce", "fig9", "--quick", "--out", "/proc/step-lab-x"], ["--out", "not writable"]),
    (["reproduce", "fig9", "--quick", "--cache", "/proc/step-lab-x"],
     ["--cache", "not writable"]),
    (["demo", "--out", "afile/sub"], ["--out", "regular file"]),
    (["demo", "--out", "afile"], ["--out", "is a file"]),
    (["demo", "--out", "/proc/step-lab-x"], ["--out", "not writable"]),
    (["reproduction", "--quick-dir", ".", "--output", "afile/x.md"],
     ["--output", "not a writable file path"]),
    (["reproduction", "--quick-dir", ".", "--output", "."], ["--output", "not a writable"]),
    (["reproduce", "fig9", "--jobs", "-1"], ["--jobs -1"]),
    (["reproduce", "fig9", "--jobs", "two"], ["--jobs"]),
    (["reproduce", "fig99"], ["unknown figure"]),
    (["simulate"], ["file"]),
])
def test_bad_paths_and_arguments_fail_before_any_computation(tmp_path, argv, words):
    done = cli(*argv, cwd=_tree(tmp_path))
    one_line(done, 2, *words)
    assert done.stdout == ""                     # nothing ran, nothing was reported done
    out = tmp_path / "reproduction"
    assert not out.exists() or not any(out.iterdir())     # no result was written


def test_the_output_folder_check_happens_before_the_sweep(tmp_path, capsys):
    _tree(tmp_path)
    code = main(["reproduce", "fig9", "--quick", "--out", str(tmp_path / "afile" / "x")])
    err = capsys.readouterr().err
    assert code == 2 and "[" not in err           # no progress bar: nothing was computed


def test_an_unwritable_report_output_is_one_line(tmp_path, monkeypatch):
    import step_lab.cli as cli_mod

    def boom(*a, **k):
        raise PermissionError(13, "Permission denied", str(tmp_path / "x.md"))
    monkeypatch.setattr(cli_mod.Path, "write_text", boom)
    (tmp_path / "q").mkdir()
    code = main(["reproduction", "--quick-dir", str(tmp_path / "q"), "--output",
                 str(tmp_path / "x.md")])
    assert code == 2


def test_an_unexpected_internal_error_is_one_line_without_traceback(monkeypatch, capsys):
    import step_lab.cli as cli_mod

    def broken(args):
        raise RuntimeError("unexpected\nsecond line")
    monkeypatch.setitem(cli_mod._COMMANDS, "demo", broken)
    assert main(["demo"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "internal RuntimeError: unexpected | second line" in err[0]


@pytest.mark.parametrize("report, word", [("afile/r.html", "is a file"),
                                          ("/proc/x/r.html", "not writable"),
                                          ("r.txt", "not an .html file")])
def test_a_bad_simulate_report_path_fails_before_simulating(tmp_path, report, word):
    _tree(tmp_path)
    (tmp_path / "prog.py").write_text(PROGRAM + "bindings = {'B': 2}\n")
    done = cli("simulate", "prog.py", "--report", report, cwd=tmp_path)
    one_line(done, 2, "--report", word)
    assert done.stdout == ""
