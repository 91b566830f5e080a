"""Run: the one runnable unit (program, bindings, inputs) of the IR."""
import json

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


def test_run_is_exported_at_the_package_root():
    assert sl.Run is Run and "Run" in sl.__all__


def test_metrics_takes_a_run_symbolically_and_numerically():
    run = _scaled()
    assert metrics(run).offchip_traffic == metrics(run.program).offchip_traffic
    numeric = metrics(run, numeric=True)
    assert numeric.totals == metrics(run.program).evaluate({"N": 3})
    assert metrics(run, bindings={"N": 5}).totals == metrics(run.program).evaluate({"N": 5})


def test_a_workload_checks_its_program_when_made():
    from step_lab.workloads import Workload
    with pytest.raises(ConfigError, match="expected a step_lab Program"):
        Workload(program="not a program", bindings={}, inputs={})


def test_a_workload_rebuilds_its_run_when_a_part_is_replaced():
    w = swiglu(batch=16, hidden=32, intermediate=32)
    first = w.run
    assert w.run is first                     # built once, with the workload
    w.bindings = {"unused": 1}
    assert w.run is not first and w.run.bindings == {"unused": 1}


def test_the_cli_simulates_a_script_that_defines_a_run(tmp_path, capsys):
    from step_lab.cli import main
    src = tmp_path / "scaled.py"
    src.write_text("import numpy as np\nimport step_lab as sl\nfrom step_lab import fn, ops\n"
                   "prog = sl.Program('scaled')\nn = sl.dim('N')\n"
                   "x = prog.tensor('X', (n, 4), 'f32')\n"
                   "y = ops.Map(ops.LinearOffChipLoad(x, (1, 4)), fn.Exp(), compute_bw=4)\n"
                   "ops.LinearOffChipStore(y, prog.tensor('Y', (n, 4), 'f32', role='output'))\n"
                   "run = sl.Run(prog, {'N': 3}, {'X': np.ones((3, 4), np.float32)})\n"
                   "del prog\n")
    assert main(["simulate", str(src), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["cycles"] == sl.simulate(_scaled()).cycles


def test_the_explorer_takes_a_run():
    from step_lab.notebook.explorer import builder_for
    run = _scaled()
    build, knobs = builder_for(run, {})
    program, inputs, bindings, _notes = build({})
    assert knobs == {} and program is run.program and bindings == {"N": 3}
