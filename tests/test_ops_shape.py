"""Shape operators (STEP.md §4.5) and Assume (§2.6): typing, worked examples, errors."""
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import step_lab as sl
from step_lab.errors import ShapeError, StepError
from step_lab.interpret import Unchecked  # malformed streams reach the operators as is
from step_lab.ir.tokens import DONE, S, encode
from step_lab.ops import Assume, Expand, Flatten, Promote, Reshape, Zip
from step_lab.symbolic import evaluate

I32 = sl.Scalar("i32")
D0, X, Y, B, R = (sl.dim(n) for n in ("D0", "X", "Y", "B", "R"))
LETTERS = {c: i for i, c in enumerate("abcdefghijklmnopqrstuvwxy", start=1)} | {"z": 0}
PAPER = [[[1, 2], [3]], [[4], [5, 6, 7]]]              # [2, 2, D0] = 1 2 S1 3 S2 4 S1 5 6 7 S2


def tk(text: str) -> list:
    """``"a b S1 T F Done"`` -> tokens (letters a..y = 1..25, z = 0, T/F = bools)."""
    out = []
    for w in text.split():
        if w == "Done":
            out.append(DONE)
        elif re.fullmatch(r"S\d+", w):
            out.append(S(int(w[1:])))
        elif w in ("T", "F"):
            out.append(w == "T")
        else:
            out.append(LETTERS[w] if w in LETTERS else int(w))
    return out


def tokens(stream, inputs, bindings=None):
    """Run the stream's program and return the stream's full token list."""
    res = sl.interpret(stream.program, inputs=inputs, bindings=bindings or {})
    return res.stream_tokens[stream]


def at(shape, **values):
    """Evaluate a shape tuple at integer bindings (symbolic dims compared by substitution)."""
    return tuple(evaluate(d, values) for d in shape)


def paper_stream(dtype=I32):
    prog = sl.Program("paper")
    return prog.input("x", dtype, (2, 2, D0), ragged=[D0])


# ================================================================ Flatten
def test_flatten_0_1_on_the_papers_example_gives_a_fresh_ragged_dim():
    x = paper_stream()
    y = Flatten(x, 0, 1)
    assert tokens(y, {"x": PAPER}, {"D0": 2}) == tk("1 2 3 S1 4 5 6 7 S1 Done")
    fresh = y.shape[1]
    assert y.shape[0] == 2 and fresh.name == "x_flat0_1"
    assert y.ragged == {fresh} and D0 not in y.ragged


def test_flatten_1_2_on_the_papers_example_keeps_d0_ragged():
    x = paper_stream()
    y = Flatten(x, 1, 2)
    assert tokens(y, {"x": PAPER}, {"D0": 2}) == tk("1 2 S1 3 S1 4 S1 5 6 7 S1 Done")
    assert y.shape == (4, D0) and y.ragged == {D0}


def test_flatten_of_static_dims_multiplies_them_and_matches_numpy():
    prog = sl.Program("p")
    data = np.arange(24).reshape(2, 3, 4)
    x = prog.input("x", I32, (2, 3, 4))
    inner, outer, full = Flatten(x, 0, 1), Flatten(x, 1, 2), Flatten(x, 0, 2)
    assert inner.shape == (2, 12) and outer.shape == (6, 4) and full.shape == (24,)
    assert full.rank == 0 and all(type(d) is int for d in inner.shape)
    res = sl.interpret(prog, inputs={"x": data.tolist()})
    assert res.stream_tokens[inner] == encode(data.reshape(2, 12).tolist(), 1)
    assert res.stream_tokens[outer] == encode(data.reshape(6, 4).tolist(), 1)
    assert res.stream_tokens[full] == encode(data.reshape(24).tolist(), 0)


def test_flatten_of_dynamic_regular_dims_keeps_the_product_expression():
    prog = sl.Program("p")
    x = prog.input("x", I32, (B, 4, X))
    y = Flatten(x, 0, 1)
    assert y.ragged == frozenset()
    assert at(y.shape, B=3, X=5) == (3, 20) and at(y.shape, B=1, X=0) == (1, 0)
    z = Flatten(x, 1, 2)
    assert at(z.shape, B=3, X=5) == (12, 5)


def test_flatten_fresh_symbol_in_the_outermost_position_is_regular():
    prog = sl.Program("p")
    x = prog.input("x", I32, (3, D0), ragged=[D0])
    y = Flatten(x, 0, 1)
    assert y.rank == 0 and y.shape[0].name == "x_flat0_1"
    assert y.ragged == frozenset()
    assert tokens(y, {"x": [[1], [], [2, 3]]}, {"D0": 1}) == tk("1 2 3 Done")


