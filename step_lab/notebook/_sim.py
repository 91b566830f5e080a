"""Thin adapters over the simulator and the hardware presets (one place to follow their API)."""
from __future__ import annotations

__all__ = ["resolve_hw", "simulate"]


def resolve_hw(preset):
    """A HardwareConfig from a preset name (case-insensitive, did-you-mean) or a config."""
    from ..hw import preset as lookup
    return lookup(preset)


def simulate(program, *, hw, bindings=None, inputs=None, trace: bool = False,
             values: bool = True):
    """``step_lab.sim.simulate`` with a preset name or a HardwareConfig.

    ``values=False`` is the simulator's timing-only mode (same cycles, no tensor arithmetic).
    """
    from ..sim import simulate as run
    return run(program, hw=resolve_hw(hw), bindings=bindings or None, inputs=inputs or None,
               trace=trace, values=values)
