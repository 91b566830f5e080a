"""The package's import graph: the IR imports nothing above it, and no module import circles.

Imports are read from the source (top-level and inside functions alike), so a lazy import that
closes a circle counts. The allowed exceptions are named here, each with its reason, and each is
a lazy import commented as the allowed exception at its site. Target (issue 14): no circle at
all, no upward import from ``ir/``.
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


def test_the_package_has_no_import_circles():
    assert _cycles(_graph()) == []


def test_each_allowed_upward_import_is_commented_as_the_exception_at_its_site():
    """An ALLOWED edge is a lazy import inside a function, with a comment right above it that
    calls it allowed, so a reader of the importing file sees why the layering bends there."""
    known = _modules()
    for importer, imported in sorted(ALLOWED):
        path = known[importer]
        lines = path.read_text(encoding="utf-8").splitlines()
        tree = ast.parse("\n".join(lines))
        sites = [n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))
                 for sub in ast.walk(n) if isinstance(sub, (ast.Import, ast.ImportFrom))
                 and imported in _targets(sub, importer, path, known)
                 for n in [sub]]
        assert sites, f"{importer} -> {imported}: no lazy import of it inside a function"
        for site in sites:
            above = " ".join(lines[max(0, site.lineno - 4):site.lineno - 1]).lower()
            assert "allowed" in above and "#" in above, \
                f"{path.name}:{site.lineno}: comment the allowed exception above the import"


def _targets(node, importer: str, path: Path, known: dict) -> list:
    package = importer if path.name == "__init__.py" else importer.rsplit(".", 1)[0]
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    return _from_targets(node, package, known)


def test_the_core_has_no_import_circles():
    core = ("ir", "ops", "fn", "analysis", "interpret", "hw", "sim", "dse", "symbolic", "errors")
    assert [c for c in _cycles(_graph())
            if any(m.split(".")[1] in core for m in c if m.count("."))] == []


def test_the_circle_finder_finds_a_circle():
    assert _cycles({"a": {"b"}, "b": {"a"}, "c": set()}) == [["a", "b"]]
