"""Generator-free drivers: the behaviours of the commonest off-chip operators as small state
machines the engine resumes natively (issue 15).

A behaviour generator costs a Python frame resumption per command (two frames for a read's
``yield from``): a third of a timing-only load → Map → Map → store pipeline (bench_sim part a)
was spent resuming the load's and the store's generators. An operator whose behaviour is plain
data says so with ``Node.script(ctx)`` → ``(kind, setup)``; this module runs that kind:

* ``"read"`` (a LinearOffChipLoad without ref): ``setup() = (tokens, fetch, charge)``; per
  template token a stop token is PUT as is, a tile number costs ``charge`` (OFFCHIP) then PUT
  ``fetch(tok)``; then Done;
* ``"write"`` (a LinearOffChipStore): ``setup() = (capacity, tile, charge, write, check,
  finish)``; per token GET; a stop token is dropped, a tile is checked (``check(count, tok)``
  raises for one beyond the capacity or of the wrong shape), written and charged; ``finish(count)``
  at Done.

A driver has the generator's ``send`` protocol (``Proc.start``): ``send(answer)`` returns the
next command, StopIteration at the end, and ``setup()`` runs at the first ``send``, as the
generator's body would (so an error surfaces at the same moment, named by the engine). The
behaviour generators stay the reference: ``simulate(coalesce=False)`` runs them, and the tests
compare both paths command for command (tests/test_sim_drivers.py) and over random programs.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from numpy import ndarray

from ..ir import tokens as _tokens
from ..ir.node import GET, PUT, BehaviourContext, Node

__all__ = ["driver_for", "ReadDriver", "WriteDriver"]

# NOTE: Final module constants: the compiled build reads them from C statics
DONE: Final = _tokens.DONE
Stop: Final = _tokens.Stop
GET0: Final = (GET, 0)
PUT_DONE: Final = (PUT, 0, _tokens.DONE)


def driver_for(node: Node, ctx: BehaviourContext) -> Any:
    """The driver of ``node``'s ``script`` (None: the node runs its behaviour generator)."""
    script = node.script(ctx)
    if script is None:
        return None
    kind, setup = script
    if kind == "read":
        return ReadDriver(setup)
    if kind == "write":
        return WriteDriver(setup)
    raise ValueError(f"{type(node).__name__}.script: unknown kind {kind!r} "
                     "(expected 'read' or 'write')")


class ReadDriver:
    """A read of a static token template (see the module docstring)."""

    __slots__ = ("setup", "tokens", "fetch", "charge", "i", "n", "charged")

    def __init__(self, setup: Callable[[], tuple]) -> None:
        self.setup: Callable[[], tuple] | None = setup
        self.tokens: list = []
        self.fetch: Callable[[Any], Any] | None = None
        self.charge: tuple = ()
        self.i = 0
        self.n = -1                     # -1: not set up yet
        self.charged = False            # the current tile's charge was issued

    def send(self, answer: object) -> tuple:
        i = self.i
        if i < self.n:
            tok = self.tokens[i]
            if type(tok) is Stop:
                self.i = i + 1
                return (PUT, 0, tok)
            if not self.charged:
                self.charged = True
                return self.charge
            self.charged = False
            self.i = i + 1
            fetch = self.fetch
            assert fetch is not None
            return (PUT, 0, fetch(tok))
        if self.n < 0:
            setup = self.setup
            assert setup is not None
            self.setup = None
            tokens, self.fetch, self.charge = setup()
            self.tokens = list(tokens)
            self.n = len(self.tokens)
            return self.send(None)
        if i == self.n:
            self.i = i + 1
            return PUT_DONE
        raise StopIteration


class WriteDriver:
    """A store of every tile of its input (see the module docstring). NOTE: a numpy tile of the
    right shape within the capacity is accepted inline; anything else goes through ``check``,
    which raises the store's own error (or accepts what it accepts)."""

    __slots__ = ("setup", "capacity", "tile", "charge", "write", "check", "finish", "count",
                 "charging")

    def __init__(self, setup: Callable[[], tuple]) -> None:
        self.setup: Callable[[], tuple] | None = setup
        self.capacity = -1              # -1: not set up yet
        self.tile: tuple = ()
        self.charge: tuple = ()
        self.write: Callable[[int, Any], Any] | None = None
        self.check: Callable[[int, Any], Any] | None = None
        self.finish: Callable[[int], Any] | None = None
        self.count = 0
        self.charging = False           # the last command was the charge of a tile

    def send(self, answer: object) -> tuple:
        if self.charging:
            self.charging = False
            self.count += 1
            return GET0
        if self.capacity < 0:
            setup = self.setup
            assert setup is not None
            self.setup = None
            capacity, self.tile, self.charge, self.write, self.check, self.finish = setup()
            self.capacity = _UNBOUNDED if capacity is None else capacity
            return GET0
        if answer is DONE:
            finish = self.finish
            assert finish is not None
            self.finish = None
            finish(self.count)
            raise StopIteration
        if type(answer) is Stop:
            return GET0
        count = self.count
        if count >= self.capacity or not isinstance(answer, ndarray) \
                or answer.shape != self.tile:
            check = self.check
            assert check is not None
            check(count, answer)
        write = self.write
        assert write is not None
        write(count, answer)
        self.charging = True
        return self.charge


_UNBOUNDED: Final = 1 << 60     # the capacity of a tensor whose shape is unbound
