"""Numeric vs symbolic metrics on the Qwen3-30B-A3B MoE layer at batch 64 (issue 14).

For each layer (the Fig 9 points: static tile_N = 8 with every expert counted, dynamic tiling
with on-demand accounting, and dynamic time-multiplexing whose ragged region rows bind to their
mean, with peaks for memory) it times, in one process:

* **symbolic**: ``sl.metrics(prog, preset, policy)`` (the sympy totals) then
  ``.evaluate(bindings, peak=...)``, with the metrics cache of the program cleared first;
* **numeric**: ``sl.metrics(prog, preset, policy, bindings=..., peak=...)``;

checks that both give the same four numbers, and prints the ratio symbolic / numeric.
Times are CPU seconds (``time.process_time``; the machine is shared), best of ``--repeat``
after one warm-up of each mode (the warm-up is reported too: the first call also fills the
per-expression caches both modes share).

Run: ``python benchmarks/bench_metrics.py [--repeat 3] [--json FILE]``.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))

import importlib  # noqa: E402

from step_lab.analysis.metrics import metrics  # noqa: E402
from step_lab.workloads import moe_layer  # noqa: E402
from step_lab.workloads.traces import trace_path  # noqa: E402

metrics_module = importlib.import_module("step_lab.analysis.metrics")
TRACE = "expert_routing/qwen_b64/032_012.npz"
LAYERS = {
    "static tile 8, artifact/static": (dict(tile=8), "artifact", "static"),
    "static tile 8, paper/on_demand": (dict(tile=8), "paper", "on_demand"),
    "dynamic, artifact/on_demand": (dict(tiling="dynamic"), "artifact", "on_demand"),
    "dynamic time-mux, artifact/on_demand": (dict(tiling="dynamic", time_multiplex=True),
                                             "artifact", "on_demand"),
}


def _cpu(fn) -> tuple:
    start = time.process_time()
    value = fn()
    return time.process_time() - start, value


def _symbolic(prog, preset, policy, bindings, peak) -> dict:
    metrics_module._CACHE.pop(prog, None)
    return metrics(prog, preset=preset, policy=policy).evaluate(bindings, peak=peak)


def _numeric(prog, preset, policy, bindings, peak) -> dict:
    return metrics(prog, preset=preset, policy=policy, bindings=bindings, peak=peak).totals


def bench(label: str, repeat: int) -> dict:
    kwargs, preset, policy = LAYERS[label]
    wl = moe_layer("qwen3-30b-a3b", batch=64, routing=str(trace_path(TRACE)), **kwargs)
    args = (wl.program, preset, policy, wl.bindings, wl.meta.get("peak_bindings"))
    cold_num, num = _cpu(lambda: _numeric(*args))
    cold_sym, sym = _cpu(lambda: _symbolic(*args))
    if num != sym:
        raise SystemExit(f"{label}: numeric {num} != symbolic {sym}")
    t_sym = min(_cpu(lambda: _symbolic(*args))[0] for _ in range(repeat))
    t_num = min(_cpu(lambda: _numeric(*args))[0] for _ in range(repeat))
    return {"layer": label, "nodes": len(wl.program.nodes), "symbolic_s": round(t_sym, 4),
            "numeric_s": round(t_num, 4), "ratio": round(t_sym / t_num, 1),
            "first_call_symbolic_s": round(cold_sym, 4),
            "first_call_numeric_s": round(cold_num, 4), "totals": num}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", default=None)
    args = parser.parse_args(argv)
    rows = []
    print(f"{'layer':40} {'nodes':>6} {'symbolic s':>11} {'numeric s':>10} {'ratio':>6}"
          f"   first call: {'symbolic s':>10} {'numeric s':>10}")
    for label in LAYERS:
        row = bench(label, args.repeat)
        rows.append(row)
        print(f"{label:40} {row['nodes']:>6} {row['symbolic_s']:>11.3f} "
              f"{row['numeric_s']:>10.3f} {row['ratio']:>5.1f}×"
              f"               {row['first_call_symbolic_s']:>10.3f} "
              f"{row['first_call_numeric_s']:>10.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
