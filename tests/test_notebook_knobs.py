"""Knob declaration, validation and widgets (step_lab.notebook.knobs)."""
import pytest

from step_lab import ConfigError
from step_lab.notebook.knobs import Knob, KnobRecorder, knob_from_range, make_widget


def test_a_knob_returns_its_default_on_the_first_run_and_records_its_spec():
    knob = KnobRecorder()
    assert knob("tile", 32, choices=[8, 16, 32, 64]) == 32
    assert knob("B", 64, range=(1, 1024)) == 64
    assert knob("fast", True) is True
    assert knob.declared["tile"].kind == "choice"
    assert knob.declared["B"].range == (1, 1024, 1)
    assert knob.declared["fast"].kind == "toggle"


def test_a_knob_returns_the_widget_value_on_re_runs():
    first = KnobRecorder()
    first("tile", 32, choices=[8, 16, 32, 64])
    again = KnobRecorder({"tile": 8}, known=first.declared)
    assert again("tile", 32, choices=[8, 16, 32, 64]) == 8


def test_an_unknown_knob_on_a_re_run_suggests_the_closest_name():
    first = KnobRecorder()
    first("tile", 32, choices=[8, 16, 32, 64])
    again = KnobRecorder({}, known=first.declared)
    with pytest.raises(ConfigError, match=r"unknown knob 'tiel' \(did you mean 'tile'\?\)"):
        again("tiel", 32, choices=[8, 16, 32, 64])


def test_a_default_outside_the_choices_or_range_is_rejected_naming_the_knob():
    with pytest.raises(ConfigError, match=r"knob\('tile', 5\): default 5 is not among"):
        KnobRecorder()("tile", 5, choices=[8, 16])
    with pytest.raises(ConfigError, match=r"knob\('B', 0\): default 0 is outside range \[1, 8\]"):
        KnobRecorder()("B", 0, range=(1, 8))


def test_a_knob_needs_choices_or_a_range_unless_it_is_a_toggle():
    with pytest.raises(ConfigError, match=r"give choices=\[…\] or range=\(lo, hi\[, step\]\)"):
        KnobRecorder()("tile", 32)
    with pytest.raises(ConfigError, match="not both"):
        KnobRecorder()("tile", 32, choices=[32], range=(1, 64))


def test_a_knob_declared_twice_differently_is_an_error():
    knob = KnobRecorder()
    knob("tile", 32, choices=[16, 32])
    assert knob("tile", 32, choices=[16, 32]) == 32      # same declaration: fine
    with pytest.raises(ConfigError, match="declared twice"):
        knob("tile", 16, choices=[16, 32])


def test_check_rejects_values_the_widget_could_not_produce():
    k = Knob("tile", 32, choices=(16, 32))
    with pytest.raises(ConfigError, match=r"knob 'tile' = 7 \(expected one of \[16, 32\]\)"):
        k.check(7)
    assert Knob("B", 4, range=(1, 8, 1)).check(8) == 8
    with pytest.raises(ConfigError, match=r"expected a number in \[1, 8\]"):
        Knob("B", 4, range=(1, 8, 1)).check(9)


def test_widgets_match_the_knob_kind_and_never_update_continuously():
    import ipywidgets as w
    tile = make_widget(Knob("tile", 32, choices=(16, 32, 64)))
    assert isinstance(tile, w.SelectionSlider) and tile.value == 32
    assert tile.continuous_update is False
    mode = make_widget(Knob("tiling", "static", choices=("static", "dynamic")))
    assert isinstance(mode, w.Dropdown) and mode.value == "static"
    batch = make_widget(Knob("B", 64, range=(1, 1024, 1)))
    assert isinstance(batch, w.IntSlider) and (batch.min, batch.max) == (1, 1024)
    assert batch.continuous_update is False
    scale = make_widget(Knob("alpha", 0.5, range=(0.0, 1.0, 0.1)))
    assert isinstance(scale, w.FloatSlider)
    assert isinstance(make_widget(Knob("fast", False)), w.Checkbox)


def test_explore_ranges_become_knobs_with_function_defaults():
    assert knob_from_range("tile", [8, 16, 32], default=16).default == 16
    assert knob_from_range("tile", [8, 16, 32]).default == 8
    assert knob_from_range("B", (1, 100), default=10).range == (1, 100, 1)
    assert knob_from_range("fast", True).kind == "toggle"
    with pytest.raises(ConfigError, match="expected a list of choices"):
        knob_from_range("tile", "big")
