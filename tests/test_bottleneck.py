"""Why is it slow? The bound of a run, its most stalled units, the roofline (sim/bottleneck.py)."""
import json

import pytest

import step_lab as sl
from step_lab import fn, ops
from step_lab.sim.bottleneck import why_slow

CHAIN_HW = sl.hw.PAPER.replace(pipeline_latency_cycles=8, fifo_depth=1)


def copy_pipeline():
    prog = sl.Program("copy")
    X = prog.tensor("X", (4096, 64), "bf16")
    x = ops.LinearOffChipLoad(X, tile=(16, 64))
    ops.LinearOffChipStore(x, prog.tensor("Y", (4096, 64), "bf16", role="output"))
    return prog


def heavy_map():
    prog = sl.Program("heavy")
    X = prog.tensor("X", (256, 64), "bf16")
    y = ops.Map(ops.LinearOffChipLoad(X, tile=(16, 64)), fn.SiLU(), compute_bw=4, name="silu")
    ops.LinearOffChipStore(y, prog.tensor("Y", (256, 64), "bf16", role="output"))
    return prog


def chain(depth=None, last: bool = True):
    """load -> fast -> slow -> store with depth-1 FIFOs and an 8-cycle pipeline latency;
    ``depth`` deepens the FIFOs (the last one, slow -> store, only if ``last``)."""
    prog = sl.Program("chain")
    X = prog.tensor("X", (2048, 64), "bf16")
    x = ops.LinearOffChipLoad(X, tile=(1, 64))
    a = ops.Map(x, fn.SiLU(), compute_bw=4096, name="fast")
    b = ops.Map(a, fn.SiLU(), compute_bw=4096, name="slow")
    ops.LinearOffChipStore(b, prog.tensor("Y", (2048, 64), "bf16", role="output"))
    if depth:
        for s in (x, a, b) if last else (x, a):
            prog.set_fifo_depth(s, depth)
    return prog


def test_a_streaming_load_store_pipeline_is_bound_by_off_chip_bandwidth():
    # idealised HBM: one operator may use all the bandwidth (with the presets' 4 requests per
    # cycle per operator, issue 16, a lone copy reaches half of it)
    b = sl.simulate(copy_pipeline(), values=False, hw=sl.hw.idealized(sl.hw.PAPER)).bottleneck
    assert b.bound == "offchip" and b.bound_name == "off-chip bandwidth"
    assert b.offchip_utilization > 0.9 and "1,024 B/cycle" in b.reason
    assert "more off-chip bandwidth" in b.knob


def test_a_compute_heavy_map_is_compute_bound():
    r = sl.simulate(heavy_map(), values=False)
    b = r.bottleneck
    assert b.bound == "compute" and b.compute_utilization > 0.9
    load = next(s for s in b.top_stalled if s.name == "linearoffchipload0")
    assert load.waits_for == "output slot" and load.waits_on == "linearoffchipload0 -> silu.0"


def test_a_back_pressured_chain_names_the_unit_and_the_channel():
    r = sl.simulate(chain(), hw=CHAIN_HW, values=False)
    b = r.bottleneck
    assert (b.bound, b.unit, b.channel) == ("backpressure", "fast", "fast -> slow.0")
    assert "(depth 1)" in b.reason and "set_fifo_depth" in b.knob
    assert b.headline() == "bound: back-pressure at 'fast' on channel 'fast -> slow.0'"
    # deepening that FIFO (and the one before) moves the bound to the next shallow FIFO ...
    moved = sl.simulate(chain(depth=16, last=False), hw=CHAIN_HW, values=False).bottleneck
    assert (moved.bound, moved.unit, moved.channel) == ("backpressure", "slow",
                                                        "slow -> linearoffchipstore0.0")
    # ... and deepening all of them removes the back-pressure
    deeper = sl.simulate(chain(depth=16), hw=CHAIN_HW, values=False)
    assert deeper.cycles < 0.3 * r.cycles and deeper.bottleneck.bound != "backpressure"


def test_the_simulator_records_the_channel_each_node_waits_on():
    r = sl.simulate(chain(), hw=CHAIN_HW, values=False)
    fast, slow = r.per_node["fast"], r.per_node["slow"]
    assert fast["stall_out_on"] == "fast -> slow.0" and slow["stall_in_on"] == "fast -> slow.0"
    assert r.per_node["linearoffchipload0"]["stall_in_on"] is None
    # per-channel stalls add up to the per-node totals
    assert r.channels["fast -> slow.0"]["stall_put"] == fast["stall_out"]
    ins = [c for name, c in r.channels.items() if name.endswith("-> slow.0")]
    assert sum(c["stall_get"] for c in ins) == slow["stall_in"]


