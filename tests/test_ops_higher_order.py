"""Map, Accum, Scan and FlatMap (STEP.md §4.4): typing, tokens, values, FLOPs and errors."""
import numpy as np
import pytest

import step_lab as sl
from step_lab import fn, ops
from step_lab.errors import ShapeError, StepError
from step_lab.interpret import Unchecked  # malformed streams reach the operators as is
from step_lab.ir.tokens import DONE, S
from step_lab.symbolic import evaluate

X, P, D0 = sl.dim("X"), sl.dim("P"), sl.dim("D0")
F32 = sl.Tile(1, 1, "f32")
RNG = np.random.default_rng(1)


def num(v):
    return np.full((1, 1), v, np.float32)


def rand(r, c):
    return RNG.standard_normal((r, c)).astype(np.float32)


def show(tokens):
    """Tokens with 1x1 tiles shown as numbers, stops as 'S<k>', Done as 'Done'."""
    out = []
    for t in tokens:
        if t is DONE or type(t) is type(S(1)):
            out.append(repr(t))
        elif isinstance(t, np.ndarray) and t.size == 1:
            out.append(float(t.reshape(-1)[0]))
        else:
            out.append(t)
    return out


def at(expr, **values):
    return evaluate(expr, values)


def run(prog, stream, inputs, **kw):
    return sl.interpret(prog, inputs=inputs, **kw).stream_tokens[stream]


def scalars(prog, shape, values, name="x", ragged=()):
    """An input stream of 1x1 f32 tiles with the given nested values."""
    s = prog.input(name, F32, shape, ragged=ragged)
    return s, {name: _nest(values)}


def _nest(v):
    return [_nest(x) for x in v] if isinstance(v, list) else num(v)


# ------------------------------------------------------------------- Map
def test_map_keeps_shape_and_ragged_dims_and_copies_tokens():
    prog = sl.Program()
    x, inputs = scalars(prog, (2, 2, D0), [[[1, 2], [3]], [[4], [5, 6, 7]]], ragged={D0})
    y = ops.Map(x, fn.Exp())
    assert y.shape == (2, 2, D0) and y.ragged == {D0} and y.dtype == F32
    got = show(run(prog, y, inputs, bindings={"D0": 0}))
    e = [float(np.float32(np.exp(np.float32(v)))) for v in range(1, 8)]
    assert got == [e[0], e[1], "S1", e[2], "S2", e[3], "S1", e[4], e[5], e[6], "S2", "Done"]


def test_map_matmul_over_a_tuple_stream_equals_numpy_and_types_dynamic_tiles():
    prog = sl.Program()
    xy = prog.input("xy", sl.Tuple((sl.Tile(X, 64, "f32"), sl.Tile(64, 32, "f32"))), (3,))
    y = ops.Map(xy, fn.Matmul(), compute_bw=1024)
    assert at(y.dtype.rows, X=4) == 4 and y.dtype.cols == 32
    pairs = [(rand(4, 64), rand(64, 32)) for _ in range(3)]
    r = sl.interpret(prog, inputs={"xy": pairs}, bindings={"X": 4})
    for got, (a, w) in zip(r.stream_tokens[y][:-1], pairs, strict=True):
        np.testing.assert_allclose(got, a @ w, rtol=1e-5)
    assert r.flops == 3 * 2 * 4 * 64 * 32
    assert y.node.params == {"fn": fn.Matmul(), "compute_bw": 1024, "write_back": False}


def test_map_elementwise_chain_of_the_swiglu_body_equals_numpy():
    prog = sl.Program()
    gu = prog.input("gu", sl.Tuple((sl.Tile(4, 8, "f32"), sl.Tile(4, 8, "f32"))), (2,))
    g = ops.Map(gu, fn.Identity())
    h = ops.Map(g, fn.Mul())
    pairs = [(rand(4, 8), rand(4, 8)) for _ in range(2)]
    toks = run(prog, h, {"gu": pairs})
    for got, (a, b) in zip(toks[:-1], pairs, strict=True):
        np.testing.assert_allclose(got, a * b, rtol=1e-6)


