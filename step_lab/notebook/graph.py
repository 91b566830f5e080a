"""Graph rendering: the program's DOT (``Program.to_dot``) drawn as SVG by Graphviz.

``render_svg`` returns SVG text, or ``None`` when the ``dot`` binary is missing;
``graph_html`` wraps it in the zoomable, legended view of :mod:`step_lab.ir.render` (the
one renderer) for widgets and reports, falling back to a text listing with one hint naming the
fix. ``node_annotations`` turns a simulation result into
per-node labels (``"busy 73%"`` or ``"1.2 MB off-chip"``) for ``to_dot(annotate=...)``.
"""
from __future__ import annotations

import html

__all__ = ["render_svg", "graph_html", "node_annotations", "too_large_note", "DOT_MISSING_HINT",
           "ANNOTATIONS", "MAX_GRAPH_NODES", "expand_choices"]

DOT_MISSING_HINT = ("Graphviz's `dot` binary was not found, so the graph is shown as text. "
                    "Install it to see the SVG: apt-get install graphviz (Debian/Ubuntu), "
                    "brew install graphviz (macOS) or conda install graphviz.")
ANNOTATIONS = ("busy", "bytes", "none")
MAX_GRAPH_NODES = 400         # larger programs are not redrawn on every knob change


def render_svg(program, *, annotate: dict | None = None, rankdir: str = "TB",
               expand="none") -> str | None:
    """SVG of ``program`` (``<svg …>`` only, no XML prologue); ``None`` without ``dot``.

    ``rankdir`` "TB" (top to bottom, the default: notebooks scroll vertically) or "LR";
    ``expand`` "none" (repeated sibling scopes collapsed into one cluster "×N"), "all", or scope
    names to draw on their own. Drawn by the one renderer, :mod:`step_lab.ir.render`.
    Raises ``GraphError`` with Graphviz's message if ``dot`` rejects the source.
    """
    from ..ir.render import program_svg
    return program_svg(program, annotate=annotate, rankdir=rankdir, expand=expand)


def graph_html(program, result=None, *, annotate: str = "busy", max_height: int = 600,
               rankdir: str = "TB", max_nodes: int | None = None, fit: bool = True,
               expand="none") -> str:
    """HTML for the graph: a zoomable view with a legend, or a text listing plus the hint.

    The view opens with the whole graph fitted to the box (``max_height`` px high at most);
    zoom and pan with its buttons, Ctrl+wheel and dragging. ``fit`` is kept for callers of
    older versions (the view always opens fitted). Repeated scopes are collapsed unless
    ``expand`` says otherwise. Drawings with more than ``max_nodes`` nodes (after collapsing)
    are skipped (Graphviz needs seconds to minutes for thousands of nodes); a note says how to
    draw them anyway.
    """
    from ..ir.dot_scopes import scope_view
    from ..ir.render import graph_view_html, legend_html
    view = scope_view(program, expand)
    if max_nodes is not None and len(view.shown) > max_nodes:
        return ("<div class='step-lab-graph-skipped' style='color:#555'>"
                f"{html.escape(too_large_note(program, max_nodes, len(view.shown)))}</div>")
    notes = node_annotations(result, annotate, program) if result is not None else None
    if notes and view.collapsed and annotate == "busy":
        notes.update(_group_busy(result, view))
    svg = render_svg(program, annotate=notes, rankdir=rankdir, expand=expand)
    if svg is None:
        from ..ir.dot import text_summary
        style = (f"max-height:{max_height}px;overflow:auto;border:1px solid #e0e0e0;"
                 "padding:4px;background:white")
        hint = html.escape(DOT_MISSING_HINT)
        return (f"<div class='step-lab-graph-hint' style='color:#8a5300'>{hint}"
                f"</div><pre class='step-lab-graph-text' style='{style}'>"
                f"{html.escape(text_summary(program))}</pre>")
    caption = _caption(program, view)
    legend = legend_html(collapsed=view.collapsed, annotated=bool(notes) and annotate == "busy")
    return graph_view_html(svg, max_height=max_height, legend=legend, caption=caption)


