"""The tutorials: sources and notebooks agree, every notebook runs top to bottom, every solution
passes its check, and ``step_lab.tutor.check`` diagnoses right and wrong answers precisely."""
import importlib.util
import json
import os
import sys
import tempfile
from contextlib import contextmanager
from functools import cache
from pathlib import Path

import numpy as np
import pytest
import sympy

import step_lab as sl
from step_lab import fn, ops
from step_lab.errors import ConfigError
from step_lab.tutor import Feedback, Wrong, check, describe, exercises, parse_tokens, show, table

ROOT = Path(__file__).resolve().parents[1]
TUTORIALS = ROOT / "tutorials"
NOTEBOOKS = sorted(TUTORIALS.glob("[0-9][0-9]_*.ipynb"))


def _build_module():
    spec = importlib.util.spec_from_file_location("tutorials_build", TUTORIALS / "_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- sources and notebooks -----------------------------------------------------------------------
def test_every_tutorial_source_has_an_up_to_date_notebook_without_outputs():
    build = _build_module()
    targets = build.targets()
    assert len(targets) == 9
    for src, dst in targets.items():
        assert dst.exists(), f"{dst.name} is missing: run python tutorials/_build.py"
        assert dst.read_text(encoding="utf-8") == build.notebook(src), \
            f"{dst.name} differs from {src.name}: run python tutorials/_build.py"


def test_every_notebook_is_valid_nbformat_4_with_a_python3_kernel():
    nbformat = pytest.importorskip("nbformat")
    for path in NOTEBOOKS:
        nb = nbformat.read(path, as_version=4)
        nbformat.validate(nb)
        assert nb.metadata.kernelspec.name == "python3"
        assert all(not c.get("outputs") for c in nb.cells if c.cell_type == "code")


def test_the_builder_turns_percent_cells_into_markdown_code_solution_and_magic_cells():
    build = _build_module()
    cells = build.parse('"""doc"""\n# %% [markdown]\n# # Title\n#\n# text\n\n# %%\nx = 1\n'
                        '# %% solution\ncheck("a", 1)\n# %%\n#%%step demo\ny = 2\n')
    assert [c["cell_type"] for c in cells] == ["markdown", "code", "code", "code"]
    assert cells[0]["source"] == "# Title\n\ntext"
    assert cells[2]["metadata"] == {"jupyter": {"source_hidden": True}, "tags": ["solution"]}
    assert cells[2]["source"] == '%%solution\ncheck("a", 1)'          # Run All does not run it
    assert cells[3]["source"] == "%%step demo\ny = 2"
    with pytest.raises(ValueError, match="not a comment"):
        build.parse("# %% [markdown]\nplain text\n")


def test_the_readme_lists_every_tutorial():
    readme = (TUTORIALS / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS:
        assert path.name in readme, f"tutorials/README.md does not link {path.name}"


# -- executing the notebooks ---------------------------------------------------------------------
@cache
def _kernel_path() -> str:
    """A JUPYTER_PATH entry whose ``python3`` kernelspec runs this very interpreter.

    JUPYTER_PATH is searched before the user's and the environment's kernel folders, so a
    ``python3`` kernel registered elsewhere (another Python) can never be picked up.
    """
    root = Path(tempfile.mkdtemp(prefix="step_lab_kernels_"))
    spec = root / "kernels" / "python3"
    spec.mkdir(parents=True)
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Python 3 (tests)", "language": "python"}))
    return str(root)


@cache
def executed(path: Path, run_solutions: bool = False):
    """Run a notebook once in a fresh ``python3`` kernel of this interpreter on this checkout
    (PYTHONPATH makes the kernel import this tree of step_lab, installed or not), top to bottom
    as *Run All* does; ``run_solutions``: as a learner who asks for every solution
    (``%%solution --run``)."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(path, as_version=4)
    if run_solutions:
        for cell in nb.cells:
            if "solution" in cell.metadata.get("tags", []):
                assert cell.source.startswith("%%solution\n"), cell.source[:60]
                cell.source = cell.source.replace("%%solution", "%%solution --run", 1)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}
    with _test_kernel():
        nbclient.NotebookClient(nb, kernel_name="python3", timeout=300,
                                resources={"metadata": {"path": str(TUTORIALS)}}).execute(env=env)
    return nb


@contextmanager
def _test_kernel():
    """Put :func:`_kernel_path` first on JUPYTER_PATH while kernels are looked up."""
    saved = os.environ.get("JUPYTER_PATH")
    os.environ["JUPYTER_PATH"] = os.pathsep.join(filter(None, [_kernel_path(), saved]))
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("JUPYTER_PATH", None)
        else:
            os.environ["JUPYTER_PATH"] = saved


def test_the_test_kernel_runs_this_interpreter():
    kernelspec = pytest.importorskip("jupyter_client.kernelspec")
    with _test_kernel():
        spec = kernelspec.KernelSpecManager().get_kernel_spec("python3")
    assert spec.argv[0] == sys.executable


def _text(cell) -> str:
    parts = []
    for out in cell.get("outputs", []):
        parts.append(out.get("text", ""))
        parts.append(out.get("data", {}).get("text/plain", ""))
    return "".join(parts)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_the_tutorial_runs_top_to_bottom_without_errors(path):
    nb = executed(path)
    for cell in nb.cells:
        if cell.cell_type == "code":
            errors = [o for o in cell.outputs if o.output_type == "error"]
            assert not errors, (f"{path.name}: cell {cell.source[:70]!r} raised "
                                f"{errors[0].ename}: {errors[0].evalue}")


def _solutions(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"
            and "solution" in c.metadata.get("tags", [])]


def _exercise_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code" and "check(" in c.source
            and "solution" not in c.metadata.get("tags", [])]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_run_all_reveals_no_solution_and_no_exercise_reports_correct(path):
    nb = executed(path)
    solutions = _solutions(nb)
    assert solutions, f"{path.name} has no exercise solution"
    assert _exercise_cells(nb)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert "✔ correct" not in _text(cell).lower(), \
                f"{path.name}: Run All reports a correct answer in {cell.source[:60]!r}"
    for cell in solutions:
        assert cell.source.startswith("%%solution\n"), f"{path.name}: {cell.source[:60]!r}"
        body = cell.source.split("\n", 1)[1].strip().splitlines()[-1]
        assert body not in _text(cell), f"{path.name}: the solution's code is printed"
        assert "Solution hidden (not run)" in _text(cell)
    for cell in _exercise_cells(nb):
        verdict = _text(cell).lower()                     # a placeholder or an empty stub
        assert "no answer yet" in verdict or "✘ not yet" in verdict, \
            f"{path.name}: exercise {cell.source[:60]!r} does not start unanswered"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_solution_when_asked_for_passes_its_check(path):
    nb = executed(path, run_solutions=True)
    for cell in nb.cells:
        if cell.cell_type == "code":
            errors = [o for o in cell.outputs if o.output_type == "error"]
            assert not errors, (f"{path.name}: cell {cell.source[:70]!r} raised "
                                f"{errors[0].ename}: {errors[0].evalue}")
    for cell in _solutions(nb):
        assert "✔ correct" in _text(cell), f"{path.name}: solution {cell.source[:60]!r} failed"
    for cell in _exercise_cells(nb):
        assert "✔ correct" not in _text(cell), f"{path.name}: an exercise cell is pre-solved"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_every_tutorial_has_a_widget_driven_what_if_section(path):
    nb = executed(path)
    widget = "application/vnd.jupyter.widget-view+json"
    shown = [c for c in nb.cells if c.cell_type == "code"
             and any(widget in o.get("data", {}) for o in c.outputs)]
    assert shown, f"{path.name} displays no widget"
    assert any(c.cell_type == "markdown" and "What if" in c.source for c in nb.cells)


def test_the_operators_tutorial_draws_the_program_as_svg():
    nb = executed(TUTORIALS / "03_operators.ipynb")
    svgs = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
            if "image/svg+xml" in o.get("data", {})]
    assert svgs, "no program graph was rendered"


# -- tutor.check: the feedback object ------------------------------------------------------------
def test_an_unanswered_exercise_says_so_and_repeats_the_task():
    for placeholder in (None, ...):
        fb = check("01.encode", placeholder)
        assert fb.status == "unanswered" and not fb
        assert "rank-2 stream" in fb.message


def test_feedback_is_truthy_only_when_correct_and_renders_as_html():
    fb = check("01.encode", "1 2 S1 3 S2 4 S1 5 6 S2 7 S2 Done")
    assert fb and fb.ok and isinstance(fb, Feedback)
    assert "✔" in str(fb) and "Correct" in fb._repr_html_()
    bad = check("01.encode", "1 Done")
    assert not bad and "Not yet" in bad._repr_html_()


def test_an_unknown_exercise_id_raises_with_a_suggestion():
    with pytest.raises(ConfigError, match="did you mean '01.encode'"):
        check("01.encdoe", "1 Done")


def test_every_exercise_is_listed_and_described():
    ids = [i for i, _ in exercises()]
    assert ids[0] == "01.encode" and ids[-1] == "09.silu_gemm" and len(ids) == len(set(ids))
    assert all(i in describe(i) for i in ids)


def test_a_checker_crash_is_reported_as_a_wrong_answer_not_raised():
    fb = check("03.sumsq", 42)
    assert fb.status == "wrong" and "Program" in fb.message


def test_tokens_print_and_parse_in_the_paper_notation():
    tokens = parse_tokens("1 2.5 S1 T F S2 Done")
    assert tokens == [1, 2.5, sl.S(1), True, False, sl.S(2), sl.DONE]
    assert show([np.array([[3.0]]), frozenset({0, 2}), sl.S(1), sl.DONE]) == "3 {0,2} S1 Done"
    with pytest.raises(Wrong, match="not a token"):
        parse_tokens("1 X Done")
    with pytest.raises(Wrong, match="S0 does not exist"):
        parse_tokens("1 S0 Done")


def test_table_formats_rows_as_markdown():
    text = table([{"a": 1234, "b": 0.12345, "c": "x"}])
    assert text.splitlines() == ["| a | b | c |", "|---|---|---|", "| 1,234 | 0.123 | x |"]


# -- tutor.check: each exercise, right and wrong -------------------------------------------------
def _wrong(exercise: str, answer) -> str:
    fb = check(exercise, answer)
    assert fb.status == "wrong", f"{exercise}: {answer!r} was accepted"
    return fb.message


def test_01_encode_accepts_strings_and_token_lists():
    assert check("01.encode", [1, 2, sl.S(1), 3, sl.S(2), 4, sl.S(1), 5, 6, sl.S(2), 7, sl.S(2),
                               sl.DONE])


def test_01_encode_names_rule_e2_e3_e4_and_the_first_wrong_token():
    assert "rule E2" in _wrong("01.encode", "1 2 S1 3 S1 S2 4 S1 5 6 S2 7 S2 Done")
    assert "rule E4" in _wrong("01.encode", "1 2 S1 3 S2 4 S1 5 6 S2 7 S2")
    assert "rule E3" in _wrong("01.encode", "1 2 S1 3 S2 4 S1 5 6 S2 7 S3 Done")
    message = _wrong("01.encode", "1 2 S1 3 S2 4 S1 5 6 S2 7 S1 Done")
    assert "token 11" in message and "⟨S1⟩" in message
    assert "too long" in _wrong("01.encode", "1 2 S1 3 S2 4 S1 5 6 S2 7 S2 8 S2 Done")


def test_01_decode_hints_at_empty_rows():
    assert check("01.decode", [[[1, 2], []], [[3], [4, 5]]])
    assert "EMPTY" in _wrong("01.decode", [[[1, 2]], [[3], [4, 5]]])
    assert "matrix 1, row 1" in _wrong("01.decode", [[[1, 2], []], [[3], [4, 6]]])


def _stream_2_3_4():
    prog = sl.Program("t")
    return prog.input("x", sl.Tile(1, 1, "f32"), (2, 3, 4))


def test_02_flatten_names_the_flatten_the_learner_wrote():
    x = _stream_2_3_4()
    assert check("02.flatten", ops.Flatten(x, 1, 2))
    message = _wrong("02.flatten", ops.Flatten(x, 0, 1))
    assert "shape [2, 12] but the exercise expects [6, 4]" in message
    assert "Flatten(x, 0, 1)" in message
    assert "Stream" in _wrong("02.flatten", (6, 4))


def test_02_padding_compares_expressions_with_the_padding_stream():
    X = sl.dim("X")
    assert check("02.padding", 4 * sl.ceil_div(X, 4) - X)
    assert check("02.padding", (-sympy.Symbol("X")) % 4)
    assert "at X = 0" in _wrong("02.padding", 4 - X % 4)
    assert "depends on X" in _wrong("02.padding", 3)
    assert "symbol(s) ['Y']" in _wrong("02.padding", sl.dim("Y"))


def test_02_ragged_explains_the_absorbing_rule():
    B, D0 = sl.dim("B"), sl.dim("D0")
    assert check("02.ragged", (3 * B, D0))
    assert "rank 0" in _wrong("02.ragged", (B, 3 * D0))
    assert "2 entries" in _wrong("02.ragged", (B, 3, D0))
    assert "absorbing rule" in _wrong("02.ragged", (B, D0))


def test_03_partition_recognises_the_other_output_and_the_dropped_row():
    assert check("03.partition", "1 2 S1 5 6 S1 Done")
    assert "output 0" in _wrong("03.partition", "3 4 S1 5 6 S1 Done")
    assert "empty selector" in _wrong("03.partition", "1 2 S1 5 6 S1 7 8 S1 Done")


def _sumsq(kind: str):
    prog = sl.Program("s")
    x = prog.input("x", sl.Tile(1, 1, "f32"), (3, 4))
    squares = ops.Map([x, x], fn.Mul())
    zero = fn.Zero((1, 1), "f32")
    out = {"right": lambda: ops.Accum(squares, fn.Add(), zero, 1),
           "unsquared": lambda: ops.Accum(x, fn.Add(), zero, 1),
           "unreduced": lambda: squares}[kind]()
    prog.output("y", out)
    return prog


def test_03_sumsq_runs_the_program_and_says_what_it_computes():
    assert check("03.sumsq", _sumsq("right"))
    assert "plain row sums" in _wrong("03.sumsq", _sumsq("unsquared"))
    assert "not reduced" in _wrong("03.sumsq", _sumsq("unreduced"))
    assert "no input stream named 'x'" in _wrong("03.sumsq", sl.Program("empty"))
    only_input = sl.Program("only_input")
    only_input.input("x", sl.Tile(1, 1, "f32"), (3, 4))
    assert "no output named 'y'" in _wrong("03.sumsq", only_input)


def test_04_traffic_names_the_missing_node():
    B = sl.dim("B")
    assert check("04.traffic", 2 * 256 * B + 2 * 256 * 512 * B + 2 * 512 * B)
    assert "missing the traffic of linearoffchipload1" in _wrong("04.traffic",
                                                                 2 * 256 * B + 2 * 512 * B)
    assert "twice" in _wrong("04.traffic", 2 * 256 * B + 4 * 256 * 512 * B + 2 * 512 * B)
    assert "grows with B" in _wrong("04.traffic", 1000)


def test_05_fifo_simulates_too_shallow_and_too_deep_answers():
    from step_lab.tutor.programs import smallest_fifo_depth
    need = smallest_fifo_depth(3, 8)
    assert check("05.fifo", need)
    assert "deadlocks" in _wrong("05.fifo", need - 1)
    assert "smallest" in _wrong("05.fifo", need + 2)
    assert "int >= 1" in _wrong("05.fifo", "eight")


def test_06_tile_compares_static_traffic_with_dynamic_tiling():
    from step_lab.tutor.programs import moe_traffic
    dynamic = moe_traffic("dynamic")
    fits = [t for t in (8, 16, 32, 64) if moe_traffic("static", t) <= dynamic]
    assert check("06.tile", fits[0])
    assert "⌈X_i/8⌉" in _wrong("06.tile", 8)
    assert "smaller tile" in _wrong("06.tile", 64)
    assert "pick one" in _wrong("06.tile", 5)


def test_07_tiles_spots_the_forgotten_new_token_and_the_coarse_assignment():
    from step_lab.tutor.programs import region_tiles
    assert check("07.tiles", region_tiles("interleaved", 4))
    assert "coarse" in _wrong("07.tiles", region_tiles("coarse", 4))
    assert "list of 4 ints" in _wrong("07.tiles", [1, 2])
    assert "region 0" in _wrong("07.tiles", [0, 0, 0, 0])


def test_08_regions_reports_the_slow_down_of_wrong_answers():
    from step_lab.tutor.programs import time_multiplex_cycles
    spatial = time_multiplex_cycles(None)
    best = next(r for r in (1, 2, 4, 8, 16, 32) if time_multiplex_cycles(r) <= 1.1 * spatial)
    assert check("08.regions", best)
    assert "more cycles" in _wrong("08.regions", 1)
    assert "fewer regions" in _wrong("08.regions", 32)


def _silu_gemm(t: int = 32, silu: bool = True, out: str = "Y"):
    M, K, N, c = sl.dim("M"), 128, 256, 64
    prog = sl.Program("silu_gemm")
    X = prog.tensor("X", (M, K), "bf16")
    W = prog.tensor("W", (K, N), "bf16")
    x = ops.LinearOffChipLoad(X, tile=(t, K))
    w = ops.LinearOffChipLoad(W, tile=(K, c), ref=x, stride=(1,), tiled_out_shape=(N // c,))
    y = ops.Map([ops.Expand(x, sizes=(N // c,)), ops.Flatten(w, 1, 2)], fn.Matmul())
    y = ops.Map(y, fn.SiLU()) if silu else y
    rows = ops.Accum(y, fn.RetileCol(), fn.Empty((t, 0)), 1)
    ops.LinearOffChipStore(rows, prog.tensor(out, (M, N), "bf16", role="output"))
    return prog


def test_09_silu_gemm_checks_values_traffic_and_names():
    assert check("09.silu_gemm", _silu_gemm())
    assert "SiLU is missing" in _wrong("09.silu_gemm", _silu_gemm(silu=False))
    message = _wrong("09.silu_gemm", _silu_gemm(t=8))
    assert "twice the minimum" in message and "linearoffchipload1" in message
    assert "no tensor 'Y'" in _wrong("09.silu_gemm", _silu_gemm(out="Z"))


def test_the_tutor_is_not_imported_by_import_step_lab():
    code = "import step_lab, sys; print('step_lab.tutor' in sys.modules)"
    import subprocess
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    assert out.stdout.strip() == "False"
