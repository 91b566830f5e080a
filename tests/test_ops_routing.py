"""Partition, Reassemble and EagerMerge (STEP.md §4.3): shape rules, tokens, errors, properties."""
import itertools
from collections import deque

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import step_lab as sl
from step_lab import ops
from step_lab.errors import ShapeError, StepError
from step_lab.interpret import Unchecked  # malformed streams reach the operators as is
from step_lab.ir.node import ANY, GET, PUT
from step_lab.ir.tokens import DONE, S, decode, encode

F32 = sl.Tile(1, 1, "f32")
W, X, Y, Z = 1, 2, 3, 4          # the letters of the paper's Fig. 4, as tile values


# -- helpers ---------------------------------------------------------------------------------
def plain(tokens) -> list:
    """Tokens with 1x1 tiles replaced by their number (ints when integral)."""
    out = []
    for t in tokens:
        if hasattr(t, "shape"):
            v = float(t.item())
            out.append(int(v) if v.is_integer() else v)
        else:
            out.append(t)
    return out


def sets(*items) -> list:
    return [frozenset(i) for i in items]


def at(expr, **values) -> int:
    """Evaluate a symbolic dim at sample values (tests compare dims by substitution)."""
    return sl.symbolic.evaluate(expr, values)


def drive(node, feeds: dict, prefer: list) -> list:
    """Run one behaviour with fully fed inputs; ANY picks the live port first in ``prefer``.

    Stands in for the timed simulator's arrival order (``prefer`` = arrival order).
    """
    queues = {port: deque(toks) for port, toks in feeds.items()}
    outs = [[] for _ in node.outputs]
    gen, send = node.behaviour(None), None
    while True:
        try:
            cmd = gen.send(send)
        except StopIteration:
            return outs
        send = None
        if cmd[0] == GET:
            send = queues[cmd[1]].popleft()
        elif cmd[0] == PUT:
            outs[cmd[1]].append(cmd[2])
        elif cmd[0] == ANY:
            ports = cmd[1]
            live = [k for k, p in enumerate(ports) if queues[p][0] is not DONE]
            send = min(live, key=lambda k: prefer.index(ports[k])) if live else -1


def partition_program(data_shape, sel_shape, n, *, ragged=()):
    prog = sl.Program("p")
    x = prog.input("x", F32, data_shape, ragged=ragged)
    sel = prog.input("sel", sl.Selector(n), sel_shape, ragged=ragged)
    outs = ops.Partition(x, sel, n)
    for i, o in enumerate(outs):
        prog.output(f"o{i}", o)
    return prog, outs


def fig4_program():
    """Paper Fig. 4: eight rank-1 inputs (2..6 empty), selector (0,1) (0,7)."""
    prog = sl.Program("fig4")
    D0 = sl.dim("D0")
    ins = [prog.input(f"in{i}", F32, (sl.dim(f"N{i}"), D0), ragged=[D0]) for i in range(8)]
    sel = prog.input("sel", sl.Selector(8), (2,))
    out = ops.Reassemble(ins, sel)
    prog.output("out", out)
    values = {f"in{i}": [] for i in range(8)}
    values.update(in0=[[W, W, W], [Z, Z]], in1=[[X]], in7=[[Y, Y]], sel=sets({0, 1}, {0, 7}))
    bindings = {"D0": 3, **{f"N{i}": len(values[f"in{i}"]) for i in range(8)}}
    return prog, out, values, bindings


# -- Partition: tokens ---------------------------------------------------------------------------
def test_partition_spec_example_multicasts_and_drops_chunks():
    prog, _ = partition_program((4, 2), (4,), 2)
    res = sl.interpret(prog, inputs={"x": [[1, 2], [3, 4], [5, 6], [7, 8]],
                                     "sel": sets({0}, {1}, {0, 1}, set())})
    assert plain(res.tokens["o0"]) == [1, 2, S(1), 5, 6, S(1), DONE]
    assert plain(res.tokens["o1"]) == [3, 4, S(1), 5, 6, S(1), DONE]


