"""The tutorials' exercise checker: ``check(exercise_id, answer)`` says what is right or wrong.

    from step_lab.tutor import check
    check("01.encode", "1 2 S1 3 S2 4 S1 5 6 S2 7 S2 Done")

``check`` returns a :class:`Feedback` (truthy when correct) that renders as a coloured box in
Jupyter and as one readable paragraph elsewhere. A wrong answer gets a precise diagnosis — where
it differs, what the package computes instead, and which rule or operator argument explains the
difference — without the full solution. Expected answers are computed from the package when the
check runs (``_tutor_programs``), never typed in. ``exercises()`` lists every exercise,
``describe(id)`` prints its task.

Display helpers for the notebooks: :func:`show` prints tokens compactly (``1 2 S1 3 S2 Done``),
:func:`parse_tokens` reads that notation back, :func:`scalars` turns the 1×1 tiles of decoded
values into numbers, :func:`table` formats rows as a Markdown table and :func:`say` displays
Markdown computed in a cell (numbers in prose are always computed, never typed).
"""
from __future__ import annotations

import html
import re
from dataclasses import dataclass

import numpy as np

from .errors import ConfigError, did_you_mean
from .ir.tokens import DONE, Stop, format_tokens
from ._tutor_programs import scalar

__all__ = ["check", "Feedback", "exercises", "describe", "show", "parse_tokens", "scalars", "table",
           "say", "Wrong"]


class Wrong(Exception):
    """Raised by an exercise checker with the diagnosis of a wrong answer."""


@dataclass(frozen=True)
class Feedback:
    """The verdict on one answer: ``status`` is "correct", "wrong" or "unanswered"."""

    exercise: str
    status: str
    message: str

    @property
    def ok(self) -> bool:
        return self.status == "correct"

    def __bool__(self) -> bool:
        return self.ok

    def __str__(self) -> str:
        mark = {"correct": "✔ correct", "wrong": "✘ not yet", "unanswered": "… no answer yet"}
        return f"[{self.exercise}] {mark[self.status]}: {self.message}"

    __repr__ = __str__

    def _repr_html_(self) -> str:
        colour = {"correct": ("#e8f5e9", "#2e7d32"), "wrong": ("#fdecea", "#c62828"),
                  "unanswered": ("#f3f3f3", "#616161")}[self.status]
        head = {"correct": "✔ Correct", "wrong": "✘ Not yet", "unanswered": "… No answer yet"}
        body = html.escape(self.message).replace("\n", "<br>")
        return (f"<div style='background:{colour[0]};border-left:4px solid {colour[1]};"
                f"padding:6px 10px;margin:4px 0;font-family:sans-serif'><b style='color:"
                f"{colour[1]}'>{head[self.status]}</b> <small>({html.escape(self.exercise)})"
                f"</small><br>{body}</div>")


def check(exercise_id: str, answer) -> Feedback:
    """Check ``answer`` to exercise ``exercise_id``; never raises for a wrong answer.

    ``None`` or ``...`` (the placeholders of the exercise cells) mean "not answered yet".
    """
    exercise = _lookup(exercise_id)
    if answer is None or answer is Ellipsis:
        return Feedback(exercise.id, "unanswered",
                        f"replace the placeholder with your answer, then run the cell again.\n"
                        f"Task: {exercise.task}")
    try:
        message = exercise.checker(answer)
    except Wrong as verdict:
        return Feedback(exercise.id, "wrong", str(verdict))
    except Exception as exc:  # the learner's program may fail in any way: say how, not crash
        return Feedback(exercise.id, "wrong",
                        f"checking your answer raised {type(exc).__name__}: {exc}")
    return Feedback(exercise.id, "correct", message)


def exercises() -> list:
    """``[(id, title)]`` of every exercise, in course order."""
    from ._tutor_exercises import EXERCISES
    return [(e.id, e.title) for e in EXERCISES.values()]


def describe(exercise_id: str) -> str:
    """The task of one exercise (also shown by ``check`` for an unanswered exercise)."""
    exercise = _lookup(exercise_id)
    return f"{exercise.id} — {exercise.title}\n{exercise.task}"


