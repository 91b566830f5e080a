"""The browser occupancy player: compact encoding, grouping, heatmap, HTML (notebook.player)."""
import base64
import json
import re
from types import SimpleNamespace

import numpy as np
import pytest
from test_notebook_support import gemm_builder, synthetic_occupancy

import step_lab as sl
from step_lab.notebook import animate, compare
from step_lab.notebook._player_values import (
    elide,
    group_cells,
    heat_ticks,
    short_label,
    short_labels,
)
from step_lab.notebook.frames import compute_frames, frame_boundaries
from step_lab.notebook.occupancy import BUSY, Occupancy, Unit
from step_lab.notebook.player import HEAT_COLOURS, Player, bokehjs_loader
from step_lab.notebook.player_data import (
    LEVELS,
    build_run,
    decode_frame,
    group_of_name,
    group_units,
    heatmap_levels,
)


def _decode(arr: dict) -> np.ndarray:
    return np.frombuffer(base64.b64decode(arr["b64"]), dtype=arr["dtype"])


# -- compact encoding ------------------------------------------------------------------------
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_decoding_the_compact_events_gives_the_frames_of_the_old_per_frame_path(seed):
    occ = synthetic_occupancy(units=9, cycles=700, seed=seed)
    b = frame_boundaries(occ.cycles, 90)
    run = build_run(occ, b)
    frames = compute_frames(occ, b)
    for k in (0, 5, 44, len(b) - 2):
        per_state = decode_frame(run, int(b[k]), int(b[k + 1]))
        width = b[k + 1] - b[k]
        assert np.allclose(per_state[:, BUSY] / width, frames.busy[k])
        dominant = np.take_along_axis(per_state, frames.state[k][:, None].astype(int), 1)[:, 0]
        assert np.allclose(dominant / width, frames.share[k])       # same dominant share


def test_the_encoding_is_run_length_not_a_copy_per_frame():
    occ = synthetic_occupancy(units=6, cycles=5000, seed=4)
    run = build_run(occ, frame_boundaries(occ.cycles, 2000))
    assert len(run.times) <= len(occ.unit_events)                  # at most one entry per event
    fewer = build_run(occ, frame_boundaries(occ.cycles, 50))
    assert np.array_equal(fewer.times, run.times)                  # independent of the frames
    for u in range(6):                                              # no repeated state per unit
        s = run.states[run.offsets[u]:run.offsets[u + 1]]
        assert np.all(s[1:] != s[:-1])


def test_decoding_a_real_trace_matches_the_busy_cycles_the_simulator_reports():
    prog, inputs, bindings = gemm_builder({})
    result = sl.simulate(prog, bindings=bindings, inputs=inputs, trace=True)
    player = animate(result, prog)
    run = player.runs[0]
    per_state = decode_frame(run, 0, run.cycles)
    for u, name in enumerate(run.unit_names):
        if " + " in name:
            continue
        busy = np.asarray(result.trace.busy.get(name, ()), dtype=np.int64).reshape(-1, 2)
        assert per_state[u, BUSY] == pytest.approx(np.minimum(busy[:, 1], run.cycles).sum()
                                                   - np.minimum(busy[:, 0], run.cycles).sum())


def test_the_payload_decodes_to_the_same_arrays():
    occ = synthetic_occupancy(units=5, seed=7)
    player = Player([occ])
    payload = json.loads(json.dumps(player.payload()))
    run = payload["runs"][0]
    assert np.array_equal(_decode(run["times"]), player.runs[0].times)
    assert np.array_equal(_decode(run["states"]), player.runs[0].states)
    assert np.array_equal(_decode(run["offsets"]), player.runs[0].offsets)
    assert np.array_equal(_decode(payload["boundaries"]), player.boundaries)
    assert run["units"] == [u.name for u in occ.units]               # the graph's node names


# -- grouping ----------------------------------------------------------------------------------
def test_unscoped_nodes_group_by_their_name_prefix():
    assert group_of_name("r12_we40_pack") == "r12"
    assert group_of_name("e3_wg") == "e3"
    assert group_of_name("io_x_load") == "io"
    assert group_of_name("linearoffchipload0", "memory") == "memory"


def _occ(names: list) -> Occupancy:
    units = [Unit(n, "Map", "memory", 0, i) for i, n in enumerate(names)]
    return Occupancy(10, units, [(0, i, BUSY) for i in range(len(names))])


def test_groups_are_in_natural_order_and_units_map_to_them():
    groups, index = group_units(_occ(["e10_a", "e2_a", "e2_b", "x_load", "flatten3"]))
    assert groups == ["e2", "e10", "memory", "x"]
    assert [groups[i] for i in index] == ["e10", "e2", "e2", "x", "memory"]


