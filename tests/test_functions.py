"""The function library sl.fn (STEP.md §4.4 function library, FLOPs §7.2)."""
import numpy as np
import pytest

import step_lab as sl
from step_lab import fn
from step_lab.errors import ShapeError, StepError
from step_lab.ir.ghost import Ghost, GhostCalls, ghost
from step_lab.ir.tokens import S
from step_lab.symbolic import evaluate

X, Y = sl.dim("X"), sl.dim("Y")
RNG = np.random.default_rng(0)


def tile(r, c, elem="bf16"):
    return sl.Tile(r, c, elem)


def rand(r, c):
    return RNG.standard_normal((r, c)).astype(np.float32)


def at(expr, **values):
    return evaluate(expr, values)


# ------------------------------------------------------------------- contract and value semantics
def test_every_exported_name_is_a_function_class_of_exactly_the_documented_kinds():
    kinds = (fn.MapFunction, fn.UpdateFunction, fn.InitFunction, fn.FlatMapFunction)
    for name in fn.__all__:
        obj = getattr(fn, name)
        assert issubclass(obj, fn.Function)
        if name not in ("Function",) + tuple(k.__name__ for k in kinds):
            assert any(issubclass(obj, k) for k in kinds), name
    assert issubclass(fn.Add, fn.MapFunction) and issubclass(fn.Add, fn.UpdateFunction)
    assert not issubclass(fn.Matmul, fn.UpdateFunction)
    assert not issubclass(fn.MatmulAccumulate, fn.MapFunction)


def test_functions_compare_and_hash_by_their_parameters():
    assert fn.Matmul() == fn.Matmul() and hash(fn.Matmul()) == hash(fn.Matmul())
    assert fn.Matmul() != fn.Matmul(transpose_weight=True)
    assert fn.Add() != fn.Mul()
    assert fn.Empty((0, 64)) == fn.Empty((0, 64)) != fn.Empty((0, 32))
    assert len({fn.Exp(), fn.Exp(), fn.SiLU()}) == 2


def test_names_show_only_non_default_parameters():
    assert fn.Matmul().name == "Matmul"
    assert fn.Matmul(transpose_weight=True).name == "Matmul(transpose_weight=True)"
    assert fn.Empty((0, 64)).name == "Empty((0, 64))"
    assert fn.Zero((X, 64), "bf16").name == "Zero((X, 64), elem='bf16')"
    assert repr(fn.Scale(0.5)) == "Scale(0.5)"


def test_matmul_flags_are_set_for_the_two_matmul_functions_only():
    assert fn.Matmul.is_matmul and fn.MatmulAccumulate.is_matmul
    assert not any(getattr(fn, n).is_matmul for n in fn.__all__
                   if n not in ("Matmul", "MatmulAccumulate"))


# ------------------------------------------------------------------- Matmul
def test_matmul_types_static_and_dynamic_tiles():
    assert fn.Matmul().out_type(sl.Tuple((tile(4, 64), tile(64, 256)))) == tile(4, 256)
    out = fn.Matmul().out_type(sl.Tuple((tile(X, 64), tile(64, 64))))
    assert at(out.rows, X=7) == 7 and out.cols == 64
    t = fn.Matmul(transpose_weight=True).out_type(sl.Tuple((tile(8, 64), tile(32, 64))))
    assert t == tile(8, 32)


def test_matmul_result_element_type_is_the_wider_operand():
    t = fn.Matmul().out_type(sl.Tuple((tile(2, 3, "bf16"), tile(3, 4, "f32"))))
    assert t.elem == "f32"


def test_matmul_values_equal_numpy_including_transposed_weight():
    a, w = rand(4, 8), rand(8, 5)
    np.testing.assert_allclose(fn.Matmul()((a, w)), a @ w, rtol=1e-5)
    k = rand(5, 8)
    np.testing.assert_allclose(fn.Matmul(transpose_weight=True)((a, k)), a @ k.T, rtol=1e-5)


def test_matmul_flops_are_2mkn_symbolically_and_for_values():
    f = fn.Matmul().flops_of_type(sl.Tuple((tile(X, 64), tile(64, 32))))
    assert at(f, X=3) == 2 * 3 * 64 * 32
    assert fn.Matmul().flops_of_value((rand(3, 64), rand(64, 32))) == 2 * 3 * 64 * 32
    assert fn.Matmul(flops_per_mac=1).flops_of_value((rand(2, 2), rand(2, 2))) == 8


