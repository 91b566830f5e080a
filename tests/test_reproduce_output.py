"""What ``step-lab reproduce`` shows a reader: the summary at the end of a run, the stand-in note
of each figure (the traces the run used), and the check column of a figure page, where a
reviewed known miss says so and why, apart from a new miss."""
import html
import json
from pathlib import Path

import pytest

from step_lab.cli import main
from step_lab.reproduce import FIGURES, Figure, FigureResult, get_figure
from step_lab.reproduce.console import run_summary, standin_notes
from step_lab.reproduce.inputs import resolve
from step_lab.reproduce.known import CHECKOUT_LIST, load_known_misses
from step_lab.reproduce.runner import _html

ROOT = Path(__file__).resolve().parents[1]
B80 = [f"kv_lengths/b80/conv_stdev{s}.npy" for s in
       ("0562_4181_4260", "0987_4687_4766", "1413_0981_1060", "0531_0135_0214",
        "0529_2025_2104", "0986_3989_4068", "0987_1891_1970", "1334_3227_3306",
        "1310_0815_0894")]                  # withheld: every one is a stand-in when used


def _record(fig_id, quick, checks, inputs=None, failed=()):
    return {"figure": fig_id, "quick": quick, "elapsed_s": 1.0, "inputs": inputs or {},
            "checks": {k: {"status": s, "inputs": i, "tolerance": "±10%"}
                       for k, (s, i) in checks.items()},
            "failed_points": list(failed)}


KNOWN = [{"figure": "fig9", "key": "b", "runs": ["quick"], "reason": "documented"},
         {"figure": "fig9", "key": "c", "runs": ["full"], "reason": "only in the full run"}]


