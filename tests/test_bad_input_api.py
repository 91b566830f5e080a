"""Bad input to the Python entry points: every kind of bad value gets a named StepError.

Bindings, input arrays, input streams, work limits, hardware configs and other arguments of
``simulate``, ``interpret``, ``metrics(...).evaluate`` and ``Workload.simulate`` (issue 13).
"""
from fractions import Fraction

import numpy as np
import pytest
import sympy

import step_lab as sl
from step_lab import DONE, S, fn, ops
from step_lab.errors import BindingError, ConfigError, InputError, ShapeError, StepError
from step_lab.interpret import Unchecked
from step_lab.workloads.base import Workload


def load_prog():
    prog = sl.Program("p")
    X = prog.tensor("X", (sl.dim("B"), 64), "f32")
    prog.output("o", ops.LinearOffChipLoad(X, tile=(1, 64)))
    return prog


def stream_prog(n=3):
    prog = sl.Program("s")
    prog.output("o", prog.input("x", sl.Scalar("f32"), (n,)))
    return prog


def run_simulate(prog, **kw):
    return sl.simulate(prog, **kw)


def run_interpret(prog, **kw):
    return sl.interpret(prog, **kw)


def run_workload(prog, bindings=None, inputs=None, **kw):
    return Workload(program=prog, bindings=bindings or {}, inputs=inputs or {}).simulate(**kw)


RUNNERS = [run_simulate, run_interpret, run_workload]

BAD_DIMS = [
    (-4, "negative"), (-1, "negative"), (3.5, "float"), (3.0, "float"), (float("nan"), "NaN"),
    (float("inf"), "float"), ("four", "str"), ("4", "str"), (None, "NoneType"), (True, "bool"),
    (False, "bool"), (np.bool_(True), "bool"), (np.float32(2.0), "float"), ([4], "list"),
    (Fraction(7, 2), "rational"), (np.int64(-2), "negative"), (1 + 2j, "complex"),
]


# -- run bindings ----------------------------------------------------------------------------
@pytest.mark.parametrize("runner", RUNNERS, ids=lambda r: r.__name__)
@pytest.mark.parametrize("value, word", BAD_DIMS, ids=lambda v: repr(v)[:20])
def test_a_bad_dim_binding_of_a_run_is_a_binding_error_naming_it(runner, value, word):
    with pytest.raises(BindingError) as err:
        runner(load_prog(), bindings={"B": value})
    msg = str(err.value)
    assert "'B'" in msg and "non-negative integer" in msg and word in msg


@pytest.mark.parametrize("value", [np.int64(2), np.int32(2), np.uint8(2), sympy.Integer(2),
                                   Fraction(4, 2), 2])
def test_integer_like_bindings_run(value):
    res = sl.simulate(load_prog(), bindings={"B": value})
    assert res.offchip_bytes == 2 * 64 * 4


def test_a_symbol_key_binds_like_its_name():
    res = sl.interpret(load_prog(), bindings={sl.dim("B"): 2})
    assert res.offchip_bytes == 2 * 64 * 4


@pytest.mark.parametrize("runner", RUNNERS, ids=lambda r: r.__name__)
def test_an_unknown_binding_name_suggests_the_closest(runner):
    with pytest.raises(BindingError, match=r"'b' names no symbol of 'p'.*did you mean 'B'"):
        runner(load_prog(), bindings={"b": 2})


@pytest.mark.parametrize("key", [3, 2.5, None, ("B",), "not a name", ""])
def test_a_bad_binding_key_is_named(key):
    with pytest.raises(BindingError, match="binding (key|name)"):
        sl.simulate(load_prog(), bindings={key: 2})


@pytest.mark.parametrize("bindings", [[("B", 2)], "B=2", 5, {"B"}])
def test_bindings_that_are_not_a_mapping_are_named(bindings):
    with pytest.raises(BindingError, match="expected a dict"):
        sl.interpret(load_prog(), bindings=bindings)


def test_an_unbound_input_symbol_is_still_named():
    with pytest.raises(BindingError, match=r"unbound symbols \{'B'\}"):
        sl.simulate(load_prog())


# -- metrics bindings -------------------------------------------------------------------------
METRIC_BAD = [(-4, "negative"), (3.5, "float"), ("four", "str"), (None, "NoneType"),
              (True, "bool"), (float("nan"), "NaN"), (Fraction(-1, 2), "rational"),
              (Fraction(7, 2), "rational"), ([3], "list")]


