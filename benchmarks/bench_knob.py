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

Run: ``python benchmarks/bench_knob.py [--only toy,qwen] [--repeat 3] [--json FILE]``.
Reported: wall-clock seconds (what a user waits) and CPU seconds of the process
(``time.process_time``; steadier on a shared machine), best and median over the changes.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

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


CASES = {
    "toy": (toy, {"tiling": ["static", "dynamic"], "chunk": [4, 8]},
            [{"tiling": "dynamic"}, {"tiling": "static"}, {"chunk": 8}, {"chunk": 4}],
            Options(animate=True)),
    "qwen": (qwen, {"tile_n": [16, 32]}, [{"tile_n": 32}, {"tile_n": 16}],
             Options(animate=True, values=False)),
}


def stages(builder, values: dict, options: Options) -> dict:
    """CPU seconds per stage of one evaluation + redraw (the player output is rebuilt)."""
    out, t = {}, time.process_time()
    prog, inputs, bindings = builder(values)[:3]
    out["build"], t = time.process_time() - t, time.process_time()
    sl.metrics(prog).evaluate(bindings)
    out["metrics"], t = time.process_time() - t, time.process_time()
    result = sl.simulate(prog, bindings=bindings, inputs=inputs, trace=options.animate,
                         values=options.values)
    result.onchip_peak_bytes                  # lazy in SimResult: part of the summary
    out["simulate"], t = time.process_time() - t, time.process_time()
    graph_html(prog, result, max_nodes=options.max_graph_nodes)
    out["graph"], t = time.process_time() - t, time.process_time()
    player_for([result], [prog]).html()
    out["animation"] = time.process_time() - t
    out["nodes"], out["cycles"] = len(prog.nodes), result.cycles
    return out


def run_case(name: str, repeat: int) -> dict:
    fn, ranges, changes, options = CASES[name]
    builder, knobs = builder_for(fn, ranges)
    panel = StepPanel(builder, knobs, options, background=False)
    wall, cpu, numbers = [], [], []
    show_animation = panel._show_animation

    def timed_animation(outcome):             # the summary, metrics and graph are shown now
        numbers.append(time.perf_counter() - start)
        show_animation(outcome)
    panel._show_animation = timed_animation
    for _ in range(repeat):
        for change in changes:
            start, start_cpu = time.perf_counter(), time.process_time()
            panel.set(**change)
            wall.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
            assert panel.error.value == "", panel.error.value
    breakdown = stages(builder, panel.values(), options)
    return {"workload": name, "changes": len(wall), "target_s": TARGET_SECONDS,
            "wall_best_s": min(wall), "wall_median_s": sorted(wall)[len(wall) // 2],
            "cpu_best_s": min(cpu), "cpu_median_s": sorted(cpu)[len(cpu) // 2],
            "numbers_shown_median_s": sorted(numbers)[len(numbers) // 2],
            "stages_cpu_s": breakdown}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="toy,qwen", help="comma-separated: toy, qwen")
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
              f"{r['numbers_shown_median_s']:.3f} s (median wall), animation last")
        print("      CPU per stage: " + ", ".join(f"{k} {v:.3f} s" for k, v in s.items()
                                                 if k not in ("nodes", "cycles")))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
