"""Run a registered figure and write ``FIG.json`` and ``FIG.html`` (self-contained)."""
from __future__ import annotations

import dataclasses
import html
import json
import time
from pathlib import Path

from .inputs import SYNTHETIC
from .known import MISSED, known_misses_path, known_reason, load_known_misses
from .registry import FIGURES, RunContext, get_figure, within
from .scoring import FAIL, NOT_IN_QUICK, PASS, score

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
    """Run figure ``fig_id``; write ``out_dir/FIG.json`` and ``FIG.html``; return the record.

    The record says which traces were real and which synthetic stand-ins (``inputs``,
    ``standins``) and scores every criterion (``checks``: pass / fail / not assessed in quick
    mode / reference only, each on real or synthetic inputs). ``within_tolerance`` keeps the
    plain true/false/null view of the same checks."""
    fig = get_figure(fig_id)
    ctx = dataclasses.replace(ctx or RunContext(), inputs={})
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    result = fig.run(ctx)
    elapsed = time.perf_counter() - start
    checks = score(fig, result.headline, ctx.inputs, ctx.quick)
    within_tol = {k: within(result.headline.get(k), fig.paper.get(k), fig.tolerance.get(k))
                  if checks[k]["status"] != NOT_IN_QUICK else None for k in fig.paper}
    record = {"figure": fig.id, "title": fig.title, "quick": ctx.quick,
              "elapsed_s": round(elapsed, 2),
              "traces": "vendored" if ctx.traces is None else str(ctx.traces),
              "inputs": dict(sorted(ctx.inputs.items())),
              "standins": sorted(r for r, v in ctx.inputs.items() if v["source"] == SYNTHETIC),
              "headline": nest(result.headline), "paper": nest(fig.paper),
              "within_tolerance": nest({k: None if v is None else bool(v)
                                        for k, v in within_tol.items()}),
              "checks": checks,
              "tolerance": {k: _plain(v) for k, v in fig.tolerance.items()},
              "failed_points": [n for n in result.notes if _is_failure(n)],
              "notes": result.notes, "points": result.points}
    (out / f"{fig.id}.json").write_text(json.dumps(record, indent=1, default=_json_default))
    known = load_known_misses(known_misses_path(out))
    (out / f"{fig.id}.html").write_text(_html(fig, record, result.plot, known), encoding="utf-8")
    return record


def _plain(tol):
    return [_plain(t) if isinstance(t, (tuple, list)) else t for t in tol]


def _is_failure(note: str) -> bool:
    return note.startswith("point ") and " failed: " in note


def _json_default(o):
    if hasattr(o, "item"):
        return o.item()
    if hasattr(o, "tolist"):
        return o.tolist()
    return str(o)


def _html(fig, record, plot, known: list | None = None) -> str:
    """The figure page; ``known``: the reviewed known misses (:mod:`.known`), shown with their
    reasons and apart from new misses."""
    table = _table(fig, record, known or [])
    standins = record["standins"]
    inputs = ("<p><b>Inputs:</b> " + (f"{len(standins)} synthetic stand-in(s) — "
              + ", ".join(html.escape(s) for s in standins)
              + "; headlines resting on them are reported, not required." if standins
              else "real traces only" if record["inputs"] else "no trace files") + "</p>")
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in record["notes"])
    body = (f"<style>body{{font-family:system-ui,sans-serif;margin:1.5em}}table{{border-collapse:"
            f"collapse}}td,th{{border:1px solid #ccc;padding:2px 8px}}td.n{{text-align:right}}"
            f"{_STATUS_STYLE}</style><h1>{html.escape(fig.id)}: {html.escape(fig.title)}</h1><p>"
            f"{html.escape(fig.question)}</p>{inputs}{table}<ul>{notes}</ul>")
    if plot is not None:
        from bokeh.embed import file_html
        from bokeh.resources import INLINE

        from ..formatting import readable_axes
        page = file_html(readable_axes(plot), INLINE, title=f"{fig.id} — {fig.title}")
        at = page.rfind("<body>") + len("<body>")   # the inlined BokehJS also contains "<body>"
        return page[:at] + body + page[at:]
    return f"<!doctype html><html><head><meta charset='utf-8'></head><body>{body}</body></html>"


def _table(fig, record, known: list) -> str:
    """Criteria first (one row per paper key, with its check), then the extra headline keys that
    have a value; a key with neither a value nor a paper value gets no row. Known misses are
    followed by their reviewed reasons."""
    flat = _flat(record["headline"])
    rows, reasons = [], []
    for key, check in record["checks"].items():
        reason = known_reason(known, fig.id, key, check, record["quick"])
        if reason is not None:
            reasons.append((key, reason))
        rows.append((key, flat.get(key), fig.paper.get(key), check["tolerance"],
                     _status_cell(check, reason), check["inputs"]))
    rows += [(k, v, None, "", "<td></td>", "") for k, v in flat.items()
             if k not in record["checks"] and v is not None]
    cells = "".join(
        f"<tr><td>{html.escape(k)}</td><td class='n'>{_f(v)}</td><td class='n'>{_f(p)}</td>"
        f"<td>{html.escape(t)}</td>{s}<td>{html.escape(i)}</td></tr>"
        for k, v, p, t, s, i in rows)
    notes = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(r)}</li>" for k, r in reasons)
    return ("<table><tr><th>headline</th><th>ours</th><th>paper</th><th>tolerance</th>"
            f"<th>check</th><th>inputs</th></tr>{cells}</table>"
            + (f"<div class='known'><b>Known misses</b> (reviewed, listed with a reason in "
               f"reproduction/KNOWN_MISSES.json):<ul>{notes}</ul></div>" if reasons else ""))


def _status_cell(check: dict, reason: str | None) -> str:
    """The check cell: ``yes``; a known miss (amber, its reason below the table); a new miss on
    real inputs (red ``NO``); a miss on a synthetic stand-in (reported, not required)."""
    status = check["status"]
    if status not in MISSED:
        return f"<td>{html.escape('yes' if status == PASS else status)}</td>"
    label = "NO" if status == FAIL else status
    if reason is not None:
        return (f"<td class='known' title='{html.escape(reason, quote=True)}'>known miss "
                "(reviewed; reason below)</td>")
    if check["inputs"] == SYNTHETIC:
        return f"<td class='standin'>{label} (on a stand-in: reported, not required)</td>"
    return f"<td class='miss'>{label} (new miss)</td>"


_STATUS_STYLE = ("td.known,div.known{background:#fff3cd}div.known{padding:4px 8px;margin:6px 0}"
                 "td.miss{background:#f8d7da;font-weight:bold}td.standin{background:#eeeeee}")


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
    """The one number format of the tables (step_lab.formatting.number; absent is a dash)."""
    from ..formatting import number
    return html.escape(number(v))
