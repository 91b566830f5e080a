"""The exception hierarchy of step_lab.

Every error a user can trigger is a :class:`StepError`; the subclass says which stage found it.
Messages follow the house template ``<what> <value!r> <where> (<expected>)`` plus a hint line.
"""
from __future__ import annotations

import difflib


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


def did_you_mean(value: str, allowed) -> str:
    """Return `` (did you mean 'x'?)`` for the closest allowed name, or an empty string."""
    names = [str(a) for a in allowed]
    folded = [a for a in names if a.lower() == str(value).lower()]
    close = folded or difflib.get_close_matches(str(value), names, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def lookup(table: dict, name, what: str):
    """``table[name.lower()]``, or a ConfigError listing the names and suggesting the closest."""
    key = str(name).lower()
    if key not in table:
        raise ConfigError(f"unknown {what} {name!r} (expected one of {sorted(table)})"
                          + did_you_mean(key, table))
    return table[key]
