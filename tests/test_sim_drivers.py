"""Generator-free drivers of the off-chip operators (sim/drivers.py) against the operators'
behaviour generators, the reference: the same commands for the same answers, the same stored
tensors and the same errors, alone and inside whole simulations."""
import numpy as np
import pytest

import step_lab as sl
from step_lab import fn, ops
from step_lab.errors import StepError
from step_lab.interpret.context import RunContext
from step_lab.ir.node import GET, OFFCHIP, PUT
from step_lab.ir.tokens import DONE, Stop
from step_lab.sim.drivers import ReadDriver, WriteDriver, driver_for


def run(resumable, answers=()):
    """Commands of a behaviour generator or driver answered like a driver would: GETs take
    ``answers`` in order, every other command gets None. ``(commands, error)``."""
    out, feed, reply = [], iter(answers), None
    try:
        while True:
            cmd = resumable.send(reply)
            out.append(cmd)
            reply = next(feed) if cmd[0] == GET else None
    except StopIteration:
        return out, None
    except StepError as e:
        return out, str(e)


def norm(cmds):
    """Commands with tiles replaced by (shape, dtype, bytes): comparable with ==."""
    def item(x):
        if isinstance(x, np.ndarray):
            return ("tile", x.shape, x.dtype.str, x.tobytes())
        return x
    return [tuple(item(x) for x in c) for c in cmds]


def both(node, prog, inputs, bindings=None, answers=()):
    """Run ``node``'s generator and its driver, each in a fresh run context."""
    ctx_g = RunContext(prog, inputs, bindings)
    ctx_d = RunContext(prog, inputs, bindings)
    gen = run(node.behaviour(ctx_g), answers)
    driver = driver_for(node, ctx_d)
    assert driver is not None
    return gen, run(driver, answers), ctx_g, ctx_d


READS = [  # (tensor shape, tile, keyword arguments of LinearOffChipLoad)
    ((6, 8), (2, 4), {}),
    ((6, 8), (2, 4), {"stride": (0, 1), "tiled_out_shape": (3, 2)}),     # re-reads
    ((6, 8), (2, 4), {"stride": (2, 1, 1), "tiled_out_shape": (2, 1, 2)}),
    ((5, 7), (2, 4), {"pad": True}),
    ((6, 8), (2, 4), {"stride": (1, 1), "tiled_out_shape": (0, 2)}),     # empty: only S2
    ((6, 8), (2, 4), {"stride": (1,), "tiled_out_shape": (5,)}),
]


@pytest.mark.parametrize("shape, tile, kw", READS)
def test_a_read_driver_issues_the_commands_of_the_load_generator(shape, tile, kw):
    prog = sl.Program()
    x = prog.tensor("X", shape, "f32")
    prog.output("x", ops.LinearOffChipLoad(x, tile, **kw))
    node = prog.nodes[0]
    data = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    (gen, gerr), (drv, derr), _, _ = both(node, prog, {"X": data})
    assert gerr is None and derr is None
    assert norm(drv) == norm(gen)
    assert drv[-1] == (PUT, 0, DONE) and drv.count((OFFCHIP, 2 * 4 * 4, False)) == \
        sum(1 for c in drv if c[0] == PUT and isinstance(c[2], np.ndarray))


def test_a_load_per_ref_element_keeps_its_generator():
    prog = sl.Program()
    ref = prog.input("r", sl.Tile(1, 1, "f32"), (3,))
    x = prog.tensor("X", (4, 4), "f32")
    prog.output("x", ops.LinearOffChipLoad(x, (2, 2), ref=ref))
    load = prog.nodes[-1]
    inputs = {"X": np.zeros((4, 4), np.float32), "r": [np.zeros((1, 1), np.float32)] * 3}
    assert driver_for(load, RunContext(prog, inputs)) is None


def _store_program(rows="N"):
    prog = sl.Program()
    n = sl.dim("N")
    x = prog.tensor("X", (n, 4), "f32")
    y = prog.tensor("Y", (sl.dim("M") if rows == "M" else n, 4), "f32", role="output")
    ops.LinearOffChipStore(ops.LinearOffChipLoad(x, (1, 4)), y)
    return prog, prog.nodes[-1]


def test_a_write_driver_issues_the_commands_and_stores_what_the_store_generator_does():
    prog, store = _store_program()
    tiles = [np.full((1, 4), i, np.float32) for i in range(3)]
    answers = [tiles[0], Stop(1), tiles[1], tiles[2], Stop(2), DONE]
    (gen, gerr), (drv, derr), ctx_g, ctx_d = both(store, prog, {"X": np.zeros((3, 4))},
                                                   {"N": 3}, answers)
    assert gerr is None and derr is None and norm(drv) == norm(gen)
    assert [c[0] for c in drv] == [GET, OFFCHIP, GET, GET, OFFCHIP, GET, OFFCHIP, GET, GET]
    assert ctx_g.stored.keys() == ctx_d.stored.keys() == {"Y"}
    assert ctx_g.stored["Y"][2] == ctx_d.stored["Y"][2] == 3
    y = store.params["tensor"]
    assert np.array_equal(ctx_d.memory.assembled(y, (1, 4), 3),
                          ctx_g.memory.assembled(y, (1, 4), 3))


