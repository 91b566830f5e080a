"""Off-chip memory operators (STEP.md §4.1): shapes, worked examples, values, traffic, errors."""
import numpy as np
import pytest

import step_lab as sl
from step_lab import ops
from step_lab.errors import BindingError, GraphError, ShapeError, StepError
from step_lab.ir.tokens import DONE, S, Stop
from step_lab.ops.offchip import _address, affine_tokens

R = sl.dim("R")


# -- helpers ---------------------------------------------------------------------------------
def at(expr, **values) -> int:
    return sl.symbolic.evaluate(expr, values)


def tiles_of(arr: np.ndarray, r: int, c: int) -> list:
    """Row-major tile list of a 2-D array (the reference for loads and stores)."""
    rows, cols = arr.shape
    return [arr[i:i + r, j:j + c] for i in range(0, rows, r) for j in range(0, cols, c)]


def labels(tokens, tiles, prefix="w") -> list:
    """Tokens with each tile replaced by ``w<i>``, i its index in ``tiles``."""
    out = []
    for t in tokens:
        if isinstance(t, np.ndarray):
            hits = [i for i, ref in enumerate(tiles) if np.array_equal(ref, t)]
            assert len(hits) == 1, "every tile must match exactly one reference tile"
            out.append(f"{prefix}{hits[0]}")
        else:
            out.append(t)
    return out


def fig2(ref_shape, ref_dtype=sl.Bool, ragged=()):
    """Paper Fig. 2: a 64x256 weight read as 64x64 tiles, stride (4,1), out (1,4), per ref."""
    prog = sl.Program("fig2")
    w = prog.tensor("W", (64, 256), "bf16")
    ref = prog.input("ref", ref_dtype, ref_shape, ragged=ragged)
    out = ops.LinearOffChipLoad(w, (64, 64), ref=ref, stride=(4, 1), tiled_out_shape=(1, 4))
    prog.output("w", out)
    arr = np.arange(64 * 256, dtype=np.float32).reshape(64, 256)
    return prog, out, arr


W4 = ["w0", "w1", "w2", "w3"]


# -- LinearOffChipLoad: typing ---------------------------------------------------------------------
def test_fig2_load_with_rank0_ref_has_shape_d1_1_4():
    d1 = sl.dim("D1")
    _, out, _ = fig2((d1,))
    assert out.dtype == sl.Tile(64, 64, "bf16")
    assert out.rank == 2
    assert [at(d, D1=5) for d in out.shape] == [5, 1, 4]


def test_static_load_prepends_a_single_read_dimension():
    prog = sl.Program()
    t = prog.tensor("W", (64, 256), "f32")
    out = ops.LinearOffChipLoad(t, (64, 64), stride=(4, 1), tiled_out_shape=(1, 4))
    assert out.shape == (1, 1, 4)


def test_default_load_reads_the_whole_tiled_tensor_once():
    prog = sl.Program()
    t = prog.tensor("T", (3, 8, 6), "f32")
    out = ops.LinearOffChipLoad(t, (2, 3))
    assert out.shape == (1, 3, 4, 2)
    assert out.node.stride == (8, 2, 1)


def test_only_tiled_out_shape_given_uses_row_major_strides():
    prog = sl.Program()
    t = prog.tensor("T", (8, 8), "f32")
    out = ops.LinearOffChipLoad(t, (2, 2), tiled_out_shape=(2, 3))
    assert out.node.stride == (3, 1)
    assert out.shape == (1, 2, 3)


def test_symbolic_tensor_rows_give_an_exact_quotient_dim():
    prog = sl.Program()
    t = prog.tensor("X", (sl.dim("B"), 256), "bf16")
    out = ops.LinearOffChipLoad(t, (4, 64))
    assert at(out.shape[1], B=12) == 3
    assert out.shape[0] == 1 and out.shape[2] == 4


def test_ref_may_be_any_dtype_and_its_ragged_dims_carry_over():
    d0 = sl.dim("D0")
    _, out, _ = fig2((2, d0), sl.Selector(4), ragged=(d0,))
    assert out.shape[:2] == (2, d0)
    assert out.ragged == frozenset({d0})


