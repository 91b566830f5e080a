"""Knobs that only offer what works, and taking a panel with you (issue 12, items 3 and 7)."""
import numpy as np
import pytest

import step_lab as sl
from step_lab.notebook import explore
from step_lab.notebook.outcome import Options
from step_lab.notebook.run import run_step_cell
from step_lab.workloads import moe_layer

TOKENS = 64          # the length of the "real" trace in these tests


def copy_design(batch: int = 32, trace: str = "real", tiling: str = "dynamic", tile: int = 16):
    """A copy whose rows are the batch; fails like a short trace for batch > TOKENS on "real"."""
    if trace == "real" and batch > TOKENS:
        raise sl.ConfigError(f"the real trace has {TOKENS} tokens (expected batch <= {TOKENS})")
    prog = sl.Program(f"copy_{trace}_{batch}")
    X = prog.tensor("X", (batch, 64))
    t = tile if tiling == "static" else batch
    sl.ops.LinearOffChipStore(sl.ops.LinearOffChipLoad(X, tile=(min(t, batch), 64)), "Y")
    return prog, {}, {}


def copy_rules(values):
    rules = {}
    if values["trace"] == "real":
        rules["batch"] = ([b for b in [16, 32, 64, 128, 256] if b <= TOKENS],
                          f"the real trace has {TOKENS} tokens; pick a synthetic trace for more")
    if values["tiling"] == "dynamic":
        rules["tile"] = "dynamic tiling sizes tiles at run time: tile does not apply"
    return rules


def explorer(**kw):
    return explore(copy_design, batch=[16, 32, 64, 128, 256],
                   trace=["real", "synthetic: uniform"], tiling=["static", "dynamic"],
                   tile=[16, 32], constraints=copy_rules, background=False, animate=False,
                   show_graph=False, **kw).panel


def test_a_short_trace_offers_only_the_batches_it_has():
    panel = explorer()
    assert list(panel.controls["batch"].options) == [16, 32, 64]
    assert "64 tokens" in panel.controls["batch"].tooltip
    with pytest.raises(sl.ConfigError, match=r"'batch' = 128 is not offered.*64 tokens"):
        panel.set(batch=128)
    panel.set(trace="synthetic: uniform")
    assert list(panel.controls["batch"].options) == [16, 32, 64, 128, 256]
    panel.set(batch=256)
    assert panel.outcome.program.name == "copy_synthetic: uniform_256"
    panel.set(trace="real")                   # back to the short trace: the batch follows
    assert panel.values()["batch"] == 64 and panel.error.value == ""
    assert "batch 256 → 64" in panel.status.value


def test_every_offered_batch_simulates():
    panel = explorer()
    for trace in ["real", "synthetic: uniform"]:
        panel.set(trace=trace)
        for batch in panel.controls["batch"].options:
            panel.set(batch=batch)
            assert panel.error.value == "", (trace, batch)
            assert panel.outcome.values == {**panel.values(), "batch": batch}


def test_a_knob_that_does_not_apply_is_disabled_with_a_tooltip_saying_why():
    panel = explorer()
    tile = panel.controls["tile"]
    assert tile.disabled and "dynamic tiling" in tile.tooltip
    with pytest.raises(sl.ConfigError, match="'tile' is disabled here: dynamic tiling"):
        panel.set(tile=32)
    panel.set(tiling="static")
    assert not tile.disabled
    panel.set(tile=32)
    assert panel.outcome.values["tile"] == 32


def test_a_failing_knob_value_keeps_the_last_good_result_and_says_why():
    panel = explore(copy_design, batch=[32, 128], trace=["real", "synthetic: uniform"],
                    background=False, animate=False, show_graph=False).panel   # unconstrained
    good = panel.summary.value
    panel.set(batch=128)
    assert "ConfigError" in panel.error.value and "64 tokens" in panel.error.value
    assert "showing the last good result" in panel.status.value
    assert panel.summary.value == good and panel.outcome.values["batch"] == 32


