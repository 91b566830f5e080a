"""The tutorials' exercise checker: ``check(exercise_id, answer)`` says what is right or wrong.

    from step_lab.tutor import check
    check("01.encode", "1 2 S1 3 S2 4 S1 5 6 S2 7 S2 Done")

``check`` returns a :class:`Feedback` (truthy when correct) that renders as a coloured box in
Jupyter and as one readable paragraph elsewhere. A wrong answer gets a precise diagnosis — where
it differs, what the package computes instead, and which rule or operator argument explains the
difference — without the full solution. Expected answers are computed from the package when the
check runs (``tutor.programs``), never typed in. ``exercises()`` lists every exercise,
``describe(id)`` prints its task.

The notebooks' display helpers (:func:`show`, :func:`parse_tokens`, :func:`scalars`,
:func:`table`, :func:`say`) live in :mod:`step_lab.tutor.display` and are re-exported here.
Layout: ``display`` (tokens and Markdown), ``programs`` (reference programs), ``compare``
(answer comparison), ``exercises`` (the checkers); no module imports this one.
"""
from __future__ import annotations

import html
from dataclasses import dataclass

from ..errors import ConfigError, did_you_mean
from .display import Wrong, as_tokens, parse_tokens, say, scalars, show, table
from .exercises import EXERCISES

__all__ = ["check", "Feedback", "exercises", "describe", "show", "parse_tokens", "as_tokens",
           "scalars", "table", "say", "Wrong"]


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
    return [(e.id, e.title) for e in EXERCISES.values()]


def describe(exercise_id: str) -> str:
    """The task of one exercise (also shown by ``check`` for an unanswered exercise)."""
    exercise = _lookup(exercise_id)
    return f"{exercise.id} — {exercise.title}\n{exercise.task}"


def _lookup(exercise_id: str):
    if exercise_id not in EXERCISES:
        raise ConfigError(f"unknown exercise {exercise_id!r}" + did_you_mean(exercise_id,
                                                                             EXERCISES)
                          + f" (expected one of {list(EXERCISES)})")
    return EXERCISES[exercise_id]
