"""Operator docs open with what the operator does for the user and a two-line example that runs
as written (and prints what its comments say), then the precise semantics; the labextension
ships exactly these docs."""
import contextlib
import io
import re

import pytest

from step_lab import fn, ops
from step_lab.opdocs import _BASES
from step_lab.ops._guide import EXAMPLE_SETUP, FUNCTIONS, OPERATORS, opening

GUIDE = {**OPERATORS, **FUNCTIONS}


def _module(name):
    return ops if name in OPERATORS else fn


def test_every_operator_and_function_has_an_opening():
    assert set(OPERATORS) == set(ops.__all__)
    assert set(FUNCTIONS) == {n for n in fn.__all__ if getattr(fn, n) not in _BASES}


@pytest.mark.parametrize("name", sorted(GUIDE))
def test_the_docstring_opens_with_the_summary_and_a_two_line_example(name):
    summary, example = GUIDE[name]
    module = _module(name)
    doc = getattr(module, name).__doc__
    assert doc.startswith(opening(name)), name
    assert len(example.splitlines()) == 2 and f"{module.__name__.split('.')[-1]}.{name}(" in example
    assert summary.endswith(".") and "§" not in summary and "``" not in summary
    rest = doc[len(opening(name)):]
    assert rest.strip(), f"{name}: the precise semantics are missing"


@pytest.mark.parametrize("name", sorted(GUIDE))
def test_the_example_runs_and_prints_what_it_says(name):
    example = GUIDE[name][1]
    scope: dict = {}
    exec(EXAMPLE_SETUP, scope)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(example, f"<{name} example>", "exec"), scope)
    promised = [m.group(1).strip() for line in example.splitlines()
                if line.startswith("print(") for m in [re.search(r"#\s*(.*)$", line)] if m]
    printed = out.getvalue().splitlines()
    assert len(printed) == len(promised)
    for claim, line in zip(promised, printed, strict=True):
        assert line == claim, f"{name}: prints {line}, the comment says {claim}"


def test_the_docs_are_applied_once_even_if_applied_again():
    from step_lab.ops import _guide
    before = ops.Map.__doc__
    _guide.apply(vars(ops))
    assert ops.Map.__doc__ == before


def test_the_hover_docs_open_with_the_user_facing_summary():
    from step_lab.opdocs import operator_docs
    docs = operator_docs()
    for name, (summary, example) in GUIDE.items():
        assert docs[name]["doc"].startswith(summary), name
        assert example.splitlines()[0].strip() in docs[name]["doc"]