def test_a_workloads_approximation_notes_are_in_the_panel_summary():
    from step_lab.workloads import attention_decode
    wl = attention_decode("deepseek-v3", kv_lengths=np.array([100, 200]), parallel=1,
                          data="none")
    note = wl.meta["notes"]
    assert "approximated" in note
    panel = explore(lambda regions=1: attention_decode(
        "deepseek-v3", kv_lengths=np.array([100, 200]), parallel=regions, data="none"),
        regions=[1, 2], hw="attention", background=False, animate=False, show_graph=False,
        values=False).panel
    assert "step-lab-notes" in panel.summary.value
    assert "approximated" in panel.summary.value


def _run(code: str, ns: dict | None = None) -> sl.SimResult:
    scope = dict(ns or {})
    exec(compile(code, "<copied>", "exec"), scope)  # noqa: S102 - the point of the test
    return scope["result"]


STEP_BODY = """\
rows = knob("rows", 64, choices=[32, 64, 128])
tile = knob("tile", 16, choices=[8, 16, 32])
X = prog.tensor("X", (rows, 64))
ops.LinearOffChipStore(ops.LinearOffChipLoad(X, tile=(tile, 64)), "Y")
"""


def test_copy_as_code_of_a_step_cell_with_knobs_reproduces_its_cycles():
    panel = run_step_cell(STEP_BODY, "copy", {}, Options(show_graph=False), background=False,
                          display=False)
    panel.set(rows=128, tile=8)
    code = panel.code()
    assert "KNOBS = {'rows': 128, 'tile': 8}" in code
    result = _run(code)
    assert result.cycles == panel.outcome.result.cycles
    assert result.offchip_bytes == panel.outcome.result.offchip_bytes
    assert "copy as code" in panel.code_box.value and "step-lab-copy" in panel.code_box.value
    assert "KNOBS = {&#x27;rows&#x27;: 128" in panel.code_box.value   # follows the knobs


def test_copy_as_code_of_explore_workload_reproduces_its_cycles():
    from step_lab.workloads import synthetic_routing
    routing = synthetic_routing(32, 8, 2, skew=1.0, seed=3)
    wl = moe_layer("mixtral-8x7b", batch=32, routing=routing, values=False)
    panel = explore(wl, tiling=["static", "dynamic"], background=False, animate=False,
                    show_graph=False, values=False).panel
    panel.set(tiling="dynamic")
    code = panel.code()
    assert "from step_lab.workloads.moe import moe_layer" in code
    assert "np.array(" in code                  # the routing trace, written out
    result = _run(code)
    assert result.cycles == panel.outcome.result.cycles


def test_copy_as_code_of_explore_function_reproduces_its_cycles():
    panel = explorer()
    panel.set(tiling="static", tile=32, batch=64)
    code = panel.code()
    assert "from test_notebook_takeaway import copy_design" in code   # importable: imported
    assert "copy_design(batch=64, trace='real', tiling='static', tile=32)" in code
    assert _run(code).cycles == panel.outcome.result.cycles


NOTEBOOK_CELL = """
def nb_design(rows=32):
    prog = sl.Program(f"nb{rows}")
    sl.ops.LinearOffChipStore(sl.ops.LinearOffChipLoad(prog.tensor("X", (rows, 64)),
                                                       tile=(16, 64)), "Y")
    return prog
"""


def test_copy_as_code_of_a_function_defined_in_the_notebook_runs_in_the_notebook():
    notebook = {"__name__": "__main__", "sl": sl}
    exec(NOTEBOOK_CELL, notebook)  # noqa: S102 - a function as a notebook defines it
    panel = explore(notebook["nb_design"], rows=[32, 128], background=False, animate=False,
                    show_graph=False).panel
    panel.set(rows=128)
    code = panel.code()
    assert "# nb_design: the function defined in this notebook" in code
    assert _run(code, notebook).cycles == panel.outcome.result.cycles


def test_save_report_writes_a_self_contained_html_with_the_player(tmp_path):
    panel = run_step_cell(STEP_BODY, "copy", {}, Options(show_graph=False), background=False,
                          display=False)
    panel.set(rows=32)
    path = panel.save_report(tmp_path / "panel.html")
    text = path.read_text()
    assert path.is_absolute() and path.exists()
    assert "data-step-player" in text                   # the occupancy player
    assert "<svg" in text                               # the graph
    assert "Reproduce it (Python)" in text and "KNOBS = {&#x27;rows&#x27;: 32" in text
    import re
    assert not re.search(r"<script[^>]+src=|<link[^>]+href=[\"']?https?:", text)  # offline
    assert "Bokeh" in text                              # BokehJS inlined
    assert "knob rows" in text
    with pytest.raises(sl.ConfigError, match="not an .html file name"):
        panel.save_report(tmp_path / "panel.txt")