def test_name_scopes_on_the_nodes_take_precedence_over_the_name_prefix():
    names = ["e10_a", "e2_a", "lonely"]
    scopes = {"e10_a": ("moe", "expert 10"), "e2_a": ("moe", "expert 2"), "lonely": ()}
    program = SimpleNamespace(nodes=[SimpleNamespace(name=n, scope=scopes[n]) for n in names])
    groups, index = group_units(_occ(names), program)
    assert groups == ["memory", "moe / expert 2", "moe / expert 10"]
    assert [groups[i] for i in index] == ["moe / expert 10", "moe / expert 2", "memory"]


def test_a_program_without_scopes_falls_back_to_the_prefix():
    program = SimpleNamespace(nodes=[SimpleNamespace(name="r1_x"), SimpleNamespace(name="r0_y")])
    groups, _ = group_units(_occ(["r1_x", "r0_y"]), program)
    assert groups == ["r0", "r1"]


# -- heatmap -----------------------------------------------------------------------------------
def test_heatmap_shares_sum_to_one_and_match_the_units():
    occ = synthetic_occupancy(units=12, cycles=900, seed=5)
    run = build_run(occ, frame_boundaries(occ.cycles, 100), bins=30)
    assert run.heat_shares.shape == (len(run.groups), 30, 4)
    assert np.allclose(run.heat_shares.sum(axis=-1), 1.0)
    e = run.heat_edges
    per_state = decode_frame(run, int(e[3]), int(e[4]))               # bin 3 from the events
    g0 = run.unit_group == 0
    expected = per_state[g0].sum(axis=0) / (g0.sum() * (e[4] - e[3]))
    assert np.allclose(run.heat_shares[0, 3], expected)


def test_heatmap_colours_encode_dominant_state_and_its_share():
    shares = np.array([[[1.0, 0, 0, 0], [0.1, 0.9, 0, 0], [0.6, 0.2, 0.1, 0.1],
                        [0.4, 0.1, 0.5, 0], [0.3, 0, 0.2, 0.5], [0.5, 0.25, 0.25, 0]]])
    levels = heatmap_levels(shares)[0]
    assert levels[0] == 0                                            # idle
    assert levels[1] == 1 + 0 * LEVELS + 3                           # busy 90%: darkest green
    assert levels[2] == 1 + 0                                        # busy 20%: palest green
    assert levels[3] == 1 + 1 * LEVELS + 1                           # stalled on input 50%
    assert levels[4] == 1 + 2 * LEVELS + 1                           # stalled on output 50%
    assert levels[5] == 1                                            # tie: busy wins
    assert levels.max() < len(HEAT_COLOURS)


# -- labels never overlap ------------------------------------------------------------------------
def test_labels_are_elided_to_their_cell_and_heatmap_rows_thinned():
    assert elide("moe / expert 12", 9) == "…xpert 12" and len(elide("abcdefghijk", 5)) == 5
    assert elide("e12", 9) == "e12" and elide("anything", 1) == ""
    assert short_label("moe / expert 127", 12) == "expert 127"
    assert short_label("expert 127", 8) == "exp. 127"
    assert short_label("expert 127", 5) == "e127"
    assert short_label("expert 127", 3) == "…27"
    # neighbours share one abbreviation level: never "expert 99" beside "exp. 100"
    assert short_labels(["moe / expert 99", "moe / expert 100"], 9) == ["exp. 99", "exp. 100"]
    assert short_labels(["expert 9", "expert 10"], 10) == ["expert 9", "expert 10"]
    assert short_labels(["a / b", "expert 12345678"], 4) == ["b", "…678"]
    assert short_labels(["combine", "expert 99", "expert 100"], 8) == \
        ["combine", "exp. 99", "exp. 100"]          # a lone name keeps its words
    assert all(len(short_label(f"stage {i} / region {i}", n)) <= n
               for i in range(0, 300, 7) for n in range(2, 12))
    cols, rows, cell = group_cells(129, 980)
    assert cols * cell <= 980 and cols * rows >= 129 and cell >= 60
    ticks = heat_ticks(129, 3.3)
    assert all(b - a >= 12 / 3.3 for a, b in zip(ticks, ticks[1:], strict=False))
    assert heat_ticks(10, 18) == list(range(10))


# -- HTML --------------------------------------------------------------------------------------
def test_the_player_html_is_self_contained_with_the_data_attributes():
    text = animate(synthetic_occupancy()).html()
    assert "data-step-player" in text and "data-frame='1'" in text
    assert "aria-label='play'" in text
    assert not re.search(r"<script[^>]+src=", text)                  # nothing from the network
    import bokeh
    assert f"data-version='{bokeh.__version__}'" in text and len(text) > 500_000
    lean = animate(synthetic_occupancy()).html(include_bokehjs=False)
    assert "step-lab-bokehjs" not in lean and len(lean) < 200_000


