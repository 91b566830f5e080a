"""Coalesced Map chains (sim/coalesce.py) against the per-token reference path: identical
cycles, per-node and per-channel statistics, traces and values, over random programs."""
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_properties import build, pipelines

import step_lab as sl
from step_lab import fn, ops
from step_lab.errors import StepError

FNS = {"exp": lambda: fn.Exp(), "scale": lambda: fn.Scale(0.5), "id": lambda: fn.Identity(),
       "silu": lambda: fn.SiLU()}


IDEAL = sl.hw.idealized(sl.hw.PAPER)
# the idealised model and every preset's overheads: held input slots, credit latency (issue 16)
HARDWARE = [IDEAL, sl.hw.PAPER, sl.hw.VALIDATION, sl.hw.ATTENTION,
            IDEAL.replace(channel_credit_latency_cycles=2),
            IDEAL.replace(compute_holds_inputs=True)]


def same_run(prog, **kw):
    """Simulate with and without coalescing and assert every observable is identical."""
    kw.setdefault("hw", IDEAL)
    a = sl.simulate(prog, coalesce=True, **kw)
    b = sl.simulate(prog, coalesce=False, **kw)
    assert a.cycles == b.cycles
    assert a.per_node == b.per_node
    assert a.channels == b.channels
    assert a.flops == b.flops and a.offchip_bytes == b.offchip_bytes
    assert a.measured == b.measured and b.coalesced == []
    assert a.arrays.keys() == b.arrays.keys()
    for name in a.arrays:
        assert np.array_equal(a.arrays[name], b.arrays[name]), name
    assert repr(a.values) == repr(b.values)
    if a.trace is not None:
        assert a.trace.to_dict() == b.trace.to_dict()
    return a


def with_chain(prog_case, chain, bws, depth):
    r, c, row_tiles, col_tiles, steps, accum = prog_case
    prog = build(r, c, col_tiles, steps, accum)
    store = [n for n in prog.nodes if type(n).writes_tensor][0]
    s = store.inputs[0]
    # rebuild: a chain of Maps between the last stream and a second store
    for name, bw in zip(chain, bws, strict=True):
        s = ops.Map(s, FNS[name](), compute_bw=bw)
        prog.set_fifo_depth(s, depth)
    ops.LinearOffChipStore(s, "Z")
    return prog, {"N": row_tiles}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pipelines(), st.lists(st.sampled_from(sorted(FNS)), min_size=1, max_size=4),
       st.integers(1, 3), st.booleans(), st.sampled_from(HARDWARE), st.data())
def test_coalesced_map_chains_equal_the_per_token_path(case, chain, depth, trace, hw, data):
    bws = data.draw(st.lists(st.sampled_from([1, 4, 64]), min_size=len(chain),
                             max_size=len(chain)))
    prog, bindings = with_chain(case, chain, bws, depth)
    same_run(prog, bindings=bindings, seed=1, trace=trace, hw=hw)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(1, 4), st.lists(st.integers(0, 3), min_size=1, max_size=10),
       st.sampled_from(["static", "dynamic"]), st.booleans(), st.sampled_from(HARDWARE))
def test_coalescing_leaves_the_simplified_moe_unchanged(experts, routing, tiling, values, hw):
    from step_lab.workloads.toy import simplified_moe
    routing = [e % experts for e in routing]
    prog, inputs, bindings = simplified_moe(tokens=len(routing), experts=experts, width=8,
                                            out_width=16, col_tile=8, chunk=2, tiling=tiling,
                                            routing=np.array(routing, dtype=np.int64))
    same_run(prog, inputs=inputs, bindings=bindings, values=values, hw=hw)


def chain_program(n: int, maps: int = 6, stops: bool = False):
    prog = sl.Program("chain")
    shape = (n, 2) if stops else (n,)
    y = prog.input("x", sl.Tile(1, 4, "f32"), shape)
    for i in range(maps):
        y = ops.Map(y, fn.Scale(1.5) if i % 2 else fn.Exp(), compute_bw=2 + i)
    prog.output("y", y)
    rng = np.random.default_rng(0)
    tiles = [rng.standard_normal((1, 4)).astype(np.float32) for _ in range(n * (2 if stops else 1))]
    x = [tiles[2 * i: 2 * i + 2] for i in range(n)] if stops else tiles
    return prog, {"x": x}


@pytest.mark.parametrize("hw", HARDWARE)
@pytest.mark.parametrize("stops", [False, True])
def test_a_map_chain_runs_as_one_segment_with_identical_results(stops, hw):
    prog, inputs = chain_program(50, stops=stops)
    res = same_run(prog, inputs=inputs, trace=True, hw=hw)
    maps = tuple(n.name for n in prog.nodes if isinstance(n, ops.Map))
    assert len(maps) == 6 and res.coalesced == [maps]     # one segment of all six Maps
    assert res.per_node[prog.nodes[1].name]["tokens_out"] > 50


