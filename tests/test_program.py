"""Program building, graph errors, bindings and the interpreter driver."""
import numpy as np
import pytest

import step_lab as sl
from step_lab import ops
from step_lab.ir.tokens import DONE, S


def test_input_stream_tokens_flow_to_a_named_output():
    prog = sl.Program("p")
    sel = prog.input("sel", sl.Selector(3), (4,))
    prog.output("o", sel)
    res = sl.interpret(prog, inputs={"sel": [0, [1, 2], np.array([True, False, True]), []]})
    assert res.tokens["o"] == [frozenset({0}), frozenset({1, 2}), frozenset({0, 2}),
                               frozenset(), DONE]


def test_nested_input_values_are_encoded_with_stop_tokens():
    prog = sl.Program("p")
    s = prog.input("s", sl.Tile(1, 2, "f32"), (2, 3))
    prog.output("o", s)
    data = np.arange(12, dtype=np.float32).reshape(2, 3, 1, 2)
    res = sl.interpret(prog, inputs={"s": data})
    toks = res.tokens["o"]
    assert [t for t in toks if not isinstance(t, np.ndarray)] == [S(1), S(1), DONE]
    np.testing.assert_array_equal(np.array(res.values["o"]), data)


def test_stream_type_prints_like_the_paper():
    prog = sl.Program("p")
    D = sl.dim("D")
    s = prog.input("x", sl.Tile(4, 64, "bf16"), (sl.ceil_div(D, 4), 4))
    assert str(s.type) == "Stream<Tile[4,64] bf16>[⌈D/4⌉, 4]"
    assert s.rank == 1 and s.shape[1] == 4


def test_streams_of_two_programs_cannot_meet_in_one_operator():
    a, b = sl.Program("a"), sl.Program("b")
    x = a.input("x", sl.Tile(1, 4, "f32"), (2,))
    y = b.input("y", sl.Tile(1, 4, "f32"), (2,))
    with pytest.raises(sl.GraphError, match=r"different programs \['a', 'b'\]"):
        ops.Zip(x, y)


def test_output_of_a_foreign_stream_is_a_graph_error():
    a, b = sl.Program("a"), sl.Program("b")
    x = a.input("x", sl.Tile(1, 4, "f32"), (2,))
    with pytest.raises(sl.GraphError, match="belongs to program 'a'"):
        b.output("o", x)


def test_duplicate_names_are_rejected_with_the_name():
    prog = sl.Program("p")
    prog.tensor("W", (4, 4))
    with pytest.raises(sl.GraphError, match="tensor 'W' is declared twice"):
        prog.tensor("W", (4, 4))
    x = prog.input("x", sl.Tile(1, 4, "f32"), (2,))
    prog.output("o", x)
    with pytest.raises(sl.GraphError, match="output 'o' is declared twice"):
        prog.output("o", x)


def test_unknown_dtype_names_the_value_and_suggests():
    prog = sl.Program("p")
    with pytest.raises(sl.ShapeError, match=r"unknown tensor 'W' dtype 'bf61'.*did you mean"):
        prog.tensor("W", (4, 4), "bf61")
    with pytest.raises(sl.ShapeError, match="unknown dtype 'float8'"):
        sl.Tile(4, 4, "float8")


@pytest.mark.parametrize("rows", [0, -1])
def test_zero_or_negative_tile_sizes_are_rejected(rows):
    with pytest.raises(sl.ShapeError, match="tile rows"):
        sl.Tile(rows, 4, "f32") if rows < 0 else _zero_tile_load()


def _zero_tile_load():
    prog = sl.Program("p")
    W = prog.tensor("W", (4, 4), "f32")
    ops.LinearOffChipLoad(W, tile=(0, 4))


def test_feedback_needs_a_buffer_and_a_connection():
    prog = sl.Program("p")
    with pytest.raises(sl.GraphError, match="needs a FIFO buffer of depth >= 1"):
        prog.feedback(sl.Selector(2), (4,), depth=0)
    prog.feedback(sl.Selector(2), (4,))
    with pytest.raises(sl.GraphError, match="was never connected"):
        sl.interpret(prog)


def test_feedback_connect_checks_the_declared_type():
    prog = sl.Program("p")
    fb = prog.feedback(sl.Selector(2), (4,))
    x = prog.input("x", sl.Selector(2), (5,))
    with pytest.raises(sl.ShapeError, match="was declared"):
        prog.connect(fb, x)


