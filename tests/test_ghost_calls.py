"""Timing-only runs remember a tile function's result on ghost arguments (``ir/ghost.py``,
``GhostCalls``): the same shared ghosts give the same value and FLOPs, so a function is applied
once per distinct argument shape instead of once per tile, with identical results."""
import numpy as np
import pytest

import step_lab as sl
from step_lab import fn, ops
from step_lab.ir.ghost import Ghost, GhostCalls, ghost


class CountingExp(fn.Exp):
    """Exp that counts its applications (class attribute: behaviours copy nothing)."""

    calls = 0

    def __call__(self, value):
        type(self).calls += 1
        return super().__call__(value)


class FreshZeros(fn.Exp):
    """Returns a new real array every time (never a shared ghost): must not be remembered."""

    calls = 0

    def __call__(self, value):
        type(self).calls += 1
        return np.zeros(value.shape, value.dtype)


def test_key_accepts_shared_ghosts_and_tuples_of_them_only():
    g, h = ghost((8, 32), np.float32), ghost((1, 32), np.float32)
    assert GhostCalls.key((g,)) == id(g)
    assert GhostCalls.key((g, h)) == (id(g), id(h))
    assert GhostCalls.key(((g, h),)) == (id(g), id(h))          # a zipped element
    assert GhostCalls.key(((g, h), g)) == ((id(g), id(h)), id(g))
    assert ghost((8, 32), "f4") is g                       # one object per shape and dtype
    for other in (g.copy(), g[:4], np.zeros((8, 32), np.float32), 3, (g, 1), [g]):
        assert GhostCalls.key((other,)) is None, other
    assert GhostCalls.key((g, np.zeros(2))) is None
    assert GhostCalls.key(((g, g.copy()), g)) is None


def test_put_keeps_only_shared_ghost_results():
    g = ghost((8, 32), np.float32)
    calls = GhostCalls()
    key = calls.key((g,))
    calls.put(key, (g,), np.zeros((8, 32)), 256)          # a real array: never shared
    calls.put(key, (g,), g.copy(), 256)                     # a ghost with its own memory
    calls.put(key, (g,), [g], 256)
    assert calls.get(key) is None
    calls.put(key, (g,), g, 256)
    assert calls.get(key) == (g, 256)


def _pipeline(f, tiles: int, coalesce_pair: bool) -> sl.Program:
    prog = sl.Program("ghost_calls")
    x = ops.LinearOffChipLoad(prog.tensor("X", (tiles * 8, 32), "f32"), tile=(8, 32))
    y = ops.Map(x, f, compute_bw=64)
    if coalesce_pair:                                     # Map → Map: one coalesced segment
        y = ops.Map(y, fn.Scale(0.5), compute_bw=32)
    acc = ops.Accum(y, fn.Add(), fn.Zero((8, 32)), rank=1, compute_bw=64)
    ops.LinearOffChipStore(acc, "Y")
    return prog


@pytest.mark.parametrize("coalesce_pair", [False, True], ids=["per-token Map", "segment"])
def test_timing_only_run_applies_a_function_once_per_ghost_shape(coalesce_pair):
    prog = _pipeline(CountingExp(), 200, coalesce_pair)
    CountingExp.calls = 0
    timing = sl.simulate(prog, values=False)
    assert CountingExp.calls == 1                          # 200 tiles, one shape
    if coalesce_pair:
        assert timing.coalesced                            # the segment path was the one taken
    CountingExp.calls = 0
    full = sl.simulate(prog, inputs={"X": np.zeros((1600, 32), np.float32)})
    assert CountingExp.calls == 200                        # real values: every tile
    assert (timing.cycles, timing.flops, timing.per_node) == \
        (full.cycles, full.flops, full.per_node)


def test_results_that_are_not_shared_ghosts_are_computed_every_time():
    prog = _pipeline(FreshZeros(), 50, False)
    FreshZeros.calls = 0
    r = sl.simulate(prog, values=False)
    assert FreshZeros.calls == 50 and r.flops > 0


def test_accumulators_on_ghosts_match_the_values_run():
    """Accum's update on (ghost element, ghost accumulator) is remembered per pair; RetileRow's
    growing accumulator gives a new shape (a new key) per element, as it must."""
    prog = sl.Program("retile")
    x = ops.LinearOffChipLoad(prog.tensor("X", (64, 32), "f32"), tile=(1, 32))
    packed = ops.Accum(ops.Map(x, fn.Exp(), compute_bw=32), fn.RetileRow(),
                       fn.Empty((0, 32)), rank=2)
    prog.output("y", packed)
    timing = sl.simulate(prog, values=False)
    full = sl.simulate(prog, inputs={"X": np.zeros((64, 32), np.float32)})
    (t_out,), (f_out,) = ([v for v in r.tokens["y"] if isinstance(v, np.ndarray)]
                          for r in (timing, full))
    assert isinstance(t_out, Ghost) and t_out.shape == f_out.shape == (64, 32)
    assert (timing.cycles, timing.flops) == (full.cycles, full.flops)