def test_partition_of_rank_zero_streams_sends_elements_without_stop_tokens():
    prog, _ = partition_program((5,), (5,), 3)
    res = sl.interpret(prog, inputs={"x": [1, 2, 3, 4, 5],
                                     "sel": sets({2}, {0}, {2}, {0, 1, 2}, {1})})
    assert plain(res.tokens["o0"]) == [2, 4, DONE]
    assert plain(res.tokens["o1"]) == [4, 5, DONE]
    assert plain(res.tokens["o2"]) == [1, 3, 4, DONE]


def test_partition_rank_zero_chunks_consume_selector_stops_in_lockstep():
    R = sl.dim("R")
    prog, outs = partition_program((2, R), (2, R), 2, ragged=[R])
    assert [o.rank for o in outs] == [0, 0]
    res = sl.interpret(prog, inputs={"x": [[1, 2, 3], [4]], "sel": [[0, 1, 0], [1]]},
                       bindings={"R": 3})
    assert plain(res.tokens["o0"]) == [1, 3, DONE]
    assert plain(res.tokens["o1"]) == [2, 4, DONE]


def test_partition_of_a_rank_two_stream_closes_every_chunk_with_s_p():
    prog, outs = partition_program((2, 2, 2), (2, 2), 2)
    data = [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]      # 1 2 S1 3 4 S2 5 6 S1 7 8 S2
    res = sl.interpret(prog, inputs={"x": data, "sel": [[{0}, {1}], [{1}, {0, 1}]]})
    assert plain(res.tokens["o0"]) == [1, 2, S(1), 7, 8, S(1), DONE]
    assert plain(res.tokens["o1"]) == [3, 4, S(1), 5, 6, S(1), 7, 8, S(1), DONE]


def test_partition_with_a_rank_two_chunk_keeps_inner_stops_and_closes_with_s2():
    prog, outs = partition_program((3, 2, 2), (3,), 2)
    data = [[[1, 2], [3, 4]], [[5, 6], [7, 8]], [[9, 9], [9, 9]]]
    res = sl.interpret(prog, inputs={"x": data, "sel": sets({1}, {0}, set())})
    assert plain(res.tokens["o0"]) == [5, 6, S(1), 7, 8, S(2), DONE]
    assert plain(res.tokens["o1"]) == [1, 2, S(1), 3, 4, S(2), DONE]


def test_partition_handles_an_empty_selector_sub_tensor():
    R = sl.dim("R")
    prog, _ = partition_program((2, R, 2), (2, R), 1, ragged=[R])
    res = sl.interpret(prog, inputs={"x": [1, 2, S(2), S(2), DONE],
                                     "sel": [{0}, S(1), S(1), DONE]}, bindings={"R": 1})
    assert plain(res.tokens["o0"]) == [1, 2, S(1), DONE]


def test_partition_of_an_empty_stream_emits_only_done():
    prog, _ = partition_program((0, 2), (0,), 2)
    res = sl.interpret(prog, inputs={"x": [], "sel": []})
    assert res.tokens["o0"] == [DONE] and res.tokens["o1"] == [DONE]


# -- Partition: typing ---------------------------------------------------------------------------
def test_partition_output_shapes_use_per_output_count_symbols():
    _, (o0, o1) = partition_program((4, 2), (4,), 2)
    assert o0.shape == (sl.dim("sel_x0"), 2) and o1.shape == (sl.dim("sel_x1"), 2)
    assert o0.dtype == F32 and not o0.ragged


def test_partition_returns_a_tuple_even_for_one_consumer():
    prog = sl.Program("p")
    x = prog.input("x", F32, (3,))
    outs = ops.Partition(x, prog.input("sel", sl.Selector(1), (3,)), 1)
    assert isinstance(outs, tuple) and len(outs) == 1 and outs[0].shape == (sl.dim("sel_x0"),)