def test_flatten_with_min_equal_max_is_the_identity():
    x = paper_stream()
    for rank in (0, 1, 2):
        y = Flatten(x, rank, rank)
        assert y.type == x.type
        assert tokens(y, {"x": PAPER}, {"D0": 2}) == encode(PAPER, 2)


def test_flatten_keeps_empty_sub_tensors():
    prog = sl.Program("p")
    x = prog.input("x", I32, (1, 2, D0), ragged=[D0])
    y = Flatten(x, 1, 2)
    assert tokens(y, {"x": [[[7], []]]}, {"D0": 1}) == tk("7 S1 S1 Done")
    z = Flatten(x, 0, 1)
    assert tokens(z, {"x": [[[7], []]]}, {"D0": 1}) == tk("7 S1 Done")


def _build_flatten_program():
    prog = sl.Program("again")
    x = prog.input("x", I32, (2, 2, D0), ragged=[D0])
    data, pad = Reshape(x, 0, 2, pad=0)
    return Flatten(x, 0, 1), Flatten(data, 0, 1), Flatten(pad, 0, 1)


def test_rebuilding_a_program_yields_identical_fresh_symbols():
    first, second = _build_flatten_program(), _build_flatten_program()
    assert [str(s.type) for s in first] == [str(s.type) for s in second]
    assert [s.shape for s in first] == [s.shape for s in second]


def test_fresh_symbols_of_different_producers_and_ports_differ():
    a, data, pad = _build_flatten_program()
    names = {a.shape[-1].name, data.shape[-1].name, pad.shape[-1].name}
    assert names == {"x_flat0_1", "reshape0_0_flat0_1", "reshape0_1_flat0_1"}


def _nested(rank: int):
    """Nested int lists whose rank >= 2 tensors are non-empty (the §2.3 limitation)."""
    if rank == 0:
        return st.integers(0, 9)
    inner = _nested(rank - 1)
    return st.lists(inner, min_size=0 if rank == 1 else 1, max_size=3)


def _merge(x, levels: int):
    for _ in range(levels):
        x = [e for c in x for e in c]
    return x


def _apply_at(x, depth: int, f):
    return f(x) if depth == 0 else [_apply_at(c, depth - 1, f) for c in x]


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 3).flatmap(lambda a: st.tuples(
    st.just(a), st.lists(_nested(a), max_size=3), st.integers(0, a), st.integers(0, a))))
def test_flatten_matches_a_nested_list_reference(case):
    a, data, lo, hi = case
    lo, hi = min(lo, hi), max(lo, hi)
    prog = sl.Program("prop")
    syms = [sl.dim(f"E{i}") for i in range(a)]
    x = prog.input("x", I32, (len(data), *syms), ragged=syms)
    y = Flatten(x, lo, hi)
    want = _apply_at(data, a - hi, lambda t: _merge(t, hi - lo))
    got = tokens(y, {"x": data}, {s.name: 1 for s in syms})
    assert got == encode(want, a - (hi - lo))


@pytest.mark.parametrize("lo, hi, arg, match", [
    (-1, 1, "min_rank", "expected an int >= 0"),
    (2, 1, "min_rank", "min_rank <= max_rank = 1"),
    (0, 3, "max_rank", "0 <= max_rank <= 2"),
    (0, 1.5, "max_rank", "expected an int rank"),
])
def test_flatten_rejects_bad_rank_arguments(lo, hi, arg, match):
    x = paper_stream()
    with pytest.raises(ShapeError, match=rf"Flatten: argument '{arg}' = .*{re.escape(match)}"):
        Flatten(x, lo, hi)


def test_flatten_rejects_a_non_stream_input():
    with pytest.raises(ShapeError, match="Flatten: argument 'stream'.*expected a Stream"):
        Flatten([1, 2], 0, 1)


# ================================================================ Reshape
def test_reshape_rank_0_pads_the_last_partial_chunk_like_the_spec_example():
    prog = sl.Program("p")
    x = prog.input("x", I32, (X,))
    data, padding = Reshape(x, 0, 4, pad=LETTERS["z"])
    res = sl.interpret(prog, inputs={"x": tk("a b c d e f")}, bindings={"X": 6})
    assert res.stream_tokens[data] == tk("a b c d S1 e f z z S1 Done")
    assert res.stream_tokens[padding] == tk("F F F F S1 F F T T S1 Done")
    for s in (data, padding):
        assert [at(s.shape, X=v) for v in (0, 1, 4, 5, 6, 8, 9)] == \
            [(0, 4), (1, 4), (1, 4), (2, 4), (2, 4), (2, 4), (3, 4)]
    assert padding.dtype == sl.Bool and data.dtype == I32