def test_ragged_symbols_declared_on_the_tensor_stay_ragged():
    prog = sl.Program()
    t = prog.tensor("K", (R, 64), "bf16", ragged=(R,))
    out = ops.LinearOffChipLoad(t, (1, 64))
    assert out.shape == (1, R, 1) and out.ragged == frozenset({R})


def test_symbolic_tiled_out_shape_is_evaluated_at_run_time():
    prog = sl.Program()
    t = prog.tensor("T", (2, 4), "f32")
    out = ops.LinearOffChipLoad(t, (2, 2), stride=(0, 1), tiled_out_shape=(sl.dim("N"), 1))
    prog.output("x", out)
    arr = np.arange(8, dtype=np.float32).reshape(2, 4)
    res = sl.interpret(prog, inputs={"T": arr}, bindings={"N": 3})
    assert at(out.shape[1], N=3) == 3
    assert labels(res.tokens["x"], tiles_of(arr, 2, 2)) == ["w0", S(1)] * 2 + ["w0", S(2), DONE]


def test_ref_may_be_a_buffer_stream():
    prog = sl.Program()
    x = prog.input("x", sl.Tile(1, 1, "f32"), (3, 2))
    bufs = ops.Bufferize(x, 1)
    t = prog.tensor("W", (4, 4), "f32")
    out = ops.LinearOffChipLoad(t, (2, 2), ref=bufs)
    assert out.shape == (3, 2, 2)


def test_load_node_is_an_offchip_memory_node_with_readable_description():
    _, out, _ = fig2((3,))
    node = out.node
    assert node.group == "memory" and node.is_offchip
    assert node.describe() == "W tile=[64,64] stride=(4, 1) out=(1, 4) per ref"
    assert node.element_bytes() == 64 * 64 * 2


# -- LinearOffChipLoad: tokens and values ----------------------------------------------------------
def test_fig2_tokens_with_rank0_ref_repeat_the_read_per_element():
    prog, out, arr = fig2((2,))
    res = sl.interpret(prog, inputs={"W": arr, "ref": [True, False]})
    assert labels(res.tokens["w"], tiles_of(arr, 64, 64)) == W4 + [S(2)] + W4 + [S(2), DONE]


def test_fig2_tokens_with_ref_2_r_follow_rule_m():
    prog, out, arr = fig2((2, R))
    ref = [True, True, S(1), True, S(1), DONE]
    res = sl.interpret(prog, inputs={"W": arr, "ref": ref}, bindings={"R": 2})
    assert [at(d, R=2) for d in out.shape] == [2, 2, 1, 4]
    assert labels(res.tokens["w"], tiles_of(arr, 64, 64)) == (
        W4 + [S(2)] + W4 + [S(3)] + W4 + [S(3), DONE])


def test_a_ref_stop_after_a_stop_is_emitted_on_its_own():
    prog, _, arr = fig2((2, R))
    ref = [S(1), True, S(1), DONE]               # an empty vector, then [r]
    res = sl.interpret(prog, inputs={"W": arr, "ref": ref}, bindings={"R": 1})
    assert labels(res.tokens["w"], tiles_of(arr, 64, 64)) == [S(3)] + W4 + [S(3), DONE]


def test_an_empty_ref_loads_nothing():
    prog, _, arr = fig2((0,))
    res = sl.interpret(prog, inputs={"W": arr, "ref": [DONE]})
    assert res.tokens["w"] == [DONE]
    assert res.offchip_bytes == 0


def test_loaded_tiles_equal_numpy_slices_of_the_input():
    prog = sl.Program()
    t = prog.tensor("T", (6, 8), "f32")
    prog.output("x", ops.LinearOffChipLoad(t, (2, 4)))
    arr = np.random.default_rng(0).standard_normal((6, 8)).astype(np.float32)
    res = sl.interpret(prog, inputs={"T": arr})
    (read,) = res.values["x"]
    expected = [[arr[i:i + 2, j:j + 4] for j in (0, 4)] for i in (0, 2, 4)]
    assert len(read) == 3 and all(len(row) == 2 for row in read)
    for got_row, exp_row in zip(read, expected, strict=True):
        for got, exp in zip(got_row, exp_row, strict=True):
            np.testing.assert_array_equal(got, exp)