def test_map_over_a_list_of_streams_zips_them():
    prog = sl.Program()
    a = prog.input("a", sl.Tile(2, 3, "f32"), (2,))
    b = prog.input("b", sl.Tile(2, 3, "f32"), (2,))
    y = ops.Map([a, b], fn.Add())
    assert y.shape == (2,) and y.dtype == sl.Tile(2, 3, "f32")
    va, vb = [rand(2, 3), rand(2, 3)], [rand(2, 3), rand(2, 3)]
    toks = run(prog, y, {"a": va, "b": vb})
    for got, p, q in zip(toks[:-1], va, vb, strict=True):
        np.testing.assert_allclose(got, p + q, rtol=1e-6)


def test_map_accepts_a_function_class_without_arguments():
    prog = sl.Program()
    x = prog.input("x", sl.Tile(2, 2, "f32"), (1,))
    assert ops.Map(x, fn.SiLU).node.params["fn"] == fn.SiLU()
    assert ops.Map([x], fn.Exp).node.inputs == (x,)


def test_map_errors_name_the_operator_and_argument():
    prog = sl.Program()
    x = prog.input("x", sl.Tile(4, 64), (2,))
    buf = prog.input("buf", sl.Buffer(sl.Tile(4, 64), (3,)), (2,))
    pair = prog.input("pair", sl.Tuple((sl.Tile(4, 64), sl.Tile(32, 64))), (2,))
    with pytest.raises(ShapeError, match=r"Map: argument 'in' .*Buffer.*non-buffer"):
        ops.Map(buf, fn.Identity())
    with pytest.raises(ShapeError, match=r"Map: argument 'fn' = Matmul .*inner dims differ"):
        ops.Map(pair, fn.Matmul())
    with pytest.raises(ShapeError, match=r"Map: argument 'fn' = RetileRow .*MapFunction"):
        ops.Map(x, fn.RetileRow())
    with pytest.raises(ShapeError, match=r"Map: argument 'fn' = Scale .*an instance"):
        ops.Map(x, fn.Scale)
    with pytest.raises(ShapeError, match=r"Map: argument 'in' is ndarray"):
        ops.Map(np.zeros(3), fn.Exp())
    with pytest.raises(ShapeError, match=r"Map: argument 'in' .*non-empty list"):
        ops.Map([], fn.Exp())
    for bad in (0, -5, float("inf"), True, "fast"):
        with pytest.raises(ShapeError, match="Map: argument 'compute_bw'"):
            ops.Map(x, fn.Exp(), compute_bw=bad)
    with pytest.raises(ShapeError, match="Map: argument 'write_back'"):
        ops.Map(x, fn.Exp(), write_back=1)


def test_map_reports_a_runtime_function_failure_with_the_node_name():
    prog = sl.Program()
    xy = prog.input("xy", sl.Tuple((sl.Tile(2, X, "f32"), sl.Tile(X, 2, "f32"))), (1,))
    ops.Map(xy, fn.Matmul(), name="mm")
    with pytest.raises(StepError, match="'mm'.*inner dims differ at run time"):
        sl.interpret(prog, inputs={"xy": [(rand(2, 3), rand(4, 2))]}, bindings={"X": 3})


# ------------------------------------------------------------------- Accum
def test_accum_add_rank_1_matches_the_spec_example():
    prog = sl.Program()
    x, inputs = scalars(prog, (1, 2, 3), [[[1, 2, 3], [4, 5, 6]]])
    y = ops.Accum(x, fn.Add(), fn.Zero((1, 1)), 1)
    assert y.shape == (1, 2)
    assert show(run(prog, y, inputs)) == [6.0, 15.0, "S1", "Done"]


def test_accum_add_rank_2_matches_the_spec_example():
    prog = sl.Program()
    x, inputs = scalars(prog, (1, 2, 3), [[[1, 2, 3], [4, 5, 6]]])
    y = ops.Accum(x, fn.Add(), fn.Zero((1, 1)), 2)
    assert y.shape == (1,)
    assert show(run(prog, y, inputs)) == [21.0, "Done"]


