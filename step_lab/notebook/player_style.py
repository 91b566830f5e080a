"""Colours and the heatmap image of the occupancy player, shared by :mod:`.player` (legend)
and :mod:`._player_figures` (the bokeh figures) without an import circle between them."""
from __future__ import annotations

import numpy as np

from .player_data import RunData, heatmap_levels

__all__ = ["STATE_COLOURS", "RUN_COLOURS", "HEAT_COLOURS", "SMOOTH_CYCLES", "heat_rgba", "rgba"]

STATE_COLOURS = ("#e6e6e6", "#2ca02c", "#ff9f1a", "#d62728")   # idle, busy, stall in, stall out
RUN_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd")
HEAT_COLOURS = ("#f4f4f4",                                        # idle
                "#c7e9c0", "#74c476", "#31a354", "#006d2c",       # busy, by share
                "#fee6ce", "#fdae6b", "#fd8d3c", "#d94801",       # stalled on input
                "#fcbba1", "#fb6a4a", "#de2d26", "#a50f15")       # stalled on output
SMOOTH_CYCLES = 16      # bandwidth is shown averaged over at least this many cycles


def heat_rgba(run: RunData) -> np.ndarray:
    """``(G, B)`` uint32 RGBA image of the heatmap (row 0 = first group)."""
    palette = np.array([rgba(c) for c in HEAT_COLOURS], dtype=np.uint32)
    return palette[heatmap_levels(run.heat_shares)]


def rgba(colour: str) -> int:
    """``"#rrggbb"`` as a little-endian uint32 RGBA value (opaque)."""
    r, g, b = (int(colour[i:i + 2], 16) for i in (1, 3, 5))
    return r | (g << 8) | (b << 16) | (255 << 24)
