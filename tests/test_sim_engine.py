"""The event engine: closed-form timing, FIFO back-pressure, deadlock, errors, progress (§7)."""
import re
import time

import numpy as np
import pytest

import step_lab as sl
from step_lab import DONE, BindingError, ConfigError, DeadlockError, S, StepError, fn, ops
from step_lab.hw import PAPER, idealized
from step_lab.ir.node import ANY, GET, PUT, Node

# the hand-computed cycles below follow STEP.md §7 without the reference simulator's overheads
# (issue 16: request streams, held operands, credit and path latencies; tests/test_overheads.py)
IDEAL = idealized(PAPER)

# -- tiny test-only operators ------------------------------------------------------------------


class Fwd(Node):
    """A routing node that forwards every token (1 item per cycle)."""

    group = "routing"

    def _build(self, stream):
        self.inputs = (stream,)
        self._out_types = (stream.type,)

    def behaviour(self, ctx):
        while True:
            tok = yield (GET, 0)
            yield (PUT, 0, tok)
            if tok is DONE:
                return


class Lead(Node):
    """Forwards x but reads the feedback only once ``lead`` items are ahead of it."""

    group = "routing"

    def _build(self, x, fb, lead):
        self.inputs = (x, fb)
        self.params = {"lead": lead}
        self._out_types = (x.type,)

    def behaviour(self, ctx):
        ahead = 0
        while True:
            tok = yield (GET, 0)
            if tok is DONE:
                for _ in range(ahead):              # the pending items
                    yield (GET, 1)
                yield (PUT, 0, DONE)
                yield (GET, 1)                      # the feedback's Done
                return
            yield (PUT, 0, tok)
            ahead += 1
            if ahead > self.params["lead"]:
                yield (GET, 1)
                ahead -= 1


class Boom(Node):
    """Raises on its third data item (``kind`` = 'step' for a StepError, else ValueError)."""

    group = "routing"

    def _build(self, stream, kind="step"):
        self.inputs = (stream,)
        self.params = {"kind": kind}
        self._out_types = (stream.type,)

    def behaviour(self, ctx):
        seen = 0
        while True:
            tok = yield (GET, 0)
            seen += 1
            if seen == 3:
                if self.params["kind"] == "step":
                    raise StepError("the third item is bad")
                raise ValueError("numpy said no")
            yield (PUT, 0, tok)
            if tok is DONE:
                return


TILE = sl.Tile(1, 4, "f32")


def token_input(prog, n, name="x"):
    return prog.input(name, TILE, (n,))


def ones(n):
    return [np.ones((1, 4), np.float32)] * n


# -- closed form -------------------------------------------------------------------------------
def load_map_store(n_tiles, compute_bw):
    prog = sl.Program("lms")
    x = ops.LinearOffChipLoad(prog.tensor("X", (64 * n_tiles, 64), "bf16"), tile=(64, 64))
    ops.LinearOffChipStore(ops.Map(x, fn.Exp(), compute_bw=compute_bw), "Y")
    return prog