def _group_busy(result, view) -> dict:
    """A drawn node standing for N collapsed ones shows the busiest: ``busy max 96% of 128``."""
    members: dict = {}
    for hidden, shown in view.alias.items():
        members.setdefault(shown, [shown]).append(hidden)
    cycles = max(int(getattr(result, "cycles", 0) or 0), 1)
    per_node = getattr(result, "per_node", None) or {}
    notes = {}
    for shown, group in members.items():
        busy = [_first(per_node.get(n.name, {}), "busy_cycles", "busy") for n in group]
        busy = [b for b in busy if b is not None]
        if busy:
            notes[shown.name] = f"busy max {100 * max(busy) / cycles:.0f}% of {len(group)}"
    return notes


def _caption(program, view) -> str:
    if not view.collapsed:
        return f"{len(program.nodes):,} nodes"
    groups = ", ".join(f"{path[-1].rsplit(' ', 1)[0]} ×{n}" for path, n in view.repeats.items())
    return (f"{len(view.shown):,} of {len(program.nodes):,} nodes drawn; collapsed: {groups}")


def expand_choices(program) -> list[tuple[str, object]]:
    """``[(label, expand value)]`` for a notebook control: collapsed, all, or one group."""
    from ..ir.dot_scopes import scope_view
    view = scope_view(program, "none")
    if not view.collapsed:
        return [("all nodes", "none")]
    choices = [("collapsed", "none"), ("expand all", "all")]
    for members in view.members.values():
        label = f"expand {members[0][-1]} … {members[-1][-1]}"
        choices.append((label, tuple(members)))
    return choices


def too_large_note(program, max_nodes: int, shown: int | None = None) -> str:
    shown = len(program.nodes) if shown is None else shown
    return (f"The graph of {program.name!r} has {shown:,} nodes (more than "
            f"max_graph_nodes={max_nodes}), so it is not redrawn on every change. Draw it once "
            "with step_lab.notebook.render_svg(prog), or raise the limit: "
            "%step_config max_graph_nodes=5000.")


def node_annotations(result, kind: str = "busy", program=None) -> dict:
    """``{node name: label}`` from ``result.per_node`` (``kind`` "busy", "bytes" or "none")."""
    if kind not in ANNOTATIONS:
        from ..errors import ConfigError, did_you_mean
        raise ConfigError(f"annotate={kind!r} (expected one of {list(ANNOTATIONS)})"
                          + did_you_mean(kind, ANNOTATIONS))
    per_node = getattr(result, "per_node", None) or {}
    cycles = max(int(getattr(result, "cycles", 0) or 0), 1)
    names = {n.name for n in program.nodes} if program is not None else None
    notes = {}
    for name, stats in per_node.items():
        if kind == "none" or (names is not None and name not in names):
            continue
        label = _busy_label(stats, cycles) if kind == "busy" else _bytes_label(stats)
        if label:
            notes[name] = label
    return notes


def _busy_label(stats: dict, cycles: int) -> str:
    """``busy 73%`` for nodes on a unit (``<1%`` when tiny); network nodes (routing, shape)
    only when they are busy at least 1% of the run."""
    busy = _first(stats, "busy_cycles", "busy")
    if busy is None:
        return ""
    share = 100 * busy / cycles
    if share >= 0.5:
        return f"busy {share:.0f}%"
    on_unit = stats.get("unit") is not None
    return ("busy <1%" if busy else "busy 0%") if on_unit else ""


def _bytes_label(stats: dict) -> str:
    moved = _first(stats, "offchip_bytes", "bytes")
    return "" if not moved else f"{format_bytes(moved)} off-chip"


def _first(stats: dict, *keys):
    for key in keys:
        value = stats.get(key)
        if isinstance(value, (int, float)):
            return value
    return None


def format_bytes(n: float) -> str:
    """``1536 -> '1.5 KiB'``."""
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(n) < 1024 or unit == "GiB":
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} B"
