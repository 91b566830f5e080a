"""A lean, tile-level SimPy model of the benchmark pipeline load -> map -> map -> store.

It implements the same timing rules as step_lab's simulator (STEP.md §7, ``step_lab/sim``):

* a FIFO of depth d is a SimPy ``Container`` of d slot credits plus an unbounded ``Store`` of
  ``(visible_cycle)`` items: a producer takes a credit, puts the item, which becomes visible one
  cycle later; the consumer waits for the item and its visibility, then returns the credit;
* every port moves at most one item per cycle;
* a map takes its per-tile cost (precomputed, §7.2) between get and put;
* loads and stores issue one tile at a time with at most ``offchip_outstanding_tiles`` in flight,
  and reserve the HBM channels with the same analytic model (``step_lab.sim.hbm.HBM``), called at
  the simulated issue cycle; same-cycle requests are served in node order (load before store),
  as step_lab's event heap does, through a tiny arbiter process.

Stop tokens are attached to data tokens in this pipeline (free), so only tiles are modelled.
"""
from __future__ import annotations

import os
import sys
from collections import deque

import simpy

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from step_lab.sim.hbm import HBM  # noqa: E402


class Fifo:
    def __init__(self, env, depth: int):
        self.items = simpy.Store(env)
        self.slots = simpy.Container(env, capacity=depth, init=depth)


class Arbiter:
    """Serves HBM requests issued in the same cycle in node order (like step_lab's heap)."""

    def __init__(self, env, hbm):
        self.env, self.hbm = env, hbm
        self.pending: list = []
        self.wake = None

    def request(self, priority: int, nbytes: int, address: int, is_write: bool):
        done = self.env.event()
        self.pending.append((priority, len(self.pending), nbytes, address, is_write, done))
        if self.wake is None:
            self.wake = self.env.process(self._serve())
        return done

    def _serve(self):
        yield self.env.timeout(0)               # let every same-cycle request arrive
        yield self.env.timeout(0)
        batch, self.pending, self.wake = sorted(self.pending), [], None
        for _, _, nbytes, address, is_write, done in batch:
            finish = self.hbm.access(self.env.now, nbytes, address, is_write)
            done.succeed(finish)


def simpy_cycles(n_tiles: int, costs: dict, hw) -> int:
    """Cycles of the pipeline with ``costs = {"tile_bytes": B, "maps": [c1, c2]}``."""
    env = simpy.Environment()
    arbiter = Arbiter(env, HBM(hw))
    lat = hw.channel_latency_cycles
    fifos = [Fifo(env, hw.fifo_depth) for _ in range(len(costs["maps"]) + 1)]
    end = [0]
    nbytes = costs["tile_bytes"]
    env.process(_load(env, arbiter, fifos[0], n_tiles, nbytes, hw, lat))
    for i, cost in enumerate(costs["maps"]):
        env.process(_map(env, fifos[i], fifos[i + 1], n_tiles, cost, lat))
    env.process(_store(env, arbiter, fifos[-1], n_tiles, nbytes, hw, end))
    env.run()
    return max(end[0], int(env.now))


def _load(env, arbiter, out: Fifo, n: int, nbytes: int, hw, lat: int):
    inflight: deque = deque()
    next_put = 0
    address = 0
    for _ in range(n):
        if len(inflight) >= hw.offchip_outstanding_tiles:
            first = inflight.popleft()
            if first > env.now:
                yield env.timeout(first - env.now)
        done = yield arbiter.request(0, nbytes, address, False)
        address += nbytes
        inflight.append(done)
        if next_put > env.now:
            yield env.timeout(next_put - env.now)
        yield out.slots.get(1)
        next_put = env.now + 1
        yield out.items.put(max(env.now, done) + lat)


def _map(env, inp: Fifo, out: Fifo, n: int, cost: int, lat: int):
    next_get = next_put = 0
    for _ in range(n):
        visible = yield inp.items.get()
        start = max(env.now, visible, next_get)
        if start > env.now:
            yield env.timeout(start - env.now)
        next_get = env.now + 1
        yield inp.slots.put(1)
        yield env.timeout(cost)
        if next_put > env.now:
            yield env.timeout(next_put - env.now)
        yield out.slots.get(1)
        next_put = env.now + 1
        yield out.items.put(env.now + lat)


def _store(env, arbiter, inp: Fifo, n: int, nbytes: int, hw, end: list):
    inflight: deque = deque()
    next_get = 0
    address = 1 << 32                   # the output tensor's base address (second tensor)
    for _ in range(n):
        visible = yield inp.items.get()
        start = max(env.now, visible, next_get)
        if start > env.now:
            yield env.timeout(start - env.now)
        next_get = env.now + 1
        yield inp.slots.put(1)
        if len(inflight) >= hw.offchip_outstanding_tiles:
            first = inflight.popleft()
            if first > env.now:
                yield env.timeout(first - env.now)
        done = yield arbiter.request(3, nbytes, address, True)
        address += nbytes
        inflight.append(done)
        end[0] = max(end[0], done)
