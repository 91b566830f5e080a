"""The runnable unit: a program with the bindings and inputs that make it runnable.

``sl.simulate(run)``, ``interpret(run)``, ``metrics(...).evaluate(run)``, the CLI and the
notebook explorer take a :class:`Run` (or anything :func:`as_run` accepts), so the triple is
never re-assembled by hand; a ``Workload`` builds one (``workload.run``).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from ..errors import ConfigError
from .program import Program

__all__ = ["Run", "as_run", "carries_run"]


@dataclass(frozen=True)
class Run:
    """``program`` + ``bindings`` (symbol name -> int) + ``inputs`` (name -> array or tokens)."""

    program: Program
    bindings: Mapping = field(default_factory=dict)
    inputs: Mapping = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.program, Program):
            raise ConfigError(f"Run: program = {self.program!r:.60} (expected a step_lab "
                              "Program)")
        for name in ("bindings", "inputs"):
            value = getattr(self, name)
            if value is None:
                object.__setattr__(self, name, MappingProxyType({}))
            elif not isinstance(value, Mapping):
                raise ConfigError(f"Run {self.program.name!r}: {name} = {value!r:.60} "
                                  "(expected a dict)")


def as_run(obj: Any, *, bindings: Mapping | None = None, inputs: Mapping | None = None) -> Run:
    """A :class:`Run` from a Run, a Program (with ``bindings``/``inputs``), anything with a
    ``run`` attribute that is a Run (a Workload), or a ``(program, inputs, bindings)`` tuple
    (what a ``%%step`` cell builder returns). Explicit ``bindings``/``inputs`` override."""
    if isinstance(obj, Run):
        run = obj
    elif isinstance(obj, Program):
        run = Run(obj)
    elif isinstance(getattr(obj, "run", None), Run):
        run = obj.run
    elif isinstance(obj, tuple) and len(obj) == 3 and isinstance(obj[0], Program):
        run = Run(obj[0], obj[2] or {}, obj[1] or {})
    else:
        raise ConfigError(f"expected a Program, a Run or a Workload, got "
                          f"{type(obj).__name__} {obj!r:.60}")
    if bindings is None and inputs is None:
        return run
    return Run(run.program, run.bindings if bindings is None else bindings,
               run.inputs if inputs is None else inputs)


def carries_run(obj: object) -> bool:
    """Is ``obj`` a :class:`Run` or something that carries one (a Workload's ``.run``)?"""
    return isinstance(obj, Run) or isinstance(getattr(obj, "run", None), Run)

