"""Running the body of a ``%%step`` cell as a program builder, and short error messages.

A :class:`StepCell` compiles the body once and can run it any number of times with knob values:
each run gets a fresh namespace (the user's names, plus a fresh ``prog``, ``sl``, ``ops``, ``fn``,
``np`` and ``knob``) and returns ``(program, inputs, bindings)`` read from the cell's variables.
:func:`short_error` turns any exception into one readable paragraph that names the cell line.
"""
from __future__ import annotations

import itertools
import traceback

from ..errors import ConfigError
from .knobs import KnobRecorder

__all__ = ["StepCell", "short_error", "CellError"]

_counter = itertools.count(1)


class CellError(Exception):
    """An error of a ``%%step`` cell, already formatted for display (``str(err)``)."""

    def __init__(self, message: str, original: BaseException | None = None):
        super().__init__(message)
        self.original = original


class StepCell:
    """The body of one ``%%step NAME`` cell; ``line_offset`` lines precede it in the cell."""

    def __init__(self, body: str, name: str, user_ns: dict | None = None, line_offset: int = 1):
        self.body = body
        self.name = name
        self.user_ns = user_ns if user_ns is not None else {}
        self.line_offset = line_offset
        self.filename = f"<%%step {name} #{next(_counter)}>"
        self.knobs: dict | None = None        # fixed after the first successful run
        try:
            self.code = compile(body, self.filename, "exec")
        except SyntaxError as exc:
            raise CellError(short_error(exc, self), exc) from None

    def build(self, values: dict | None = None):
        """Run the body with knob ``values``; return ``(program, inputs, bindings)``.

        Raises :class:`CellError` (message names the cell line) for any mistake in the body.
        """
        import numpy as np

        import step_lab as sl
        recorder = KnobRecorder(values, known=self.knobs)
        ns = dict(self.user_ns)
        ns.update(prog=sl.Program(self.name), sl=sl, ops=sl.ops, fn=sl.fn, np=np, knob=recorder,
                  bindings={}, inputs={})
        try:
            exec(self.code, ns)  # noqa: S102 - running the user's own cell is the point
            program = _program_of(ns)
        except Exception as exc:  # every mistake in a cell is shown, never re-raised raw
            raise CellError(short_error(exc, self), exc) from None
        if self.knobs is None:
            self.knobs = dict(recorder.declared)
        return program, dict(ns.get("inputs") or {}), dict(ns.get("bindings") or {})

    def cell_line(self, body_line: int) -> int:
        return body_line + self.line_offset

    def source_line(self, body_line: int) -> str:
        lines = self.body.splitlines()
        return lines[body_line - 1].strip() if 0 < body_line <= len(lines) else ""


def _program_of(ns: dict):
    import step_lab as sl
    prog = ns.get("prog")
    if not isinstance(prog, sl.Program):
        raise ConfigError(f"`prog` is {type(prog).__name__} after the cell ran (expected the "
                          "sl.Program the cell builds; do not rebind `prog`)")
    return prog


def short_error(exc: BaseException, cell: StepCell | None = None) -> str:
    """``<Type> at cell line N: <message>`` plus the offending source line, no traceback."""
    line = _line_of(exc, cell)
    kind = type(exc).__name__
    message = exc.msg if isinstance(exc, SyntaxError) else str(exc)
    where = f" in %%step {cell.name!r}" if cell is not None else ""
    if line is None:
        return f"{kind}{where}: {message}"
    text = cell.source_line(line)
    head = f"{kind} at line {cell.cell_line(line)} of %%step {cell.name!r}: {message}"
    if isinstance(exc, SyntaxError) and exc.offset and exc.text:
        caret = " " * (len(exc.text) - len(exc.text.lstrip()))
        pointer = " " * max(exc.offset - 1 - len(caret), 0) + "^"
        return f"{head}\n    {text}\n    {pointer}"
    return f"{head}\n    {text}" if text else head


def _line_of(exc: BaseException, cell: StepCell | None) -> int | None:
    """Line number in the cell body of the innermost frame that ran the cell's code."""
    if cell is None:
        return None
    if isinstance(exc, SyntaxError) and exc.filename == cell.filename:
        return exc.lineno
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == cell.filename:
            line = frame.lineno
    return line

