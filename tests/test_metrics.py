"""Symbolic metrics (STEP.md §6): the §6.5 worked example, per-operator formulas, policies.

The simplified MoE of §8.4 is also the integration test of every operator family: it runs
through the reference interpreter and its measured traffic and FLOPs equal the symbolic ones.
"""
import json
import math

import numpy as np
import pytest

import step_lab as sl
from step_lab import fn, ops
from step_lab.analysis import Metrics, metrics

D1, D2 = sl.dim("sel_x0"), sl.dim("sel_x1")     # Partition symbols: rows routed to expert i
ROUTE = [0, 1, 0, 0, 1, 0, 1, 0, 0, 1]            # 6 rows to expert 0, 4 to expert 1


# -- the simplified MoE of STEP.md §8.4 ------------------------------------------------------
def moe(tiling: str = "static") -> sl.Program:
    prog = sl.Program(f"moe_{tiling}")
    X = prog.tensor("X", (10, 64), "bf16")
    weights = [prog.tensor(f"W{i}", (64, 256), "bf16") for i in range(2)]
    Y = prog.tensor("Y", (10, 256), "bf16", role="output")
    x = ops.LinearOffChipLoad(X, tile=(1, 64))                       # [1, 10, 1]
    xin = ops.Flatten(x, 1, 2)                                        # [10, 1]
    sel = prog.input("sel", sl.Selector(2), (10,))
    parts = ops.Partition(xin, sel, 2)                                # [D_i, 1] each
    rows = [_expert(parts[i], weights[i], tiling) for i in range(2)]
    out = ops.Reassemble(rows, sel).assume((10, 1))                   # [10, G] -> [10, 1]
    ops.LinearOffChipStore(out, Y)
    return prog


def _expert(part, weight, tiling: str):
    r = ops.Flatten(part, 0, 1)                                       # [D_i]
    if tiling == "static":
        d, m = ops.Reshape(r, 0, 4, pad=fn.Zero((1, 64), "bf16"))     # [⌈D_i/4⌉, 4]
        t = ops.Accum(d, fn.RetileRow(), fn.Empty((0, 64), "bf16"), 1)   # Tile[4,64]
        mk = ops.Accum(m, fn.RetileRow(), fn.Empty((0, 1), "bool"), 1)   # Tile[4,1] bool
    else:
        t = ops.Accum(ops.Promote(r), fn.RetileRow(), fn.Empty((0, 64), "bf16"), 1)
    w = ops.LinearOffChipLoad(weight, tile=(64, 64), ref=t, stride=(4, 1),
                              tiled_out_shape=(1, 4))                 # [⌈D_i/4⌉, 1, 4]
    wf = ops.Flatten(w, 0, 1)
    t1, _ = ops.Reshape(t, 0, 1)
    te = ops.Expand(t1, sizes=(4,))
    y = ops.Map([te, wf], fn.Matmul(), compute_bw=1024)
    yc = ops.Accum(y, fn.RetileCol(), fn.Empty((t.dtype.rows, 0), "bf16"), 1)
    if tiling == "static":
        return ops.FlatMap([yc, mk], fn.RetileStreamify())
    return ops.FlatMap(yc, fn.RetileStreamify())


def _routing_bindings(route):
    counts = np.bincount(route, minlength=2)
    return {"sel_x0": int(counts[0]), "sel_x1": int(counts[1])}