def test_leading_tensor_dims_are_part_of_the_row_major_tile_array():
    prog = sl.Program()
    t = prog.tensor("T", (2, 4, 6), "f32")
    out = ops.LinearOffChipLoad(t, (2, 3))
    prog.output("x", out)
    arr = np.arange(48, dtype=np.float32).reshape(2, 4, 6)
    res = sl.interpret(prog, inputs={"T": arr})
    flat = [tok for tok in res.tokens["x"] if isinstance(tok, np.ndarray)]
    expected = [arr[b, i:i + 2, j:j + 3] for b in range(2) for i in (0, 2) for j in (0, 3)]
    assert len(flat) == 8
    for got, exp in zip(flat, expected, strict=True):
        np.testing.assert_array_equal(got, exp)
    assert res.tokens["x"][2] is S(1) and res.tokens["x"][5] is S(2)


def test_strided_read_transposes_the_tile_grid_and_stride_zero_repeats():
    prog = sl.Program()
    t = prog.tensor("T", (4, 8), "f32")
    prog.output("tr", ops.LinearOffChipLoad(t, (2, 2), stride=(1, 4), tiled_out_shape=(4, 2)))
    prog.output("rep", ops.LinearOffChipLoad(t, (2, 2), stride=(0, 1), tiled_out_shape=(3, 2)))
    arr = np.arange(32, dtype=np.float32).reshape(4, 8)
    res = sl.interpret(prog, inputs={"T": arr})
    tiles = tiles_of(arr, 2, 2)
    tr = [x for x in labels(res.tokens["tr"], tiles) if isinstance(x, str)]
    assert tr == ["w0", "w4", "w1", "w5", "w2", "w6", "w3", "w7"]
    rep = labels(res.tokens["rep"], tiles)
    assert rep == ["w0", "w1", S(1), "w0", "w1", S(1), "w0", "w1", S(2), DONE]


def test_affine_token_template_encodes_empty_and_rank0_reads():
    assert affine_tokens((2, 2), (2, 1)) == [0, 1, S(1), 2, 3, S(2)]
    assert affine_tokens((), ()) == [0]
    assert affine_tokens((0, 3), (3, 1)) == [S(2)]


def _affine_reference(out_shape, stride, base=0):
    """The template by its definition (§4.1): one level of the read at a time."""
    if not out_shape:
        return [base]
    body = []
    for i in range(out_shape[0]):
        body += _affine_reference(out_shape[1:], stride[1:], base + i * stride[0])
    if body and type(body[-1]) is Stop:
        body[-1] = Stop(len(out_shape))
    else:
        body.append(Stop(len(out_shape)))
    return body


def test_affine_token_template_equals_its_definition():
    rng = np.random.default_rng(3)
    cases = [((50_000,), (1,), 0), ((5,), (0,), 7), ((0,), (1,), 2), ((3, 0, 2), (4, 2, 1), 1)]
    for _ in range(300):
        k = int(rng.integers(1, 5))
        shape = tuple(int(x) for x in rng.integers(0, 4, k))
        stride = tuple(int(x) for x in rng.integers(0, 6, k))
        cases.append((shape, stride, int(rng.integers(0, 9))))
    for shape, stride, base in cases:
        assert affine_tokens(shape, stride, base) == _affine_reference(shape, stride, base), \
            (shape, stride, base)


def test_load_traffic_is_tiles_times_tile_bytes():
    prog, _, arr = fig2((3,))
    res = sl.interpret(prog, inputs={"W": arr, "ref": [1, 1, 1]})
    assert res.offchip_bytes == 3 * 4 * 64 * 64 * 2


