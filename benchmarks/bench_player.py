"""Budget of the browser occupancy player (issue 11): data build CPU time and payload size.

For each layer: simulate once with ``trace=True`` (not timed), then time, in CPU seconds
(``time.process_time``, steadier than wall time on a shared machine), best of ``--repeat``:

* ``data``  — what the player needs from the run: the simulator trace converted to change
  events (``occupancy_from_result``) and the compact player data (``Player``: per-unit
  run-length events, group shares, heatmap, FIFO events, bandwidth) serialised to JSON;
* ``html``  — the whole output: data + bokeh document + HTML (without BokehJS itself).

Sizes: the JSON payload (``payload``) and the whole output without BokehJS (``html``).
For comparison, ``old`` times what the kernel-driven animation computed per run
(conversion + per-frame arrays of ``frames.compute_frames``).

Layers (EXPERIMENTS.md §1.6): Qwen3-30B-A3B MoE, dynamic tiling, batch 64 on the vendored trace
(target <= 0.15 s, <= 5 MB) and batch 1024 on a seeded synthetic routing (<= 1 s, <= 20 MB).

Run: ``python benchmarks/bench_player.py [--only b64,b1024] [--repeat 3] [--json FILE]``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

from step_lab.notebook import occupancy_from_result  # noqa: E402
from step_lab.notebook.frames import compute_frames  # noqa: E402
from step_lab.notebook.player import Player  # noqa: E402
from step_lab.workloads import moe_layer, trace_path  # noqa: E402

TARGETS = {"b64": (0.15, 5e6), "b1024": (1.0, 20e6)}


def layer(name: str):
    if name == "b64":
        return moe_layer("qwen3-30b-a3b", batch=64, tiling="dynamic",
                         routing=trace_path("expert_routing/qwen_b64/032_012.npz"))
    return moe_layer("qwen3-30b-a3b", batch=1024, tiling="dynamic")


def best(fn, repeat: int):
    times, value = [], None
    for _ in range(repeat):
        t = time.process_time()
        value = fn()
        times.append(time.process_time() - t)
    return min(times), value


def run_case(name: str, repeat: int) -> dict:
    wl = layer(name)
    result = wl.simulate(values=False, trace=True)
    prog = wl.program

    def data():
        player = Player([occupancy_from_result(result, prog)], [prog])
        return player, json.dumps(player.payload(), separators=(",", ":"))

    data_s, (player, payload) = best(data, repeat)
    html_s, html = best(lambda: Player([occupancy_from_result(result, prog)], [prog]).html(
        include_bokehjs=False), repeat)
    old_s, _ = best(lambda: compute_frames(occupancy_from_result(result, prog)), repeat)
    cpu_target, size_target = TARGETS[name]
    run = player.runs[0]
    return {"layer": name, "nodes": len(prog.nodes), "cycles": result.cycles,
            "units": len(run.unit_names), "groups": len(run.groups),
            "unit_events": int(len(run.times)), "frames": player.count,
            "data_cpu_s": data_s, "html_cpu_s": html_s, "old_animation_frames_cpu_s": old_s,
            "payload_bytes": len(payload), "html_bytes_without_bokehjs": len(html),
            "target_cpu_s": cpu_target, "target_bytes": size_target}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", default="b64,b1024", help="comma-separated: b64, b1024")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", default=None, help="also write the results to this file")
    args = parser.parse_args(argv)
    results = []
    for name in args.only.split(","):
        r = run_case(name.strip(), args.repeat)
        results.append(r)
        print(f"{name:5s} ({r['nodes']:,} nodes, {r['units']:,} units in {r['groups']} groups, "
              f"{r['unit_events']:,} unit events, {r['cycles']:,} cycles, {r['frames']} frames)"
              f"\n      data {r['data_cpu_s']:.3f} s CPU (target {r['target_cpu_s']} s), payload "
              f"{r['payload_bytes'] / 1e6:.2f} MB (target {r['target_bytes'] / 1e6:.0f} MB); "
              f"whole output {r['html_cpu_s']:.3f} s, {r['html_bytes_without_bokehjs'] / 1e6:.2f}"
              f" MB without BokehJS; old per-frame animation data "
              f"{r['old_animation_frames_cpu_s']:.3f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