def test_accum_empty_groups_emit_init():
    prog = sl.Program()
    x = prog.input("x", F32, (1, 3, D0), ragged={D0})
    y = ops.Accum(x, fn.Add(), fn.Zero((1, 1)), 1)
    toks = [num(1), S(1), S(1), num(2), num(3), S(2), DONE]   # [[1], [], [2, 3]]
    assert show(run(prog, y, {"x": toks}, bindings={"D0": 0})) == [1.0, 0.0, 5.0, "S1", "Done"]


def test_accum_absorbs_lower_tokens_and_lowers_higher_ones():
    prog = sl.Program()
    x, inputs = scalars(prog, (2, 2, 2, 1), [[[[1], [2]], [[3], [4]]], [[[5], [6]], [[7], [8]]]])
    y = ops.Accum(x, fn.Add(), fn.Zero((1, 1)), 2)
    assert y.shape == (2, 2)
    assert show(run(prog, y, inputs)) == [3.0, 7.0, "S1", 11.0, 15.0, "S1", "Done"]


def test_accum_retile_row_packs_static_groups_exactly():
    prog = sl.Program()
    x = prog.input("x", sl.Tile(1, 64, "bf16"), (3, 4))
    t = ops.Accum(x, fn.RetileRow(), fn.Empty((0, 64)), 1, compute_bw=1024)
    assert t.shape == (3,) and t.dtype == sl.Tile(4, 64, "bf16")
    rows = [[rand(1, 64) for _ in range(4)] for _ in range(3)]
    r = sl.interpret(prog, inputs={"x": rows})
    for got, group in zip(r.stream_tokens[t][:-1], rows, strict=True):
        np.testing.assert_array_equal(got, np.vstack(group))
    assert r.flops == 0


def test_accum_retile_row_over_a_symbolic_count_gives_a_dynamic_tile():
    prog = sl.Program()
    x = prog.input("x", sl.Tile(1, 64), (P, X))
    t = ops.Accum(x, fn.RetileRow(), fn.Empty((0, 64)), 1)
    assert t.shape == (P,) and at(t.dtype.rows, X=6) == 6 and t.dtype.cols == 64
    rows = [[rand(1, 64) for _ in range(5)]]
    got = run(prog, t, {"x": rows}, bindings={"X": 5, "P": 1})
    np.testing.assert_array_equal(got[0], np.vstack(rows[0]))


def test_accum_over_two_reduced_dims_multiplies_them():
    prog = sl.Program()
    x = prog.input("x", sl.Tile(2, 8), (3, X, 4))
    t = ops.Accum(x, fn.RetileRow(), fn.Empty((0, 8)), 2)
    assert t.shape == (3,) and at(t.dtype.rows, X=5) == 2 * 5 * 4


def test_accum_over_a_ragged_dim_keeps_a_single_symbol_and_freshens_products():
    prog = sl.Program()
    x = prog.input("x", sl.Tile(1, 64), (2, 3, D0), ragged={D0})
    one = ops.Accum(x, fn.RetileRow(), fn.Empty((0, 64)), 1)
    assert one.dtype.rows == D0 and one.shape == (2, 3)
    two = ops.Accum(x, fn.RetileRow(), fn.Empty((0, 64)), 2)
    assert two.dtype.rows == sl.dim("x_n2") and two.shape == (2,)
    again = ops.Accum(x, fn.RetileRow(), fn.Empty((0, 64)), 2)
    assert again.dtype == two.dtype          # deterministic fresh symbol


def test_accum_mask_packing_of_bool_padding_flags():
    prog = sl.Program()
    m = prog.input("m", sl.Bool, (2, 4))
    mk = ops.Accum(m, fn.RetileRow(), fn.Empty((0, 1)), 1)
    assert mk.dtype == sl.Tile(4, 1, "bool")
    got = run(prog, mk, {"m": [[False] * 4, [False, False, True, True]]})
    np.testing.assert_array_equal(got[1], [[False], [False], [True], [True]])


