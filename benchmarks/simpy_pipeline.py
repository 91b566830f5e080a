"""A straightforward SimPy model of a STeP pipeline (benchmark (c) of bench_sim.py).

What one would write with SimPy: every node is a SimPy process driving the node's behaviour
generator (the same operators as step_lab, so real values flow), every channel is a bounded FIFO,
every command is a SimPy event, and the HBM is 32 SimPy ``Resource`` channels served one 64-byte
burst at a time. The timing rules are step_lab's (STEP.md §7, ``step_lab/sim``):

* a FIFO of depth d = a ``Container`` of d slot credits + a ``Store`` of ``(token, put cycle,
  ready)``; the token is visible at ``max(put, ready) + 1`` (``ready`` = HBM completion of a
  loaded tile, an event); the consumer returns the credit when it takes the token;
* data items and standalone stop tokens take a slot and a port cycle (one item per port per
  cycle); a stop token right after a data item, and Done, are free;
* COMPUTE waits ``max(⌈FLOPs / C⌉, ⌈memory-resident input bytes / BW_onchip⌉)`` cycles;
* an off-chip tile is issued once fewer than ``offchip_outstanding_tiles`` of the node's tiles
  are in flight and split into bursts on address-interleaved channels; a channel serves one
  burst every ``hbm_cycles_per_request`` cycles from ``hbm_startup_cycles`` on; the tile is back
  ``hbm_latency_cycles`` after its last burst started. Same-cycle tile requests are served in
  node order (step_lab's event heap order) by a small arbiter.

Supports GET, PUT, COMPUTE and OFFCHIP (no ANY, shared units, switch costs or write-back): enough
for load -> map -> … -> store pipelines.
"""
from __future__ import annotations

import os
import sys
from collections import deque

import simpy

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from step_lab.hw.placement import place  # noqa: E402
from step_lab.interpret.context import RunContext  # noqa: E402
from step_lab.ir.node import COMPUTE, GET, OFFCHIP, PUT  # noqa: E402
from step_lab.ir.tokens import DONE, Stop  # noqa: E402
from step_lab.sim.plan import plan_nodes  # noqa: E402


class Fifo:
    def __init__(self, env, depth: int):
        self.items = simpy.Store(env)
        self.slots = simpy.Container(env, capacity=depth, init=depth)
        self.prev_data = False


