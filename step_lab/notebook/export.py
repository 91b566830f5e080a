"""Notebook views as self-contained HTML fragments for ``report.html`` (offline, no CDN).

``report_fragments(program, result)`` returns ``[(heading, html), …]`` — the pairs
:func:`step_lab.report.write_report` takes as ``sections``: the graph SVG annotated with busy %,
a static bokeh occupancy timeline plus off-chip bandwidth, and "why is it slow?" (verdict and
roofline), with BokehJS inlined (once: pass
``include_bokehjs=False`` for further fragments on the same page).
"""
from __future__ import annotations

from .graph import graph_html

__all__ = ["report_fragments", "bokeh_fragment", "bokehjs_html", "why_section"]


def report_fragments(program, result, *, title: str = "", include_bokehjs: bool = True,
                     max_frames: int = 600) -> list[tuple[str, str]]:
    """``[(heading, html fragment), …]`` for ``program`` simulated as ``result``.

    The occupancy fragment needs a result simulated with ``trace=True``; without a trace it is
    replaced by a one-line note. ``max_frames`` bounds the timeline's resolution (and size).
    """
    name = title or program.name
    sections = [(f"{name}: graph", graph_html(program, result, annotate="busy", fit=True))]
    if getattr(result, "trace", None) is None:
        note = "<p class='note'>(simulate with trace=True to include the occupancy timeline)</p>"
        return sections + [(f"{name}: occupancy", note),
                           why_section(result, name, include_bokehjs=include_bokehjs)]
    from bokeh.layouts import column

    from .frames import compute_frames
    from .occupancy import occupancy_from_result
    from .plots import BandwidthPlot, legend_html, timeline_figure
    occ = occupancy_from_result(result, program, name)
    frames = compute_frames(occ, max_frames=max_frames)
    bandwidth = BandwidthPlot(1)
    bandwidth.set_runs([occ], [frames])
    bandwidth.figure.width = 900
    bandwidth.cursor.visible = False
    layout = column(timeline_figure(occ, frames, f"{name}: unit state over time"),
                    bandwidth.figure)
    body = f"<div>{legend_html()}</div>" + bokeh_fragment(layout)
    if include_bokehjs:
        body = bokehjs_html() + body
    return sections + [(f"{name}: occupancy", body),
                       why_section(result, name, include_bokehjs=False)]


def why_section(result, name: str, *, include_bokehjs: bool = True, variants=None) -> tuple:
    """``(heading, html)``: the "why is it slow?" verdict and the bokeh roofline."""
    from .roofline import roofline_fragment, why_html
    why = result.why_slow(variants)
    return (f"{name}: why is it slow?",
            why_html(why) + roofline_fragment(why, include_bokehjs=include_bokehjs))


def bokeh_fragment(layout) -> str:
    """``<script>`` + ``<div>`` of a bokeh layout (BokehJS must be on the page)."""
    from bokeh.embed import components
    script, div = components(layout)
    return f"{script}\n{div}"


def bokehjs_html() -> str:
    """BokehJS (core only) inlined as ``<script>`` tags: the page works offline."""
    from bokeh.resources import Resources
    resources = Resources(mode="inline", components=["bokeh"])
    return resources.render_js() + resources.render_css()