def test_accum_matmul_accumulate_equals_numpy_and_counts_flops():
    prog = sl.Program()
    xw = prog.input("xw", sl.Tuple((sl.Tile(X, 16, "f32"), sl.Tile(16, 8, "f32"))), (2, 3))
    y = ops.Accum(xw, fn.MatmulAccumulate(), fn.Zero((1, 1)), 1, compute_bw=64)
    assert y.shape == (2,) and at(y.dtype.rows, X=4) == 4 and y.dtype.cols == 8
    groups = [[(rand(4, 16), rand(16, 8)) for _ in range(3)] for _ in range(2)]
    r = sl.interpret(prog, inputs={"xw": groups}, bindings={"X": 4})
    for got, g in zip(r.stream_tokens[y][:-1], groups, strict=True):
        np.testing.assert_allclose(got, sum(a @ w for a, w in g), rtol=1e-4, atol=1e-4)
    expected = evaluate(xw.type.cardinality * fn.MatmulAccumulate().flops_of_type(xw.dtype),
                        {"X": 4})
    assert r.flops == expected == 6 * 2 * 4 * 16 * 8


def test_accum_errors_name_the_operator_and_argument():
    prog = sl.Program()
    x = prog.input("x", sl.Tile(1, 64), (2, 4))
    buf = prog.input("buf", sl.Buffer(sl.Tile(4, 64), (3,)), (2, 2))
    for bad in (0, 2, -1, 1.0):
        with pytest.raises(ShapeError, match="Accum: argument 'rank'"):
            ops.Accum(x, fn.Add(), fn.Zero((1, 1)), bad)
    with pytest.raises(ShapeError, match="Accum: argument 'in' .*non-buffer"):
        ops.Accum(buf, fn.Add(), fn.Zero((1, 1)), 1)
    with pytest.raises(ShapeError, match=r"Accum: argument 'update' = RetileRow .*columns differ"):
        ops.Accum(x, fn.RetileRow(), fn.Empty((0, 32)), 1)
    with pytest.raises(ShapeError, match="Accum: argument 'update' = Exp .*UpdateFunction"):
        ops.Accum(x, fn.Exp(), fn.Zero((1, 1)), 1)
    with pytest.raises(ShapeError, match="Accum: argument 'init' .*InitFunction"):
        ops.Accum(x, fn.Add(), fn.Add(), 1)
    with pytest.raises(ShapeError, match="Accum: argument 'compute_bw'"):
        ops.Accum(x, fn.Add(), fn.Zero((1, 1)), 1, compute_bw=0)


def test_accum_rejects_an_input_ending_inside_a_group():
    prog = sl.Program()
    x = prog.input("x", F32, (1, 2))
    ops.Accum(x, fn.Add(), fn.Zero((1, 1)), 1, name="acc")
    with pytest.raises(StepError, match="'acc'.*ended inside a rank-1 group"):
        sl.interpret(prog, inputs={"x": Unchecked([num(1), DONE])})
    with pytest.raises(StepError, match="input 'x'.*expected S1"):   # checked inputs: E3
        sl.interpret(prog, inputs={"x": [num(1), DONE]})


# ------------------------------------------------------------------- Scan
def test_scan_matches_the_spec_example():
    prog = sl.Program()
    x, inputs = scalars(prog, (1, 3), [[1, 2, 4]])
    y = ops.Scan(x, fn.Add(), fn.Zero((1, 1)), 1)
    assert y.shape == (1, 3) and y.dtype == F32
    assert show(run(prog, y, inputs)) == [1.0, 3.0, 7.0, "S1", "Done"]


def test_scan_resets_after_tokens_of_its_rank_only():
    prog = sl.Program()
    x, inputs = scalars(prog, (1, 2, 2), [[[1, 2], [3, 4]]])
    y1 = ops.Scan(x, fn.Add(), fn.Zero((1, 1)), 1)
    y2 = ops.Scan(x, fn.Add(), fn.Zero((1, 1)), 2)
    r = sl.interpret(prog, inputs=inputs)
    assert show(r.stream_tokens[y1]) == [1.0, 3.0, "S1", 3.0, 7.0, "S2", "Done"]
    assert show(r.stream_tokens[y2]) == [1.0, 3.0, "S1", 6.0, 10.0, "S2", "Done"]
    assert r.flops == 8


