"""Every run-dependent property of the player's bokeh figures, as data (no figures here).

:func:`figure_values` answers ``{model: {path: value}}``: the model is the name a figure or
source carries without its player id (``group_grid_0``, ``segments_0``, ``bandwidth``), the path
an attribute chain from it (``title.text``, ``x_range.end``, ``left[0].ticker.ticks``, ``data``).
:mod:`._player_figures` builds the figures' structure, which depends only on the player's width
and its number of runs, and applies these values to the bokeh models; :mod:`._player_doc`
applies the same values to a serialised document of that structure instead of building and
serialising the figures again (issue 15). One function decides what a figure shows, so the two
paths cannot drift apart (``tests/test_player_doc.py`` compares them).
"""
from __future__ import annotations

import math

import numpy as np

from .player_data import RunData
from .player_style import HEAT_COLOURS, SMOOTH_CYCLES, STATE_COLOURS, heat_rgba, rgba

__all__ = ["figure_values", "group_cells", "heat_ticks", "elide", "short_label", "short_labels",
           "busiest_group", "group_sizes", "Values", "UNIT_CELL", "UNIT_COLUMNS"]

Values = dict[str, dict[str, object]]

_GROUP_CELL_MIN = 60     # px per group cell (at least)
_GROUP_ROW = 34          # px per row of group cells
_CHAR_PX = 6.2           # average width of a 9-10 px label character
_LABEL_PX = 12           # heatmap: at least this many px between row labels
_STATE_NAMES = ("idle", "busy", "stalled on input", "stalled on output")
UNIT_CELL = 64           # px per unit of the drilled-into group (labels from 56 px)
UNIT_COLUMNS = ("x", "y", "name", "op", "label", "fill", "alpha", "state", "busy")


def elide(text: str, chars: int) -> str:
    """``text`` cut to ``chars`` characters keeping its tail (``…expert 12``); '' if < 2."""
    if chars < 2:
        return ""
    return text if len(text) <= chars else "…" + text[len(text) - chars + 1:]


def _label_levels(text: str) -> list[str]:
    """``text`` at each abbreviation level, longest first (see :func:`short_label`)."""
    last = text.split(" / ")[-1]
    words = last.split()
    shorter = " ".join(w[:3] + "." if w.isalpha() and len(w) > 4 else w for w in words)
    initials = "".join(w[0] if w.isalpha() else w for w in words)
    return [text, last, shorter, initials]


def short_label(text: str, chars: int) -> str:
    """A group name in at most ``chars`` characters, the most telling part kept:
    ``moe / expert 127`` → ``expert 127`` → ``exp. 127`` → ``e127`` → ``…t 127``."""
    return short_labels([text], chars)[0]


def short_labels(texts: list[str], chars: int) -> list[str]:
    """Group names in at most ``chars`` characters each; names of one family (the same words,
    other numbers) share one abbreviation level — the first at which every one of them fits —
    so neighbours read alike: ``exp. 99`` beside ``exp. 100``, never ``expert 99`` beside
    ``exp. 100``; a lone ``combine`` keeps its full name."""
    levels = [_label_levels(t) for t in texts]
    families: dict[tuple, list[int]] = {}
    for i, text in enumerate(texts):
        key = tuple(w for w in text.split(" / ")[-1].split() if w.isalpha())
        families.setdefault(key, []).append(i)
    out = [""] * len(texts)
    for members in families.values():
        depth = next((d for d in range(4)
                      if all(len(levels[i][d]) <= chars for i in members)), None)
        for i in members:
            out[i] = levels[i][depth] if depth is not None else elide(levels[i][1], chars)
    return out