def test_matmul_inner_dim_mismatch_names_both_shapes():
    with pytest.raises(ShapeError, match=r"Matmul: inner dims differ.*Tile\[4,64\].*Tile\[32,64\]"):
        fn.Matmul().out_type(sl.Tuple((tile(4, 64), tile(32, 64))))
    with pytest.raises(ShapeError, match="W\\[N,K\\]"):
        fn.Matmul(transpose_weight=True).out_type(sl.Tuple((tile(4, 64), tile(64, 32))))


def test_matmul_rejects_a_symbolic_k_against_a_static_one():
    with pytest.raises(ShapeError, match="inner dims differ"):
        fn.Matmul().out_type(sl.Tuple((tile(4, X), tile(64, 32))))


def test_matmul_rejects_a_non_tuple_input_and_non_tile_operands():
    with pytest.raises(ShapeError, match="Matmul: input type Tile.*Tuple of two tiles"):
        fn.Matmul().out_type(tile(4, 64))
    with pytest.raises(ShapeError, match="second operand Bool"):
        fn.Matmul().out_type(sl.Tuple((tile(4, 64), sl.Bool)))


def test_matmul_detects_a_runtime_inner_dim_mismatch_of_dynamic_tiles():
    with pytest.raises(StepError, match="inner dims differ at run time"):
        fn.Matmul()((rand(2, 3), rand(4, 5)))


def test_matmul_arguments_are_validated():
    with pytest.raises(ShapeError, match="transpose_weight"):
        fn.Matmul(transpose_weight="yes")
    with pytest.raises(ShapeError, match="flops_per_mac"):
        fn.Matmul(flops_per_mac=-1)


# ------------------------------------------------------------------- MatmulAccumulate
def test_matmul_accumulate_adds_the_product_to_the_accumulator():
    a, w, acc = rand(4, 8), rand(8, 6), rand(4, 6)
    np.testing.assert_allclose(fn.MatmulAccumulate()((a, w), acc), acc + a @ w, rtol=1e-5)
    zero = fn.Zero((1, 1))()
    np.testing.assert_allclose(fn.MatmulAccumulate()((a, w), zero), a @ w, rtol=1e-5)


def test_matmul_accumulate_type_broadcasts_a_unit_init_to_a_dynamic_product():
    elem = sl.Tuple((tile(X, 64), tile(64, 256)))
    t = fn.MatmulAccumulate().accum_type(elem, fn.Zero((1, 1)).out_type(), 4)
    assert at(t.rows, X=5) == 5 and t.cols == 256 and t.elem == "bf16"
    assert fn.MatmulAccumulate().scan_type(elem, tile(X, 256)).cols == 256


def test_matmul_accumulate_flops_ignore_the_accumulation():
    elem = sl.Tuple((tile(4, 64), tile(64, 32)))
    assert fn.MatmulAccumulate().flops_of_type(elem) == 2 * 4 * 64 * 32
    assert fn.MatmulAccumulate().flops_of_value((rand(4, 64), rand(64, 32)), rand(4, 32)) \
        == 2 * 4 * 64 * 32


def test_matmul_accumulate_errors_name_the_function():
    with pytest.raises(ShapeError, match="MatmulAccumulate: inner dims differ"):
        fn.MatmulAccumulate().accum_type(sl.Tuple((tile(4, 8), tile(9, 2))), tile(4, 2), 1)
    with pytest.raises(ShapeError, match="MatmulAccumulate: product and init types"):
        fn.MatmulAccumulate().accum_type(sl.Tuple((tile(4, 8), tile(8, 2))), tile(3, 2), 1)


# ------------------------------------------------------------------- element-wise
@pytest.mark.parametrize("cls, op", [(fn.Add, np.add), (fn.Sub, np.subtract),
                                     (fn.Mul, np.multiply), (fn.Div, np.divide),
                                     (fn.Max, np.maximum)])
def test_elementwise_maps_equal_numpy_with_broadcasting(cls, op):
    a, b, col = rand(4, 6), rand(4, 6) + 3, rand(4, 1) + 3
    np.testing.assert_allclose(cls()((a, b)), op(a, b), rtol=1e-6)
    np.testing.assert_allclose(cls()((a, col)), op(a, col), rtol=1e-6)
    assert cls().out_type(sl.Tuple((tile(4, 6), tile(4, 1)))) == tile(4, 6)
    assert cls().flops_of_type(sl.Tuple((tile(4, 6), tile(1, 1)))) == 24
    assert cls().flops_of_value((a, col)) == 24


