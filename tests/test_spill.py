"""Buffers that spill to off-chip memory (issue 16 item 3).

A Bufferize asked to (``spill=True``) or whose buffer exceeds the per-buffer capacity
(``metrics(buffer_capacity=N)``, ``HardwareConfig.onchip_buffer_capacity_bytes``) lives in HBM:
its writes and its Streamify's reads are off-chip traffic in the metrics, the interpreter and the
simulator (through the HBM model), and the buffer leaves the on-chip memory.
"""
import numpy as np
import pytest
import sympy

import step_lab as sl
from step_lab import fn, ops
from step_lab.analysis import spill as spill_mod
from step_lab.errors import BindingError, ConfigError, GraphError, ShapeError

TILE = 64 * 4                          # one [1, 64] f32 tile
SLOW_HBM = sl.hw.PAPER.replace(hbm_channels=1, offchip_bytes_per_cycle=32,
                               onchip_bytes_per_cycle=1024)


def buffered(spill=None, repeat=3):
    """4 rows of 4 [1,64] tiles, each row buffered (4 tiles) and read ``repeat`` times."""
    prog = sl.Program("buf")
    X = prog.tensor("X", (4, 256), "f32")
    tiles = ops.LinearOffChipLoad(X, tile=(1, 64), name="load")           # [1, 4, 4]
    rows = ops.Bufferize(tiles, 1, spill=spill, name="buf")               # [1, 4] of Buffer[4]
    again = ops.Streamify(rows, repeat=(repeat,), name="read")            # [1, 4, 3, 4]
    y = ops.Map(again, fn.Scale(2.0), compute_bw=64, name="twice")
    ops.LinearOffChipStore(ops.Flatten(y, 0, 3), "Y", name="store")
    return prog


X_VALUES = np.random.default_rng(0).standard_normal((4, 256)).astype(np.float32)


def test_spilled_traffic_is_every_write_plus_every_read():
    on, off = sl.metrics(buffered()), sl.metrics(buffered(spill=True))
    assert off.offchip_traffic - on.offchip_traffic == 16 * TILE + 48 * TILE
    assert off.by_node["buf"]["offchip_traffic"] == 16 * TILE
    assert off.by_node["read"]["offchip_traffic"] == 48 * TILE


def test_the_onchip_memory_loses_the_buffer_and_keeps_the_staging():
    on, off = sl.metrics(buffered()), sl.metrics(buffered(spill=True))
    # paper preset: Bufferize |t| + 2·4·|t| -> |t|; Streamify 0 -> 2·|t| (a load's staging)
    assert on.by_node["buf"]["onchip_memory"] == TILE + 2 * 4 * TILE
    assert off.by_node["buf"]["onchip_memory"] == TILE
    assert off.by_node["read"]["onchip_memory"] == 2 * TILE
    assert on.onchip_memory - off.onchip_memory == 2 * 4 * TILE - 2 * TILE
    art_on = sl.metrics(buffered(), preset="artifact")
    art_off = sl.metrics(buffered(spill=True), preset="artifact")
    # artifact: Bufferize 2·4·t + t -> t; Streamify 4·t + t -> t
    assert art_on.onchip_memory - art_off.onchip_memory == 2 * 4 * TILE + 4 * TILE


@pytest.mark.parametrize("run", ["interpret", "simulate"])
def test_measured_bytes_equal_the_metric_and_values_do_not_change(run):
    prog = buffered(spill=True)
    res = getattr(sl, run)(prog, inputs={"X": X_VALUES})
    assert res.offchip_bytes == sl.metrics(prog).offchip_traffic
    ref = getattr(sl, run)(buffered(), inputs={"X": X_VALUES})
    np.testing.assert_array_equal(res.arrays["Y"], ref.arrays["Y"])
    np.testing.assert_array_equal(res.arrays["Y"].reshape(4, 3, 256)[:, 2], 2 * X_VALUES)


def test_the_simulators_peak_drops_by_the_buffer_and_its_bytes_go_through_the_hbm():
    on = sl.simulate(buffered(), inputs={"X": X_VALUES}, trace=True)
    off = sl.simulate(buffered(spill=True), inputs={"X": X_VALUES}, trace=True)
    assert on.onchip_peak_bytes - off.onchip_peak_bytes == 2 * 4 * TILE - 2 * TILE
    assert off.per_node["buf"]["offchip_bytes"] == 16 * TILE
    assert off.per_node["read"]["offchip_bytes"] == 48 * TILE
    # the HBM log holds one request per tile moved: 16 loads + 16 + 48 spilled + 48 stores
    assert len(off.trace.hbm) // 5 == len(on.trace.hbm) // 5 + 64


