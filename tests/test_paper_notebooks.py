"""The paper notebooks (notebooks/figNN_*.ipynb, notebooks/explorer.ipynb): generated from their
sources, one per registered figure with the required sections, no typed numbers in the prose,
and display helpers that compute what they show. Executing them is the job of
tests/test_notebook_quickstart.py (it runs every notebooks/*.ipynb)."""
import importlib.util
import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from step_lab.reproduce import FigureResult, figure_ids

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"


def _module(name: str):
    spec = importlib.util.spec_from_file_location(f"notebooks_{name}", NOTEBOOKS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


BUILD = _module("_build")
SOURCES = BUILD.targets()
PAPER = {src: dst for src, dst in SOURCES.items() if src.stem.startswith("fig")}


def _cells(src: Path, kind: str) -> list[str]:
    return [c["source"] for c in BUILD.parse(src.read_text(encoding="utf-8"))
            if c["cell_type"] == kind]


def _figure_of(src: Path) -> str:
    return "fig" + str(int(re.match(r"fig(\d+)_", src.stem).group(1)))


# -- sources and notebooks -----------------------------------------------------------------------
def test_every_source_has_an_up_to_date_notebook_without_outputs():
    assert SOURCES, "notebooks/src/ holds no source"
    for src, dst in SOURCES.items():
        assert dst.exists(), f"{dst.name} is missing: run python notebooks/_build.py"
        assert dst.read_text(encoding="utf-8") == BUILD.notebook(src), \
            f"{dst.name} differs from src/{src.name}: run python notebooks/_build.py"
        nb = json.loads(dst.read_text(encoding="utf-8"))
        assert nb["nbformat"] == 4 and nb["metadata"]["kernelspec"]["name"] == "python3"
        assert all(not c.get("outputs") and c.get("execution_count") is None
                   for c in nb["cells"] if c["cell_type"] == "code")


def test_the_check_mode_reports_a_stale_notebook(tmp_path, monkeypatch, capsys):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "demo.py").write_text('"""doc"""\n# %%\nx = 1\n')
    monkeypatch.setattr(BUILD, "HERE", tmp_path)
    monkeypatch.setattr(BUILD, "SOURCES", tmp_path / "src")
    assert BUILD.main(["--check"]) == 1 and "demo.ipynb" in capsys.readouterr().out
    assert BUILD.main([]) == 0 and BUILD.main(["--check"]) == 0


def test_the_builder_turns_percent_cells_into_markdown_and_code_cells():
    cells = BUILD.parse('"""doc"""\n# %% [markdown]\n# # Title\n#\n# text\n\n# %%\nx = 1\n'
                        '# %%\n#%time y = 2\n')
    assert [c["cell_type"] for c in cells] == ["markdown", "code", "code"]
    assert cells[0]["source"] == "# Title\n\ntext"
    assert cells[2]["source"] == "%time y = 2"
    with pytest.raises(ValueError, match="not a comment"):
        BUILD.parse("# %% [markdown]\nplain text\n")
    with pytest.raises(ValueError, match="unknown cell marker"):
        BUILD.parse("# %% solution\nx = 1\n")