def test_partitions_driven_by_the_same_selector_share_their_symbols():
    prog = sl.Program("p")
    x = prog.input("x", F32, (6, 4))
    w = prog.input("w", sl.Tile(1, 8, "bf16"), (6,))
    sel = prog.input("route", sl.Selector(2), (6,))
    other = prog.input("other", sl.Selector(2), (6,))
    a, b = ops.Partition(x, sel, 2), ops.Partition(w, sel, 2)
    c = ops.Partition(w, other, 2)
    assert [o.shape[0] for o in a] == [o.shape[0] for o in b]
    assert a[0].shape[0] != c[0].shape[0]


def test_partition_symbols_name_the_port_of_a_multi_output_selector_producer():
    prog = sl.Program("p")
    ins = [prog.input(f"i{k}", F32, (2,)) for k in range(2)]
    data, which = ops.EagerMerge(ins)
    outs = ops.Partition(data, which, 2)
    assert [o.shape for o in outs] == [(sl.dim("eagermerge0_1_x0"),), (sl.dim("eagermerge0_1_x1"),)]


def test_partition_accepts_a_symbolically_equal_selector_prefix():
    B, D = sl.dim("B"), sl.dim("D")
    prog = sl.Program("p")
    x = prog.input("x", F32, (2 * B, sl.ceil_div(D, 4), 4))
    sel = prog.input("sel", sl.Selector(3), (B + B, sl.ceil_div(D, 4)))
    outs = ops.Partition(x, sel, 3)
    assert all(o.shape[1:] == (4,) for o in outs)


def test_partition_keeps_ragged_inner_dims_ragged():
    R = sl.dim("R")
    prog = sl.Program("p")
    x = prog.input("x", F32, (3, R), ragged=[R])
    outs = ops.Partition(x, prog.input("sel", sl.Selector(2), (3,)), 2)
    assert outs[0].shape[1] == R and outs[0].ragged == frozenset({R})
    y = prog.input("y", F32, (3, R, 5), ragged=[R])
    outs = ops.Partition(y, prog.input("s2", sl.Selector(2), (3, R), ragged=[R]), 2)
    assert outs[0].shape[1:] == (5,) and outs[0].ragged == frozenset()


def test_partition_describes_rank_and_consumers():
    _, outs = partition_program((4, 2), (4,), 2)
    assert outs[0].node.describe() == "rank=1, num_consumers=2"


# -- Partition: errors ---------------------------------------------------------------------------
@pytest.fixture
def px():
    prog = sl.Program("p")
    return prog, prog.input("x", F32, (4, 2))


def test_partition_rejects_a_selector_of_higher_rank_than_the_input(px):
    prog, x = px
    sel = prog.input("sel", sl.Selector(2), (4, 2, 3))
    with pytest.raises(ShapeError, match=r"Partition: argument 'sel' = rank 2 .*rank <= 1"):
        ops.Partition(x, sel, 2)


def test_partition_rejects_a_non_selector_dtype(px):
    prog, x = px
    sel = prog.input("sel", F32, (4,))
    with pytest.raises(ShapeError, match=r"Partition: argument 'sel' .*Selector\[n\]"):
        ops.Partition(x, sel, 2)


def test_partition_rejects_a_width_different_from_num_consumers(px):
    prog, x = px
    sel = prog.input("sel", sl.Selector(3), (4,))
    with pytest.raises(ShapeError, match=r"'num_consumers' = 2 \(expected 3 = the width"):
        ops.Partition(x, sel, 2)


@pytest.mark.parametrize("n", [0, -1, 1.5, True])
def test_partition_rejects_fewer_than_one_consumer(px, n):
    prog, x = px
    sel = prog.input("sel", sl.Selector(1), (4,))
    with pytest.raises(ShapeError, match=r"Partition: argument 'num_consumers'.*int >= 1"):
        ops.Partition(x, sel, n)


def test_partition_rejects_a_selector_shape_that_is_not_the_input_prefix(px):
    prog, x = px
    sel = prog.input("sel", sl.Selector(2), (5,))
    with pytest.raises(ShapeError, match=r"'sel' = \[5\] \(expected the input's outer dims \[4\]"):
        ops.Partition(x, sel, 2)
    sym = prog.input("sym", sl.Selector(2), (sl.dim("B"),))
    with pytest.raises(ShapeError, match=r"'sel' = \[B\]"):
        ops.Partition(x, sym, 2)


