"""Batched values: the Maps of a coalesced segment read straight from a linear load compute
their values a chunk of tiles at a time, in one numpy call per stage (issue 15).

Per token, a Map applies its function to one small tile: numpy's fixed cost per call (about a
microsecond) is most of the work, and a load → Map(Exp) → Map(Scale) → store pipeline spent
half its simulation there (bench_sim part a). When a segment's (``sim/coalesce.py``) first
stage reads a LinearOffChipLoad without ref (``ReadDriver``) and no one else reads it, the
driver emits its tiles chunk by chunk (``ReadDriver.chunked``): views of one ``(n, r, c)``
array of about 1 MB. The segment's leading stages whose functions are ``elementwise`` (a
``MapFunction`` trait: per-tile results of a stack are the stack of the results, bit for bit,
and FLOPs depend on the shape only) apply their function to the whole chunk when its first
tile arrives, and each then hands out the chunk's result views tile by tile.

**Exactly the per-token values.** A stage hands out a precomputed result only for the very
tile object it was computed from, at its position (``tok is expect[k]``); anything else — a
function that fails or returns another shape on the stack, a token it does not expect —
turns batching off for the whole chain, and every later tile is computed one by one as
before (so an error surfaces from the per-token path, at its tile, with its message). Timing
is untouched: the FLOPs of a tile are those of the first one (the trait), the cycles follow
from them as per token. ``simulate(coalesce=False)`` never batches; the tests compare both.
"""
from __future__ import annotations

from collections import deque
from typing import Any

from numpy import ndarray

from .drivers import ReadDriver

__all__ = ["ChainBatch", "StageBatch", "chain_batch", "elementwise"]


def chain_batch(driver: Any, fns: list, single_reader: bool) -> ChainBatch | None:
    """The batch of a segment whose first stage reads ``driver``'s output alone
    (``single_reader``), over its leading ``elementwise`` stages; None when there is none."""
    if not single_reader or type(driver) is not ReadDriver:
        return None
    k = 0
    while k < len(fns) and elementwise(fns[k]):
        k += 1
    if not k:
        return None
    driver.chunked = True
    return ChainBatch(driver, fns[:k])


def elementwise(fn: Any) -> bool:
    """Does ``fn`` batch? The nearest class in its MRO that declares ``elementwise`` decides,
    and only if no class before it redefines ``__call__`` or ``flops_of_value``: a subclass
    that overrides either (a user's Exp that counts its calls, a Scale that counts nonzeros)
    does not inherit the claim; ``elementwise = False`` opts out."""
    for klass in type(fn).__mro__:
        attrs = vars(klass)
        if "elementwise" in attrs:
            return attrs["elementwise"] is True
        if "__call__" in attrs or "flops_of_value" in attrs:
            return False
    return False


class ChainBatch:
    """The batched stages of one segment and the driver whose chunks they compute."""

    __slots__ = ("driver", "fns", "stages", "off")

    def __init__(self, driver: ReadDriver, fns: list) -> None:
        self.driver = driver
        self.fns = fns
        self.stages = [StageBatch(self, i) for i in range(len(fns))]
        self.off = False

    def stop(self) -> None:
        """Batching off for good: every later tile is computed one by one."""
        self.off = True
        self.driver.chunked = False
        self.driver.stacked = None          # (its tiles by tile number from now on)
        self.driver.chunks.clear()
        for stage in self.stages:
            stage.queue.clear()

    def compute_next(self) -> bool:
        """The driver's next chunk through every batched stage (their queues get its tiles and
        results); False when there is none or a function does not batch."""
        chunks = self.driver.chunks
        if self.off or not chunks:
            return False
        pos, arr, tiles = chunks.popleft()
        out: list = []
        try:
            for stage, fn in zip(self.stages, self.fns, strict=True):
                res = fn(arr)
                if not isinstance(res, ndarray) or res.shape != arr.shape:
                    self.stop()
                    return False
                if stage.flops < 0:
                    stage.flops = fn.flops_of_value(tiles[0])
                results = list(res)
                out.append((pos, tiles, results))
                arr, tiles = res, results
        except Exception:                    # the per-token path raises it at its tile
            self.stop()
            return False
        for stage, entry in zip(self.stages, out, strict=True):
            stage.queue.append(entry)
        return True


class StageBatch:
    """One batched stage: its chunks' expected input tiles and their results, in order."""

    __slots__ = ("chain", "index", "queue", "expect", "results", "start", "end", "pos",
                 "flops")

    def __init__(self, chain: ChainBatch, index: int) -> None:
        self.chain = chain
        self.index = index
        self.queue: deque[tuple[int, list, list]] = deque()
        self.expect: list = []
        self.results: list = []
        self.start = self.end = self.pos = 0    # data positions of the current chunk, next
        self.flops = -1

    def take(self, tok: object) -> object:
        """The result for data token ``tok`` (the stage's next one), or None: compute it."""
        chain = self.chain
        if chain.off:
            return None
        pos = self.pos
        if pos >= self.end:
            if not self.queue and (self.index or not chain.compute_next()):
                chain.stop()
                return None
            start, self.expect, self.results = self.queue.popleft()
            if start != pos:
                chain.stop()
                return None
            self.start, self.end = start, start + len(self.expect)
        k = pos - self.start
        if tok is not self.expect[k]:
            chain.stop()
            return None
        self.pos = pos + 1
        return self.results[k]
