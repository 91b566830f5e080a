"""The MoE figures (9, 10, 12, 13): registration, trace lookup, headline logic, a real smoke run."""
import json
import shutil

import pytest
from _quick_run import quick_dir, quick_record

from step_lab.errors import TraceError
from step_lab.reproduce import FIGURES, RunContext, get_figure
from step_lab.reproduce.figures import _moe, fig9, fig10, fig12, fig13
from step_lab.workloads import trace_path

SECTION7 = {
    "fig9": ["mixtral.pid", "mixtral.speedup_vs_tile16", "mixtral.memory_ratio_vs_tile32",
             "qwen.pid", "qwen.speedup_vs_tile8", "qwen.memory_ratio_vs_tile8",
             "qwen.memory_ratio_vs_tile64"],
    "fig10": ["mixtral.pid", "mixtral.speedup_vs_tile128", "mixtral.speedup_vs_tile256",
              "qwen.pid", "qwen.speedup_vs_tile64", "qwen.speedup_vs_tile1024",
              "qwen.memory_ratio_vs_tile1024"],
    "fig12": ["padded_flop_ratio", "static.util_ratio_r32", "dynamic.util_ratio_r32",
              "static.cycle_overhead_r32", "dynamic.cycle_overhead_r32"],
    "fig13": ["memory_reduction_r32", "compute_reduction_r32"],
}


def nested(record: dict, dotted: str):
    node = record
    for part in dotted.split("."):
        node = node[part]
    return node


@pytest.mark.parametrize("fig_id", sorted(SECTION7))
def test_figures_register_the_section7_keys_with_paper_values(fig_id):
    fig = get_figure(fig_id)
    for key in SECTION7[fig_id]:
        assert key in fig.paper and key in fig.tolerance
    assert FIGURES[fig_id] is fig


def test_section7_paper_values():
    assert fig9.PAPER["qwen.pid"] == 2.11 and fig10.PAPER["qwen.memory_ratio_vs_tile1024"] == 12.5
    assert fig12.PAPER["padded_flop_ratio"] == 3.81 and fig13.PAPER["compute_reduction_r32"] == 0.62


def test_routing_uses_the_traces_folder_and_falls_back_to_the_standin(tmp_path):
    notes = []
    with pytest.raises(TraceError, match="missing under --traces.*--allow-standins"):
        _moe.routing_for(RunContext(traces=tmp_path), _moe.MIXTRAL, 1024, notes)
    ctx = RunContext(traces=tmp_path, allow_standins=True)
    assert _moe.routing_for(ctx, _moe.MIXTRAL, 1024, notes) == "standin"
    assert ctx.inputs["expert_routing/mixtral_b1024/019_009.npz"]["source"] == "synthetic"
    notes.clear()
    assert _moe.routing_for(RunContext(), _moe.MIXTRAL, 1024, notes) == "standin"
    assert "withheld" in notes[0] and "019_009.npz" in notes[0]
    target = tmp_path / "expert_routing/mixtral_b64/008_010.npz"
    target.parent.mkdir(parents=True)
    shutil.copy(trace_path("expert_routing/mixtral_b64/008_010.npz"), target)
    assert _moe.routing_for(ctx, _moe.MIXTRAL, 64, notes) == str(target)
    vendored = _moe.routing_for(RunContext(), _moe.QWEN, 64, notes)
    assert vendored.endswith("qwen_b64/032_012.npz")


def fake_record(label, model, tiling, tile, memory, cycles, traffic=1.0):
    return {"label": label, "model": model, "tiling": tiling, "tile": tile, "error": None,
            "onchip_memory": memory, "cycles": cycles, "offchip_traffic": traffic,
            "weight_traffic": traffic, "active_experts": 8}


