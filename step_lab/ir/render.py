"""The one DOT-to-SVG renderer, and the zoomable, legended HTML view of a program's graph.

Every graph step_lab draws (``Program._repr_mimebundle_``, notebook panels and ``%%step`` output,
``report.html`` of the demo and of ``step-lab simulate --report``) goes through
:func:`dot_to_svg` and, for HTML, :func:`graph_view_html`. Standard library only.

* :func:`dot_to_svg` runs Graphviz's ``dot -Tsvg``; ``None`` when the binary is missing.
* :func:`program_svg` draws a program with repeated scopes collapsed (``expand="none"``).
  [Choice] Drawings put the stream types in edge tooltips (hover an edge) rather than on the
  edges, and elide label lines past 48 characters: with 40+ nodes per collapsed layer the
  labels otherwise triple the width and shrink every node label below legibility. The full
  text stays in ``to_dot()``.
* :func:`graph_view_html` wraps an SVG in a box that opens with the graph fitted to the box
  (never enlarged beyond its natural size; see its [Choice] for tall graphs), scrolling past
  ``max_height``; zoom buttons (+, −, width, all = the whole graph at
  once, 1:1), Ctrl/⌘+wheel zoom, drag to pan, and a legend of the node colours.
  [Choice] The controls are inline event-handler attributes, not a ``<script>``: they
  run in JupyterLab outputs, in ipywidgets ``HTML`` (which never runs scripts) and in a
  standalone ``file://`` page alike, with no CDN. Without them (a sanitized output) the graph
  still opens fitted and scrolls.
"""
from __future__ import annotations

import html
import re
import shutil
import subprocess
from typing import TYPE_CHECKING

from ..errors import GraphError
from .dot_scopes import Expand

if TYPE_CHECKING:
    from .program import Program

# Node fill colours by operator group (the unit-kind trait), shared by the DOT source and legend.
PALETTE = {
    "memory": "#a6cee3",        # blue: off-chip and on-chip memory operators
    "routing": "#fdbf6f",       # orange: Partition, Reassemble, EagerMerge
    "higher-order": "#b2df8a",  # green: Map, Accum, Scan, FlatMap
    "shape": "#e0e0e0",         # grey: Flatten, Reshape, Promote, Expand, Zip, Assume
    "io": "#fff2ae",            # pale yellow: program inputs, outputs, feedback placeholders
    "other": "#ffffff",
}
TENSOR_COLOUR = "#cab2d6"       # lilac cylinders for off-chip tensors

__all__ = ["dot_to_svg", "program_svg", "graph_view_html", "legend_html", "DISPLAY_LABEL"]

MIN_SCALE = 0.75              # the view opens shrunk to fit its height, but not below this
DISPLAY_LABEL = 48            # longer label lines are elided in drawings (full text in to_dot)
_SIZE = re.compile(r'<svg\b[^>]*?\swidth="([\d.]+)pt"[^>]*?\sheight="([\d.]+)pt"', re.S)


def dot_to_svg(source: str, *, what: str = "graph") -> str | None:
    """SVG text (from ``<svg``, no XML prologue) of DOT ``source``; ``None`` without ``dot``.

    Raises :class:`GraphError` with Graphviz's message when ``dot`` rejects the source.
    """
    binary = shutil.which("dot")
    if binary is None:
        return None
    try:
        done = subprocess.run([binary, "-Tsvg"], input=source.encode(), capture_output=True,
                              timeout=120)
    except (subprocess.SubprocessError, OSError) as exc:
        detail = (getattr(exc, "stderr", b"") or b"").decode(errors="replace")[:200]
        raise GraphError(f"Graphviz could not draw {what}: {exc} {detail}".strip()) from None
    svg = done.stdout.decode(errors="replace")
    if done.returncode != 0 or "<svg" not in svg:
        detail = done.stderr.decode(errors="replace").strip().splitlines()[:3]
        raise GraphError(f"Graphviz could not draw {what}: {' / '.join(detail)[:300]} "
                         "(the graph may be too large: draw it collapsed, expand='none')")
    return svg[svg.find("<svg"):]


def program_svg(program: Program, *, annotate: dict | None = None, rankdir: str = "TB",
                expand: Expand = "none") -> str | None:
    """SVG of ``program`` (repeated scopes collapsed unless ``expand``); ``None`` without dot."""
    source = program.to_dot(annotate=annotate or None, rankdir=rankdir, expand=expand,
                            max_label=DISPLAY_LABEL, edge_labels=False)
    what = f"program {program.name!r}"
    try:
        return dot_to_svg(source, what=what)
    except GraphError:
        # Graphviz's ranker fails on some large clustered graphs ("trouble in init_rank"):
        # an expanded drawing is retried without the scope clusters
        from .dot_scopes import scope_view
        if "cluster_scope_" not in source or scope_view(program, expand).collapsed:
            raise
        flat = program.to_dot(annotate=annotate or None, rankdir=rankdir, scopes=False,
                              max_label=DISPLAY_LABEL, edge_labels=False)
        return dot_to_svg(flat, what=what)


