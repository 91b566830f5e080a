"""SimResult and Trace: JSON export, compact replay of unit and FIFO occupancy."""
import json
import subprocess
import sys

import numpy as np

import step_lab as sl
from step_lab import fn, ops


def small():
    prog = sl.Program("small")
    x = ops.LinearOffChipLoad(prog.tensor("X", (64, 16), "f32"), tile=(8, 16))
    y = ops.Map(x, fn.Exp(), compute_bw=16)
    ops.LinearOffChipStore(y, "Y")
    return prog, {"X": np.zeros((64, 16), np.float32)}


def test_result_fields_and_json_export():
    prog, inputs = small()
    r = sl.simulate(prog, inputs=inputs, trace=True)
    assert isinstance(r, sl.SimResult)
    assert r.cycles > 0 and r.offchip_bytes == 2 * 64 * 16 * 4 and r.flops == 64 * 16
    assert 0 < r.compute_utilization <= 1 and r.allocated_compute == 16
    assert r.onchip_peak_bytes == sl.metrics(prog).evaluate({})["onchip_memory"]
    np.testing.assert_array_equal(r.outputs["Y"].reshape(64, 16), np.ones((64, 16), np.float32))
    data = json.loads(json.dumps(r.to_dict(outputs=True, trace=True)))
    assert data["cycles"] == r.cycles and data["per_node"]["map0"]["op"] == "Map"
    assert data["outputs"]["Y"][0][0][0] == 1.0 and data["trace"]["cycles"] == r.cycles
    assert "cycles" in r.summary() and "SimResult" in repr(r)


def test_trace_is_none_unless_requested():
    prog, inputs = small()
    assert sl.simulate(prog, inputs=inputs).trace is None


def test_fifo_occupancy_replays_from_put_and_get_cycles():
    prog, inputs = small()
    r = sl.simulate(prog, inputs=inputs, trace=True)
    fifo = r.trace.fifos["linearoffchipload0 -> map0.0"]
    assert fifo.capacity == 2 and len(fifo.puts) == 8
    changes = dict(fifo.changes())
    level = 0
    for cycle in range(r.cycles + 1):
        level = changes.get(cycle, level)
        assert r.trace.occupancy(fifo.name, cycle) == level
    assert fifo.peak() == 2                      # the load runs ahead of the slower map


def test_unit_busy_replays_from_intervals():
    prog, inputs = small()
    r = sl.simulate(prog, inputs=inputs, trace=True)
    spans = r.trace.intervals("map0")
    busy = sum(r.trace.busy_at("map0", c) for c in range(r.cycles))
    assert busy == sum(e - s for s, e in spans) == r.per_node["map0"]["busy"]
    assert r.trace.units["map0"] == tuple(r.per_node["map0"]["unit"])


def test_trace_is_compact():
    prog = sl.Program("big")
    x = ops.LinearOffChipLoad(prog.tensor("X", (2000 * 8, 16), "f32"), tile=(8, 16))
    ops.LinearOffChipStore(ops.Map(x, fn.SiLU(), compute_bw=1), "Y")
    r = sl.simulate(prog, trace=True, values=False, hw=sl.hw.idealized(sl.hw.PAPER))
    stored = sum(len(f.puts) + len(f.gets) for f in r.trace.fifos.values())
    stored += sum(len(b) for b in r.trace.busy.values()) + len(r.trace.hbm)
    assert r.cycles == 2000 * 1024 + 20 and stored < 40_000    # events, not cycles × units


def test_fractional_compute_bandwidth_rounds_exactly():
    prog = sl.Program("frac")
    x = prog.input("x", sl.Tile(1, 16, "f32"), (3,))
    prog.output("y", ops.Map(x, fn.Exp(), compute_bw=0.01))
    r = sl.simulate(prog, inputs={"x": [np.zeros((1, 16), np.float32)] * 3})
    assert r.per_node["map0"]["busy"] == 3 * 1600 + 1      # + the port cycle of the last put


def test_import_step_lab_does_not_import_the_benchmark_or_notebook_stack():
    code = ("import sys, step_lab; bad = [m for m in ('simpy', 'IPython', 'bokeh', 'graphviz', "
            "'dask', 'ipywidgets') if m in sys.modules]; print(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=str(__import__("pathlib").Path(__file__).parents[1]))
    assert out.stdout.strip() == "[]"