@pytest.mark.parametrize("value, word", METRIC_BAD, ids=lambda v: repr(v)[:20])
def test_a_bad_metric_binding_is_a_binding_error(value, word):
    with pytest.raises(BindingError) as err:
        sl.metrics(load_prog()).evaluate({"B": value})
    assert "'B'" in str(err.value) and word in str(err.value)


@pytest.mark.parametrize("value", [-1, 2.5, "x", None])
def test_a_bad_metric_binding_in_table_is_a_binding_error(value):
    with pytest.raises(BindingError, match="'B'"):
        sl.metrics(load_prog()).table({"B": value})


def test_metrics_never_return_a_negative_traffic():
    with pytest.raises(BindingError, match="negative"):
        sl.metrics(load_prog()).evaluate({"B": -4})


def ragged_prog():
    prog = sl.Program("ragged")
    R = sl.dim("R")
    T = prog.tensor("T", (1, 4), "f32")
    ref = prog.input("lens", sl.Bool, (2, R), ragged=(R,))
    prog.output("b", ops.Bufferize(ops.LinearOffChipLoad(T, tile=(1, 4), ref=ref), 3))
    return prog


def test_a_ragged_dim_may_be_bound_to_a_fraction_in_metrics():
    m = sl.metrics(ragged_prog())
    assert m.evaluate({"R": Fraction(5, 2)}, peak={"R": 4})["offchip_traffic"] == 80


@pytest.mark.parametrize("value", [Fraction(5, 2), 2.5, -3, "4"])
def test_a_peak_is_an_integer(value):
    with pytest.raises(BindingError, match="'R'"):
        sl.metrics(ragged_prog()).evaluate({"R": 2}, peak={"R": value})


def test_a_typo_in_metric_bindings_is_suggested_when_a_symbol_is_unbound():
    with pytest.raises(BindingError, match=r"unbound symbols \['B'\].*'b': did you mean 'B'"):
        sl.metrics(load_prog()).evaluate({"b": 3})


def test_extra_metric_bindings_of_other_variants_are_accepted():
    assert sl.metrics(load_prog()).evaluate({"B": 2, "sel_x9": 4})["offchip_traffic"] == 512


# -- input arrays -----------------------------------------------------------------------------
def tensor_prog(dtype="f32"):
    prog = sl.Program("t")
    X = prog.tensor("X", (8, 64), dtype)
    prog.output("o", ops.LinearOffChipLoad(X, tile=(4, 64)))
    return prog


BAD_ARRAYS = [
    (np.full((8, 64), "a"), "strings"), (np.zeros((8, 64), dtype=object), "Python objects"),
    (np.zeros((8, 64), dtype=complex), "complex"), (np.zeros((8, 32)), "shape"),
    (np.zeros((64, 8)), "shape"), (np.zeros((8, 64, 1)), "shape"), (np.zeros(512), "shape"),
    (np.float32(1.0), "shape"), ("hello", "strings"), ([[1, 2], [3]], "array"),
    (np.zeros((8, 64), dtype="datetime64[s]"), "datetimes"), (None, "Python objects"),
]


@pytest.mark.parametrize("runner", [run_simulate, run_interpret], ids=lambda r: r.__name__)
@pytest.mark.parametrize("value, word", BAD_ARRAYS, ids=lambda v: type(v).__name__)
def test_a_bad_input_array_is_a_named_input_error(runner, value, word):
    with pytest.raises(InputError) as err:
        runner(tensor_prog(), inputs={"X": value})
    assert "'X'" in str(err.value) and word in str(err.value)
    assert isinstance(err.value, ShapeError) and isinstance(err.value, BindingError)


def test_non_integral_floats_for_an_integer_tensor_are_rejected():
    with pytest.raises(InputError, match="non-integral floats"):
        sl.interpret(tensor_prog("i32"), inputs={"X": np.full((8, 64), 1.5)})


def test_integral_floats_and_ints_are_fine_for_any_numeric_tensor():
    res = sl.interpret(tensor_prog("i32"), inputs={"X": np.ones((8, 64))})
    assert res.tokens["o"][0].dtype == np.int32
    res = sl.interpret(tensor_prog(), inputs={"X": np.ones((8, 64), dtype=np.int64)})
    assert res.tokens["o"][0].dtype == np.float32


