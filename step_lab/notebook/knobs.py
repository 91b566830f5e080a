"""Knobs: named what-if parameters that become widgets.

Inside a ``%%step`` cell, ``knob("tile", 32, choices=[8, 16, 32, 64])`` or
``knob("B", 64, range=(1, 1024))`` declares a knob and returns its current value: the default on
the first run, the widget's value on re-runs. A :class:`KnobRecorder` is the ``knob`` function of
one run; :func:`make_widget` turns a :class:`Knob` into an ipywidget (slider, dropdown or toggle)
with ``continuous_update=False`` so a simulation runs once per release, never per pixel.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Any

from ..errors import ConfigError, did_you_mean

__all__ = ["Knob", "KnobRecorder", "make_widget", "knob_from_range"]


@dataclass(frozen=True)
class Knob:
    """A declared knob: ``choices`` (a tuple) or ``range`` ``(lo, hi, step)``; bools toggle."""

    name: str
    default: Any
    choices: tuple | None = None
    range: tuple | None = None
    description: str = ""

    def __post_init__(self):
        _check_knob(self)

    @property
    def kind(self) -> str:
        """``"toggle"``, ``"choice"``, ``"int"`` or ``"float"``."""
        if self.choices is not None:
            return "choice"
        if self.range is not None:
            return "int" if all(_is_int(v) for v in self.range) else "float"
        return "toggle"

    def check(self, value) -> Any:
        """``value`` if this knob allows it, else ConfigError naming the knob and the range."""
        if self.kind == "toggle":
            if isinstance(value, bool):
                return value
            raise ConfigError(f"knob {self.name!r} = {value!r} (expected True or False)")
        if self.kind == "choice":
            if value in self.choices:
                return value
            raise ConfigError(f"knob {self.name!r} = {value!r} (expected one of "
                              f"{list(self.choices)})" + did_you_mean(value, self.choices))
        lo, hi, _ = self.range
        if isinstance(value, numbers.Real) and not isinstance(value, bool) and lo <= value <= hi:
            return int(value) if self.kind == "int" else float(value)
        raise ConfigError(f"knob {self.name!r} = {value!r} (expected a number in [{lo}, {hi}])")


def _is_int(v) -> bool:
    return isinstance(v, numbers.Integral) and not isinstance(v, bool)


def _check_knob(k: Knob) -> None:
    where = f"knob({k.name!r}, {k.default!r})"
    if not isinstance(k.name, str) or not k.name.isidentifier():
        raise ConfigError(f"knob name {k.name!r} (expected an identifier such as 'tile')")
    if k.choices is not None and k.range is not None:
        raise ConfigError(f"{where}: give choices=[…] or range=(lo, hi), not both")
    if k.choices is not None:
        if len(k.choices) == 0:
            raise ConfigError(f"{where}: choices is empty (expected at least one value)")
        if k.default not in k.choices:
            raise ConfigError(f"{where}: default {k.default!r} is not among the choices "
                              f"{list(k.choices)}")
    elif k.range is not None:
        _check_range(k, where)
    elif not isinstance(k.default, bool):
        raise ConfigError(f"{where}: give choices=[…] or range=(lo, hi[, step]) "
                          "(only a True/False default makes a toggle by itself)")


def _check_range(k: Knob, where: str) -> None:
    lo, hi, step = k.range
    if not all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in k.range):
        raise ConfigError(f"{where}: range={k.range!r} (expected numbers (lo, hi[, step]))")
    if not lo <= hi or step <= 0:
        raise ConfigError(f"{where}: range={k.range!r} (expected lo <= hi and step > 0)")
    if not isinstance(k.default, numbers.Real) or not lo <= k.default <= hi:
        raise ConfigError(f"{where}: default {k.default!r} is outside range [{lo}, {hi}]")


def knob_from_range(name: str, spec, default=None) -> Knob:
    """A :class:`Knob` from ``explore(**knob_ranges)`` syntax.

    ``spec`` is a list (choices), a tuple ``(lo, hi[, step])`` (range), a bool (toggle) or a
    :class:`Knob`. ``default`` (e.g. the function's default argument) falls back to the first
    choice or ``lo``.
    """
    if isinstance(spec, Knob):
        return spec
    if isinstance(spec, bool):
        return Knob(name, spec if default is None else default)
    if isinstance(spec, tuple):
        rng = _normalise_range(name, spec)
        return Knob(name, rng[0] if default is None else default, range=rng)
    if isinstance(spec, (list, range)) or hasattr(spec, "__array__"):
        choices = tuple(_plain(v) for v in spec)
        first = choices[0] if choices else None
        return Knob(name, first if default is None or default not in choices else default,
                    choices=choices)
    raise ConfigError(f"knob {name!r} = {spec!r} (expected a list of choices, a (lo, hi[, step]) "
                      "range or True/False)")


def _plain(v):
    return v.item() if hasattr(v, "item") else v


def _normalise_range(name: str, rng) -> tuple:
    if not isinstance(rng, (tuple, list)) or len(rng) not in (2, 3):
        raise ConfigError(f"knob {name!r}: range={rng!r} (expected (lo, hi) or (lo, hi, step))")
    lo, hi = rng[0], rng[1]
    step = rng[2] if len(rng) == 3 else (1 if _is_int(lo) and _is_int(hi) else (hi - lo) / 100)
    return (lo, hi, step)


class KnobRecorder:
    """The ``knob`` function of one run of a cell.

    With ``known=None`` (first run) every call declares a knob and returns its default, or the
    value in ``values`` when given. With ``known`` (re-runs driven by widgets) an undeclared name
    raises ConfigError with a did-you-mean hint.
    """

    def __init__(self, values: dict | None = None, known: dict | None = None):
        self.values = dict(values or {})
        self.known = known
        self.declared: dict[str, Knob] = {}

    def __call__(self, name: str, default=None, *, choices=None, range=None,
                 description: str = "") -> Any:
        spec = self._declare(name, default, choices, range, description)
        if name in self.values:
            return spec.check(self.values[name])
        return spec.default

    def _declare(self, name, default, choices, rng, description) -> Knob:
        if self.known is not None and name not in self.known:
            raise ConfigError(f"unknown knob {name!r}" + did_you_mean(name, self.known)
                              + "\n  hint: knobs are fixed when the cell first runs; re-run the "
                              "cell to add a new knob")
        if self.known is not None:
            spec = self.known[name]
        else:
            spec = Knob(name, default, tuple(choices) if choices is not None else None,
                        _normalise_range(name, rng) if rng is not None else None, description)
        previous = self.declared.get(name)
        if previous is not None and previous != spec:
            raise ConfigError(f"knob {name!r} is declared twice with different settings "
                              "(expected one knob(...) call per name)")
        self.declared[name] = spec
        return spec


def make_widget(k: Knob, value=None):
    """The ipywidget for ``k`` (continuous_update=False): toggle, dropdown or slider."""
    import ipywidgets as w
    value = k.default if value is None else value
    label = k.description or k.name
    common = dict(description=label, style={"description_width": "initial"})
    if k.kind == "toggle":
        return w.Checkbox(value=bool(value), indent=False, **common)
    if k.kind == "choice":
        if all(isinstance(c, numbers.Real) and not isinstance(c, bool) for c in k.choices):
            return w.SelectionSlider(options=list(k.choices), value=value,
                                     continuous_update=False, **common)
        return w.Dropdown(options=list(k.choices), value=value, **common)
    lo, hi, step = k.range
    cls = w.IntSlider if k.kind == "int" else w.FloatSlider
    return cls(value=value, min=lo, max=hi, step=step, continuous_update=False, **common)
