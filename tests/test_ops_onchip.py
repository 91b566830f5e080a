"""Bufferize and Streamify (STEP.md §4.2): shape rules, worked examples, Rule M, errors."""
import numpy as np
import pytest

import step_lab as sl
from step_lab import ops
from step_lab.errors import ShapeError, StepError
from step_lab.interpret import Unchecked  # malformed streams reach the operators as is
from step_lab.ir.tokens import DONE, S, decode, encode
from step_lab.ops.onchip import BufferValue

F32 = sl.Tile(1, 1, "f32")
R, X = sl.dim("R"), sl.dim("X")


# -- helpers ---------------------------------------------------------------------------------
def at(expr, **values) -> int:
    return sl.symbolic.evaluate(expr, values)


def plain(tokens) -> list:
    """1x1 tiles -> 't<n>'; buffers -> the list of their tile numbers."""
    out = []
    for t in tokens:
        if isinstance(t, np.ndarray):
            out.append(f"t{int(t.item())}")
        elif isinstance(t, BufferValue):
            out.append([int(x.item()) for x in t.tiles])
        else:
            out.append(t)
    return out


def example_input(prog):
    """STEP.md §4.2: ``[2,2,2] = t1 t2 S1 t3 t4 S2 t5 t6 S1 t7 t8 S2 Done``."""
    return prog.input("x", F32, (2, 2, 2))


EXAMPLE = [[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]]
READ1 = ["t1", "t2", S(1), "t3", "t4"]     # buffer 1 read once, without its closing S2
READ2 = ["t5", "t6", S(1), "t7", "t8"]


def run(prog, outputs: dict, inputs: dict, **bindings) -> dict:
    for name, stream in outputs.items():
        prog.output(name, stream)
    res = sl.interpret(prog, inputs=inputs, bindings=bindings)
    return {name: plain(res.tokens[name]) for name in outputs}


def oracle(buffers_tokens, b: int, ref_tokens, c: int, m: int) -> list:
    """Streamify's meaning via decoding: each ref leaf under buffer B becomes B's content."""
    bufs, refs = decode(buffers_tokens, b), decode(ref_tokens, b + c)

    def leaves(ref, depth, content):
        return content if depth == 0 else [leaves(r, depth - 1, content) for r in ref]

    def walk(buf, ref, depth):
        if depth == 0:
            return leaves(ref, c, decode(list(buf.tokens) + [DONE], m)[0])
        return [walk(x, y, depth - 1) for x, y in zip(buf, ref, strict=True)]

    nested = [walk(x, y, b) for x, y in zip(bufs, refs, strict=True)]
    return encode(nested, b + c + m)


# -- Bufferize -------------------------------------------------------------------------------------
def test_bufferize_rank2_of_the_worked_example_gives_two_buffers():
    prog = sl.Program()
    buf = ops.Bufferize(example_input(prog), 2)
    assert buf.shape == (2,)
    assert buf.dtype == sl.Buffer(F32, (2, 2))
    assert run(prog, {"b": buf}, {"x": EXAMPLE})["b"] == [[1, 2, 3, 4], [5, 6, 7, 8], DONE]


def test_bufferize_rank1_of_the_worked_example_keeps_the_outer_stop_tokens():
    prog = sl.Program()
    buf = ops.Bufferize(example_input(prog), 1)
    assert buf.shape == (2, 2) and buf.dtype == sl.Buffer(F32, (2,))
    assert run(prog, {"b": buf}, {"x": EXAMPLE})["b"] == [[1, 2], [3, 4], S(1), [5, 6], [7, 8],
                                                           S(1), DONE]


def test_buffer_values_know_their_tiles_shape_and_replay_tokens():
    prog = sl.Program()
    prog.output("b", ops.Bufferize(example_input(prog), 2))
    first = sl.interpret(prog, inputs={"x": EXAMPLE}).tokens["b"][0]
    assert isinstance(first, BufferValue)
    assert first.shape == (2, 2) and first.rank == 2 and len(first) == 4
    assert plain(first.tokens) == READ1 + [S(2)]
    assert repr(first) == "BufferValue[2, 2](4 tiles)"