def test_scan_max_is_a_running_maximum_with_dynamic_shape():
    prog = sl.Program()
    x = prog.input("x", sl.Tile(2, 2, "f32"), (P, X), ragged=())
    y = ops.Scan(x, fn.Max(), fn.Zero((2, 2)), 1)
    assert y.shape == (P, X)
    vals = [rand(2, 2) for _ in range(4)]
    got = run(prog, y, {"x": [vals]}, bindings={"P": 1, "X": 4})
    np.testing.assert_allclose(got[3], np.maximum.reduce([np.zeros((2, 2))] + vals))


def test_scan_errors():
    prog = sl.Program()
    x = prog.input("x", sl.Tile(1, 64), (2, 4))
    with pytest.raises(ShapeError, match="Scan: argument 'update' = RetileRow .*used in Scan"):
        ops.Scan(x, fn.RetileRow(), fn.Empty((0, 64)), 1)
    with pytest.raises(ShapeError, match="Scan: argument 'rank'"):
        ops.Scan(x, fn.Add(), fn.Zero((1, 1)), 3)
    with pytest.raises(ShapeError, match="Scan: argument 'write_back'"):
        ops.Scan(x, fn.Add(), fn.Zero((1, 1)), 1, write_back="no")


# ------------------------------------------------------------------- FlatMap
def test_flatmap_rank_0_matches_the_spec_example():
    prog = sl.Program()
    x = prog.input("x", sl.Tile(2, 3, "f32"), (2,))
    y = ops.FlatMap(x, fn.RetileStreamify())
    assert y.shape == (4,) and y.dtype == sl.Tile(1, 3, "f32") and y.rank == 0
    t1, t2 = rand(2, 3), rand(2, 3)
    toks = run(prog, y, {"x": [t1, t2]})
    assert len(toks) == 5 and toks[-1] is DONE
    np.testing.assert_array_equal(np.vstack(toks[:4]), np.vstack([t1, t2]))


def test_flatmap_rank_1_matches_the_spec_example():
    prog = sl.Program()
    x = prog.input("x", sl.Tile(2, 1, "f32"), (2, 1))
    y = ops.FlatMap(x, fn.RetileStreamify(rank=1))
    assert y.shape == (2, 1, 2) and y.rank == 2
    toks = run(prog, y, {"x": [[np.array([[1.0], [2.0]])], [np.array([[3.0], [4.0]])]]})
    assert show(toks) == [1.0, 2.0, "S2", 3.0, 4.0, "S2", "Done"]


def test_flatmap_maps_input_stops_up_by_b_with_rule_m():
    prog = sl.Program()
    x = prog.input("x", sl.Tile(1, 1, "f32"), (1, 2, 2))
    y = ops.FlatMap(x, fn.RetileStreamify(rank=1))
    assert y.shape == (1, 2, 2, 1)
    toks = [num(1), num(2), S(1), num(3), num(4), S(2), DONE]
    assert show(run(prog, y, {"x": toks})) == [1.0, "S1", 2.0, "S2", 3.0, "S1",
                                                4.0, "S3", "Done"]


def test_flatmap_empty_results_and_empty_vectors_keep_their_stops():
    prog = sl.Program()
    xm = prog.input("xm", sl.Tuple((sl.Tile(2, 1, "f32"), sl.Tile(2, 1, "bool"))), (3, D0),
                    ragged={D0})
    y = ops.FlatMap(xm, fn.RetileStreamify())
    pad = np.array([[True], [True]])
    keep1 = np.array([[False], [True]])
    toks = [(np.array([[1.0], [2.0]]), keep1), S(1), S(1), (np.array([[3.0], [4.0]]), pad),
            S(1), DONE]
    assert show(run(prog, y, {"xm": toks}, bindings={"D0": 0})) == [1.0, "S1", "S1", "S1",
                                                                      "Done"]