class Hbm:
    """Per-burst HBM: one SimPy Resource per channel."""

    def __init__(self, env, hw):
        self.env, self.hw = env, hw
        self.channels = [simpy.Resource(env, capacity=1) for _ in range(hw.hbm_channels)]
        self.pending: list = []
        self.serving = False
        for ch in self.channels:
            env.process(self._startup(ch))

    def _startup(self, channel):
        with channel.request() as req:
            yield req
            yield self.env.timeout(self.hw.hbm_startup_cycles)

    def request(self, node_index: int, nbytes: int, address: int):
        """An event that fires with the tile's completion cycle."""
        done = self.env.event()
        self.pending.append((node_index, len(self.pending), nbytes, address, done))
        if not self.serving:
            self.serving = True
            self.env.process(self._arbiter())
        return done

    def _arbiter(self):
        yield self.env.timeout(0)               # let every same-cycle request arrive
        yield self.env.timeout(0)
        batch, self.pending, self.serving = sorted(self.pending), [], False
        for _, _, nbytes, address, done in batch:
            self.env.process(self._tile(nbytes, address, done))

    def _tile(self, nbytes: int, address: int, done):
        hw = self.hw
        bursts = -(-nbytes // hw.hbm_request_bytes)
        first = address // hw.hbm_request_bytes
        procs = [self.env.process(self._burst((first + j) % hw.hbm_channels))
                 for j in range(bursts)]
        starts = yield simpy.AllOf(self.env, procs)
        done.succeed(max(starts.values()) + hw.hbm_latency_cycles)

    def _burst(self, ch: int):
        with self.channels[ch].request() as req:
            yield req
            start = self.env.now
            yield self.env.timeout(self.hw.hbm_cycles_per_request)
        return start


def simpy_cycles(program, hw, inputs=None, bindings=None) -> int:
    """Simulate ``program`` (GET/PUT/COMPUTE/OFFCHIP nodes only) with SimPy; return cycles."""
    env = simpy.Environment()
    ctx = RunContext(program, inputs, bindings)
    plans = plan_nodes(program, hw, ctx, place(program, hw))
    hbm = Hbm(env, hw)
    fifos = {}
    for node in program.nodes:
        for port, stream in enumerate(node.inputs):
            depth = program.fifo_depth.get(stream, hw.fifo_depth)
            fifos[(node, port)] = Fifo(env, depth)
    outs = {node: [[] for _ in node.outputs] for node in program.nodes}
    for (node, port), fifo in fifos.items():
        stream = node.inputs[port]
        outs[stream.node][stream.port].append(fifo)
    ends = []
    for index, node in enumerate(program.nodes):
        ins = [fifos[(node, port)] for port in range(len(node.inputs))]
        env.process(_node(env, hw, hbm, index, node, plans[index], ctx, ins, outs[node], ends))
    env.run()
    return max(ends)


def _node(env, hw, hbm, index, node, plan, ctx, ins, outs, ends):
    gen = node.behaviour(ctx)
    in_next = [0] * len(ins)
    out_next = [0] * len(outs)
    out_data = [False] * len(outs)
    inflight: deque = deque()
    state = {"ready": 0, "res": 0, "cursor": plan.address}
    val = None
    while True:
        try:
            cmd = gen.send(val)
        except StopIteration:
            end = env.now
            for event in inflight:              # the last tiles still in flight
                end = max(end, (yield event))
            ends.append(end)
            return
        op, val = cmd[0], None
        if op == GET:
            val = yield from _get(env, ins[cmd[1]], cmd[1], in_next, plan, state)
        elif op == PUT:
            yield from _put(env, outs[cmd[1]], cmd[1], cmd[2], out_next, out_data, state,
                            plan.latency)
        elif op == COMPUTE:
            cost = -(-cmd[1] // plan.compute_bw) if cmd[1] else 0
            if state["res"]:
                cost = max(cost, -(-state["res"] // hw.onchip_bytes_per_cycle))
                state["res"] = 0
            if cost:
                yield env.timeout(cost)
        elif op == OFFCHIP:
            if len(inflight) >= hw.offchip_outstanding_tiles:
                first = yield inflight.popleft()
                if first > env.now:
                    yield env.timeout(first - env.now)
            done = hbm.request(index, cmd[1], state["cursor"])
            state["cursor"] += cmd[1]
            inflight.append(done)
            state["ready"] = done


def _get(env, fifo, port, in_next, plan, state):
    tok, put, ready, latency = yield fifo.items.get()
    if not isinstance(ready, int):
        ready = ready.value if ready.triggered else (yield ready)
    visible = max(put, ready) + latency
    data = tok is not DONE and type(tok) is not Stop
    slot = data or (tok is not DONE and not fifo.prev_data)
    fifo.prev_data = data
    start = max(env.now, visible, in_next[port] if slot else 0)
    if start > env.now:
        yield env.timeout(start - env.now)
    if slot:
        in_next[port] = env.now + 1
        yield fifo.slots.put(1)
        spec = plan.resident[port] if plan.resident else 0
        if data and spec:
            state["res"] += spec
    return tok


def _put(env, fifos, j, tok, out_next, out_data, state, latency):
    data = tok is not DONE and type(tok) is not Stop
    slot = data or (tok is not DONE and not out_data[j])
    if slot:
        if out_next[j] > env.now:
            yield env.timeout(out_next[j] - env.now)
        for fifo in fifos:
            yield fifo.slots.get(1)
        out_next[j] = env.now + 1
    out_data[j] = data
    for fifo in fifos:
        yield fifo.items.put((tok, env.now, state["ready"], latency))
