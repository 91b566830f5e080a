"""Graphviz DOT rendering of programs, built as plain text (no graphviz package needed).

``to_dot(prog)`` (also ``prog.to_dot()``) returns DOT source: one box per operator (name,
operator type and key parameters, filled by operator family), off-chip tensors as cylinders
joined to their loads and stores, edges labelled with the stream type, feedback (back) edges
dashed, and one cluster per parallel region. ``mimebundle(prog)`` backs
``Program._repr_mimebundle_``: SVG through the ``dot`` binary when it is installed, a text summary
(with one warning per process naming the fix) otherwise.
"""
from __future__ import annotations

import shutil
import warnings
from collections import defaultdict
from typing import TYPE_CHECKING

from ..errors import GraphError, did_you_mean
from .dot_scopes import Expand, ScopeView, scope_lines, scope_view
from .render import PALETTE, TENSOR_COLOUR, graph_view_html, legend_html, program_svg
from .tensor import Tensor

if TYPE_CHECKING:
    from .program import Program

__all__ = ["to_dot", "mimebundle", "text_summary", "PALETTE"]

# Fill colours per operator family (soft, distinguishable, readable with black text).
_WARNED = False                 # one missing-Graphviz warning per process


def to_dot(program: Program, *, annotate: dict[str, str] | None = None, rankdir: str = "LR",
           regions: dict[str, list[str]] | None = None, scopes: bool = True,
           expand: Expand = "all", max_label: int | None = None,
           edge_labels: bool = True) -> str:
    """DOT source of ``program``.

    ``annotate``: ``{node name: text}`` appended as a last label line (e.g. ``"busy 73%"``);
    ``regions``: ``{region name: [node names]}`` drawn as clusters, merged with any node's
    ``params["region"]``. Nothing is inferred. Unknown node names raise :class:`GraphError`.
    ``scopes``: draw the name scopes (``Program.scope``) as nested clusters (regions take
    precedence for their nodes). ``expand``: "all" (every node), "none" (repeated sibling scopes
    collapsed into one cluster labelled ``×N``) or scope names to draw on their own; see
    :mod:`step_lab.ir.dot_scopes`. ``max_label``: elide label lines longer than this
    many characters with "…" (long symbolic shapes, e.g. a sum over 128 experts), for drawings.
    ``edge_labels=False`` moves the stream types into edge tooltips (compact drawings).
    """
    names = [n.name for n in program.nodes]
    annotate = dict(annotate or {})
    _check_names(annotate, names, "annotate")
    clusters = _regions(program, regions or {}, names)
    view = scope_view(program, expand if scopes else "all")
    lines = [f"digraph {_quote(program.name)} {{",
             f"  rankdir={_quote(rankdir)};",
             '  graph [fontname="Helvetica", fontsize=11];',
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']
    lines += _tensor_lines(program, view, max_label)
    in_cluster = {n for members in clusters.values() for n in members}
    free = [n for n in view.shown if n.name not in in_cluster]
    if scopes:
        lines += scope_lines(free, view,
                             lambda n, ind: _node_line(n, annotate.get(n.name), ind, max_label))
    else:
        lines += [_node_line(n, annotate.get(n.name), "  ", max_label) for n in free]
    lines += _cluster_lines(program, clusters, annotate, view, max_label)
    lines += _edge_lines(program, view, max_label, edge_labels)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _elide(text: str, limit: int | None) -> str:
    if limit is None or len(text) <= limit:
        return text
    return text[:limit - 1] + "…"


def _node_line(node, note: str | None, indent: str = "  ", limit: int | None = None) -> str:
    parts = [node.name, type(node).__name__]
    detail = node.describe()
    if detail:
        parts.append(detail)
    if note:
        parts.append(str(note))
    colour = PALETTE.get(node.group, PALETTE["other"])
    label = "\\n".join(_escape(_elide(p, limit)) for p in parts)
    return f'{indent}{_quote(node.name)} [label="{label}", fillcolor="{colour}"];'


def _tensor_lines(program, view: ScopeView, limit: int | None) -> list[str]:
    used = {id(t) for n in view.shown for t in _tensors_of(n)}
    hidden = {id(t) for n in view.alias for t in _tensors_of(n)} - used
    lines = []
    for t in program.tensors.values():
        if id(t) in hidden:
            continue
        label = _escape(_elide(str(t), limit))
        lines.append(f'  {_quote(_tensor_id(t))} [shape=cylinder, style=filled, '
                     f'fillcolor="{TENSOR_COLOUR}", label="{label}"];')
    return lines


def _edge_lines(program, view: ScopeView, limit: int | None, labels: bool = True) -> list[str]:
    edges: dict = {}                          # (src, dst, port) -> [attrs, count]
    grouped = set(view.alias) | set(view.alias.values())
    for node in program.nodes:
        dst = view.target(node)
        for port, stream in enumerate(node.inputs):
            merged = node in grouped or stream.node in grouped   # N edges drawn as one
            key = (view.target(stream.node).name, dst.name, None if merged else port)
            if key in edges:
                edges[key][1] += 1
                continue
            attrs = [str(stream.type)]
            if node.back_edge:
                attrs += ["style=dashed", "constraint=false"]
            elif len(node.inputs) > 1 and not merged:
                attrs.append(f'headlabel="{port}"')
            edges[key] = [attrs, 1]
        if node in view.alias:
            continue
        for tensor in _tensors_of(node):
            ends = (node.name, _tensor_id(tensor))
            if not node.writes_tensor:
                ends = ends[::-1]
            edges[(ends[0], ends[1], "tensor")] = [["", "style=bold"], 1]
    lines = []
    for (src, dst, _), (attrs, count) in edges.items():
        many = f" ×{count}" if count > 1 else ""
        if labels or not attrs[0]:
            text = _elide(attrs[0], limit) + many
            parts = ([f'label="{_escape(text)}"'] if text else []) + attrs[1:]
        else:
            parts = ([f'label="{many.strip()}"'] if many else [])
            parts += [f'tooltip="{_escape(attrs[0] + many)}"'] + attrs[1:]
        lines.append(f"  {_quote(src)} -> {_quote(dst)} [{', '.join(parts)}];")
    return lines


def _cluster_lines(program, clusters: dict, annotate: dict, view: ScopeView,
                   limit: int | None) -> list[str]:
    by_name = {n.name: n for n in program.nodes}
    lines = []
    for i, (region, members) in enumerate(clusters.items()):
        shown = [m for m in members if by_name[m] not in view.alias]
        if not shown:
            continue
        lines.append(f"  subgraph {_quote(f'cluster_{i}')} {{")
        lines.append(f'    label="{_escape(region)}"; style="rounded,dashed"; color="#808080";')
        lines += [_node_line(by_name[m], annotate.get(m), "    ", limit) for m in shown]
        lines.append("  }")
    return lines


def _regions(program, regions: dict, names: list) -> dict:
    clusters: dict = defaultdict(list)
    for node in program.nodes:
        region = node.params.get("region")
        if region is not None:
            clusters[str(region)].append(node.name)
    for region, members in regions.items():
        members = list(members)
        _check_names(dict.fromkeys(members), names, f"regions[{region!r}]")
        clusters[str(region)].extend(m for m in members if m not in clusters[str(region)])
    owner: dict = {}
    for region, members in clusters.items():
        for m in members:
            if owner.setdefault(m, region) != region:
                raise GraphError(f"to_dot: node {m!r} is in regions {owner[m]!r} and {region!r} "
                                 "(expected each node in at most one region)")
    return dict(clusters)


def _check_names(table: dict, names: list, what: str) -> None:
    known = set(names)
    for key in table:
        if key not in known:
            raise GraphError(f"to_dot: {what} names node {key!r}, which is not in the program"
                             + did_you_mean(key, names))


def _tensors_of(node) -> list:
    return [v for v in node.params.values() if isinstance(v, Tensor)]


def _tensor_id(tensor) -> str:
    return f"tensor:{tensor.name}"


def _escape(text: str) -> str:
    """Escape text for a quoted, non-record DOT label (backslash, quote, newline)."""
    return str(text).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _quote(text: str) -> str:
    return '"' + str(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


# -- notebook display ---------------------------------------------------------------------------
def text_summary(program: Program) -> str:
    """A plain-text view of the program: one line per node with its input and output types."""
    lines = [repr(program)]
    for node in program.nodes:
        ins = ", ".join(s.name for s in node.inputs)
        outs = "; ".join(str(s.type) for s in node.outputs)
        detail = node.describe()
        head = f"  {node.name} = {type(node).__name__}({ins}{', ' if ins and detail else ''}"
        lines.append(head + f"{detail})" + (f" -> {outs}" if outs else ""))
    return "\n".join(lines)


def mimebundle(program: Program) -> dict[str, str]:
    """``{"text/html", "image/svg+xml", "text/plain"}`` with Graphviz (repeated scopes collapsed,
    the HTML zoomable with a legend), else ``{"text/plain"}`` + one warning per process."""
    global _WARNED
    if shutil.which("dot") is not None:
        try:
            svg = program_svg(program, rankdir=rankdir_for(program))
        except GraphError as exc:
            warnings.warn(f"{exc}: showing the program as text", RuntimeWarning, stacklevel=2)
            svg = None
        if svg is not None:
            view = scope_view(program, "none")
            page = graph_view_html(svg, legend=legend_html(collapsed=view.collapsed))
            return {"text/html": page, "image/svg+xml": svg, "text/plain": repr(program)}
    elif not _WARNED:
        _WARNED = True
        warnings.warn("Graphviz 'dot' binary not found: showing the program as text "
                      "(install Graphviz: apt-get install graphviz, or brew install graphviz)",
                      RuntimeWarning, stacklevel=2)
    return {"text/plain": text_summary(program)}


def rankdir_for(program: Program) -> str:
    """"LR" for small programs (as before), "TB" once scopes make them deep and wide."""
    return "TB" if any(n.scope for n in program.nodes) else "LR"