def test_flatmap_with_a_mask_gives_a_fresh_regular_outer_dim_and_drops_padding():
    prog = sl.Program()
    xm = prog.input("yc", sl.Tuple((sl.Tile(4, 8, "f32"), sl.Tile(4, 1, "bool"))), (X,))
    rows = ops.FlatMap(xm, fn.RetileStreamify())
    assert rows.shape == (sl.dim("yc_fm"),) and rows.ragged == frozenset()
    t = rand(4, 8)
    mask = np.array([[False], [False], [False], [True]])
    toks = run(prog, rows, {"yc": [(t, mask)]}, bindings={"X": 1})
    np.testing.assert_array_equal(np.vstack(toks[:-1]), t[:3])


def test_flatmap_inner_fresh_dims_are_ragged_and_deterministic():
    prog = sl.Program()
    xm = prog.input("m", sl.Tuple((sl.Tile(4, 8), sl.Tile(4, 1, "bool"))), (2, 3))
    y = ops.FlatMap(xm, fn.RetileStreamify())
    assert y.shape == (2, sl.dim("m_fm")) and y.ragged == {sl.dim("m_fm")}
    z = prog.input("z", sl.Tile(2, 8), (2, D0), ragged={D0})
    w = ops.FlatMap(z, fn.RetileStreamify())
    assert w.shape == (2, sl.dim("z_fm")) and w.ragged == {sl.dim("z_fm")}
    v = ops.FlatMap(xm, fn.RetileStreamify(rank=1))      # E_1 = 1, E_0 data-dependent
    assert v.shape == (2, 3, sl.dim("m_fm0")) and v.ragged == {sl.dim("m_fm0")}


def test_flatmap_of_dynamic_tiles_multiplies_the_dims():
    prog = sl.Program()
    yc = prog.input("yc", sl.Tile(X, 256), (P,))
    rows = ops.FlatMap(yc, fn.RetileStreamify())
    assert at(rows.shape[0], P=1, X=7) == 7 and rows.ragged == frozenset()
    z = prog.input("z", sl.Tile(1, 8), (2, D0), ragged={D0})
    same = ops.FlatMap(z, fn.RetileStreamify())          # E_b = 1: D_0 kept
    assert same.shape == (2, D0) and same.ragged == {D0}


def test_flatmap_address_generation_with_data_dependent_counts():
    prog = sl.Program()
    req = prog.input("req", sl.Tuple((sl.Addr, sl.Addr)), (3,))
    addrs = ops.FlatMap(req, fn.TileAddresses(rank=1))
    assert addrs.shape == (3, sl.dim("req_fm0")) and addrs.ragged == {sl.dim("req_fm0")}
    a = lambda v: np.array([[v]], np.uint64)  # noqa: E731
    toks = run(prog, addrs, {"req": [(a(0), a(2)), (a(10), a(0)), (a(20), a(1))]})
    assert show(toks) == [0.0, 1.0, "S1", "S1", 20.0, "S1", "Done"]


def test_flatmap_errors():
    prog = sl.Program()
    x = prog.input("x", sl.Tile(4, 8), (2,))
    buf = prog.input("buf", sl.Buffer(sl.Tile(4, 8), (3,)), (2,))
    with pytest.raises(ShapeError, match="FlatMap: argument 'in' .*non-buffer"):
        ops.FlatMap(buf, fn.RetileStreamify())
    with pytest.raises(ShapeError, match="FlatMap: argument 'fn' = Exp .*FlatMapFunction"):
        ops.FlatMap(x, fn.Exp())
    with pytest.raises(ShapeError, match=r"FlatMap: argument 'fn' = TileAddresses\(count=2\)"):
        ops.FlatMap(x, fn.TileAddresses(count=2))
    with pytest.raises(ShapeError, match="FlatMap: argument 'compute_bw'"):
        ops.FlatMap(x, fn.RetileStreamify(), compute_bw=-1)


