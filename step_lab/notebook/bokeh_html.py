"""A bokeh layout as an HTML fragment, and BokehJS inlined (offline pages): shared by the
report fragments (``export``) and the roofline view (``roofline``)."""
from __future__ import annotations

__all__ = ["bokeh_fragment", "bokehjs_html"]


def bokeh_fragment(layout) -> str:
    """``<script>`` + ``<div>`` of a bokeh layout (BokehJS must be on the page)."""
    from bokeh.embed import components
    script, div = components(layout)
    return f"{script}\n{div}"


def bokehjs_html() -> str:
    """BokehJS (core) inlined: the page works offline; evaluated only once per page."""
    from .player import bokehjs_loader
    return bokehjs_loader()
