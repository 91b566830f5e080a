"""Run: the one runnable unit (program, bindings, inputs) of the IR."""
import numpy as np
import pytest

import step_lab as sl
from step_lab import ConfigError, fn, ops
from step_lab.analysis.metrics import metrics
from step_lab.ir import Run, as_run
from step_lab.notebook.explorer import unpack
from step_lab.workloads import swiglu


def _scaled():
    prog = sl.Program("scaled")
    n = sl.dim("N")
    x = prog.tensor("X", (n, 4), "f32")
    y = ops.Map(ops.LinearOffChipLoad(x, (1, 4)), fn.Exp(), compute_bw=4)
    ops.LinearOffChipStore(y, prog.tensor("Y", (n, 4), "f32", role="output"))
    return Run(prog, {"N": 3}, {"X": np.ones((3, 4), np.float32)})


def test_simulate_interpret_and_evaluate_take_a_run():
    run = _scaled()
    by_run = sl.simulate(run)
    by_parts = sl.simulate(run.program, bindings=dict(run.bindings), inputs=dict(run.inputs))
    assert by_run.cycles == by_parts.cycles and by_run.offchip_bytes == by_parts.offchip_bytes
    assert np.allclose(sl.interpret(run).arrays["Y"], np.exp(1.0))
    assert metrics(run.program).evaluate(run) == metrics(run.program).evaluate({"N": 3})


def test_a_workload_builds_its_run_and_every_consumer_accepts_it():
    w = swiglu(batch=16, hidden=32, intermediate=32)
    assert isinstance(w.run, Run) and w.run.program is w.program and w.as_run() == w.run
    assert sl.simulate(w, hw=w.hw).cycles == w.simulate().cycles      # the workload's own hw
    assert unpack(w)[0] is w.program and as_run(w) == w.run


def test_as_run_converts_programs_and_cell_tuples_and_explicit_values_win():
    run = _scaled()
    assert as_run(run.program).bindings == {}
    triple = as_run((run.program, {"X": 1}, {"N": 5}))
    assert triple.inputs == {"X": 1} and triple.bindings == {"N": 5}
    assert as_run(run, bindings={"N": 7}).bindings == {"N": 7}


def test_a_run_names_what_is_wrong_with_its_parts():
    with pytest.raises(ConfigError, match="expected a step_lab Program"):
        Run("not a program")
    with pytest.raises(ConfigError, match="bindings = 3 .expected a dict"):
        Run(_scaled().program, 3)
    with pytest.raises(ConfigError, match="expected a Program, a Run or a Workload"):
        as_run(42)