def test_symbolic_tensor_load_runs_at_its_binding():
    prog = sl.Program()
    t = prog.tensor("X", (sl.dim("B"), 8), "f32")
    prog.output("x", ops.LinearOffChipLoad(t, (2, 8)))
    arr = np.arange(48, dtype=np.float32).reshape(6, 8)
    res = sl.interpret(prog, inputs={"X": arr}, bindings={"B": 6})
    got = [tok for tok in res.tokens["x"] if isinstance(tok, np.ndarray)]
    assert len(got) == 3 and np.array_equal(got[2], arr[4:6])
    assert res.offchip_bytes == 3 * 2 * 8 * 4


def test_symbolic_tensor_rows_not_divisible_at_the_binding_is_a_binding_error():
    prog = sl.Program()
    t = prog.tensor("X", (sl.dim("B"), 8), "f32")
    prog.output("x", ops.LinearOffChipLoad(t, (4, 8)))
    with pytest.raises(BindingError):
        sl.interpret(prog, inputs={"X": np.zeros((6, 8), np.float32)}, bindings={"B": 6})


def test_symbolic_read_beyond_the_tensor_fails_at_run_time():
    prog = sl.Program()
    t = prog.tensor("X", (sl.dim("B"), 8), "f32")
    prog.output("x", ops.LinearOffChipLoad(t, (1, 8), stride=(1,), tiled_out_shape=(4,)))
    with pytest.raises(StepError, match="reaches tile 3 .* 2 tiles"):
        sl.interpret(prog, inputs={"X": np.zeros((2, 8), np.float32)}, bindings={"B": 2})


# -- LinearOffChipLoad: errors ---------------------------------------------------------------------
def _tensor(shape=(64, 256), role="input", dtype="bf16"):
    return sl.Program().tensor("W", shape, dtype, role=role)


def test_stride_and_out_shape_of_different_lengths_are_rejected():
    with pytest.raises(ShapeError, match=r"LinearOffChipLoad: argument 'stride'.*equal lengths"):
        ops.LinearOffChipLoad(_tensor(), (64, 64), stride=(4, 1), tiled_out_shape=(4,))


def test_negative_stride_is_rejected():
    with pytest.raises(ShapeError, match=r"LinearOffChipLoad: argument 'stride'.*negative"):
        ops.LinearOffChipLoad(_tensor(), (64, 64), stride=(-1, 1), tiled_out_shape=(1, 4))


def test_tensor_of_rank_below_two_is_rejected():
    with pytest.raises(ShapeError, match=r"LinearOffChipLoad: argument 'tensor'.*rank 1"):
        ops.LinearOffChipLoad(_tensor((256,)), (1, 64))


@pytest.mark.parametrize("tile, what", [((48, 64), "rows"), ((64, 100), "cols")])
def test_static_dims_not_divisible_by_the_tile_are_rejected(tile, what):
    with pytest.raises(ShapeError, match=rf"LinearOffChipLoad: argument 'tile'.*{what}"):
        ops.LinearOffChipLoad(_tensor(), tile)


def test_read_beyond_the_last_tile_is_rejected():
    with pytest.raises(ShapeError, match=r"argument 'stride'.*largest accessed tile index is 4"):
        ops.LinearOffChipLoad(_tensor(), (64, 64), stride=(4, 1), tiled_out_shape=(2, 1))


@pytest.mark.parametrize("tile", [(0, 64), (64, 1.5), (64,), "64x64"])
def test_tile_dims_must_be_ints_of_at_least_one(tile):
    with pytest.raises(ShapeError, match=r"LinearOffChipLoad: argument 'tile'"):
        ops.LinearOffChipLoad(_tensor(), tile)


def test_load_needs_an_input_tensor():
    with pytest.raises(ShapeError, match=r"argument 'tensor'.*role 'output'.*expected role"):
        ops.LinearOffChipLoad(_tensor(role="output"), (64, 64))
    with pytest.raises(ShapeError, match=r"argument 'tensor'.*expected a Tensor"):
        ops.LinearOffChipLoad(np.zeros((64, 64)), (64, 64))


def test_load_ref_must_be_a_stream():
    with pytest.raises(ShapeError, match=r"LinearOffChipLoad: argument 'ref'"):
        ops.LinearOffChipLoad(_tensor(), (64, 64), ref=[1, 2])


