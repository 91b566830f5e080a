"""explore(workload_or_fn, **knob_ranges) outside magics (step_lab.notebook.explorer)."""
import pytest

import step_lab as sl
from step_lab.notebook import explore
from step_lab.notebook.explorer import builder_for, unpack
from step_lab.workloads import Workload


def copy_program(rows: int = 64, tile: int = 16):
    """A load -> store copy whose traffic depends on ``rows`` (knob) and not on ``tile``."""
    prog = sl.Program(f"copy{rows}")
    X = prog.tensor("X", (rows, 64))
    sl.ops.LinearOffChipStore(sl.ops.LinearOffChipLoad(X, tile=(tile, 64)), "Y")
    return prog, {}, {}


def copy_workload(rows: int = 64, tile: int = 16) -> Workload:
    prog, inputs, bindings = copy_program(rows, tile)
    return Workload(prog, bindings, inputs, knobs={"rows": [32, 64, 128], "tile": [16, 32]},
                    params={"rows": rows, "tile": tile}, builder=copy_workload)


def test_explore_a_function_gives_one_widget_per_range_with_its_default():
    box = explore(copy_program, rows=[32, 64, 128], tile=(16, 64, 16), background=False,
                  animate=False)
    panel = box.panel
    assert panel.values() == {"rows": 64, "tile": 16}
    assert "copy64" in panel.summary.value
    panel.set(rows=128)
    assert "copy128" in panel.summary.value
    assert panel.outcome.result.offchip_bytes == 2 * 128 * 64 * 2


def test_explore_a_workload_uses_its_knobs_and_rebuilds_it():
    box = explore(copy_workload(), background=False, animate=False)
    panel = box.panel
    assert sorted(panel.controls) == ["rows", "tile"]
    assert panel.values() == {"rows": 64, "tile": 16}
    panel.set(rows=32)
    assert panel.outcome.program.name == "copy32"


def test_explore_shows_the_animation_by_default():
    box = explore(copy_program, rows=[32, 64], background=False)
    assert len(box.panel.plots.children) == 2                # the player, BokehJS (once)
    assert box.panel.animation.count >= 1
    assert "data-step-player" in box.panel.plots.children[0].outputs[0]["data"]["text/html"]


def test_unknown_knob_names_suggest_the_closest_parameter():
    with pytest.raises(sl.ConfigError, match=r"unknown knob 'rowz' \(did you mean 'rows'\?\)"):
        builder_for(copy_program, {"rowz": [1, 2]})
    with pytest.raises(sl.ConfigError, match=r"unknown knob 'tiel' \(did you mean 'tile'\?\)"):
        builder_for(copy_workload(), {"tiel": [16, 32]})


def test_a_target_that_is_neither_function_nor_workload_is_explained():
    with pytest.raises(sl.ConfigError, match="neither a Workload nor a function"):
        builder_for(42, {})
    with pytest.raises(sl.ConfigError, match=r"expected \(program, inputs, bindings\)"):
        unpack("nonsense")


def test_a_failing_knob_value_leaves_the_explorer_usable():
    def fragile(rows: int = 64):
        if rows == 48:
            raise sl.BindingError("rows=48 does not divide into tiles (expected a multiple of 32)")
        return copy_program(rows)
    panel = explore(fragile, rows=[48, 64, 96], background=False, animate=False).panel
    panel.set(rows=48)
    assert "BindingError: rows=48" in panel.error.value
    panel.set(rows=96)
    assert panel.error.value == "" and "copy96" in panel.summary.value