@pytest.mark.parametrize("inputs", [[1, 2], "X", 3, ("X",)])
def test_inputs_that_are_not_a_mapping_are_named(inputs):
    with pytest.raises(BindingError, match="expected a dict"):
        sl.simulate(tensor_prog(), inputs=inputs)


def test_inputs_for_an_unknown_name_suggest_the_closest():
    with pytest.raises(BindingError, match="did you mean 'X'"):
        sl.simulate(tensor_prog(), inputs={"x": np.zeros((8, 64))})


# -- input streams ----------------------------------------------------------------------------
@pytest.mark.parametrize("runner", [run_simulate, run_interpret], ids=lambda r: r.__name__)
@pytest.mark.parametrize("values", [[1, 2, 3, 4, 5], [1, 2], [], [1, 2, 3, 4]])
def test_an_input_stream_of_the_wrong_length_is_an_error(runner, values):
    with pytest.raises(InputError, match=rf"'x' is declared with 3 .* received {len(values)}"):
        runner(stream_prog(), inputs={"x": values})


def test_a_rank_1_stream_counts_top_level_tensors():
    prog = sl.Program("r1")
    prog.output("o", prog.input("x", sl.Scalar("f32"), (2, 3)))
    with pytest.raises(InputError, match="declared with 2 .* received 3"):
        sl.interpret(prog, inputs={"x": [[1, 2, 3]] * 3})
    assert sl.interpret(prog, inputs={"x": [[1, 2, 3]] * 2}).values["o"] == [[1, 2, 3]] * 2


def test_a_symbolic_stream_length_is_checked_at_its_binding():
    prog = sl.Program("n")
    prog.output("o", prog.input("x", sl.Scalar("f32"), (sl.dim("N"),)))
    with pytest.raises(InputError, match="declared with 2 .* received 4"):
        sl.simulate(prog, inputs={"x": [1, 2, 3, 4]}, bindings={"N": 2})


def test_a_token_list_of_the_wrong_length_is_an_error_but_unchecked_replays_it():
    prog = stream_prog()
    with pytest.raises(InputError, match="received 4"):
        sl.interpret(prog, inputs={"x": [1, 2, 3, 4, DONE]})
    assert len(sl.interpret(prog, inputs={"x": Unchecked([1, 2, 3, 4, DONE])}).values["o"]) == 4


@pytest.mark.parametrize("value", [["a", "b", "c"], [None, 1, 2], [object(), 1, 2],
                                   ["1.5", 2, 3], [b"x", 1, 2], [[1, 2], 1, 2]])
def test_stream_elements_of_the_wrong_type_are_shape_errors(value):
    with pytest.raises(ShapeError, match="input 'x'"):
        sl.interpret(stream_prog(), inputs={"x": value})


def test_a_missing_input_stream_is_named_before_the_run():
    prog = stream_prog()
    with pytest.raises(BindingError, match=r"input stream 'x' .* has no value"):
        sl.simulate(prog)


@pytest.mark.parametrize("tokens", [[1, S(1), DONE], [1, 2, 3, DONE, DONE], [DONE, 1, DONE]])
def test_malformed_token_lists_are_shape_errors(tokens):
    with pytest.raises(ShapeError):
        sl.interpret(stream_prog(), inputs={"x": tokens})


# -- work limits ------------------------------------------------------------------------------
@pytest.mark.parametrize("runner", [run_simulate, run_interpret], ids=lambda r: r.__name__)
@pytest.mark.parametrize("b", [10**9, 10**12, 10**18])
def test_a_huge_binding_is_refused_before_running(runner, b):
    with pytest.raises(ConfigError) as err:
        runner(load_prog(), bindings={"B": b})
    msg = str(err.value)
    assert "data tokens" in msg and "max_events=" in msg and "STEP_LAB_MAX_EVENTS" in msg


def test_the_limit_can_be_lowered_and_raised():
    with pytest.raises(ConfigError, match="limit of 10"):
        sl.simulate(load_prog(), bindings={"B": 40}, max_events=10)
    assert sl.simulate(load_prog(), bindings={"B": 40}, max_events=1000).offchip_bytes > 0


