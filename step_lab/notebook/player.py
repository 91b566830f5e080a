"""The occupancy player: one self-contained HTML output that plays a run in the browser.

``Player(runs)`` ships every run once, compactly (:mod:`.player_data`), and plays it
client-side (:mod:`._player_js` drives the bokeh document's sources): play / pause / step /
scrub / speed / loop, no kernel round trip, so another cell can run while it plays. The same
HTML works in JupyterLab (also after a page reload and in saved notebooks), in nbconvert's HTML
export and in a standalone page opened from ``file://``: every output carries BokehJS INLINE and
loads it only when the page does not have this version yet. The bokeh document comes from a
cached document of the same structure (:mod:`._player_doc`); in a knob panel, a new player
takes over the figures of the one it replaces and patches in its own values (:mod:`._player_js`).

The view, per run: one cell per *group* of units (share busy / stalled on input / stalled on
output / idle; click a cell or pick a group to drill into its units), the selected group's units,
a utilization heatmap of the whole run (rows = groups, x = cycle bins), the fill of the fullest
FIFOs, and the off-chip bandwidth with its labelled peak.

[Choice] Frames are numbered from 1 everywhere (slider, readout and the root's ``data-frame``).
[Choice] 1× plays 20 frames per second; speeds 0.25× … 16× scale that.
[Choice] The drilled-into group at start is the group with the most non-idle unit-cycles.
"""
from __future__ import annotations

import html
import json
import uuid
from functools import lru_cache

import numpy as np

from ._player_values import UNIT_CELL, busiest_group, group_sizes
from ._simtrace import occupancy_from_result
from .frames import MAX_FRAMES, frame_boundaries
from .occupancy import STATES, Occupancy
from .player_data import LEVELS, RunData, build_run, encode_array
from .player_style import HEAT_COLOURS, STATE_COLOURS

__all__ = ["Player", "player_for", "bokehjs_loader", "FPS", "SPEEDS", "HEAT_COLOURS"]

FPS = 20
SPEEDS = (0.25, 0.5, 1, 2, 4, 8, 16)
_SVG = ("<svg width='14' height='14' viewBox='0 0 14 14' aria-hidden='true' "
        "style='vertical-align:middle'>{}</svg>")
ICON_PLAY = _SVG.format("<path d='M3 1.5 L12.5 7 L3 12.5 Z' fill='#222'/>")
ICON_PAUSE = _SVG.format("<rect x='2.5' y='1.5' width='3.2' height='11' fill='#222'/>"
                         "<rect x='8.3' y='1.5' width='3.2' height='11' fill='#222'/>")
_ICON_BACK = _SVG.format("<rect x='1.5' y='2' width='2' height='10' fill='#222'/>"
                         "<path d='M12.5 2 L4.5 7 L12.5 12 Z' fill='#222'/>")
_ICON_FWD = _SVG.format("<rect x='10.5' y='2' width='2' height='10' fill='#222'/>"
                        "<path d='M1.5 2 L9.5 7 L1.5 12 Z' fill='#222'/>")
WIDTH = 900             # pixels for all runs side by side (fits JupyterLab's output area)


def player_for(results, programs=None, labels=None, *, max_frames: int = MAX_FRAMES) -> Player:
    """A :class:`Player` of SimResults (recorded with ``trace=True``) or Occupancy records."""
    results = list(results)
    programs = list(programs or [None] * len(results))
    labels = list(labels or [""] * len(results))
    runs = []
    for result, program, label in zip(results, programs, labels, strict=False):
        if isinstance(result, Occupancy):
            if label:
                result.label = label
            runs.append(result)
        else:
            runs.append(occupancy_from_result(result, program, label))
    return Player(runs, programs, max_frames=max_frames)