def test_reshape_rank_1_of_the_spec_example_raises_every_second_closing_token():
    prog = sl.Program("p")
    x = prog.input("x", I32, (1, 4, 2))
    data, padding = Reshape(x, 1, 2)
    res = sl.interpret(prog, inputs={"x": tk("a b S1 c d S1 e f S1 g h S2 Done")})
    assert res.stream_tokens[data] == tk("a b S1 c d S2 e f S1 g h S3 Done")
    assert res.stream_tokens[padding] == tk("F F S1 F F S2 F F S1 F F S3 Done")
    assert data.shape == (1, 2, 2, 2) and padding.shape == (1, 2, 2, 2)


def test_reshape_rank_0_of_a_full_stream_needs_no_pad_and_merges_stop_tokens():
    prog = sl.Program("p")
    x = prog.input("x", I32, (2, 4))
    data, padding = Reshape(x, 0, 2)
    assert data.shape == (2, 2, 2)
    res = sl.interpret(prog, inputs={"x": [[1, 2, 3, 4], [5, 6, 7, 8]]})
    assert res.stream_tokens[data] == tk("1 2 S1 3 4 S2 5 6 S1 7 8 S2 Done")
    assert res.stream_tokens[padding] == tk("F F S1 F F S2 F F S1 F F S2 Done")


def test_reshape_of_a_ragged_dim_pads_each_run_and_skips_empty_runs():
    prog = sl.Program("p")
    x = prog.input("x", I32, (3, D0), ragged=[D0])
    data, padding = Reshape(x, 0, 2, pad=0)
    outer = data.shape[1]
    assert data.shape[0] == 3 and data.shape[2] == 2 and outer.name == "x_reshape0_2"
    assert data.ragged == {outer} and padding.ragged == {outer}
    res = sl.interpret(prog, inputs={"x": [[1, 2, 3], [], [4, 5]]}, bindings={"D0": 2})
    assert res.stream_tokens[data] == tk("1 2 S1 3 0 S2 S2 4 5 S2 Done")
    assert res.stream_tokens[padding] == tk("F F S1 F T S2 S2 F F S2 Done")


def test_reshape_of_a_dynamic_regular_dim_uses_an_exact_ceiling():
    prog = sl.Program("p")
    x = prog.input("x", I32, (B, X))
    data, _ = Reshape(x, 0, 4, pad=0)
    assert data.ragged == frozenset()
    assert at(data.shape, B=2, X=9) == (2, 3, 4) and at(data.shape, B=2, X=8) == (2, 2, 4)
    res = sl.interpret(prog, inputs={"x": [[1, 2, 3, 4, 5], [6]]}, bindings={"B": 2, "X": 5})
    assert res.stream_tokens[data] == tk("1 2 3 4 S1 5 0 0 0 S2 6 0 0 0 S2 Done")


def test_reshape_of_the_outermost_dim_groups_top_level_tensors():
    prog = sl.Program("p")
    x = prog.input("x", I32, (4, 3))
    data, _ = Reshape(x, 1, 2)
    assert data.shape == (2, 2, 3)
    rows = np.arange(12).reshape(4, 3)
    got = tokens(data, {"x": rows.tolist()})
    assert got == encode(rows.reshape(2, 2, 3).tolist(), 2)


def test_reshape_of_an_empty_rank_0_stream_stays_done():
    prog = sl.Program("p")
    x = prog.input("x", I32, (X,))
    data, padding = Reshape(x, 0, 3, pad=0)
    res = sl.interpret(prog, inputs={"x": []}, bindings={"X": 0})
    assert res.stream_tokens[data] == [DONE] and res.stream_tokens[padding] == [DONE]


class _FakeInit:
    """An init-like pad: ``out_type()`` and ``__call__(bindings)`` as in the §4.4 protocol."""

    def __init__(self, dtype):
        self.dtype, self.calls = dtype, 0

    def out_type(self):
        return self.dtype

    def __call__(self, bindings=None):
        self.calls += 1
        return np.full((1, 2), -1.0, dtype=np.float32)

    def __repr__(self):
        return "FakeInit"


def _tile_stream(n):
    prog = sl.Program("tiles")
    x = prog.input("x", sl.Tile(1, 2, "f32"), (n,))
    values = [np.full((1, 2), i, dtype=np.float32) for i in range(1, 4)]
    return x, values


def test_reshape_pads_tile_streams_with_a_numpy_tile():
    x, values = _tile_stream(X)
    data, padding = Reshape(x, 0, 2, pad=np.zeros((1, 2)))
    got = tokens(data, {"x": values}, {"X": 3})
    assert [t if t is DONE or type(t) is type(S(1)) else float(t[0, 0]) for t in got] == \
        [1.0, 2.0, S(1), 3.0, 0.0, S(1), DONE]
    assert got[4].dtype == np.float32 and got[4].shape == (1, 2)


