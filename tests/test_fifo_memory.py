"""The artifact's FIFO-counting memory accounting (issue 16 item 4): ``metrics(fifo_depth=d)`` and
``simulate(fifo_memory=True)`` add every FIFO's depth × token bytes to the on-chip memory."""
import pytest

import step_lab as sl
from step_lab import fn, ops
from step_lab.errors import ConfigError


def worked_example():
    """load [4 x Tile[1,64] bf16] -> flatten -> square (Map over a Zip) -> store, the FIFO from
    the square to the store deepened to 4."""
    prog = sl.Program("fifo")
    X = prog.tensor("X", (4, 64), "bf16")
    t = ops.Flatten(ops.LinearOffChipLoad(X, tile=(1, 64), name="load"), 0, 2, name="flat")
    y = ops.Map([t, t], fn.Mul(), compute_bw=64, name="sq")        # inserts a Zip
    ops.LinearOffChipStore(y, "Y", name="store")
    prog.set_fifo_depth(y, 4)
    return prog


def test_the_worked_example_by_hand():
    # paper preset without FIFOs: load 2·128 + store 2·128 = 512 B
    # FIFOs at depth 2 (token = one [1,64] bf16 tile = 128 B; the Zip's tuple = 256 B):
    #   load->flat 2·128 = 256, flat->zip two ports 2·(2·128) = 512, zip->sq 2·256 = 512,
    #   sq->store (set to depth 4) 4·128 = 512: 1,792 B of FIFOs, total 2,304 B
    prog = worked_example()
    assert sl.metrics(prog).onchip_memory == 512
    m = sl.metrics(prog, fifo_depth=2)
    assert m.onchip_memory == 2304
    cells = {name: m.by_node[name]["onchip_memory"] for name in ("load", "flat", "sq", "store")}
    assert cells == {"load": 256, "flat": 256, "sq": 512, "store": 256 + 512}
    assert m.offchip_traffic == sl.metrics(prog).offchip_traffic == 4 * 128 * 2


def test_the_artifact_preset_counts_fifo_tiles_at_its_compute_element_size():
    # artifact: load 128 + store 128; FIFOs at depth 1 with 4 B elements: 256 + 2·256 + 512
    # + 4·256 (the depth-4 FIFO keeps its own depth) = 2,304
    prog = worked_example()
    assert sl.metrics(prog, preset="artifact").onchip_memory == 256
    assert sl.metrics(prog, preset="artifact", fifo_depth=1).onchip_memory == 2560


def test_the_simulator_reports_the_same_peak_with_fifo_memory():
    prog = worked_example()
    assert sl.simulate(prog).onchip_peak_bytes == 512
    assert sl.simulate(prog, fifo_memory=True).onchip_peak_bytes == 2304
    one = sl.hw.PAPER.replace(fifo_depth=1)
    # depth 1: 128 + 2·128 + 256 + 512 (override) = 1,152 FIFO bytes
    assert sl.simulate(prog, hw=one, fifo_memory=True).onchip_peak_bytes == 512 + 1152
    assert sl.metrics(prog, fifo_depth=1).onchip_memory == 512 + 1152


def test_fifo_channels_match_the_simulators_channels():
    prog = worked_example()
    sim = sl.simulate(prog, fifo_memory=True)
    assert sum(ch["capacity"] for ch in sim.channels.values()) == 2 + 2 * 2 + 2 + 4


def test_symbolic_fifo_bytes_follow_dynamic_tiles():
    prog = sl.Program("dyn")
    x = prog.input("x", sl.Tile(1, 8, "f32"), (sl.dim("N"),))
    packed = ops.Accum(ops.Promote(x), fn.RetileRow(), fn.Empty((0, 8)), 1, name="pack")
    prog.output("o", ops.Map(packed, fn.Exp(), compute_bw=8, name="e"))   # Tile[N, 8]
    extra = sl.metrics(prog, fifo_depth=3).onchip_memory - sl.metrics(prog).onchip_memory
    # x->promote, promote->pack: 3·32 each; pack->e and e->out: 3·(N·8·4) each
    assert sl.metrics(prog, fifo_depth=3).evaluate({"N": 5})["onchip_memory"] - \
        sl.metrics(prog).evaluate({"N": 5})["onchip_memory"] == 2 * 96 + 2 * 3 * 160
    assert extra.free_symbols


def test_on_demand_drops_the_fifos_of_an_idle_node():
    prog = sl.Program("idle")
    x = prog.input("x", sl.Tile(1, 8, "f32"), (sl.dim("N"),))
    prog.output("o", ops.Map(x, fn.Exp(), compute_bw=8, name="e"))
    m = sl.metrics(prog, policy="on_demand", fifo_depth=2)
    assert m.evaluate({"N": 0})["onchip_memory"] == 0
    assert m.evaluate({"N": 5})["onchip_memory"] == 2 * 32 * 2     # x->e and e->out


@pytest.mark.parametrize("bad", [0, -1, 1.5, "2", True])
def test_a_bad_fifo_depth_is_a_config_error(bad):
    with pytest.raises(ConfigError, match="fifo_depth"):
        sl.metrics(worked_example(), fifo_depth=bad)


@pytest.mark.parametrize("bad", [1, "yes", None])
def test_fifo_memory_must_be_a_bool(bad):
    with pytest.raises(ConfigError, match="fifo_memory"):
        sl.simulate(worked_example(), fifo_memory=bad)


def test_the_metrics_say_which_accounting_they_used():
    m = sl.metrics(worked_example(), fifo_depth=2, buffer_capacity=4096)
    assert "fifo_depth=2, buffer_capacity=4096" in str(m)
    assert m.to_dict()["fifo_depth"] == 2 and m.to_dict()["buffer_capacity"] == 4096
    assert "fifo_depth" not in sl.metrics(worked_example()).to_dict()


def test_a_changed_fifo_depth_is_not_served_from_the_cache():
    prog = worked_example()
    before = sl.metrics(prog, fifo_depth=2).onchip_memory
    prog.set_fifo_depth(prog.node("load").outputs[0], 8)         # load->flat: 2 -> 8 slots
    assert sl.metrics(prog, fifo_depth=2).onchip_memory == before + 6 * 128