class Player:
    """The browser player of one or more runs on one shared cycle axis."""

    def __init__(self, runs: list, programs=None, *, max_frames: int = MAX_FRAMES,
                 width: int = WIDTH):
        if not runs:
            raise ValueError("Player: no runs given (expected at least one Occupancy)")
        programs = list(programs or [None] * len(runs))
        self.width = width
        self.boundaries = frame_boundaries(max(o.cycles for o in runs), max_frames)
        self.runs: list[RunData] = [build_run(o, self.boundaries, p)
                                    for o, p in zip(runs, programs, strict=False)]

    @property
    def count(self) -> int:
        """Number of frames."""
        return len(self.boundaries) - 1

    def payload(self) -> dict:
        """The JSON data the browser plays (without BokehJS and without the bokeh figures)."""
        return {"boundaries": encode_array(self.boundaries, np.int32), "fps": FPS,
                "speeds": list(SPEEDS), "unit_cell_px": UNIT_CELL,
                "unit_grid_width": self._column_width() - 40,
                "runs": [dict(run.payload(), default_group=busiest_group(run),
                              label_prefix=f"{self._name(i)}: " if len(self.runs) > 1 else "")
                         for i, run in enumerate(self.runs)]}

    def _name(self, i: int) -> str:
        return self.runs[i].label or (f"run {i + 1}" if len(self.runs) > 1 else "units")

    def _column_width(self) -> int:
        return self.width // len(self.runs)

    # -- HTML ------------------------------------------------------------------------------
    def html(self, include_bokehjs: bool = True, *, replaceable: bool = False) -> str:
        """The player as one HTML fragment (BokehJS inlined unless ``include_bokehjs=False``:
        then the page must load BokehJS itself, e.g. with :func:`bokehjs_loader`).
        ``replaceable=True`` (a knob panel's outputs) adds its figure values as a patch, for
        the browser to redraw the figures of the player it replaces with them."""
        from ._player_doc import document_item
        from ._player_js import PLAYER_JS
        pid = "step-player-" + uuid.uuid4().hex[:12]
        events: list | None = [] if replaceable else None
        item = document_item(len(self.runs), pid, self.width, self.figure_values(), events)
        parts = [f"<div class='step-lab-player step-lab-animation' id='{pid}' data-step-player"
                 f" data-frame='1' data-frames='{self.count}'"
                 f" data-structure='{len(self.runs)}x{self.width}'>", self._controls_html(),
                 self._groups_html(), _legend_html(), "<div class='sp-error' "
                 "style='color:#b00020'></div>", f"<div id='{pid}-plot'></div>",
                 _json_script(f"{pid}-data", self.payload()),
                 _json_script(f"{pid}-doc", item),
                 _json_script(f"{pid}-patch", {"events": events}) if events is not None else "",
                 _json_script(f"{pid}-icons", {"play": ICON_PLAY, "pause": ICON_PAUSE})]
        if include_bokehjs:
            parts.append(bokehjs_loader())
        parts.append(f"<script>{PLAYER_JS}\nwindow.StepLabPlayer.start('{pid}');</script></div>")
        return "".join(parts)

    def _repr_html_(self) -> str:
        return self.html()

    def _controls_html(self) -> str:
        b = self.boundaries
        speeds = "".join(f"<option value='{s}'{' selected' if s == 1 else ''}>{s:g}×</option>"
                         for s in SPEEDS)
        button = ("style='font-size:15px;min-width:34px;height:28px;cursor:pointer;"
                  "border:1px solid #bbb;border-radius:4px;background:#f7f7f7'")
        return ("<div class='sp-controls' style='display:flex;gap:8px;align-items:center;"
                "flex-wrap:wrap;margin:4px 0;font:13px system-ui,sans-serif'>"
                f"<button class='sp-back' aria-label='step back' title='previous frame' {button}>"
                f"{_ICON_BACK}</button>"
                f"<button class='sp-play' aria-label='play' title='play / pause' {button}>"
                f"{ICON_PLAY}</button>"
                f"<button class='sp-fwd' aria-label='step forward' title='next frame' {button}>"
                f"{_ICON_FWD}</button>"
                f"<input class='sp-slider' type='range' min='1' max='{self.count}' value='1' "
                "aria-label='frame' style='width:360px'>"
                f"<span class='sp-readout step-lab-clock' style='font-variant-numeric:"
                f"tabular-nums'>frame 1 / {self.count:,} · cycles {int(b[0]):,}–{int(b[1]):,}"
                f" of {int(b[-1]):,}</span>"
                f"<label>speed <select class='sp-speed' aria-label='speed'>{speeds}</select>"
                "</label><label><input type='checkbox' class='sp-loop' aria-label='loop'> loop"
                "</label></div>")

    def _groups_html(self) -> str:
        parts = []
        for r, run in enumerate(self.runs):
            default = busiest_group(run)
            options = "".join(f"<option value='{g}'{' selected' if g == default else ''}>"
                              f"{html.escape(name)} ({n} unit{'s' if n != 1 else ''})</option>"
                              for g, (name, n)
                              in enumerate(zip(run.groups, group_sizes(run), strict=True)))
            prefix = f"{html.escape(self._name(r))}: " if len(self.runs) > 1 else ""
            parts.append(f"<label style='margin-right:16px'>{prefix}units of "
                         f"<select class='sp-group' data-run='{r}' aria-label='group'>"
                         f"{options}</select></label>")
        return ("<div class='sp-groups' style='font:13px system-ui,sans-serif;margin:2px 0'>"
                + "".join(parts) + " <span style='color:#777'>(or click a group cell)</span>"
                "</div>")

    # -- bokeh ---------------------------------------------------------------------------
    def figure_values(self) -> dict:
        """Every run-dependent property of the figures (:mod:`._player_values`)."""
        from ._player_values import figure_values
        return figure_values(self.runs, self.boundaries, self.width,
                             [self._name(r) for r in range(len(self.runs))])

    def layout(self, pid: str):
        """The bokeh layout; models the browser drives are named ``{pid}:{name}``."""
        from ._player_figures import player_layout
        return player_layout(len(self.runs), pid, self.width, self.figure_values())