def test_the_limit_can_come_from_the_environment(monkeypatch):
    monkeypatch.setenv("STEP_LAB_MAX_EVENTS", "10")
    with pytest.raises(ConfigError, match=r"limit of 10.*\$STEP_LAB_MAX_EVENTS"):
        sl.interpret(load_prog(), bindings={"B": 40})
    monkeypatch.setenv("STEP_LAB_MAX_EVENTS", "lots")
    with pytest.raises(ConfigError, match="STEP_LAB_MAX_EVENTS = 'lots'"):
        sl.interpret(load_prog(), bindings={"B": 4})


@pytest.mark.parametrize("value", [0, -5, 2.5, "many", True])
def test_a_bad_max_events_is_a_config_error(value):
    with pytest.raises(ConfigError, match="max_events"):
        sl.simulate(load_prog(), bindings={"B": 2}, max_events=value)


def test_a_huge_tensor_is_refused_before_allocating_it():
    prog = sl.Program("big")
    X = prog.tensor("X", (sl.dim("B"), 4096), "f32")
    prog.output("o", ops.LinearOffChipLoad(X, tile=(4096, 4096)))
    with pytest.raises(ConfigError, match="data tokens"):
        sl.simulate(prog, bindings={"B": 4096 * 1000})     # 1000 tiles, 16 G elements


def test_below_the_limit_progress_is_reported():
    seen = []
    sl.simulate(load_prog(), bindings={"B": 50}, progress=seen.append)
    assert seen and seen[-1] == 1.0


# -- other arguments --------------------------------------------------------------------------
@pytest.mark.parametrize("runner", [sl.simulate, sl.interpret], ids=["simulate", "interpret"])
@pytest.mark.parametrize("program", [None, "prog", 3, load_prog])
def test_a_program_argument_that_is_not_a_program_is_a_config_error(runner, program):
    with pytest.raises(ConfigError, match="expected a step_lab Program"):
        runner(program)


def test_passing_a_workload_runs_its_program_with_its_bindings_and_inputs():
    # issue 14: a Workload builds a Run, the one runnable unit simulate() takes
    wl = Workload(program=load_prog(), bindings={"B": 2}, inputs={})
    assert sl.simulate(wl).cycles == sl.simulate(wl.program, bindings={"B": 2}).cycles


def test_passing_something_else_names_the_expected_program():
    with pytest.raises(ConfigError, match="expected a step_lab Program"):
        sl.simulate(object())


@pytest.mark.parametrize("seed", [-1, 1.5, "s", None])
def test_a_bad_seed_is_a_config_error(seed):
    with pytest.raises(ConfigError, match="seed"):
        sl.simulate(load_prog(), bindings={"B": 2}, seed=seed)


@pytest.mark.parametrize("flag", ["trace", "values", "lockstep"])
@pytest.mark.parametrize("value", ["yes", 1, None])
def test_a_bad_flag_is_a_config_error(flag, value):
    with pytest.raises(ConfigError, match=f"{flag} = "):
        sl.simulate(load_prog(), bindings={"B": 2}, **{flag: value})


@pytest.mark.parametrize("hw", ["papr", None, 3, {"fifo_depth": 2}])
def test_a_bad_hardware_argument_is_a_config_error(hw):
    with pytest.raises(ConfigError, match="hw|hardware preset"):
        sl.simulate(load_prog(), hw=hw, bindings={"B": 2})


@pytest.mark.parametrize("field, value", [("fifo_depth", 0), ("fifo_depth", 2.0),
                                          ("fifo_depth", "2"), ("fifo_depth", None),
                                          ("hbm_channels", True), ("hbm_channels", -3)])
def test_bad_hardware_fields_are_config_errors(field, value):
    with pytest.raises(ConfigError, match=f"{field} = "):
        sl.HardwareConfig(**{field: value})


def test_numpy_integers_are_fine_in_a_hardware_config():
    hw = sl.HardwareConfig(fifo_depth=np.int64(3))
    assert hw.fifo_depth == 3 and type(hw.fifo_depth) is int


@pytest.mark.parametrize("kw", [{"jobs": 0}, {"jobs": 1.5}, {"jobs": "2"}])
def test_bad_sweep_jobs_are_config_errors(kw):
    with pytest.raises(ConfigError, match="jobs"):
        sl.dse.sweep(abs, {"x": [1]}, progress=False, **kw)


