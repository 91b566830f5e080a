"""lint(): warnings about programs that type-check but are probably not what was meant."""
import numpy as np
import pytest

import step_lab as sl
from step_lab import fn, ops
from step_lab.analysis import lint

ROW = sl.Tile(1, 64, "bf16")


def _routed_program(consume_both=True):
    prog = sl.Program("routed")
    x = prog.input("x", ROW, (10, 1))
    sel = prog.input("sel", sl.Selector(2), (10,))
    a, b = ops.Partition(x, sel, 2)
    prog.output("a", ops.Flatten(a, 0, 1))
    if consume_both:
        prog.output("b", ops.Flatten(b, 0, 1))
    return prog


def test_a_clean_program_has_no_warnings():
    prog = _routed_program()
    assert lint(prog) == []
    assert prog.lint() == []


def test_partition_symbols_derived_from_the_selector_are_not_reported():
    prog = _routed_program()
    assert {s.name for s in prog.symbols()} == {"sel_x0", "sel_x1"}
    assert not any("symbol" in w for w in lint(prog))


def test_an_unconsumed_partition_output_is_reported_with_its_port():
    warnings = lint(_routed_program(consume_both=False))
    assert len(warnings) == 1
    assert "Partition 'partition0' output 1" in warnings[0]
    assert "'partition0.1'" in warnings[0] and "lost" in warnings[0]


def test_a_never_connected_feedback_placeholder_is_reported():
    prog = sl.Program("loop")
    fb = prog.feedback(ROW, (4,), name="back")
    prog.output("o", ops.Flatten(fb, 0, 0))
    warnings = lint(prog)
    assert any("feedback placeholder 'back'" in w and "never connected" in w
               and "prog.connect(back" in w for w in warnings)


def test_a_connected_feedback_placeholder_is_not_reported():
    prog = sl.Program("loop")
    x = prog.input("x", ROW, (4,))
    fb = prog.feedback(ROW, (4,), name="back")
    prog.output("o", ops.Zip(x, fb))
    prog.connect(fb, ops.Flatten(x, 0, 0))
    assert lint(prog) == []


def test_an_input_stream_never_consumed_is_reported():
    prog = _routed_program()
    prog.input("unused", sl.Selector(3), (5,))
    warnings = lint(prog)
    assert warnings == ["input stream 'unused' (Stream<Selector[3]>[5]) is never consumed"]


def test_a_stream_without_consumer_is_reported_as_implicitly_drained():
    prog = sl.Program("p")
    x = prog.input("x", ROW, (2, 3))
    ops.Flatten(x, 0, 1)
    warnings = lint(prog)
    assert len(warnings) == 1
    assert "stream 'flatten0'" in warnings[0] and "Flatten 'flatten0'" in warnings[0]
    assert "implicitly drained" in warnings[0]


def test_the_padding_output_of_a_reshape_without_pad_is_not_reported():
    prog = sl.Program("p")
    x = prog.input("x", ROW, (2, 4))
    data, _ = ops.Reshape(x, 0, 2)
    prog.output("d", data)
    assert lint(prog) == []


def test_the_padding_output_of_a_padded_reshape_is_reported():
    prog = sl.Program("p")
    x = prog.input("x", ROW, (sl.dim("N"),))
    data, _ = ops.Reshape(x, 0, 4, pad=np.zeros((1, 64)))
    prog.output("d", data)
    warnings = lint(prog)
    assert any("'reshape0.1'" in w and "implicitly drained" in w for w in warnings)


def test_an_unused_tensor_is_reported():
    prog = _routed_program()
    prog.tensor("W", (64, 64), "bf16")
    assert lint(prog) == ["tensor 'W' (W[64, 64] bf16) is declared but no load or store uses it"]


def test_input_symbols_are_listed_as_a_binding_hint():
    prog = sl.Program("p")
    x = prog.input("x", ROW, (sl.dim("B"), 1))
    prog.output("o", x)
    warnings = lint(prog)
    assert len(warnings) == 1
    assert warnings[0].startswith("hint: input symbols ['B']")
    assert "bindings={'B': …}" in warnings[0]


def test_a_symbol_introduced_by_an_assumption_is_reported_with_its_node():
    prog = sl.Program("p")
    x = prog.input("x", ROW, (4, 1))
    sel = prog.input("sel", sl.Selector(1), (4,))
    (a,) = ops.Partition(x, sel, 1)
    prog.output("o", ops.Assume(a, (sl.dim("L"), 1)))
    warnings = lint(prog)
    assert len(warnings) == 1
    assert "symbol 'L' first appears at Assume 'assume0'" in warnings[0]


def test_the_acknowledgements_of_a_random_store_need_no_consumer():
    prog = sl.Program("scatter")
    out = prog.tensor("O", (8, 64), "bf16", role="output")
    addr = prog.input("addr", sl.Addr, (8,))
    data = prog.input("data", ROW, (8,))
    ops.RandomOffChipStore(addr, data, out)
    assert lint(prog) == []


def test_an_unused_load_is_named_with_its_tensor():
    prog = sl.Program("unused")
    a = prog.tensor("A", (4, 64), "f32")
    w = prog.tensor("W", (64, 64), "f32")
    x = ops.LinearOffChipLoad(a, tile=(1, 64))
    ops.LinearOffChipLoad(w, tile=(64, 64))
    prog.output("o", ops.Map(x, fn.Exp()))
    (warning,) = prog.lint()
    assert "loads tensor 'W'" in warning and "never used" in warning and "off-chip" in warning


def test_a_failed_operator_call_leaves_no_helper_node_behind():
    prog = sl.Program("rollback")
    x = ops.LinearOffChipLoad(prog.tensor("A", (4, 64), "f32"), tile=(1, 64))
    before = (list(prog.nodes), list(prog.streams))
    with pytest.raises(sl.StepError, match="argument 'fn'"):
        ops.Map([x, x], "not a function")          # zips [x, x] before checking fn
    assert (list(prog.nodes), list(prog.streams)) == before
    assert not any(type(n).__name__ == "Zip" for n in prog.nodes)
    prog.output("named", ops.Map(x, fn.Exp(), name="taken"))
    before = (list(prog.nodes), list(prog.streams))
    with pytest.raises(sl.StepError, match="already used"):
        ops.Map([x, x], fn.Add(), name="taken")    # zips, then fails on its name
    assert (list(prog.nodes), list(prog.streams)) == before
    y = ops.Map([x, x], fn.Add())                  # the name of the rolled-back Zip is free
    assert [type(n).__name__ for n in prog.nodes] == ["LinearOffChipLoad", "Map", "Output", "Zip",
                                                "Map"]
    prog.output("o", y)
    assert prog.lint() == []