def test_fig3_bufferize_keeps_a_ragged_outermost_buffered_dim():
    prog = sl.Program()
    x = prog.input("x", F32, (2, R, 2), ragged=(R,))
    buf = ops.Bufferize(x, 2)
    assert buf.shape == (2,)
    assert buf.dtype.shape == (R, 2) and buf.dtype.ragged == frozenset({R})
    data = [[[1.0, 2.0]], [[3.0, 4.0], [5.0, 6.0], [7.0, 8.0]]]
    res = sl.interpret(prog, inputs={"x": data}, bindings={"R": 2})
    sizes = [v.shape for v in res.stream_tokens[buf][:2]]
    assert sizes == [(1, 2), (3, 2)]


def test_bufferize_of_symbolic_dims_gives_a_dynamic_buffer():
    prog = sl.Program()
    x = prog.input("x", F32, (X, 3, 4))
    buf = ops.Bufferize(x, 1)
    assert buf.shape == (X, 3) and buf.dtype.shape == (4,)
    assert buf.node.element_bytes() == 4 and buf.node.describe() == "rank=1"
    assert buf.node.group == "memory" and not buf.node.is_offchip


def test_an_empty_sub_tensor_yields_an_empty_buffer():
    prog = sl.Program()
    x = prog.input("x", F32, (1, 2, X), ragged=(X,))
    buf = ops.Bufferize(x, 1)
    tokens = run(prog, {"b": buf}, {"x": [1.0, S(1), S(2), DONE]}, X=1)["b"]
    assert tokens == [[1], [], S(1), DONE]


def test_bufferize_rejects_a_ragged_inner_buffered_dim():
    prog = sl.Program()
    x = prog.input("x", F32, (2, 3, X), ragged=(X,))
    with pytest.raises(ShapeError, match=r"Bufferize: argument 'rank' = 2 .*X of rank 0 is ragged"):
        ops.Bufferize(x, 2)


@pytest.mark.parametrize("rank", [0, 3, 1.0, "1"])
def test_bufferize_rank_must_lie_between_one_and_the_input_rank(rank):
    prog = sl.Program()
    with pytest.raises(ShapeError, match=r"Bufferize: argument 'rank'"):
        ops.Bufferize(prog.input("x", F32, (2, 2, 2)), rank)


def test_bufferize_needs_static_tiles():
    prog = sl.Program()
    dyn = prog.input("d", sl.Tile(X, 4, "f32"), (2, 2))
    flags = prog.input("f", sl.Bool, (2, 2))
    bufs = ops.Bufferize(prog.input("x", F32, (2, 2, 2)), 1)
    for bad in (dyn, flags, bufs):
        with pytest.raises(ShapeError, match=r"Bufferize: argument 'stream'.*static tiles"):
            ops.Bufferize(bad, 1)
    with pytest.raises(ShapeError, match=r"Bufferize: argument 'rank'"):
        ops.Bufferize(prog.input("s", F32, (4,)), 1)


def test_bufferize_fails_at_run_time_on_an_unclosed_sub_tensor():
    prog = sl.Program()
    prog.output("b", ops.Bufferize(prog.input("x", F32, (1, 2)), 1))
    with pytest.raises(StepError, match="ended inside a rank-1 sub-tensor"):
        sl.interpret(prog, inputs={"x": Unchecked([1.0, 2.0, DONE])})


# -- Streamify: worked examples --------------------------------------------------------------------
def test_streamify_with_ref_2_r_reads_each_buffer_per_ref_element():
    prog = sl.Program()
    bufs = ops.Bufferize(example_input(prog), 2)
    ref = prog.input("ref", sl.Bool, (2, R))
    out = ops.Streamify(bufs, ref)
    assert [at(d, R=3) for d in out.shape] == [2, 3, 2, 2] and out.dtype == F32
    tokens = run(prog, {"o": out}, {"x": EXAMPLE, "ref": [True, True, S(1), True, S(1), DONE]},
                 R=2)["o"]
    assert tokens == READ1 + [S(2)] + READ1 + [S(3)] + READ2 + [S(3), DONE]