def test_the_most_stalled_units_leave_out_program_inputs_and_outputs():
    prog = sl.Program("io")
    x = prog.input("x", sl.Tile(1, 64, "bf16"), (64, 1))
    prog.output("y", ops.Map(x, fn.SiLU(), compute_bw=1))
    b = sl.simulate(prog, inputs={"x": [[__import__("numpy").zeros((1, 64))] for _ in range(64)]},
                    values=False).bottleneck
    assert all(s.op not in ("Input", "Output") for s in b.top_stalled)


def test_roofline_places_the_run_and_variants_without_rerunning_them():
    runs = {f"depth {d}": sl.simulate(chain(depth=d), hw=CHAIN_HW, values=False)
            for d in (None, 4, 16)}
    current = runs["depth None"]
    b = current.why_slow(runs)
    roof = b.roofline
    assert roof.bandwidth == CHAIN_HW.offchip_bytes_per_cycle
    assert roof.compute == current.allocated_compute == 8192
    assert [p.label for p in roof.points] == ["this run", "depth 4", "depth 16"]
    this = roof.points[0]
    assert this.current and this.intensity == current.flops / current.offchip_bytes
    assert this.achieved == pytest.approx(current.flops / current.cycles)
    assert roof.ridge == 8192 / CHAIN_HW.offchip_bytes_per_cycle
    assert "depth 16 is" in b.knob and "faster" in b.knob
    assert {v[0] for v in b.variants} == {"depth 4", "depth 16"}
    data = json.loads(json.dumps(b.to_dict()))
    assert data["bound"] == "backpressure" and data["roofline"]["points"][0]["achieved"] > 0


def test_useful_flops_place_every_variant_by_the_same_work():
    from step_lab.notebook.roofline import roofline_figure, roofline_svg
    runs = {f"depth {d}": sl.simulate(chain(depth=d), hw=CHAIN_HW, values=False)
            for d in (None, 4)}
    useful = int(runs["depth 4"].flops) // 2          # as if half the executed work were padding
    b = runs["depth None"].why_slow(runs, useful_flops=useful)
    assert [p.flops for p in b.roofline.points] == [useful, useful]
    for p, r in zip(b.roofline.points, runs.values(), strict=True):
        assert p.achieved == pytest.approx(useful / r.cycles)
    label = "useful compute [FLOPs per cycle, padding excluded]"
    assert b.roofline.useful and roofline_figure(b).yaxis[0].axis_label == label
    assert label in roofline_svg(b)
    plain = runs["depth None"].why_slow(runs)
    assert not plain.roofline.useful and plain.roofline.points[0].flops == runs["depth 4"].flops
    for bad in (0, -5, 2.5, True, "many"):
        with pytest.raises(sl.errors.ConfigError, match="useful_flops"):
            runs["depth 4"].why_slow(useful_flops=bad)


def test_why_html_names_bound_units_and_channels():
    from step_lab.notebook.roofline import why_html
    b = sl.simulate(chain(), hw=CHAIN_HW, values=False).bottleneck
    page = why_html(b)
    assert "data-bound='backpressure'" in page and "fast -&gt; slow.0" in page
    assert "What moves it" in page and "most stalled units" in page


def test_roofline_plot_has_labelled_axes_si_ticks_and_named_roofs():
    from bokeh.models import CustomJSTickFormatter, Legend

    from step_lab.notebook.roofline import roofline_figure, roofline_fragment, si
    runs = {f"depth {d}": sl.simulate(chain(depth=d), hw=CHAIN_HW, values=False)
            for d in (None, 2, 4, 16)}
    b = runs["depth None"].why_slow(runs)
    fig = roofline_figure(b)
    assert fig.xaxis[0].axis_label == "arithmetic intensity [FLOPs per off-chip byte]"
    assert fig.yaxis[0].axis_label == "achieved compute [FLOPs per cycle]"
    assert isinstance(fig.xaxis[0].formatter, CustomJSTickFormatter)
    legend = next(x for x in fig.below if isinstance(x, Legend))
    labels = [item.label["value"] for item in legend.items]
    assert labels == ["roof: off-chip bandwidth 1,024 B/cycle",
                      "roof: allocated compute 8,192 FLOPs/cycle"]
    assert si(4_920_000) == "4.92M" and si(1024) == "1,024" and si(0.25) == "0.25"
    assert "Bokeh" in roofline_fragment(b) and "cdn.bokeh.org" not in roofline_fragment(b)


