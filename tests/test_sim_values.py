"""The timed simulator computes the reference interpreter's values (issue 5, item 4).

Every operator family runs through ``check_against_interpreter``: same output tokens (chunk order
free only downstream of EagerMerge/Reassemble), same stored arrays, traffic and FLOPs. Traffic
also equals the symbolic metric, and timing-only runs (ghost tiles) give the same cycles.
"""
from fractions import Fraction

import numpy as np
import pytest

import step_lab as sl
from step_lab import DONE, S, fn, ops
from step_lab.sim.check import check_against_interpreter, order_free_outputs

F32 = sl.Tile(1, 4, "f32")
RNG = np.random.default_rng(7)


def rows(n, cols=4):
    return [RNG.standard_normal((1, cols)).astype(np.float32) for _ in range(n)]


# -- off-chip operators ------------------------------------------------------------------------
def prog_linear_load_store():
    prog = sl.Program("linear")
    t = prog.tensor("T", (8, 16), "f32")
    w = ops.LinearOffChipLoad(t, (2, 4), stride=(4, 1), tiled_out_shape=(2, 4))
    prog.output("w", w)
    ops.LinearOffChipStore(ops.LinearOffChipLoad(t, (4, 4)), "copy")
    ref = prog.input("ref", sl.Bool, (2, sl.dim("R")), ragged=(sl.dim("R"),))
    prog.output("per_ref", ops.LinearOffChipLoad(t, (4, 8), ref=ref))
    return prog, {"ref": [True, True, S(1), True, S(1), DONE]}, {"R": 2}


def prog_random_load_store():
    prog = sl.Program("random")
    t = prog.tensor("T", (8, 8), "f32")
    addr = prog.input("a", sl.Addr, (6,))
    got = ops.RandomOffChipLoad(addr, t, (2, 4))
    out = prog.tensor("O", (8, 8), "f32", role="output")
    waddr = prog.input("w", sl.Addr, (6,))
    prog.output("ack", ops.RandomOffChipStore(waddr, got, out))
    return prog, {"a": [5, 2, 7, 0, 0, 3], "w": [0, 1, 2, 3, 4, 5]}, {}


# -- on-chip operators -------------------------------------------------------------------------
def prog_bufferize_streamify():
    prog = sl.Program("onchip")
    x = prog.input("x", F32, (2, 2, 2))
    bufs = ops.Bufferize(x, 2)
    R = sl.dim("R")
    ref = prog.input("ref", sl.Bool, (2, R), ragged=(R,))
    prog.output("by_ref", ops.Streamify(bufs, ref))
    prog.output("repeat", ops.Streamify(ops.Bufferize(x, 1), repeat=(3,)))
    prog.output("affine", ops.Streamify(ops.Bufferize(x, 2), repeat=(2,), stride=(1, 2),
                                        out_shape=(2, 2)))
    return prog, {"x": [[rows(2), rows(2)], [rows(2), rows(2)]],
                  "ref": [True, True, S(1), True, S(1), DONE]}, {"R": 2}


# -- routing operators -------------------------------------------------------------------------
def prog_partition_reassemble():
    prog = sl.Program("route")
    x = prog.input("x", F32, (6, 2))
    sel = prog.input("sel", sl.Selector(3), (6,))
    parts = ops.Partition(x, sel, 3)
    scaled = [ops.Map(p, fn.Scale(float(i + 1)), compute_bw=2 + 6 * i)
              for i, p in enumerate(parts)]
    prog.output("gathered", ops.Reassemble(scaled, sel))
    prog.output("part0", parts[0])
    return prog, {"x": [rows(2) for _ in range(6)],
                  "sel": [{0}, {1, 2}, {2}, {0, 1}, set(), {1}]}, {}