@pytest.mark.parametrize("cls, op", [(fn.Add, np.add), (fn.Sub, np.subtract),
                                     (fn.Mul, np.multiply), (fn.Div, np.divide),
                                     (fn.Max, np.maximum)])
def test_elementwise_updates_compute_acc_op_x(cls, op):
    x, acc = rand(2, 3) + 3, rand(2, 3)
    np.testing.assert_allclose(cls()(x, acc), op(acc, x), rtol=1e-6)
    assert cls().flops_of_type(tile(2, 3)) == 6
    assert cls().flops_of_value(x, acc) == 6


def test_elementwise_types_accept_dynamic_tiles_and_keep_symbols():
    t = fn.Mul().out_type(sl.Tuple((tile(X, 64), tile(X, 1))))
    assert at(t.rows, X=9) == 9 and t.cols == 64
    assert at(fn.Add().flops_of_type(sl.Tuple((tile(X, 64), tile(1, 64)))), X=2) == 128


def test_elementwise_update_type_is_the_element_type_for_a_unit_zero_init():
    assert fn.Add().accum_type(tile(1, 64), fn.Zero((1, 1)).out_type(), 3) == tile(1, 64)
    assert fn.Add().scan_type(tile(X, 8, "f32"), tile(1, 8, "bf16")).elem == "f32"


def test_elementwise_mismatched_dims_raise_naming_both_types():
    with pytest.raises(ShapeError, match=r"Add: operand types Tile\[4,6\].*Tile\[3,6\]"):
        fn.Add().out_type(sl.Tuple((tile(4, 6), tile(3, 6))))
    with pytest.raises(ShapeError, match="Max: element and init types"):
        fn.Max().accum_type(tile(4, 6), fn.Empty((0, 6)).out_type(), 1)
    with pytest.raises(ShapeError, match="Mul: input type .*Tuple of two tiles"):
        fn.Mul().out_type(sl.Tuple((tile(1, 1), tile(1, 1), tile(1, 1))))
    with pytest.raises(StepError, match="do not broadcast"):
        fn.Sub()((rand(2, 3), rand(3, 2)))


# ------------------------------------------------------------------- unary maps
def test_exp_silu_scale_and_rowsum_equal_numpy():
    x = rand(4, 8)
    np.testing.assert_allclose(fn.Exp()(x), np.exp(x), rtol=1e-6)
    np.testing.assert_allclose(fn.SiLU()(x), x / (1 + np.exp(-x)), rtol=1e-6)
    np.testing.assert_allclose(fn.Scale(0.5)(x), 0.5 * x)
    np.testing.assert_allclose(fn.RowSum()(x), x.sum(axis=1, keepdims=True), rtol=1e-5)
    assert fn.Identity()(x) is x


def test_unary_flops_per_element_defaults_and_overrides():
    assert fn.Exp().flops_of_type(tile(4, 8)) == 32
    assert fn.SiLU().flops_of_type(tile(4, 8)) == 256
    assert fn.SiLU(flops_per_element=4).flops_of_value(rand(4, 8)) == 128
    assert fn.RowSum().flops_of_type(tile(4, 8)) == 32
    assert at(fn.Exp().flops_of_type(tile(X, 8)), X=3) == 24
    assert fn.Identity().flops_of_type(sl.Bool) == 0


def test_unary_types():
    assert fn.RowSum().out_type(tile(X, 64, "f32")) == tile(X, 1, "f32")
    assert fn.Exp().out_type(tile(2, 2)) == tile(2, 2)
    assert fn.Identity().out_type(sl.Selector(3)) == sl.Selector(3)
    with pytest.raises(ShapeError, match=r"SiLU: input type Tuple\(.*expected a Tile"):
        fn.SiLU().out_type(sl.Tuple((tile(2, 2), tile(2, 2))))
    with pytest.raises(ShapeError, match="Scale: argument 'factor'"):
        fn.Scale("two")


# ------------------------------------------------------------------- Retile
def test_retile_row_packs_rows_like_vstack_and_types_exactly():
    rows = [rand(1, 64) for _ in range(4)]
    acc = fn.Empty((0, 64))()
    for r in rows:
        acc = fn.RetileRow()(r, acc)
    np.testing.assert_array_equal(acc, np.vstack(rows))
    assert fn.RetileRow().accum_type(tile(1, 64), fn.Empty((0, 64)).out_type(), 4) == tile(4, 64)


