"""The simulator core compiled to C by mypyc; the plain Python modules are reference and fallback.

``./run setup`` calls ``step_lab.native.main(["build"])``: mypyc (part of mypy, a test extra)
compiles :data:`COMPILED` — the event loop, ports, coalescing, drivers, batches and HBM models
of ``step_lab.sim`` — into ``step_lab/_compiled/``, beside a manifest of the SHA-256 of every
step_lab source the compiled modules import (their types and ``Final`` constants are built into
the C). Importing
this module (``step_lab/__init__`` does it first) installs a finder (:func:`install`) that loads
a compiled module only when

* the manifest matches the sources on disk byte for byte when ``step_lab`` is imported (a
  module edited before that is never shadowed by a stale build: Python runs the edited source
  until the next ``./run setup``; ``importlib.reload`` / ``%autoreload`` of a compiled module in
  a running process reloads the compiled build, so restart the kernel after editing the core),
  and the Python version and platform are those of the build;
* ``STEP_LAB_NATIVE`` is not ``0`` (``STEP_LAB_NATIVE=0`` runs the pure-Python reference).

Compiled functions call each other directly: monkeypatching a name in a compiled module has no
effect on them (tests and probes that substitute internals run under ``STEP_LAB_NATIVE=0``).
The same cycles, statistics and values either way: ``tests/test_native.py`` compares
``tools/sim_fingerprint.py`` under both. :func:`status` says which one this process runs.
[Choice] a compiled build is an accelerator, never a requirement: no compiler, no mypy or a
failed build leaves the pure-Python simulator, with one line saying why in ``./run setup``
(which does not retry for the same sources until ``step_lab/_compiled.failed`` is removed).

**Keep the compiled hot paths typed** (issue 15, measured with callgrind on the Qwen3 b64 layer):
a value typed ``list``/``Any`` (say, a closure's channel list) makes every field read of what it
holds a generic ``getattr`` and every comparison a rich compare, and a module name imported from
an interpreted module (``DONE``) or not ``Final`` (``RUN = 0``) is a module-dict lookup on every
use. Typing the ports' closures, compiling ``sim/plan.py`` with the core and ``Final`` constants
(with cheaper ghost paths in the element functions) took that simulation from 1.61 G to 1.19 G
instructions with the same results.
"""
from __future__ import annotations

import ast
import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path
from types import ModuleType

PACKAGE = Path(__file__).resolve().parent
BUILD_DIR = PACKAGE / "_compiled"
MANIFEST = "manifest.json"
ENV = "STEP_LAB_NATIVE"

# The hot path of `simulate` (bench_sim.py (a), (b), (e)): compiled together, so calls between
# them are direct C calls.
COMPILED = (
    "step_lab.sim.engine",
    "step_lab.sim.ports",
    "step_lab.sim.coalesce",
    "step_lab.sim.offchip",
    "step_lab.sim.hbm",
    "step_lab.sim.hbm_stream",
    "step_lab.sim.hbm_replay",
    "step_lab.sim.state",
    "step_lab.sim.costs",
    "step_lab.sim.plan",
    "step_lab.sim.drivers",
    "step_lab.sim.batch",
)

# mypy's view while compiling: step_lab's own modules are analysed, third-party packages are
# not (following bokeh → narwhals made one build take 7 minutes; the compiled modules only need
# step_lab's types).
_MYPY_INI = """\
[mypy]
python_version = {version}
ignore_missing_imports = True
follow_imports = skip

[mypy-step_lab.*]
follow_imports = silent
"""


def _source(module: str) -> Path:
    return PACKAGE.parent.joinpath(*module.split(".")).with_suffix(".py")


