"""The Workload: a program together with the bindings, inputs and knobs that make it runnable."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..ir.run import Run

__all__ = ["Workload"]


@dataclass
class Workload:
    """A runnable STeP program plus what a simulation and the notebook sliders need.

    ``knobs`` maps a knob name to its allowed values (a list) or a ``(lo, hi[, step])`` range;
    ``params`` records the builder arguments (so ``rebuild(**changes)`` can vary one of them);
    ``hw`` is the hardware configuration the experiment prescribes (None: the caller's choice);
    ``meta`` holds analytic facts of the workload (e.g. algorithmic FLOPs, active experts).
    """

    program: object
    bindings: dict
    inputs: dict
    knobs: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    builder: object = None
    hw: object = None
    meta: dict = field(default_factory=dict)

    @property
    def run(self) -> Run:
        """The runnable unit (program, bindings, inputs) that ``simulate``/``interpret`` take."""
        return Run(self.program, self.bindings, self.inputs)

    def as_run(self) -> Run:
        return self.run

    def simulate(self, hw=None, **kwargs):
        """Simulate on ``hw`` (default: the workload's own configuration, else the paper's)."""
        from ..sim import simulate
        chosen = hw if hw is not None else self.hw
        if chosen is not None:
            kwargs["hw"] = chosen
        return simulate(self.run, **kwargs)

    def metrics(self, **kwargs):
        from ..analysis.metrics import metrics
        return metrics(self.program, **kwargs)

    def rebuild(self, **changes) -> Workload:
        """The same workload with some builder arguments changed (used by knobs and sweeps)."""
        if self.builder is None:
            from ..errors import ConfigError
            raise ConfigError(f"workload {self.program.name!r} has no builder to rebuild from")
        return self.builder(**{**self.params, **changes})

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.params.items()
                          if not hasattr(v, "__len__") or isinstance(v, str))
        return f"<Workload {self.program.name!r} {shown}>"
