"""Every notebook in notebooks/ executes top to bottom (nbclient); tutorials/ has its own
test (tests/test_tutorials.py), which also checks the exercises."""
import os
import re
from functools import cache
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted(ROOT.glob("notebooks/*.ipynb"))


@cache
def execute(path: Path):
    """Run a notebook once in a fresh ``python3`` kernel (this interpreter: jupyter_client swaps a
    kernelspec's ``python`` for ``sys.executable``) that imports this working tree's step_lab;
    cells tagged raises-exception may fail."""
    os.environ["PYTHONPATH"] = os.pathsep.join(
        dict.fromkeys(filter(None, [str(ROOT), *os.environ.get("PYTHONPATH", "").split(
            os.pathsep)])))
    nb = nbformat.read(path, as_version=4)
    NotebookClient(nb, timeout=300, kernel_name="python3",
                   resources={"metadata": {"path": str(path.parent)}}).execute()
    return nb


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_the_notebook_runs_top_to_bottom(path):
    nb = execute(path)
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags", [])
        if cell.cell_type == "code" and "raises-exception" not in tags:
            errors = [o for o in cell.outputs if o.output_type == "error"]
            assert not errors, f"{path.name}: {cell.source[:60]!r} raised {errors[0].ename}"


def test_the_quickstart_shows_widgets_a_self_contained_player_and_brief_errors():
    nb = execute(ROOT / "notebooks" / "quickstart.ipynb")
    step = next(c for c in nb.cells if c.source.startswith("%%step gemm"))
    mimes = {m for o in step.outputs for m in o.get("data", {})}
    assert "application/vnd.jupyter.widget-view+json" in mimes
    compare = next(c for c in nb.cells if "compare(" in c.source)
    html = "".join(o.get("data", {}).get("text/html", "") for o in compare.outputs)
    assert "data-step-player" in html                  # the player, saved in the notebook ...
    assert "class='step-lab-bokehjs'" in html           # ... with its own BokehJS (INLINE)
    summary = next(c for c in nb.cells if "gemm_result.summary()" in c.source)
    assert "851,968 B off-chip" in "".join(o.get("text", "") for o in summary.outputs)
    broken = next(c for c in nb.cells if c.source.startswith("%%step broken"))
    text = "".join(o.get("text", "") for o in broken.outputs)
    assert text.startswith("UsageError: ShapeError at line 4 of %%step 'broken'")
    assert len(text.strip().splitlines()) == 2 and "Traceback" not in text


def test_the_gallery_notebook_compares_every_model_with_labelled_plots():
    from step_lab.workloads import GALLERY, model
    nb = execute(ROOT / "notebooks" / "whatif_deepseek_v3.ipynb")
    markdown = "".join("".join(o.get("data", {}).get("text/markdown", "")) for c in nb.cells
                       if c.cell_type == "code" for o in c.outputs)
    v3 = model("deepseek-v3")
    assert (f"`deepseek-v3`: **{v3.dense_layers}** dense and "
            f"**{v3.layers - v3.dense_layers}** MoE layers") in markdown
    assert all(f"* `{name}`: dynamic tiling takes" in markdown for name in GALLERY)
    plots = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs
             if re.search(r'<div id="[0-9a-f-]+" data-root-id=',
                          "".join(o.get("data", {}).get("text/html", "")))]
    assert len(plots) == 2          # self-contained bokeh outputs (they survive a page reload)
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    for label in ('x_axis_label="on-chip memory [MB]"', 'y_axis_label="cycles per layer"',
                  'y_axis_label="speedup of dynamic [× static cycles]"'):
        assert label in code
