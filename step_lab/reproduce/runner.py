"""Run a registered figure and write ``FIG.json`` and ``FIG.html`` (self-contained)."""
from __future__ import annotations

import html
import json
import time
from pathlib import Path

from .registry import FIGURES, RunContext, get_figure, within

__all__ = ["reproduce", "nest", "figure_ids"]


def figure_ids() -> list[str]:
    from . import figures  # noqa: F401
    return list(FIGURES)


def nest(flat: dict) -> dict:
    """``{"a.b": 1}`` -> ``{"a": {"b": 1}}`` (EXPERIMENTS.md §7)."""
    out: dict = {}
    for key, value in flat.items():
        node = out
        parts = key.split(".")
        for p in parts[:-1]:
            node = node.setdefault(p, {})
        node[parts[-1]] = value
    return out


def reproduce(fig_id: str, out_dir, ctx: RunContext | None = None) -> dict:
    """Run figure ``fig_id``; write ``out_dir/FIG.json`` and ``FIG.html``; return the record."""
    fig = get_figure(fig_id)
    ctx = ctx or RunContext()
    start = time.perf_counter()
    result = fig.run(ctx)
    elapsed = time.perf_counter() - start
    checks = {k: within(result.headline.get(k), fig.paper.get(k), fig.tolerance.get(k))
              for k in fig.paper}
    record = {"figure": fig.id, "title": fig.title, "quick": ctx.quick,
              "elapsed_s": round(elapsed, 2), "headline": nest(result.headline),
              "paper": nest(fig.paper), "within_tolerance": nest(checks),
              "tolerance": {k: list(v) for k, v in fig.tolerance.items()},
              "notes": result.notes, "points": result.points}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{fig.id}.json").write_text(json.dumps(record, indent=1, default=_json_default))
    (out / f"{fig.id}.html").write_text(_html(fig, record, result.plot), encoding="utf-8")
    return record


def _json_default(o):
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


def _html(fig, record, plot) -> str:
    rows = "".join(f"<tr><td>{html.escape(k)}</td><td>{_f(v)}</td><td>{_f(fig.paper.get(k))}</td>"
                   f"<td>{_ok(record, k)}</td></tr>" for k, v in _flat(record["headline"]).items())
    table = ("<table><tr><th>headline</th><th>ours</th><th>paper</th><th>within tolerance</th>"
             f"</tr>{rows}</table>")
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in record["notes"])
    body = (f"<style>body{{font-family:system-ui,sans-serif;margin:1.5em}}table{{border-collapse:"
            f"collapse}}td,th{{border:1px solid #ccc;padding:2px 8px}}</style><h1>{html.escape(fig.id)}: {html.escape(fig.title)}</h1><p>{html.escape(fig.question)}"
            f"</p>{table}<ul>{notes}</ul>")
    if plot is not None:
        from bokeh.embed import file_html
        from bokeh.resources import INLINE
        from ..formatting import readable_axes
        page = file_html(readable_axes(plot), INLINE, title=f"{fig.id} — {fig.title}")
        at = page.rfind("<body>") + len("<body>")   # the inlined BokehJS also contains "<body>"
        return page[:at] + body + page[at:]
    return f"<!doctype html><html><head><meta charset='utf-8'></head><body>{body}</body></html>"


def _flat(d: dict, prefix: str = "") -> dict:
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(_flat(v, key + "."))
        else:
            out[key] = v
    return out


def _f(v) -> str:
    from ..formatting import number
    return html.escape(number(v))


def _ok(record, key) -> str:
    node = record["within_tolerance"]
    for p in key.split("."):
        node = node.get(p, {}) if isinstance(node, dict) else None
    return {True: "yes", False: "NO", None: "–"}.get(node if not isinstance(node, dict) else None)
