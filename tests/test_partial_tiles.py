"""Partial tiles, opt-in (issue 16 item 2): ``pad=True`` on the off-chip operators.

A (3, 100) tensor loads as [1, 32] tiles with a zero-padded last tile per row, a GELU Map computes
on whole tiles and the store writes back only the valid elements. Shapes, traffic (padded bytes),
FLOPs (whole tiles) and values (= numpy) agree in metrics, the interpreter and the simulator.
"""
import numpy as np
import pytest
import sympy

import step_lab as sl
from step_lab import fn, ops
from step_lab.errors import BindingError, ShapeError

TILE_BYTES = 32 * 4                  # one [1, 32] f32 tile


def gelu_prog(rows=3, cols=100, *, pad_store=True):
    prog = sl.Program("gelu_pad")
    X = prog.tensor("X", (rows, cols), "f32")
    Y = prog.tensor("Y", (rows, cols), "f32", role="output")
    tiles = ops.LinearOffChipLoad(X, tile=(1, 32), pad=True, name="load")
    h = ops.Map(tiles, fn.GELU(), compute_bw=32, name="gelu")
    ops.LinearOffChipStore(h, Y, pad=pad_store, name="store")
    return prog, tiles


def numpy_gelu(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def test_a_padded_load_has_ceiling_tiles_of_the_full_tile_type():
    prog, tiles = gelu_prog()
    assert tiles.shape == (1, 3, 4)
    assert tiles.dtype == sl.Tile(1, 32, "f32")
    assert prog.node("load").tiled_in_shape == (3, 4)


def test_metrics_count_padded_bytes_and_whole_tile_flops():
    prog, _ = gelu_prog()
    m = sl.metrics(prog)
    # 12 tiles of 128 B loaded and 12 stored (4·32 = 128 columns moved per row, 100 useful)
    assert m.offchip_traffic == 2 * 12 * TILE_BYTES == 3072
    assert m.flops == 12 * 32 * 9                       # GELU: 9 FLOPs per element
    assert m.by_node["load"]["offchip_traffic"] == 1536


@pytest.mark.parametrize("run", ["interpret", "simulate"])
def test_values_equal_numpy_and_bytes_equal_the_metric(run):
    prog, _ = gelu_prog()
    x = np.random.default_rng(1).standard_normal((3, 100)).astype(np.float32)
    result = getattr(sl, run)(prog, inputs={"X": x})
    y = result.arrays["Y"]
    assert y.shape == (3, 100)
    np.testing.assert_allclose(y, numpy_gelu(x.astype(np.float64)), rtol=1e-5, atol=1e-6)
    assert result.offchip_bytes == sl.metrics(prog).offchip_traffic == 3072
    assert result.flops == sl.metrics(prog).flops


def test_the_padding_is_zero_on_the_stream():
    prog = sl.Program("p")
    X = prog.tensor("X", (2, 5), "f32")
    prog.output("o", ops.Flatten(ops.LinearOffChipLoad(X, tile=(1, 4), pad=True), 0, 2))
    x = np.arange(10, dtype=np.float32).reshape(2, 5) + 1
    tiles = sl.interpret(prog, inputs={"X": x}).values["o"]
    assert len(tiles) == 4
    assert tiles[1].tolist() == [[5.0, 0.0, 0.0, 0.0]]
    assert tiles[3].tolist() == [[10.0, 0.0, 0.0, 0.0]]


def test_padding_rows_and_columns_of_two_dim_tiles():
    prog = sl.Program("p2")
    X = prog.tensor("X", (5, 7), "f32")
    Y = prog.tensor("Y", (5, 7), "f32", role="output")
    t = ops.LinearOffChipLoad(X, tile=(2, 4), pad=True)
    assert t.shape == (1, 3, 2)
    ops.LinearOffChipStore(ops.Map(t, fn.Scale(2.0)), Y, pad=True)
    x = np.random.default_rng(2).standard_normal((5, 7)).astype(np.float32)
    sim = sl.simulate(prog, inputs={"X": x})
    np.testing.assert_array_equal(sim.arrays["Y"], 2 * x)
    assert sim.offchip_bytes == 2 * 6 * 8 * 4 == sl.metrics(prog).offchip_traffic


def test_symbolic_columns_give_a_ceiling_and_evaluate_like_the_run():
    prog = sl.Program("sym")
    C = sl.dim("C")
    X = prog.tensor("X", (3, C), "f32")
    Y = prog.tensor("Y", (3, C), "f32", role="output")
    t = ops.LinearOffChipLoad(X, tile=(1, 32), pad=True)
    assert t.shape[-1] == sympy.ceiling(C / 32)
    ops.LinearOffChipStore(ops.Map(t, fn.GELU(), compute_bw=32), Y, pad=True)
    m = sl.metrics(prog)
    assert m.evaluate({"C": 100})["offchip_traffic"] == 3072
    assert m.evaluate({"C": 96})["offchip_traffic"] == 2 * 9 * TILE_BYTES
    x = np.ones((3, 100), np.float32)
    sim = sl.simulate(prog, inputs={"X": x}, bindings={"C": 100})
    assert sim.offchip_bytes == 3072
    np.testing.assert_allclose(sim.arrays["Y"], numpy_gelu(x), rtol=1e-6)


def test_random_load_and_store_address_the_padded_tile_array():
    prog = sl.Program("rnd")
    X = prog.tensor("X", (3, 10), "f32")
    Y = prog.tensor("Y", (3, 10), "f32", role="output")
    addr = prog.input("addr", sl.Addr, (6,))
    t = ops.RandomOffChipLoad(addr, X, (1, 4), pad=True)        # 3 rows x 3 tiles = 9
    acks = ops.RandomOffChipStore(addr, t, Y, pad=True)
    prog.output("acks", acks)
    x = np.arange(30, dtype=np.float32).reshape(3, 10) + 1
    order = [2, 0, 1, 5, 4, 3]
    res = sl.simulate(prog, inputs={"X": x, "addr": order})
    y = res.arrays["Y"]
    assert y.shape == (3, 10)
    np.testing.assert_array_equal(y[:2], x[:2])
    assert not y[2].any()
    assert res.offchip_bytes == 12 * 16 == sl.metrics(prog).evaluate({})["offchip_traffic"]


def test_timing_only_runs_pad_ghost_tensors():
    prog, _ = gelu_prog()
    sim = sl.simulate(prog, values=False)
    assert sim.offchip_bytes == 3072
    assert sim.flops == 12 * 32 * 9


# -- the default stays an error, and bad input ----------------------------------------------------
def test_the_default_still_rejects_a_partial_tile_and_names_the_option():
    prog = sl.Program("e")
    X = prog.tensor("X", (3, 100), "f32")
    with pytest.raises(ShapeError, match=r"not divisible.*\n.*pad=True"):
        ops.LinearOffChipLoad(X, tile=(1, 32))


def test_an_unpadded_store_of_padded_tiles_is_a_shape_error():
    with pytest.raises(ShapeError, match="pad=True"):
        gelu_prog(pad_store=False)


@pytest.mark.parametrize("bad", [1, 0, "yes", None, 1.0, [True]])
@pytest.mark.parametrize("op", ["load", "store", "rload", "rstore"])
def test_pad_must_be_a_bool(op, bad):
    prog = sl.Program("b")
    X = prog.tensor("X", (4, 64), "f32")
    Y = prog.tensor("Y", (4, 64), "f32", role="output")
    addr = prog.input("addr", sl.Addr, (4,))
    tiles = ops.LinearOffChipLoad(X, tile=(1, 64))
    build = {"load": lambda: ops.LinearOffChipLoad(X, tile=(1, 64), pad=bad),
             "store": lambda: ops.LinearOffChipStore(tiles, Y, pad=bad),
             "rload": lambda: ops.RandomOffChipLoad(addr, X, (1, 64), pad=bad),
             "rstore": lambda: ops.RandomOffChipStore(addr, ops.Flatten(tiles, 0, 1), Y,
                                                      pad=bad)}[op]
    with pytest.raises(ShapeError, match=r"argument 'pad' = .*expected True .* or False"):
        build()


def test_an_unpadded_symbolic_tensor_with_a_non_divisible_binding_is_still_an_error():
    prog = sl.Program("s")
    X = prog.tensor("X", (3, sl.dim("C")), "f32")
    prog.output("o", ops.LinearOffChipLoad(X, tile=(1, 32)))
    with pytest.raises(BindingError, match="pad=True"):
        sl.simulate(prog, bindings={"C": 100})
    with pytest.raises(BindingError, match="pad=True"):
        sl.interpret(prog, bindings={"C": 100})


def test_gelu_flops_are_configurable_and_checked():
    assert fn.GELU(flops_per_element=4).flops_of_type(sl.Tile(2, 2, "f32")) == 16
    with pytest.raises(ShapeError):
        fn.GELU(flops_per_element=-1)
    assert float(fn.GELU()(np.zeros((1, 1), np.float32))[0, 0]) == 0.0
