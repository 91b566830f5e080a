"""The exception hierarchy of step_lab.

Every error a user can trigger is a :class:`StepError`; the subclass says which stage found it.
Messages follow the house template ``<what> <value!r> <where> (<expected>)`` plus a hint line.
"""
from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TypeVar

_V = TypeVar("_V")


class StepError(Exception):
    """Base class of every error step_lab raises for bad programs, inputs or configurations."""


class ShapeError(StepError):
    """An operator was constructed with ill-typed inputs or arguments."""


class GraphError(StepError):
    """The program graph is malformed (dangling streams, foreign streams, bad cycles)."""


class BindingError(StepError):
    """A symbol needed for evaluation or simulation has no value, or a value is inconsistent."""


class InputError(BindingError, ShapeError):
    """An input value (array, stream tokens) does not match its declaration at these bindings.

    Both a BindingError (the value disagrees with the bound shape) and a ShapeError (the value
    has the wrong shape or element type).
    """


class DeadlockError(StepError):
    """The simulation cannot make progress although work remains."""


class ConfigError(StepError):
    """A hardware or run configuration value is invalid."""


class UnknownNameError(ConfigError, AttributeError):
    """A misspelt operator or function (``ops.linearoffchipload``): an AttributeError (so
    ``hasattr`` and ``getattr(..., default)`` keep working) whose message suggests the name."""


def missing_attribute(module: str, names: Iterable[str], name: str, what: str) -> AttributeError:
    """The error for ``module.name`` when ``name`` is not one of ``names``, with a did-you-mean
    that ignores case (``fn.matmul`` -> ``'Matmul'``). Dunder names (Python's own probes) get
    a plain AttributeError."""
    if name.startswith("__") and name.endswith("__"):
        return AttributeError(f"module {module!r} has no attribute {name!r}")
    by_lower = {str(n).lower(): n for n in names}
    if name.lower() in by_lower:
        hint = f" (did you mean {by_lower[name.lower()]!r}? names are case-sensitive)"
    else:
        close = difflib.get_close_matches(name.lower(), list(by_lower), n=1, cutoff=0.6)
        hint = f" (did you mean {by_lower[close[0]]!r}?)" if close else ""
    return UnknownNameError(f"{module} has no {what} {name!r}{hint}; the {what}s are: "
                            f"{', '.join(sorted(names))}")


class TraceError(StepError):
    """A trace file (expert routing, KV lengths) is missing, unreadable or malformed."""


def did_you_mean(value: str, allowed: Iterable[object]) -> str:
    """Return `` (did you mean 'x'?)`` for the closest allowed name, or an empty string."""
    names = [str(a) for a in allowed]
    folded = [a for a in names if a.lower() == str(value).lower()]
    close = folded or difflib.get_close_matches(str(value), names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def lookup(table: dict[str, _V], name: object, what: str) -> _V:
    """``table[name.lower()]``, or a ConfigError listing the names and suggesting the closest."""
    key = str(name).lower()
    if key not in table:
        raise ConfigError(f"unknown {what} {name!r} (expected one of {sorted(table)})"
                          + did_you_mean(key, table))
    return table[key]
