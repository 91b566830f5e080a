"""The `step-lab` command line: demo report, simulate FILE, bad arguments exit 2 in one line."""
import json
import re
import subprocess
import sys

import pytest

from step_lab.cli import main


def test_demo_writes_a_self_contained_report_and_json(tmp_path):
    assert main(["demo", "--out", str(tmp_path)]) == 0
    data = json.loads((tmp_path / "report.json").read_text())
    tilings = [p["tiling"] for p in data["points"]]
    assert tilings.count("dynamic") == 1 and tilings.count("static") == 4
    assert data["active_experts"] == 60 and data["max_tokens_per_expert"] == 42
    assert 1.8 < data["pid_dynamic"] < 2.4            # the paper reports 2.11 (Fig 9, Qwen)
    html = (tmp_path / "report.html").read_text()
    assert html.count("<svg") >= 2                     # the Pareto plot and the graph
    external = r"""<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*["']?(https?:)?//"""
    assert not re.search(external, html)               # nothing loaded from the network
    assert "step-lab-why" in html and "roofline" in html and "×128" in html
    assert html.count("data-step-player") == 1 and "aria-label='play'" in html
    assert "class='step-lab-bokehjs'" in html         # the player's BokehJS, INLINE
    assert "static tile 32" in html and "dynamic tiling" in html


def test_simulate_report_writes_a_page_with_the_player(tmp_path, capsys):
    src = tmp_path / "moe.py"
    src.write_text("from step_lab.workloads import simplified_moe\n"
                   "prog = simplified_moe(tokens=16, experts=4, tiling='dynamic')\n")
    out = tmp_path / "sub" / "moe.html"
    assert main(["simulate", str(src), "--report", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "cycles" in printed and f"wrote {out}" in printed
    page = out.read_text()
    assert "data-step-player" in page and "data-frame='1'" in page
    assert "aria-label='play'" in page and "class='step-lab-bokehjs'" in page
    assert "<td>cycles</td>" in page and "<td>off-chip traffic</td>" in page
    assert "offchip_bytes" not in page.split("<table", 1)[1].split("</table>", 1)[0]
    assert "Why is it slow?" in page                    # the same views as workload reports
    external = r"""<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*["']?(https?:)?//"""
    assert not re.search(external, page)


def test_simulate_prints_the_summary(tmp_path, capsys):
    src = tmp_path / "moe.py"
    src.write_text("from step_lab.workloads import simplified_moe\n"
                   "prog = simplified_moe(tokens=16, experts=4, tiling='dynamic')\n")
    assert main(["simulate", str(src)]) == 0
    assert "cycles" in capsys.readouterr().out


def test_simulate_runs_a_program_file_and_prints_json(tmp_path, capsys):
    src = tmp_path / "prog.py"
    src.write_text(
        "import step_lab as sl\nfrom step_lab import ops, fn\n"
        "prog = sl.Program('copy')\nX = prog.tensor('X', (64, 64), 'f32')\n"
        "ops.LinearOffChipStore(ops.Map(ops.LinearOffChipLoad(X, tile=(8, 64)), fn.Exp(),"
        " compute_bw=64), 'Y')\n")
    assert main(["simulate", str(src), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["offchip_bytes"] == 2 * 64 * 64 * 4 and out["cycles"] > 0


@pytest.mark.parametrize("argv, message", [
    ([], "missing COMMAND"),
    (["reproduce", "fig99"], "unknown figure 'fig99'"),
    (["demo", "--hw", "papr"], "did you mean 'paper'"),
    (["simulate", "/nonexistent.py"], "does not exist"),
    (["simulate", __file__, "--report", "out.txt"], "not an .html file name"),
    (["reproduce", "fig9", "--jobs", "0"], "--jobs 0"),
    (["frobnicate"], "invalid choice"),
])
def test_bad_arguments_exit_2_with_one_line(argv, message):
    done = subprocess.run([sys.executable, "-m", "step_lab.cli", *argv], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], done.stderr


def test_a_program_error_exits_1_with_the_error_named(tmp_path):
    src = tmp_path / "bad.py"
    src.write_text("import step_lab as sl\nprog = sl.Program('p')\n"
                   "X = prog.tensor('X', (sl.dim('B'), 64), 'f32')\n"
                   "from step_lab import ops\nops.LinearOffChipStore("
                   "ops.LinearOffChipLoad(X, tile=(1, 64)), 'Y')\n")
    done = subprocess.run([sys.executable, "-m", "step_lab.cli", "simulate", str(src)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1
    assert "BindingError" in done.stderr and "'B'" in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unreachable_dask_scheduler_is_a_one_line_usage_error():
    done = subprocess.run([sys.executable, "-m", "step_lab.cli", "reproduce", "all",
                           "--scheduler", "tcp://127.0.0.1:9"], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stderr
    assert "unreachable" in done.stderr.strip().splitlines()[-1]