def test_reshape_calls_an_init_like_pad_for_every_pad_element():
    x, values = _tile_stream(X)
    init = _FakeInit(sl.Tile(1, 2, "f32"))
    data, _ = Reshape(x, 0, 4, pad=init)
    got = tokens(data, {"x": values}, {"X": 3})
    assert init.calls == 1 and float(got[3][0, 0]) == -1.0
    assert data.node.describe() == "rank=0, chunk_size=4, pad=FakeInit"


def test_reshape_accepts_the_function_library_zero_as_pad():
    zero = sl.fn.Zero
    x, values = _tile_stream(X)
    data, _ = Reshape(x, 0, 2, pad=zero((1, 2), "f32"))
    got = tokens(data, {"x": values}, {"X": 3})
    np.testing.assert_array_equal(got[4], np.zeros((1, 2), dtype=np.float32))
    with pytest.raises(ShapeError, match="Reshape: argument 'pad'.*producing Tile\\[1,2\\] f32"):
        Reshape(x, 0, 2, pad=zero((1, 2), "bf16"))


def test_reshape_pads_bool_streams_with_a_bool():
    prog = sl.Program("p")
    x = prog.input("x", sl.Bool, (X,))
    data, padding = Reshape(x, 0, 3, pad=False)
    res = sl.interpret(prog, inputs={"x": [True]}, bindings={"X": 1})
    assert res.stream_tokens[data] == tk("T F F S1 Done")
    assert res.stream_tokens[padding] == tk("F T T S1 Done")


def test_reshape_without_pad_fails_at_run_time_when_a_run_is_partial():
    prog = sl.Program("p")
    x = prog.input("x", I32, (1, 4))
    Reshape(x, 0, 2)
    with pytest.raises(StepError, match="reshape0.*partial chunk of 1 of 2 elements.*no pad"):
        sl.interpret(prog, inputs={"x": [[1, 2, 3]]})


def test_reshape_of_rank_1_fails_at_run_time_on_a_non_divisible_run():
    prog = sl.Program("p")
    x = prog.input("x", I32, (1, 4, 2))
    Reshape(x, 1, 2)
    with pytest.raises(StepError, match="run of 3 entries.*chunk_size 2"):
        sl.interpret(prog, inputs={"x": [[[1, 2], [3, 4], [5, 6]]]})


def _reshape_error(shape, *args, dtype=I32, ragged=(), **kwargs):
    prog = sl.Program("p")
    x = prog.input("x", dtype, shape, ragged=ragged)
    return lambda: Reshape(x, *args, **kwargs)


@pytest.mark.parametrize("make, match", [
    (_reshape_error((2, 4), 2, 2), r"argument 'rank' = 2 .*0 <= rank <= 1"),
    (_reshape_error((2, 4), -1, 2), r"argument 'rank' = -1"),
    (_reshape_error((2, 4), 0, 0), r"argument 'chunk_size' = 0 \(expected an int >= 1"),
    (_reshape_error((2, 4), 0, 2.0), r"argument 'chunk_size' = 2.0"),
    (_reshape_error((2, 5, 4), 1, 2), r"argument 'chunk_size' = 2 .*rank 1 is static 5"),
    (_reshape_error((2, X, 4), 1, 2), r"argument 'chunk_size' = 2 .*rank 1 is symbolic X"),
    (_reshape_error((2, 5), 0, 2), r"argument 'pad' = None .*innermost dim 5.*required"),
    (_reshape_error((2, X), 0, 2), r"argument 'pad' = None .*innermost dim X"),
    (_reshape_error((2, X), 0, 2, pad=True), r"argument 'pad' = bool True .*a number"),
    (_reshape_error((X,), 0, 2, dtype=sl.Bool, pad=0), r"argument 'pad' = int 0 .*a bool for Bool"),
    (_reshape_error((X,), 0, 2, dtype=sl.Tile(1, 2, "f32"), pad=np.zeros((2, 2))),
     r"argument 'pad' = ndarray .*\n.*numpy tile of shape \(1, 2\)"),
    (_reshape_error((X,), 0, 2, dtype=sl.Tile(1, 2, "f32"), pad=0.0),
     r"argument 'pad' = float 0.0 .*numpy tile.*\n  hint: pass np.zeros"),
    (_reshape_error((X,), 0, 2, dtype=sl.Tile(1, 2, "f32"),
                    pad=_FakeInit(sl.Tile(1, 2, "bf16"))),
     r"argument 'pad' = FakeInit .*producing Tile\[1,2\] f32, it produces Tile\[1,2\] bf16"),
    (_reshape_error((X,), 0, 2, dtype=sl.Selector(4), pad={5}),
     r"argument 'pad' = set \{5\} .*\[0, 4\)"),
    (_reshape_error((X,), 0, 2, dtype=sl.Buffer(sl.Tile(1, 2), (4,))),
     r"argument 'stream' = .*non-buffer stream"),
])
def test_reshape_rejects_ill_typed_construction(make, match):
    with pytest.raises(ShapeError, match=r"Reshape: " + match):
        make()


