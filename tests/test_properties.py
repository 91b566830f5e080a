"""Property tests over random small programs (issue: core package).

* every stream whose shape evaluates under the bindings carries exactly ``‖shape‖`` data elements;
* symbolic off-chip traffic and FLOPs evaluated at the bindings equal what the interpreter counts.
"""
import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import step_lab as sl
from step_lab import fn, ops
from step_lab.ir.tokens import DONE, Stop
from step_lab.symbolic import free_symbols, try_int


def _data_count(tokens) -> int:
    return sum(1 for t in tokens if t is not DONE and type(t) is not Stop)


def _check_cardinalities(prog, res, bindings):
    checked = 0
    for s in prog.streams:
        if s.ragged:
            continue
        card = try_int(s.type.cardinality, bindings)
        if card is None:
            continue
        assert _data_count(res.stream_tokens[s]) == card, (s.name, str(s.type))
        checked += 1
    return checked


@st.composite
def pipelines(draw):
    """load -> random shape ops -> Map -> optional Accum -> store, over a symbolic row count."""
    r = draw(st.sampled_from([1, 2]))
    c = draw(st.sampled_from([2, 4]))
    row_tiles = draw(st.integers(0, 5))
    col_tiles = draw(st.integers(1, 3))
    steps = draw(st.lists(st.sampled_from(["flatten", "promote", "reshape", "expand", "scan"]),
                          max_size=3))
    # An empty rank-k tensor encodes like one holding an empty child (STEP.md §2.3), so an
    # Accum over N = 0 rows legitimately emits init(): keep N >= 1 when accumulating.
    accum = draw(st.booleans()) if row_tiles else False
    return r, c, row_tiles, col_tiles, steps, accum


def build(r, c, col_tiles, steps, accum):
    N = sl.dim("N")
    prog = sl.Program("prop")
    X = prog.tensor("X", (N * r, col_tiles * c), "f32")
    s = ops.LinearOffChipLoad(X, tile=(r, c))                      # [1, N, col_tiles]
    for step in steps:
        if step == "flatten" and s.rank >= 1:
            s = ops.Flatten(s, 0, 1)
        elif step == "promote":
            s = ops.Promote(s)
        elif step == "reshape":
            s, _ = ops.Reshape(s, 0, 2, pad=fn.Zero((r, c)))
        elif step == "expand":
            s = ops.Expand(ops.Reshape(s, 0, 1)[0], sizes=(2,))
        elif step == "scan" and s.rank >= 1:
            s = ops.Scan(s, fn.Add(), fn.Zero((r, c)), 1)
    s = ops.Map(s, fn.Exp(), compute_bw=64)
    if accum and s.rank >= 1:
        s = ops.Accum(s, fn.Add(), fn.Zero((r, c)), 1)
    ops.LinearOffChipStore(s, "Y")
    return prog


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pipelines())
def test_random_pipelines_conserve_cardinality_and_match_symbolic_metrics(case):
    r, c, row_tiles, col_tiles, steps, accum = case
    prog = build(r, c, col_tiles, steps, accum)
    bindings = {"N": row_tiles}
    res = sl.interpret(prog, bindings=bindings, seed=1)
    m = sl.metrics(prog).evaluate(bindings)
    assert res.offchip_bytes == m["offchip_traffic"]
    assert res.flops == m["flops"]
    assert _check_cardinalities(prog, res, bindings) >= 2


@st.composite
def routings(draw):
    experts = draw(st.integers(1, 4))
    tokens = draw(st.integers(1, 12))  # 0 rows hits the §2.3 empty-tensor encoding limit
    routing = draw(st.lists(st.integers(0, experts - 1), min_size=tokens, max_size=tokens))
    return experts, routing, draw(st.sampled_from(["static", "dynamic"])), draw(
        st.sampled_from([1, 2, 4]))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(routings())
def test_simplified_moe_matches_numpy_and_its_symbolic_traffic_for_any_routing(case):
    experts, routing, tiling, chunk = case
    from step_lab.workloads.toy import simplified_moe
    prog, inputs, bindings = simplified_moe(tokens=len(routing), experts=experts, width=8,
                                            out_width=16, col_tile=8, chunk=chunk, tiling=tiling,
                                            routing=np.array(routing, dtype=np.int64))
    res = sl.interpret(prog, inputs=inputs, bindings=bindings)
    ref = np.stack([inputs["X"][t] @ inputs[f"W{e}"] for t, e in enumerate(routing)]) \
        if routing else np.zeros((0, 16))
    np.testing.assert_allclose(res.arrays["Y"].reshape(-1, 16), ref, rtol=1e-4, atol=1e-4)
    m = sl.metrics(prog).evaluate(bindings)
    assert res.offchip_bytes == m["offchip_traffic"]
    assert res.flops == m["flops"]
    _check_cardinalities(prog, res, bindings)


def test_token_counts_are_conserved_by_shape_only_operators():
    prog = sl.Program("conserve")
    x = prog.input("x", sl.Tile(1, 2, "f32"), (3, 4))
    outs = [ops.Flatten(x, 0, 1), ops.Promote(x), ops.Reshape(x, 0, 2)[0], ops.Zip(x, x)]
    for i, o in enumerate(outs):
        prog.output(f"o{i}", o)
    res = sl.interpret(prog, inputs={"x": np.zeros((3, 4, 1, 2))})
    for i in range(len(outs)):
        assert _data_count(res.tokens[f"o{i}"]) == 12
    assert not free_symbols(*outs[0].shape)
