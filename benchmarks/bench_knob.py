"""Knob-change latency of the notebook layer (issue 7): re-build, re-simulate and redraw.

A knob change in a ``%%step`` cell or ``explore(...)`` runs, in the kernel: the builder, the
symbolic metrics, the simulation (with a trace when animating), the graph SVG (Graphviz) and the
browser player (its compact data, bokeh document and HTML). This benchmark times exactly that path —
``StepPanel.set(knob=value)`` with background evaluation off — and each stage on its own.
Browser-side rendering is not included (it is asynchronous and measured by eye in the browser
test's screenshots).

Workloads:

* ``toy``  — ``simplified_moe(tokens=64, experts=8)`` (STEP.md §8.4), knob ``tiling``
  static ↔ dynamic and ``chunk``, real values, graph and animation on;
* ``qwen`` — ``sl.workloads.moe_layer('qwen3-30b-a3b', batch=64)`` on the real trace (128
  experts, ~2,600 nodes), knob ``tile_n`` 16 ↔ 32, timing-only simulation (``values=False``),
  animation on, graph skipped above ``max_graph_nodes`` (Graphviz needs ~30 s for it).

The player output is rebuilt (``player_for(...).html()``), as a knob change does; its playback
runs in the browser (see ``bench_player.py`` for its data size and build time).

Since issue 15 a panel remembers settings and evaluates the neighbouring ones ahead in a
background thread (``notebook/cache.py``, ``notebook/speculate.py``). Three scenarios per
workload:

* ``hit`` (the headline ``numbers shown after X s``): speculation on, each change waits until
  the worker is idle and then moves to a neighbouring setting — the usual slider move;
* ``miss``: the cache is cleared before each change and nothing is speculated — a setting never
  seen (what every change cost before issue 15);
* ``contended``: a change to a setting that is not cached, made while the worker is busy with
  its guesses (the foreground must not be slowed by them).

``loop latency`` is the longest gap of the main thread (a 1 ms sleep loop, standing in for the
kernel's message loop) while a panel with ``background=True`` evaluates a change and speculates.
``model`` is the explorer's model switch (``moe_layer`` of Qwen3-30B-A3B / Mixtral-8x7B at batch
64 on their vendored traces, timing only).

Run: ``python benchmarks/bench_knob.py [--only toy,qwen,model] [--repeat 3] [--json FILE]``.
Reported: wall-clock seconds (what a user waits) and CPU seconds of the process
(``time.process_time``; steadier on a shared machine), best and median over the changes.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Callable

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

import step_lab as sl  # noqa: E402
from step_lab.notebook.explorer import builder_for  # noqa: E402
from step_lab.notebook.graph import graph_html  # noqa: E402
from step_lab.notebook.outcome import Options  # noqa: E402
from step_lab.notebook.panel import StepPanel  # noqa: E402
from step_lab.notebook.player import player_for  # noqa: E402
from step_lab.workloads import simplified_moe  # noqa: E402

TARGET_SECONDS = 0.5


def toy(tiling: str = "static", chunk: int = 4):
    return simplified_moe(tokens=64, experts=8, tiling=tiling, chunk=chunk)


def qwen(tile_n: int = 16):
    """The Qwen3-30B-A3B MoE layer at batch 64 on the vendored routing trace (EXPERIMENTS §1.6)."""
    from step_lab.workloads import moe_layer, trace_path
    wl = moe_layer("qwen3-30b-a3b", batch=64, tiling="static", tile=tile_n,
                   routing=trace_path("expert_routing/qwen_b64/032_012.npz"))
    return wl.program, wl.inputs, wl.bindings


def model(model: str = "qwen3-30b-a3b"):
    """An MoE layer at batch 64 on the model's vendored routing trace (the explorer's switch)."""
    from step_lab.workloads import moe_layer, trace_path
    trace = {"qwen3-30b-a3b": "qwen_b64/032_012.npz",
             "mixtral-8x7b": "mixtral_b64/008_010.npz"}[model]
    path = trace_path("expert_routing/" + trace)
    if not path.exists():                      # any vendored trace of that model
        path = sorted(trace_path("expert_routing/" + trace.split("/")[0]).glob("*.npz"))[0]
    wl = moe_layer(model, batch=64, tiling="static", tile=16, routing=path, values=False)
    return wl.program, wl.inputs, wl.bindings


# name: (builder fn, knob ranges, changes (each one step from the last), contended changes
#        (settings two steps away: not guessed), options)
CASES = {
    "toy": (toy, {"tiling": ["static", "dynamic"], "chunk": [4, 8, 16]},
            [{"tiling": "dynamic"}, {"tiling": "static"}, {"chunk": 8}, {"chunk": 4}],
            [{"chunk": 16}], Options(animate=True)),
    "qwen": (qwen, {"tile_n": [8, 16, 32, 64]},
             [{"tile_n": 32}, {"tile_n": 16}, {"tile_n": 8}, {"tile_n": 16}],
             [{"tile_n": 64}], Options(animate=True, values=False)),
    "model": (model, {"model": ["qwen3-30b-a3b", "mixtral-8x7b"]},
              [{"model": "mixtral-8x7b"}, {"model": "qwen3-30b-a3b"}], [],
              Options(animate=True, values=False)),
}


def stages(builder, values: dict, options: Options) -> dict:
    """CPU seconds per stage of one evaluation + redraw (the player output is rebuilt), in the
    order a panel runs them: build and simulate (the numbers), the metrics (as a panel computes
    them: numerically for a large program) and the on-chip peak, the verdict (why-slow), the
    graph, then the player: its occupancy record, compact data and bokeh document
    (``player_document``: written into the cached document of its structure, as in every change
    after a panel's first; ``player_document_cold``: figures built and serialised by bokeh, a
    structure never seen)."""
    from bokeh.embed import json_item

    from step_lab.notebook._simtrace import occupancy_from_result
    from step_lab.notebook.player import Player
    try:                                       # as in a panel: no collector passes meanwhile
        from step_lab.notebook.gcpause import paused
    except ImportError:                        # (an older step_lab: the collector runs)
        from contextlib import nullcontext as paused
    try:
        from step_lab.notebook._player_doc import document_item, fresh_item
    except ImportError:                        # before the cached document (issue 15)
        document_item = fresh_item = None
    with paused():
        return _stages(builder, values, options, occupancy_from_result, Player, json_item,
                       document_item, fresh_item)


def _stages(builder, values, options, occupancy_from_result, Player, json_item, document_item,
            fresh_item) -> dict:
    out, t = {}, time.process_time()

    def lap(name: str) -> None:
        nonlocal t
        now = time.process_time()
        out[name], t = now - t, now
    prog, inputs, bindings = builder(values)[:3]
    lap("build")
    result = sl.simulate(prog, bindings=bindings, inputs=inputs, trace=options.animate,
                         values=options.values)
    lap("simulate")
    try:
        from step_lab.notebook.outcome import _metrics
    except ImportError:                        # (an older step_lab: symbolic, as before)
        sl.metrics(prog).evaluate(bindings)
    else:
        _metrics(prog, bindings)
    _ = result.onchip_peak_bytes              # lazy in SimResult: from the metrics
    lap("metrics")
    result.why_slow()
    lap("why_slow")
    graph_html(prog, result, max_nodes=options.max_graph_nodes)
    lap("graph")
    occupancy = occupancy_from_result(result, prog, prog.name)
    lap("player_occupancy")
    player = Player([occupancy], [prog])
    player.payload()
    lap("player_data")
    if document_item is None:                  # (an older step_lab: bokeh builds every time)
        json_item(player.layout("step-player-bench"))
        lap("player_document")
    else:
        values = player.figure_values()
        fresh_item(1, "step-player-bench", player.width, values)
        lap("player_document_cold")            # a structure never seen: bokeh builds it
        document_item(1, "step-player-bench", player.width, values)   # (template kept)
        lap("untimed")
        document_item(1, "step-player-bench", player.width, values)
        lap("player_document")                 # a structure seen before: the usual case
        del out["untimed"]
    player_for([result], [prog]).html(include_bokehjs=False)
    lap("player_html_total")
    out["nodes"], out["cycles"] = len(prog.nodes), result.cycles
    return out


class Timed:
    """A panel whose knob changes are timed: wall, CPU and when the numbers were shown."""

    def __init__(self, name: str, speculate: bool):
        fn, ranges, _, _, options = CASES[name]
        self.builder, knobs = builder_for(fn, ranges)
        self.start, self.recording = time.perf_counter(), False
        self.wall, self.cpu, self.numbers, self.hits = [], [], [], 0
        self.metrics, self.views = [], []
        self.panel = StepPanel(self.builder, knobs, options, background=False,
                               speculate=speculate)
        self.numbers_cpu, self.start_cpu = [], time.thread_time()
        self._mark("_show", self.numbers, self.numbers_cpu)   # the summary's numbers: shown
        self._mark("_show_metrics", self.metrics)  # ... the metrics and the on-chip peak
        self._mark("_show_views", self.views)      # ... the verdict and the graph
        self.player = []
        self._mark("_show_animation", self.player)  # ... and the player: the panel is complete

    def _mark(self, method: str, marks: list, cpu: list | None = None) -> None:
        """Record when the panel's ``method`` has returned (seconds after the change; and the
        foreground thread's CPU seconds so far, steadier on a shared machine)."""
        original = getattr(self.panel, method, None)
        if original is None:                   # a panel without that step (an older one)
            return

        def timed(*args):
            original(*args)
            if self.recording:
                marks.append(time.perf_counter() - self.start)
                if cpu is not None:
                    cpu.append(time.thread_time() - self.start_cpu)
        setattr(self.panel, method, timed)

    def change(self, change: dict) -> None:
        """One timed change; CPU is this (the foreground) thread's, not the worker's."""
        self.start, start_cpu = time.perf_counter(), time.thread_time()
        self.start_cpu = start_cpu
        hits, self.recording = self.panel.cache.hits, True
        self.panel.set(**change)
        self.recording = False
        self.wall.append(time.perf_counter() - self.start)
        self.cpu.append(time.thread_time() - start_cpu)
        self.hits += self.panel.cache.hits - hits
        assert self.panel.error.value == "", self.panel.error.value

    def summary(self) -> dict:
        return {"changes": len(self.wall), "cache_hits": self.hits,
                "wall_best_s": min(self.wall), "wall_median_s": _median(self.wall),
                "cpu_best_s": min(self.cpu), "cpu_median_s": _median(self.cpu),
                "numbers_shown_median_s": _median(self.numbers),
                "numbers_shown_cpu_median_s": _median(self.numbers_cpu),
                "metrics_shown_median_s": _median(self.metrics or self.numbers),
                "views_shown_median_s": _median(self.views),
                "panel_complete_median_s": _median(self.player or self.wall)}