def test_reshape_accepts_selector_and_tuple_pads():
    prog = sl.Program("p")
    sel = prog.input("sel", sl.Selector(4), (X,))
    data, _ = Reshape(sel, 0, 2, pad=3)
    assert tokens(data, {"sel": [1]}, {"X": 1}) == [frozenset({1}), frozenset({3}), S(1), DONE]
    pair = Zip(sel, sel)
    zdata, _ = Reshape(pair, 0, 2, pad=({0}, 2))
    assert zdata.dtype == pair.dtype


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(1, 9), max_size=7), max_size=4), st.integers(1, 4))
def test_reshape_rank_0_matches_chunking_each_row_with_padding(rows, size):
    prog = sl.Program("prop")
    x = prog.input("x", I32, (len(rows), D0), ragged=[D0])
    data, padding = Reshape(x, 0, size, pad=0)
    res = sl.interpret(prog, inputs={"x": rows}, bindings={"D0": 1})
    padded = [r + [0] * (-len(r) % size) for r in rows]
    want = [[p[i:i + size] for i in range(0, len(p), size)] for p in padded]
    flags = [[[j >= len(r) - i for j in range(size)] for i in range(0, len(p), size)]
             for r, p in zip(rows, padded, strict=True)]
    assert res.stream_tokens[data] == encode(want, 2)
    assert res.stream_tokens[padding] == encode(flags, 2)


# ================================================================ Promote
def test_promote_turns_the_final_top_level_token_into_the_next_level():
    prog = sl.Program("p")
    x = prog.input("x", I32, (2, 3))
    y = Promote(x)
    assert y.shape == (1, 2, 3)
    assert tokens(y, {"x": tk("a b c S1 d e f S1 Done")}) == tk("a b c S1 d e f S2 Done")


def test_promote_of_an_empty_rank_0_stream_stays_done_with_shape_0_0():
    prog = sl.Program("p")
    x = prog.input("x", I32, (X,))
    y = Promote(x)
    assert tokens(y, {"x": []}, {"X": 0}) == [DONE]
    assert at(y.shape, X=0) == (0, 0) and at(y.shape, X=5) == (1, 5)
    assert y.ragged == frozenset()


def test_promote_of_a_rank_0_stream_inserts_s1_before_done():
    prog = sl.Program("p")
    x = prog.input("x", I32, (X,))
    assert tokens(Promote(x), {"x": [1, 2, 3]}, {"X": 3}) == tk("1 2 3 S1 Done")


def test_promote_of_static_dims_is_static():
    prog = sl.Program("p")
    assert Promote(prog.input("x", I32, (0, 3))).shape == (0, 0, 3)
    assert Promote(prog.input("y", I32, (4, 3))).shape == (1, 4, 3)


def test_promote_of_an_empty_rank_2_stream_emits_nothing_spurious():
    prog = sl.Program("p")
    x = prog.input("x", I32, (X, 2, D0), ragged=[D0])
    y = Promote(x)
    assert tokens(y, {"x": []}, {"X": 0, "D0": 1}) == [DONE]
    assert y.ragged == {D0}
    assert tokens(Promote(prog.input("z", I32, (2, 2, D0), ragged=[D0])), {"x": [], "z": PAPER},
                  {"X": 0, "D0": 1}) == tk("1 2 S1 3 S2 4 S1 5 6 7 S3 Done")


def test_promote_at_rank_0_wraps_every_element_in_a_unit_vector():
    prog = sl.Program("p")
    x = prog.input("x", I32, (2, 3))
    y = Promote(x, rank=0)
    assert y.shape == (2, 3, 1)
    assert tokens(y, {"x": tk("a b c S1 d e f S1 Done")}) == \
        tk("a S1 b S1 c S2 d S1 e S1 f S2 Done")


def test_promote_at_rank_0_raises_the_token_of_an_empty_vector():
    prog = sl.Program("p")
    x = prog.input("x", I32, (2, D0), ragged=[D0])
    y = Promote(x, rank=0)
    assert tokens(y, {"x": [[], [4]]}, {"D0": 1}) == tk("S2 4 S2 Done")


def test_promote_at_rank_1_inserts_a_unit_dim_below_the_count():
    prog = sl.Program("p")
    x = prog.input("x", I32, (2, 3))
    y = Promote(x, rank=1)
    assert y.shape == (2, 1, 3)
    assert tokens(y, {"x": tk("a b c S1 d e f S1 Done")}) == tk("a b c S2 d e f S2 Done")


@pytest.mark.parametrize("rank, match", [(2, "0 <= rank <= 1"), (-1, "= -1"),
                                         ("0", "expected an int rank")])
