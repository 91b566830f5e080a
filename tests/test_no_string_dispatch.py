"""No dispatch on class-name strings anywhere in the package (issue 14): behaviour is chosen by
operator traits, isinstance or class identity, never by comparing ``type(x).__name__`` (or a
``__module__``) with a string. Class names may still be *shown* (error messages, node names)."""
import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "step_lab"


def _is_name_lookup(node: ast.AST) -> bool:
    """``<anything>.__name__`` / ``.__module__`` / ``.__qualname__``."""
    return isinstance(node, ast.Attribute) and node.attr in ("__name__", "__module__",
                                                             "__qualname__")


def _mentions_name_lookup(node: ast.AST) -> bool:
    return any(_is_name_lookup(n) for n in ast.walk(node))


def _string_dispatch(source: str) -> list:
    """Line numbers of comparisons between a class/module name and something else."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Compare):
            sides = [node.left, *node.comparators]
            if any(_mentions_name_lookup(s) for s in sides) and not _is_main_guard(node):
                found.append(node.lineno)
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) \
                and node.func.attr in ("startswith", "endswith") \
                and _mentions_name_lookup(node.func.value):
            found.append(node.lineno)
    return found


def _is_main_guard(node: ast.Compare) -> bool:
    """``if __name__ == "__main__":`` (a module's own name, not a class name)."""
    return isinstance(node.left, ast.Name) and node.left.id == "__name__"


def test_no_module_compares_class_names():
    offenders = [f"{p.relative_to(ROOT.parent)}:{line}"
                 for p in sorted(ROOT.rglob("*.py")) if "labextension" not in p.parts
                 for line in _string_dispatch(p.read_text(encoding="utf-8"))]
    assert offenders == []


def test_the_checker_finds_string_dispatch():
    assert _string_dispatch("if type(x).__name__ == 'Zip':\n    pass\n") == [1]
    assert _string_dispatch("ok = x.__class__.__name__ in ('A', 'B')\n") == [1]
    assert _string_dispatch("y = type(o).__module__.startswith('distributed')\n") == [1]
    assert _string_dispatch("msg = f'{type(x).__name__} failed'\n") == []
    assert _string_dispatch("if __name__ == '__main__':\n    pass\n") == []