def _median(xs: list) -> float:
    return sorted(xs)[len(xs) // 2] if xs else float("nan")


def scenario_miss(name: str, repeat: int) -> dict:
    timed = Timed(name, speculate=False)
    for _ in range(repeat):
        for change in CASES[name][2]:
            timed.panel.cache.clear()
            timed.change(change)
    return timed.summary()


def scenario_hit(name: str, repeat: int) -> dict:
    timed = Timed(name, speculate=True)
    for _ in range(repeat):
        for change in CASES[name][2]:
            timed.panel.speculator.wait_idle(timeout=600)
            timed.change(change)
    timed.panel.close()
    return timed.summary()


def scenario_contended(name: str) -> dict | None:
    """Changes to settings the worker does not guess, made while it is busy guessing."""
    contended = CASES[name][3]
    if not contended:
        return None
    timed = Timed(name, speculate=True)
    busy = []
    for change in contended:
        timed.panel.speculator.wait_idle(timeout=600)
        timed.panel.set(**CASES[name][2][0])   # a move that starts the worker ...
        busy.append(timed.panel.speculator.pending())
        timed.change(change)                   # ... and one it did not guess, right away
    timed.panel.close()
    return dict(timed.summary(), worker_pending_at_change=busy)


def _gaps(until: Callable[[], bool]) -> list[float]:
    """Gaps between the wake-ups of a 1 ms sleep loop (the main thread) until ``until()``."""
    gaps, last = [], time.perf_counter()
    while not until():
        time.sleep(0.001)
        now = time.perf_counter()
        gaps.append(now - last)
        last = now
    return gaps


def loop_latency(name: str) -> dict:
    """Longest main-thread gap while a background panel evaluates a change and speculates,
    and (the machine's noise floor) while nothing runs."""
    idle_end = time.perf_counter() + 2.0
    idle = _gaps(lambda: time.perf_counter() > idle_end)
    fn, ranges, changes, _, options = CASES[name]
    builder, knobs = builder_for(fn, ranges)
    panel = StepPanel(builder, knobs, options, background=True)
    done = threading.Event()

    def work():
        panel.set(**changes[0])
        panel.wait(timeout=600)
        panel.speculator.wait_idle(timeout=600)
        done.set()
    start = time.perf_counter()
    threading.Thread(target=work, daemon=True).start()
    gaps = _gaps(done.is_set)
    panel.close()
    return {"max_gap_ms": 1000 * max(gaps), "p99_gap_ms": 1000 * _p99(gaps),
            "busy_s": time.perf_counter() - start, "idle_max_gap_ms": 1000 * max(idle),
            "idle_p99_gap_ms": 1000 * _p99(idle)}


def _p99(xs: list) -> float:
    return sorted(xs)[int(0.99 * (len(xs) - 1))]


def run_case(name: str, repeat: int) -> dict:
    """Every scenario of one workload (see the module docstring)."""
    hit = scenario_hit(name, repeat)
    fn, ranges, changes, _, options = CASES[name]
    breakdown = stages(builder_for(fn, ranges)[0], {**changes[0]}, options)
    return {"workload": name, "target_s": TARGET_SECONDS, **hit,
            "miss": scenario_miss(name, max(1, repeat - 1)),
            "contended": scenario_contended(name), "loop_latency": loop_latency(name),
            "stages_cpu_s": breakdown}


def _line(label: str, r: dict) -> str:
    return (f"{label}: wall median {r['wall_median_s']:.3f} s (CPU {r['cpu_median_s']:.3f} s),"
            f" numbers shown after "
            f"{r['numbers_shown_median_s']:.3f} s (CPU {r['numbers_shown_cpu_median_s']:.3f} s),"
            f" metrics after {r['metrics_shown_median_s']:.3f}"
            f" s, verdict and graph after {r['views_shown_median_s']:.3f} s, panel with player"
            f" after {r['panel_complete_median_s']:.3f} s ({r['cache_hits']}/{r['changes']}"
            " from memory)")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="toy,qwen,model",
                        help="comma-separated: toy, qwen, model")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)
    results = []
    for name in args.only.split(","):
        r = run_case(name.strip(), args.repeat)
        results.append(r)
        s = r["stages_cpu_s"]
        print(f"{name:5s} knob change over {r['changes']} changes ({s['nodes']} nodes, "
              f"{s['cycles']:,} cycles; target {TARGET_SECONDS} s): wall best "
              f"{r['wall_best_s']:.3f} s / median {r['wall_median_s']:.3f} s; CPU best "
              f"{r['cpu_best_s']:.3f} s / median {r['cpu_median_s']:.3f} s; numbers shown after "
              f"{r['numbers_shown_median_s']:.3f} s (median wall), animation last; "
              f"{r['cache_hits']}/{r['changes']} from memory (neighbours evaluated ahead)")
        print("      " + _line("miss (never seen, no speculation)", r["miss"]))
        if r["contended"]:
            print("      " + _line("contended (not guessed, worker busy)", r["contended"]))
        lat = r["loop_latency"]
        print(f"      main-thread loop while evaluating + speculating: longest gap "
              f"{lat['max_gap_ms']:.1f} ms, p99 {lat['p99_gap_ms']:.1f} ms over "
              f"{lat['busy_s']:.1f} s (nothing running: longest {lat['idle_max_gap_ms']:.1f} ms, "
              f"p99 {lat['idle_p99_gap_ms']:.1f} ms)")
        print("      CPU per stage (a miss): " + ", ".join(
            f"{k} {v:.3f} s" for k, v in s.items() if k not in ("nodes", "cycles")))
    print("simulator core:", sl.native.status())        # compiled (mypyc) or pure Python
    for r in results:
        r["simulator"] = sl.native.status()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