def prog_eager_merge():
    prog = sl.Program("merge")
    a = ops.Map(prog.input("a", F32, (4, 2)), fn.SiLU(), compute_bw=1)     # slow input
    b = ops.Map(prog.input("b", F32, (3, 2)), fn.Exp(), compute_bw=64)     # fast input
    data, which = ops.EagerMerge([a, b])
    prog.output("data", data)
    prog.output("which", which)
    prog.output("back", ops.Partition(data, which, 2)[0])
    return prog, {"a": [rows(2) for _ in range(4)], "b": [rows(2) for _ in range(3)]}, {}


# -- higher-order operators --------------------------------------------------------------------
def prog_higher_order():
    prog = sl.Program("higher")
    x = prog.input("x", sl.Tile(2, 4, "f32"), (3, 4))
    w = prog.input("w", sl.Tile(4, 3, "f32"), (3, 4))
    y = ops.Map([x, w], fn.Matmul(), compute_bw=8)
    prog.output("sum", ops.Accum(y, fn.Add(), fn.Zero((2, 3), "f32"), 1, compute_bw=4))
    prog.output("scan", ops.Scan(ops.Map(x, fn.SiLU(), compute_bw=16), fn.Max(),
                                 fn.Zero((2, 4), "f32"), 1))
    prog.output("rows", ops.FlatMap(x, fn.RetileStreamify()))
    prog.output("packed", ops.Accum(ops.FlatMap(x, fn.RetileStreamify()), fn.RetileRow(),
                                    fn.Empty((0, 4), "f32"), 1, write_back=True))
    def tiles(r: int, c: int) -> list:
        return [[RNG.standard_normal((r, c)).astype(np.float32) for _ in range(4)]
                for _ in range(3)]

    return prog, {"x": tiles(2, 4), "w": tiles(4, 3)}, {}


# -- shape operators ---------------------------------------------------------------------------
def prog_shape_ops():
    prog = sl.Program("shape")
    D0 = sl.dim("D0")
    x = prog.input("x", F32, (2, 2, D0), ragged=(D0,))
    prog.output("flat01", ops.Flatten(x, 0, 1))
    prog.output("flat12", ops.Flatten(x, 1, 2))
    data, pad = ops.Reshape(ops.Flatten(x, 0, 1), 0, 3, pad=fn.Zero((1, 4), "f32"))
    prog.output("reshape", data)
    prog.output("padding", pad)
    prog.output("promote", ops.Promote(x))
    y = prog.input("y", F32, (2, 1, 1))
    R = sl.dim("R")
    ref = prog.input("ref", sl.Bool, (2, R, 2), ragged=(R,))
    prog.output("expand", ops.Expand(y, ref, 2))
    prog.output("expand_static", ops.Expand(y, sizes=(2, 3)))
    prog.output("zip", ops.Zip(ops.Flatten(x, 0, 1), ops.Flatten(x, 0, 1)))
    prog.output("assumed", ops.Flatten(y, 0, 1).assume((2, 1)))
    xs = [[rows(2), rows(1)], [rows(1), rows(3)]]
    return prog, {"x": xs, "y": [[rows(1)], [rows(1)]],
                  "ref": [True, True, S(1), True, True, S(2), True, True, S(2), DONE]}, \
        {"D0": 2, "R": 2}


