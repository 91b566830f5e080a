"""The package's import graph: the IR imports nothing above it, and no module import circles.

Imports are read from the source (top-level and inside functions alike), so a lazy import that
closes a circle counts. The allowed exceptions are named here, each with its reason.
"""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "step_lab"
BELOW_IR = {"step_lab.errors", "step_lab.symbolic"}
# (importer, imported): the allowed lazy upward edges.
ALLOWED = {
    # `%load_ext step_lab`: the notebook layer is loaded on demand (anywidget's pattern).
    ("step_lab", "step_lab.notebook.magics"),
    # Program.lint() is a one-line facade over the analysis (commented in ir/program.py).
    ("step_lab.ir.program", "step_lab.analysis.lint"),
}


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict:
    return {_module_name(p): p for p in ROOT.rglob("*.py") if "labextension" not in p.parts}


def _imports(name: str, path: Path, known: dict) -> set:
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for block in ast.walk(tree) if isinstance(block, ast.If)
                   and "TYPE_CHECKING" in ast.unparse(block.test) for n in ast.walk(block)}
    out = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            targets = _from_targets(node, package, known)
        else:
            continue
        out |= {t for t in targets if t in known and t != name}
    return out


def _from_targets(node: ast.ImportFrom, package: str, known: dict) -> list:
    """``from X import a, b``: the submodules X.a, X.b where they exist, else X itself."""
    base = node.module or ""
    if node.level:
        anchor = package.split(".")
        anchor = anchor[:len(anchor) - node.level + 1]
        base = ".".join(anchor + ([base] if base else []))
    subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in known]
    return subs + ([base] if len(subs) < len(node.names) else [])


def _graph() -> dict:
    known = _modules()
    return {name: _imports(name, path, known) - {b for a, b in ALLOWED if a == name}
            for name, path in known.items()}


def _cycles(graph: dict) -> list:
    """Strongly connected components with more than one module (Tarjan)."""
    index, low, stack, on, out = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))
    for v in graph:
        if v not in index:
            visit(v)
    return out


def test_the_ir_imports_nothing_above_it():
    graph = _graph()
    upward = sorted((a, b) for a, targets in graph.items() if a.startswith("step_lab.ir")
                    for b in targets
                    if not (b.startswith("step_lab.ir") or b in BELOW_IR or b == "step_lab"))
    assert upward == []


# Lazy (function-level) circles outside the core that remain to be untangled, each named so that
# any NEW circle fails the test; remove an entry when its circle is broken.
KNOWN_CIRCLES = [
    ["step_lab.notebook._player_figures", "step_lab.notebook.player"],   # colour constants
    ["step_lab.workloads.hf_config", "step_lab.workloads.models"],    # ModelConfig
    ["step_lab.cli", "step_lab.cli_workload"],                        # UsageError
]


def test_the_package_has_no_import_circles_but_the_known_ones():
    cycles = _cycles(_graph())
    assert [c for c in cycles if c not in KNOWN_CIRCLES] == []
    assert all(c in cycles for c in KNOWN_CIRCLES), "a known circle is gone: delete its entry"


def test_the_core_has_no_import_circles():
    core = ("ir", "ops", "fn", "analysis", "interpret", "hw", "sim", "dse", "symbolic", "errors")
    assert [c for c in _cycles(_graph())
            if any(m.split(".")[1] in core for m in c if m.count("."))] == []


def test_the_circle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