def closed_form(n_tiles, compute_bw, hw=IDEAL):
    """N × max(costs) + fill latency, from the parameters of §7 (see below)."""
    tile_bytes, flops = 64 * 64 * 2, 64 * 64
    bursts_per_channel = tile_bytes // hw.hbm_request_bytes // hw.hbm_channels     # 4
    hbm_tile = bursts_per_channel * hw.hbm_cycles_per_request                       # 8 cycles
    per_tile = max(-(-tile_bytes // hw.onchip_bytes_per_cycle),   # memory-resident input
                   -(-flops // compute_bw))                       # compute
    # the first tile: HBM start-up, its bursts, latency, one channel hop to the map
    fill = (hw.hbm_startup_cycles + hbm_tile - hw.hbm_cycles_per_request
            + hw.hbm_latency_cycles + hw.channel_latency_cycles)
    # the last tile: one hop (plus the pipeline latency) to the store, its write
    drain = (hw.channel_latency_cycles + hw.pipeline_latency_cycles + hbm_tile
             - hw.hbm_cycles_per_request + hw.hbm_latency_cycles)
    return n_tiles * per_tile + fill + drain


@pytest.mark.parametrize("n_tiles", [1, 4, 16, 50])
@pytest.mark.parametrize("compute_bw", [64, 16, 4096])
def test_load_map_store_takes_n_times_the_max_cost_plus_fill_latency(n_tiles, compute_bw):
    result = sl.simulate(load_map_store(n_tiles, compute_bw), hw=IDEAL)
    assert result.cycles == closed_form(n_tiles, compute_bw)


def test_pipeline_latency_delays_without_slowing_the_pipeline():
    hw = IDEAL.replace(pipeline_latency_cycles=7)
    result = sl.simulate(load_map_store(16, 64), hw=hw)
    assert result.cycles == closed_form(16, 64, hw) == closed_form(16, 64) + 7


def test_routing_nodes_move_one_item_per_cycle():
    prog = sl.Program("fwd")
    y = token_input(prog, 100)
    for _ in range(5):
        y = Fwd(y)
    prog.output("y", y)
    result = sl.simulate(prog, inputs={"x": ones(100)})
    assert result.cycles == 100 + 5             # one item per cycle, one cycle per hop


def test_a_standalone_stop_token_takes_a_slot_and_a_cycle_an_attached_one_is_free():
    def run(vectors, trace=False):
        prog = sl.Program("stops")
        x = prog.input("x", TILE, (len(vectors), sl.dim("L")), ragged=(sl.dim("L"),))
        prog.output("y", Fwd(Fwd(x)))
        return sl.simulate(prog, inputs={"x": vectors}, bindings={"L": 1}, trace=trace)
    one = run([ones(1)] * 50)                    # a S1 a S1 …: stops attached
    empty = run([[]] * 50)                       # S1 S1 …: stops standalone
    two = run([ones(2)] * 50)                    # a a S1 …
    assert one.cycles == empty.cycles == 50 + 2
    assert two.cycles == 100 + 2
    fifo = next(iter(run([[]] * 50, trace=True).trace.fifos.values()))
    assert len(fifo.puts) == 50
    fifo = next(iter(run([ones(1)] * 50, trace=True).trace.fifos.values()))
    assert len(fifo.puts) == 50                  # data only: the attached stops are free


def test_partition_pays_the_switch_cost_when_its_target_changes():
    def cycles(selectors, switch):
        prog = sl.Program("switch")
        x = token_input(prog, len(selectors))
        sel = prog.input("sel", sl.Selector(2), (len(selectors),))
        a, b = ops.Partition(x, sel, 2)
        prog.output("a", a)
        prog.output("b", b)
        hw = PAPER.replace(switch_cost_cycles=switch, fifo_depth=64)
        return sl.simulate(prog, hw=hw, inputs={"x": ones(len(selectors)), "sel": selectors})
    alternating, same = [{0}, {1}] * 20, [{0}] * 40
    assert cycles(same, 1).cycles == cycles(same, 0).cycles
    assert cycles(alternating, 1).cycles == cycles(alternating, 0).cycles + 39


# -- FIFOs, tokens and time, checked from the trace --------------------------------------------
def moe_program():
    from test_sim_values import prog_moe
    return prog_moe()


@pytest.mark.parametrize("depth", [1, 2, 3])
def test_fifo_occupancy_never_exceeds_capacity_and_time_never_goes_backwards(depth):
    prog, inputs, bindings = moe_program()
    result = sl.simulate(prog, inputs=inputs, bindings=bindings, trace=True,
                         hw=PAPER.replace(fifo_depth=depth))
    trace = result.trace
    for fifo in trace.fifos.values():
        puts, gets = list(fifo.puts), list(fifo.gets)
        assert puts == sorted(puts) and gets == sorted(gets) and len(puts) == len(gets)
        assert all(g >= p for p, g in zip(puts, gets, strict=True))   # a token leaves after it came
        assert max((level for _, level in fifo.changes()), default=0) <= fifo.capacity
        assert min((level for _, level in fifo.changes()), default=0) >= 0
    for name in trace.busy:
        spans = trace.intervals(name)
        assert all(s < e for s, e in spans)
        assert all(a[1] < b[0] for a, b in zip(spans, spans[1:], strict=False))   # sorted, disjoint
        assert all(e <= result.cycles for _, e in spans)
    for start, done, nbytes, _, _ in trace.hbm_accesses():
        assert 0 <= start < done <= result.cycles and nbytes > 0


def test_tokens_in_equal_tokens_out_on_every_channel_and_match_the_interpreter():
    prog, inputs, bindings = moe_program()
    result = sl.simulate(prog, inputs=inputs, bindings=bindings)
    run = sl.interpret(prog, inputs=inputs, bindings=bindings)
    consumers = prog.consumers()
    for stream in prog.streams:
        expected = len(run.stream_tokens[stream])
        for consumer, port in consumers[stream]:
            name = f"{stream.name} -> {consumer.name}.{port}"
            assert result.channels[name]["tokens"] == expected
    for node in prog.nodes:
        stats = result.per_node[node.name]
        assert stats["tokens_in"] == sum(len(run.stream_tokens[s]) for s in node.inputs)
        assert stats["tokens_out"] == sum(len(run.stream_tokens[s]) for s in node.outputs)


def test_busy_stall_and_idle_add_up_to_the_run():
    prog, inputs, bindings = moe_program()
    result = sl.simulate(prog, inputs=inputs, bindings=bindings)
    for name, stats in result.per_node.items():
        if stats["op"] in ("LinearOffChipLoad", "LinearOffChipStore"):
            continue                # in-flight time may overlap stalls (documented)
        total = stats["busy"] + stats["stall_in"] + stats["stall_out"] + stats["idle"]
        assert total == result.cycles, name


# -- determinism and the coalesced (run-ahead) path vs the per-event path ----------------------
def test_two_runs_are_identical_including_the_trace():
    prog, inputs, bindings = moe_program()
    a = sl.simulate(prog, inputs=inputs, bindings=bindings, trace=True)
    b = sl.simulate(prog, inputs=inputs, bindings=bindings, trace=True)
    assert a.trace == b.trace and a.per_node == b.per_node and a.cycles == b.cycles


def competing_loads():
    prog = sl.Program("compete")
    for i in range(3):
        x = ops.LinearOffChipLoad(prog.tensor(f"X{i}", (64 * 8, 64), "bf16"), tile=(16 << i, 64))
        y = ops.Map(x, fn.Scale(2.0), compute_bw=8 << i)
        ops.LinearOffChipStore(y, f"Y{i}")
    return prog, {}, {}


@pytest.mark.parametrize("program", ["moe", "compete", "merge", "route", "onchip"])
def test_run_ahead_path_equals_the_per_event_lockstep_path(program):
    import test_sim_values as v
    builders = {"moe": moe_program, "compete": competing_loads, "merge": v.prog_eager_merge,
                "route": v.prog_partition_reassemble, "onchip": v.prog_bufferize_streamify}
    prog, inputs, bindings = builders[program]()
    fast = sl.simulate(prog, inputs=inputs, bindings=bindings, trace=True)
    slow = sl.simulate(prog, inputs=inputs, bindings=bindings, trace=True, lockstep=True)
    assert fast.trace == slow.trace and fast.per_node == slow.per_node
    assert fast.values.keys() == slow.values.keys()


def test_tokens_run_ahead_without_events_only_off_chip_tiles_synchronise():
    prog = load_map_store(64, 64)
    from step_lab.sim import engine
    calls = []
    original = engine.Engine._sync
    engine.Engine._sync = lambda self, *a: (calls.append(1), original(self, *a))[1]
    try:
        sl.simulate(prog, hw=IDEAL)
        ideal = len(calls)
        sl.simulate(prog)
    finally:
        engine.Engine._sync = original
    assert ideal <= 2 * 64 + 2               # only the off-chip commands synchronise
    # request streams: a tile also synchronises on its completion (hbm_stream), still O(tiles)
    assert len(calls) <= 3 * (2 * 64 + 2)


# -- deadlock ----------------------------------------------------------------------------------
def feedback_cycle(lead, depth):
    prog = sl.Program("cycle")
    x = token_input(prog, 30)
    fb = prog.feedback(TILE, (30,), depth=depth)
    y = Lead(x, fb, lead)
    prog.connect(fb, Fwd(y))
    return prog


def test_a_cycle_with_enough_buffering_completes():
    prog = feedback_cycle(lead=5, depth=4)
    assert sl.simulate(prog, inputs={"x": ones(30)}).cycles > 30


def test_a_cycle_with_too_small_buffers_raises_deadlock_naming_nodes_and_channels():
    prog = feedback_cycle(lead=20, depth=1)
    sl.interpret(prog, inputs={"x": ones(30)})                    # fine with unbounded queues
    start = time.perf_counter()
    with pytest.raises(DeadlockError) as info:
        sl.simulate(prog, inputs={"x": ones(30)})
    assert time.perf_counter() - start < 1.0
    msg = str(info.value)
    assert "'lead0' (Lead)" in msg and "'fwd0' (Fwd)" in msg
    assert "waits to put on full channel 'lead0' -> 'fwd0' (2/2 slots used)" in msg
    assert "'feedback0' -> 'lead0' (2/2 slots used)" in msg
    assert "hint:" in msg


def test_a_fork_that_rejoins_deadlocks_without_a_deep_selector_fifo():
    prog, inputs, bindings = moe_program()
    prog.set_fifo_depth(prog.inputs["sel"].outputs[0], 2)
    with pytest.raises(DeadlockError, match=r"'sel' \(Input\).*waits to put on full channel"):
        sl.simulate(prog, inputs=inputs, bindings=bindings)


# -- errors ------------------------------------------------------------------------------------
@pytest.mark.parametrize("kind,error", [("step", StepError), ("value", StepError)])
def test_errors_inside_a_behaviour_name_node_type_and_cycle_and_chain_the_cause(kind, error):
    prog = sl.Program("boom")
    prog.output("y", Boom(Fwd(token_input(prog, 5)), kind))
    with pytest.raises(error, match=r"while simulating 'boom0' \(Boom\) at cycle \d+: ") as e:
        sl.simulate(prog, inputs={"x": ones(5)})
    cause = e.value.__cause__
    assert isinstance(cause, StepError if kind == "step" else ValueError)


class Garbled(Node):
    """Forwards its first item, then yields the command ``bad`` (not one the engine knows)."""

    group = "routing"

    def _build(self, stream, bad):
        self.inputs = (stream,)
        self.params = {"bad": bad}
        self._out_types = (stream.type,)

    def behaviour(self, ctx):
        tok = yield (GET, 0)
        yield (PUT, 0, tok)
        yield self.params["bad"]


class NumpyPorts(Fwd):
    """Forwards every token, naming its ports (and command kinds) with numpy integers."""

    def behaviour(self, ctx):
        get, put, zero = np.int64(GET), np.int64(PUT), np.int64(0)
        while True:
            tok = yield (get, zero)
            yield (put, zero, tok)
            if tok is DONE:
                return


class FirstCome(Node):
    """Forwards the tokens of two streams in arrival order (ANY); ``numpy`` names its ports
    with numpy integers."""

    group = "routing"
    order_free = True

    def _build(self, a, b, numpy=False):
        self.inputs = (a, b)
        self.params = {"numpy": numpy}
        self._out_types = (a.type,)

    def behaviour(self, ctx):
        ports = [np.int64(0), np.int64(1)] if self.params["numpy"] else [0, 1]
        while True:
            k = yield (ANY, ports)
            if k < 0:
                break
            tok = yield (GET, ports[k])
            yield (PUT, 0, tok)
        for port in ports:
            yield (GET, port)
        yield (PUT, 0, DONE)


@pytest.mark.parametrize("consumers", [1, 2])
def test_numpy_integer_ports_and_kinds_are_accepted_like_ints(consumers):
    runs = []
    for make in (NumpyPorts, Fwd):
        prog = sl.Program("ports")
        y = make(Fwd(token_input(prog, 4)))
        for i in range(consumers):
            prog.output(f"y{i}", y)
        runs.append(sl.simulate(prog, inputs={"x": ones(4)}))
    assert runs[0].cycles == runs[1].cycles and repr(runs[0].values) == repr(runs[1].values)


def test_numpy_integer_ports_of_an_any_command_are_accepted_like_ints():
    runs = []
    for numpy in (True, False):
        prog = sl.Program("merge")
        a, b = token_input(prog, 3, "a"), token_input(prog, 5, "b")
        prog.output("y", FirstCome(a, b, numpy=numpy))
        runs.append(sl.simulate(prog, inputs={"a": ones(3), "b": ones(5)}))
    assert runs[0].cycles == runs[1].cycles and repr(runs[0].values) == repr(runs[1].values)


@pytest.mark.parametrize("bad", [("GET", 0), (99, 0), ()])
@pytest.mark.parametrize("lockstep", [False, True])
def test_an_unknown_behaviour_command_is_a_named_error(bad, lockstep):
    prog = sl.Program("garbled")
    prog.output("y", Garbled(Fwd(token_input(prog, 3)), bad))
    with pytest.raises(StepError, match=r"while simulating 'garbled0' \(Garbled\) at cycle \d+: "
                                        r"unknown behaviour command " + re.escape(repr(bad))):
        sl.simulate(prog, inputs={"x": ones(3)}, lockstep=lockstep)


@pytest.mark.parametrize("bad", [("0",), (1.0,)])
def test_a_port_that_is_not_an_integer_is_a_named_error(bad):
    prog = sl.Program("garbled")
    prog.output("y", Garbled(Fwd(token_input(prog, 3)), (GET, *bad)))
    with pytest.raises(StepError, match=r"while simulating 'garbled0' \(Garbled\) at cycle \d+: "
                                        r"port .* is not an integer \(expected an int"):
        sl.simulate(prog, inputs={"x": ones(3)})


def test_a_function_counting_flops_with_numpy_integers_simulates():
    class NumpyCount(fn.Exp):
        def flops_of_type(self, elem):
            return np.int64(4)

    prog = sl.Program("np_flops")
    prog.output("y", ops.Map(token_input(prog, 4), NumpyCount(), compute_bw=4))
    res = sl.simulate(prog, inputs={"x": ones(4)})
    assert res.allocated_compute == 4 and res.flops == 4 * 4


def test_unbound_symbols_raise_binding_error_before_the_first_cycle():
    prog = sl.Program("unbound")
    n = sl.dim("N")
    ops.LinearOffChipStore(ops.LinearOffChipLoad(prog.tensor("X", (n, 4), "f32"), (1, 4)), "Y")
    with pytest.raises(BindingError, match=r"unbound symbols \{'N'\}"):
        sl.simulate(prog)
    assert sl.simulate(prog, bindings={"N": 3}).cycles > 0


def test_zero_compute_bandwidth_with_flops_is_a_config_error_naming_the_node():
    prog = sl.Program("zero")
    prog.output("y", ops.Map(token_input(prog, 3), fn.Exp()))
    with pytest.raises(ConfigError, match=r"'map0' \(Map\) needs 4 FLOPs.*bandwidth is 0"):
        sl.simulate(prog, inputs={"x": ones(3)}, hw=PAPER.replace(compute_flops_per_cycle=0))
    prog2 = sl.Program("zero_ok")
    prog2.output("y", ops.Map(token_input(prog2, 3), fn.Identity()))
    assert sl.simulate(prog2, inputs={"x": ones(3)},
                       hw=PAPER.replace(compute_flops_per_cycle=0)).cycles > 0


def test_hw_may_be_a_preset_name_and_anything_else_is_rejected():
    prog = load_map_store(2, 64)
    assert sl.simulate(prog, hw="validation").hw is sl.hw.VALIDATION
    with pytest.raises(ConfigError, match="expected a HardwareConfig"):
        sl.simulate(prog, hw=3)


# -- progress and interruption -----------------------------------------------------------------
def long_pipeline(n=20000):
    prog = sl.Program("long")
    y = token_input(prog, n)
    for _ in range(3):
        y = Fwd(y)
    prog.output("y", y)
    return prog, {"x": ones(n)}


def test_progress_callback_gets_increasing_fractions_ending_at_one():
    prog, inputs = long_pipeline()
    seen = []
    sl.simulate(prog, inputs=inputs, progress=seen.append)
    assert len(seen) >= 3 and seen == sorted(seen) and seen[-1] == 1.0
    assert all(0 <= f <= 1 for f in seen)


def test_a_tqdm_like_bar_gets_its_total_and_updates_summing_to_it():
    class Bar:
        total = None
        n = 0

        def update(self, k):
            self.n += k
    bar = Bar()
    prog, inputs = long_pipeline()
    sl.simulate(prog, inputs=inputs, progress=bar)
    assert bar.total == 4 * 20000 and bar.n == bar.total


def test_keyboard_interrupt_propagates_promptly_and_leaves_nothing_corrupted():
    prog, inputs = long_pipeline()
    clean = sl.simulate(prog, inputs=inputs, trace=True)

    def interrupt(_):
        raise KeyboardInterrupt
    start = time.perf_counter()
    with pytest.raises(KeyboardInterrupt):
        sl.simulate(prog, inputs=inputs, progress=interrupt)
    assert time.perf_counter() - start < clean_seconds(prog, inputs)
    again = sl.simulate(prog, inputs=inputs, trace=True)
    assert again.trace == clean.trace


def clean_seconds(prog, inputs):
    start = time.perf_counter()
    sl.simulate(prog, inputs=inputs)
    return 2 * (time.perf_counter() - start) + 0.5


def test_a_bad_progress_argument_is_a_config_error():
    prog, inputs = long_pipeline(10)
    with pytest.raises(ConfigError, match="progress"):
        sl.simulate(prog, inputs=inputs, progress=42)


def test_outputs_follow_the_interpreters_structure():
    prog = sl.Program("outs")
    x = prog.input("x", TILE, (2, sl.dim("L")), ragged=(sl.dim("L"),))
    prog.output("y", Fwd(x))
    r = sl.simulate(prog, inputs={"x": [ones(2), ones(1)]}, bindings={"L": 2})
    assert r.tokens["y"][-1] is DONE and r.tokens["y"][2] is S(1)
    assert len(r.values["y"]) == 2 and len(r.outputs["y"][1]) == 1