def test_a_sweep_over_a_non_callable_is_a_config_error():
    with pytest.raises(ConfigError, match="expected a callable"):
        sl.dse.sweep(42, {"x": [1]}, progress=False)


# -- semantics --------------------------------------------------------------------------------
def test_sl_workloads_and_sl_dse_are_lazy_attributes():
    assert sl.workloads.moe_layer and sl.dse.sweep
    with pytest.raises(AttributeError, match="did you mean 'workloads'"):
        sl.wrkloads  # noqa: B018


def ragged_sum_prog():
    prog = sl.Program("rag")
    R = sl.dim("R")
    T = prog.tensor("T", (1, 4), "f32")
    lens = prog.input("lens", sl.Bool, (3, R), ragged=(R,))
    prog.output("b", ops.Bufferize(ops.LinearOffChipLoad(T, tile=(1, 4), ref=lens), 3))
    return prog


def test_onchip_peak_bytes_binds_ragged_dims_at_their_maximum():
    prog = ragged_sum_prog()
    lens = [[True], [True] * 5, [True] * 3]        # R = 1, 5, 3: mean 3, max 5
    res = sl.simulate(prog, inputs={"lens": lens})
    m = sl.metrics(prog)
    assert res.measured["R"] == 3
    assert res.onchip_peak_bytes == m.evaluate({"R": 3}, peak={"R": 5})["onchip_memory"]
    assert res.onchip_peak_bytes > m.evaluate({"R": 3})["onchip_memory"]


def test_accum_growing_a_tile_along_a_ragged_dim_gets_a_fresh_symbol():
    prog = sl.Program("acc")
    R = sl.dim("R")
    x = prog.input("x", sl.Tile(2, 64, "f32"), (3, R), ragged=(R,))
    out = ops.Accum(x, fn.RetileRow(), fn.Empty((0, 64), "f32"), 1)
    rows = out.dtype.rows
    assert isinstance(rows, sympy.Symbol) and rows.name == "x_rows1"
    assert str(rows) != "2*R"


def test_accum_over_a_regular_dim_keeps_the_equation():
    prog = sl.Program("acc")
    D = sl.dim("D")
    x = prog.input("x", sl.Tile(2, 64, "f32"), (3, D))
    out = ops.Accum(x, fn.RetileRow(), fn.Empty((0, 64), "f32"), 1)
    assert sympy.simplify(out.dtype.rows - 2 * D) == 0


def test_a_ragged_binding_given_as_a_fraction_does_not_break_a_run():
    prog = ragged_sum_prog()
    res = sl.simulate(prog, inputs={"lens": [[True], [True] * 2, [True]]},
                      bindings={"R": Fraction(4, 3)})
    assert res.measured["R"] == Fraction(4, 3)


def test_every_error_here_is_a_step_error():
    for cls in (BindingError, ConfigError, InputError, ShapeError):
        assert issubclass(cls, StepError)


def selector_prog():
    prog = sl.Program("sel")
    prog.output("o", prog.input("s", sl.Selector(3), (2,)))
    return prog


@pytest.mark.parametrize("value", [["a", {0}], [{0.5}, {0}], [None, {0}], [{5}, {0}],
                                   [{-1}, {0}], [[0.5], {1}]])
def test_a_bad_selector_element_is_a_shape_error(value):
    with pytest.raises(ShapeError, match="input 's'"):
        sl.interpret(selector_prog(), inputs={"s": value})


@pytest.mark.parametrize("value", [[set(), {0, 2}], [[True, False, True], 1], [[], [2.0]]])
def test_selectors_as_sets_indices_or_bool_vectors_are_fine(value):
    assert len(sl.interpret(selector_prog(), inputs={"s": value}).values["o"]) == 2


@pytest.mark.parametrize("cache", [123, 4.5, ["dir"]])
def test_a_bad_sweep_cache_argument_is_a_config_error(cache):
    with pytest.raises(ConfigError, match="cache"):
        sl.dse.sweep(abs, {"x": [1]}, progress=False, cache=cache)