def _json_script(element_id: str, value) -> str:
    text = json.dumps(value, separators=(",", ":")).replace("</", "<\\/")
    return f"<script type='application/json' id='{element_id}'>{text}</script>"


def _legend_html() -> str:
    """Every colour the player draws: unit states at three strengths (a unit's colour is the
    state it spent most of the frame in, paler when it held that state only part of it) and
    the heatmap's shades per state."""
    swatch = ("<span style='display:inline-block;width:12px;height:12px;background:{};"
              "opacity:{};border:1px solid #999;vertical-align:middle'></span>")
    units = []
    for colour, state in zip(STATE_COLOURS, STATES, strict=True):
        shades = "".join(swatch.format(colour, a) for a in (0.35, 0.68, 1.0))
        units.append(f"<span style='margin-right:12px;white-space:nowrap'>{shades} {state}"
                     "</span>")
    heat = [f"<span style='white-space:nowrap'>{swatch.format(HEAT_COLOURS[0], 1)} idle</span>"]
    for s, state in enumerate(STATES[1:]):
        shades = "".join(swatch.format(HEAT_COLOURS[1 + s * LEVELS + k], 1)
                         for k in range(LEVELS))
        heat.append(f"<span style='white-space:nowrap'>{shades} {state}</span>")
    steps = " / ".join(f"≤{100 * (k + 1) // LEVELS}%" for k in range(LEVELS))
    return ("<div class='sp-legend' style='font:12px system-ui,sans-serif;color:#333;"
            "margin:4px 0'><div><b>units and group cells</b> (pale → full: share of the frame "
            "in that state): " + "".join(units) + "</div><div><b>heatmap</b> (dominant state "
            f"of the group's units per bin; shades {steps} of unit-cycles): "
            + " &nbsp; ".join(heat) + "</div></div>")


_LOADER = """<script type='text/x-step-lab-bokehjs' class='step-lab-bokehjs' data-version='{v}'>
{code}
</script><script>(function () {{
  if (window.Bokeh && window.Bokeh.version === '{v}' && window.Bokeh.embed) {{ return; }}
  var holders = document.querySelectorAll("script.step-lab-bokehjs[data-version='{v}']");
  var holder = holders[holders.length - 1];
  var s = document.createElement('script');
  s.textContent = holder.textContent;
  document.head.appendChild(s);
}})();</script>"""


@lru_cache(maxsize=1)
def bokehjs_loader() -> str:
    """BokehJS (core) INLINE, evaluated only if the page has no BokehJS of this version.

    Every output carries it, so an output works after a page reload, in a saved notebook and in
    exported HTML; the check keeps a page from evaluating it twice.
    """
    import bokeh
    from bokeh.resources import Resources
    code = "\n".join(Resources(mode="inline", components=["bokeh"]).js_raw)
    return _LOADER.format(v=bokeh.__version__, code=code.replace("</script", "<\\/script"))
