"""What ``step-lab reproduce`` shows a reader: the check column of a figure page, where a
reviewed known miss says so and why, apart from a new miss, and its plots' legends."""
import html
import json
from pathlib import Path

import pytest

from step_lab.reproduce import get_figure
from step_lab.reproduce.known import CHECKOUT_LIST, load_known_misses
from step_lab.reproduce.runner import _html

ROOT = Path(__file__).resolve().parents[1]


def test_the_fig17_page_shows_its_reviewed_miss_as_known_with_its_reason():
    record = json.loads((ROOT / "reproduction" / "quick" / "fig17.json").read_text())
    known = load_known_misses(CHECKOUT_LIST)
    (entry,) = [e for e in known if e["figure"] == "fig17"]
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