def test_retile_row_over_a_dynamic_count_gives_a_dynamic_tile():
    t = fn.RetileRow().accum_type(tile(2, 64), tile(0, 64), X)
    assert at(t.rows, X=5) == 10 and t.cols == 64


def test_retile_row_treats_bools_as_unit_tiles():
    t = fn.RetileRow().accum_type(sl.Bool, fn.Empty((0, 1)).out_type(), 4)
    assert t == tile(4, 1, "bool")
    acc = fn.Empty((0, 1))()
    for b in (False, True):
        acc = fn.RetileRow()(b, acc)
    np.testing.assert_array_equal(acc, np.array([[False], [True]]))


def test_retile_col_packs_columns_like_hstack():
    cols = [rand(4, 64) for _ in range(3)]
    acc = fn.Empty((4, 0))()
    for c in cols:
        acc = fn.RetileCol()(c, acc)
    np.testing.assert_array_equal(acc, np.hstack(cols))
    assert fn.RetileCol().accum_type(tile(4, 64), tile(4, 0), 4) == tile(4, 256)


def test_retile_starts_from_an_empty_init_whose_other_dim_is_unbound():
    acc = fn.Empty((X, 0))()          # X unbound: materialised as (0, 0)
    x = rand(3, 2)
    np.testing.assert_array_equal(fn.RetileCol()(x, acc), x)
    assert fn.Empty((X, 0))({"X": 3}).shape == (3, 0)


@pytest.mark.parametrize("update, shape", [(fn.RetileRow, (1, 8)), (fn.RetileCol, (8, 1))])
def test_retile_accumulation_is_amortised_and_keeps_every_earlier_value(update, shape):
    f, axis = update(), 0 if update is fn.RetileRow else 1
    acc, parts, seen, copies = fn.Empty((0, 8) if axis == 0 else (8, 0))(), [], [], 0
    for i in range(200):
        parts.append(rand(*shape).astype(np.float64 if i == 5 else np.float32))
        new = f(parts[-1], acc)
        copies += not np.shares_memory(new, acc)
        acc = new
        seen.append((acc, np.concatenate(parts, axis=axis)))
    assert copies <= 12             # capacity doubles (and widens once to f64): O(log n) copies
    for got, expected in seen:      # earlier accumulators never change
        np.testing.assert_array_equal(got, expected)
        assert got.dtype == expected.dtype


def test_retile_appending_twice_to_the_same_accumulator_branches():
    f = fn.RetileRow()
    acc = fn.Empty((0, 4))()
    for _ in range(3):
        acc = f(rand(1, 4), acc)
    snapshot = acc.copy()
    a, b = f(np.ones((1, 4), np.float32), acc), f(np.zeros((1, 4), np.float32), acc)
    np.testing.assert_array_equal(a, np.vstack([snapshot, np.ones((1, 4))]))
    np.testing.assert_array_equal(b, np.vstack([snapshot, np.zeros((1, 4))]))
    np.testing.assert_array_equal(acc, snapshot)


def test_retile_writes_in_place_only_through_the_latest_accumulator():
    f = fn.RetileRow()
    acc = fn.Empty((0, 4))()
    for _ in range(3):
        acc = f(rand(1, 4), acc)
    snapshot, buf, one = acc.copy(), acc.base, np.ones((1, 4), np.float32)
    # other views of the buffer (another offset, its filled extent) never change a value
    outs = []
    for other in (buf[1:4], buf[:3]):
        before = np.array(other)
        outs.append((f(one, other), np.vstack([before, one])))
        np.testing.assert_array_equal(acc, snapshot)
    grown = f(np.zeros((1, 4), np.float32), acc)
    np.testing.assert_array_equal(grown, np.vstack([snapshot, np.zeros((1, 4))]))
    for out, expected in outs:
        np.testing.assert_array_equal(out, expected)
    assert np.shares_memory(grown, acc)                  # the latest one still grew in place


@pytest.mark.parametrize("update, acc, x", [
    (fn.RetileRow(), ghost((3, 8), np.float32), ghost((1, 8), np.float32)),
    (fn.RetileRow(), np.zeros((2, 8), np.float64), ghost((1, 8), np.float32)),  # real pad rows
    (fn.RetileRow(), ghost((2, 8), np.float32), np.zeros((1, 8), np.float32)),
    (fn.RetileRow(), ghost((2, 1), np.bool_), True),                            # a mask bit
    (fn.RetileCol(), ghost((8, 2), np.float16), ghost((8, 1), np.float32)),
])
def test_retile_with_a_ghost_gives_the_shared_ghost_of_the_concatenation(update, acc, x):
    axis = 0 if isinstance(update, fn.RetileRow) else 1
    expected = np.concatenate([acc, np.asarray(x).reshape(1, 1) if x is True else x], axis=axis)
    out = update(x, acc)                                 # (numpy's own result via the override)
    assert type(out) is Ghost and out is ghost(expected.shape, expected.dtype)