def test_fig10_headlines_from_records(monkeypatch):
    """The paper's plotted Fig 10 values give its headlines back (PID, flattening, ratios)."""
    mix = {16: (1.9e7, 5.4e7), 32: (2.5e7, 2.9e7), 64: (3.8e7, 1.6e7), 128: (6.3e7, 1.47e7),
           256: (1.13e8, 1.48e7), 512: (2.1e8, 1.5e7), 1024: (4.1e8, 2.9e7)}
    qwen = {16: (1.5e8, 5.6e6), 32: (2.0e8, 2.9e6), 64: (3.0e8, 1.8e6), 128: (5.0e8, 1.25e6),
            256: (9.1e8, 1.10e6), 512: (1.7e9, 1.19e6), 1024: (3.3e9, 1.09e6)}
    records = []
    for key, model, table, dyn in (("mixtral", _moe.MIXTRAL, mix, (1.13e8, 7.9e6)),
                                   ("qwen", _moe.QWEN, qwen, (2.7e8, 0.97e6))):
        for tile, (mem, cyc) in table.items():
            records.append(fake_record(f"{key}.tile{tile}", model, "static", tile, mem, cyc))
        records.append(fake_record(f"{key}.dynamic", model, "dynamic", None, *dyn))
    monkeypatch.setattr(fig10, "run_points", lambda ctx, points: records)
    result = fig10.run(RunContext(progress=False))
    h = result.headline
    assert h["mixtral.pid"] == pytest.approx(1.86, rel=0.01)
    assert h["qwen.pid"] == pytest.approx(1.86, rel=0.01)
    assert h["mixtral.speedup_vs_tile256"] == pytest.approx(1.87, rel=0.01)
    assert h["qwen.memory_ratio_vs_tile1024"] == pytest.approx(12.2, rel=0.01)
    assert h["mixtral.static_flattens_after_128"] and h["mixtral.static_rises_at_1024"]
    assert h["qwen.dynamic_faster_than_every_static"]
    assert h["mixtral.equal_bw.speedup_vs_tile256"] is None         # no ablation record
    assert any("stand-in" in n for n in result.notes)               # b1024 traces withheld


def test_failed_points_become_notes_not_crashes(monkeypatch):
    records = [{"label": "qwen.tile8", "error": "DeadlockError: stuck"}]
    monkeypatch.setattr(fig9, "run_points", lambda ctx, points: records)
    result = fig9.run(RunContext(progress=False))
    assert result.headline["qwen.pid"] is None
    assert any("qwen.tile8 failed: DeadlockError" in n for n in result.notes)


def test_fig13_quick_reproduces_the_analytic_headlines():
    record = quick_record("fig13")          # shared with the regression guard
    assert record["headline"]["memory_reduction_r32"] == pytest.approx(0.46, abs=0.005)
    assert record["headline"]["compute_reduction_r32"] == pytest.approx(0.62, abs=0.005)
    assert record["within_tolerance"]["memory_kb"]["r32"] is True
    assert (quick_dir() / "fig13.html").read_text().count("<html") >= 1
    assert record["checks"]["memory_kb.r64"]["status"] == "not assessed in quick mode"
    page = (quick_dir() / "fig13.html").read_text()
    table = page[page.rfind("<table>"):page.rfind("</table>")]
    assert "not assessed in quick mode" in table and "None" not in table


@pytest.mark.slow          # ~20 s of CPU: 10 real Mixtral/Qwen layer simulations
def test_fig9_quick_smoke_run_writes_the_section7_keys():
    record = quick_record("fig9")
    saved = json.loads((quick_dir() / "fig9.json").read_text())
    assert saved["figure"] == "fig9" and saved["quick"] is True
    for key in SECTION7["fig9"]:
        assert isinstance(nested(saved["headline"], key), float)
        assert nested(saved["paper"], key) == fig9.PAPER[key]
    assert nested(record["within_tolerance"], "qwen.memory_ratio_vs_tile64") is True
    assert nested(record["within_tolerance"], "mixtral.pid") is True
    assert len(saved["points"]) == 10 and all(p["error"] is None for p in saved["points"])
    assert "bokeh" in (quick_dir() / "fig9.html").read_text().lower()
