"""How numbers look (step_lab.formatting): one table format, SI axis ticks with units, symbols
that cannot be read as unit prefixes, and the reports and figures that use them."""
import re

import numpy as np
import pytest

import step_lab as sl
from step_lab.errors import ConfigError
from step_lab.formatting import at_bindings, latex_quantity, number, quantity, si, yes_no

M = sl.dim("M")


@pytest.mark.parametrize("value, text", [
    (15761474, "15,761,474"), (np.int64(851968), "851,968"), (1.573e7, "15,730,000"),
    (12345.678, "12,346"), (1234.5678, "1,235"), (3.14159, "3.142"), (0.01234, "0.01234"),
    (0.5, "0.5"), (2.0, "2"), (0.0, "0"), (1.234e-5, "0.00001234"), (None, "–"),
    (True, "yes"), (np.bool_(False), "no"), (float("nan"), "n/a"), ("tile 8", "tile 8"),
    (-2500000.0, "-2,500,000"), (np.float32(0.25), "0.25")])
def test_number_is_one_format_without_scientific_notation(value, text):
    assert number(value) == text
    assert "e+" not in number(value) and "e-" not in number(value)


@pytest.mark.parametrize("value, unit, text", [
    (7_000_000, "B", "7 MB"), (900_000, "", "900k"), (0.5, "B/cycle", "0.5 B/cycle"),
    (1536, "B", "1.54 kB"), (0, "", "0"), (2.5e9, "FLOPs", "2.5 GFLOPs"), (None, "B", "–"),
    (999, "", "999"), (-3000, "B", "-3 kB")])
def test_si_uses_prefixes_and_units(value, unit, text):
    assert si(value, unit) == text


def test_yes_no():
    assert (yes_no(True), yes_no(0), yes_no(None)) == ("yes", "no", "–")


def test_a_symbol_is_never_glued_to_its_coefficient():
    assert quantity(3328 * M, "B") == "3328·M B"
    assert quantity(851968, "B") == "851,968 B"
    assert at_bindings(3328 * M, {"M": 256}, "B") == "= 851,968 B at M = 256"
    assert at_bindings(3328 * M, {M: 256}, "B") == "= 851,968 B at M = 256"
    assert at_bindings(64, {}, "B") == "= 64 B"
    assert latex_quantity(3328 * M, "B") == r"3328 \cdot M\ \mathrm{B}"
    assert latex_quantity(851968, "B") == r"851{,}968\ \mathrm{B}"
    assert not re.search(r"\d[A-Za-z]", quantity(3328 * M + 2 * M * M))


def test_axis_formatter_is_a_browser_side_si_formatter():
    pytest.importorskip("bokeh")
    from bokeh.models import CustomJSTickFormatter

    from step_lab.formatting import axis_formatter
    f = axis_formatter("B")
    assert isinstance(f, CustomJSTickFormatter) and f.args == {"unit": "B", "mode": "si"}
    assert "toPrecision" in f.code and "e+" not in f.code
    assert axis_formatter(mode="comma").args["mode"] == "comma"
    with pytest.raises(ConfigError, match="mode='sci'.*expected 'si' or 'comma'"):
        axis_formatter(mode="sci")


def test_label_axes_and_readable_axes_replace_the_default_tick_format():
    pytest.importorskip("bokeh")
    from bokeh.layouts import row
    from bokeh.models import BasicTickFormatter, CustomJSTickFormatter, NumeralTickFormatter
    from bokeh.plotting import figure

    from step_lab.formatting import label_axes, readable_axes, unlabelled_axes
    a = figure()
    a.line([0, 1], [0, 7e6])
    label_axes(a, x=("time", "cycles"), y=("off-chip traffic", "B"))
    assert a.xaxis[0].axis_label == "time [cycles]"
    assert a.yaxis[0].axis_label == "off-chip traffic [B]"
    assert a.yaxis[0].formatter.args["unit"] == "B"        # short unit: in the ticks too
    assert a.xaxis[0].formatter.args["unit"] == ""         # a word: in the label only
    b = figure(x_axis_label="tile", y_axis_type="log")
    b.yaxis[0].formatter = NumeralTickFormatter(format="0%")
    assert len(unlabelled_axes(row(a, b))) == 1            # b's y axis
    readable_axes(row(a, b))
    assert isinstance(b.xaxis[0].formatter, CustomJSTickFormatter)
    assert isinstance(b.yaxis[0].formatter, NumeralTickFormatter)   # its own format is kept
    assert not any(isinstance(ax.formatter, BasicTickFormatter)
                   for ax in row(a, b).select({"type": type(a.xaxis[0])}))
    assert readable_axes(None) is None


def test_fig_html_headline_table_uses_the_one_format(tmp_path):
    from step_lab.reproduce.runner import _f
    assert _f(15761474) == "15,761,474" and _f(1.573e7) == "15,730,000"
    assert _f(None) == "–" and _f(True) == "yes" and _f(0.1234567) == "0.1235"


def test_every_axis_of_the_player_has_a_label_with_its_unit():
    pytest.importorskip("bokeh")
    from bokeh.models import Axis
    from test_notebook_support import synthetic_occupancy

    from step_lab.notebook import animate
    layout = animate(synthetic_occupancy()).layout("p0")
    labels = {ax.axis_label for ax in layout.select({"type": Axis}) if ax.visible}
    assert "time [cycles]" in labels and "off-chip bandwidth [B/cycle]" in labels
    assert "fill [% of capacity]" in labels


def test_the_demo_report_says_yes_or_no_for_pareto_optimal(tmp_path):
    from step_lab.cli import main
    assert main(["demo", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "report.html").read_text()
    cells = re.findall(r"<tr>(.*?)</tr>", text)
    optimal = [re.findall(r"<td>(.*?)</td>", c)[-1] for c in cells if "<td>" in c]
    assert optimal and set(optimal) <= {"yes", "no"} and "yes" in optimal
    assert "dynamic</td></tr>" not in text
    assert "on-chip memory [B]" in text and "e+" not in re.sub(
        r"<svg.*?</svg>|<script.*?</script>", "", text, flags=re.S)   # no 7.000e+6 in the text


def test_the_explorers_pareto_view_has_readable_labelled_axes():
    pytest.importorskip("bokeh")
    pytest.importorskip("ipywidgets")
    from bokeh.models import CustomJSTickFormatter

    from step_lab.formatting import unlabelled_axes
    from step_lab.notebook.whatif import ParetoView
    view = ParetoView(lambda v, r: {}, lambda v: 0, lambda v: [])
    fig = view.figure
    assert not unlabelled_axes(fig)
    assert all(isinstance(ax.formatter, CustomJSTickFormatter) for ax in fig.xaxis + fig.yaxis)


def test_a_reproduced_figure_has_labelled_readable_axes_and_one_table_format(tmp_path):
    pytest.importorskip("bokeh")
    from bokeh.models import BasicTickFormatter

    from step_lab.formatting import readable_axes, unlabelled_axes
    from step_lab.reproduce import RunContext, get_figure, reproduce
    result = get_figure("fig13").run(RunContext(quick=True, progress=False))
    plot = readable_axes(result.plot)
    assert not unlabelled_axes(plot)
    assert not any(type(ax.formatter) is BasicTickFormatter
                   for ax in plot.select({"type": type(plot.children[0].yaxis[0])}))
    reproduce("fig13", tmp_path, RunContext(quick=True, progress=False))
    page = (tmp_path / "fig13.html").read_text()
    table = page[page.index("<table>"):page.index("</table>")]
    assert not re.search(r"\d\.\d+e[+-]\d", table)
