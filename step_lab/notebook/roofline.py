"""Views of "why is it slow?": an HTML verdict and a bokeh roofline (notebooks and reports).

* :func:`why_html` — the bound, the reason, what moves it, and the most stalled units with the
  channel each waits on (plain HTML; works in widgets, outputs and reports).
* :func:`roofline_figure` — a bokeh plot, log-log: x = FLOPs per off-chip byte, y = achieved
  FLOPs per cycle; the off-chip bandwidth roof (slope) and the allocated-compute roof (flat),
  named with their values in a legend below the plot (never on top of the data); the run (red)
  and knob variants already simulated (blue), labelled where a label fits without overlapping
  (all named in the hover tooltip).
  Axis ticks read ``10``, ``1k``, ``2.5M`` (SI), never ``1.000e+6``.
* :func:`roofline_fragment` — ``<script>`` + ``<div>`` for a report (BokehJS inlined unless
  the page already has it); :func:`roofline_iframe` — the plot as a self-contained
  ``<iframe srcdoc>`` for notebook outputs. [Choice] An iframe with INLINE BokehJS survives a
  page reload and a saved notebook (it does not depend on BokehJS having been injected into the
  page once per kernel), at the price of ~1.3 MB per plot: the panel draws it only when its
  "roofline" toggle is on.
"""
from __future__ import annotations

import html
import math

__all__ = ["why_html", "roofline_figure", "roofline_fragment", "roofline_iframe", "roofline_svg",
           "si"]

_SI_JS = """
const a = Math.abs(tick);
const units = [[1e12, "T"], [1e9, "G"], [1e6, "M"], [1e3, "k"]];
for (const [d, u] of units) { if (a >= d) { return +(tick / d).toPrecision(3) + u; } }
if (a >= 1 || a === 0) { return String(+tick.toPrecision(3)); }
return String(+tick.toPrecision(2));
"""