def test_retile_of_mismatched_ghosts_is_a_named_error():
    with pytest.raises(StepError, match=r"RetileRow: cannot append a \(1, 4\) tile to a "
                                        r"\(3, 8\) accumulator"):
        fn.RetileRow()(ghost((1, 4), np.float32), ghost((3, 8), np.float32))
    with pytest.raises(StepError, match=r"RetileCol: cannot append a \(4, 1\) tile"):
        fn.RetileCol()(ghost((4, 1), np.float32), np.zeros((8, 2), np.float32))


def test_retile_errors():
    with pytest.raises(ShapeError, match="RetileRow: element and init columns differ"):
        fn.RetileRow().accum_type(tile(1, 64), tile(0, 32), 4)
    with pytest.raises(ShapeError, match="RetileCol: element and init rows differ"):
        fn.RetileCol().accum_type(tile(4, 64), tile(2, 0), 4)
    with pytest.raises(ShapeError, match="RetileRow: used in Scan"):
        fn.RetileRow().scan_type(tile(1, 64), tile(0, 64))
    with pytest.raises(ShapeError, match="RetileRow: element type Selector"):
        fn.RetileRow().accum_type(sl.Selector(2), tile(0, 1), 1)
    with pytest.raises(StepError, match="cannot append"):
        fn.RetileRow()(rand(1, 3), rand(2, 4))
    assert fn.RetileRow().flops_of_type(tile(1, 64)) == 0


# ------------------------------------------------------------------- inits
def test_zero_and_empty_types_and_values():
    assert fn.Zero((4, 64)).out_type() == tile(4, 64, "f32")
    np.testing.assert_array_equal(fn.Zero((2, 3), "bf16")(), np.zeros((2, 3), np.float32))
    assert fn.Zero((X, 8))().shape == (1, 8)          # unbound: broadcastable
    assert fn.Zero((X, 8))({"X": 5}).shape == (5, 8)
    assert fn.Empty((0, 64))().shape == (0, 64)
    assert fn.Empty((0, 1), "bool").out_type() == tile(0, 1, "bool")


def test_init_errors():
    with pytest.raises(ShapeError, match="Empty: argument 'shape'.*zero dim"):
        fn.Empty((4, 64))
    with pytest.raises(ShapeError, match="Zero: argument 'shape'"):
        fn.Zero((4,))
    with pytest.raises(ShapeError, match="unknown dtype 'f33'"):
        fn.Zero((1, 1), "f33")


def test_count_counts_elements_into_an_integer_tile():
    acc = fn.Zero((1, 1), "i64")()
    for _ in range(3):
        acc = fn.Count()(rand(2, 2), acc)
    assert acc[0, 0] == 3
    assert fn.Count().accum_type(tile(32, 64), tile(1, 1, "i64"), 9) == tile(1, 1, "i64")
    with pytest.raises(ShapeError, match="Count: init type"):
        fn.Count().accum_type(tile(32, 64), tile(1, 1, "f32"), 9)


# ------------------------------------------------------------------- RetileStreamify
def test_retile_streamify_splits_a_tile_into_rows():
    t = rand(3, 4)
    rows = fn.RetileStreamify()(t)
    assert len(rows) == 3 and all(r.shape == (1, 4) for r in rows)
    np.testing.assert_array_equal(np.vstack(rows), t)
    assert fn.RetileStreamify().out_type(tile(3, 4)) == (tile(1, 4), (3,), (False,))


def test_retile_streamify_rank_one_wraps_rows_in_one_vector():
    toks = fn.RetileStreamify(rank=1)(rand(2, 4))
    assert len(toks) == 3 and toks[-1] is S(1)
    assert fn.RetileStreamify(rank=1).out_type(tile(X, 4)) == (tile(1, 4), (1, X), (False, False))


