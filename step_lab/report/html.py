"""Self-contained HTML + JSON reports (the demo's output). Standard library only."""
from __future__ import annotations

import html
import json
from pathlib import Path

__all__ = ["render_svg", "graph_fragment", "write_report", "write_html", "result_rows"]


def result_rows(result) -> list[dict]:
    """The summary table of one simulation, in words and formatted numbers (not raw keys)."""
    rows = [("program", result.program), ("cycles", f"{int(result.cycles):,}"),
            ("off-chip traffic", f"{int(result.offchip_bytes):,} B"),
            ("on-chip peak memory", f"{int(result.onchip_peak_bytes):,} B"),
            ("FLOPs", f"{int(result.flops):,}"),
            ("off-chip bandwidth used", f"{result.offchip_bandwidth_utilization:.1%}"),
            ("compute used", f"{result.compute_utilization:.1%} of "
                             f"{int(result.allocated_compute):,} FLOPs/cycle allocated")]
    return [{"quantity": k, "value": v} for k, v in rows]


def render_svg(program, *, rankdir: str = "TB", expand="none", annotate=None) -> str | None:
    """SVG of a program's graph (repeated scopes collapsed), or None when Graphviz is missing.

    Drawn by the one renderer, :func:`step_lab.ir.render.program_svg`.
    """
    from ..ir.render import program_svg
    return program_svg(program, annotate=annotate, rankdir=rankdir, expand=expand)


def graph_fragment(program, *, annotate=None, expand="none", max_height: int = 700) -> str:
    """The graph as a report section: fitted, zoomable, with a legend (``<pre>`` DOT without
    Graphviz)."""
    from ..ir.dot_scopes import scope_view
    from ..ir.render import graph_view_html, legend_html
    svg = render_svg(program, expand=expand, annotate=annotate)
    if svg is None:
        return (f"<p class='note'>Graphviz's dot binary was not found; the graph's DOT source:"
                f"</p><pre>{html.escape(program.to_dot(expand=expand))}</pre>")
    view = scope_view(program, expand)
    caption = (f"{len(view.shown):,} of {len(program.nodes):,} nodes drawn; repeated scopes "
               "collapsed (×N)" if view.collapsed else f"{len(program.nodes):,} nodes")
    return graph_view_html(svg, max_height=max_height, caption=caption,
                           legend=legend_html(collapsed=view.collapsed,
                                              annotated=bool(annotate)))


def _table(rows: list[dict]) -> str:
    if not rows:
        return "<p>(no rows)</p>"
    cols = list(rows[0])
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(_fmt(r.get(c)))}</td>" for c in cols)
                   + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _fmt(v) -> str:
    from ..formatting import number
    return v if isinstance(v, str) else number(v)


_STYLE = """body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}
table{border-collapse:collapse;margin:1em 0}td,th{border:1px solid #ccc;padding:4px 10px;
text-align:right}th{background:#f3f3f3}h1{font-size:1.6em}h2{margin-top:1.6em}
.note{color:#555}"""


def write_report(out_dir, title: str, summary_rows: list[dict], sections: list[tuple],
                 data: dict) -> tuple[Path, Path]:
    """Write ``report.html`` and ``report.json`` into ``out_dir``; return both paths.

    ``sections`` are ``(heading, html_fragment)`` pairs placed after the summary table.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    html_path, json_path = out / "report.html", out / "report.json"
    write_html(html_path, title, summary_rows, sections)
    json_path.write_text(json.dumps(data, indent=2, default=str), encoding="utf-8")
    return html_path, json_path


def write_html(path, title: str, summary_rows: list[dict], sections: list[tuple]) -> Path:
    """Write one self-contained HTML page (title, summary table, sections) to ``path``."""
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}"
             f"</title><style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>",
             _table(summary_rows)]
    for heading, fragment in sections:
        parts.append(f"<h2>{html.escape(heading)}</h2>{fragment}")
    parts.append("</body></html>")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(parts), encoding="utf-8")
    return path