# ------------------------------------------------------------------- FLOPs and params
def test_interpreted_flops_equal_cardinality_times_flops_of_type():
    prog = sl.Program()
    x = prog.input("x", sl.Tile(X, 8, "f32"), (2, 3))
    maps = [ops.Map(x, f) for f in (fn.Exp(), fn.SiLU(), fn.RowSum(), fn.Scale(2.0))]
    acc = ops.Accum(x, fn.Add(), fn.Zero((1, 1)), 1)
    scan = ops.Scan(x, fn.Mul(), fn.Zero((1, 1)), 1)
    flat = ops.FlatMap(x, fn.RetileStreamify())
    vals = [[rand(5, 8) for _ in range(3)] for _ in range(2)]
    r = sl.interpret(prog, inputs={"x": vals}, bindings={"X": 5})
    for node in [s.node for s in maps + [acc, scan, flat]]:
        f, stream = node.params["fn"], node.inputs[0]
        symbolic = stream.type.cardinality * f.flops_of_type(stream.dtype)
        assert r.flops_by_node.get(node.name, 0) == evaluate(symbolic, {"X": 5}), node.name
    assert r.flops_by_node[maps[1].node.name] == 6 * 5 * 8 * 8


def test_nodes_are_in_the_higher_order_group_and_describe_their_parameters():
    prog = sl.Program()
    x = prog.input("x", sl.Tile(1, 64), (2, 4))
    t = ops.Accum(x, fn.RetileRow(), fn.Empty((0, 64)), 1, compute_bw=512, write_back=True)
    assert t.node.group == "higher-order"
    assert t.node.params == {"fn": fn.RetileRow(), "init": fn.Empty((0, 64)), "rank": 1,
                             "compute_bw": 512, "write_back": True}
    assert t.node.describe() == ("fn=RetileRow, init=Empty((0, 64)), rank=1, compute_bw=512, "
                                 "write_back=True")
    f = ops.FlatMap(ops.Map(t, fn.Identity()), fn.RetileStreamify())
    assert f.node.params["b"] == 0 and f.node.params["compute_bw"] is None


# ------------------------------------------------------------------- the expert of STEP.md §8.4
def _expert(dynamic: bool):
    """One expert of §8.4 (rows -> packed tiles -> matmul with [64,256] weights -> rows)."""
    prog = sl.Program("expert")
    d_i = sl.dim("D")
    r = prog.input("r", sl.Tile(1, 64, "f32"), (d_i,))
    weights = prog.tensor("W", (64, 256), "f32")
    if dynamic:
        t, mk = ops.Accum(ops.Promote(r), fn.RetileRow(), fn.Empty((0, 64)), 1), None
    else:
        d, m = ops.Reshape(r, 0, 4, pad=fn.Zero((1, 64)))
        t = ops.Accum(d, fn.RetileRow(), fn.Empty((0, 64)), 1)
        mk = ops.Accum(m, fn.RetileRow(), fn.Empty((0, 1)), 1)
    w = ops.LinearOffChipLoad(weights, tile=(64, 64), ref=t, stride=(4, 1),
                              tiled_out_shape=(1, 4))
    te = ops.Expand(ops.Reshape(t, 0, 1)[0], sizes=(4,))
    y = ops.Map([te, ops.Flatten(w, 0, 1)], fn.Matmul(), compute_bw=1024)
    yc = ops.Accum(y, fn.RetileCol(), fn.Empty((t.dtype.rows, 0)), 1)
    rows = ops.FlatMap(yc if mk is None else [yc, mk], fn.RetileStreamify())
    return prog, t, yc, rows


@pytest.mark.parametrize("dynamic", [False, True])
def test_the_expert_of_section_8_4_computes_x_at_w_with_static_and_dynamic_tiling(dynamic):
    prog, t, yc, rows = _expert(dynamic)
    packed = sl.dim("D") if dynamic else 4
    assert t.dtype == sl.Tile(packed, 64, "f32") and yc.dtype == sl.Tile(packed, 256, "f32")
    xs, wv = rand(6, 64), rand(64, 256)
    r = sl.interpret(prog, inputs={"r": [x[None] for x in xs], "W": wv}, bindings={"D": 6})
    got = np.vstack(r.stream_tokens[rows][:-1])
    np.testing.assert_allclose(got, xs @ wv, rtol=1e-4, atol=1e-4)
    padded_rows = 6 if dynamic else 8
    assert r.flops == 2 * padded_rows * 64 * 256
    if dynamic:
        assert at(rows.shape[0], D=6) == 6