def test_partition_rejects_arguments_that_are_not_streams(px):
    prog, x = px
    with pytest.raises(ShapeError, match=r"Partition: argument 'sel' is list"):
        ops.Partition(x, [0, 1], 2)


@pytest.mark.parametrize("x_toks, sel_toks, message", [
    ([1, S(1), 2, S(1), DONE], [{0}, S(1), DONE], "S1 but the input holds a data element"),
    ([1, S(1), 2, S(1), DONE], [{0}, DONE], "selector ended but the input still holds"),
    ([1, S(1), DONE], [{0}, {0}, DONE], "input is at Done \\(expected a complete rank-1"),
])
def test_partition_raises_when_selector_and_input_structures_disagree(x_toks, sel_toks, message):
    prog = sl.Program("p")
    x = prog.input("x", F32, (2, 1))
    sel = prog.input("sel", sl.Selector(1), (2,))
    prog.output("o", ops.Partition(x, sel, 1)[0])
    with pytest.raises(StepError, match=f"'partition0' \\(Partition\\): .*{message}"):
        sl.interpret(prog, inputs={"x": Unchecked(x_toks), "sel": Unchecked(sel_toks)})


def test_partition_raises_when_a_selector_stop_does_not_match_the_closed_level():
    R = sl.dim("R")
    prog = sl.Program("p")
    x = prog.input("x", F32, (2, R, 1), ragged=[R])
    sel = prog.input("sel", sl.Selector(1), (2, R), ragged=[R])
    prog.output("o", ops.Partition(x, sel, 1)[0])
    with pytest.raises(StepError, match="data element where S1 was expected"):
        sl.interpret(prog, inputs={"x": [1, S(2), 2, S(2), DONE],
                                   "sel": Unchecked([{0}, {0}, S(1), DONE])},
                     bindings={"R": 1})


def test_partition_rejects_out_of_range_selector_values_at_run_time():
    prog = sl.Program("p")
    node = ops.Partition(prog.input("x", F32, (1,)), prog.input("s", sl.Selector(2), (1,)), 2)
    with pytest.raises(StepError, match=r"names index 5 \(expected indices 0 <= i < 2\)"):
        drive(node[0].node, {0: [1, DONE], 1: [frozenset({5}), DONE]}, [0, 1])


# -- Reassemble: tokens --------------------------------------------------------------------------
def test_reassemble_fig4_in_functional_order():
    prog, out, values, bindings = fig4_program()
    res = sl.interpret(prog, inputs=values, bindings=bindings)
    assert plain(res.tokens["out"]) == [W, W, W, S(1), X, S(2), Z, Z, S(1), Y, Y, S(2), DONE]


def test_reassemble_fig4_in_arrival_order_when_in7_arrives_first():
    _, out, values, _ = fig4_program()
    feeds = {i: encode(values[f"in{i}"], 1) for i in range(8)}
    feeds[8] = encode(values["sel"], 0)
    (toks,) = drive(out.node, feeds, prefer=[7, 0, 1, 2, 3, 4, 5, 6])
    assert toks == [W, W, W, S(1), X, S(2), Y, Y, S(1), Z, Z, S(2), DONE]


def test_reassemble_fig4_output_shape_has_a_fresh_ragged_group_symbol():
    _, out, _, _ = fig4_program()
    G, D0 = sl.dim("reassemble0_g"), sl.dim("D0")
    assert out.shape == (2, G, D0) and out.ragged == frozenset({G, D0})


def test_reassemble_of_rank_zero_inputs_closes_each_group_with_s1():
    prog = sl.Program("p")
    ins = [prog.input(f"i{k}", F32, (2,)) for k in range(2)]
    out = ops.Reassemble(ins, prog.input("sel", sl.Selector(2), (4,)))
    prog.output("o", out)
    res = sl.interpret(prog, inputs={"i0": [1, 2], "i1": [3, 4],
                                     "sel": sets({0}, {1}, set(), {0, 1})})
    assert out.shape == (4, sl.dim("reassemble0_g"))
    assert plain(res.tokens["o"]) == [1, S(1), 3, S(1), S(1), 2, 4, S(1), DONE]


