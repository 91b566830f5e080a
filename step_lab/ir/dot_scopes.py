"""Name scopes in the DOT drawing: nested clusters, and collapsing repeated sibling scopes.

``scope_view(program, expand=...)`` decides what the drawing shows. Sibling scopes (same parent
path) whose contents are isomorphic (the same operator classes in the same order, the same
internal edges and the same input ports fed from outside) form a *repeat group*; unless
expanded, a group is drawn once, as its first member, in a cluster labelled
``"expert 0 … expert 127  ×128"``. Nodes of the hidden members are mapped onto the
corresponding node of the drawn member, so edges from shared nodes are merged (and labelled
``×N``) instead of fanning out 128 times.

[Choice] Only sibling scopes with at least two members and identical signatures collapse; a
member that differs (say, an expert with an extra operator) stays on its own. Scope contents
include nested scopes, so a region holding four experts collapses as a whole.
[Choice] ``expand``: "all" draws every node (the default of ``to_dot``, so the DOT source stays
complete), "none" collapses every repeat group (the default of the rendered graphs in notebooks
and reports), or a scope name / path or a list of them: the named scopes are drawn on their own
(taken out of their group) while their siblings stay collapsed. Unknown names raise
:class:`GraphError` with a did-you-mean.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import GraphError, did_you_mean

if TYPE_CHECKING:
    from .node import Node
    from .program import Program

# what to_dot(expand=...) accepts: "all", "none", a scope name or path, or a list of them
Expand = str | bool | None | tuple[str, ...] | Iterable[str | tuple[str, ...]]
# draws one node: node_line(node, indent) -> DOT line
NodeLine = Callable[[Any, str], str]

__all__ = ["ScopeView", "scope_view", "repeat_groups", "scope_label"]


@dataclass
class ScopeView:
    """What to draw: ``shown`` nodes, ``alias`` (hidden node -> drawn node), ``repeats``
    (drawn scope path -> number of scopes it stands for) and ``members`` (path -> member paths)."""

    shown: list
    alias: dict = field(default_factory=dict)
    repeats: dict = field(default_factory=dict)
    members: dict = field(default_factory=dict)

    def target(self, node: Node) -> Node:
        return self.alias.get(node, node)

    @property
    def collapsed(self) -> bool:
        return bool(self.alias)


def _subtree(program: Program) -> dict:
    """``{scope path: [nodes whose scope starts with that path]}`` for every non-empty prefix."""
    table: dict = {}
    for n in program.nodes:
        for k in range(1, len(n.scope) + 1):
            table.setdefault(n.scope[:k], []).append(n)
    return table


def _signature(path: tuple, nodes: list) -> tuple:
    index = {n: i for i, n in enumerate(nodes)}
    depth = len(path)
    sig = []
    for n in nodes:
        ports = []
        for port, s in enumerate(n.inputs):
            src = index.get(s.node)
            ports.append((port, "ext") if src is None else (port, src, s.port))
        sig.append((type(n).__name__, n.scope[depth:], tuple(ports)))
    return tuple(sig)


def repeat_groups(program: Program) -> dict:
    """``{parent path: [[member paths with one signature], …]}`` for groups of ≥ 2 siblings."""
    subtree = _subtree(program)
    by_parent: dict = {}
    for path, nodes in subtree.items():
        by_parent.setdefault(path[:-1], {}).setdefault(_signature(path, nodes), []).append(path)
    return {parent: [g for g in sigs.values() if len(g) > 1]
            for parent, sigs in by_parent.items()
            if any(len(g) > 1 for g in sigs.values())}


def _expand_set(program: Program, expand: Expand) -> set | None:
    """None for "all"; else the set of scope paths to draw on their own."""
    if expand == "all" or expand is True:
        return None
    if expand is None or expand is False or expand == "none":
        return set()
    single = isinstance(expand, str) or (isinstance(expand, tuple)
                                          and all(isinstance(x, str) for x in expand))
    items = [expand] if single else list(expand)      # a name, a path, or a list of them
    known = set(_subtree(program))
    by_last: dict = {}
    for path in known:
        by_last.setdefault(path[-1], []).append(path)
    chosen = set()
    for item in items:
        if isinstance(item, tuple) and item in known:
            chosen.add(item)
        elif isinstance(item, str) and item in by_last:
            chosen.update(by_last[item])
        elif isinstance(item, str) and tuple(item.split("/")) in known:
            chosen.add(tuple(item.split("/")))
        else:
            names = sorted({p[-1] for p in known})
            raise GraphError(f"to_dot: expand={item!r} names no scope of program "
                             f"{program.name!r} (expected 'all', 'none' or scope names such as "
                             f"{names[:3]})" + did_you_mean(str(item), names))
    return chosen


def scope_view(program: Program, expand: Expand = "all") -> ScopeView:
    """The nodes to draw and the aliases of the hidden ones (see the module docstring)."""
    chosen = _expand_set(program, expand)
    if chosen is None:
        return ScopeView(list(program.nodes))
    subtree = _subtree(program)
    alias: dict = {}
    repeats: dict = {}
    members: dict = {}
    hidden: set = set()
    for parent, groups in sorted(repeat_groups(program).items(), key=lambda kv: len(kv[0])):
        if any(parent[:k] in hidden for k in range(1, len(parent) + 1)):
            continue                          # inside a scope that is already hidden
        for group in groups:
            rest = [p for p in group if p not in chosen and not _under(p, chosen)]
            if len(rest) < 2:
                continue
            keep = rest[0]
            repeats[keep] = len(rest)
            members[keep] = rest
            hidden.update(rest[1:])
            for other in rest[1:]:
                for a, b in zip(subtree[other], subtree[keep], strict=True):
                    alias[a] = b
    shown = [n for n in program.nodes if n not in alias]
    return ScopeView(shown, alias, repeats, members)


def _under(path: tuple, chosen: set) -> bool:
    """Whether an expanded scope lies inside ``path`` (then ``path`` must stay expanded)."""
    return any(len(c) > len(path) and c[:len(path)] == path for c in chosen)


def scope_label(path: tuple, view: ScopeView) -> str:
    """Cluster label: the scope's name, or ``"expert 0 … expert 127  ×128"`` for a group."""
    count = view.repeats.get(path)
    if not count:
        return path[-1]
    last = view.members[path][-1][-1]
    return f"{path[-1]} … {last}  ×{count}"


