"""Animated per-cycle occupancy: ``animate(result)`` and ``compare(a, b)`` (API.md).

Both return a :class:`~.player.Player`, a self-contained HTML output that plays in the browser
(no kernel round trip per frame; it keeps working after a page reload, in saved notebooks, in
nbconvert's HTML export and in reports). ``compare`` plays two runs side by side on one shared
cycle axis (e.g. static vs dynamic tiling).

:func:`ensure_bokehjs` is for other bokeh outputs (e.g. a live ``jupyter_bokeh`` plot): it
displays BokehJS INLINE every time it is called — the page may have been reloaded since the last
call — and the page evaluates it only if it has no BokehJS of this version yet.
"""
from __future__ import annotations

from .frames import MAX_FRAMES
from .player import SPEEDS, Player, bokehjs_loader, player_for

__all__ = ["animate", "compare", "ensure_bokehjs", "SPEEDS", "Player"]


def animate(result, program=None, *, label: str = "", max_frames: int = MAX_FRAMES) -> Player:
    """The browser player of ``result`` (a SimResult simulated with ``trace=True``, or an
    :class:`~.occupancy.Occupancy`); ``program`` supplies the units' name scopes and groups."""
    return player_for([result], [program], [label], max_frames=max_frames)


def compare(result_a, result_b, *, labels=("static tiling", "dynamic tiling"),
            programs=(None, None), max_frames: int = MAX_FRAMES) -> Player:
    """Two runs side by side on one cycle axis (e.g. static vs dynamic tiling)."""
    return player_for([result_a, result_b], list(programs), list(labels),
                      max_frames=max_frames)


def ensure_bokehjs() -> None:
    """Display BokehJS (INLINE) into the current output; a no-op on a page that has it."""
    from IPython.display import HTML, display
    display(HTML(bokehjs_loader()))
