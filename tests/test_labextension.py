"""The prebuilt JupyterLab extension shipped in step_lab/labextension and its operator docs."""
from __future__ import annotations

import importlib.util
import inspect
import json
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import step_lab as sl
from step_lab import opdocs
from step_lab.opdocs import OPDOCS_PATH, operator_docs

ROOT = Path(__file__).resolve().parents[1]
LABEXT = ROOT / "step_lab" / "labextension"
SOURCE = ROOT / "extensions" / "step_lab_jupyterlab"
NAME = "step-lab-jupyterlab"
OP_GROUPS = {"memory", "routing", "higher-order", "shape", "io"}
MAX_BYTES = 400_000


def _built_package() -> dict:
    return json.loads((LABEXT / "package.json").read_text())


# -- the prebuilt files ------------------------------------------------------------------------
def test_the_prebuilt_extension_has_its_package_json_and_remote_entry():
    package = _built_package()
    assert package["name"] == NAME
    load = package["jupyterlab"]["_build"]["load"]
    assert re.fullmatch(r"static/remoteEntry\.[0-9a-f]+\.js", load)
    assert (LABEXT / load).is_file()
    assert (LABEXT / "static" / "style.js").is_file()


def test_the_prebuilt_extension_has_no_stale_remote_entries():
    entries = sorted(p.name for p in (LABEXT / "static").glob("remoteEntry.*.js"))
    assert entries == [Path(_built_package()["jupyterlab"]["_build"]["load"]).name]


def test_the_prebuilt_extension_was_built_from_the_typescript_source_project():
    source = json.loads((SOURCE / "package.json").read_text())
    built = _built_package()
    assert (built["name"], built["version"]) == (source["name"], source["version"])
    assert built["dependencies"] == source["dependencies"]
    assert source["jupyterlab"]["outputDir"] == "../../step_lab/labextension"


def test_the_bundle_carries_the_highlighting_classes_and_loads_opdocs_json():
    bundle = "".join(p.read_text() for p in (LABEXT / "static").glob("*.js"))
    for needle in ("cm-step-magic", "cm-step-op", "cm-step-fn", "cm-step-knob", "cm-step-prog",
                   "cm-step-tooltip", "opdocs.json", "step-lab:operators"):
        assert needle in bundle, f"{needle!r} missing from the built bundle (rebuild it)"


def test_the_prebuilt_extension_is_small_and_holds_no_build_leftovers():
    files = [p for p in LABEXT.rglob("*") if p.is_file()]
    total = sum(p.stat().st_size for p in files)
    assert total < MAX_BYTES, f"step_lab/labextension holds {total} bytes"
    leftovers = [p for p in files if p.suffix in (".map", ".ts") or "node_modules" in p.parts]
    assert leftovers == []


def test_pyproject_ships_every_prebuilt_file_to_the_labextensions_folder():
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    data_files = config["data-files"]
    target = f"share/jupyter/labextensions/{NAME}"
    assert data_files[f"{target}/static"] == ["step_lab/labextension/static/*"]
    shipped = {f"{target}/{Path(f).name}" for f in data_files[target]}
    shipped |= {f"{target}/static/{p.name}" for p in (LABEXT / "static").iterdir()}
    expected = {f"{target}/{p.relative_to(LABEXT).as_posix()}"
                for p in LABEXT.rglob("*") if p.is_file()}
    assert shipped == expected
    assert {"labextension/*.json", "labextension/static/*"} <= set(
        config["package-data"]["step_lab"])


# -- operator docs -----------------------------------------------------------------------------
def test_the_shipped_opdocs_json_equals_operator_docs():
    shipped = json.loads(OPDOCS_PATH.read_text(encoding="utf-8"))
    assert shipped == operator_docs(), "stale: run python -m step_lab.opdocs"
    assert OPDOCS_PATH.read_text(encoding="utf-8") == opdocs.opdocs_json()


def test_every_operator_is_documented_with_its_group_and_build_signature():
    docs = operator_docs()
    for name in sl.ops.__all__:
        cls = getattr(sl.ops, name)
        entry = docs[name]
        assert entry["group"] == cls.group and entry["group"] in OP_GROUPS
        assert entry["signature"].startswith(f"ops.{name}(")
        assert entry["signature"].endswith("name=None)")
        assert entry["doc"] == inspect.cleandoc(cls.__doc__)
    partition = docs["Partition"]["signature"]
    assert partition == "ops.Partition(stream, sel, num_consumers, *, name=None)"


def test_every_concrete_tile_function_is_documented_with_its_kinds():
    docs = operator_docs()
    functions = [n for n in sl.fn.__all__ if not n.endswith("Function")]
    for name in functions:
        assert docs[name]["signature"].startswith(f"fn.{name}(")
        assert docs[name]["group"].startswith("function: ")
        assert docs[name]["doc"]
    assert docs["Add"]["group"] == "function: map, update"
    assert docs["Matmul"]["signature"] == "fn.Matmul(transpose_weight=False, flops_per_mac=2)"
    assert not any(n.endswith("Function") for n in docs)


def test_the_cell_names_knob_and_prog_are_documented():
    docs = operator_docs()
    assert docs["knob"]["signature"].startswith("knob(name, default=None, *, choices=None")
    assert "knob(" in docs["knob"]["doc"] and docs["knob"]["group"] == "cell"
    assert "prog.tensor(name, shape" in docs["prog"]["doc"]


def test_opdocs_is_importable_without_notebook_dependencies():
    code = ("import sys, step_lab.opdocs; "
            "print(sorted(m for m in ('IPython', 'ipywidgets', 'bokeh', 'traitlets') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"


def test_the_opdocs_command_writes_the_json_and_check_detects_a_stale_file(tmp_path, capsys):
    out = tmp_path / "opdocs.json"
    assert opdocs.main(["--check", "--out", str(out)]) == 1          # missing
    assert opdocs.main(["--out", str(out)]) == 0
    assert json.loads(out.read_text()) == operator_docs()
    assert opdocs.main(["--check", "--out", str(out)]) == 0
    out.write_text(out.read_text().replace("STEP.md", "STEP.txt", 1))
    assert opdocs.main(["--check", "--out", str(out)]) == 1
    assert "stale" in capsys.readouterr().err


# -- installed in this environment -------------------------------------------------------------
@pytest.mark.skipif(importlib.util.find_spec("jupyterlab") is None,
                    reason="JupyterLab is not installed in this interpreter's environment")
def test_jupyter_labextension_list_shows_the_extension_enabled_and_ok():
    result = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"],
                            capture_output=True, text=True, timeout=120)
    text = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)
    lines = [line for line in text.splitlines() if NAME in line]
    assert lines, f"{NAME} is not installed (./run setup links it):\n{text}"
    assert "enabled" in lines[0] and "OK" in lines[0], lines[0]