def test_promote_rejects_a_bad_rank(rank, match):
    prog = sl.Program("p")
    x = prog.input("x", I32, (2, 3))
    with pytest.raises(ShapeError, match=rf"Promote: argument 'rank'.*{match}"):
        Promote(x, rank=rank)


# ================================================================ Expand
def _fig5():
    prog = sl.Program("fig5")
    x = prog.input("x", I32, (2, 1, 1))
    ref = prog.input("ref", I32, (2, R, 2))
    return x, ref, {"x": tk("x S2 y S2 Done"), "ref": tk("r r S1 r r S2 r r S2 Done")}


@pytest.mark.parametrize("rank", [2, None])
def test_expand_repeats_each_element_over_the_reference_like_fig_5(rank):
    x, ref, inputs = _fig5()
    y = Expand(x, ref, rank)
    assert y.shape == (2, R, 2) and y.node.params["rank"] == 2
    assert tokens(y, inputs, {"R": 2}) == tk("x x S1 x x S2 y y S2 Done")


def test_expand_over_a_ragged_reference_copies_its_empty_vectors():
    prog = sl.Program("p")
    x = prog.input("x", I32, (2, 1))
    ref = prog.input("ref", I32, (2, D0), ragged=[D0])
    y = Expand(x, ref)
    assert y.shape == (2, D0) and y.ragged == {D0}
    assert tokens(y, {"x": [[5], [6]], "ref": [[0, 0, 0], []]}, {"D0": 1}) == \
        tk("5 5 5 S1 S1 Done")


def test_expand_with_static_sizes_builds_a_regular_block_per_element():
    x, _, inputs = _fig5()
    y = Expand(x, sizes=(3, 2))
    assert y.shape == (2, 3, 2)
    x_, y_ = LETTERS["x"], LETTERS["y"]
    assert tokens(y, inputs, {"R": 2}) == encode([[[x_] * 2] * 3, [[y_] * 2] * 3], 2) == \
        tk("x x S1 x x S1 x x S2 y y S1 y y S1 y y S2 Done")


def test_expand_with_static_sizes_at_rank_1_keeps_outer_tokens():
    prog = sl.Program("p")
    x = prog.input("x", I32, (2, 2, 1))
    y = Expand(x, sizes=(3,), rank=1)
    assert y.shape == (2, 2, 3)
    assert tokens(y, {"x": [[[1], [2]], [[3], [4]]]}) == \
        tk("1 1 1 S1 2 2 2 S2 3 3 3 S1 4 4 4 S2 Done")


def test_expand_fails_at_run_time_when_input_and_reference_tokens_disagree():
    prog = sl.Program("p")
    x = prog.input("x", I32, (1, 2, 1))
    ref = prog.input("ref", I32, (1, 2, R))
    Expand(x, ref, 1)
    with pytest.raises(StepError, match=r"expand0.*input token 1 is S1 but the reference "
                                        r"'ref' has S2"):
        sl.interpret(prog, inputs={"x": tk("x S1 y S2 Done"),
                                   "ref": Unchecked(tk("r S2 r r S2 Done"))},
                     bindings={"R": 2})


def test_expand_fails_at_run_time_when_the_reference_ends_early():
    prog = sl.Program("p")
    x = prog.input("x", I32, (2, 1))
    ref = prog.input("ref", I32, (2, R))
    Expand(x, ref)
    with pytest.raises(StepError, match=r"input token 3 is S1 but .* has Done"):
        sl.interpret(prog, inputs={"x": [[1], [2]], "ref": Unchecked(encode([[0, 0]], 1))},
                     bindings={"R": 2})


def _expand_case(in_shape, ref_shape=None, **kwargs):
    prog = sl.Program("p")
    x = prog.input("x", I32, in_shape)
    ref = prog.input("ref", I32, ref_shape) if ref_shape is not None else None
    args = (x,) if ref is None else (x, ref)
    return lambda: Expand(*args, **kwargs)


