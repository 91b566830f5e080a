"""The occupancy animation: bokeh document content and playback wiring (notebook.animation)."""
import json

import numpy as np
import pytest
from bokeh.embed import json_item

from step_lab.notebook.animation import SPEEDS, Animation, animate, compare
from step_lab.notebook.occupancy import STATES
from step_lab.notebook.plots import STATE_COLOURS
from test_notebook_support import gemm_builder, synthetic_occupancy


def named(layout, name: str) -> dict:
    """The JSON of the bokeh model called ``name`` in the serialized document."""
    found = []

    def walk(node):
        if isinstance(node, dict):
            if node.get("name") == name:
                found.append(node)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(json_item(layout))
    assert found, f"no model named {name!r} in the document"
    return found[0]


def columns(layout, source: str) -> dict:
    return dict(named(layout, source)["data"]["entries"])


def test_the_document_holds_one_square_per_unit_at_its_placement():
    occ = synthetic_occupancy(units=6)
    anim = Animation([occ], load_bokehjs=False)
    units = columns(anim.layout, "units")
    assert units["name"] == [u.name for u in occ.units]
    assert units["x"] == [u.col for u in occ.units] and units["y"] == [-u.row for u in occ.units]
    assert set(units["state"]) <= set(STATES)


def test_the_bandwidth_series_has_one_point_per_frame():
    occ = synthetic_occupancy(cycles=5000)
    anim = Animation([occ], max_frames=250, load_bokehjs=False)
    series = columns(anim.layout, "bandwidth_0")
    assert anim.count == 250 and len(series["bandwidth"]) == 250
    assert np.allclose(series["bandwidth"], anim.frames[0].bandwidth)
    assert sum(b * w for b, w in zip(series["bandwidth"], np.diff(anim.boundaries))) == \
        pytest.approx(occ.hbm_events[:, 2].sum())


def test_scrubbing_the_slider_redraws_the_sources_for_that_frame():
    anim = Animation([synthetic_occupancy()], load_bokehjs=False)
    frames = anim.frames[0]
    for k in (7, 123, anim.count - 1):
        anim.slider.value = k
        units = columns(anim.layout, "units")
        assert units["fill"] == [STATE_COLOURS[s] for s in frames.state[k]]
        assert np.allclose(columns(anim.layout, "fifos")["fill_level"], frames.fifo_fill[k],
                           atol=1e-3)
        assert named(anim.layout, "cursor")["location"] == anim.boundaries[k]
        assert f"frame {k + 1}/{anim.count}" in named(anim.layout, "clock")["text"]


def test_a_frame_change_is_sent_to_the_browser_as_small_bokeh_patches():
    anim = Animation([synthetic_occupancy()], load_bokehjs=False)
    sent = []
    anim.model.send = lambda msg, buffers=None: sent.append(msg)
    anim.slider.value = 5
    events = [json.loads(m["payload"]) for m in sent if m["payload"].startswith('{"events"')]
    kinds = [e["kind"] for batch in events for e in batch["events"]]
    assert "ColumnDataChanged" in kinds and "ModelChanged" in kinds
    assert sum(len(m["payload"]) for m in sent) < 5000            # no full document resend


def test_play_and_speed_controls_drive_the_frame_slider():
    anim = Animation([synthetic_occupancy()], load_bokehjs=False)
    assert (anim.play.min, anim.play.max) == (0, anim.count - 1) == (anim.slider.min,
                                                                    anim.slider.max)
    anim.speed.value = "4×"
    assert (anim.play.interval, anim.play.step) == SPEEDS["4×"]
    assert anim.slider.continuous_update is True                # scrubbing is cheap


def test_compare_puts_two_runs_on_one_cycle_axis_side_by_side():
    short = synthetic_occupancy(cycles=300, seed=1, label="dynamic tiling")
    long = synthetic_occupancy(cycles=900, seed=2, label="static tiling")
    widget = compare(long, short, labels=("static tiling", "dynamic tiling"),
                     load_bokehjs=False)
    anim = widget.animation
    assert anim.boundaries[-1] == 900
    assert named(anim.layout, "bandwidth_1")
    last = anim.frames[1].state[-1]
    assert list(last) == [0] * len(last)                          # the short run is done: idle
    text = json.dumps(json_item(anim.layout))
    assert "static tiling: 900 cycles" in text and "dynamic tiling: 300 cycles" in text


def test_animate_a_real_simulation_trace():
    import step_lab as sl
    prog, inputs, bindings = gemm_builder({})
    result = sl.simulate(prog, bindings=bindings, inputs=inputs, trace=True)
    widget = animate(result, prog, load_bokehjs=False)
    anim = widget.animation
    units = columns(anim.layout, "units")
    assert sorted(units["name"]) == sorted(n for n, c in result.trace.units.items() if c)
    assert anim.frames[0].busy.max() > 0.9                      # the matmul unit is busy
    assert anim.boundaries[-1] == result.cycles


def test_animating_a_result_without_a_trace_names_the_fix():
    import step_lab as sl
    prog, inputs, bindings = gemm_builder({})
    result = sl.simulate(prog, bindings=bindings, inputs=inputs)
    with pytest.raises(ValueError, match=r"simulate with trace=True"):
        animate(result, prog, load_bokehjs=False)