def test_reassemble_maps_selector_stops_and_merges_them_with_the_group_closer():
    R = sl.dim("R")
    prog = sl.Program("p")
    ins = [prog.input(f"i{k}", F32, (2, 1)) for k in range(2)]
    sel = prog.input("sel", sl.Selector(2), (3, R), ragged=[R])
    out = ops.Reassemble(ins, sel)
    prog.output("o", out)
    res = sl.interpret(prog, inputs={"i0": [[1], [2]], "i1": [[3], [4]],
                                     "sel": [{0}, {1}, S(1), {0, 1}, S(1), S(1), DONE]},
                       bindings={"R": 2})
    assert out.rank == 3 and out.ragged == frozenset({R, sl.dim("reassemble0_g")})
    assert plain(res.tokens["o"]) == [1, S(2), 3, S(3), 2, S(1), 4, S(3), S(3), DONE]


def test_reassemble_of_rank_two_chunks_separates_them_with_s2():
    prog = sl.Program("p")
    ins = [prog.input(f"i{k}", F32, (1, 2, 1)) for k in range(2)]
    out = ops.Reassemble(ins, prog.input("sel", sl.Selector(2), (1,)))
    prog.output("o", out)
    res = sl.interpret(prog, inputs={"i0": [[[1], [2]]], "i1": [[[3], [4]]],
                                     "sel": sets({0, 1})})
    assert out.shape == (1, sl.dim("reassemble0_g"), 2, 1)
    assert plain(res.tokens["o"]) == [1, S(1), 2, S(2), 3, S(1), 4, S(3), DONE]


def test_reassemble_emits_the_group_closer_at_once_for_an_empty_selection():
    prog = sl.Program("p")
    ins = [prog.input("i0", F32, (0, 3))]
    out = ops.Reassemble(ins, prog.input("sel", sl.Selector(1), (2,)))
    prog.output("o", out)
    res = sl.interpret(prog, inputs={"i0": [], "sel": sets(set(), set())})
    assert res.tokens["o"] == [S(2), S(2), DONE]


# -- Reassemble: typing --------------------------------------------------------------------------
def test_reassemble_turns_disagreeing_inner_dims_into_fresh_ragged_symbols():
    prog = sl.Program("p")
    A, B = sl.dim("A"), sl.dim("B")
    ins = [prog.input("i0", F32, (2, A, 4, 7)), prog.input("i1", F32, (3, B, 4, A)),
           prog.input("i2", F32, (1, A, 4, 7))]
    out = ops.Reassemble(ins, prog.input("sel", sl.Selector(3), (sl.dim("E"),)))
    d2, d0 = sl.dim("reassemble0_d2"), sl.dim("reassemble0_d0")
    assert out.shape == (sl.dim("E"), sl.dim("reassemble0_g"), d2, 4, d0)
    assert {d2, d0} <= out.ragged


def test_reassemble_fresh_symbols_follow_a_user_given_node_name():
    prog = sl.Program("p")
    ins = [prog.input("i0", F32, (2,))]
    out = ops.Reassemble(ins, prog.input("sel", sl.Selector(1), (2,)), name="gather-rows")
    assert out.shape == (2, sl.dim("gather_rows_g"))


def test_reassemble_types_are_identical_when_the_program_is_rebuilt():
    assert str(fig4_program()[1].type) == str(fig4_program()[1].type)


def test_reassemble_merges_dynamic_tiles_that_differ_in_symbolic_rows():
    prog = sl.Program("p")
    ins = [prog.input(f"i{k}", sl.Tile(sl.dim(f"T{k}"), 64, "bf16"), (1,)) for k in range(2)]
    out = ops.Reassemble(ins, prog.input("sel", sl.Selector(2), (2,)))
    assert out.dtype == sl.Tile(sl.dim("reassemble0_rows"), 64, "bf16")