def test_the_save_button_writes_next_to_the_notebook_and_says_where(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    panel = explorer()
    panel.save_button.click()
    written = tmp_path / "step_lab_report_copy_real_32.html"
    assert written.exists()
    assert "saved to" in panel.saved.value and str(written) in panel.saved.value


# -- the what-if explorer notebook's own rules (notebooks/src/explorer.py) ----------------------
@pytest.fixture(scope="module")
def explorer_nb():
    """The explorer source's code cells up to ``moe_offers`` run as a namespace (no widgets)."""
    import sys
    from pathlib import Path
    pytest.importorskip("IPython")
    root = Path(__file__).resolve().parents[1] / "notebooks"
    text = (root / "src" / "explorer.py").read_text()
    cells = [c for c in text.split("\n# %%") if not c.lstrip().startswith("[markdown]")]
    upto = next(i for i, c in enumerate(cells) if "def moe_offers" in c)
    sys.path.insert(0, str(root))
    try:
        ns: dict = {"__name__": "explorer_nb"}
        exec(compile("\n".join(cells[1:upto + 1]), "explorer.py", "exec"), ns)  # noqa: S102
        yield ns
    finally:
        sys.path.remove(str(root))


def test_the_explorer_offers_only_the_batches_its_real_trace_holds(explorer_nb):
    offers, design = explorer_nb["moe_offers"], explorer_nb["moe_design"]
    base = {"model": "mixtral-8x7b", "batch": 64, "trace": "real", "tiling": "dynamic",
            "tile": 32, "experts_per_region": 1}
    batches, why = offers(base)["batch"]
    assert batches == [16, 32, 64] and "64 tokens" in why
    assert "batch" not in offers({**base, "trace": "synthetic: fitted"})  # all five offered
    for batch in batches:                                                 # each one builds
        assert design(**{**base, "batch": batch}).program is not None
    wl = design(**{**base, "batch": 256, "trace": "synthetic: uniform"})
    assert "synthetic: uniform routing, not a recorded trace" in wl.meta["notes"]
    assert "dynamic tiling" in offers(base)["tile"]                       # disabled: why
    assert offers({**base, "tiling": "static", "batch": 16})["tile"][0] == [8, 16]


def test_the_explorer_hides_what_a_model_cannot_do(explorer_nb):
    offers = explorer_nb["moe_offers"]
    base = {"batch": 64, "trace": "synthetic: uniform", "tiling": "dynamic", "tile": 32,
            "experts_per_region": 1}
    gallery = offers({**base, "model": "gpt-oss-20b"})
    assert gallery["trace"][0] == ["synthetic: uniform", "synthetic: skewed",
                                   "synthetic: fitted"]          # no recorded trace: no "real"
    assert offers({**base, "model": "deepseek-v3"})["experts_per_region"][0] == [1]  # 257
    dense = offers({**base, "model": "llama-3.1-8b"})
    assert "dense FFN" in dense["trace"] and dense["experts_per_region"][0] == [1]


def test_a_knob_left_with_one_value_is_disabled_and_a_bad_rule_is_explained():
    def only_16(values):
        return {"batch": ([16], "one batch only")} if values["trace"] == "real" else {}
    panel = explore(copy_design, batch=[16, 32], trace=["real", "synthetic: uniform"],
                    constraints=only_16, background=False, animate=False,
                    show_graph=False).panel
    assert panel.controls["batch"].disabled and panel.controls["batch"].tooltip == "one batch only"
    panel.set(trace="synthetic: uniform")
    assert not panel.controls["batch"].disabled
    with pytest.raises(sl.ConfigError, match="constraints: knob 'batch' offers none of"):
        explore(copy_design, batch=[16, 32], constraints=lambda v: {"batch": [7]},
                background=False, animate=False)
    with pytest.raises(sl.ConfigError, match="constraints: unknown knob 'bacth'"):
        explore(copy_design, batch=[16, 32], constraints=lambda v: {"bacth": "no"},
                background=False, animate=False)
