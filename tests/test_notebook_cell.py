"""Running %%step cell bodies and their short error messages (step_lab.notebook.cell)."""
import pytest
from test_notebook_support import GEMM_CELL

import step_lab as sl
from step_lab.notebook.cell import CellError, StepCell, short_error


def test_a_cell_builds_a_fresh_program_with_its_inputs_and_bindings():
    cell = StepCell(GEMM_CELL, "gemm")
    prog, inputs, bindings = cell.build()
    assert isinstance(prog, sl.Program) and prog.name == "gemm"
    assert bindings == {"M": 256} and inputs == {}
    again, _, _ = cell.build()
    assert again is not prog and len(again.nodes) == len(prog.nodes)


def test_the_first_run_fixes_the_knobs_and_later_runs_use_new_values():
    cell = StepCell(GEMM_CELL, "gemm")
    cell.build()
    assert sorted(cell.knobs) == ["M", "col_tile", "tile"]
    prog, _, bindings = cell.build({"tile": 16, "M": 64})
    assert bindings == {"M": 64}
    assert prog.nodes[0].tile == (16, 128)


def test_the_cell_sees_the_user_namespace_but_does_not_write_into_it():
    user = {"K_USER": 7}
    cell = StepCell("assert K_USER == 7\nleak = 1\n", "p", user)
    cell.build()
    assert "leak" not in user


def test_a_syntax_error_names_the_cell_line_and_points_at_it():
    with pytest.raises(CellError) as err:
        StepCell("x = 1\ny = (2,\nz = 3 3\n", "bad")
    text = str(err.value)
    assert text.startswith("SyntaxError at line ")
    assert "of %%step 'bad'" in text
    assert len(text.splitlines()) <= 3


def test_a_shape_error_names_the_cell_line_and_shows_its_source():
    body = ("X = prog.tensor('X', (64, 64))\n"
            "x = ops.LinearOffChipLoad(X, tile=(16, 64))\n"
            "y = ops.Map(x, 'not a function')\n")
    with pytest.raises(CellError) as err:
        StepCell(body, "oops").build()
    first, source = str(err.value).splitlines()[:2]
    assert first.startswith("ShapeError at line 4 of %%step 'oops': Map")   # line 1 = %%step
    assert source.strip() == "y = ops.Map(x, 'not a function')"
    assert isinstance(err.value.original, sl.ShapeError)


def test_a_name_error_is_reported_like_any_other_cell_mistake():
    with pytest.raises(CellError, match=r"NameError at line 2 of %%step 'p': name 'nope'"):
        StepCell("nope + 1\n", "p").build()


def test_rebinding_prog_to_something_else_is_explained():
    with pytest.raises(CellError, match=r"`prog` is int after the cell ran"):
        StepCell("prog = 3\n", "p").build()


def test_short_error_without_a_cell_is_one_line():
    assert short_error(sl.DeadlockError("stuck")) == "DeadlockError: stuck"