def si(value: float) -> str:
    """``1234567 -> '1.23M'``, ``1024 -> '1,024'``, ``0.25 -> '0.25'`` (roofline labels)."""
    a = abs(value)
    if 1000 <= a < 1e6 and float(value).is_integer():
        return f"{int(value):,}"
    for div, unit in ((1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            return f"{value / div:.3g}{unit}"
    return f"{value:.3g}"


_CELL = "padding:1px 10px 1px 0;border:0;"


def why_html(b) -> str:
    """The verdict as an HTML block (class ``step-lab-why``)."""
    colour = {"offchip": "#1f77b4", "compute": "#2ca02c", "unit": "#9467bd",
              "backpressure": "#d62728", "latency": "#7f7f7f"}[b.bound]
    left, right = f"style='{_CELL}text-align:left'", f"style='{_CELL}text-align:right'"
    rows = "".join(
        f"<tr><td {left}>{html.escape(s.name)}</td><td {left}>{html.escape(s.op)}</td>"
        f"<td {right}>{s.stalled:,}</td><td {right}>{s.stalled / max(b.cycles, 1):.0%}</td>"
        f"<td {left}>{html.escape(s.waits_for)}</td>"
        f"<td {left}>{html.escape(s.waits_on or '–')}</td></tr>"
        for s in b.top_stalled)
    head = "".join(f"<th {right if i in (2, 3) else left}>{t}</th>" for i, t in enumerate(
        ("most stalled units", "op", "stalled cycles", "of run", "waits for", "channel")))
    table = ("<table style='border-collapse:collapse;font-size:12px;margin-top:4px'>"
             f"<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>") if rows else ""
    return (f"<div class='step-lab-why' data-bound='{b.bound}' style='font:13px sans-serif;"
            f"border-left:4px solid {colour};padding:4px 10px;margin:6px 0'>"
            f"<b>Why is it slow?</b> {html.escape(b.headline())}<br>"
            f"<span style='color:#444'>{html.escape(b.reason)}</span><br>"
            f"<span style='color:#444'><b>What moves it:</b> {html.escape(b.knob)}</span>"
            f"{table}</div>")


def roofline_figure(b, *, width: int = 640, height: int = 460):
    """The bokeh roofline of a :class:`~step_lab.sim.bottleneck.Bottleneck`."""
    from bokeh.models import (
        ColumnDataSource,
        CustomJSTickFormatter,
        HoverTool,
        Label,
        Legend,
        LegendItem,
    )
    from bokeh.plotting import figure
    roof = b.roofline
    pts = [p for p in roof.points if p.flops > 0 and p.offchip_bytes > 0 and p.cycles > 0]
    xs = [p.intensity for p in pts] or [roof.ridge or 1.0]
    lo = min(min(xs), roof.ridge or min(xs)) / 8
    hi = max(max(xs), roof.ridge or max(xs)) * 8
    top = max([roof.compute] + [p.achieved for p in pts]) * 3
    bottom = min([roof.bandwidth * lo] + [p.achieved for p in pts]) / 3
    fig = figure(width=width, height=height, x_axis_type="log", y_axis_type="log",
                 x_range=(lo, hi), y_range=(max(bottom, 1e-3), top),
                 title=f"{b.program}: roofline", toolbar_location="right",
                 tools="pan,wheel_zoom,box_zoom,reset,save")
    fig.xaxis.axis_label = "arithmetic intensity [FLOPs per off-chip byte]"
    fig.yaxis.axis_label = roof.compute_label
    for axis in (fig.xaxis, fig.yaxis):
        axis.formatter = CustomJSTickFormatter(code=_SI_JS)
    ridge = roof.ridge
    bw_line = fig.line([lo, ridge], [roof.bandwidth * lo, roof.compute], line_width=2.5,
                       color="#1f4e79")
    cp_line = fig.line([ridge, hi], [roof.compute, roof.compute], line_width=2.5,
                       color="#2e7d32")
    items = [LegendItem(label=f"roof: off-chip bandwidth {si(roof.bandwidth)} B/cycle",
                        renderers=[bw_line]),
             LegendItem(label=f"roof: allocated compute {si(roof.compute)} FLOPs/cycle",
                        renderers=[cp_line])]
    if pts:
        offsets = _label_offsets(fig, pts)
        src = ColumnDataSource({
            "x": [p.intensity for p in pts], "y": [p.achieved for p in pts],
            "label": [p.label for p in pts], "cycles": [f"{p.cycles:,}" for p in pts],
            "colour": ["#d62728" if p.current else "#1f77b4" for p in pts],
            "size": [13 if p.current else 9 for p in pts],
            "text": [p.label if off is not None else ""
                     for p, off in zip(pts, offsets, strict=True)],
            "dx": [off[0] if off else 0 for off in offsets],
            "dy": [off[1] if off else 0 for off in offsets]})
        dots = fig.scatter("x", "y", source=src, color="colour", size="size", alpha=0.9,
                           line_color="white")
        fig.text("x", "y", text="text", source=src, x_offset="dx", y_offset="dy",
                 text_font_size="11px", text_color="colour", text_baseline="middle")
        fig.add_tools(HoverTool(renderers=[dots], tooltips=[
            ("run", "@label"), ("FLOPs per byte", "@x{0,0.[00]}"),
            ("FLOPs per cycle", "@y{0,0.[00]}"), ("cycles", "@cycles")]))
    else:
        fig.add_layout(Label(x=math.sqrt(lo * hi), y=math.sqrt(max(bottom, 1e-3) * top),
                             text="no FLOPs or no off-chip bytes: the run has no point here",
                             text_align="center", text_font_size="12px", text_color="#777"))
    fig.add_layout(Legend(items=items, location="center", orientation="vertical",
                          label_text_font_size="11px"), "below")
    return fig


def _label_offsets(fig, pts) -> list:
    """Screen offsets (px) for point labels so they overlap neither each other nor the dots;
    None for a label that finds no free place (it is still named by the hover tooltip)."""
    x0, x1 = math.log10(fig.x_range.start), math.log10(fig.x_range.end)
    y0, y1 = math.log10(fig.y_range.start), math.log10(fig.y_range.end)
    w, h = fig.width - 80, fig.height - 120           # rough plot-area size
    screen = [((math.log10(p.intensity) - x0) / (x1 - x0) * w,
               (math.log10(p.achieved) - y0) / (y1 - y0) * h) for p in pts]
    boxes = [(x - 6, y - 6, x + 6, y + 6) for x, y in screen]      # the dots
    order = sorted(range(len(pts)), key=lambda i: (not pts[i].current, i))
    out: list = [None] * len(pts)
    for i in order:
        x, y = screen[i]
        tw = 6.5 * len(pts[i].label)
        for dx, dy in ((10, 0), (10, 14), (10, -14), (-10 - tw, 0), (10, 28), (10, -28),
                       (-10 - tw, 14), (-10 - tw, -14)):
            box = (x + dx, y + dy - 6, x + dx + tw, y + dy + 6)
            if all(_apart(box, b) for b in boxes):
                boxes.append(box)
                out[i] = (dx, -dy)          # bokeh's y_offset grows downwards
                break
    return out


def _apart(a, b) -> bool:
    return a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]


def roofline_fragment(b, *, include_bokehjs: bool = True) -> str:
    """``<script>`` + ``<div>`` of the roofline for an offline report page."""
    from .bokeh_html import bokeh_fragment, bokehjs_html
    body = bokeh_fragment(roofline_figure(b))
    return (bokehjs_html() + body) if include_bokehjs else body


def roofline_iframe(b, *, width: int = 700, height: int = 440) -> str:
    """The roofline as a self-contained ``<iframe srcdoc>`` (INLINE BokehJS, no CDN)."""
    from bokeh.embed import file_html
    from bokeh.resources import INLINE
    page = file_html(roofline_figure(b), INLINE, title=f"{b.program}: roofline")
    return (f"<iframe class='step-lab-roofline' title='roofline' srcdoc=\"{html.escape(page)}\" "
            f"style='width:{width}px;height:{height}px;border:0'></iframe>")


def roofline_svg(b, *, width: int = 520, height: int = 300) -> str:
    """The roofline as a small static SVG (no JavaScript, a few KB) for ``%%step`` outputs.

    [Choice] Static ``%%step`` outputs draw the roofline as inline SVG rather than a bokeh plot:
    it survives a reload and a saved notebook at a few KB instead of ~1.3 MB of BokehJS per
    cell; knob panels and reports keep the interactive bokeh plot (hover, zoom).
    """
    roof = b.roofline
    pts = [p for p in roof.points if p.flops > 0 and p.offchip_bytes > 0 and p.cycles > 0]
    ridge = roof.ridge if math.isfinite(roof.ridge) and roof.ridge > 0 else 1.0
    xs = [p.intensity for p in pts] + [ridge]
    lo, hi = min(xs) / 8, max(xs) * 8
    ys = [p.achieved for p in pts] + [roof.compute, roof.bandwidth * lo]
    bottom, top = max(min(ys) / 3, 1e-3), max(ys) * 3
    left, right, up, down = 64, 16, 40, 44
    pw, ph = width - left - right, height - up - down

    def sx(v: float) -> float:
        return left + (math.log10(v) - math.log10(lo)) / (math.log10(hi / lo)) * pw

    def sy(v: float) -> float:
        v = min(max(v, bottom), top)
        return up + ph - (math.log10(v) - math.log10(bottom)) / (math.log10(top / bottom)) * ph

    out = [f"<svg xmlns='http://www.w3.org/2000/svg' class='step-lab-roofline' width='{width}' "
           f"height='{height}' font-family='sans-serif' font-size='11'>",
           f"<rect x='{left}' y='{up}' width='{pw}' height='{ph}' fill='none' stroke='#999'/>"]
    out += _svg_ticks(lo, hi, sx, lambda x: (x, up + ph + 14), "middle")
    out += _svg_ticks(bottom, top, sy, lambda y: (left - 6, y + 4), "end")
    bw = [(lo, roof.bandwidth * lo), (ridge, roof.compute)]
    out.append("<polyline fill='none' stroke='#1f4e79' stroke-width='2.5' points='"
               + " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in bw) + "'/>")
    out.append(f"<line x1='{sx(ridge):.1f}' y1='{sy(roof.compute):.1f}' x2='{sx(hi):.1f}' "
               f"y2='{sy(roof.compute):.1f}' stroke='#2e7d32' stroke-width='2.5'/>")
    for p in sorted(pts, key=lambda p: p.current):
        colour = "#d62728" if p.current else "#1f77b4"
        out.append(f"<circle cx='{sx(p.intensity):.1f}' cy='{sy(p.achieved):.1f}' "
                   f"r='{6 if p.current else 4}' fill='{colour}'><title>"
                   f"{html.escape(p.label)}: {p.cycles:,} cycles</title></circle>")
    out.append(f"<text x='{left + pw / 2}' y='{height - 6}' text-anchor='middle'>arithmetic "
               "intensity [FLOPs per off-chip byte]</text>")
    out.append(f"<text transform='translate(14,{up + ph / 2}) rotate(-90)' text-anchor='middle'>"
               f"{html.escape(roof.compute_label)}</text>")
    out.append(f"<text x='{left}' y='{up - 22}' fill='#1f4e79'>— roof: off-chip bandwidth "
               f"{si(roof.bandwidth)} B/cycle</text>")
    out.append(f"<text x='{left}' y='{up - 7}' fill='#2e7d32'>— roof: allocated compute "
               f"{si(roof.compute)} FLOPs/cycle</text>")
    out.append(f"<text x='{left + pw}' y='{up - 7}' text-anchor='end'><tspan fill='#d62728'>● "
               "this run</tspan><tspan fill='#1f77b4'>  ● settings simulated before (hover)"
               "</tspan></text>")
    return "".join(out) + "</svg>"


def _svg_ticks(lo: float, hi: float, scale, place, anchor: str) -> list[str]:
    """Decade ticks (SI labels) between ``lo`` and ``hi``; at most 7, thinned evenly."""
    decades = list(range(math.ceil(math.log10(lo)), math.floor(math.log10(hi)) + 1))
    step = max(1, math.ceil(len(decades) / 7))
    out = []
    for d in decades[::step]:
        x, y = place(scale(10.0 ** d))
        out.append(f"<text x='{x:.1f}' y='{y:.1f}' text-anchor='{anchor}' fill='#444'>"
                   f"{si(10.0 ** d)}</text>")
    return out
