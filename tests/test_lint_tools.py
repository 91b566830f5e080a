"""Static checks run as tests (issue 14 step 6; configuration in pyproject.toml).

* ruff (rules E, F, I, B, UP) is clean on the whole repository;
* mypy is clean on the core packages (CORE);
* every public function of the core is annotated (its parameters and its return);
* vulture finds no dead code in the repository (``[tool.vulture]`` lists the names used by
  someone vulture cannot see: bokeh properties, pytest hooks, IPython protocols).

Each check is shown to fail on a planted error, so none of them passes vacuously. ruff, mypy and
vulture are in the ``test`` extra; without them these tests skip, except in CI (``$CI`` set) where a
missing tool fails.
"""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The core: what has no notebook dependency and is typed (issue 14 step 6).
CORE = ["step_lab/symbolic.py", "step_lab/errors.py", "step_lab/ir", "step_lab/ops", "step_lab/fn",
        "step_lab/analysis", "step_lab/interpret", "step_lab/hw", "step_lab/sim", "step_lab/dse",
        "step_lab/native.py"]

# Files exempt from all three checks, each with its reason. Keep this list short and remove an
# entry as soon as its reason is gone.
PENDING: dict[str, str] = {}
# mypy errors outside PENDING whose cause is a PENDING file: (file, text in the message) -> reason.
# The test fails when one no longer occurs, so the list cannot go stale.
PENDING_CAUSES: dict[tuple[str, str], str] = {}


def _tool(module: str) -> None:
    found = subprocess.run([sys.executable, "-m", module, "--version"], capture_output=True)
    if found.returncode != 0:
        message = f"{module} is a test extra (pip install step-lab[test])"
        if os.environ.get("CI"):
            pytest.fail(message + " — in CI the static checks must run")
        pytest.skip(message)


@pytest.fixture(scope="module")
def ruff() -> None:
    _tool("ruff")


@pytest.fixture(scope="module")
def mypy() -> None:
    _tool("mypy")


@pytest.fixture(scope="module")
def vulture() -> None:
    _tool("vulture")


def _run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True)


# -- ruff ----------------------------------------------------------------------------------------
@pytest.mark.usefixtures("ruff")
def test_the_repository_is_ruff_clean():
    out = _run("ruff", "check", "--output-format", "concise", "--extend-exclude",
               ",".join(PENDING), ".")
    assert out.returncode == 0, out.stdout + out.stderr


def test_ruff_checks_the_configured_rule_set():
    config = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'select = ["E", "F", "I", "B", "UP"]' in config


@pytest.mark.usefixtures("ruff")
def test_ruff_reports_an_unused_import(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n")
    out = _run("ruff", "check", "--no-cache", str(bad))
    assert out.returncode == 1 and "F401" in out.stdout


@pytest.mark.usefixtures("ruff")
def test_ruff_reports_a_zip_without_strict(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("pairs = list(zip([1], [2]))\n")
    out = _run("ruff", "check", "--no-cache", "--config", str(ROOT / "pyproject.toml"), str(bad))
    assert out.returncode == 1 and "B905" in out.stdout


# -- mypy ----------------------------------------------------------------------------------------
@pytest.mark.usefixtures("mypy")
def test_the_core_packages_are_mypy_clean():
    out = _run("mypy", *CORE)
    errors = [line for line in out.stdout.splitlines() if ": error:" in line]
    outside = [line for line in errors if not line.startswith(tuple(PENDING))]
    caused = {key: [line for line in outside if line.startswith(key[0]) and key[1] in line]
              for key in PENDING_CAUSES}
    unexplained = [line for line in outside if not any(line in hits for hits in caused.values())]
    assert not unexplained, "\n".join(unexplained)
    stale = [f"{key}: {reason}" for key, reason in PENDING_CAUSES.items() if not caused[key]]
    assert not stale, "fixed, remove from PENDING_CAUSES:\n" + "\n".join(stale)
    assert out.returncode == (1 if errors else 0), out.stdout + out.stderr


@pytest.mark.usefixtures("mypy")
def test_mypy_reports_a_wrong_return_type(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def f(x: int) -> str:\n    return x\n")
    out = _run("mypy", "--no-incremental", "--config-file", str(ROOT / "pyproject.toml"),
               str(bad))
    assert out.returncode == 1 and "[return-value]" in out.stdout, out.stdout


# -- annotations ---------------------------------------------------------------------------------
def unannotated(source: str) -> list[str]:
    """``name(missing, …)`` for every public function or method of ``source`` whose parameters
    (``self``/``cls`` aside) or return lack an annotation. Public: the name and its class do not
    start with ``_``; ``__init__`` counts (its return may be left out); other dunders do not."""
    found: list[str] = []

    def visit(body: list[ast.stmt], owner: str | None) -> None:
        for node in body:
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
                visit(node.body, node.name)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                if node.name.startswith("_") and node.name != "__init__":
                    continue
                missing = _missing(node, owner is not None)
                if missing:
                    name = f"{owner}.{node.name}" if owner else node.name
                    found.append(f"{name}({', '.join(missing)})")

    visit(ast.parse(source).body, None)
    return found


def _missing(fn: ast.FunctionDef | ast.AsyncFunctionDef, method: bool) -> list[str]:
    args = fn.args
    params = [*args.posonlyargs, *args.args, *args.kwonlyargs]
    static = any(isinstance(d, ast.Name) and d.id == "staticmethod" for d in fn.decorator_list)
    if method and not static and params:
        params = params[1:]                                  # self / cls
    missing = [p.arg for p in params if p.annotation is None]
    missing += [f"*{a.arg}" for a in (args.vararg,) if a is not None and a.annotation is None]
    missing += [f"**{a.arg}" for a in (args.kwarg,) if a is not None and a.annotation is None]
    if fn.returns is None and fn.name != "__init__":
        missing.append("-> return")
    return missing


def _core_files() -> list[Path]:
    files: list[Path] = []
    for entry in CORE:
        path = ROOT / entry
        files += [path] if path.is_file() else sorted(path.rglob("*.py"))
    return [f for f in files if f.relative_to(ROOT).as_posix() not in PENDING]


def test_every_public_function_of_the_core_is_annotated():
    gaps = [f"{path.relative_to(ROOT)}: {gap}" for path in _core_files()
            for gap in unannotated(path.read_text(encoding="utf-8"))]
    assert not gaps, "public functions without annotations:\n" + "\n".join(gaps)


def test_the_annotation_check_finds_missing_parameter_and_return_annotations():
    source = '''
def typed(a: int, *rest: str, **kw: float) -> None: ...
def untyped(a, b: int): ...
def _private(a): ...
class Public:
    def __init__(self, size): ...
    def method(self, x: int): ...
    @staticmethod
    def build(x) -> int: ...
    def __repr__(self): ...
class _Hidden:
    def method(self, x): ...
'''
    assert unannotated(source) == ["untyped(a, -> return)", "Public.__init__(size)",
                                   "Public.method(-> return)", "Public.build(x)"]


def test_pending_exemptions_name_existing_files():
    assert all((ROOT / path).is_file() for path in PENDING), "remove stale PENDING entries"


# -- dead code -----------------------------------------------------------------------------------
@pytest.mark.usefixtures("vulture")
def test_vulture_finds_no_dead_code():
    out = _run("vulture")                                 # paths and options: [tool.vulture]
    assert out.returncode == 0, out.stdout + out.stderr


@pytest.mark.usefixtures("vulture")
def test_vulture_reports_an_unused_function(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("def never_called():\n    return 1\n")
    out = _run("vulture", str(bad))
    assert out.returncode == 3 and "never_called" in out.stdout, out.stdout
