"""Simulator speed and memory benchmarks (issue 5). Run: ``python benchmarks/bench_sim.py``.

(a) a large synthetic load -> map -> map -> store pipeline (real numpy values), channel events/s;
(b) a Qwen3-30B-A3B-sized MoE layer built directly from the operators (128 experts, top-8,
    batch 64, D=2048, F=768, tile_F=64, static token tiles), timing-only (``values=False``),
    channel events/s;
(c) a straightforward SimPy model of pipeline (a): equal cycle counts, speed ratio;
(d) peak RSS of a batch-1024 Qwen3-sized MoE layer simulated with ``trace=True``, then the
    CPU seconds of the same layer simulated again without a trace (timing only)
    (measured in a fresh subprocess).

A *channel event* is one token put into or taken out of a FIFO (a token crossing a channel is
two events); ``events`` below = 2 × tokens delivered over all channels. Times are CPU seconds of
the benchmark process (``time.process_time``), best of the repeats, so a busy machine distorts
them less than wall time.
(e) the engine alone: six Identity maps over 200,000 tokens, per token
    (``simulate(coalesce=False)``, the reference path) and as one coalesced segment (the default,
    ``sim/coalesce.py``; cycles and per-node statistics checked equal).
(f) row packing: ``Accum(RetileRow)`` of 2,000 ``[1, 4096]`` f32 rows into one tile (amortised
    growable buffer; it used to copy the accumulator on every append, quadratic).
(g) symbolic metrics of the Qwen3 dynamic time-multiplexed MoE layer (32 regions, ~1,500 nodes)
    and of the Qwen3 static-tile-32 layer (~3,300 nodes) under the on-demand policy: build +
    evaluate seconds (a timing print, no assertion).
Options: ``--quick`` (smaller sizes), ``--only a,b,c,d,e,f,g``, ``--json FILE``.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from moe import qwen_moe_layer  # noqa: E402
from simpy_lean import simpy_cycles as lean_simpy_cycles  # noqa: E402
from simpy_pipeline import simpy_cycles  # noqa: E402

import step_lab as sl  # noqa: E402
from step_lab import fn, ops  # noqa: E402

PIPE_TILE = (8, 32)          # f32 tiles of 1 KB
PIPE_BW = (64, 32)           # compute bandwidths of the two maps (FLOPs/cycle)


def pipeline(n_tiles: int) -> sl.Program:
    """load -> Map(Exp) -> Map(Scale) -> store over ``n_tiles`` [8,32] f32 tiles."""
    prog = sl.Program("bench_pipeline")
    r, c = PIPE_TILE
    x = ops.LinearOffChipLoad(prog.tensor("X", (n_tiles * r, c), "f32"), tile=PIPE_TILE)
    y = ops.Map(x, fn.Exp(), compute_bw=PIPE_BW[0])
    z = ops.Map(y, fn.Scale(0.5), compute_bw=PIPE_BW[1])
    ops.LinearOffChipStore(z, "Y")
    return prog


def events_of(result) -> int:
    return 2 * sum(ch["tokens"] for ch in result.channels.values())


def dam_equivalent_events(result) -> int:
    """Token events plus the HBM request/response channel events a DAM-style simulator would
    exchange per 64-byte burst (request enqueue/dequeue + response enqueue/dequeue), which the
    reservation model accounts for analytically instead of simulating one by one."""
    bursts = -(-result.offchip_bytes // result.hw.hbm_request_bytes)
    return events_of(result) + 4 * bursts


def timed(fn_, repeat: int = 1):
    """``(result, best CPU seconds)``: CPU time of this process (one core), so that other
    processes on a loaded machine do not distort the figure; wall time is in ``WALL``."""
    best, out = None, None
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        out = fn_()
        dt = time.process_time() - cpu
        WALL[fn_.__code__.co_firstlineno] = time.perf_counter() - wall
        best = dt if best is None else min(best, dt)
    return out, best


WALL: dict = {}


def pipeline_inputs(n_tiles: int) -> dict:
    x = np.random.default_rng(0).standard_normal((n_tiles * PIPE_TILE[0], PIPE_TILE[1]))
    return {"X": x.astype(np.float32) * 0.1}


def bench_pipeline(n_tiles: int, inputs: dict) -> dict:
    prog = pipeline(n_tiles)
    result, seconds = timed(lambda: sl.simulate(prog, inputs=inputs), repeat=3)
    _, interp_seconds = timed(lambda: sl.interpret(prog, inputs=inputs))
    events = events_of(result)
    return {"tiles": n_tiles, "cycles": result.cycles, "events": events,
            "seconds": round(seconds, 3), "events_per_s": round(events / seconds),
            "interpreter_seconds": round(interp_seconds, 3),
            "interpreter_events_per_s": round(events / interp_seconds),
            "dam_equivalent_events_per_s": round(dam_equivalent_events(result) / seconds)}


def bench_simpy(n_tiles: int, ours: dict, inputs: dict) -> dict:
    """SimPy running the same behaviours per token with per-burst HBM (``simpy_pipeline``),
    and a lean tile-level SimPy model without values (``simpy_lean``), against step_lab."""
    prog = pipeline(n_tiles)
    cycles, seconds = timed(lambda: simpy_cycles(prog, sl.hw.PAPER, inputs=inputs))
    # the lean model has no reference-simulator overheads either: its HBM is the idealised one
    lean, lean_seconds = timed(lambda: lean_simpy_cycles(n_tiles, _pipeline_costs(),
                                                         sl.hw.idealized(sl.hw.PAPER)),
                               repeat=2)
    res, t_timing = timed(lambda: sl.simulate(prog, values=False), repeat=2)
    # the SimPy replicas implement the idealised model (whole-tile HBM reservations, slots free
    # when read): compare cycles with step_lab on sl.hw.idealized(PAPER) (issue 16)
    ideal = sl.simulate(prog, values=False, hw=sl.hw.idealized(sl.hw.PAPER)).cycles
    return {"tiles": n_tiles, "step_lab_cycles": ideal, "simpy_cycles": cycles,
            "equal": cycles == ideal, "simpy_seconds": round(seconds, 3),
            "step_lab_seconds": ours["seconds"],
            "speed_ratio": round(seconds / ours["seconds"], 1),
            "lean_simpy_cycles": lean, "lean_equal": lean == ideal,
            "lean_simpy_seconds": round(lean_seconds, 3),
            "lean_speed_ratio": round(lean_seconds / ours["seconds"], 1),
            "step_lab_timing_only_seconds": round(t_timing, 3),
            "timing_only_cycles_equal": res.cycles == ours["cycles"]}


def _pipeline_costs() -> dict:
    """Per-tile cycles of the pipeline's nodes under hw.PAPER (§7.2), for the SimPy model."""
    r, c = PIPE_TILE
    nbytes = r * c * 4
    hw = sl.hw.PAPER
    exp = max(-(-nbytes // hw.onchip_bytes_per_cycle), -(-r * c // PIPE_BW[0]))  # resident
    scale = -(-r * c // PIPE_BW[1])
    return {"tile_bytes": nbytes, "maps": [exp, scale]}


def bench_moe(batch: int) -> dict:
    prog, bindings, inputs = qwen_moe_layer(batch)
    result, seconds = timed(lambda: sl.simulate(prog, bindings=bindings, inputs=inputs,
                                                values=False), repeat=3)
    events = events_of(result)
    m = sl.metrics(prog).evaluate(bindings)
    return {"batch": batch, "nodes": len(prog.nodes), "cycles": result.cycles,
            "events": events, "seconds": round(seconds, 3),
            "events_per_s": round(events / seconds),
            "dam_equivalent_events_per_s": round(dam_equivalent_events(result) / seconds),
            "offchip_bytes": result.offchip_bytes,
            "offchip_equals_metric": result.offchip_bytes == m["offchip_traffic"],
            "hbm_utilization": round(result.offchip_bandwidth_utilization, 3)}


def bench_rss(batch: int) -> dict:
    """Peak RSS of a fresh process (VmHWM: ru_maxrss would include this parent's pages, which
    a forked child inherits)."""
    here = os.path.dirname(os.path.abspath(__file__))
    code = (f"import sys, resource, time; sys.path[:0] = [{here!r}, {os.path.join(here, '..')!r}]\n"
            "import step_lab as sl\nfrom moe import qwen_moe_layer\n"
            f"prog, b, i = qwen_moe_layer({batch:d})\nt = time.perf_counter()\n"
            "r = sl.simulate(prog, bindings=b, inputs=i, values=False, trace=True)\n"
            "seconds = time.perf_counter() - t\n"
            "try:\n"
            "    peak = [int(l.split()[1]) for l in open('/proc/self/status') "
            "if l.startswith('VmHWM')][0]\n"
            "except OSError:\n"
            "    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
            "t = time.process_time()\n"          # then without a trace (peak RSS already read)
            "sl.simulate(prog, bindings=b, inputs=i, values=False)\n"
            "print(r.cycles, seconds, peak, time.process_time() - t)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout.split()
    cycles, seconds, rss_kb, plain = int(out[0]), float(out[1]), int(out[2]), float(out[3])
    return {"batch": batch, "cycles": cycles, "seconds": round(seconds, 2),
            "timing_only_cpu_seconds": round(plain, 2),       # without a trace (issue 15: <= 1 s)
            "peak_rss_mb": round(rss_kb / 1024, 1), "target_mb": 1024}


def bench_engine_only(n: int) -> dict:
    """The engine's own overhead: six nodes whose behaviours only forward tokens (Identity)."""
    prog = sl.Program("engine_only")
    y = prog.input("x", sl.Tile(1, 16, "f32"), (n,))
    for _ in range(6):
        y = ops.Map(y, fn.Identity())
    prog.output("y", y)
    inputs = {"x": [np.zeros((1, 16), np.float32)] * n}
    result, seconds = timed(lambda: sl.simulate(prog, inputs=inputs, coalesce=False), repeat=3)
    coalesced, co_seconds = timed(lambda: sl.simulate(prog, inputs=inputs, coalesce=True),
                                  repeat=3)
    _, interp_seconds = timed(lambda: sl.interpret(prog, inputs=inputs))
    events = events_of(result)
    return {"tokens": n, "events": events, "seconds": round(seconds, 3),
            "events_per_s": round(events / seconds),
            "coalesced_seconds": round(co_seconds, 3),
            "coalesced_events_per_s": round(events / co_seconds),
            "coalesced_cycles_equal": coalesced.cycles == result.cycles
            and coalesced.per_node == result.per_node,
            "interpreter_events_per_s": round(events / interp_seconds)}


def bench_retile(rows: int) -> dict:
    """(f) ``rows`` appends of a [1, 4096] f32 row with RetileRow, as Accum does."""
    update, row = fn.RetileRow(), np.ones((1, 4096), np.float32)

    def pack():
        acc = fn.Empty((0, 4096))()
        for _ in range(rows):
            acc = update(row, acc)
        return acc
    acc, seconds = timed(pack, repeat=3)
    return {"rows": rows, "tile": list(acc.shape), "seconds": round(seconds, 4),
            "us_per_row": round(1e6 * seconds / rows, 2)}


def bench_metrics() -> dict:
    """(g) on-demand symbolic metrics of two Qwen3 MoE layers (build + evaluate)."""
    from step_lab.workloads import moe_layer, trace_path
    routing = trace_path("expert_routing/qwen_b64/032_012.npz")
    out = {}
    for label, kw in (("dynamic_r32", dict(tiling="dynamic", time_multiplex=True, regions=32,
                                           tile_f=48, compute_bw=1024)),
                      ("static_tile32", dict(tiling="static", tile=32))):
        wl = moe_layer("qwen3-30b-a3b", batch=64, routing=routing, **kw)
        m, build = timed(lambda wl=wl: sl.metrics(wl.program, preset="artifact",
                                                  policy="on_demand"))
        values, evaluate = timed(lambda m=m, wl=wl: m.evaluate(wl.bindings,
                                                               peak=wl.meta["peak_bindings"]))
        out[label] = {"nodes": len(wl.program.nodes), "build_seconds": round(build, 3),
                      "evaluate_seconds": round(evaluate, 3),
                      "onchip_memory": values["onchip_memory"]}
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="a,b,c,d,e,f,g",
                    help="parts to run (e = engine only, f = row packing, g = metrics)")
    ap.add_argument("--json")
    args = ap.parse_args(argv)
    only = set(args.only.split(","))
    n_tiles = 5_000 if args.quick else 50_000
    report: dict = {}
    if only & {"a", "c"}:
        inputs = pipeline_inputs(n_tiles)
        report["a_pipeline"] = bench_pipeline(n_tiles, inputs)
        print("(a) pipeline:", report["a_pipeline"], flush=True)
    if "b" in only:
        report["b_moe"] = bench_moe(64)
        print("(b) Qwen3 MoE b64:", report["b_moe"], flush=True)
    if "c" in only:
        report["c_simpy"] = bench_simpy(n_tiles, report["a_pipeline"], inputs)
        print("(c) SimPy:", report["c_simpy"], flush=True)
    if "d" in only:
        report["d_rss"] = bench_rss(256 if args.quick else 1024)
        print("(d) RSS:", report["d_rss"], flush=True)
    if "e" in only:
        report["e_engine_only"] = bench_engine_only(20_000 if args.quick else 200_000)
        print("(e) engine only:", report["e_engine_only"], flush=True)
    if "f" in only:
        report["f_retile"] = bench_retile(500 if args.quick else 2_000)
        print("(f) RetileRow packing:", report["f_retile"], flush=True)
    if "g" in only:
        report["g_metrics"] = bench_metrics()
        print("(g) on-demand metrics:", report["g_metrics"], flush=True)
    report["python"] = sys.version.split()[0]
    report["simulator"] = sl.native.status()        # compiled (mypyc) or pure Python
    print("simulator core:", report["simulator"], flush=True)
    report["load_average"] = os.getloadavg()
    report["self_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
