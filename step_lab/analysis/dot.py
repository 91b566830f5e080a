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
import subprocess
import warnings
from collections import defaultdict

from ..errors import GraphError, did_you_mean
from ..ir.program import Feedback, Tensor
from ..ops.offchip import LinearOffChipStore, RandomOffChipStore

__all__ = ["to_dot", "mimebundle", "text_summary", "PALETTE"]

# Fill colours per operator family (soft, distinguishable, readable with black text).
PALETTE = {
    "memory": "#a6cee3",        # blue: off-chip and on-chip memory operators
    "routing": "#fdbf6f",       # orange: Partition, Reassemble, EagerMerge
    "higher-order": "#b2df8a",  # green: Map, Accum, Scan, FlatMap
    "shape": "#e0e0e0",         # grey: Flatten, Reshape, Promote, Expand, Zip, Assume
    "io": "#fff2ae",            # pale yellow: program inputs, outputs, feedback placeholders
    "other": "#ffffff",
}
TENSOR_COLOUR = "#cab2d6"       # lilac cylinders for off-chip tensors
_WARNED = False                 # one missing-Graphviz warning per process


def to_dot(program, *, annotate=None, rankdir: str = "LR", regions=None) -> str:
    """DOT source of ``program``.

    ``annotate``: ``{node name: text}`` appended as a last label line (e.g. ``"busy 73%"``);
    ``regions``: ``{region name: [node names]}`` drawn as clusters, merged with any node's
    ``params["region"]``. Nothing is inferred. Unknown node names raise :class:`GraphError`.
    """
    names = [n.name for n in program.nodes]
    annotate = dict(annotate or {})
    _check_names(annotate, names, "annotate")
    clusters = _regions(program, regions or {}, names)
    lines = [f"digraph {_quote(program.name)} {{",
             f"  rankdir={_quote(rankdir)};",
             '  graph [fontname="Helvetica", fontsize=11];',
             '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
             '  edge [fontname="Helvetica", fontsize=9];']
    lines += _tensor_lines(program)
    in_cluster = {n for members in clusters.values() for n in members}
    lines += [_node_line(n, annotate.get(n.name)) for n in program.nodes
              if n.name not in in_cluster]
    lines += _cluster_lines(program, clusters, annotate)
    lines += _edge_lines(program)
    lines.append("}")
    return "\n".join(lines) + "\n"


def _node_line(node, note: str | None, indent: str = "  ") -> str:
    parts = [node.name, type(node).__name__]
    detail = node.describe()
    if detail:
        parts.append(detail)
    if note:
        parts.append(str(note))
    colour = PALETTE.get(node.group, PALETTE["other"])
    label = "\\n".join(_escape(p) for p in parts)
    return f'{indent}{_quote(node.name)} [label="{label}", fillcolor="{colour}"];'


def _tensor_lines(program) -> list[str]:
    lines = []
    for t in program.tensors.values():
        label = _escape(str(t))
        lines.append(f'  {_quote(_tensor_id(t))} [shape=cylinder, style=filled, '
                     f'fillcolor="{TENSOR_COLOUR}", label="{label}"];')
    return lines


def _edge_lines(program) -> list[str]:
    lines = []
    for node in program.nodes:
        for port, stream in enumerate(node.inputs):
            attrs = [f'label="{_escape(str(stream.type))}"']
            if isinstance(node, Feedback):
                attrs += ["style=dashed", "constraint=false"]
            elif len(node.inputs) > 1:
                attrs.append(f'headlabel="{port}"')
            lines.append(f"  {_quote(stream.node.name)} -> {_quote(node.name)} "
                         f"[{', '.join(attrs)}];")
        for tensor in _tensors_of(node):
            ends = (node.name, _tensor_id(tensor))
            if not isinstance(node, (LinearOffChipStore, RandomOffChipStore)):
                ends = ends[::-1]
            lines.append(f"  {_quote(ends[0])} -> {_quote(ends[1])} [style=bold];")
    return lines


def _cluster_lines(program, clusters: dict, annotate: dict) -> list[str]:
    by_name = {n.name: n for n in program.nodes}
    lines = []
    for i, (region, members) in enumerate(clusters.items()):
        lines.append(f"  subgraph {_quote(f'cluster_{i}')} {{")
        lines.append(f'    label="{_escape(region)}"; style="rounded,dashed"; color="#808080";')
        lines += [_node_line(by_name[m], annotate.get(m), "    ") for m in members]
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
def text_summary(program) -> str:
    """A plain-text view of the program: one line per node with its input and output types."""
    lines = [repr(program)]
    for node in program.nodes:
        ins = ", ".join(s.name for s in node.inputs)
        outs = "; ".join(str(s.type) for s in node.outputs)
        detail = node.describe()
        head = f"  {node.name} = {type(node).__name__}({ins}{', ' if ins and detail else ''}"
        lines.append(head + f"{detail})" + (f" -> {outs}" if outs else ""))
    return "\n".join(lines)


def mimebundle(program) -> dict:
    """``{"image/svg+xml", "text/plain"}`` with Graphviz, else ``{"text/plain"}`` + one warning."""
    global _WARNED
    dot = shutil.which("dot")
    if dot is not None:
        svg = _render_svg(dot, to_dot(program))
        if svg is not None:
            return {"image/svg+xml": svg, "text/plain": repr(program)}
    elif not _WARNED:
        _WARNED = True
        warnings.warn("Graphviz 'dot' binary not found: showing the program as text "
                      "(install Graphviz: apt-get install graphviz, or brew install graphviz)",
                      RuntimeWarning, stacklevel=2)
    return {"text/plain": text_summary(program)}


def _render_svg(dot: str, source: str) -> str | None:
    try:
        done = subprocess.run([dot, "-Tsvg"], input=source.encode(), capture_output=True,
                              timeout=60, check=True)
    except (subprocess.SubprocessError, OSError) as e:
        detail = getattr(e, "stderr", b"") or b""
        warnings.warn(f"Graphviz 'dot' failed ({e}; {detail.decode(errors='replace')[:200]}): "
                      "showing the program as text", RuntimeWarning, stacklevel=3)
        return None
    return done.stdout.decode()