def legend_html(*, collapsed: bool = False, annotated: bool = False) -> str:
    """One row of swatches naming every node colour (and the collapsed-cluster frame)."""
    names = {"memory": "memory (loads, stores, buffers)", "routing": "routing (Partition, "
             "Reassemble, EagerMerge)", "higher-order": "compute (Map, Accum, Scan, FlatMap)",
             "shape": "shape (Flatten, Reshape, Promote, Expand, Zip)",
             "io": "program inputs / outputs"}
    items = [(PALETTE[k], text, "") for k, text in names.items()]
    items.append((TENSOR_COLOUR, "off-chip tensor (cylinder)", ""))
    if collapsed:
        items.append(("#f1f4fb", "×N: one of N identical scopes drawn (expand to see all)",
                      "border:2px solid #3b5b92;"))
    cells = "".join(
        f"<span style='display:inline-flex;align-items:center;margin:0 12px 2px 0'>"
        f"<span style='width:14px;height:12px;background:{colour};border:1px solid #666;"
        f"border-radius:3px;margin-right:4px;{extra}'></span>{html.escape(text)}</span>"
        for colour, text, extra in items)
    note = (" · node labels end with the share of cycles the node was busy"
            if annotated else "")
    return (f"<div class='step-lab-graph-legend' style='font:12px sans-serif;color:#333;"
            f"margin:4px 0;display:flex;flex-wrap:wrap'>{cells}"
            f"<span style='color:#666'>dashed edge: feedback{html.escape(note)}</span></div>")


_BUTTON = ("<button type='button' title='{title}' aria-label='{title}' "
           "style='font:13px sans-serif;min-width:28px;margin-right:4px;cursor:pointer' "
           "onclick=\"{js}\">{text}</button>")
# z: the scale relative to the drawing's natural size (W × H px, on the box as data-w/data-h);
# the svg gets width z·W (height follows), and the box scrolls to pan.
_ZOOM = ("var b=this.closest('.step-lab-graph'),v=b.querySelector('.step-lab-graph-view'),"
         "s=v.querySelector('svg'),W=+b.dataset.w,H=+b.dataset.h,"
         "z=s.getBoundingClientRect().width/W;z={expr};z=Math.max(0.05,Math.min(z,8));"
         "s.style.maxWidth='none';s.style.width=(z*W)+'px';"
         "b.querySelector('.step-lab-zoom-level').textContent=Math.round(z*100)+'%';")
_ZOOMS = (("zoom in", "+", "z*1.25"), ("zoom out", "−", "z/1.25"),
          ("fit width", "width", "Math.min(1,(v.clientWidth-4)/W)"),
          ("whole graph", "all", "Math.min(1,(v.clientWidth-4)/W,(+b.dataset.box-4)/H)"),
          ("actual size", "1:1", "1"))


def graph_view_html(svg: str, *, max_height: int = 600, legend: str = "",
                    caption: str = "") -> str:
    """``svg`` in a fitted, zoomable and pannable view (see the module docstring).

    It opens as large as fits the box: within its width and ``max_height``, never enlarged
    past its natural size and never shrunk below ``MIN_SCALE`` of it (then it scrolls).
    [Choice] The whole graph is shown when that keeps labels at ≥ 75 % of their drawn size
    (10 pt → 10 px); a taller graph opens fitted to the width at the top (legible, scrolls
    down), and the "all" button shows it whole.
    """
    width, height = _natural_size(svg)
    fits = (max_height - 8) / max(height, 1.0)          # 8 px: the box's border and margin
    svg = _strip_size(svg, width * max(min(1.0, fits), MIN_SCALE))
    zoom = lambda expr: _ZOOM.format(expr=expr)                      # noqa: E731
    buttons = "".join(_BUTTON.format(title=t, text=x, js=html.escape(zoom(e), quote=True))
                      for t, x, e in _ZOOMS)
    wheel = ("if(!(event.ctrlKey||event.metaKey))return;event.preventDefault();"
             + zoom("z*(event.deltaY<0?1.2:1/1.2)"))
    drag = ("if(event.buttons&1){this.scrollLeft-=event.movementX;"
            "this.scrollTop-=event.movementY;}")
    cap = (f"<span style='color:#555;margin-left:8px'>{html.escape(caption)}</span>"
           if caption else "")
    return (f"<div class='step-lab-graph' data-w='{width:.0f}' data-h='{height:.0f}' "
            f"data-box='{max_height}' style='background:white'>"
            f"<div class='step-lab-graph-tools' style='font:12px sans-serif;margin:2px 0'>"
            f"{buttons}<span class='step-lab-zoom-level' style='color:#555'>fit</span>"
            f"{cap}<span style='color:#888;margin-left:8px'>drag to pan · Ctrl+wheel to zoom"
            f"</span></div>"
            f"<div class='step-lab-graph-view' onwheel=\"{html.escape(wheel, quote=True)}\" "
            f"onmousemove=\"{html.escape(drag, quote=True)}\" "
            f"style='width:100%;max-height:{max_height}px;overflow:auto;"
            f"border:1px solid #e0e0e0;box-sizing:border-box;cursor:grab'>"
            f"{svg}</div>{legend}</div>")


def _natural_size(svg: str) -> tuple[float, float]:
    """The SVG's size in CSS px (Graphviz writes pt: 1 pt = 4/3 px)."""
    m = _SIZE.search(svg[:2000])
    if not m:
        return 800.0, 600.0
    return float(m.group(1)) * 4 / 3, float(m.group(2)) * 4 / 3


def _strip_size(svg: str, width: float) -> str:
    """Drop the fixed width/height: the viewBox scales the drawing to the box's width, at most
    ``width`` px wide."""
    head_end = svg.find(">")
    head = re.sub(r'\s(width|height)="[^"]*"', "", svg[:head_end])
    return (head + f" style='width:100%;max-width:{width:.0f}px;height:auto;display:block;"
            "margin:0 auto'" + svg[head_end:])

