"""Name scopes in the IR (Program.scope) and their use by the workload builders."""
import pytest

import step_lab as sl
from step_lab import ops
from step_lab.errors import GraphError

ROW = sl.Tile(1, 64, "bf16")


def _scoped():
    prog = sl.Program("scoped")
    x = prog.input("x", ROW, (10, 1))
    with prog.scope("outer"):
        a = ops.Flatten(x, 0, 1, name="a")
        with prog.scope("inner"):
            b = ops.Promote(a, name="b")
        c = ops.Flatten(b, 0, 1, name="c")
    prog.output("y", c)
    return prog


def test_scopes_nest_outermost_first_and_default_to_empty():
    prog = _scoped()
    scopes = {n.name: n.scope for n in prog.nodes}
    assert scopes == {"x": (), "a": ("outer",), "b": ("outer", "inner"), "c": ("outer",),
                      "out_y": ()}
    assert prog.current_scope == ()
    assert list(prog.scopes()) == [(), ("outer",), ("outer", "inner")]


def test_scope_is_restored_after_an_error_inside():
    prog = sl.Program("p")
    with pytest.raises(RuntimeError):
        with prog.scope("s"):
            raise RuntimeError("boom")
    assert prog.current_scope == ()


@pytest.mark.parametrize("bad", ["", "  ", None, 3])
def test_a_bad_scope_name_is_a_graph_error_naming_it(bad):
    prog = sl.Program("p")
    with pytest.raises(GraphError, match="scope name"):
        with prog.scope(bad):
            pass


def test_scopes_do_not_change_the_fingerprint_metrics_or_cycles():
    def build(scoped: bool):
        prog = sl.Program("copy")
        X = prog.tensor("X", (8, 64), "bf16")
        Y = prog.tensor("Y", (8, 64), "bf16", role="output")
        if scoped:
            with prog.scope("load"):
                x = ops.LinearOffChipLoad(X, tile=(1, 64))
            with prog.scope("store"):
                ops.LinearOffChipStore(ops.Flatten(x, 0, 1), Y)
        else:
            ops.LinearOffChipStore(ops.Flatten(ops.LinearOffChipLoad(X, tile=(1, 64)), 0, 1), Y)
        return prog

    plain, scoped = build(False), build(True)
    assert plain.fingerprint() == scoped.fingerprint()
    assert str(sl.metrics(plain)) == str(sl.metrics(scoped))
    assert sl.simulate(plain).cycles == sl.simulate(scoped).cycles
    assert "cluster_scope_load" in scoped.to_dot()


def test_moe_builder_scopes_every_expert_and_region():
    from step_lab.workloads import moe_layer
    wl = moe_layer("qwen3-30b-a3b", batch=64, tiling="dynamic", time_multiplex=True)
    tops = {n.scope[:1] for n in wl.program.nodes}
    assert {("expert 0",), ("expert 127",), ("region 0",), ("region 31",), ("route",),
            ("combine",)} <= tops
    assert wl.program.node("e12_pack").scope == ("expert 12",)
    assert wl.program.node("r3_gate").scope == ("region 3",)
    plain = moe_layer("mixtral-8x7b", batch=16, tiling="static", tile=16)
    assert plain.program.node("e7_gate").scope == ("expert 7",)


def test_attention_swiglu_and_qkv_builders_scope_their_stages():
    from step_lab.workloads import attention_decode, swiglu
    from step_lab.workloads.e2e import qkv_generation
    att = attention_decode("qwen3-30b-a3b", kv_lengths=[40] * 8, parallel=2,
                           strategy="dynamic")
    assert att.program.node("r1_qk").scope == ("region 1",)
    assert {n.scope[:1] for n in att.program.nodes} >= {("dispatch",), ("store",)}
    coarse = attention_decode("qwen3-30b-a3b", kv_lengths=[40] * 8, parallel=2,
                              strategy="coarse")
    assert coarse.program.node("r0_request_addr").scope == ("dispatch", "region 0")
    sw = swiglu(batch=16, hidden=32, intermediate=64, tile_m=8, tile_n=16)
    assert {n.name: n.scope for n in sw.program.nodes}["silu"] == ("activation",)
    assert sw.program.node("load_wg").scope == ("gate",)
    qkv = qkv_generation("qwen3-30b-a3b", batch=8, parallel=2)
    assert qkv.program.node("q1_matmul").scope == ("region 1",)
    assert all(n.scope for n in qkv.program.nodes)


def test_the_toy_moe_scopes_its_experts():
    from step_lab.workloads import simplified_moe
    prog, _, _ = simplified_moe(tokens=16, experts=4, tiling="static", chunk=4)
    assert {n.scope for n in prog.nodes} == {(), ("expert 0",), ("expert 1",), ("expert 2",),
                                            ("expert 3",)}
    assert "×4" in prog.to_dot(expand="none")