# -- Reassemble: errors --------------------------------------------------------------------------
def _reassemble_error(shapes, dtypes=None, width=None, sel_dtype=None):
    prog = sl.Program("p")
    dtypes = dtypes or [F32] * len(shapes)
    ins = [prog.input(f"i{k}", t, s) for k, (s, t) in enumerate(zip(shapes, dtypes, strict=True))]
    sel_dtype = sel_dtype or sl.Selector(width or len(shapes))
    return ins, prog.input("sel", sel_dtype, (3,))


@pytest.mark.parametrize("kwargs, message", [
    (dict(shapes=[(2, 3), (2, 3, 1)]), r"'streams' = streams\[0\] rank 1, streams\[1\] rank 2"),
    (dict(shapes=[(2, 3), (2, 3)], dtypes=[F32, sl.Tile(1, 1, "bf16")]), r"one dtype"),
    (dict(shapes=[(2, 3), (2, 3)], dtypes=[F32, sl.Tile(2, 1, "f32")]), r"one dtype"),
    (dict(shapes=[(2, 3), (2, 4)]), r"\[2, 3\], streams\[1\] \[2, 4\] \(expected equal static"),
    (dict(shapes=[(2, 3), (2, 3)], width=3), r"'sel' = Selector\[3\] \(expected width 2"),
    (dict(shapes=[(2, 3)], sel_dtype=F32), r"'sel' .*expected a stream of Selector\[n\]"),
])
def test_reassemble_construction_errors_name_the_argument(kwargs, message):
    ins, sel = _reassemble_error(**kwargs)
    with pytest.raises(ShapeError, match="^Reassemble: argument .*" + message):
        ops.Reassemble(ins, sel)


def test_reassemble_requires_a_list_of_streams():
    prog = sl.Program("p")
    x, sel = prog.input("x", F32, (2,)), prog.input("sel", sl.Selector(1), (2,))
    with pytest.raises(ShapeError, match=r"'streams' = Stream .*expected a list of streams"):
        ops.Reassemble(x, sel)
    with pytest.raises(ShapeError, match=r"'streams' = \[\] \(expected at least one"):
        ops.Reassemble([], sel)


def test_reassemble_raises_when_an_input_still_has_data_at_selector_done():
    prog = sl.Program("p")
    ins = [prog.input(f"i{k}", F32, (1,)) for k in range(2)]
    prog.output("o", ops.Reassemble(ins, prog.input("sel", sl.Selector(2), (1,))))
    with pytest.raises(StepError, match=r"'reassemble0'.*input 1 \('i1'\) still holds a data"):
        sl.interpret(prog, inputs={"i0": [1], "i1": [2], "sel": sets({0})})


def test_reassemble_raises_when_a_selected_input_is_exhausted():
    prog = sl.Program("p")
    ins = [prog.input(f"i{k}", F32, (1,)) for k in range(2)]
    prog.output("o", ops.Reassemble(ins, prog.input("sel", sl.Selector(2), (2,))))
    with pytest.raises(StepError, match=r"selects inputs \[1\] \['i1'\] but they are at Done"):
        sl.interpret(prog, inputs={"i0": [1], "i1": [2], "sel": sets({1}, {1})})


def test_reassemble_describes_rank_and_inputs():
    assert fig4_program()[1].node.describe() == "rank=1, num_inputs=8"


# -- EagerMerge ----------------------------------------------------------------------------------
def eager_program(shapes, values, *, dtypes=None, ragged=(), bindings=None):
    prog = sl.Program("p")
    dtypes = dtypes or [F32] * len(shapes)
    ins = [prog.input(f"i{k}", t, s, ragged=ragged)
           for k, (s, t) in enumerate(zip(shapes, dtypes, strict=True))]
    data, which = ops.EagerMerge(ins)
    prog.output("data", data)
    prog.output("sel", which)
    inputs = {f"i{k}": v for k, v in enumerate(values or ())}
    res = sl.interpret(prog, inputs=inputs, bindings=bindings) if values else None
    return data, which, res