# -- the simplified MoE of §8.4 (every family at once) -----------------------------------------
def prog_moe(tiling="static"):
    prog = sl.Program(f"moe_{tiling}")
    X = prog.tensor("X", (10, 64), "bf16")
    weights = [prog.tensor(f"W{i}", (64, 256), "bf16") for i in range(2)]
    x = ops.Flatten(ops.LinearOffChipLoad(X, tile=(1, 64)), 1, 2)
    sel = prog.input("sel", sl.Selector(2), (10,))
    prog.set_fifo_depth(sel, 16)       # the selector also waits at Reassemble (see docs)
    parts = ops.Partition(x, sel, 2)
    outs = []
    for i in range(2):
        r = ops.Flatten(parts[i], 0, 1)
        if tiling == "static":
            d, m = ops.Reshape(r, 0, 4, pad=fn.Zero((1, 64), "bf16"))
            t = ops.Accum(d, fn.RetileRow(), fn.Empty((0, 64), "bf16"), 1)
            mk = ops.Accum(m, fn.RetileRow(), fn.Empty((0, 1), "bool"), 1)
        else:
            t = ops.Accum(ops.Promote(r), fn.RetileRow(), fn.Empty((0, 64), "bf16"), 1)
        w = ops.LinearOffChipLoad(weights[i], tile=(64, 64), ref=t, stride=(4, 1),
                                  tiled_out_shape=(1, 4))
        te = ops.Expand(ops.Reshape(t, 0, 1)[0], sizes=(4,))
        y = ops.Map([te, ops.Flatten(w, 0, 1)], fn.Matmul(), compute_bw=1024)
        yc = ops.Accum(y, fn.RetileCol(), fn.Empty((t.dtype.rows, 0), "bf16"), 1)
        outs.append(ops.FlatMap([yc, mk] if tiling == "static" else yc, fn.RetileStreamify()))
    out = ops.Reassemble(outs, sel).assume((10, 1))
    ops.LinearOffChipStore(out, prog.tensor("Y", (10, 256), "bf16", role="output"))
    route = [0, 1, 0, 0, 1, 0, 1, 0, 0, 1]
    counts = np.bincount(route, minlength=2)
    return prog, {"sel": route}, {"sel_x0": int(counts[0]), "sel_x1": int(counts[1])}


PROGRAMS = {"linear": prog_linear_load_store, "random": prog_random_load_store,
            "onchip": prog_bufferize_streamify, "route": prog_partition_reassemble,
            "merge": prog_eager_merge, "higher": prog_higher_order, "shape": prog_shape_ops,
            "moe_static": prog_moe, "moe_dynamic": lambda: prog_moe("dynamic")}


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_simulated_values_equal_the_reference_interpreter(name):
    prog, inputs, bindings = PROGRAMS[name]()
    run, sim = check_against_interpreter(prog, inputs=inputs, bindings=bindings)
    assert sim.cycles > 0


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_values_also_match_with_depth_one_fifos(name):
    prog, inputs, bindings = PROGRAMS[name]()
    check_against_interpreter(prog, inputs=inputs, bindings=bindings, hw=sl.hw.ATTENTION)


@pytest.mark.parametrize("name", list(PROGRAMS))
def test_offchip_bytes_equal_the_symbolic_metric(name):
    prog, inputs, bindings = PROGRAMS[name]()
    sim = sl.simulate(prog, inputs=inputs, bindings=bindings)
    m = sl.metrics(prog)
    values = {**bindings, **sim.measured}          # ragged dims at their measured mean
    assert sim.offchip_bytes == m.evaluate(values)["offchip_traffic"]


def test_on_chip_peak_is_the_paper_metric_at_the_measured_bindings():
    prog, inputs, bindings = prog_moe("dynamic")
    sim = sl.simulate(prog, inputs=inputs, bindings=bindings)
    assert sim.onchip_peak_bytes == sl.metrics(prog).evaluate(bindings)["onchip_memory"]
    static = sl.simulate(*prog_moe("static")[:1], inputs=inputs, bindings=bindings)
    assert static.onchip_peak_bytes == 60_680           # STEP.md §6.5


def test_partition_counts_are_measured_from_the_run():
    prog, inputs, bindings = prog_partition_reassemble()
    sim = sl.simulate(prog, inputs=inputs)
    assert {k: sim.measured[k] for k in ("sel_x0", "sel_x1", "sel_x2")} == \
        {"sel_x0": 2, "sel_x1": 3, "sel_x2": 2}
    assert sim.notes == []
    wrong = sl.simulate(prog, inputs=inputs, bindings={"sel_x1": 5})
    assert any("'sel_x1' is bound to 5 but the run measured 3" in n for n in wrong.notes)


def test_ragged_dims_are_measured_at_their_mean():
    prog, inputs, bindings = prog_linear_load_store()
    sim = sl.simulate(prog, inputs=inputs, bindings=bindings)
    assert sim.measured["R"] == Fraction(3, 2)