def test_unbound_input_symbols_raise_binding_error_listing_them():
    prog = sl.Program("p")
    B = sl.dim("B")
    X = prog.tensor("X", (B, 64), "f32")
    prog.output("o", ops.LinearOffChipLoad(X, tile=(1, 64)))
    with pytest.raises(sl.BindingError, match=r"unbound symbols \{'B'\}"):
        sl.interpret(prog)


def test_input_array_with_the_wrong_shape_names_the_tensor():
    prog = sl.Program("p")
    X = prog.tensor("X", (8, 64), "f32")
    prog.output("o", ops.LinearOffChipLoad(X, tile=(1, 64)))
    with pytest.raises(sl.BindingError, match=r"tensor 'X' has shape \(8, 32\)"):
        sl.interpret(prog, inputs={"X": np.zeros((8, 32))})


def test_unknown_input_name_suggests_the_closest():
    prog = sl.Program("p")
    prog.tensor("weights", (8, 64), "f32")
    with pytest.raises(sl.BindingError, match="did you mean 'weights'"):
        sl.interpret(prog, inputs={"weigths": np.zeros((8, 64))})


def test_missing_input_stream_value_is_a_clear_error():
    prog = sl.Program("p")
    prog.output("o", prog.input("sel", sl.Selector(2), (3,)))
    with pytest.raises(sl.BindingError, match="input stream 'sel'"):
        sl.interpret(prog)


def test_selector_index_out_of_range_names_the_input():
    prog = sl.Program("p")
    prog.output("o", prog.input("sel", sl.Selector(2), (1,)))
    with pytest.raises(sl.ShapeError, match="input 'sel': selector index 5"):
        sl.interpret(prog, inputs={"sel": [5]})


def test_node_names_are_unique_readable_and_overridable():
    prog = sl.Program("p")
    x = prog.input("x", sl.Tile(1, 4, "f32"), (2, 3))
    a = ops.Flatten(x, 0, 1)
    b = ops.Flatten(x, 0, 1, name="flat_custom")
    assert a.node.name == "flatten0" and b.node.name == "flat_custom"
    with pytest.raises(sl.GraphError, match="'flat_custom' is already used"):
        ops.Flatten(x, 0, 1, name="flat_custom")
    assert prog.node("flatten0") is a.node
    with pytest.raises(sl.GraphError, match="did you mean"):
        prog.node("flaten0")


def test_rebuilding_a_program_gives_the_same_fingerprint():
    def build():
        prog = sl.Program("p")
        B = sl.dim("B")
        x = prog.input("x", sl.Tile(1, 4, "f32"), (B, 3))
        prog.output("o", ops.Flatten(x, 0, 1))
        return prog
    assert build().fingerprint() == build().fingerprint()


F11 = sl.Tile(1, 1, "f32")


def _one(v):
    return np.full((1, 1), v, np.float32)


@pytest.mark.parametrize("shape, tokens, message", [
    ((2, sl.dim("D0")), [_one(1), S(3), DONE], "token 1 is S3 but the stream has rank 1"),
    ((2,), [_one(1), S(1), _one(2), DONE], "a rank-0 stream has no stop tokens"),
    ((1, sl.dim("D0")), [_one(1), _one(2), DONE], "ends with .* \\(expected S1"),
    ((2, sl.dim("D0")), [_one(1), S(1)], "must end with exactly one DONE"),
])
def test_malformed_input_token_lists_are_rejected_naming_the_input(shape, tokens, message):
    # Review finding: these used to pass silently or fail deep inside with a raw exception.
    prog = sl.Program("p")
    x = prog.input("x", F11, shape, ragged=[d for d in shape if not isinstance(d, int)])
    prog.output("o", x)
    with pytest.raises(sl.ShapeError, match="input 'x'.*" + message):
        sl.interpret(prog, inputs={"x": tokens})


def test_input_tiles_of_the_wrong_shape_or_type_are_rejected():
    prog = sl.Program("p")
    prog.output("o", prog.input("x", F11, (1,)))
    with pytest.raises(sl.ShapeError, match=r"input 'x'.*shape \(2, 2\) does not fit"):
        sl.interpret(prog, inputs={"x": [np.zeros((2, 2))]})
    with pytest.raises(sl.ShapeError, match="input 'x'.*is not a Tile"):
        sl.interpret(prog, inputs={"x": ["a"]})