def test_the_summary_counts_figures_and_splits_known_from_new_misses(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    records = [_record("fig9", True, {"a": ("pass", "real"), "b": ("fail", "real"),
                                      "c": ("fail", "real"), "d": ("no value", "real"),
                                      "e": ("not assessed in quick mode", "real"),
                                      "f": ("reference only", "real")},
                       failed=["point x failed: boom"]),
               _record("fig10", True, {"x": ("pass", "synthetic"), "y": ("fail", "synthetic"),
                                       "z": ("pass", "real")})]
    lines = run_summary(records, "out/reproduce", 75.4, KNOWN, tmp_path / "KNOWN_MISSES.json")
    assert lines[0] == ("step-lab: reproduced 2 figure(s) (--quick) in 1 min 15 s of wall "
                        "time; 1 with failed points (fig9)")
    assert lines[1] == ("step-lab: checks on real inputs: 2 passed, 3 missed (1 known, 2 new), "
                        "1 not assessed in quick mode")
    assert lines[2] == "step-lab:   known misses (reasons in KNOWN_MISSES.json): fig9 b"
    assert lines[3] == "step-lab:   NEW misses (not in the reviewed list): fig9 c, fig9 d"
    assert lines[4] == ("step-lab: checks on synthetic stand-ins: 1 passed, 1 missed "
                        "(reported, not required)")
    assert lines[5] == ("step-lab: outputs: out/reproduce/FIG.json and out/reproduce/FIG.html "
                        "for fig9, fig10")
    assert "step-lab reproduction --quick-dir out/reproduce --output " \
        "out/reproduce/REPRODUCTION.md" in lines[6]
    assert len(lines) == 7


def test_a_full_run_without_misses_says_so_briefly():
    lines = run_summary([_record("fig8", False, {"a": ("pass", "real")})], "/tmp/x", 3.25, [])
    assert lines[0] == "step-lab: reproduced 1 figure(s) in 3.2 s of wall time"
    assert lines[1] == "step-lab: checks on real inputs: 1 passed, 0 missed"
    assert "--full-dir /tmp/x" in lines[-1] and len(lines) == 4


def test_the_stand_in_note_counts_the_traces_the_run_used():
    inputs = {f"kv_lengths/b16/r{i}.npy": {"source": "real"} for i in range(6)}
    inputs |= {f: {"source": "synthetic", "reason": "withheld"} for f in B80[:3]}
    (line,) = standin_notes(_record("fig21", True, {}, inputs))
    assert line.startswith("step-lab: note: fig21: 3 trace file(s) withheld (")
    assert all(f in line for f in B80[:3]) and "more" not in line
    assert standin_notes(_record("fig8", True, {}, {})) == []


def test_a_figure_page_shows_a_reviewed_miss_as_known_with_its_reason(tmp_path):
    """A miss on real inputs listed in KNOWN_MISSES.json is shown as known, with its reason; an
    unlisted one as a new miss (the committed fig17 record with one check made to miss)."""
    from step_lab.reproduce.scoring import FAIL
    record = json.loads((ROOT / "reproduction" / "quick" / "fig17.json").read_text())
    key = "mixtral.speedup_vs_performance_matched"
    assert record["checks"][key]["status"] == "pass" and not load_known_misses(CHECKOUT_LIST)
    record["checks"][key]["status"] = FAIL
    listed = tmp_path / "KNOWN_MISSES.json"
    listed.write_text(json.dumps({"misses": [{"figure": "fig17", "key": key,
                                              "runs": ["quick"], "reason": "a reviewed "
                                              "reason <with markup> of some length, enough"}]}))
    known = load_known_misses(listed)
    (entry,) = known
    page = _html(get_figure("fig17"), record, None, known)
    row = next(r for r in page.split("<tr>") if f"<td>{entry['key']}</td>" in r)
    assert "known miss" in row and "class='known'" in row and ">NO" not in row
    assert html.escape(entry["reason"][:60]) in page and "Known misses" in page
    assert ">NO" not in page                                # its other checks pass
    new = _html(get_figure("fig17"), record, None, [])        # unreviewed: a new miss
    row = next(r for r in new.split("<tr>") if f"<td>{entry['key']}</td>" in r)
    assert "class='miss'>NO (new miss)" in row and "Known misses" not in new


def test_the_bar_charts_legend_lies_outside_the_plot_area():
    pytest.importorskip("bokeh")
    from bokeh.models import Legend

    from step_lab.reproduce.figures._attention import bar_plot
    fig = bar_plot(["a", "b"], {"ours": [1.0, 2.0]}, title="t", y_label="y",
                   reference={("a", "ours"): 1.5})
    assert not any(isinstance(r, Legend) for r in fig.center)
    assert any(isinstance(r, Legend) for r in fig.above + fig.below + fig.left + fig.right)


def _scatter_and_line_plots():
    """Figs 8, 9/10, 12 and 13 as their pages draw them, from small made-up tables."""
    from step_lab.reproduce.figures import fig8, fig12, fig13
    from step_lab.reproduce.figures._moe import tiling_plot
    records = [{"label": f"m{m}", "cycles": c, "reference_cycles": c * 1.01,
                "hdl_cycles": c * 0.97, "offchip_bytes": c * 300}
               for m, c in ((16, 3.3e4), (32, 2.1e4), (64, 9.5e3))]
    moe = {f"{m}.{t}": {"model": m, "tiling": "static", "tile": t, "onchip_memory": 1e6 * t,
                        "cycles": 1e6 * (30 + 40 / t)} for m in ("a", "b") for t in (8, 64, 1024)}
    moe.update({f"{m}.dynamic": {"model": m, "tiling": "dynamic", "onchip_memory": 2e7,
                                 "cycles": 2e7} for m in ("a", "b")})
    regions = (128, 32, 8, 4)
    table = {f"{tiling}.r{r}": {"compute_utilization": 0.2, "cycles": 1e6 * r,
                                "onchip_memory": 1e7 * r, "allocated_compute": 1e4 * r,
                                "bandwidth_utilization": 0.7}
             for tiling in ("static", "dynamic") for r in regions}
    return {"fig8": fig8._plot(records), "fig9/10": tiling_plot(moe, ["a", "b"]),
            "fig12": fig12._plot(table, regions), "fig13": fig13._plot(table, regions)}


def test_the_scatter_and_line_plots_legends_lie_above_the_plot_area():
    # inside the frame they covered data: Fig 10's tile-1024 point, Fig 13(b)'s tall bars
    pytest.importorskip("bokeh")
    from bokeh.models import Legend

    from step_lab.reproduce.figures._legend import STYLE, legend_width
    for name, layout in _scatter_and_line_plots().items():
        assert len(layout.children) == 2, name
        for fig in layout.children:
            assert not any(isinstance(r, Legend) for r in fig.center), (name, fig.title.text)
            (legend,) = [r for r in fig.above if isinstance(r, Legend)]
            assert legend.items and legend.orientation == STYLE["orientation"]
            labels = [item.label.value for item in legend.items]
            # wrapped onto enough rows that each fits across the frame (not cut off at the right)
            frame = fig.width - 100 - 50 * (len(fig.right) > 0)
            assert legend_width(labels) / legend.nrows <= frame or legend.nrows == len(labels)


def test_a_long_legend_above_the_plot_wraps_and_a_short_one_keeps_one_row():
    pytest.importorskip("bokeh")
    from bokeh.plotting import figure

    from step_lab.reproduce.figures._legend import legend_above
    rows = {}
    for width in (1000, 300):
        fig = figure(width=width, height=300)
        fig.line([0, 1], [0, 1], legend_label="allocated compute [KFLOPs/cycle]")
        fig.line([0, 1], [1, 0], legend_label="on-chip memory [MB]")
        rows[width] = legend_above(fig).nrows
    assert rows == {1000: 1, 300: 2}


def _fake_figure(ctx) -> FigureResult:
    """Declares nine withheld traces, uses three of them (as a quick Fig 21 does)."""
    for relative in B80[:3]:
        resolve(ctx, relative, "a fake stand-in")
    return FigureResult(headline={"x": 1.0, "y": 2.0, "z": 3.0, "w": 9.0}, points=[])


def test_reproduce_all_ends_with_a_summary_and_notes_the_stand_ins_it_used(
        tmp_path, capsys, monkeypatch):
    import step_lab.reproduce as reproduce
    fake = Figure("figfake", "fake", "?", {"x": 1.0, "y": 1.0, "z": 1.0, "w": 1.0},
                  {k: ("rel", 0.1) for k in "xyzw"}, _fake_figure, traces=tuple(B80),
                  scopes={"x": (), "y": (), "z": ()})     # w rests on the stand-ins
    get_figure("fig8")                                    # fills the registry first
    monkeypatch.setitem(FIGURES, "figfake", fake)
    monkeypatch.setattr(reproduce, "figure_ids", lambda: ["fig8", "figfake"])
    (tmp_path / "KNOWN_MISSES.json").write_text(json.dumps(
        [{"figure": "figfake", "key": "y", "runs": ["quick"], "reason": "a reviewed reason"}]))
    out = tmp_path / "out"
    assert main(["reproduce", "all", "--quick", "--jobs", "1", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "figfake: 3 trace file(s) not in the vendored traces" in captured.err
    lines = captured.out.splitlines()
    summary = lines[lines.index(next(x for x in lines if "reproduced" in x)):]
    assert summary[0].startswith("step-lab: reproduced 2 figure(s) (--quick) in ")
    assert summary[1] == "step-lab: checks on real inputs: 21 passed, 2 missed (1 known, 1 new)"
    assert summary[2].endswith(": figfake y") and str(tmp_path) in summary[2]
    assert summary[3] == "step-lab:   NEW misses (not in the reviewed list): figfake z"
    assert summary[4].startswith("step-lab: checks on synthetic stand-ins: 0 passed, 1 missed")
    assert f"{out}/FIG.json and {out}/FIG.html for fig8, figfake" in summary[5]
    page = (out / "figfake.html").read_text()
    assert "a reviewed reason" in page and "NO (new miss)" in page
    assert "NO (on a stand-in: reported, not required)" in page


def test_a_malformed_known_misses_list_stops_reproduce_before_it_runs(tmp_path, capsys):
    (tmp_path / "KNOWN_MISSES.json").write_text('[{"figure": "fig8", "key": "x"}]')
    out = tmp_path / "out"
    assert main(["reproduce", "fig8", "--quick", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "KNOWN_MISSES.json" in err and "reason" in err and not out.exists()