# -- LinearOffChipStore ----------------------------------------------------------------------------
def _roundtrip_program(shape=(4, 6), tile=(2, 3)):
    prog = sl.Program()
    t = prog.tensor("T", shape, "f32")
    y = ops.LinearOffChipStore(ops.LinearOffChipLoad(t, tile), "y")
    return prog, y


def test_load_then_store_round_trip_equals_the_array():
    prog, y = _roundtrip_program()
    arr = np.arange(24, dtype=np.float32).reshape(4, 6)
    res = sl.interpret(prog, inputs={"T": arr})
    assert y.shape == (1, 4, 6) and y.role == "output" and prog.tensors["y"] is y
    np.testing.assert_array_equal(res.arrays["y"][0], arr)
    assert res.offchip_bytes == 2 * 24 * 4


def test_store_of_a_rank0_stream_stacks_the_tiles_as_rows():
    prog = sl.Program()
    x = prog.input("x", sl.Tile(1, 4, "f32"), (3,))
    y = ops.LinearOffChipStore(x, "y")
    assert y.shape == (3, 4)
    rows = np.arange(12, dtype=np.float32).reshape(3, 4)
    res = sl.interpret(prog, inputs={"x": [r.reshape(1, 4) for r in rows]})
    np.testing.assert_array_equal(res.arrays["y"], rows)


def test_store_into_a_declared_tensor_writes_tiles_in_row_major_tile_order():
    prog = sl.Program()
    x = prog.input("x", sl.Tile(2, 3, "f32"), (4,))
    out = prog.tensor("out", (4, 6), "f32", role="output")
    assert ops.LinearOffChipStore(x, out) is out
    arr = np.arange(24, dtype=np.float32).reshape(4, 6)
    res = sl.interpret(prog, inputs={"x": tiles_of(arr, 2, 3)})
    np.testing.assert_array_equal(res.arrays["out"], arr)


def test_store_drops_stop_tokens_of_a_ragged_stream():
    d0 = sl.dim("D0")
    prog = sl.Program()
    x = prog.input("x", sl.Tile(1, 2, "f32"), (2, d0), ragged=(d0,))
    y = ops.LinearOffChipStore(x, "y")
    assert y.shape[0] == 2 and at(y.shape[1], D0=3) == 6
    rows = [np.full((1, 2), v + 1, np.float32) for v in range(5)]
    res = sl.interpret(prog, inputs={"x": [rows[:3], rows[3:]]}, bindings={"D0": 3})
    expected = np.array([[1, 1, 2, 2, 3, 3], [4, 4, 5, 5, 0, 0]], np.float32)
    np.testing.assert_array_equal(res.arrays["y"], expected)


def test_store_into_a_tensor_of_unbound_shape_returns_the_written_tiles():
    prog = sl.Program()
    x = prog.input("x", sl.Tile(1, 2, "f32"), (3,))
    ops.LinearOffChipStore(x, prog.tensor("y", (sl.dim("N"), 2), "f32", role="output"))
    rows = [np.full((1, 2), v, np.float32) for v in range(3)]
    got = sl.interpret(prog, inputs={"x": rows}).arrays["y"]
    assert got.shape == (3, 1, 2)
    np.testing.assert_array_equal(got[:, 0, 0], np.arange(3))


def test_store_of_a_symbolic_stream_declares_a_symbolic_tensor():
    prog = sl.Program()
    b = sl.dim("B")
    x = prog.input("x", sl.Tile(2, 4, "bf16"), (b, 3))
    y = ops.LinearOffChipStore(x, "y")
    assert at(y.shape[0], B=5) == 10 and at(y.shape[1], B=5) == 12
    assert x.node.program.nodes[-1].element_bytes() == 16


def test_store_into_an_existing_output_tensor_by_name_reuses_it():
    prog = sl.Program()
    x = prog.input("x", sl.Tile(1, 4, "f32"), (2,))
    out = prog.tensor("y", (2, 4), "f32", role="output")
    assert ops.LinearOffChipStore(x, "y") is out


