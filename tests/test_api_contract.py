"""Every public name and parameter of the API contract (spec/API.md) is still there (issue 14).

The names below are copied from API.md section by section; a restructuring that moves a module
must keep them importable from where the contract says. Behaviour is tested elsewhere: this
file only pins the surface (names, parameters, fields, commands, magic options).
"""
import dataclasses
import inspect

import numpy as np
import pytest

import step_lab as sl

ROOT_NAMES = ["dim", "Program", "ops", "fn", "metrics", "Metrics", "interpret", "simulate",
              "SimResult", "HardwareConfig", "hw", "StepError", "ShapeError", "GraphError",
              "BindingError", "DeadlockError", "ConfigError", "Run", "load_ipython_extension"]
OPERATORS = ["Partition", "Reassemble", "EagerMerge", "Map", "Accum", "Scan", "FlatMap",
             "Flatten", "Reshape", "Promote", "Expand", "Zip", "Bufferize", "Streamify",
             "LinearOffChipLoad", "LinearOffChipStore", "RandomOffChipLoad",
             "RandomOffChipStore"]
FUNCTIONS = ["Matmul", "Add", "Mul", "SiLU", "Exp", "Max", "RetileRow", "RetileCol"]  # `Retile`
HW_FIELDS = ["onchip_bytes_per_cycle", "offchip_bytes_per_cycle", "flops_per_cycle_per_unit",
             "fifo_depth", "grid"]
RESULT_FIELDS = ["cycles", "offchip_bytes", "onchip_peak_bytes", "flops", "compute_utilization",
                 "outputs", "per_node", "trace", "to_dict"]


def _params(fn) -> set:
    return set(inspect.signature(fn).parameters)


@pytest.mark.parametrize("name", ROOT_NAMES)
def test_the_package_root_exports(name):
    assert hasattr(sl, name), name


def test_operators_functions_and_errors():
    assert all(hasattr(sl.ops, op) for op in OPERATORS)
    assert all(hasattr(sl.fn, f) for f in FUNCTIONS)
    for error in ("ShapeError", "GraphError", "BindingError", "DeadlockError", "ConfigError"):
        assert issubclass(getattr(sl, error), sl.StepError)


def _gemv():
    B = sl.dim("B")
    prog = sl.Program("gemv")
    x = prog.tensor("x", shape=(B, 16), dtype="bf16")
    xs = sl.ops.LinearOffChipLoad(x, tile=(1, 16))
    prog.output("y", sl.ops.Map(xs, sl.fn.Exp(), compute_bw=16))
    return prog, xs


def test_programs_streams_and_their_views():
    prog, xs = _gemv()
    assert isinstance(prog.nodes, list | tuple) and len(prog.streams) >= 2
    assert isinstance(xs.shape, tuple) and xs.dtype is not None and str(xs)
    assert prog.to_dot().lstrip().startswith("digraph")
    assert callable(prog._repr_mimebundle_) and isinstance(prog.lint(), list)


def test_metrics_and_their_evaluation():
    prog, _ = _gemv()
    m = sl.metrics(prog)
    for name in ("offchip_traffic", "onchip_memory", "flops", "by_node"):
        assert hasattr(m, name), name
    values = m.evaluate({"B": 4})
    assert all(isinstance(values[k], int) for k in ("offchip_traffic", "onchip_memory", "flops"))


def test_simulation_surface():
    assert {"hw", "bindings", "inputs", "trace", "progress"} <= _params(sl.simulate)
    assert dataclasses.is_dataclass(sl.HardwareConfig) and sl.hw.PAPER is not None
    fields = {f.name for f in dataclasses.fields(sl.HardwareConfig)}
    assert set(HW_FIELDS) <= fields
    prog, _ = _gemv()
    result = sl.simulate(prog, bindings={"B": 4}, inputs={"x": np.ones((4, 16))})
    for name in RESULT_FIELDS:
        assert hasattr(result, name), name
    assert result.offchip_bytes == sl.metrics(prog).evaluate({"B": 4})["offchip_traffic"]


def test_workloads_and_traces():
    w = sl.workloads
    assert {"mixtral-8x7b", "qwen3-30b-a3b"} <= set(w.MODELS)
    assert {"batch", "routing", "tiling", "tile", "time_multiplex", "regions", "seed"} \
        <= _params(w.moe_layer)
    assert {"kv_lengths", "parallel", "strategy", "seed"} <= _params(w.attention_decode)
    assert callable(w.swiglu) and callable(w.load_routing) and callable(w.load_kv_lengths)
    wl = w.swiglu(batch=16, hidden=32, intermediate=32)
    for name in ("program", "bindings", "inputs", "knobs", "simulate"):
        assert hasattr(wl, name), name
    assert "hw" in _params(wl.simulate)


def test_design_space_exploration():
    assert {"executor", "cache", "progress"} <= _params(sl.dse.sweep)
    assert {"x", "y"} <= _params(sl.dse.pareto) and {"x", "y"} <= _params(sl.dse.pid)


def test_command_line_commands_and_options():
    from step_lab.cli import _parser
    sub = next(a for a in _parser()._actions if a.choices and "demo" in a.choices).choices
    assert {"demo", "reproduce", "simulate"} <= set(sub)
    options = {name: {o for a in p._actions for o in a.option_strings}
               for name, p in sub.items()}
    assert "--out" in options["demo"]
    assert {"--quick", "--out", "--jobs", "--scheduler", "--traces"} <= options["reproduce"]
    assert {"--hw", "--json"} <= options["simulate"]


def test_notebook_entry_points_and_magic_options():
    pytest.importorskip("IPython")
    from step_lab import notebook
    from step_lab.notebook.magics import StepMagics
    assert callable(notebook.explore) and callable(notebook.animate)
    assert callable(notebook.load_ipython_extension)
    usage = StepMagics.step.__doc__ or ""
    for option in ("--hw", "--no-sim", "--animate"):
        assert option in usage, option
