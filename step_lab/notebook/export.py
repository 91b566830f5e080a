"""Notebook views as self-contained HTML fragments for ``report.html`` (offline, no CDN).

``report_fragments(program, result)`` returns ``[(heading, html), …]`` — the pairs
:func:`step_lab.report.write_report` takes as ``sections``: the graph SVG annotated with busy %,
and the occupancy player (:mod:`.player`: it plays in the browser, from ``file://`` too), and
"why is it slow?" (verdict and roofline), with BokehJS inlined (pass ``include_bokehjs=False``
for further fragments on the same page: the first one's BokehJS serves them all).
"""
from __future__ import annotations

from .bokeh_html import bokeh_fragment, bokehjs_html
from .frames import MAX_FRAMES
from .graph import graph_html

__all__ = ["report_fragments", "player_fragment", "bokeh_fragment", "bokehjs_html",
           "why_section"]


def report_fragments(program, result, *, title: str = "", include_bokehjs: bool = True,
                     max_frames: int = MAX_FRAMES) -> list[tuple[str, str]]:
    """``[(heading, html fragment), …]`` for ``program`` simulated as ``result``.

    The occupancy fragment needs a result simulated with ``trace=True``; without a trace it is
    replaced by a one-line note.
    """
    name = title or program.name
    sections = [(f"{name}: graph", graph_html(program, result, annotate="busy", fit=True))]
    traced = getattr(result, "trace", None) is not None      # else the roofline brings BokehJS
    player = player_fragment(program, result, label=name, max_frames=max_frames,
                             include_bokehjs=include_bokehjs and traced)
    return sections + [(f"{name}: occupancy", player),
                       why_section(result, name, include_bokehjs=include_bokehjs and not traced)]


def player_fragment(program, result, *, label: str = "", include_bokehjs: bool = True,
                    max_frames: int = MAX_FRAMES) -> str:
    """The player of one traced run as an HTML fragment (or a note when there is no trace)."""
    if getattr(result, "trace", None) is None:
        return "<p class='note'>(simulate with trace=True to include the occupancy player)</p>"
    from .player import player_for
    player = player_for([result], [program], [label or program.name], max_frames=max_frames)
    return player.html(include_bokehjs=include_bokehjs)


def why_section(result, name: str, *, include_bokehjs: bool = True, variants=None) -> tuple:
    """``(heading, html)``: the "why is it slow?" verdict and the bokeh roofline."""
    from .roofline import roofline_fragment, why_html
    why = result.why_slow(variants)
    return (f"{name}: why is it slow?",
            why_html(why) + roofline_fragment(why, include_bokehjs=include_bokehjs))