def test_store_node_describes_its_target():
    prog, y = _roundtrip_program()
    node = prog.nodes[-1]
    assert node.describe() == "-> y tile=[2,3]"
    assert node.group == "memory" and node.is_offchip and node.outputs == ()


def test_store_needs_a_static_tile_stream():
    prog = sl.Program()
    dyn = prog.input("d", sl.Tile(sl.dim("X"), 4, "f32"), (2,))
    flags = prog.input("f", sl.Bool, (2,))
    for bad in (dyn, flags):
        with pytest.raises(ShapeError, match=r"LinearOffChipStore: argument 'stream'.*static"):
            ops.LinearOffChipStore(bad, "y")


def test_a_second_store_into_the_same_tensor_is_a_graph_error():
    prog = sl.Program()
    x = prog.input("x", sl.Tile(1, 4, "f32"), (2,))
    y = ops.LinearOffChipStore(x, "y")
    with pytest.raises(GraphError, match=r"LinearOffChipStore: tensor 'y' is already written"):
        ops.LinearOffChipStore(x, y)


def test_store_rejects_input_tensors_mismatched_elements_and_tiles():
    prog = sl.Program()
    x = prog.input("x", sl.Tile(2, 4, "f32"), (2,))
    inp = prog.tensor("a", (4, 4), "f32")
    with pytest.raises(ShapeError, match=r"argument 'tensor'.*role 'input'"):
        ops.LinearOffChipStore(x, inp)
    with pytest.raises(ShapeError, match=r"argument 'tensor'.*element type bf16"):
        ops.LinearOffChipStore(x, prog.tensor("b", (4, 4), "bf16", role="output"))
    with pytest.raises(ShapeError, match=r"argument 'tile'.*3 rows"):
        ops.LinearOffChipStore(x, prog.tensor("c", (3, 4), "f32", role="output"))
    with pytest.raises(ShapeError, match=r"argument 'stream'.*2 tiles.*holds 1"):
        ops.LinearOffChipStore(x, prog.tensor("d", (2, 4), "f32", role="output"))


def test_store_overflowing_a_symbolic_tensor_fails_at_run_time():
    prog = sl.Program()
    x = prog.input("x", sl.Tile(1, 4, "f32"), (3,))
    ops.LinearOffChipStore(x, prog.tensor("y", (sl.dim("N"), 4), "f32", role="output"))
    with pytest.raises(StepError, match="more than 2 tiles.*'y'"):
        sl.interpret(prog, inputs={"x": [np.zeros((1, 4))] * 3}, bindings={"N": 2})


# -- RandomOffChipLoad -----------------------------------------------------------------------------
def _gather_program(addr_shape=(8,), ragged=()):
    prog = sl.Program()
    t = prog.tensor("T", (8, 8), "f32")
    addr = prog.input("a", sl.Addr, addr_shape, ragged=ragged)
    out = ops.RandomOffChipLoad(addr, t, (2, 4))
    prog.output("x", out)
    return prog, out


def test_random_load_of_a_permutation_gathers_the_tiles():
    prog, out = _gather_program()
    assert out.shape == (8,) and out.dtype == sl.Tile(2, 4, "f32")
    arr = np.arange(64, dtype=np.float32).reshape(8, 8)
    perm = [5, 2, 7, 0, 1, 6, 3, 4]
    res = sl.interpret(prog, inputs={"T": arr, "a": perm})
    tiles = tiles_of(arr, 2, 4)
    got = [t for t in res.tokens["x"] if isinstance(t, np.ndarray)]
    for g, p in zip(got, perm, strict=True):
        np.testing.assert_array_equal(g, tiles[p])
    assert res.offchip_bytes == 8 * 2 * 4 * 4


def test_random_load_copies_the_address_stream_tokens():
    d0 = sl.dim("D0")
    prog, out = _gather_program((2, d0), ragged=(d0,))
    assert out.shape == (2, d0) and out.ragged == frozenset({d0})
    arr = np.arange(64, dtype=np.float32).reshape(8, 8)
    res = sl.interpret(prog, inputs={"T": arr, "a": [[3], [1, 1]]}, bindings={"D0": 2})
    assert labels(res.tokens["x"], tiles_of(arr, 2, 4)) == ["w3", S(1), "w1", "w1", S(1), DONE]