def test_point_labels_never_overlap():
    from step_lab.notebook.roofline import _apart, _label_offsets, roofline_figure
    runs = {f"v{i}": sl.simulate(chain(depth=d), hw=CHAIN_HW, values=False)
            for i, d in enumerate((None, 2, 3, 4, 6, 8, 16))}
    b = runs["v0"].why_slow(runs)
    fig = roofline_figure(b)
    pts = [p for p in b.roofline.points]
    offsets = _label_offsets(fig, pts)
    assert offsets[0] is not None                      # the run itself is always labelled
    src = fig.renderers[-1].data_source.data           # the text glyph's source
    labelled = [p.label for p, o in zip(pts, offsets, strict=True) if o]
    assert [t for t in src["text"] if t] == labelled
    assert _apart((0, 0, 10, 10), (10, 0, 20, 10)) and not _apart((0, 0, 10, 10), (5, 5, 8, 8))


def test_a_run_without_flops_still_gets_a_roofline_note():
    from step_lab.notebook.roofline import roofline_figure
    b = sl.simulate(copy_pipeline(), values=False).bottleneck
    fig = roofline_figure(b)
    assert any("no FLOPs" in getattr(x, "text", "") for x in fig.center)


def test_why_slow_on_a_result_equals_the_function():
    r = sl.simulate(heavy_map(), values=False)
    assert why_slow(r) == r.why_slow() == r.bottleneck


def test_knob_panels_show_the_verdict_and_place_earlier_knob_settings_on_the_roofline():
    from step_lab.notebook.knobs import Knob
    from step_lab.notebook.outcome import Options, evaluate
    from step_lab.notebook.panel import StepPanel

    def build(values):
        return chain(depth=values["depth"]), {}, {}
    options = Options(hw=CHAIN_HW, values=False, show_graph=False, animate=False)
    knobs = {"depth": Knob("depth", 1, choices=[1, 4, 16])}
    panel = StepPanel(build, knobs, options, first=evaluate(build, {"depth": 1}, options),
                      background=False)
    assert "Why is it slow?" in panel.why.value and "back-pressure" in panel.why.value
    assert panel.roofline.value == ""                  # the plot only on request
    panel.set(depth=16)
    b = panel.bottleneck
    assert [p.label for p in b.roofline.points] == ["depth=16", "depth=1"]
    assert b.bound != "backpressure"
    panel.roofline_toggle.value = True
    assert panel.roofline.value.startswith("<iframe") and "srcdoc=" in panel.roofline.value
    panel.close()


def test_static_step_outputs_get_a_small_svg_roofline_with_labelled_axes_and_roofs():
    from step_lab.notebook.roofline import roofline_svg
    runs = {f"depth {d}": sl.simulate(chain(depth=d), hw=CHAIN_HW, values=False)
            for d in (None, 4, 16)}
    svg = roofline_svg(runs["depth None"].why_slow(runs))
    assert svg.startswith("<svg") and "<script" not in svg and len(svg) < 20_000
    assert "arithmetic intensity [FLOPs per off-chip byte]" in svg
    assert "achieved compute [FLOPs per cycle]" in svg
    assert "roof: off-chip bandwidth 1,024 B/cycle" in svg
    assert "roof: allocated compute 8,192 FLOPs/cycle" in svg
    assert svg.count("<circle") == 3 and svg.count("r='6' fill='#d62728'") == 1   # the run
    assert "e+" not in svg


def test_a_step_cell_shows_the_verdict_and_the_svg_roofline(shell):
    shell.run_cell("%load_ext step_lab")
    from IPython.utils.capture import capture_output
    with capture_output() as cap:
        shell.run_cell("%%step copy\nX = prog.tensor('X', (4096, 64), 'bf16')\n"
                       "ops.LinearOffChipStore(ops.LinearOffChipLoad(X, tile=(16, 64)), 'Y')")
    html = cap.outputs[0].data["text/html"]
    assert "Why is it slow?" in html and "class='step-lab-roofline'" in html
