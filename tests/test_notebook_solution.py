"""``%%solution``: hidden by default (Run All shows a closed box and runs nothing), run on request
(``--run`` or the "Run the solution" button)."""
from IPython.utils.capture import capture_output

from step_lab.notebook.solution import solution_html

CELL = "%%solution\nanswer = 6 * 7\nanswer\n"


def test_a_solution_cell_runs_nothing_and_shows_a_closed_box(shell):
    with capture_output() as cap:
        result = shell.run_cell(CELL)
    assert result.success, cap.stderr
    assert "answer" not in shell.user_ns
    html = cap.outputs[0].data["text/html"]
    assert html.startswith("<details") and "<details open" not in html
    assert "answer = 6 * 7" in html                   # inside the closed box only
    plain = cap.outputs[0].data["text/plain"]
    assert "not run" in plain and "6 * 7" not in plain and "%%solution --run" in plain
    assert "42" not in cap.stdout


def test_run_runs_the_solution_in_the_user_namespace_and_displays_its_value(shell):
    with capture_output() as cap:
        result = shell.run_cell(CELL.replace("%%solution", "%%solution --run"))
    assert result.success, cap.stderr
    assert shell.user_ns["answer"] == 42
    assert "42" in cap.stdout


def test_the_run_button_runs_the_solution_once(shell):
    with capture_output() as cap:
        shell.run_cell(CELL)
    assert any("application/vnd.jupyter.widget-view+json" in o.data for o in cap.outputs)
    button = shell.magics_manager.registry["SolutionMagics"].last.children[0]
    assert button.description == "Run the solution"
    button.click()
    assert shell.user_ns["answer"] == 42 and button.disabled


def test_a_failing_solution_reports_its_error_like_a_cell(shell):
    with capture_output() as cap:
        result = shell.run_cell("%%solution --run\n1 / 0\n")
    assert not result.success or "ZeroDivisionError" in cap.stderr + cap.stdout
    assert "ZeroDivisionError" in cap.stderr + cap.stdout


def test_the_box_escapes_the_code():
    assert "&lt;b&gt;" in solution_html("print('<b>')")


def test_the_button_shows_the_solutions_value_and_a_failure_without_crashing(shell):
    shell.run_cell("%%solution\n6 * 7\n")
    button = shell.magics_manager.registry["SolutionMagics"].last.children[0]
    with capture_output() as cap:
        button.click()
    assert "42" in cap.stdout or any("42" in o.data.get("text/plain", "") for o in cap.outputs)
    shell.run_cell("%%solution\n1 / 0\n")
    button = shell.magics_manager.registry["SolutionMagics"].last.children[0]
    with capture_output() as cap:
        button.click()                                   # must not raise
    assert "ZeroDivisionError" in cap.stdout + cap.stderr