def test_eager_merge_spec_example():
    D0 = sl.dim("D0")
    data, which, res = eager_program([(2, D0), (1, D0)], [[[1], [2, 2]], [[3]]], ragged=[D0],
                                     bindings={"D0": 2})
    assert plain(res.tokens["data"]) == [1, S(1), 3, S(1), 2, 2, S(1), DONE]
    assert res.tokens["sel"] == sets({0}, {1}, {0}) + [DONE]
    assert data.shape == (3, D0) and data.ragged == frozenset({D0})
    assert which.shape == (3,) and which.dtype == sl.Selector(2)


def test_eager_merge_serves_inputs_cyclically_after_the_last_served():
    _, _, res = eager_program([(3,), (2,), (1,)], [[1, 2, 3], [4, 5], [6]])
    assert plain(res.tokens["data"]) == [1, 4, 6, 2, 5, 3, DONE]
    assert res.tokens["sel"] == sets({0}, {1}, {2}, {0}, {1}, {0}) + [DONE]


def test_eager_merge_forwards_rank_two_chunks_whole():
    _, _, res = eager_program([(1, 2, 1), (1, 2, 1)], [[[[1], [2]]], [[[3], [4]]]])
    assert plain(res.tokens["data"]) == [1, S(1), 2, S(2), 3, S(1), 4, S(2), DONE]


def test_eager_merge_follows_the_driver_choice_in_arrival_order():
    data, _, _ = eager_program([(2, 1), (1, 1)], None)
    outs = drive(data.node, {0: encode([[1], [2]], 1), 1: encode([[3]], 1)}, prefer=[1, 0])
    assert outs == [[3, S(1), 1, S(1), 2, S(1), DONE], sets({1}, {0}, {0}) + [DONE]]


def test_eager_merge_output_count_is_the_symbolic_sum_of_input_counts():
    X0, X1 = sl.dim("X0"), sl.dim("X1")
    data, which, _ = eager_program([(X0, 4), (X1, 4)], None)
    assert at(data.shape[0], X0=3, X1=5) == 8 and at(which.shape[0], X0=0, X1=2) == 2
    assert data.shape[1:] == (4,)


def test_eager_merge_absorbs_a_ragged_count_into_a_fresh_regular_symbol():
    R = sl.dim("R")
    data, which, _ = eager_program([(R, R), (2, R)], None, ragged=[R])
    n = sl.dim("eagermerge0_n")
    assert data.shape == (n, R) and which.shape == (n,) and n not in data.ragged


def test_eager_merge_turns_disagreeing_inner_dims_into_fresh_ragged_symbols():
    data, _, _ = eager_program([(2, sl.dim("A")), (2, 4)], None)
    assert data.shape == (4, sl.dim("eagermerge0_d0"))
    assert data.ragged == frozenset({sl.dim("eagermerge0_d0")})


def test_eager_merge_of_dynamic_tiles_merges_their_symbolic_rows():
    tiles = [sl.Tile(sl.dim("T0"), 64), sl.Tile(sl.dim("T1"), 64)]
    data, _, _ = eager_program([(1,), (1,)], None, dtypes=tiles)
    assert data.dtype == sl.Tile(sl.dim("eagermerge0_rows"), 64)


@pytest.mark.parametrize("shapes, dtypes, message", [
    ([(2, 3), (2,)], None, r"streams\[0\] rank 1, streams\[1\] rank 0"),
    ([(2,), (2,)], [F32, sl.Selector(2)], r"expected inputs of one dtype"),
    ([(2, 3), (2, 5)], None, r"expected equal static dims of rank 0"),
])
def test_eager_merge_construction_errors_name_the_argument(shapes, dtypes, message):
    with pytest.raises(ShapeError, match="^EagerMerge: argument 'streams' = .*" + message):
        eager_program(shapes, None, dtypes=dtypes)


def test_eager_merge_needs_at_least_one_input():
    with pytest.raises(ShapeError, match=r"EagerMerge: argument 'streams' = \[\] \(expected at"):
        ops.EagerMerge([])


