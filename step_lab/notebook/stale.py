"""Views of the previous knob setting, dimmed until the new setting's views replace them.

A knob change shows its numbers first; the verdict, the roofline, the graph and the player of the
previous setting stay on screen for another 0.2–1 s while the new ones are drawn. They carry the
class :data:`STALE` meanwhile, which :data:`STYLE` dims, so that nobody reads the old verdict as
the new one. [Choice] dimmed, not hidden: the layout does not jump, and a setting that fails keeps
the last good views undimmed (with the panel's "showing the last good result" line).
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

__all__ = ["STALE", "STYLE", "mark"]

STALE = "step-lab-stale"
STYLE = (f"<style>.{STALE} {{opacity: 0.35;}} "
         f".{STALE} * {{pointer-events: none;}}</style>")


def mark(widgets: Iterable[Any], stale: bool) -> None:
    """Add (``stale``) or remove the dimming class on each widget."""
    for widget in widgets:
        if stale:
            widget.add_class(STALE)
        else:
            widget.remove_class(STALE)