def group_cells(count: int, width: int) -> tuple[int, int, int]:
    """``(columns, rows, cell px)`` of ``count`` group cells in ``width`` pixels."""
    cols = max(1, min(count, width // _GROUP_CELL_MIN))
    return cols, max(1, math.ceil(count / cols)), width // cols


def heat_ticks(count: int, row_px: float) -> list[int]:
    """Indices of the heatmap rows that get a label: every k-th so labels are >= 12 px apart."""
    step = max(1, math.ceil(_LABEL_PX / max(row_px, 1e-9)))
    return list(range(0, count, step))


def group_sizes(run: RunData) -> list[int]:
    """Units per group."""
    return np.bincount(run.unit_group, minlength=len(run.groups)).tolist()


def busiest_group(run: RunData) -> int:
    """The group drilled into at start: the most non-idle unit-cycles (0 if no groups)."""
    if not len(run.groups):
        return 0
    active = 1.0 - run.heat_shares[:, :, 0]                      # (G, B) non-idle share
    weight = active.sum(axis=1) * np.array(group_sizes(run))
    return int(np.argmax(weight))


def figure_values(runs: list[RunData], boundaries: np.ndarray, width: int,
                  names: list[str]) -> Values:
    """``{model: {path: value}}`` of every run-dependent property (see the module docstring);
    ``width`` is the whole player's, ``names`` the runs' display names."""
    column = width // len(runs)
    x_end = int(boundaries[-1])
    values: Values = {}
    for r, run in enumerate(runs):
        values.update(_group_values(run, r, names[r], column))
        prefix = f"{names[r]}: " if len(runs) > 1 else ""
        values.update(_unit_grid_values(run, r, prefix, column - 40, values[f"groups_{r}"]))
        values.update(_heat_values(run, r, names[r], column, x_end))
        values.update(_fifo_values(run, r, names[r]))
    values.update(_bandwidth_values(runs, boundaries, names))
    return values


def _group_values(run: RunData, r: int, name: str, width: int) -> Values:
    count = len(run.groups)
    cols, rows, cell = group_cells(count, width - 20)
    cx = [g % cols + 0.5 for g in range(count)]
    cy = [-(g // cols) - 0.35 for g in range(count)]
    sizes = group_sizes(run)
    seg: dict[str, list] = {k: [] for k in ("left", "right", "top", "bottom", "color", "group",
                                            "state", "share", "units")}
    for g in range(count):
        for s in (1, 2, 3, 0):                 # busy, stalled in, stalled out, idle
            seg["left"].append(cx[g] - 0.42)
            seg["right"].append(cx[g] - 0.42 + (0.84 if s == 0 else 0.0))
            seg["top"].append(cy[g] + 0.22)
            seg["bottom"].append(cy[g] - 0.22)
            seg["color"].append(STATE_COLOURS[s])
            seg["group"].append(run.groups[g])
            seg["state"].append(_STATE_NAMES[s])
            seg["share"].append("100%" if s == 0 else "0%")
            seg["units"].append(sizes[g])
    chars = int(cell * 0.92 / _CHAR_PX)
    return {f"group_grid_{r}": {"height": 50 + rows * _GROUP_ROW, "x_range.end": cols,
                                "y_range.start": -rows,
                                "title.text": f"{name}: {count} group{'s' if count != 1 else ''}"
                                              f", {len(run.unit_names):,} units"},
            f"groups_{r}": {"data": {"cx": cx, "cy": cy}},
            f"segments_{r}": {"data": seg, "selected.indices": []},   # no cell tapped yet
            f"group_labels_{r}": {"data": {"x": cx, "y": [y - 0.3 for y in cy],
                                           "text": short_labels(run.groups, chars)}}}


def _unit_grid_values(run: RunData, r: int, prefix: str, width: int, centres: dict) -> Values:
    """The units of the group drilled into at start, laid out as the browser's ``drill`` lays
    them out (:mod:`._player_js`): the page then draws them without a second layout pass
    (BokehJS re-lays out the document when a figure's size changes: ~0.2 s at Qwen3 scale)."""
    if not run.groups:                          # nothing to drill into: the empty grid
        return {f"unit_grid_{r}": {"x_range.start": -0.55, "x_range.end": 1,
                                   "y_range.start": -1, "y_range.end": 0.55, "height": 100,
                                   "width": width + 40, "title.text": "units"},
                f"units_{r}": {"data": {k: [] for k in UNIT_COLUMNS}},
                f"group_mark_{r}": {"data": {"x": [], "y": []}}}
    g = busiest_group(run)
    members = np.flatnonzero(run.unit_group == g).tolist()
    n = len(members)
    cols = max(1, min(n, width // UNIT_CELL))
    rows = -(-n // cols)
    chars = int(UNIT_CELL / _CHAR_PX) if UNIT_CELL >= 56 else 0
    names = [run.unit_names[u] for u in members]
    data = {"x": [i % cols for i in range(n)], "y": [-(i // cols) for i in range(n)],
            "name": names, "op": [run.unit_ops[u] for u in members],
            "label": [elide(name, chars) for name in names], "fill": [STATE_COLOURS[0]] * n,
            "alpha": [1] * n, "state": [_STATE_NAMES[0]] * n, "busy": ["0%"] * n}
    return {f"unit_grid_{r}": {"x_range.start": -0.55, "x_range.end": cols - 0.45,
                               "y_range.start": -rows + 0.4, "y_range.end": 0.55,
                               "height": 40 + rows * UNIT_CELL, "width": 30 + cols * UNIT_CELL,
                               "title.text": f"{prefix}{run.groups[g]} — {n} unit"
                                             f"{'' if n == 1 else 's'}"},
            f"units_{r}": {"data": data},
            f"group_mark_{r}": {"data": {"x": [centres["data"]["cx"][g]],
                                         "y": [centres["data"]["cy"][g]]}}}


def _heat_values(run: RunData, r: int, name: str, width: int, x_end: int) -> Values:
    count = len(run.groups)
    row_px = min(24.0, max(3.0, 420.0 / max(count, 1)))
    cycles = int(run.heat_edges[-1])
    image = heat_rgba(run)[::-1]                    # image row 0 is drawn at the bottom
    if count == 0:                                  # no units placed: one idle row
        image = np.full((1, len(run.heat_edges) - 1), rgba(HEAT_COLOURS[0]), dtype=np.uint32)
    ticks = heat_ticks(count, row_px)
    labels = short_labels([run.groups[g] for g in ticks], 16)
    thinned = f"groups (1 in {ticks[1] - ticks[0]} labelled)" if len(ticks) < count else None
    x_end, y_start = max(cycles, x_end), -max(count, 1)
    # start, end and reset points all set: a replaced player's figures may have been panned
    # or zoomed (the browser reuses them, _player_js)
    return {f"heatmap_{r}": {
                "height": max(140, int(90 + row_px * count)),
                "x_range.start": 0, "x_range.end": x_end, "x_range.reset_start": 0,
                "x_range.reset_end": x_end, "y_range.start": y_start, "y_range.end": 0,
                "y_range.reset_start": y_start, "y_range.reset_end": 0,
                "title.text": f"{name}: utilization, bins of "
                              f"{cycles / max(len(run.heat_edges) - 1, 1):,.0f} cycles",
                "left[0].ticker.ticks": [-g - 0.5 for g in ticks],
                "left[0].major_label_overrides": {-g - 0.5: text for g, text
                                                  in zip(ticks, labels, strict=True)},
                "left[0].axis_label": thinned},
            f"heat_{r}": {"data": {"image": [np.ascontiguousarray(image)], "x": [0],
                                   "y": [-max(count, 1)], "dw": [cycles],
                                   "dh": [max(count, 1)]}},
            f"heat_names_{r}": {"args": {"names": list(run.groups)}}}


def _fifo_values(run: RunData, r: int, name: str) -> Values:
    n = len(run.fifo_names)
    shown = (f"{n} fullest of {run.fifo_total:,} FIFOs (by mean fill)" if n < run.fifo_total
             else f"all {n} FIFOs")
    return {f"fifo_fill_{r}": {"visible": n > 0, "title.text": f"{name}: FIFO fill (this frame)",
                               "below[0].axis_label": shown},
            f"fifos_{r}": {"data": {"x": list(range(n)), "name": list(run.fifo_names),
                                    "capacity": run.fifo_capacity.tolist(),
                                    "fill_level": [0.0] * n}}}


def _bandwidth_values(runs: list[RunData], boundaries: np.ndarray, names: list[str]) -> Values:
    mid = (boundaries[:-1] + boundaries[1:]) / 2
    k = max(1, round(SMOOTH_CYCLES / max(float(np.diff(boundaries).mean()), 1.0)))
    peak = max(run.peak for run in runs)
    out: Values = {"bandwidth": {
        "title.text": "off-chip bandwidth" + (f" (moving average over {SMOOTH_CYCLES} cycles)"
                                              if k > 1 else " (average per frame)"),
        "y_range.end": peak * 1.3}, "peak": {"location": peak},
        "peak_label": {"y": peak, "text": f"peak {peak:,.0f} bytes/cycle"}}
    for i, run in enumerate(runs):
        series = (np.convolve(run.bandwidth, np.ones(k) / k, mode="same") if k > 1
                  else run.bandwidth)
        # numpy columns: sent as binary arrays (the browser only draws them)
        out[f"bandwidth_{i}"] = {"data": {
            "cycle": np.asarray(mid, dtype=np.float64),
            "bandwidth": np.asarray(series, dtype=np.float64).round(2)}}
    if len(runs) > 1:
        from bokeh.core.properties import value
        out["bandwidth_legend"] = {f"items[{i}].label": value(n) for i, n in enumerate(names)}
    return out