def test_retile_streamify_with_a_mask_drops_padding_rows():
    t = rand(4, 4)
    mask = np.array([[False], [False], [True], [True]])
    rows = fn.RetileStreamify()((t, mask))
    np.testing.assert_array_equal(np.vstack(rows), t[:2])
    dtype = sl.Tuple((tile(4, 4), tile(4, 1, "bool")))
    assert fn.RetileStreamify().out_type(dtype) == (tile(1, 4), (4,), (True,))
    assert fn.RetileStreamify(rank=1).out_type(dtype)[1:] == ((1, 4), (False, True))
    assert fn.RetileStreamify()((rand(1, 4), True)) == []
    assert fn.RetileStreamify().out_type(sl.Tuple((tile(1, 4), sl.Bool)))[2] == (True,)


def test_retile_streamify_of_a_ghost_gives_shared_row_ghosts():
    g = ghost((4, 8), np.float16)
    rows = fn.RetileStreamify()(g)
    assert len(rows) == 4 and all(r is ghost((1, 8), np.float16) for r in rows)
    assert GhostCalls.key((rows[0],)) is not None       # a Map on them is remembered
    mask = np.array([[False], [True], [False], [True]])
    assert fn.RetileStreamify()((g, mask)) == [ghost((1, 8), np.float16)] * 2
    toks = fn.RetileStreamify(rank=1)(g)
    assert len(toks) == 5 and toks[-1] is S(1)


def test_retile_streamify_errors():
    with pytest.raises(ShapeError, match=r"RetileStreamify: mask type .*expected a \[4, 1\] bool"):
        fn.RetileStreamify().out_type(sl.Tuple((tile(4, 4), tile(4, 1, "f32"))))
    with pytest.raises(ShapeError, match="mask type"):
        fn.RetileStreamify().out_type(sl.Tuple((tile(4, 4), sl.Bool)))
    with pytest.raises(ShapeError, match="expected a tile or Tuple"):
        fn.RetileStreamify().out_type(sl.Tuple((tile(4, 4), sl.Bool, sl.Bool)))
    with pytest.raises(ShapeError, match="argument 'rank'"):
        fn.RetileStreamify(rank=2)
    with pytest.raises(StepError, match="mask of 2 rows"):
        fn.RetileStreamify()((rand(3, 4), np.zeros((2, 1), bool)))


# ------------------------------------------------------------------- address generation
def test_affine_address_maps_selectors_and_indices():
    assert fn.AffineAddress(scale=4, offset=1)(frozenset({2}))[0, 0] == 9
    assert fn.AffineAddress(scale=4)(np.array([[3]], np.uint64))[0, 0] == 12
    assert fn.AffineAddress().out_type(sl.Selector(8)) == sl.Addr
    with pytest.raises(StepError, match="not one-hot"):
        fn.AffineAddress()(frozenset({0, 1}))
    with pytest.raises(ShapeError, match="AffineAddress: input type"):
        fn.AffineAddress().out_type(tile(1, 1, "f32"))
    with pytest.raises(ShapeError, match="'scale'"):
        fn.AffineAddress(scale=-1)


def test_tile_addresses_static_and_data_dependent_counts():
    toks = fn.TileAddresses(count=3, stride=2)(np.array([[10]], np.uint64))
    assert [int(t[0, 0]) for t in toks[:-1]] == [10, 12, 14] and toks[-1] is S(1)
    assert fn.TileAddresses(count=3).out_type(sl.Addr) == (sl.Addr, (1, 3), (False, False))
    dyn = fn.TileAddresses(rank=0)
    pair = (np.array([[5]], np.uint64), np.array([[2]], np.uint64))
    assert [int(t[0, 0]) for t in dyn(pair)] == [5, 6]
    assert dyn.out_type(sl.Tuple((sl.Addr, sl.Addr)))[2] == (True,)
    with pytest.raises(ShapeError, match=r"TileAddresses\(rank=0\): input type"):
        dyn.out_type(sl.Addr)


def test_insert_row_replaces_the_row_at_the_offset():
    t, row = rand(4, 3), rand(1, 3)
    out = fn.InsertRow()((t, row, np.array([[2]], np.uint64)))
    np.testing.assert_array_equal(out[2], row[0])
    np.testing.assert_array_equal(np.delete(out, 2, 0), np.delete(t, 2, 0))
    assert fn.InsertRow().out_type(sl.Tuple((tile(4, 3), tile(1, 3), sl.Addr))) == tile(4, 3)
    with pytest.raises(ShapeError, match=r"InsertRow: row type .*\[1, 3\] row"):
        fn.InsertRow().out_type(sl.Tuple((tile(4, 3), tile(1, 4), sl.Addr)))
    with pytest.raises(StepError, match="out of range"):
        fn.InsertRow()((t, row, np.array([[4]], np.uint64)))
