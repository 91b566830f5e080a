"""Progress reporting for long simulations: a callable or a tqdm-like bar (``update(n)``)."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ..errors import StepError

if TYPE_CHECKING:
    from ..interpret.context import RunContext
    from ..ir.program import Program
    from .engine import Engine

__all__ = ["Progress"]


class Progress:
    """Adapts ``progress=`` to the engine, which calls :meth:`tick` every few thousand slices.

    The unit is data tokens put on streams; the expected total is the sum of the streams'
    cardinalities at the run's bindings (None when some dim is only known at run time). A
    callable gets the fraction done (0..1), or the current cycle when the total is unknown; a bar
    gets ``update(new tokens)`` and, if its ``total`` is None, the expected total.
    """

    def __init__(self, target: Any, expected: int | None) -> None:
        self.target = target
        self.expected = expected
        self.reported = 0
        if hasattr(target, "update") and getattr(target, "total", 0) is None and expected:
            target.total = expected

    own = False     # True when the bar was made here (progress=True) and is closed here

    @classmethod
    def wrap(cls, target: Any, program: Program, ctx: RunContext) -> Progress | None:
        if target is None or target is False:
            return None
        if target is True:                   # a tqdm.auto bar: notebook widget or terminal
            from ..progress_bar import progress_bar
            expected = _expected_tokens(program, ctx)
            tracker = cls(progress_bar(expected, f"simulate {program.name}", unit="token"),
                          expected)
            tracker.own = True
            return tracker
        if isinstance(target, (dict, set, list, tuple, str, bytes, int, float)) or (
                not callable(target) and not hasattr(target, "update")):
            from ..errors import ConfigError
            raise ConfigError(f"progress = {target!r:.60} (expected True, a callable or an "
                              "object with update(n), e.g. a tqdm bar)")
        return cls(target, _expected_tokens(program, ctx))

    def tick(self, engine: Engine) -> None:
        done = sum(c[0] for p in engine.procs for c in p.counts)
        self._report(done, engine)

    def close(self, engine: Engine) -> None:
        done = sum(c[0] for p in engine.procs for c in p.counts)
        if self.expected is not None:
            done = max(done, self.expected)
        self._report(done, engine, final=True)
        if self.own:
            self.target.close()

    def _report(self, done: int, engine, final: bool = False) -> None:
        target = self.target
        if hasattr(target, "update"):
            delta = done - self.reported
            if delta > 0:
                target.update(delta)
        elif self.expected:
            target(1.0 if final else min(1.0, done / self.expected))
        else:
            target(max(engine.now, max((p.clock for p in engine.procs), default=0)))
        self.reported = max(self.reported, done)


def _expected_tokens(program, ctx) -> int | None:
    total = 0
    for stream in program.streams:
        try:
            total += int(ctx.value(stream.type.cardinality))
        except (StepError, TypeError, ValueError):
            return None
    return total