def test_eager_merge_describes_rank_and_inputs():
    data, _, _ = eager_program([(2, 3), (2, 3)], None)
    assert data.node.describe() == "rank=1, num_inputs=2"


# -- properties ----------------------------------------------------------------------------------
def _tree(draw, counter, depth: int):
    if depth == 0:
        return float(next(counter))
    return [_tree(draw, counter, depth - 1) for _ in range(draw(st.integers(1, 3)))]


def _selector_for(draw, t, depth: int, n: int, multi_hot: bool):
    if depth > 0:
        return [_selector_for(draw, c, depth - 1, n, multi_hot) for c in t]
    if multi_hot:
        return draw(st.frozensets(st.integers(0, n - 1), max_size=n))
    return frozenset({draw(st.integers(0, n - 1))})


def _regroup(t, s, depth: int):
    """Reference: each chunk at selector depth repeated once per selected output."""
    if depth == 0:
        return [t] * len(s)
    return [_regroup(tc, sc, depth - 1) for tc, sc in zip(t, s, strict=True)]


@st.composite
def routed(draw):
    a = draw(st.integers(0, 2))
    b = draw(st.integers(0, a))
    n = draw(st.integers(1, 3))
    multi_hot = draw(st.booleans())
    counter = itertools.count(1)
    data = [_tree(draw, counter, a) for _ in range(draw(st.integers(0, 3)))]
    sel = [_selector_for(draw, t, b, n, multi_hot) for t in data]
    return a, b, n, multi_hot, data, sel


@settings(max_examples=60, deadline=None)
@given(routed())
def test_reassemble_after_partition_repeats_each_chunk_per_selected_output(case):
    a, b, n, multi_hot, data, sel = case
    inner = tuple(sl.dim(f"R{k}") for k in range(a))
    prog = sl.Program("p")
    x = prog.input("x", F32, (len(data),) + inner, ragged=inner)
    s = prog.input("sel", sl.Selector(n), (len(data),) + inner[:b], ragged=inner)
    parts = ops.Partition(x, s, n)
    out = ops.Reassemble(list(parts), s)
    prog.output("out", out)
    res = sl.interpret(prog, inputs={"x": data, "sel": sel},
                       bindings={f"R{k}": 3 for k in range(a)})
    expected = [_regroup(t, k, b) for t, k in zip(data, sel, strict=True)]
    assert plain(res.tokens["out"]) == encode(expected, a + 1)
    if not multi_hot:   # one-hot: the identity on data, up to the unit group dimension G = 1
        assert _squeeze(decode(plain(res.tokens["out"]), a + 1), b) == data


def _squeeze(tensors, depth: int):
    if depth == 0:
        return [g[0] for g in tensors]
    return [_squeeze(t, depth - 1) for t in tensors]


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2), st.integers(1, 3), st.data())
def test_eager_merge_conserves_chunks_and_partition_by_its_selector_undoes_it(a, n, draw):
    counter = itertools.count(1)
    values = [[_tree(draw.draw, counter, a) for _ in range(draw.draw(st.integers(0, 3)))]
              for _ in range(n)]
    prog = sl.Program("p")
    inner = tuple(range(3, 3 + a))
    ins = [prog.input(f"i{k}", F32, (len(v),) + inner) for k, v in enumerate(values)]
    data, which = ops.EagerMerge(ins)
    prog.output("data", data)
    prog.output("sel", which)
    for k, back in enumerate(ops.Partition(data, which, n)):
        prog.output(f"back{k}", back)
    res = sl.interpret(prog, inputs={f"i{k}": v for k, v in enumerate(values)})
    chunks = decode(plain(res.tokens["data"]), a)
    sources = res.tokens["sel"][:-1]
    assert len(chunks) == len(sources) == sum(len(v) for v in values)
    assert all(len(src) == 1 for src in sources)
    for k, v in enumerate(values):
        assert [c for c, src in zip(chunks, sources, strict=True) if src == {k}] == v
        assert decode(plain(res.tokens[f"back{k}"]), a) == v