@pytest.mark.parametrize("dtype, value, word", [
    (sl.Scalar("i32"), [1.5, 2, 3], "fractional"), (sl.Scalar("i32"), [float("nan"), 2, 3],
                                                    "non-finite"),
    (sl.Bool, [5, 0, 1], "not a bool"), (sl.Tile(1, 2, "i32"), [np.array([[1.5, 2]])] * 3,
                                         "fractional"),
    (sl.Tile(1, 2, "f32"), [np.zeros((2, 2))] * 3, "does not fit"),
    (sl.Tile(1, 2, "f32"), [np.full((1, 2), "a")] * 3, "not a"),
])
def test_stream_elements_never_truncate_silently(dtype, value, word):
    prog = sl.Program("e")
    prog.output("o", prog.input("x", dtype, (3,)))
    with pytest.raises(ShapeError, match=word):
        sl.interpret(prog, inputs={"x": value})


@pytest.mark.parametrize("placement", [3, "a", [("x", (0, 0))]])
def test_a_bad_placement_is_a_config_error(placement):
    with pytest.raises(ConfigError, match="placement"):
        sl.simulate(load_prog(), bindings={"B": 2}, placement=placement)


@pytest.mark.parametrize("progress", [{}, set(), [], "bar", 3])
def test_a_bad_progress_target_is_a_config_error(progress):
    with pytest.raises(ConfigError, match="progress"):
        sl.simulate(load_prog(), bindings={"B": 2}, progress=progress)


@pytest.mark.parametrize("program", [None, 3, "p", [1]])
def test_metrics_of_something_that_is_not_a_program_is_a_config_error(program):
    with pytest.raises(ConfigError, match="metrics: program"):
        sl.metrics(program)


@pytest.mark.parametrize("name", [[1], {"a": 1}, set(), 3, "", "a b", None])
def test_a_bad_dim_name_is_a_shape_error(name):
    with pytest.raises(ShapeError, match="dim name"):
        sl.dim(name)


def test_a_timing_only_run_refuses_a_huge_binding_before_building_ghosts():
    with pytest.raises(ConfigError, match="data tokens"):
        sl.simulate(load_prog(), bindings={"B": 10**19}, values=False)


@pytest.mark.parametrize("kw, word", [({"grid": (10**4, 10**4)}, "at most"),
                                      ({"fifo_depth": 10**12}, "every slot is allocated"),
                                      ({"grid": (True, 2)}, "two ints"),
                                      ({"grid": (0, 4)}, "two ints"),
                                      ({"grid": "4x4"}, "two ints")])
def test_hardware_sizes_that_would_hang_or_exhaust_memory_are_refused(kw, word):
    with pytest.raises(ConfigError, match=word):
        sl.HardwareConfig(**kw)


@pytest.mark.parametrize("depth", [0, -1, True, 2.0, 10**12, "2"])
def test_a_bad_fifo_depth_of_a_stream_is_a_graph_error(depth):
    prog = load_prog()
    with pytest.raises(sl.GraphError, match="FIFO depth"):
        prog.set_fifo_depth(prog.streams[0], depth)


@pytest.mark.parametrize("runner", [run_simulate, run_interpret], ids=lambda r: r.__name__)
@pytest.mark.parametrize("value, word", [
    ([[1, 2, 3]] * 3, "declared with 2 top-level .* received 3"),
    ([[1, 2, 3]], "declared with 2 top-level .* received 1"),
    ([], "declared with 2 top-level .* received 0"),
])
def test_the_outer_dim_of_a_rank_1_input_stream_is_checked(runner, value, word):
    prog = sl.Program("inner")
    prog.output("o", prog.input("x", sl.Scalar("f32"), (2, 3)))
    with pytest.raises(InputError, match=word):
        runner(prog, inputs={"x": value})


def test_a_ragged_inner_dim_may_vary():
    prog = sl.Program("inner")
    R = sl.dim("R")
    prog.output("o", prog.input("x", sl.Scalar("f32"), (2, R), ragged=(R,)))
    assert sl.interpret(prog, inputs={"x": [[1, 2, 3], [4]]}).values["o"] == [[1, 2, 3], [4]]


def test_a_bound_outer_dim_is_checked_at_its_binding():
    prog = sl.Program("outer")
    prog.output("o", prog.input("x", sl.Scalar("f32"), (sl.dim("N"), 2)))
    with pytest.raises(InputError, match="declared with 3"):
        sl.simulate(prog, inputs={"x": [[1, 2], [3, 4]]}, bindings={"N": 3})
    assert sl.simulate(prog, inputs={"x": [[1, 2], [3, 4]]}, bindings={"N": 2}).values["o"] \
        == [[1, 2], [3, 4]]
