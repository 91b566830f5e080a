"""Display helpers of the tutor and the course notebooks.

:func:`show` prints tokens compactly (``1 2 S1 3 S2 Done``), :func:`parse_tokens` reads that
notation back, :func:`as_tokens` accepts either form from a learner, :func:`scalars` turns the 1×1
tiles of decoded values into numbers, :func:`table` formats rows as a Markdown table and
:func:`say` displays Markdown computed in a cell (numbers in prose are always computed, never
typed). :class:`Wrong` is the diagnosis an exercise checker raises.
"""
from __future__ import annotations

import re

import numpy as np

from ..ir.tokens import DONE, Stop, format_tokens
from .programs import scalar

__all__ = ["Wrong", "show", "parse_tokens", "as_tokens", "scalars", "table", "say"]


class Wrong(Exception):
    """Raised by an exercise checker with the diagnosis of a wrong answer."""


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
