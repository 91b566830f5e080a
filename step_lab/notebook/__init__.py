"""The notebook layer: ``%%step`` magics, knob widgets, graph SVG, occupancy animation, export.

Imported only on demand (``%load_ext step_lab`` or ``import step_lab.notebook``); the names below
load their modules lazily so ``import step_lab.notebook`` stays cheap.
"""
from __future__ import annotations

import importlib

__all__ = ["explore", "animate", "compare", "report_fragments", "render_svg", "graph_html",
           "Knob", "StepPanel", "Occupancy", "occupancy_from_result", "compute_frames",
           "load_ipython_extension"]

# Module names differ from the function names so that importing a module never shadows them.
_HOMES = {"explore": "explorer", "animate": "animation", "compare": "animation",
          "report_fragments": "export", "render_svg": "graph", "graph_html": "graph",
          "Knob": "knobs", "StepPanel": "panel", "Occupancy": "occupancy",
          "occupancy_from_result": "_simtrace", "compute_frames": "frames",
          "load_ipython_extension": "magics"}


def __getattr__(name: str):
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'step_lab.notebook' has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{home}"), name)


def __dir__():
    return sorted(__all__)