@pytest.mark.parametrize("name", ["moe_static", "moe_dynamic", "onchip", "higher"])
def test_timing_only_runs_give_identical_cycles_and_traces(name):
    prog, inputs, bindings = PROGRAMS[name]()
    inputs = {k: v for k, v in inputs.items() if k not in prog.tensors}
    full = sl.simulate(prog, inputs=inputs, bindings=bindings, trace=True)
    ghost = sl.simulate(prog, inputs=inputs, bindings=bindings, trace=True, values=False)
    assert ghost.cycles == full.cycles and ghost.trace == full.trace
    assert ghost.flops == full.flops and ghost.offchip_bytes == full.offchip_bytes
    assert ghost.arrays == {}


def test_order_free_outputs_are_those_after_merges():
    assert order_free_outputs(prog_eager_merge()[0]) == {"data", "which", "back"}
    assert order_free_outputs(prog_partition_reassemble()[0]) == {"gathered"}
    assert order_free_outputs(prog_moe()[0]) == {"Y"}


def test_eager_merge_serves_inputs_in_arrival_order():
    prog, inputs, _ = prog_eager_merge()
    sim = sl.simulate(prog, inputs=inputs)
    run = sl.interpret(prog, inputs=inputs)
    order = [next(iter(s)) for s in sim.values["which"]]
    assert sorted(order) == sorted(next(iter(s)) for s in run.values["which"])
    assert order[:3] == [1, 1, 1]        # the fast input's chunks arrive first
    assert [next(iter(s)) for s in run.values["which"]][:2] == [0, 1]   # untimed: cyclic


def test_timing_only_runs_never_materialise_tensor_data():
    import tracemalloc
    prog = sl.Program("huge")
    W = prog.tensor("W", (8192, 8192), "f32")                     # 256 MB as float32
    x = prog.input("x", sl.Tile(4, 8192, "f32"), (2,))
    w = ops.LinearOffChipLoad(W, tile=(8192, 1024), stride=(1,), tiled_out_shape=(8,),
                              ref=x)
    xe = ops.Expand(ops.Reshape(x, 0, 1)[0], sizes=(8,))
    prog.output("y", ops.Map([xe, w], fn.Matmul(), compute_bw=1 << 20))
    tiles = [np.zeros((4, 8192), np.float32)] * 2
    tracemalloc.start()
    r = sl.simulate(prog, inputs={"x": tiles}, values=False)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert r.flops == 2 * 8 * 2 * 4 * 8192 * 1024 and peak < 16 << 20
    assert r.offchip_bytes == 2 * 8 * 8192 * 1024 * 4


def test_timing_only_runs_serve_zero_stride_float_placeholders_as_ghosts():
    from step_lab.sim.ghost import Ghost
    prog = sl.Program("placeholder")
    W = prog.tensor("W", (64, 32), "f32")
    A = prog.tensor("A", (4, 1), "i64")
    prog.output("y", ops.Map(ops.LinearOffChipLoad(W, tile=(16, 32)), fn.Exp(), compute_bw=64))
    prog.output("a", ops.LinearOffChipLoad(A, tile=(1, 1)))
    inputs = {"W": np.broadcast_to(np.float32(0), (64, 32)),
              "A": np.broadcast_to(np.int64(3), (4, 1))}
    full = sl.simulate(prog, inputs=inputs)
    ghost = sl.simulate(prog, inputs=inputs, values=False)
    assert (ghost.cycles, ghost.flops, ghost.offchip_bytes) == \
        (full.cycles, full.flops, full.offchip_bytes)
    def data(result, name):
        return [t for t in result.tokens[name] if isinstance(t, np.ndarray)]
    assert len(data(ghost, "y")) == 4
    assert all(isinstance(t, Ghost) for t in data(ghost, "y"))   # no exp computed on zeros
    np.testing.assert_array_equal(data(full, "y")[0], np.ones((16, 32)))
    assert [int(t[0, 0]) for t in data(ghost, "a")] == [3] * 4    # integers stay real