def test_streamify_with_repeat_3_reads_buffer_1_three_times_then_buffer_2():
    prog = sl.Program()
    out = ops.Streamify(ops.Bufferize(example_input(prog), 2), repeat=(3,))
    assert out.shape == (2, 3, 2, 2)
    tokens = run(prog, {"o": out}, {"x": EXAMPLE})["o"]
    assert tokens == (READ1 + [S(2)] + READ1 + [S(2)] + READ1 + [S(3)]
                      + READ2 + [S(2)] + READ2 + [S(2)] + READ2 + [S(3), DONE])


def test_fig3_streamify_of_ragged_buffers_has_shape_2_x_r_2():
    prog = sl.Program()
    x = prog.input("x", F32, (2, R, 2), ragged=(R,))
    ref = prog.input("ref", sl.Bool, (2, X))
    out = ops.Streamify(ops.Bufferize(x, 2), ref)
    assert out.shape == (2, X, R, 2) and R in out.ragged
    data = [[[1.0, 2.0]], [[3.0, 4.0], [5.0, 6.0]]]
    tokens = run(prog, {"o": out}, {"x": data, "ref": [[1], [1, 1]]}, R=2, X=2)["o"]
    assert tokens == (["t1", "t2", S(3), "t3", "t4", S(1), "t5", "t6", S(2),
                       "t3", "t4", S(1), "t5", "t6", S(3), DONE])


@pytest.mark.parametrize("b", [1, 2])
def test_streamify_without_ref_replays_the_bufferized_stream(b):
    prog = sl.Program()
    x = prog.input("x", F32, (3, X, 2), ragged=(X,))
    out = ops.Streamify(ops.Bufferize(x, b))
    assert out.shape == (3, X, 2)
    data = [1.0, 2.0, S(1), 3.0, 4.0, S(2), S(2), 5.0, 6.0, S(2), DONE]
    prog.output("o", out)
    res = sl.interpret(prog, inputs={"x": data}, bindings={"X": 2})
    assert plain(res.tokens["o"]) == ["t1", "t2", S(1), "t3", "t4", S(2), S(2), "t5", "t6",
                                      S(2), DONE]


REF_CASES = [  # b = 1 buffers [[B1, B2], [B3, B4]]; ref [2, 2, E] (c = 1), incl. empty groups
    [True, S(1), True, True, S(2), True, S(1), True, S(2), DONE],
    [S(1), True, S(2), True, True, S(1), S(2), DONE],
    [True, True, True, S(1), S(2), S(1), True, S(2), DONE],
]


@pytest.mark.parametrize("ref_tokens", REF_CASES)
def test_streamify_ref_stops_follow_rule_m_across_buffer_stream_stops(ref_tokens):
    prog = sl.Program()
    bufs = ops.Bufferize(example_input(prog), 1)
    ref = prog.input("ref", sl.Bool, (2, 2, X), ragged=(X,))
    prog.output("b", bufs)
    prog.output("o", ops.Streamify(bufs, ref))
    res = sl.interpret(prog, inputs={"x": EXAMPLE, "ref": ref_tokens}, bindings={"X": 2})
    expected = oracle(res.tokens["b"], 1, ref_tokens, 1, 1)
    assert plain(res.tokens["o"]) == plain(expected)


@pytest.mark.parametrize("repeat", [(), (2,), (2, 1)])
def test_streamify_repeat_equals_a_static_ref_across_buffer_stream_stops(repeat):
    prog = sl.Program()
    bufs = ops.Bufferize(example_input(prog), 1)
    prog.output("b", bufs)
    prog.output("o", ops.Streamify(bufs, repeat=repeat))
    res = sl.interpret(prog, inputs={"x": EXAMPLE})
    ref_tensor = np.ones((2, 2) + repeat, dtype=bool).tolist()
    expected = oracle(res.tokens["b"], 1, encode(ref_tensor, 1 + len(repeat)), len(repeat), 1)
    assert plain(res.tokens["o"]) == plain(expected)