@pytest.mark.parametrize("bad", [np.zeros((2, 4), np.float32), np.zeros((1, 4, 1), np.float32),
                                 "tile", 3.0])
def test_a_write_driver_rejects_a_bad_tile_with_the_store_s_own_error(bad):
    prog, store = _store_program()
    answers = [np.zeros((1, 4), np.float32), bad, DONE]
    (gen, gerr), (drv, derr), _, _ = both(store, prog, {"X": np.zeros((3, 4))}, {"N": 3},
                                          answers)
    assert gerr is not None and "cannot be stored into tensor 'Y'" in gerr
    assert derr == gerr and norm(drv) == norm(gen)


def test_a_write_driver_accepts_what_the_store_accepts():
    prog, store = _store_program()
    answers = [[[1.0, 2.0, 3.0, 4.0]], np.ones((1, 4), np.float32), DONE]   # a nested list
    (gen, gerr), (drv, derr), ctx_g, ctx_d = both(store, prog, {"X": np.zeros((2, 4))},
                                                   {"N": 2}, answers)
    assert gerr is None and derr is None and norm(drv) == norm(gen)
    y = store.params["tensor"]
    assert np.array_equal(ctx_d.memory.assembled(y, (1, 4), 2), [[1, 2, 3, 4], [1, 1, 1, 1]])


def test_a_store_beyond_its_tensor_fails_alike_with_and_without_drivers():
    prog, _ = _store_program(rows="M")
    kw = dict(inputs={"X": np.zeros((3, 4), np.float32)}, bindings={"N": 3, "M": 2})
    errors = []
    for coalesce in (True, False):
        with pytest.raises(StepError, match="more than 2 tiles, the capacity of tensor 'Y'") as e:
            sl.simulate(prog, coalesce=coalesce, **kw)
        errors.append(str(e.value))
    assert errors[0] == errors[1]
    assert errors[0].startswith("while simulating 'linearoffchipstore")
    with pytest.raises(StepError, match="more than 2 tiles"):
        sl.interpret(prog, **kw)


@pytest.mark.parametrize("values", [True, False])
def test_pipelines_simulate_alike_with_drivers_and_with_generators(values):
    prog = sl.Program()
    n = sl.dim("N")
    x = prog.tensor("X", (n * 2, 8), "f32")
    s = ops.LinearOffChipLoad(x, (2, 4))
    s = ops.Map(s, fn.Exp(), compute_bw=8)
    ops.LinearOffChipStore(ops.Map(s, fn.Scale(0.5), compute_bw=4), "Y")
    data = np.random.default_rng(1).standard_normal((14, 8)).astype(np.float32)
    kw = dict(inputs={"X": data}, bindings={"N": 7}, values=values, trace=True)
    a, b = sl.simulate(prog, **kw), sl.simulate(prog, coalesce=False, **kw)
    assert (a.cycles, a.per_node, a.channels) == (b.cycles, b.per_node, b.channels)
    assert a.trace.to_dict() == b.trace.to_dict()
    if values:
        assert np.array_equal(a.arrays["Y"], b.arrays["Y"])
        assert np.allclose(a.arrays["Y"], np.exp(data) * 0.5)


def test_drivers_are_made_only_for_scripted_nodes():
    prog, store = _store_program()
    ctx = RunContext(prog, {"X": np.zeros((2, 4))}, {"N": 2})
    load = prog.nodes[0]
    assert isinstance(driver_for(load, ctx), ReadDriver)
    assert isinstance(driver_for(store, ctx), WriteDriver)
    m = ops.Map(load.outputs[0], fn.Exp())
    assert driver_for(m.node, ctx) is None


class NegatingLoad(ops.LinearOffChipLoad):
    """A subclass with its own behaviour: the inherited script must not bypass it."""

    def behaviour(self, ctx):
        for cmd in super().behaviour(ctx):
            if cmd[0] == PUT and isinstance(cmd[2], np.ndarray):
                cmd = (PUT, 0, -cmd[2])
            yield cmd


def test_a_subclass_overriding_behaviour_runs_its_behaviour():
    prog = sl.Program()
    ops.LinearOffChipStore(NegatingLoad(prog.tensor("X", (4, 4), "f32"), (2, 4)), "Y")
    assert driver_for(prog.nodes[0], RunContext(prog, {"X": np.ones((4, 4))})) is None
    for coalesce in (True, False):
        r = sl.simulate(prog, inputs={"X": np.ones((4, 4), np.float32)}, coalesce=coalesce)
        assert np.array_equal(r.arrays["Y"].reshape(4, 4), -np.ones((4, 4)))