def test_bokehjs_is_loaded_only_when_the_page_lacks_this_version():
    loader = bokehjs_loader()
    assert "window.Bokeh.version ===" in loader and "document.head.appendChild" in loader
    assert "</script" not in loader.split("class='step-lab-bokehjs'", 1)[1].split(
        "</script>", 1)[0]


def test_every_output_gets_its_own_id():
    player = animate(synthetic_occupancy())
    ids = {re.search(r"id='(step-player-[0-9a-f]+)'", player.html()).group(1) for _ in range(2)}
    assert len(ids) == 2


def test_compare_plays_two_runs_on_one_cycle_axis():
    a = synthetic_occupancy(cycles=300, seed=1, label="static")
    b = synthetic_occupancy(cycles=900, seed=2, label="dynamic")
    player = compare(a, b)
    assert player.boundaries[-1] == 900 and len(player.runs) == 2
    assert [r.label for r in player.runs] == ["static tiling", "dynamic tiling"]
    assert all(len(r.bandwidth) == player.count for r in player.runs)
    text = player.html(include_bokehjs=False)
    assert text.count("class='sp-group'") == 2


def test_the_bandwidth_legend_sits_outside_the_curves_and_the_peak_label_above_them():
    from bokeh.models import Label, Legend

    a = synthetic_occupancy(cycles=300, seed=1, label="static")
    b = synthetic_occupancy(cycles=900, seed=2, label="dynamic")
    player = compare(a, b)
    fig = player.layout("p").select_one({"name": "p:bandwidth"})
    (legend,) = [x for x in fig.above if isinstance(x, Legend)]
    assert [item.label.value for item in legend.items] == ["static tiling", "dynamic tiling"]
    legends = [x for x in fig.above if isinstance(x, Legend)]
    assert len(legends) == 1 and not [x for x in fig.center if isinstance(x, Legend)]
    (label,) = [x for x in fig.center if isinstance(x, Label)]
    peak = max(r.peak for r in player.runs)
    assert label.y == peak and label.y_offset > 0 and label.background_fill_alpha >= 0.9
    assert fig.y_range.end >= peak * 1.25           # headroom for the label above every curve
    assert max(max(r.bandwidth) for r in player.runs) <= peak


def test_a_result_without_trace_names_the_fix():
    prog, inputs, bindings = gemm_builder({})
    result = sl.simulate(prog, bindings=bindings, inputs=inputs)
    with pytest.raises(ValueError, match="trace=True"):
        animate(result, prog)


def test_no_runs_is_an_error():
    with pytest.raises(ValueError, match="no runs"):
        Player([])


def test_a_scoped_workload_is_grouped_by_its_name_scopes():
    from step_lab.workloads import moe_layer
    from step_lab.workloads.models import ModelConfig
    cfg = ModelConfig("qwen3-mini", experts=4, top_k=2, hidden=64, moe_intermediate=128,
                      query_heads=4, kv_heads=1, head_dim=16, layers=1)
    wl = moe_layer(cfg, batch=8, tiling="dynamic", tile_f=64, seed=1)
    result = wl.simulate(values=False, trace=True)
    run = animate(result, wl.program).runs[0]
    experts = [g for g in run.groups if g.startswith("expert ")]
    assert experts == [f"expert {i}" for i in range(len(experts))] and len(experts) >= 2
    scope_of = {n.name: " / ".join(n.scope) for n in wl.program.nodes}
    for name, g in zip(run.unit_names, run.unit_group, strict=True):
        first = name.split(" + ")[0]
        if scope_of[first]:
            assert run.groups[g] == scope_of[first]


def test_a_run_without_placed_units_still_draws_one_idle_heatmap_row():
    from bokeh.models import ImageRGBA
    player = Player([Occupancy(100, [], [])])
    assert player.runs[0].groups == []
    layout = player.layout("p")
    images = [g.data_source.data["image"][0] for g in layout.references()
              if isinstance(getattr(g, "glyph", None), ImageRGBA)]
    assert len(images) == 1 and images[0].shape[0] == 1
    assert "data-step-player" in player.html(include_bokehjs=False)


def test_ensure_bokehjs_displays_the_inline_loader_on_every_call(shell):
    from IPython.utils.capture import capture_output

    from step_lab.notebook.animation import ensure_bokehjs
    with capture_output() as cap:
        ensure_bokehjs()
        ensure_bokehjs()                              # e.g. after a page reload: again
    pages = [o.data["text/html"] for o in cap.outputs]
    assert len(pages) == 2 and all("class='step-lab-bokehjs'" in p for p in pages)