def test_random_load_out_of_range_address_names_address_and_tile_count():
    prog, _ = _gather_program((1,))
    with pytest.raises(StepError, match=r"randomoffchipload0.*address 8 .* 8 tiles"):
        sl.interpret(prog, inputs={"a": [8]})


def test_address_values_may_be_ints_or_1x1_arrays():
    t = _tensor((64, 64))
    assert _address(3, 4, t) == 3
    assert _address(np.array([[2]], dtype=np.uint64), 4, t) == 2
    for bad in (1.0, np.zeros((1, 2), np.int64), True):
        with pytest.raises(StepError, match="'W'"):
            _address(bad, 4, t)
    with pytest.raises(StepError, match=r"address -1 .*'W' \(expected 0 <= address\)"):
        _address(-1, None, t)


def test_random_load_errors_name_the_argument():
    prog = sl.Program()
    t = prog.tensor("T", (8, 8), "f32")
    floats = prog.input("f", sl.Tile(1, 1, "f32"), (2,))
    addr = prog.input("a", sl.Addr, (2,))
    with pytest.raises(ShapeError, match=r"RandomOffChipLoad: argument 'raddr'.*address"):
        ops.RandomOffChipLoad(floats, t, (2, 2))
    with pytest.raises(ShapeError, match=r"RandomOffChipLoad: argument 'tile'.*8 rows"):
        ops.RandomOffChipLoad(addr, t, (3, 2))
    with pytest.raises(ShapeError, match=r"RandomOffChipLoad: argument 'tensor'.*role"):
        ops.RandomOffChipLoad(addr, prog.tensor("o", (8, 8), role="output"), (2, 2))
    assert ops.RandomOffChipLoad(addr, t, (2, 2)).node.describe() == "T tile=[2,2]"


# -- RandomOffChipStore ----------------------------------------------------------------------------
def _scatter_program(addr_shape=(4,), data_shape=(4,), ragged=()):
    prog = sl.Program()
    out = prog.tensor("out", (4, 6), "f32", role="output")
    addr = prog.input("a", sl.Addr, addr_shape, ragged=ragged)
    data = prog.input("d", sl.Tile(2, 3, "f32"), data_shape, ragged=ragged)
    ack = ops.RandomOffChipStore(addr, data, out)
    prog.output("ack", ack)
    return prog, ack


def test_random_store_scatter_equals_numpy_scatter():
    prog, ack = _scatter_program()
    src = np.arange(24, dtype=np.float32).reshape(4, 6) + 1
    perm = [2, 0, 3, 1]
    res = sl.interpret(prog, inputs={"a": perm, "d": tiles_of(src, 2, 3)})
    expected = np.zeros((2, 2, 2, 3), np.float32)   # (tile row, tile col, r, c)
    grid = src.reshape(2, 2, 2, 3).transpose(0, 2, 1, 3).reshape(4, 2, 3)
    expected.reshape(4, 2, 3)[perm] = grid
    np.testing.assert_array_equal(res.arrays["out"], expected.transpose(0, 2, 1, 3).reshape(4, 6))
    assert res.tokens["ack"] == [True] * 4 + [DONE]
    assert res.offchip_bytes == 4 * 2 * 3 * 4


def test_random_store_acks_follow_the_address_stream_shape():
    prog, ack = _scatter_program((2, 2), (4,))
    assert ack.shape == (2, 2) and ack.dtype == sl.Bool
    tiles = [np.full((2, 3), v, np.float32) for v in range(4)]
    res = sl.interpret(prog, inputs={"a": [[0, 1], [2, 3]], "d": tiles})
    assert res.tokens["ack"] == [True, True, S(1), True, True, S(1), DONE]


def test_random_store_with_unequal_static_cardinalities_is_rejected():
    with pytest.raises(ShapeError, match=r"RandomOffChipStore: argument 'wdata'.*3 tiles.*4"):
        _scatter_program((4,), (3,))


