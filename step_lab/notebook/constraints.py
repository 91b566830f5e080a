"""Knobs that only offer what works (issue 12, item 3).

``explore(..., constraints=fn)`` takes ``fn(values) -> {knob name: rule}`` evaluated on every
knob change, before the simulation. A rule is

* a list of values: only these of the knob's choices are offered (``(values, why)`` also says
  why, shown as the knob's tooltip), e.g. batches up to the trace's length;
* a string: the knob does not apply to the current setting and is disabled, the string is its
  tooltip (e.g. "dynamic tiling sizes tiles at run time");

knobs the function does not mention are offered in full and enabled. A knob left with a single
offered value is disabled too (its tooltip says why).

[Choice] When a restriction removes the current value, the knob moves to the largest offered
value below it (else the smallest offered) and the panel's status line says so; setting a value
that is not offered from code (``panel.set``) is a ConfigError naming the reason.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..errors import ConfigError

__all__ = ["Rule", "closest", "rules_for"]


@dataclass(frozen=True)
class Rule:
    """What one knob offers now: ``choices`` (None: all), ``disabled`` reason, ``why``."""

    choices: tuple | None = None
    disabled: str = ""
    why: str = ""


def rules_for(constraints: Callable | None, values: dict, knobs: dict) -> dict[str, Rule]:
    """``{name: Rule}`` for every knob (unconstrained knobs get ``Rule()``)."""
    out = {name: Rule() for name in knobs}
    if constraints is None:
        return out
    raw = constraints(dict(values)) or {}
    for name, rule in raw.items():
        if name not in knobs:
            raise ConfigError(f"constraints: unknown knob {name!r} (knobs: {sorted(knobs)})")
        out[name] = _rule(name, rule, knobs[name])
    return out


def _rule(name: str, rule, knob) -> Rule:
    if isinstance(rule, Rule):
        return rule
    if isinstance(rule, str):
        return Rule(disabled=rule)
    why = ""
    if isinstance(rule, tuple) and len(rule) == 2 and isinstance(rule[1], str):
        rule, why = rule
    if not isinstance(rule, (list, tuple)):
        raise ConfigError(f"constraints: rule for knob {name!r} is {rule!r} (expected a list of "
                          "offered values, (values, why) or a reason string)")
    if knob.choices is None:
        raise ConfigError(f"constraints: knob {name!r} has a range, not choices (expected a "
                          "reason string to disable it)")
    offered = tuple(c for c in knob.choices if c in rule)
    if not offered:
        raise ConfigError(f"constraints: knob {name!r} offers none of {list(knob.choices)} "
                          f"(rule {list(rule)})")
    return Rule(choices=offered, why=why)


def closest(value, offered: tuple):
    """``value`` if offered, else the largest offered value below it, else the first offered."""
    if value in offered:
        return value
    try:
        below = [c for c in offered if c < value]
    except TypeError:
        below = []
    return max(below) if below else offered[0]