@pytest.mark.parametrize("make, match", [
    (_expand_case((2, 1), (2, 3, 4)), r"argument 'ref' = .*rank 1, got rank 2"),
    (_expand_case((2, 1, 1), (2, 3, 4), rank=0), r"argument 'rank' = 0 .*1 <= rank <= 2"),
    (_expand_case((2, 1, 1), (2, 3, 4), rank=3), r"argument 'rank' = 3"),
    (_expand_case((2, 3), (2, 3), rank=1), r"argument 'stream' = .*rank 0 … 0 to be static 1"),
    (_expand_case((2, 3), (2, 3)), r"argument 'stream' = .*trailing static 1"),
    (_expand_case((2, 1), (3, 4)), r"argument 'ref' = .*rank 1 is 3 vs 2"),
    (_expand_case((X, 1), (Y, 4)), r"argument 'ref' = .*rank 1 is Y vs X\)\n  hint: .*assume"),
    (_expand_case((2, 1)), r"argument 'ref' = None .*exactly one of"),
    (_expand_case((2, 1), (2, 4), sizes=(4,)), r"argument 'ref' = .*exactly one of"),
    (_expand_case((2, 1), sizes=(0,)), r"argument 'sizes' = 0 \(expected an int >= 1"),
    (_expand_case((2, 1), sizes=()), r"argument 'sizes' = .*non-empty tuple"),
    (_expand_case((2, 1), sizes=(2, 2)), r"argument 'sizes' = \(2, 2\) .*at most 1 sizes"),
    (_expand_case((2, 3, 1), sizes=(2, 2)), r"argument 'stream' = .*rank 1 … 0 to be static"),
    (_expand_case((2, 1, 1), sizes=(2,), rank=2), r"argument 'rank' = 2 .*len\(sizes\) = 1"),
])
def test_expand_rejects_ill_typed_construction(make, match):
    with pytest.raises(ShapeError, match=r"Expand: " + match):
        make()


# ================================================================ Zip
def test_zip_pairs_elements_in_order_and_copies_tokens():
    prog = sl.Program("p")
    a = prog.input("a", I32, (2, 2))
    b = prog.input("b", sl.Bool, (2, 2))
    z = Zip(a, b)
    assert z.dtype == sl.Tuple((I32, sl.Bool)) and z.shape == (2, 2)
    assert tokens(z, {"a": [[1, 2], [3, 4]], "b": [[True, False], [False, True]]}) == \
        [(1, True), (2, False), S(1), (3, False), (4, True), S(1), DONE]


def test_zip_of_three_symbolic_ragged_streams_keeps_their_shape():
    prog = sl.Program("p")
    streams = [prog.input(n, I32, (B, D0), ragged=[D0]) for n in "abc"]
    z = Zip(*streams)
    assert z.shape == (B, D0) and z.ragged == {D0} and len(z.dtype.items) == 3
    data = [[1], [], [2, 3]]
    got = tokens(z, {n: data for n in "abc"}, {"B": 3, "D0": 1})
    assert got == [(1, 1, 1), S(1), S(1), (2, 2, 2), (3, 3, 3), S(1), DONE]


def test_zip_fails_at_run_time_naming_the_position_and_both_tokens():
    prog = sl.Program("p")
    a = prog.input("a", I32, (2, D0), ragged=[D0])
    b = prog.input("b", I32, (2, D0), ragged=[D0])
    Zip(a, b)
    with pytest.raises(StepError, match=r"zip0.*position 1: 'a' has data 2 but 'b' has S1"):
        sl.interpret(prog, inputs={"a": [[1, 2], [3]], "b": [[1], [2, 3]]}, bindings={"D0": 1})


def test_zip_fails_at_run_time_when_one_stream_ends_first():
    prog = sl.Program("p")
    a, b = prog.input("a", I32, (X,)), prog.input("b", I32, (X,))
    Zip(a, b)
    with pytest.raises(StepError, match=r"position 1: 'a' has Done but 'b' has data 2"):
        sl.interpret(prog, inputs={"a": [1], "b": Unchecked(encode([1, 2], 0))},
                     bindings={"X": 1})


@pytest.mark.parametrize("a, b", [
    ([[1, 2], [3]], [[4, 5], [6]]),
    ([[1, 2], [3]], [[1], [2, 3]]),            # a stop token against data, both ways
    ([[1], [2, 3]], [[1, 2], [3]]),
    ([[], [1]], [[], [1]]),                    # empty sub-tensors: stop tokens meet
    ([[1], []], [[], [1]]),
])
def test_zip_of_two_streams_equals_the_general_zip(monkeypatch, a, b):
    def run():
        prog = sl.Program("p")
        sa = prog.input("a", I32, (2, D0), ragged=[D0])
        sb = prog.input("b", I32, (2, D0), ragged=[D0])
        z = Zip(sa, sb)
        try:
            return tokens(z, {"a": a, "b": b}, {"D0": 1})
        except StepError as e:
            return str(e)
    pairs = run()
    monkeypatch.setattr(Zip, "behaviour", lambda self, ctx: self._tuples())
    assert run() == pairs


def test_zip_of_three_streams_fails_naming_the_stream_that_differs():
    prog = sl.Program("p")
    a, b, c = (prog.input(n, I32, (2, D0), ragged=[D0]) for n in "abc")
    Zip(a, b, c)
    with pytest.raises(StepError, match=r"position 1: 'a' has S1 but 'c' has data 9"):
        sl.interpret(prog, inputs={"a": [[1], [2]], "b": [[1], [2]], "c": [[1, 9], []]},
                     bindings={"D0": 1})