def test_cell_ids_are_unique_and_valid():
    for dst in SOURCES.values():
        ids = [c["id"] for c in json.loads(dst.read_text(encoding="utf-8"))["cells"]]
        assert len(ids) == len(set(ids))
        assert all(re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", i) for i in ids), dst.name


def test_the_readme_lists_every_notebook():
    readme = (NOTEBOOKS / "README.md").read_text(encoding="utf-8")
    for path in NOTEBOOKS.glob("*.ipynb"):
        assert f"({path.name})" in readme, f"notebooks/README.md does not link {path.name}"


# -- content -------------------------------------------------------------------------------------
def test_every_registered_figure_has_exactly_one_notebook():
    figures = sorted(_figure_of(src) for src in PAPER)
    assert figures == sorted(figure_ids())


@pytest.mark.parametrize("src", sorted(PAPER), ids=lambda p: p.stem)
def test_a_figure_notebook_runs_its_own_reproduction_and_shows_every_part(src):
    fid = _figure_of(src)
    code = "\n".join(_cells(src, "code"))
    markdown = "\n".join(_cells(src, "markdown"))
    for needle in (f'get_figure("{fid}")', "RunContext(quick=QUICK", "QUICK = True",
                   "header(fig)", "result = fig.run(ctx)", "show_plot(result.plot)",
                   "headline_table(fig, result)", "show_notes(result)", "setup()"):
        assert needle in code, f"{src.name} lacks {needle!r}"
    for heading in ("## The workload", "## Running the reproduction", "## The plot",
                    "## Ours vs the paper", "## What to look for"):
        assert heading in markdown, f"{src.name} lacks the section {heading!r}"
    assert f"step-lab reproduce {fid} --quick" in markdown


# Markdown may name figures, sections, models and code; any other digit is a typed number.
_ALLOWED = [r"`[^`]*`", r"\[\d+\]\([^)]*\)", r"\]\([^)]*\)",
            r"\bFigs? \d+(?:, \d+)*(?: and \d+)?", r"§\d+(?:\.\d+)*", r"Mixtral-8x7B",
            r"Qwen3-30B-A3B"]


@pytest.mark.parametrize("src", sorted(SOURCES), ids=lambda p: p.stem)
def test_markdown_cells_type_no_numbers(src):
    for text in _cells(src, "markdown"):
        for pattern in _ALLOWED:
            text = re.sub(pattern, " ", text)
        typed = [line for line in text.splitlines() if re.search(r"\d", line)]
        assert not typed, f"{src.name}: a number typed in prose: {typed[0].strip()!r}"


def test_the_explorer_drives_both_workloads_with_every_knob():
    code = "\n".join(_cells(NOTEBOOKS / "src" / "explorer.py", "code"))
    for needle in ("explore(moe_design", "explore(attention_design", "trace_path(",
                   "synthetic_routing(", "synthetic_kv_lengths(", "ParetoView(", ".attach(",
                   "values=False", "tiling=[", "tile=", "strategy=[", "regions=", "model="):
        assert needle in code, f"explorer lacks {needle!r}"


# -- display helpers -----------------------------------------------------------------------------
@pytest.fixture(scope="module")
def view():
    pytest.importorskip("IPython")
    from step_lab.notebook import figures
    return figures


def _fake_figure():
    return SimpleNamespace(id="figX", title="t", question="q",
                           paper={"a": 2.0, "b": True, "c": 10.0, "d": 4.0, "e": 1.0},
                           tolerance={"a": ("rel", 0.1), "b": ("abs", 0), "c": ("min", 5),
                                      "e": ("rel", 0.1)})


def test_the_headline_table_checks_every_paper_value_against_its_tolerance(view, monkeypatch):
    shown = []
    monkeypatch.setattr(view, "display", lambda obj: shown.append(obj))
    result = FigureResult(headline={"a": 2.1, "b": False, "c": 7, "d": 3.9, "extra": 1},
                          points=[])
    checks = view.headline_table(_fake_figure(), result)
    assert checks == {"a": True, "b": False, "c": True, "d": None, "e": None}
    table, verdict = shown[0].data, shown[1].data
    assert "±10%" in table and "exact" in table and "≥ 5" in table and "+5.0%" in table
    assert "1 further measured values" in table and "<code>extra</code>" in table
    assert verdict.startswith("**2 of 4** paper values that have a tolerance are within it")
    assert "outside: `b`" in verdict and "**1** not measured" in verdict
    assert "**1** further paper values have no tolerance" in verdict


def test_values_are_formatted_for_reading(view):
    assert [view.fmt(v) for v in (None, True, 1234567, 15730000.0, 1.33333, 0.0)] == \
        ["–", "yes", "1,234,567", "15,730,000", "1.333", "0"]


def test_the_headline_table_leaves_quick_undecidable_criteria_unassessed(view, monkeypatch):
    from step_lab.reproduce import get_figure
    shown = []
    monkeypatch.setattr(view, "display", lambda obj: shown.append(obj))
    fig = get_figure("fig21")
    result = FigureResult(headline={"coarse_ge_3x_at_b16": False, "geomean_vs_coarse": 1.79},
                          points=[], quick=True)
    checks = view.headline_table(fig, result)
    assert checks["coarse_ge_3x_at_b16"] is None and checks["geomean_vs_coarse"] is None
    assert "not assessed in quick mode" in shown[0].data
    assert "not assessed in quick mode" in shown[1].data and "outside" not in shown[1].data
    assert fig.run.__wrapped__.__module__.endswith("fig21")   # the registered run stamps .quick