def test_cycles_rise_when_the_hbm_is_the_bottleneck():
    on = sl.simulate(buffered(), hw=SLOW_HBM, inputs={"X": X_VALUES})
    off = sl.simulate(buffered(spill=True), hw=SLOW_HBM, inputs={"X": X_VALUES})
    assert off.cycles > on.cycles * 1.5


def test_a_buffer_larger_than_the_capacity_spills_automatically():
    prog = buffered()
    fits, spills = 4 * TILE, 4 * TILE - 1
    assert sl.metrics(prog, buffer_capacity=fits).offchip_traffic == \
        sl.metrics(prog).offchip_traffic
    assert sl.metrics(prog, buffer_capacity=spills).offchip_traffic == \
        sl.metrics(buffered(spill=True)).offchip_traffic
    hw = sl.hw.PAPER.replace(onchip_buffer_capacity_bytes=spills)
    sim = sl.simulate(prog, hw=hw, inputs={"X": X_VALUES})
    m = sl.metrics(prog, buffer_capacity=spills)
    assert sim.offchip_bytes == m.offchip_traffic
    spilled = sl.metrics(buffered(spill=True))
    assert sim.onchip_peak_bytes == m.onchip_memory == spilled.onchip_memory


def test_spill_false_keeps_a_buffer_on_chip_whatever_its_size():
    prog = buffered(spill=False)
    assert sl.metrics(prog, buffer_capacity=1).offchip_traffic == sl.metrics(prog).offchip_traffic


def test_a_symbolic_buffer_gets_a_piecewise_spill_factor():
    prog = sl.Program("sym")
    X = prog.tensor("X", (4, sl.dim("C")), "f32")
    tiles = ops.LinearOffChipLoad(X, tile=(1, 64))                 # [1, 4, C/64]
    rows = ops.Bufferize(tiles, 1, name="buf")
    ops.LinearOffChipStore(ops.Flatten(ops.Streamify(rows, name="read"), 0, 2), "Y")
    m = sl.metrics(prog, buffer_capacity=1024)                     # 4 tiles of 256 B fit
    assert m.by_node["buf"]["offchip_traffic"].has(sympy.Piecewise)
    small, large = m.evaluate({"C": 256}), m.evaluate({"C": 512})
    assert small["offchip_traffic"] == 2 * 4 * 4 * TILE
    assert large["offchip_traffic"] == 4 * 4 * 8 * TILE
    hw = sl.hw.PAPER.replace(onchip_buffer_capacity_bytes=1024)
    for c in (256, 512):
        sim = sl.simulate(prog, hw=hw, bindings={"C": c})
        assert sim.offchip_bytes == m.evaluate({"C": c})["offchip_traffic"]


def test_streamify_follows_its_buffers_through_shape_operators():
    prog = sl.Program("through")
    X = prog.tensor("X", (4, 256), "f32")
    rows = ops.Bufferize(ops.LinearOffChipLoad(X, tile=(1, 64)), 1, spill=True, name="buf")
    flat = ops.Flatten(rows, 0, 1, name="flat")                    # [4] of Buffer[4]
    read = ops.Streamify(flat, repeat=(2,), name="read")
    ops.LinearOffChipStore(ops.Flatten(read, 0, 2), "Y")
    assert [n.name for n in spill_mod.sources(prog.node("read"))] == ["buf"]
    sim = sl.simulate(prog, inputs={"X": X_VALUES})
    assert sim.per_node["read"]["offchip_bytes"] == 32 * TILE
    assert sim.offchip_bytes == sl.metrics(prog).offchip_traffic


def test_buffers_from_differently_placed_bufferizes_are_an_error():
    prog = sl.Program("mixed")
    X = prog.tensor("X", (4, 256), "f32")
    sel = prog.input("sel", sl.Selector(2), (4,))
    tiles = ops.LinearOffChipLoad(X, tile=(1, 64))
    a = ops.Bufferize(tiles, 1, spill=True, name="a")
    b = ops.Bufferize(tiles, 1, name="b")
    merged, _ = ops.EagerMerge([ops.Flatten(a, 0, 1), ops.Flatten(b, 0, 1)])
    prog.output("o", ops.Streamify(merged, name="read"))
    with pytest.raises(GraphError, match="'read'.*not all in the same memory"):
        sl.metrics(prog)
    del sel


# -- bad input --------------------------------------------------------------------------------
@pytest.mark.parametrize("bad", [1, 0, "yes", "offchip", 1.0])
def test_spill_must_be_none_or_a_bool(bad):
    with pytest.raises(ShapeError, match=r"argument 'spill' = .*expected None .* True .* False"):
        buffered(spill=bad)


@pytest.mark.parametrize("bad", [0, -5, 1.5, "1k", True])
def test_a_bad_buffer_capacity_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="buffer_capacity"):
        sl.metrics(buffered(), buffer_capacity=bad)


