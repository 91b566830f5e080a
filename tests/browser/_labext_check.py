"""Browser check of the step-lab-jupyterlab extension, for the JupyterLab browser test.

:func:`check_step_highlighting` takes a Playwright page showing a notebook whose cells include a
``%%step`` program (e.g. ``quickstart.ipynb``) and checks what a person would see: the extension
is loaded, the ``%%step`` cell carries the ``cm-step-*`` highlighting in colours that differ from
plain code, and hovering an operator shows its documentation. It leaves a screenshot at
``test-output/browser/labextension.png``.
"""
from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHOT = ROOT / "test-output" / "browser" / "labextension.png"

#: CSS classes every %%step program that uses ops, fn, knob and prog shows.
STEP_CLASSES = ("cm-step-magic", "cm-step-op", "cm-step-fn", "cm-step-knob", "cm-step-prog")

_LOADED = "() => Number(document.body.dataset.stepLabExtension || 0) > 0"
_COLOR = "e => getComputedStyle(e).color"


def check_step_highlighting(page, shot: Path = SHOT, expect: tuple = STEP_CLASSES) -> None:
    """Assert the extension highlights the first ``%%step`` cell and documents an operator.

    ``expect``: the ``cm-step-*`` classes that must occur in that cell (drop ``cm-step-knob`` /
    ``cm-step-fn`` for a program without knobs / functions).
    """
    page.wait_for_function(_LOADED, timeout=30_000)      # plugin active, opdocs.json loaded
    cell = _step_cell(page)
    for name in expect:
        count = cell.locator(f".{name}").count()
        assert count >= 1, f"no .{name} element in the %%step cell (extension not highlighting)"
    plain = cell.locator(".cm-line").last.evaluate(_COLOR)
    operators = cell.locator(".cm-step-op")
    assert operators.first.evaluate(_COLOR) != plain, "operators not coloured (CSS not loaded?)"
    operator = operators.last                      # the tooltip opens below: the cell stays visible
    name = operator.get_attribute("data-step-name")
    cell.scroll_into_view_if_needed()
    operator.hover()
    tooltip = page.locator(".cm-step-tooltip").first
    tooltip.wait_for(timeout=10_000)
    signature = tooltip.locator(".cm-step-tooltip-signature").inner_text()
    assert signature.startswith(f"ops.{name}("), f"hover shows {signature!r} for {name}"
    shot.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(shot))
    page.mouse.move(0, 0)                          # close the tooltip


def _step_cell(page):
    magic = page.locator(".jp-Notebook .jp-CodeCell .cm-step-magic").first
    magic.wait_for(timeout=30_000)
    cells = page.locator(".jp-Notebook .jp-CodeCell")
    return cells.filter(has=page.locator(".cm-step-magic")).first