def scope_lines(nodes: list, view: ScopeView, node_line: NodeLine) -> list[str]:
    """DOT lines for ``nodes``: unscoped ones at top level, the rest in nested clusters
    (``node_line(node, indent)`` draws one node). Collapsed groups get a bold double frame."""
    tree: dict = {}                           # path -> {"nodes": [...], "children": [...]}
    top: list = []
    for n in nodes:
        if not n.scope:
            top.append(n)
            continue
        for k in range(1, len(n.scope) + 1):
            path = n.scope[:k]
            if path not in tree:
                tree[path] = {"nodes": [], "children": []}
                (tree[path[:-1]]["children"] if k > 1 else top).append(path)
        tree[n.scope]["nodes"].append(n)
    lines: list = []
    for item in top:
        if isinstance(item, tuple):
            _emit(item, tree, view, node_line, lines, "  ")
        else:
            lines.append(node_line(item, "  "))
    return lines


def _emit(path: tuple, tree: dict, view: ScopeView, node_line: NodeLine, lines: list,
          ind: str) -> None:
    ident = "cluster_scope_" + "/".join(path)
    label = scope_label(path, view).replace("\\", "\\\\").replace('"', '\\"')
    ident = ident.replace("\\", "\\\\").replace('"', '\\"')
    lines.append(f'{ind}subgraph "{ident}" {{')
    if path in view.repeats:
        lines.append(f'{ind}  label="{label}"; style="rounded,bold,filled"; fillcolor="#f1f4fb"; '
                     'color="#3b5b92"; penwidth=2; fontsize=13;')
    else:
        lines.append(f'{ind}  label="{label}"; style="rounded,dashed"; color="#808080";')
    for n in tree[path]["nodes"]:
        lines.append(node_line(n, ind + "  "))
    for child in tree[path]["children"]:
        _emit(child, tree, view, node_line, lines, ind + "  ")
    lines.append(f"{ind}}}")
