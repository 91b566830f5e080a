"""How numbers look, everywhere: tables, summaries, plot axes (core: no notebook dependencies).

    >>> number(15761474), number(1.573e7), number(0.01234), number(None)
    ('15,761,474', '15,730,000', '0.01234', '–')
    >>> si(7_000_000, "B"), si(900_000), si(0.5, "B/cycle")
    ('7 MB', '900k', '0.5 B/cycle')
    >>> quantity(3328 * M, "B"), at_bindings(3328 * M, {"M": 256}, "B")   # M = sl.dim("M")
    ('3328·M B', '= 851,968 B at M = 256')

* :func:`number` is the one format of a value in a table: integers (and floats of 10,000 or
  more, rounded to whole numbers) with thousands separators, smaller floats with 4
  significant digits, never scientific
  notation; ``None`` is a dash, booleans are yes/no.
* :func:`si` shortens with an SI prefix and the unit (``7 MB``), as plot axes do.
* :func:`quantity` writes a symbolic expression so that a symbol cannot be read as a unit
  prefix: ``3328·M B`` (a product dot before every symbol, the unit after a space), and
  :func:`at_bindings` gives its value at the bound symbols.
* :func:`axis_formatter` and :func:`label_axes` apply the same rules to bokeh axes (bokeh is
  imported only when they are called).

[Choice] Symbolic results are written with an explicit product dot (``3328·M``) and the unit
after a space (``B``), so ``3328M`` cannot be read as "3328 mega"; plot ticks use SI prefixes
(k, M, G, T) with the unit, and every axis label carries its unit in brackets.
"""
from __future__ import annotations

import math
from numbers import Integral, Real

import numpy as np

__all__ = ["number", "si", "yes_no", "quantity", "at_bindings", "latex_quantity",
           "axis_formatter", "label_axes", "readable_axes", "unlabelled_axes", "SI_PREFIXES"]

SI_PREFIXES = (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3))
DASH = "–"


def yes_no(flag) -> str:
    """``yes``/``no`` (``–`` for None)."""
    return DASH if flag is None else ("yes" if flag else "no")


def number(value, digits: int = 4) -> str:
    """One readable format for a value in a table (see the module docstring)."""
    if value is None:
        return DASH
    if isinstance(value, (bool, np.bool_)):
        return yes_no(bool(value))
    if isinstance(value, Integral):
        return f"{int(value):,}"
    if isinstance(value, Real):
        v = float(value)
        if math.isnan(v):
            return "n/a"
        if math.isinf(v):
            return "∞" if v > 0 else "-∞"
        if v == 0:
            return "0"
        if abs(v) >= 10 ** digits:
            return f"{v:,.0f}"
        return _fixed(v, digits)
    return str(value)


def _round_sig(v: float, digits: int) -> float:
    exponent = math.floor(math.log10(abs(v)))
    return round(v, digits - 1 - exponent)


def _fixed(v: float, digits: int) -> str:
    """``v`` with ``digits`` significant digits in positional notation, trailing zeros cut."""
    exponent = math.floor(math.log10(abs(v)))
    decimals = max(0, digits - 1 - exponent)
    text = f"{_round_sig(v, digits):,.{decimals}f}"
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return text


def si(value, unit: str = "", digits: int = 3) -> str:
    """``value`` with an SI prefix (k, M, G, T) and ``unit``: ``si(7e6, "B") == "7 MB"``.

    Without a unit the prefix follows the number directly (``900k``); values below 1,000 keep
    their ``digits`` significant digits (``0.5 B/cycle``).
    """
    if value is None:
        return DASH
    v = float(value)
    prefix = ""
    for p, scale in SI_PREFIXES:
        if abs(v) >= scale:
            v, prefix = v / scale, p
            break
    text = "0" if v == 0 else _fixed(v, digits).replace(",", "")
    if unit:
        return f"{text} {prefix}{unit}"
    return f"{text}{prefix}"


def quantity(expr, unit: str = "") -> str:
    """A symbolic (or plain) amount with its unit, symbols set apart: ``3328·M B``."""
    from .symbolic import fmt
    if isinstance(expr, Integral) or (hasattr(expr, "is_Integer") and expr.is_Integer):
        text = f"{int(expr):,}"
    else:
        text = fmt(expr)
    return f"{text} {unit}".rstrip()


