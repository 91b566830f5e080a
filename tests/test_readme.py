"""The README as a newcomer reads it: its first code block names the commands, every Python and
``%%step`` block runs as written (the ``%%step`` ones in an IPython shell with ``%load_ext
step_lab``), and its example program prints what its comments say."""
import contextlib
import io
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def _blocks(lang: str) -> list[str]:
    return re.findall(rf"```{lang}\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_readme_python_example_runs_and_its_comments_are_true():
    code = _blocks("python")[0]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    printed = out.getvalue().splitlines()
    assert printed[0] == "263680*B"
    assert printed[1].startswith("{'offchip_traffic': 16875520")


def test_readme_holds_the_two_setup_commands_that_ci_runs():
    text = README.read_text()
    assert "./run demo" in text and "./run test" in text
    ci = (README.parent / ".ci" / "run").read_text()
    assert "./run test" in ci


def test_the_first_code_block_names_demo_lab_and_test():
    first = _blocks("bash")[0]
    commands = [line.split("#")[0].strip() for line in first.splitlines() if line.strip()]
    assert commands == ["./run demo", "./run lab", "./run test"]


def test_no_python_block_of_the_readme_elides_code():
    for block in _blocks("python"):
        assert not re.search(r"^\s*\.\.\.\s*$", block, re.M), block


def test_every_python_and_step_block_of_the_readme_runs_in_ipython_as_written():
    pytest.importorskip("IPython")
    pytest.importorskip("ipywidgets")
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output

    import step_lab as sl

    blocks = _blocks("python")
    assert any(b.startswith("%%step") for b in blocks)
    assert any(b.startswith("%load_ext step_lab") for b in blocks)
    ip = InteractiveShell.instance()
    ip.reset(new_session=False)
    try:
        for block in blocks:
            if block.startswith("%load_ext step_lab"):
                ip.run_line_magic("load_ext", "step_lab")
                ip.magics_manager.registry["StepMagics"].background = False
            with capture_output() as cap:
                result = ip.run_cell(block)
            assert result.success, f"README block failed:\n{block}\n{cap.stderr}"
            assert "Error" not in cap.stderr, cap.stderr
        assert isinstance(ip.user_ns["gemm"], sl.Program)
        sim = ip.user_ns["gemm_result"]
        assert sim is not None and sim.cycles > 0
        expected = sl.metrics(ip.user_ns["gemm"]).evaluate({"M": 256})["offchip_traffic"]
        assert sim.offchip_bytes == expected == 851_968
    finally:
        ip.magics_manager.registry["StepMagics"].background = True
        ip.reset(new_session=False)


def test_the_readme_reproduce_command_writes_only_under_out(tmp_path, monkeypatch):
    from step_lab.cli import REPRODUCE_OUT, main
    block = next(b for b in _blocks("bash") if "reproduce" in b)
    argv = block.split("#")[0].split()
    assert argv[0] == ".venv/bin/step-lab" and "--out" not in argv
    assert REPRODUCE_OUT == "out/reproduce"
    assert "out/" in (ROOT / ".gitignore").read_text().splitlines()
    monkeypatch.chdir(tmp_path)
    assert main(["reproduce", "fig13", "--quick"]) == 0       # same defaults, a fast figure
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["out/reproduce/fig13.html", "out/reproduce/fig13.json"]
