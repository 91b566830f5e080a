"""Legends of the figure pages' plots sit above the plot area, never over data.

A legend left inside the plot area (bokeh's default for ``legend_label``) covered points, lines
or bars whenever the data reached its corner: Fig 10's tile-1024 point, Fig 13(b)'s bars.
``legend_above`` moves it into the panel above the frame (every figure page, the bar charts of
``_attention.bar_plot`` too): horizontal, from the left, wrapped onto more rows when the labels
would not fit across the frame (a horizontal legend does not wrap by itself and would be cut
off at the right edge).
"""
from __future__ import annotations

import math

# estimate of the legend's geometry at bokeh's defaults (13px labels, 20px glyphs)
_CHAR_PX = 6.5
_ITEM_PX = 20 + 5 + 10           # glyph + label standoff + spacing between items
_FRAME_MARGIN_PX = 100           # left axis + toolbar: not part of the frame the legend spans
_RIGHT_AXIS_PX = 50
# every figure page's legend
STYLE = {"orientation": "horizontal", "location": "top_left", "border_line_alpha": 0,
         "margin": 0, "padding": 4, "spacing": 10}


def legend_width(labels: list) -> float:
    """Estimated width [px] of a one-row horizontal legend holding ``labels``."""
    return sum(_CHAR_PX * len(s) + _ITEM_PX for s in labels) + 20


def legend_above(fig):
    """Move ``fig``'s legend from inside the plot area to the panel above it; returns it."""
    from bokeh.models import Legend, LinearAxis
    legends = [r for r in fig.center if isinstance(r, Legend)]
    if not legends:
        return None
    (legend,) = legends
    fig.center = [r for r in fig.center if r is not legend]
    labels = [_text(item.label) for item in legend.items]
    available = fig.width - _FRAME_MARGIN_PX - _RIGHT_AXIS_PX * sum(
        isinstance(r, LinearAxis) for r in fig.right)
    rows = min(len(labels), max(1, math.ceil(legend_width(labels) / max(available, 1))))
    legend.update(**STYLE, nrows=rows)
    fig.add_layout(legend, "above")
    return legend


def _text(label) -> str:
    if isinstance(label, dict):
        return str(label.get("value", label.get("field", "")))
    return str(getattr(label, "value", label) or "")
