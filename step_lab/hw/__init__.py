"""Hardware model: the configuration of the simulated SDA and the placement of nodes on its units.

``sl.hw.PAPER`` is the STeP paper's evaluation configuration; ``sl.hw.preset("validation")`` looks
a preset up by name.
"""
from .config import ATTENTION, PAPER, PRESETS, VALIDATION, HardwareConfig, preset
from .overheads import ARTIFACT_OVERHEADS, idealized
from .placement import Placement, cell_kind, place, unit_kind

__all__ = ["HardwareConfig", "PAPER", "ATTENTION", "VALIDATION", "PRESETS", "preset",
           "Placement", "place", "unit_kind", "cell_kind", "ARTIFACT_OVERHEADS", "idealized"]
