"""``%%solution``: the worked answer to a tutorial exercise, kept out of *Run All*.

A ``%%solution`` cell does not run. It shows a closed "Solution" box; opening it shows the code,
and its **Run the solution** button (or changing the first line to ``%%solution --run``) runs the
code in the notebook's namespace, so the check at its end reports on the worked answer.

[Choice] Solutions run only when the learner asks: a notebook's *Run All* must not print a
correct answer under an exercise the learner has not tried yet. The code is shown inside a
closed ``<details>`` box rather than printed, so it is not on screen until opened.
"""
from __future__ import annotations

import ast
import html

from IPython.core.magic import Magics, cell_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring

__all__ = ["SolutionMagics", "solution_html", "execute"]

_HINT = "Try the exercise first. To run this solution, press the button below or change the " \
        "first line of the cell to %%solution --run."


def solution_html(code: str) -> str:
    """The closed box that holds the solution's code (shown only when the learner opens it)."""
    return ("<details style='margin:4px 0;font-family:sans-serif'>"
            "<summary style='cursor:pointer;color:#616161'>Solution (not run; click to show)"
            "</summary><pre style='background:#f7f7f7;padding:6px 10px;margin:4px 0'>"
            f"{html.escape(code.strip())}</pre><small>{html.escape(_HINT)}</small></details>")


class _Hidden:
    """The display of a solution that was not run: HTML box, one line of plain text."""

    def __init__(self, code: str) -> None:
        self.code = code

    def _repr_html_(self) -> str:
        return solution_html(self.code)

    def __repr__(self) -> str:
        return "Solution hidden (not run). " + _HINT


@magics_class
class SolutionMagics(Magics):
    """``%%solution [--run]``: hide (default) or run a tutorial exercise's worked answer."""

    last = None     # the "Run the solution" box of the last hidden solution (for tests)

    @magic_arguments()
    @argument("--run", action="store_true", help="run the solution (default: only offer it)")
    @cell_magic
    def solution(self, line: str, cell: str):
        """Offer the cell's code as a hidden solution; ``--run`` runs it like a normal cell."""
        args = parse_argstring(self.solution, line)
        if args.run:
            self.run(cell)
            return None
        from IPython.display import display
        display(_Hidden(cell))
        button = _run_button(self, cell)
        if button is not None:
            display(button)
        self.last = button
        return None

    def run(self, code: str) -> bool:
        """Run ``code`` in the user namespace (its last expression is displayed); True if it
        raised nothing."""
        result = self.shell.run_cell(code, store_history=False)
        return bool(result.success)


def _run_button(magics: SolutionMagics, code: str):
    """A "Run the solution" button whose output appears below it (None without ipywidgets)."""
    try:
        import ipywidgets as widgets
    except ImportError:
        return None
    button = widgets.Button(description="Run the solution", icon="play",
                            tooltip="run the worked answer in this notebook (try first!)")
    out = widgets.Output()

    def on_click(_button) -> None:
        button.disabled = True
        with out:                 # shows the value, or the traceback, under the button
            execute(magics.shell.user_ns, code)

    button.on_click(on_click)
    return widgets.VBox([button, out])


def execute(namespace: dict, code: str) -> None:
    """Run ``code`` in ``namespace`` and display the value of its last expression, as a cell
    would (used from a button callback, where ``run_cell``'s result display is not captured
    by an Output widget)."""
    from IPython.display import display
    tree = ast.parse(code)
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    exec(compile(tree, "<solution>", "exec"), namespace)
    if last is not None:
        value = eval(compile(ast.Expression(last.value), "<solution>", "eval"), namespace)
        if value is not None:
            display(value)
