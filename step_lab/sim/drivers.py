"""Generator-free drivers: the behaviours of the commonest off-chip operators as small state
machines the engine resumes natively (issue 15).

A behaviour generator costs a Python frame resumption per command (two frames for a read's
``yield from``): a third of a timing-only load → Map → Map → store pipeline (bench_sim part a)
was spent resuming the load's and the store's generators. An operator whose behaviour is plain
data says so with ``Node.script(ctx)`` → ``(kind, setup)``; this module runs that kind:

* ``"read"`` (a LinearOffChipLoad without ref): ``setup() = (tokens, tiles, charge)``; per
  template token a stop token is PUT as is, a tile number costs ``charge`` (OFFCHIP) then PUT
  ``tiles[tok]``; then Done;
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

from collections import deque
from collections.abc import Callable
from typing import Any, Final

from numpy import ndarray

from ..interpret.memory import tile_reader
from ..ir import tokens as _tokens
from ..ir.node import GET, PUT, BehaviourContext, Node

__all__ = ["driver_for", "ReadDriver", "WriteDriver", "chunk_size"]

# NOTE: Final module constants: the compiled build reads them from C statics
DONE: Final = _tokens.DONE
Stop: Final = _tokens.Stop
GET0: Final = (GET, 0)
PUT_DONE: Final = (PUT, 0, _tokens.DONE)


def driver_for(node: Node, ctx: BehaviourContext) -> Any:
    """The driver of ``node``'s ``script`` (None: the node runs its behaviour generator). A
    script stands for the behaviour of the class that defines it: a subclass that overrides
    ``behaviour`` and not ``script`` runs its own behaviour."""
    cls = type(node)
    scripted = _SCRIPTED.get(cls)
    if scripted is None:
        scripted = _SCRIPTED[cls] = _own_script(cls)
    if not scripted:
        return None
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


_SCRIPTED: dict[type, bool] = {}   # node class -> may its script stand for its behaviour


def _own_script(cls: type) -> bool:
    """Does ``cls`` define ``script`` at or below the class that defines its ``behaviour``?"""
    for klass in cls.__mro__:
        attrs = vars(klass)
        if "script" in attrs:
            return klass is not Node
        if "behaviour" in attrs:
            return False
    return False


class ReadDriver:
    """A read of a static token template (see the module docstring).

    ``chunked`` (set by a batched segment reading this load alone, ``sim/batch.py``, before
    the run): the tiles are emitted chunk by chunk from ``(n, r, c)`` arrays, each chunk's
    ``(first data position, array, tiles)`` kept in ``chunks`` for that segment to compute
    its stages on the whole array; each tile is then one of the chunk's own views (the same
    values as ``tiles[tok]``), so the segment recognises it by identity."""

    __slots__ = ("setup", "tokens", "fetch", "charge", "i", "n", "charged", "chunked",
                 "chunks", "stacked", "numbers", "pos", "chunk_start", "chunk_end",
                 "chunk_tiles", "chunk_size")

    def __init__(self, setup: Callable[[], tuple]) -> None:
        self.setup: Callable[[], tuple] | None = setup
        self.tokens: list = []
        self.fetch: Callable[[Any], Any] | None = None
        self.charge: tuple = ()
        self.i = 0
        self.n = -1                     # -1: not set up yet
        self.charged = False            # the current tile's charge was issued
        self.chunked = False
        self.chunks: deque[tuple[int, Any, list]] = deque()
        self.stacked: Any = None        # the tensor's (n_tiles, r, c) view when chunked
        self.numbers: list[int] = []    # tile number of every data position
        self.pos = 0                    # data position of the next tile
        self.chunk_start = self.chunk_end = 0
        self.chunk_tiles: list = []
        self.chunk_size = 1

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
            if self.stacked is not None:
                pos = self.pos
                self.pos = pos + 1
                if pos >= self.chunk_end:
                    self._next_chunk(pos)
                return (PUT, 0, self.chunk_tiles[pos - self.chunk_start])
            fetch = self.fetch
            assert fetch is not None
            return (PUT, 0, fetch(tok))
        if self.n < 0:
            self._start()
            return self.send(None)
        if i == self.n:
            self.i = i + 1
            return PUT_DONE
        raise StopIteration

    def _start(self) -> None:
        setup = self.setup
        assert setup is not None
        self.setup = None
        tokens, tiles, self.charge = setup()
        self.fetch = tile_reader(tiles)
        self.tokens = list(tokens)
        self.n = len(self.tokens)
        stacked = getattr(tiles, "stacked", None) if self.chunked else None
        if stacked is not None and stacked.ndim == 3 and len(stacked):
            self.stacked = stacked
            self.numbers = [t for t in self.tokens if type(t) is not Stop]
            self.chunk_size = chunk_size(stacked[0].nbytes)

    def _next_chunk(self, pos: int) -> None:
        """Tiles of data positions [pos, pos + chunk size): views of the stacked tensor, and the
        chunk as one array for the batch (a slice when the tile numbers are consecutive, else a
        gathered copy that only the batch holds: the tiles in the FIFOs stay views)."""
        stacked = self.stacked
        numbers = self.numbers[pos:pos + self.chunk_size]
        first, m = numbers[0], len(numbers)
        if numbers[-1] - first == m - 1 and numbers == list(range(first, first + m)):
            arr = stacked[first:first + m]
            self.chunk_tiles = list(arr)
        else:
            arr = stacked[numbers] if self.chunked else None
            self.chunk_tiles = [stacked[k] for k in numbers]
        self.chunk_start, self.chunk_end = pos, pos + m
        if self.chunked:                    # (a batched segment reads them)
            self.chunks.append((pos, arr, self.chunk_tiles))


def chunk_size(tile_bytes: int) -> int:
    """Tiles per chunk: about 1 MB of them (at least 1, at most 4096), so a batched chain holds
    a few MB however large the tensor."""
    return max(1, min(4096, (1 << 20) // max(1, tile_bytes)))


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
