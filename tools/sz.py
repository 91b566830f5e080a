"""Size budget of the core, as tinygrad's ``sz.py``: functions <= 60 lines, modules <= 400 lines.

    python tools/sz.py            # table of the core's modules; exit 1 when over budget

A function's length runs from its ``def`` line to the end of its body (docstring included,
decorators excluded; nested functions counted on their own too). The core is the pipeline below
the notebook layer (STYLE.md §2). Exemptions are named here with the reason; remove an entry as
soon as its code fits. ``tests/test_size.py`` runs this check.
"""
from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1] / "step_lab"
CORE = ("symbolic.py", "errors.py", "ir", "ops", "fn", "analysis", "interpret", "hw", "sim",
        "dse")
MAX_FUNCTION_LINES = 60
MAX_MODULE_LINES = 400

EXEMPT_MODULES = {
    "ops/shape.py": "one class per shape operator (six small rooms, not one large one)",
    "ops/offchip.py": "one class per off-chip operator (four small rooms)",
}
EXEMPT_FUNCTIONS: dict[str, str] = {}


def core_files() -> list[Path]:
    out = []
    for entry in CORE:
        path = ROOT / entry
        out += sorted(path.rglob("*.py")) if path.is_dir() else [path]
    return out


def function_lengths(path: Path) -> list[tuple[str, int]]:
    """``(qualified name, lines)`` of every function of one module."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out = []

    def walk(node, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
                name = prefix + child.name
                out.append((name, child.end_lineno - child.lineno + 1))
                walk(child, name + ".")
            elif isinstance(child, ast.ClassDef):
                walk(child, prefix + child.name + ".")
    walk(tree, "")
    return out


def violations() -> list[str]:
    """Every over-budget module and function of the core that is not exempted."""
    found = []
    for path in core_files():
        rel = path.relative_to(ROOT).as_posix()
        lines = len(path.read_text(encoding="utf-8").splitlines())
        if lines > MAX_MODULE_LINES and rel not in EXEMPT_MODULES:
            found.append(f"{rel}: {lines} lines (budget {MAX_MODULE_LINES})")
        for name, length in function_lengths(path):
            key = f"{rel}:{name}"
            if length > MAX_FUNCTION_LINES and key not in EXEMPT_FUNCTIONS:
                found.append(f"{key}: {length} lines (budget {MAX_FUNCTION_LINES})")
    return found


def stale_exemptions() -> list[str]:
    """Exemptions whose code now fits (delete them)."""
    stale = []
    for rel in EXEMPT_MODULES:
        path = ROOT / rel
        if not path.exists() or len(path.read_text().splitlines()) <= MAX_MODULE_LINES:
            stale.append(rel)
    for key in EXEMPT_FUNCTIONS:
        rel, name = key.split(":")
        path = ROOT / rel
        lengths = dict(function_lengths(path)) if path.exists() else {}
        if lengths.get(name, 0) <= MAX_FUNCTION_LINES:
            stale.append(key)
    return stale


def main() -> int:
    total = 0
    for path in core_files():
        lines = len(path.read_text(encoding="utf-8").splitlines())
        longest = max((n for _, n in function_lengths(path)), default=0)
        total += lines
        print(f"{path.relative_to(ROOT).as_posix():32s} {lines:5d} lines  longest function "
              f"{longest:4d}")
    print(f"{'core total':32s} {total:5d} lines")
    problems = violations() + [f"stale exemption: {s}" for s in stale_exemptions()]
    for line in problems:
        print("OVER BUDGET:", line)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