def _zip_case(*shapes):
    prog = sl.Program("p")
    streams = [prog.input(f"s{i}", I32, shp) for i, shp in enumerate(shapes)]
    return lambda: Zip(*streams)


@pytest.mark.parametrize("make, match", [
    (_zip_case((2, 3)), r"argument 'streams' = 1 \(expected at least 2"),
    (_zip_case((2, 3), (2, 3, 1)), r"argument 'streams\[1\]' = .*expected rank 1"),
    (_zip_case((2, 3), (2, 4)), r"argument 'streams\[1\]' = .*entry 1 is 4 vs 3"),
    (_zip_case((2, 3), (2, 3), (X, 3)), r"argument 'streams\[2\]' = .*entry 0 is X vs 2"),
    (_zip_case((X, 3), (Y, 3)), r".*entry 0 is Y vs X\)\n  hint: .*assume"),
])
def test_zip_rejects_mismatched_shapes(make, match):
    with pytest.raises(ShapeError, match=r"Zip: " + match):
        make()


def test_zip_rejects_a_non_stream_argument():
    prog = sl.Program("p")
    a = prog.input("a", I32, (2,))
    with pytest.raises(ShapeError, match=r"Zip: argument 'streams\[1\]' is list"):
        Zip(a, [1, 2])


# ================================================================ Assume
def test_assume_replaces_the_dims_and_passes_tokens_through():
    prog = sl.Program("p")
    g = sl.dim("G")
    x = prog.input("x", I32, (g, 3))
    y = x.assume((X, 3))
    assert isinstance(y.node, Assume) and y.shape == (X, 3)
    data = [[1, 2, 3], [4, 5, 6]]
    assert tokens(y, {"x": data}, {"G": 2, "X": 2}) == encode(data, 1)


def test_assume_keeps_ragged_symbols_only_while_present():
    prog = sl.Program("p")
    x = prog.input("x", I32, (2, 2, D0), ragged=[D0])
    assert Assume(x, (2, 2, D0)).ragged == {D0}
    assert Assume(x, (2, 2, 3)).ragged == frozenset()
    assert Assume(x, (2, D0, 4)).ragged == {D0}


def test_assume_is_not_checked_for_unbound_or_ragged_dims():
    prog = sl.Program("p")
    x = prog.input("x", I32, (2, 2, D0), ragged=[D0])
    y = Assume(x, (2, Y, D0))
    assert tokens(y, {"x": PAPER}, {"D0": 9}) == encode(PAPER, 2)


def test_assume_fails_at_run_time_when_an_inner_dim_disagrees():
    prog = sl.Program("p")
    x = prog.input("x", I32, (2, 3))
    Assume(x, (2, X), name="claim")
    with pytest.raises(StepError, match=r"'claim'.*stream 'x' .*has 3 entries of rank 0 where "
                                        r"dim X = 4 \(expected 4, actual 3\)"):
        sl.interpret(prog, inputs={"x": [[1, 2, 3], [4, 5, 6]]}, bindings={"X": 4})


def test_assume_fails_at_run_time_when_the_top_level_count_disagrees():
    prog = sl.Program("p")
    x = prog.input("x", I32, (X, 3))
    x.assume((5, 3))
    with pytest.raises(StepError, match=r"has 2 top-level tensors where dim 5 = 5"):
        sl.interpret(prog, inputs={"x": [[1, 2, 3], [4, 5, 6]]}, bindings={"X": 2})


def test_assume_checks_every_sub_tensor_of_a_middle_dim():
    prog = sl.Program("p")
    x = prog.input("x", I32, (2, 2, D0), ragged=[D0])
    Assume(x, (2, 2, D0))
    Assume(x, (2, 1, D0), name="wrong")
    with pytest.raises(StepError, match=r"'wrong'.*has 2 entries of rank 1 where dim 1"):
        sl.interpret(prog, inputs={"x": PAPER}, bindings={"D0": 2})


def test_assume_accepts_an_empty_dim_that_encodes_as_one_empty_child():
    prog = sl.Program("p")
    x = prog.input("x", I32, (1, X, 3))
    y = Assume(x, (1, 0, 3))
    assert tokens(y, {"x": tk("S2 Done")}, {"X": 0}) == tk("S2 Done")


@pytest.mark.parametrize("shape, match", [
    ((2, 3, 1), r"argument 'shape' = \(2, 3, 1\) \(expected 2 dims \(same rank 1"),
    ((2, -3), r"argument 'shape' = \(2, -3\) \(assumed dim -3 is negative"),
    ("23", r"argument 'shape' = '23' \(expected a tuple of dims"),
])
def test_assume_rejects_a_shape_of_another_rank_or_bad_dims(shape, match):
    prog = sl.Program("p")
    x = prog.input("x", I32, (2, 3))
    with pytest.raises(ShapeError, match=r"Assume: " + match):
        x.assume(shape)