def _imports(module: str) -> set[str]:
    """step_lab modules that ``module``'s source imports (absolute names)."""
    tree = ast.parse(_file_of(module).read_bytes())
    package = module if not _source(module).is_file() else module.rsplit(".", 1)[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                parts = parts[:len(parts) - node.level + 1]
                base = ".".join(parts + ([base] if base else []))
            if base.startswith("step_lab"):
                found.add(base)
                found.update(f"{base}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            found.update(a.name for a in node.names if a.name.startswith("step_lab"))
    return {m for m in found if _source(m).is_file() or _package_init(m).is_file()}


def _package_init(module: str) -> Path:
    return PACKAGE.parent.joinpath(*module.split("."), "__init__.py")


def _file_of(module: str) -> Path:
    src = _source(module)
    return src if src.is_file() else _package_init(module)


def dependencies() -> list[str]:
    """The compiled modules and every step_lab module they import, transitively (sorted)."""
    seen: set[str] = set()
    todo = list(COMPILED)
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        todo.extend(_imports(module) - seen)
    return sorted(seen)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _platform() -> dict[str, str]:
    return {"python": sys.version.split()[0],
            "ext_suffix": str(sysconfig.get_config_var("EXT_SUFFIX"))}


def manifest_now(modules: list[str], root: Path = PACKAGE.parent) -> dict[str, str]:
    """``{source path relative to the repository: sha256}`` of ``modules`` as they are on disk
    under ``root`` (this checkout, or the copy a build compiles)."""
    paths = (_file_of(m).relative_to(PACKAGE.parent) for m in modules)
    return {str(path): _digest(root / path) for path in paths}


# --- loading --------------------------------------------------------------------------------

class _Finder(importlib.abc.MetaPathFinder):
    """Finds the compiled modules (and mypyc's shared library of the group) in one build."""

    def __init__(self, build: Path, files: dict[str, Path]):
        self.build, self.files = build, files

    def find_spec(self, fullname: str, path: object = None,
                  target: ModuleType | None = None) -> importlib.machinery.ModuleSpec | None:
        file = self.files.get(fullname)
        if file is None:
            return None
        loader = importlib.machinery.ExtensionFileLoader(fullname, str(file))
        return importlib.util.spec_from_file_location(fullname, str(file), loader=loader)


_STATE: dict[str, str] = {"status": "not installed"}


def _usable(build: Path) -> tuple[dict[str, Path] | None, str]:
    """The module files of ``build`` if it matches this interpreter and the sources, else why
    not."""
    try:
        meta = json.loads((build / MANIFEST).read_text())
    except (OSError, ValueError):
        meta = None
    if not (isinstance(meta, dict) and isinstance(meta.get("sources"), dict)
            and isinstance(meta.get("modules"), dict)):
        return None, "no compiled build (./run setup builds one)"
    if meta.get("platform") != _platform():
        return None, "the compiled build is for another Python; ./run setup rebuilds it"
    try:
        now = {path: _digest(PACKAGE.parent / path) for path in meta["sources"]}
    except OSError:
        return None, "a source of the compiled build is gone; ./run setup rebuilds it"
    changed = sorted(p for p, d in now.items() if meta["sources"][p] != d)
    if changed:
        return None, (f"sources changed since the compiled build ({', '.join(changed[:3])}"
                      f"{', …' if len(changed) > 3 else ''}); ./run setup rebuilds it")
    files = {name: build / rel for name, rel in meta["modules"].items()}
    modules = {name for name in files if not name.endswith("__mypyc")}  # + mypyc's shared lib
    if not all(f.is_file() for f in files.values()) or modules != set(COMPILED):
        return None, "the compiled build is incomplete; ./run setup rebuilds it"
    return files, "compiled (mypyc)"


def install(build: Path = BUILD_DIR) -> str:
    """Load the compiled core for the rest of this process when it is usable; returns
    :func:`status`. Must run before ``step_lab.sim`` is imported (``step_lab/__init__``)."""
    if os.environ.get(ENV, "1") == "0":
        _STATE["status"] = f"pure Python ({ENV}=0)"
        return status()
    if any(m in sys.modules for m in COMPILED):
        return status()
    files, why = _usable(build)
    if files is not None:
        sys.meta_path.insert(0, _Finder(build, files))
    _STATE["status"] = why if files is not None else f"pure Python: {why}"
    return status()


def status() -> str:
    """How this process simulates: ``"compiled (mypyc)"`` or ``"pure Python: <why>"``."""
    loaded = [sys.modules[m] for m in COMPILED if m in sys.modules]
    if loaded:
        if all(not str(getattr(m, "__file__", "")).endswith(".py") for m in loaded):
            return "compiled (mypyc)"
        if not _STATE["status"].startswith("pure Python"):
            return "pure Python: the compiled build did not load"
    return _STATE["status"]


def active() -> bool:
    """Whether the simulator core of this process runs compiled."""
    return status() == "compiled (mypyc)"


# --- building -------------------------------------------------------------------------------

def build(dest: Path = BUILD_DIR) -> str:
    """Compile :data:`COMPILED` into ``dest`` unless an up-to-date build is there; returns a
    one-line account. One build at a time per ``dest`` (a lock file beside it); a failure
    raises ``RuntimeError`` with mypyc's last lines, its whole output in ``<dest>.log``."""
    import fcntl
    dest.parent.mkdir(parents=True, exist_ok=True)
    with open(dest.with_name(dest.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)        # a second build waits, then finds it fresh
        if _usable(dest)[0] is not None:
            return f"compiled simulator core is up to date ({dest})"
        try:
            import mypyc  # noqa: F401  (only to say clearly that it is missing)
        except ImportError as e:
            raise RuntimeError("mypyc is not installed (it comes with mypy: "
                               "pip install mypy)") from e
        with tempfile.TemporaryDirectory(prefix="step_lab_mypyc_") as tmp:
            _compile(Path(tmp), dest)
    return f"compiled the simulator core with mypyc ({len(COMPILED)} modules, {dest})"


def _compile(work: Path, dest: Path) -> None:
    shutil.copytree(PACKAGE, work / "step_lab", ignore=shutil.ignore_patterns(
        "_compiled*", "labextension", "data", "__pycache__", "*.so"))
    # the hashes of what is compiled: the copies (a file saved meanwhile makes the build stale)
    sources = manifest_now(dependencies(), root=work)
    ini = work / "mypyc.ini"
    ini.write_text(_MYPY_INI.format(version=f"{sys.version_info[0]}.{sys.version_info[1]}"))
    cmd = [sys.executable, "-c", "from mypyc.__main__ import main; main()",
           "--config-file", str(ini)] + [str(Path(*m.split(".")).with_suffix(".py"))
                                         for m in COMPILED]
    done = subprocess.run(cmd, cwd=work, capture_output=True, text=True)
    log = dest.with_name(dest.name + ".log")
    log.write_text(done.stdout + done.stderr)
    if done.returncode != 0:
        lines = [ln for ln in (done.stdout + done.stderr).strip().splitlines() if ln.strip()]
        errors = [ln for ln in lines if "error" in ln.lower()] or lines
        raise RuntimeError(f"mypyc failed (exit {done.returncode}): "
                           f"{errors[-1] if errors else 'no output'} (log: {log})")
    suffix = str(sysconfig.get_config_var("EXT_SUFFIX"))
    staged = Path(tempfile.mkdtemp(prefix="_compiled.", dir=dest.parent))
    try:
        found: dict[str, str] = {}
        for so in work.rglob("*" + suffix):
            rel = so.relative_to(work)
            if "build" in rel.parts:
                continue
            name = ".".join(rel.parts[:-1] + (rel.name[:-len(suffix)],))
            (staged / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(so, staged / rel)
            found[name] = str(rel)
        missing = set(COMPILED) - set(found)
        if missing or not any(name.endswith("__mypyc") for name in found):
            what = sorted(missing) or "its shared library"
            raise RuntimeError(f"mypyc built no module for {what} (log: {log})")
        (staged / MANIFEST).write_text(json.dumps(
            {"platform": _platform(), "sources": sources, "modules": found}, indent=1))
        old = dest.with_name(dest.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if dest.exists():
            dest.rename(old)        # a running process keeps its mapped files
        staged.rename(dest)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staged, ignore_errors=True)


def _failed_stamp(dest: Path) -> Path:
    return dest.with_name(dest.name + ".failed")


def main(argv: list[str] | None = None) -> int:
    """``build`` (exit 1 and one line on failure, recorded in ``_compiled.failed``), ``fresh``
    (exit 0: usable; 3: a build of these very sources failed, which ``./run setup`` does not
    retry), and ``status``; used by ``./run setup``."""
    args = sys.argv[1:] if argv is None else argv
    stamp = _failed_stamp(BUILD_DIR)
    if args == ["build"]:
        try:
            print(build())
        except (RuntimeError, OSError) as e:
            print(f"step-lab: the simulator stays pure Python: {e}", file=sys.stderr)
            try:
                stamp.write_text(json.dumps(manifest_now(dependencies())))
            except OSError:
                pass
            return 1
        stamp.unlink(missing_ok=True)
        return 0
    if args == ["fresh"]:
        if _usable(BUILD_DIR)[0] is not None:
            return 0
        try:
            failed = json.loads(stamp.read_text()) == manifest_now(dependencies())
        except (OSError, ValueError):
            failed = False
        return 3 if failed else 1
    if args == ["status"]:
        print(status())
        return 0
    print("usage: python -m step_lab.native build | fresh | status", file=sys.stderr)
    return 2


install()   # on import, i.e. first thing in ``import step_lab`` (before step_lab.sim)

if __name__ == "__main__":
    sys.exit(main())
