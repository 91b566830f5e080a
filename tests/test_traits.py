"""Operator traits: what an operator is, declared once on its class (cost role, data inputs,
residency forwarding, order freedom, switch outputs, tensor written, unit kind) and read by
analysis, the simulator and placement. A new operator class needs no edit anywhere else."""
import re
from pathlib import Path

import numpy as np

import step_lab as sl
from step_lab import DONE, fn, ops
from step_lab.analysis import formulas
from step_lab.analysis.metrics import metrics
from step_lab.hw.placement import unit_kind
from step_lab.ir.node import GET, PUT, Node
from step_lab.sim.check import order_free_outputs
from step_lab.sim.plan import stream_resident

ROOT = Path(__file__).resolve().parents[1]


class Relay(Node):
    """A new operator, defined only here: forwards every token of its one input."""

    group = "shape"
    forwards_residency = "first_output"

    def _build(self, stream):
        self.inputs = (stream,)
        self._out_types = (stream.type,)

    def behaviour(self, ctx):
        while True:
            tok = yield (GET, 0)
            yield (PUT, 0, tok)
            if tok is DONE:
                return


class ArrivalMerge(Relay):
    """A new operator whose output order is free (as EagerMerge's): only the trait differs."""

    order_free = True


def _gemm(relay: type | None):
    prog = sl.Program("exp")
    x = prog.tensor("X", (8, 16), "f32")
    xs = ops.LinearOffChipLoad(x, (4, 16))
    if relay is not None:
        xs = relay(xs)
    y = ops.Map(xs, fn.Exp(), compute_bw=64)
    ops.LinearOffChipStore(y, prog.tensor("Y", (8, 16), "f32", role="output"))
    inputs = {"X": np.arange(128, dtype=np.float32).reshape(8, 16) / 100}
    return prog, inputs


def test_a_new_operator_defined_in_a_test_simulates_and_gets_metrics_with_no_edit_elsewhere():
    plain, inputs = _gemm(None)
    relayed, _ = _gemm(Relay)
    a = sl.simulate(plain, inputs=inputs)
    b = sl.simulate(relayed, inputs=inputs)
    assert np.array_equal(b.arrays["Y"], a.arrays["Y"]) and b.cycles >= a.cycles
    assert b.offchip_bytes == a.offchip_bytes and b.flops == a.flops
    ma, mb = metrics(plain), metrics(relayed)
    assert (mb.offchip_traffic, mb.flops, mb.onchip_memory) == \
        (ma.offchip_traffic, ma.flops, ma.onchip_memory)
    assert "Relay" in relayed.to_dot()
    relay = next(n for n in relayed.nodes if isinstance(n, Relay))
    assert unit_kind(relay) is None                      # a network node, from its group
    assert formulas.traffic(relay) == 0 and not formulas.performs_flops(relay)


def test_residency_is_forwarded_because_the_class_says_so():
    relayed, _ = _gemm(Relay)
    relay = next(n for n in relayed.nodes if isinstance(n, Relay))
    assert stream_resident(relay.outputs[0], {}) is True     # a load's tiles, forwarded

    class Opaque(Relay):
        forwards_residency = "none"
    opaque_prog, _ = _gemm(Opaque)
    opaque = next(n for n in opaque_prog.nodes if isinstance(n, Opaque))
    assert stream_resident(opaque.outputs[0], {}) is False


def test_order_freedom_is_read_from_the_trait():
    relayed, _ = _gemm(Relay)
    merged, _ = _gemm(ArrivalMerge)
    assert order_free_outputs(relayed) == set()
    assert order_free_outputs(merged) == {"Y"}


def test_the_paper_operators_declare_their_traits():
    assert ops.Map.cost_role == ops.Accum.cost_role == "compute"
    assert ops.LinearOffChipLoad.cost_role == "offchip" and ops.LinearOffChipLoad.reads_tensor
    assert ops.RandomOffChipStore.writes_tensor and ops.RandomOffChipStore.random_access
    assert ops.RandomOffChipStore.data_inputs == slice(1, 2)
    assert ops.Bufferize.cost_role == "bufferize" and ops.Streamify.cost_role == "streamify"
    assert ops.Partition.switches_output and ops.Partition.forwards_residency == "all_outputs"
    assert ops.EagerMerge.order_free and ops.Reassemble.order_free
    assert ops.Zip.forwards_residency == "per_component"
    assert ops.Accum.holds_accumulator and ops.Expand.holds_accumulator
    assert not ops.Map.holds_accumulator and ops.Map.stages_matmul


def test_no_module_dispatches_on_operator_class_names():
    names = "|".join(ops.__all__ + ["Input", "Output", "Feedback"])
    string_dispatch = re.compile(rf"(==|!=|\bin)\s*\(?\s*[\"']({names})[\"']")
    tuple_dispatch = re.compile(rf"isinstance\([^,]+,\s*\(({names})\b")
    hits = []
    for path in (ROOT / "step_lab").rglob("*.py"):
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if tuple_dispatch.search(line) or string_dispatch.search(line):
                hits.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert not hits, "dispatch on operator classes instead of traits:\n" + "\n".join(hits)