def _run(prog, route, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((10, 64)).astype(np.float32)
    w = [rng.standard_normal((64, 256)).astype(np.float32) for _ in range(2)]
    result = sl.interpret(prog, inputs={"X": x, "W0": w[0], "W1": w[1], "sel": route},
                          bindings=_routing_bindings(route))
    reference = np.stack([x[i] @ w[e] for i, e in enumerate(route)])
    return result, reference


def _at(expr, **values):
    return sl.symbolic.evaluate(expr, values) if not isinstance(expr, int) else expr


# -- §6.5 worked example ---------------------------------------------------------------------
def test_static_tiling_traffic_is_the_worked_example_formula():
    m = metrics(moe("static"))
    for d1, d2 in [(6, 4), (10, 0), (0, 0), (3, 9), (8, 8)]:
        expected = 6_400 + 32_768 * (math.ceil(d1 / 4) + math.ceil(d2 / 4))
        assert _at(m.offchip_traffic, sel_x0=d1, sel_x1=d2) == expected
    assert m.evaluate({"sel_x0": 6, "sel_x1": 4})["offchip_traffic"] == 104_704


def test_dynamic_tiling_traffic_streams_weights_once_per_active_expert():
    m = metrics(moe("dynamic"))
    assert m.evaluate({D1: 6, D2: 4})["offchip_traffic"] == 71_936
    for d1, d2 in [(10, 0), (0, 0), (1, 9)]:
        expected = 6_400 + 32_768 * ((d1 > 0) + (d2 > 0))
        assert _at(m.offchip_traffic, sel_x0=d1, sel_x1=d2) == expected


def test_paper_preset_on_chip_memory_is_60680_bytes_independent_of_routing():
    m = metrics(moe("static"))
    assert m.onchip_memory == 60_680


def test_per_expert_memory_terms_match_the_worked_example():
    m = metrics(moe("static"))
    memory = {n: cells["onchip_memory"] for n, cells in m.by_node.items()}
    assert memory["linearoffchipload0"] == 2 * 128 and memory["linearoffchipstore0"] == 2 * 512
    assert memory["linearoffchipload1"] == 16_384          # weight load, double buffered
    assert memory["accum0"] == 512 and memory["accum1"] == 4   # row packing, bool mask
    assert memory["expand0"] == 512 and memory["accum2"] == 2_048
    assert memory["map0"] == 16 * 64 * 2 + 8_192            # matmul staging + weight tile
    assert memory["flatten1"] == memory["zip0"] == memory["partition0"] == 0


def test_artifact_preset_counts_loads_once_and_compute_tiles_at_four_bytes():
    m = metrics(moe("static"), preset="artifact")
    memory = {n: cells["onchip_memory"] for n, cells in m.by_node.items()}
    assert memory["linearoffchipload1"] == 8_192 and memory["linearoffchipload0"] == 128
    assert memory["accum0"] == 4 * 64 * 4 and memory["expand0"] == 4 * 64 * 4
    assert memory["accum1"] == 4                            # bool tiles keep 1 B/element
    assert memory["accum2"] == 4 * 256 * 4 and memory["map0"] == 0
    assert memory["linearoffchipstore0"] == 512
    assert m.onchip_memory == 2 * (8_192 + 1_024 + 4 + 1_024 + 4_096) + 128 + 512
    assert m.offchip_traffic == metrics(moe("static")).offchip_traffic


def test_artifact_preset_compute_element_size_is_configurable():
    m = metrics(moe("static"), preset="artifact", compute_elem_bytes=2)
    assert m.by_node["accum2"]["onchip_memory"] == 2_048


def test_dynamic_tiles_make_memory_scale_with_the_routed_rows():
    m = metrics(moe("dynamic"))
    per_expert = 16_384 + 10_240        # weight load, matmul staging
    expected = 2 * per_expert + 256 + 1_024 + 768 * (6 + 4)   # [X,64]·2 ·2 + [X,256]·2
    assert m.evaluate({D1: 6, D2: 4})["onchip_memory"] == expected


# -- integration: the program runs and measured counts equal the symbolic ones ----------------
@pytest.mark.parametrize("tiling", ["static", "dynamic"])
@pytest.mark.parametrize("route", [ROUTE, [0] * 10, [1, 0] * 5])
def test_the_moe_program_runs_and_measured_traffic_equals_symbolic(tiling, route):
    prog = moe(tiling)
    result, reference = _run(prog, route)
    np.testing.assert_allclose(result.arrays["Y"], reference, rtol=1e-4, atol=1e-4)
    values = metrics(prog).evaluate(_routing_bindings(route))
    assert result.offchip_bytes == values["offchip_traffic"]
    assert result.flops == values["flops"]


def test_traffic_per_node_equals_what_each_node_moved():
    prog = moe("static")
    result, _ = _run(prog, ROUTE)
    m = metrics(prog)
    for name, moved in result.offchip_by_node.items():
        assert _at(m.by_node[name]["offchip_traffic"], sel_x0=6, sel_x1=4) == moved


# -- idle branches (§6.4) -------------------------------------------------------------------
def test_on_demand_policy_drops_an_idle_expert_and_static_keeps_it():
    prog = moe("static")
    idle = {"sel_x0": 10, "sel_x1": 0}
    static = metrics(prog).evaluate(idle)
    on_demand = metrics(prog, policy="on_demand").evaluate(idle)
    assert static["onchip_memory"] == 60_680 and on_demand["onchip_memory"] == 60_680 - 29_700
    assert static["allocated_compute"] == 2_048 and on_demand["allocated_compute"] == 1_024
    assert on_demand["offchip_traffic"] == static["offchip_traffic"]
    assert metrics(prog, policy="on-demand").evaluate({D1: 6, D2: 4})["onchip_memory"] == 60_680


def test_on_demand_idle_expert_nodes_contribute_zero_each():
    m = metrics(moe("static"), policy="on_demand")
    for name in ("linearoffchipload2", "accum3", "accum4", "expand1", "map1", "accum5"):
        assert _at(m.by_node[name]["onchip_memory"], sel_x0=10, sel_x1=0) == 0
        assert _at(m.by_node[name]["onchip_memory"], sel_x0=10, sel_x1=1) > 0
    assert m.by_node["linearoffchipload0"]["onchip_memory"] == 256   # no input: always active


# -- evaluation, bindings and display ----------------------------------------------------------
def test_evaluate_lists_every_unbound_symbol():
    m = metrics(moe("static"))
    with pytest.raises(sl.BindingError, match=r"unbound symbols \['sel_x0', 'sel_x1'\]"):
        m.evaluate({})
    with pytest.raises(sl.BindingError, match=r"\['sel_x1'\]"):
        m.evaluate({"sel_x0": 3})


def test_evaluate_accepts_names_or_symbols_and_returns_ints():
    m = metrics(moe("static"))
    by_name = m.evaluate({"sel_x0": 6, "sel_x1": 4})
    assert by_name == m.evaluate({D1: 6, D2: 4})
    assert all(type(v) is int for v in by_name.values())
    assert set(by_name) == {"offchip_traffic", "onchip_memory", "flops", "allocated_compute"}
    assert by_name["flops"] == 3 * 4 * 2 * 4 * 64 * 64


def test_symbols_are_the_free_symbols_of_the_totals():
    assert metrics(moe("static")).symbols == (D1, D2)


def test_ragged_symbols_bind_to_the_mean_for_traffic_and_the_peak_for_memory():
    prog = sl.Program("ragged")
    R = sl.dim("R")
    T = prog.tensor("T", (1, 4), "f32")
    ref = prog.input("lens", sl.Bool, (2, R), ragged=(R,))
    tiles = ops.LinearOffChipLoad(T, tile=(1, 4), ref=ref)          # [2, R, 1, 1] of 16 B
    buffers = ops.Bufferize(tiles, 3)                                # [2] of Buffer[R, 1, 1]
    prog.output("b", buffers)
    m = metrics(prog)
    assert m.ragged == (R,)
    values = m.evaluate({"R": 2.5}, peak={"R": 4})
    assert values["offchip_traffic"] == 2 * 2.5 * 16                 # mean extent
    assert values["onchip_memory"] == 2 * 16 + (16 + 2 * 4 * 16)     # peak extent
    assert values == m.evaluate({"R": 2.5}, peak={R: 4})


def test_table_rows_show_expressions_or_values_and_end_with_the_total():
    m = metrics(moe("static"))
    rows = m.table()
    assert rows[-1]["node"] == "total" and rows[-1]["onchip_memory"] == 60_680
    weight = next(r for r in rows if r["node"] == "linearoffchipload1")
    assert weight["op"] == "LinearOffChipLoad" and weight["offchip_traffic"] == "32768·⌈sel_x0/4⌉"
    assert not any(r["node"] == "flatten1" for r in rows)
    assert any(r["node"] == "flatten1" for r in m.table(nonzero=False))
    bound = m.table({"sel_x0": 6, "sel_x1": 4})
    assert bound[-1]["offchip_traffic"] == 104_704


def test_latex_and_dict_forms():
    m = metrics(moe("static"))
    latex = m._repr_latex_()
    assert latex.startswith("$$\\begin{aligned}") and "\\lceil" in latex and "60{,}680" in latex
    assert "\\text{on-chip memory} &= 60{,}680\\ \\mathrm{B}" in latex
    data = json.loads(json.dumps(m.to_dict()))
    assert data["preset"] == "paper" and data["policy"] == "static"
    assert data["onchip_memory"] == "60680" and data["symbols"] == ["sel_x0", "sel_x1"]
    assert data["by_node"]["map0"]["allocated_compute"] == "1024"
    assert "onchip_memory=60680" in str(m)


def test_operational_intensity_is_flops_per_byte():
    m = metrics(moe("static"))
    assert m.operational_intensity({"sel_x0": 6, "sel_x1": 4}) == pytest.approx(
        393_216 / 104_704)
    assert _at(m.operational_intensity() * m.offchip_traffic - m.flops, sel_x0=1, sel_x1=2) == 0


def test_bad_presets_policies_and_knobs_are_config_errors():
    prog = moe("static")
    with pytest.raises(sl.ConfigError, match="preset 'artefact'.*did you mean 'artifact'"):
        metrics(prog, preset="artefact")
    with pytest.raises(sl.ConfigError, match="policy 'lazy'"):
        metrics(prog, policy="lazy")
    with pytest.raises(sl.ConfigError, match="compute_tile = 0"):
        metrics(prog, compute_tile=0)


def test_the_top_level_names_resolve_to_this_module():
    assert sl.metrics is metrics and sl.Metrics is Metrics


# -- per-operator formulas under both presets --------------------------------------------------
def _both(prog, **kwargs):
    return (metrics(prog, **kwargs).by_node, metrics(prog, preset="artifact", **kwargs).by_node)


def test_linear_load_and_store_formulas():
    prog = sl.Program("copy")
    N = sl.dim("N")
    A = prog.tensor("A", (N, 32), "bf16")
    B = prog.tensor("B", (N, 32), "bf16", role="output")
    ops.LinearOffChipStore(ops.LinearOffChipLoad(A, tile=(2, 32)), B)   # 128 B tiles
    paper, artifact = _both(prog)
    load, store = paper["linearoffchipload0"], paper["linearoffchipstore0"]
    assert _at(load["offchip_traffic"], N=8) == 4 * 128 == _at(store["offchip_traffic"], N=8)
    assert load["onchip_memory"] == 256 and store["onchip_memory"] == 256
    assert artifact["linearoffchipload0"]["onchip_memory"] == 128
    assert artifact["linearoffchipstore0"]["onchip_memory"] == 128
    triple = metrics(prog, double_buffer=3).by_node
    assert triple["linearoffchipload0"]["onchip_memory"] == 384


def test_random_load_and_store_formulas():
    prog = sl.Program("gather")
    N = sl.dim("N")
    A = prog.tensor("A", (64, 16), "f32")
    B = prog.tensor("B", (64, 16), "f32", role="output")
    addr = prog.input("addr", sl.Addr, (N,))
    tiles = ops.RandomOffChipLoad(addr, A, tile=(4, 16))               # 256 B tiles
    ops.RandomOffChipStore(addr, tiles, B)
    paper, artifact = _both(prog)
    assert _at(paper["randomoffchipload0"]["offchip_traffic"], N=5) == 5 * 256
    assert _at(paper["randomoffchipstore0"]["offchip_traffic"], N=5) == 5 * 256
    assert paper["randomoffchipload0"]["onchip_memory"] == 512
    assert paper["randomoffchipstore0"]["onchip_memory"] == 512
    assert artifact["randomoffchipstore0"]["onchip_memory"] == 256
    deep = metrics(prog, preset="artifact", store_buffer_depth=2).by_node
    assert deep["randomoffchipstore0"]["onchip_memory"] == 512


def test_bufferize_and_streamify_formulas():
    prog = sl.Program("buffers")
    x = prog.input("x", sl.Tile(2, 2, "bf16"), (3, 5, 4))                # 8 B tiles
    buffers = ops.Bufferize(x, 2)                                       # 3 buffers of [5, 4]
    prog.output("y", ops.Streamify(buffers, repeat=(2,)))
    paper, artifact = _both(prog)
    assert paper["bufferize0"]["onchip_memory"] == 8 + 2 * 20 * 8
    assert paper["streamify0"]["onchip_memory"] == 0
    assert artifact["bufferize0"]["onchip_memory"] == 2 * 20 * 16 + 16   # compute tiles, 4 B
    assert artifact["streamify0"]["onchip_memory"] == 20 * 16 + 16


def test_accum_scan_and_expand_hold_their_output_dtype():
    prog = sl.Program("reduce")
    x = prog.input("x", sl.Tile(4, 8, "bf16"), (3, 5))                 # 64 B tiles
    s = ops.Accum(x, fn.Add(), fn.Zero((4, 8), "bf16"), 1)
    prog.output("scan", ops.Scan(x, fn.Add(), fn.Zero((4, 8), "bf16"), 1))
    prog.output("expand", ops.Expand(ops.Reshape(s, 0, 1)[0], sizes=(6,)))
    paper, artifact = _both(prog)
    for name in ("accum0", "scan0", "expand0"):
        assert paper[name]["onchip_memory"] == 64
        assert artifact[name]["onchip_memory"] == 128
    assert paper["reshape0"]["onchip_memory"] == 0


def test_matmul_map_staging_and_matmul_accumulate():
    prog = sl.Program("mm")
    x = prog.input("x", sl.Tile(8, 32, "bf16"), (2, 3))
    w = prog.input("w", sl.Tile(32, 16, "bf16"), (2, 3))
    prog.output("map", ops.Map([x, w], fn.Matmul(), compute_bw=64))
    prog.output("acc", ops.Accum([x, w], fn.MatmulAccumulate(), fn.Zero((8, 16), "f32"), 1))
    paper, artifact = _both(prog)
    weight = 32 * 16 * 2
    assert paper["map0"]["onchip_memory"] == 16 * 32 * 2 + weight
    assert paper["accum0"]["onchip_memory"] == 16 * 32 * 2 + weight + 8 * 16 * 2
    assert metrics(prog, compute_tile=32).by_node["map0"]["onchip_memory"] == 32 * 32 * 2 + weight
    assert artifact["map0"]["onchip_memory"] == 0
    assert artifact["accum0"]["onchip_memory"] == 8 * 16 * 4
    assert paper["map0"]["flops"] == 6 * 2 * 8 * 32 * 16 == paper["accum0"]["flops"]
    assert paper["map0"]["allocated_compute"] == 64 and paper["accum0"]["allocated_compute"] == 0


def test_non_matmul_maps_flatmaps_and_routing_cost_no_memory_but_count_flops():
    prog = sl.Program("misc")
    N = sl.dim("N")
    x = prog.input("x", sl.Tile(4, 8, "f32"), (N, 2))
    sel = prog.input("sel", sl.Selector(2), (N,))
    y = ops.Map(x, fn.SiLU(), compute_bw=8)
    a, b = ops.Partition(y, sel, 2)
    prog.output("rows", ops.FlatMap(ops.Flatten(a, 0, 1), fn.RetileStreamify()))
    prog.output("b", b)
    paper, artifact = _both(prog)
    for table in (paper, artifact):
        assert all(cells["onchip_memory"] == 0 for cells in table.values())
    assert _at(paper["map0"]["flops"], N=3) == 3 * 2 * 32 * 8
    assert paper["flatmap0"]["flops"] == 0


def test_symbolic_flops_equal_the_interpreted_flops():
    prog = sl.Program("flops")
    N = sl.dim("N")
    x = prog.input("x", sl.Tile(2, 4, "f32"), (N, 3))
    e = ops.Map(x, fn.Exp())
    prog.output("sum", ops.Accum(e, fn.Add(), fn.Zero((2, 4)), 1))
    prog.output("scan", ops.Scan(x, fn.Max(), fn.Zero((2, 4)), 1))
    tiles = [[np.ones((2, 4), np.float32)] * 3] * 5
    result = sl.interpret(prog, inputs={"x": tiles}, bindings={"N": 5})
    assert metrics(prog).evaluate({"N": 5})["flops"] == result.flops == 3 * 5 * 3 * 8


def test_allocated_compute_counts_only_operators_that_perform_flops_in_metrics_and_simulation():
    # EXPERIMENTS.md §1.3: Σ C of the compute operators; row packing (RetileRow), unpacking
    # (RetileStreamify) and Identity move data (0 FLOPs) and are not allocated, even with a C
    prog = sl.Program("alloc")
    rows = prog.input("rows", sl.Tile(1, 8, "f32"), (4, 2))
    packed = ops.Accum(rows, fn.RetileRow(), fn.Empty((0, 8)), 1, compute_bw=512)    # [4] [2,8]
    moved = ops.Map(packed, fn.Identity(), compute_bw=256)
    scaled = ops.Map(moved, fn.Exp(), compute_bw=64)                               # 16 FLOPs
    prog.output("y", ops.FlatMap(scaled, fn.RetileStreamify(), compute_bw=128))
    assert metrics(prog).evaluate({})["allocated_compute"] == 64
    result = sl.simulate(prog, inputs={"rows": np.ones((4, 2, 1, 8), np.float32)})
    assert result.allocated_compute == 64 and result.flops == 4 * 16
    assert result.compute_utilization == pytest.approx(result.flops / result.cycles / 64)


def test_allocated_compute_sums_set_compute_bandwidths_exactly():
    prog = sl.Program("bw")
    x = prog.input("x", sl.Tile(2, 2, "f32"), (sl.dim("N"),))
    prog.output("a", ops.Map(x, fn.Exp(), compute_bw=1024.0))
    prog.output("b", ops.Map(x, fn.Exp(), compute_bw=2.5))
    prog.output("c", ops.Map(x, fn.Exp()))                    # unset: not allocated
    m = metrics(prog)
    assert m.by_node["map0"]["allocated_compute"] == 1024
    assert type(m.by_node["map0"]["allocated_compute"]) is int
    assert m.evaluate({"N": 1})["allocated_compute"] == 1027   # 1026.5 rounded half up
    assert metrics(prog, policy="on_demand").evaluate({"N": 0})["allocated_compute"] == 0