def _lookup(exercise_id: str):
    from ._tutor_exercises import EXERCISES
    if exercise_id not in EXERCISES:
        raise ConfigError(f"unknown exercise {exercise_id!r}" + did_you_mean(exercise_id,
                                                                             EXERCISES)
                          + f" (expected one of {list(EXERCISES)})")
    return EXERCISES[exercise_id]


# -- tokens --------------------------------------------------------------------------------------
def _element(value) -> str:
    value = scalar(value)
    if isinstance(value, np.ndarray):
        return f"Tile[{value.shape[0]},{value.shape[1]}]"
    if isinstance(value, (frozenset, set)):
        return "{" + ",".join(str(i) for i in sorted(value)) + "}"
    if isinstance(value, (bool, np.bool_)):
        return "T" if value else "F"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def show(tokens) -> str:
    """Tokens in the notation of STEP.md: ``1 2 S1 3 S2 Done`` (1×1 tiles as numbers, bools as
    T/F, selectors as ``{0,1}``, larger tiles as ``Tile[r,c]``)."""
    return format_tokens(tokens, _element)


_TOKEN = re.compile(r"^(?:S(\d+)|Done|-?\d+(?:\.\d*)?(?:e-?\d+)?|T|F)$")


def parse_tokens(text: str) -> list:
    """Read ``"1 2 S1 3 S2 Done"`` into tokens (numbers, ``S<k>``, ``Done``, ``T``/``F``)."""
    out = []
    for word in text.replace(",", " ").split():
        if not _TOKEN.match(word):
            raise Wrong(f"{word!r} is not a token: write numbers, stop tokens S1, S2, … and Done "
                        "separated by spaces")
        out.append(_parse_word(word))
    return out


def _parse_word(word: str):
    if word == "Done":
        return DONE
    if word in ("T", "F"):
        return word == "T"
    if word.startswith("S"):
        level = int(word[1:])
        if level < 1:
            raise Wrong(f"{word!r}: stop tokens start at S1 (S0 does not exist)")
        return Stop(level)
    number = float(word)
    return int(number) if number.is_integer() else number


def as_tokens(answer) -> list:
    """A learner's token answer (string, or list mixing values, ``sl.S(k)``, ``sl.DONE`` and the
    strings "S1"/"Done") as a token list with plain-number data."""
    if isinstance(answer, str):
        return parse_tokens(answer)
    if not isinstance(answer, (list, tuple)):
        raise Wrong(f"expected a token list such as [1, 2, sl.S(1), sl.DONE] or a string "
                    f"'1 2 S1 Done', got {type(answer).__name__} {answer!r:.60}")
    out = []
    for tok in answer:
        if isinstance(tok, str):
            out += parse_tokens(tok)
        elif tok is DONE or type(tok) is Stop:
            out.append(tok)
        else:
            out.append(scalar(tok))
    return out


def scalars(nested):
    """Decoded values with every 1×1 tile replaced by its number (lists kept)."""
    if isinstance(nested, (list, tuple)):
        return [scalars(v) for v in nested]
    return scalar(nested)


def table(rows: list, columns: list | None = None) -> str:
    """A Markdown table of ``rows`` (dicts); ints get thousands separators, floats 3 digits."""
    columns = columns or (list(rows[0]) if rows else [])

    def cell(value) -> str:
        if isinstance(value, bool) or not isinstance(value, (int, float, np.integer,
                                                             np.floating)):
            return str(value)
        if isinstance(value, (int, np.integer)):
            return f"{int(value):,}"
        return f"{float(value):,.3g}"
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row.get(c, "")) for c in columns) + " |" for row in rows]
    return "\n".join(lines)


def say(markdown: str) -> None:
    """Display computed Markdown in a notebook (print it elsewhere)."""
    try:
        from IPython import get_ipython
        from IPython.display import Markdown, display
    except ImportError:                     # pragma: no cover - IPython is a notebook extra
        print(markdown)
        return
    if get_ipython() is None:
        print(markdown)
    else:
        display(Markdown(markdown))