@pytest.mark.parametrize("depth", [1, 2])
def test_held_slots_and_credit_latency_pace_a_segment_as_they_pace_the_per_token_path(depth):
    """With the presets' held input slots and credit latency, a shallow FIFO between one-cycle
    Maps passes fewer elements per cycle: the coalesced run pays the same stalls."""
    prog = sl.Program("fast_chain")
    y = prog.input("x", sl.Tile(1, 4, "f32"), (40,))
    for _ in range(4):
        y = ops.Map(y, fn.Scale(0.5), compute_bw=64)
        prog.set_fifo_depth(y, depth)
    prog.output("y", y)
    inputs = {"x": [np.ones((1, 4), np.float32)] * 40}
    slow = same_run(prog, inputs=inputs, hw=sl.hw.PAPER, trace=True)
    fast = same_run(prog, inputs=inputs, hw=IDEAL, trace=True)
    assert slow.cycles > fast.cycles     # the overheads are in the coalesced run too
    assert sum(ch["stall_put"] for ch in slow.channels.values()) > \
        sum(ch["stall_put"] for ch in fast.channels.values())


@pytest.mark.parametrize("hw", HARDWARE)
def test_maps_reading_memory_resident_tiles_coalesce(hw):
    """load -> Map -> Map -> store (bench_sim part a): the first Map's element costs its
    resident input bytes at the on-chip bandwidth; both Maps form one segment."""
    prog = sl.Program("resident")
    x = ops.LinearOffChipLoad(prog.tensor("X", (64, 32), "f32"), tile=(8, 32))
    y = ops.Map(x, fn.Exp(), compute_bw=1024)              # memory term dominates
    z = ops.Map(y, fn.Scale(0.5), compute_bw=32)
    ops.LinearOffChipStore(z, "Y")
    inputs = {"X": np.random.default_rng(1).standard_normal((64, 32)).astype(np.float32)}
    res = same_run(prog, inputs=inputs, hw=hw, trace=True)
    assert res.coalesced == [(y.node.name, z.node.name)]
    assert res.per_node[y.node.name]["busy"] >= 8 * (8 * 32 * 4 // hw.onchip_bytes_per_cycle)


def test_only_coalescible_nodes_form_segments():
    prog = sl.Program("mixed")
    y = prog.input("x", sl.Tile(1, 4, "f32"), (8,))
    a = ops.Map(y, fn.Exp(), compute_bw=4)
    b = ops.Map(a, fn.Exp(), compute_bw=4, write_back=True)   # write-back: not plain
    c = ops.Map(b, fn.Exp(), compute_bw=4)
    d = ops.Map(c, fn.Exp(), compute_bw=4)
    prog.output("y", d)
    prog.output("z", c)                                       # c has two consumers
    inputs = {"x": [np.ones((1, 4), np.float32)] * 8}
    res = same_run(prog, inputs=inputs)
    # a and d run as segments of one stage (a's consumer b writes back: not coalescible;
    # c's output is read twice)
    assert res.coalesced == [(a.node.name,), (d.node.name,)]


class Fragile(fn.Exp):
    """Exp that fails on a large value (to see the error of a stage inside a segment)."""

    def __call__(self, value):
        if float(np.max(value)) > 2:
            raise ValueError("value too large")
        return super().__call__(value)


@pytest.mark.parametrize("lone", [True, False])
def test_an_error_inside_a_segment_names_the_stage_once(lone):
    """The same message coalesced or not, for a chain and for a lone Map (a segment of one)."""
    prog = sl.Program("fragile")
    y = prog.input("x", sl.Tile(1, 4, "f32"), (4,))
    if not lone:
        y = ops.Map(y, fn.Scale(2.0), compute_bw=4, name="double")
    y = ops.Map(y, Fragile(), compute_bw=4, name="fragile_exp")
    prog.output("y", y)
    inputs = {"x": [np.full((1, 4), v, np.float32) for v in (0.1, 0.2, 3.0, 0.3)]}
    messages = []
    for co in (True, False):
        with pytest.raises(StepError, match=r"^while simulating 'fragile_exp' \(Map\) at cycle "
                                            r"\d+: Fragile failed on an element: value too "
                                            r"large$") as e:
            sl.simulate(prog, inputs=inputs, coalesce=co)
        messages.append(str(e.value))
    assert messages[0] == messages[1]


def test_a_deadlock_report_names_the_channel_a_coalesced_stage_waits_to_put_on():
    from test_sim_engine import TILE, Lead, ones, token_input
    reports = []
    for co in (True, False):
        prog = sl.Program("cycle")
        fb = prog.feedback(TILE, (30,), depth=1)
        y = Lead(token_input(prog, 30), fb, 20)
        prog.connect(fb, ops.Map(y, fn.Identity(), compute_bw=4, name="idmap"))
        with pytest.raises(sl.errors.DeadlockError) as e:
            sl.simulate(prog, inputs={"x": ones(30)}, coalesce=co)
        reports.append(str(e.value))
    assert "'idmap' (Map) at cycle 8 waits to put on full channel 'idmap' -> " in reports[0]
    assert reports[0] == reports[1]


def test_coalesce_must_be_a_bool():
    prog, inputs = chain_program(2)
    with pytest.raises(sl.errors.ConfigError, match="coalesce"):
        sl.simulate(prog, inputs=inputs, coalesce="yes")
