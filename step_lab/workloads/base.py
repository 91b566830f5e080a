"""The Workload: a program together with the bindings, inputs and knobs that make it runnable.

It builds its :class:`~step_lab.ir.run.Run` when made (``workload.run``), so every consumer
(simulate, interpret, metrics, the CLI, the explorer) takes the one runnable unit.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..ir.program import Program
from ..ir.run import Run

__all__ = ["Workload", "timing_inputs"]


@dataclass
class Workload:
    """A runnable STeP program plus what a simulation and the notebook sliders need.

    ``knobs`` maps a knob name to its allowed values (a list) or a ``(lo, hi[, step])`` range;
    ``params`` records the builder arguments (so ``rebuild(**changes)`` can vary one of them);
    ``hw`` is the hardware configuration the experiment prescribes (None: the caller's choice);
    ``meta`` holds analytic facts of the workload (e.g. algorithmic FLOPs, active experts).
    """

    program: Program
    bindings: dict
    inputs: dict
    knobs: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    builder: object = None
    hw: object = None
    meta: dict = field(default_factory=dict)
    _run: Run = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        self._run = Run(self.program, self.bindings, self.inputs)   # checks the parts at once

    @property
    def run(self) -> Run:
        """The runnable unit (program, bindings, inputs) that ``simulate``/``interpret`` take,
        built with the workload (rebuilt if a part was replaced since)."""
        run = self._run
        if run.program is not self.program or run.bindings is not self.bindings \
                or run.inputs is not self.inputs:
            run = self._run = Run(self.program, self.bindings, self.inputs)
        return run

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
        """``sl.metrics`` of the program; with ``numeric=True`` its numbers at the workload's
        bindings (and ``meta["peak_bindings"]`` for on-chip memory, unless ``peak`` is given)."""
        from ..analysis.metrics import metrics
        if kwargs.get("numeric") and "peak" not in kwargs:
            kwargs["peak"] = self.meta.get("peak_bindings")
        return metrics(self.run, **kwargs)

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


def timing_inputs(program: Program, inputs: dict) -> dict:
    """``inputs`` without the float arrays of input tensors (weights, activations, routing
    weights): a timing-only run serves ghost tiles for them (``simulate(values=False)``), which
    is much faster than moving and multiplying real tiles. Cycles, traffic and FLOPs do not
    depend on float values; integer and token inputs (addresses, routing) stay.

    [Choice] (issue 15) the reproduced figures' timing-only runs drop the activations too, not
    only the zero-stride weight placeholders: the same cycles in less time."""
    tensors = program.tensors
    return {k: v for k, v in inputs.items()
            if not (isinstance(v, np.ndarray) and v.dtype.kind == "f" and k in tensors
                    and tensors[k].role == "input")}