@pytest.mark.parametrize("bad", [-1, 1.5, None, "big"])
def test_a_bad_hardware_capacity_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="onchip_buffer_capacity_bytes"):
        sl.hw.PAPER.replace(onchip_buffer_capacity_bytes=bad)


def test_an_undecidable_spill_names_the_symbols_and_the_way_out():
    prog = sl.Program("undecided")
    x = prog.input("x", sl.Tile(1, 8, "f32"), (4,))
    sel = prog.input("sel", sl.Selector(2), (4,))
    to0, to1 = ops.Partition(x, sel, 2)                            # [sel_x0], [sel_x1]
    prog.output("o", ops.Streamify(ops.Bufferize(ops.Promote(to0), 1, name="buf")))
    prog.output("p", to1)
    hw = sl.hw.PAPER.replace(onchip_buffer_capacity_bytes=64)
    inputs = {"x": [np.ones((1, 8), np.float32)] * 4, "sel": [0, 0, 0, 1]}
    with pytest.raises(BindingError, match=r"'buf'.*\['sel_x0'\].*spill=True/False"):
        sl.simulate(prog, hw=hw, inputs=inputs)
    sim = sl.simulate(prog, hw=hw, inputs=inputs, bindings={"sel_x0": 3})
    assert sim.offchip_bytes == 2 * 3 * 32                          # 96 B > 64 B: spilled
    assert sim.offchip_bytes == sl.metrics(prog, buffer_capacity=64).evaluate(
        {"sel_x0": 3, "sel_x1": 1})["offchip_traffic"]


# -- the MoE what-if: weight buffers on chip or spilled ------------------------------------------
def _moe(weights, **kw):
    from step_lab.workloads import moe_layer
    from step_lab.workloads.models import ModelConfig
    tiny = ModelConfig("tiny", experts=4, top_k=2, hidden=16, moe_intermediate=32,
                       query_heads=1, kv_heads=1, head_dim=16, layers=1)
    return moe_layer(tiny, batch=10, tile_f=8, seed=3, weights=weights,
                     **(kw or {"tiling": "static", "tile": 4}))


@pytest.mark.parametrize("tiling", [dict(tiling="static", tile=4), dict(tiling="dynamic")])
def test_moe_weight_buffers_trade_memory_for_traffic(tiling):
    from step_lab.workloads.moe import moe_analysis, moe_reference
    runs = {}
    for weights in ("stream", "buffer", "spill"):
        wl = _moe(weights, **tiling)
        sim = wl.simulate()
        m = sl.metrics(wl.program).evaluate(wl.bindings)
        assert sim.offchip_bytes == m["offchip_traffic"] == moe_analysis(wl)["offchip_traffic"]
        assert sim.onchip_peak_bytes == m["onchip_memory"]
        np.testing.assert_allclose(sim.arrays["Y"], moe_reference(wl), rtol=1e-4, atol=1e-5)
        runs[weights] = (sim, sl.metrics(wl.program), wl)
    stream, buffer, spilled = (runs[w][0] for w in ("stream", "buffer", "spill"))
    assert buffer.offchip_bytes <= stream.offchip_bytes < spilled.offchip_bytes
    assert spilled.onchip_peak_bytes < buffer.onchip_peak_bytes
    assert spilled.cycles > buffer.cycles
    # the peak drops by exactly the buffers minus the spilled staging, node by node
    mb, ms, wl = runs["buffer"][1], runs["spill"][1], runs["buffer"][2]
    bufs = [n for n in wl.program.nodes if n.cost_role in ("bufferize", "streamify")]
    drop = sum(sl.symbolic.evaluate(mb.by_node[n.name]["onchip_memory"]
                                    - ms.by_node[n.name]["onchip_memory"], wl.bindings)
               for n in bufs)
    assert buffer.onchip_peak_bytes - spilled.onchip_peak_bytes == drop > 0


def test_moe_buffered_weights_spill_automatically_on_small_hardware():
    wl = _moe("buffer")
    small = wl.hw.replace(onchip_buffer_capacity_bytes=256)   # buffers: 4 [16, 8] bf16 = 1 KB
    auto = wl.simulate(hw=small)
    forced = _moe("spill").simulate()
    assert auto.offchip_bytes == forced.offchip_bytes
    assert auto.offchip_bytes == sl.metrics(wl.program, buffer_capacity=256).evaluate(
        wl.bindings)["offchip_traffic"]


def test_moe_weights_knob_and_bad_values():
    wl = _moe("stream")
    assert wl.knobs["weights"] == ["stream", "buffer", "spill"]
    assert wl.rebuild(weights="spill").program.name.endswith("_wspill")
    with pytest.raises(ConfigError, match="weights = 'bufer'.*did you mean 'buffer'"):
        _moe("bufer")
    with pytest.raises(ConfigError, match="time_multiplex"):
        _moe("buffer", tiling="static", tile=4, time_multiplex=True, regions=2)