def test_random_store_input_ending_early_fails_at_run_time():
    n = sl.dim("N")
    tile = np.zeros((2, 3), np.float32)
    prog, _ = _scatter_program((n,), (n,), ragged=(n,))
    with pytest.raises(StepError, match="wdata ended after 1 tiles"):
        sl.interpret(prog, inputs={"a": [0, 1], "d": [tile]}, bindings={"N": 2})
    with pytest.raises(StepError, match="waddr ended after 1 addresses"):
        sl.interpret(prog, inputs={"a": [0], "d": [tile, tile]}, bindings={"N": 2})
    with pytest.raises(StepError, match="address 4 is out of range.*4 tiles"):
        sl.interpret(prog, inputs={"a": [4], "d": [tile]}, bindings={"N": 1})


def test_random_store_errors_name_the_argument():
    prog = sl.Program()
    out = prog.tensor("out", (4, 6), "f32", role="output")
    addr = prog.input("a", sl.Addr, (2,))
    data = prog.input("d", sl.Tile(2, 3, "f32"), (2,))
    dyn = prog.input("x", sl.Tile(sl.dim("X"), 3, "f32"), (2,))
    with pytest.raises(ShapeError, match=r"RandomOffChipStore: argument 'waddr'"):
        ops.RandomOffChipStore(data, data, out)
    with pytest.raises(ShapeError, match=r"RandomOffChipStore: argument 'wdata'.*static"):
        ops.RandomOffChipStore(addr, dyn, out)
    with pytest.raises(ShapeError, match=r"RandomOffChipStore: argument 'tensor'.*role"):
        ops.RandomOffChipStore(addr, data, prog.tensor("i", (4, 6), "f32"))
    ops.LinearOffChipStore(data, out)
    with pytest.raises(GraphError, match=r"RandomOffChipStore: tensor 'out' is already written"):
        ops.RandomOffChipStore(addr, data, out)


def test_random_store_node_reports_its_tile_bytes():
    prog, ack = _scatter_program()
    assert ack.node.element_bytes() == 2 * 3 * 4
    assert ack.node.is_offchip and ack.node.describe() == "-> out tile=[2,3]"


def test_stores_write_each_tile_into_the_tensor_as_it_arrives():
    """A store of a bound tensor copies each tile into the tensor's array (a later write to the
    same address wins) and keeps no tile; an unbound one keeps them for the end; a timing-only
    run keeps nothing (``OffChipMemory.writer``)."""
    import weakref

    from step_lab.interpret.memory import OffChipMemory
    prog = sl.Program()
    x = prog.input("x", sl.Tile(4, 2, "f32"), (3,))
    bound = prog.tensor("y", (4, 6), "f32", role="output")        # column tiles: a 4-D view
    ops.LinearOffChipStore(x, bound)
    unbound = prog.tensor("z", (sl.dim("N"), 2), "f32", role="output")
    ops.LinearOffChipStore(x, unbound)
    memory = OffChipMemory(prog, {}, {})
    write = memory.writer(bound, (4, 2))
    tiles = [np.full((4, 2), v, np.float32) for v in (1, 2, 3, 9)]
    alive = [weakref.ref(t) for t in tiles]
    for index, tile in zip((0, 1, 2, 1), tiles, strict=True):
        write(index, tile)
    del tiles, tile
    assert not any(ref() is not None for ref in alive) and not memory.written
    np.testing.assert_array_equal(memory.assembled(bound, (4, 2), 4),
                                  np.repeat([[1, 9, 3]], 2, axis=1).repeat(4, axis=0)
                                  .reshape(4, 6))
    memory.writer(unbound, (1, 2))(1, np.ones((1, 2), np.float32))
    assert list(memory.written["z"]) == [1]
    timing = OffChipMemory(prog, {}, {})
    timing.keep_writes = False
    timing.writer(bound, (4, 2))(0, np.ones((4, 2), np.float32))
    assert not timing.written and not timing.assembled(bound, (4, 2), 3).any()