def test_streamify_with_rank0_buffer_stream_and_rank0_ref():
    prog = sl.Program()
    bufs = ops.Bufferize(example_input(prog), 2)
    ref = prog.input("ref", sl.Selector(2), (2,))
    out = ops.Streamify(bufs, ref)
    assert out.shape == (2, 2, 2)
    tokens = run(prog, {"o": out}, {"x": EXAMPLE, "ref": [0, 1]})["o"]
    assert tokens == READ1 + [S(2)] + READ2 + [S(2), DONE]


def test_affine_streamify_reads_a_static_buffer_transposed():
    prog = sl.Program()
    bufs = ops.Bufferize(example_input(prog), 2)
    out = ops.Streamify(bufs, stride=(1, 2), out_shape=(2, 2))
    assert out.shape == (2, 2, 2)
    assert out.node.describe() == "repeat=() stride=(1, 2) out=(2, 2)"
    tokens = run(prog, {"o": out}, {"x": EXAMPLE})["o"]
    assert tokens == ["t1", "t3", S(1), "t2", "t4", S(2), "t5", "t7", S(1), "t6", "t8", S(2),
                      DONE]


def test_affine_streamify_with_out_shape_only_reads_row_major_and_can_be_rank0():
    prog = sl.Program()
    bufs = ops.Bufferize(example_input(prog), 2)
    first3 = ops.Streamify(bufs, out_shape=(3,))
    single = ops.Streamify(bufs, repeat=(2,), stride=(), out_shape=())
    assert first3.shape == (2, 3) and single.shape == (2, 2)
    res = run(prog, {"a": first3, "s": single}, {"x": EXAMPLE})
    assert res["a"] == ["t1", "t2", "t3", S(1), "t5", "t6", "t7", S(1), DONE]
    assert res["s"] == ["t1", "t1", S(1), "t5", "t5", S(1), DONE]


def test_streamify_node_reports_tile_bytes_and_is_on_chip():
    prog = sl.Program()
    out = ops.Streamify(ops.Bufferize(prog.input("x", sl.Tile(4, 8, "bf16"), (2, 2)), 1))
    assert out.node.element_bytes() == 64
    assert out.node.group == "memory" and not out.node.is_offchip
    assert out.node.describe() == "repeat=()"


# -- Streamify: runtime checks ---------------------------------------------------------------------
def _ref_program(ref_shape, ragged=()):
    prog = sl.Program()
    bufs = ops.Bufferize(example_input(prog), 1)
    ref = prog.input("ref", sl.Bool, ref_shape, ragged=ragged)
    prog.output("o", ops.Streamify(bufs, ref))
    return prog


@pytest.mark.parametrize("ref_tokens, message", [
    ([True, S(1), True, S(1), S(2), DONE], "does not match buffer stream token"),
    ([True, S(1), True, S(1), DONE], "does not match buffer stream token"),
    ([True, S(1), True, S(2), True, DONE], "ref ended while buffer"),
    ([True, S(1), True, S(2), True, S(1), True, S(2), True, S(1), DONE], "ref continues"),
])
def test_streamify_rejects_a_ref_whose_outer_structure_differs_from_the_buffers(ref_tokens,
                                                                                message):
    prog = _ref_program((2, 2, X), ragged=(X,))
    with pytest.raises(StepError, match=rf"streamify0.*{message}"):
        sl.interpret(prog, inputs={"x": EXAMPLE, "ref": Unchecked(ref_tokens)},
                     bindings={"X": 1})


def test_streamify_with_c0_rejects_a_ref_stop_where_a_buffer_is_expected():
    prog = _ref_program((2, 2))
    with pytest.raises(StepError, match="does not match"):
        sl.interpret(prog, inputs={"x": EXAMPLE, "ref": Unchecked([True, S(1), DONE])})


# -- Streamify: construction errors ----------------------------------------------------------------
def _bufs(shape=(2, 2, 2), rank=2, ragged=()):
    prog = sl.Program()
    return prog, ops.Bufferize(prog.input("x", F32, shape, ragged=ragged), rank)