def at_bindings(expr, bindings: dict, unit: str = "") -> str:
    """The value of ``expr`` at ``bindings``, and the symbols it used: ``= 851,968 B at M =
    256``. Symbols without a binding are left symbolic."""
    from .symbolic import evaluate
    names = {getattr(k, "name", k): v for k, v in bindings.items()}
    symbols = sorted(s.name for s in getattr(expr, "free_symbols", ()))
    used = [f"{s} = {number(names[s])}" for s in symbols if s in names]
    value = evaluate(expr, {s: names[s] for s in symbols if s in names}) if symbols else expr
    text = f"= {quantity(value, unit)}"
    return text + (f" at {', '.join(used)}" if used else "")


def latex_quantity(expr, unit: str = "") -> str:
    """LaTeX of :func:`quantity`: ``3328 \\cdot M\\ \\mathrm{B}`` (thousands as ``{,}``)."""
    from .symbolic import latex
    if isinstance(expr, Integral) or (hasattr(expr, "is_Integer") and expr.is_Integer):
        text = f"{int(expr):,}".replace(",", "{,}")
    else:
        text = latex(expr, mul_symbol="dot")
    return text + (rf"\ \mathrm{{{unit}}}" if unit else "")


# -- bokeh ---------------------------------------------------------------------------------------
_JS = """
const prefixes = [["T", 1e12], ["G", 1e9], ["M", 1e6], ["k", 1e3]];
let v = tick, p = "";
for (const [name, scale] of prefixes) {
    if (Math.abs(v) >= scale) { v = v / scale; p = name; break; }
}
let text = v === 0 ? "0" : Number(v.toPrecision(3)).toString();
if (mode === "comma") { text = Number(tick.toPrecision(6)).toLocaleString("en-US"); p = ""; }
return unit ? text + " " + p + unit : text + p;
"""


def axis_formatter(unit: str = "", mode: str = "si"):
    """A bokeh tick formatter that never shows ``7.000e+6``.

    ``mode="si"``: SI prefix and unit (``7 MB``, ``900k``); ``mode="comma"``: thousands
    separators (``7,000,000``). Runs in the browser (works offline, inside saved HTML).
    """
    if mode not in ("si", "comma"):
        from .errors import ConfigError
        raise ConfigError(f"axis_formatter: mode={mode!r} (expected 'si' or 'comma')")
    from bokeh.models import CustomJSTickFormatter
    return CustomJSTickFormatter(args={"unit": unit, "mode": mode}, code=_JS)


def label_axes(fig, x: tuple | None = None, y: tuple | None = None) -> None:
    """Label a bokeh figure's axes ``name [unit]`` and format their ticks.

    ``x``/``y`` are ``(name, unit)`` or ``(name, unit, mode)``; categorical axes keep their
    factor labels (only the label is set); a log axis keeps bokeh's log ticks but gets SI
    labels.
    """
    for axes, spec in ((fig.xaxis, x), (fig.yaxis, y)):
        if spec is None:
            continue
        name, unit, *rest = spec
        mode = rest[0] if rest else "si"
        for axis in axes:
            axis.axis_label = f"{name} [{unit}]" if unit else name
            if _is_numeric(axis):
                axis.formatter = axis_formatter(unit if mode == "si" and _short_unit(unit)
                                                else "", mode)


def _short_unit(unit: str) -> bool:
    """Units that read well after an SI prefix in a tick (``7 MB``, ``2 GFLOPs``); rates, words
    and percentages stay in the axis label only (ticks ``1.2k``), so ticks stay narrow."""
    return unit in ("B", "FLOPs", "s")


def _is_numeric(axis) -> bool:
    """A plain linear or log axis (not a subclass such as DatetimeAxis)."""
    from bokeh.models import LinearAxis, LogAxis
    return type(axis) in (LinearAxis, LogAxis)


def readable_axes(plot):
    """Give every numeric axis of a bokeh figure or layout that still has bokeh's default tick
    format (which shows ``7.000e+6``) the SI formatter of :func:`axis_formatter`; axes with a
    formatter of their own keep it. Returns ``plot`` (None passes through)."""
    if plot is None:
        return None
    from bokeh.models import Axis, BasicTickFormatter, LogTickFormatter
    for axis in plot.select({"type": Axis}):
        if _is_numeric(axis) and type(axis.formatter) in (BasicTickFormatter, LogTickFormatter):
            axis.formatter = axis_formatter("")
    return plot


def unlabelled_axes(plot) -> list:
    """The visible numeric axes of a bokeh figure or layout without a label (for tests)."""
    from bokeh.models import Axis
    return [axis for axis in plot.select({"type": Axis})
            if _is_numeric(axis) and axis.visible and not axis.axis_label]