def test_streamify_needs_a_buffer_stream():
    prog = sl.Program()
    with pytest.raises(ShapeError, match=r"Streamify: argument 'buffers'.*buffer references"):
        ops.Streamify(prog.input("x", F32, (2, 2)), repeat=(2,))


def test_streamify_ref_prefix_must_equal_the_buffer_stream_shape():
    prog, bufs = _bufs(rank=1)                     # buffer stream [2, 2]
    for i, shape in enumerate([(3, 2), (2, 3, R), (2,)]):
        ref = prog.input(f"r{i}", sl.Bool, shape)
        with pytest.raises(ShapeError, match=r"Streamify: argument 'ref'.*\[2, 2\]"):
            ops.Streamify(bufs, ref)
    assert ops.Streamify(bufs, prog.input("ok", sl.Bool, (2, 2, R))).shape == (2, 2, R, 2)


def test_streamify_rejects_affine_reads_of_dynamic_buffers():
    prog, bufs = _bufs((2, R, 2), ragged=(R,))
    with pytest.raises(ShapeError, match=r"Streamify: argument 'stride'.*fully static buffer"):
        ops.Streamify(bufs, stride=(1, 0), out_shape=(2, 2))
    with pytest.raises(ShapeError, match=r"Streamify: argument 'out_shape'.*fully static"):
        ops.Streamify(bufs, out_shape=(2,))


def test_streamify_stride_and_out_shape_must_have_equal_lengths():
    _, bufs = _bufs()
    with pytest.raises(ShapeError, match=r"Streamify: argument 'stride'.*equal lengths"):
        ops.Streamify(bufs, stride=(1,), out_shape=(2, 2))


def test_streamify_affine_read_must_stay_inside_the_buffer():
    _, bufs = _bufs()
    with pytest.raises(ShapeError, match=r"Streamify: argument 'stride'.*index is 4"):
        ops.Streamify(bufs, stride=(2, 2), out_shape=(2, 2))
    with pytest.raises(ShapeError, match=r"Streamify: argument 'out_shape'.*ints"):
        ops.Streamify(bufs, stride=(1,), out_shape=(X,))


@pytest.mark.parametrize("repeat", [(0,), (2, -1), 3, (1.5,)])
def test_streamify_repeat_counts_must_be_ints_of_at_least_one(repeat):
    _, bufs = _bufs()
    with pytest.raises(ShapeError, match=r"Streamify: argument 'repeat'"):
        ops.Streamify(bufs, repeat=repeat)


def test_streamify_takes_either_ref_or_repeat():
    prog, bufs = _bufs()
    with pytest.raises(ShapeError, match=r"Streamify: argument 'repeat'.*not both"):
        ops.Streamify(bufs, prog.input("r", sl.Bool, (2,)), repeat=(2,))


def test_streamify_with_a_rank_two_ref_merges_each_read_closer_into_the_ref_stop_once():
    # Review finding: with c = 2 the read's S_m was emitted again after the merged S_{j+m}.
    import numpy as np

    import step_lab as sl
    from step_lab import ops
    from step_lab.ir.tokens import DONE, S
    f32 = sl.Tile(1, 1, "f32")
    one = lambda v: np.full((1, 1), v, np.float32)   # noqa: E731
    prog = sl.Program("streamify_c2")
    bufs = ops.Bufferize(prog.input("x", f32, (1, 2)), 1)
    out = ops.Streamify(bufs, prog.input("r", f32, (1, 2, 2)))
    prog.output("o", out)
    res = sl.interpret(prog, inputs={"x": [one(1), one(2), S(1), DONE],
                                     "r": [one(9), one(9), S(1), one(9), one(9), S(2), DONE]})
    shape = [t if not isinstance(t, np.ndarray) else int(t[0, 0]) for t in res.tokens["o"]]
    assert shape == [1, 2, S(1), 1, 2, S(2), 1, 2, S(1), 1, 2, S(3), DONE]
