"""Behaviour snapshot: the numbers a restructuring must leave unchanged, as one JSON file.

    python tools/behaviour_snapshot.py OUT.json [--figures all|fig8,fig9] [--jobs 2]
    python tools/behaviour_snapshot.py --compare BEFORE.json AFTER.json

The snapshot holds

* ``figures``: for every registered paper figure, the quick reproduction's headline numbers and
  its per-point records (cycles, traffic, on-chip memory, ... of every simulated point), run with
  ``RunContext(quick=True)`` exactly as ``step-lab reproduce FIG --quick`` does (wall-clock
  fields dropped);
* ``workloads``: for each paper workload builder (SwiGLU, the MoE layer in its static, dynamic and
  time-multiplexed forms, attention decode in its three strategies, QKV generation), the simulated
  cycles and off-chip bytes and the symbolic metrics (off-chip traffic, on-chip memory, FLOPs,
  allocated compute) evaluated at the workload's bindings under both presets.

``--compare`` prints every differing key (numbers compared exactly: unchanged behaviour is
bit-identical) and exits 1 if there is any difference, 0 otherwise. Run the baseline against
another checkout with ``PYTHONPATH=/path/to/checkout``.
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

_DROPPED = {"elapsed_s", "wall_s", "seconds", "time_s"}     # wall-clock fields, never compared
# slowest first, so a process pool finishes early (measured quick-run times, longest first)
_ORDER = ("fig17", "fig21", "fig10", "fig14", "fig12", "fig15", "fig9", "fig13", "fig8")


# -- building the snapshot ------------------------------------------------------------------------
def _plain(value):
    """JSON-able, deterministic form: numpy scalars/arrays to Python, tuples to lists."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items() if k not in _DROPPED}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if hasattr(value, "tolist"):
        return _plain(value.tolist())
    if hasattr(value, "item"):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return repr(value)


def figure_snapshot(fig_id: str) -> dict:
    """Headline and points of ``fig_id``'s quick reproduction."""
    import step_lab.reproduce.figures  # noqa: F401  (importing registers the figures)
    from step_lab.reproduce import RunContext
    from step_lab.reproduce.registry import get_figure
    fig = get_figure(fig_id)
    start = time.perf_counter()
    result = fig.run(RunContext(quick=True, progress=False))
    from step_lab.reproduce.runner import nest
    return {"headline": _plain(nest(result.headline)), "points": _plain(result.points),
            "_elapsed_s": round(time.perf_counter() - start, 1)}


def _workloads() -> dict:
    """label -> a zero-argument builder of one paper workload (small, quick-mode sizes)."""
    import numpy as np

    from step_lab.workloads import attention_decode, moe_layer, qkv_generation, swiglu
    from step_lab.workloads.traces import load_kv_lengths, trace_path
    kv = np.asarray(load_kv_lengths(trace_path("kv_lengths/b16/conv_stdev0987_3349_3364.npy")))
    moe = "expert_routing/mixtral_b64/008_010.npz"
    qwen = "expert_routing/qwen_b64/032_012.npz"
    return {
        "swiglu": lambda: swiglu(),
        "swiglu_tile32x64": lambda: swiglu(tile_m=32, tile_n=64),
        "moe_mixtral_b64_static16": lambda: moe_layer("mixtral-8x7b", batch=64,
                                                      routing=str(trace_path(moe)), tile=16),
        "moe_mixtral_b64_dynamic": lambda: moe_layer("mixtral-8x7b", batch=64,
                                                     routing=str(trace_path(moe)),
                                                     tiling="dynamic"),
        "moe_qwen_b64_dynamic": lambda: moe_layer("qwen3-30b-a3b", batch=64,
                                                  routing=str(trace_path(qwen)),
                                                  tiling="dynamic"),
        "moe_qwen_b64_dynamic_tm": lambda: moe_layer("qwen3-30b-a3b", batch=64,
                                                     routing=str(trace_path(qwen)),
                                                     tiling="dynamic", time_multiplex=True),
        "moe_qwen_b64_static64_tm": lambda: moe_layer("qwen3-30b-a3b", batch=64,
                                                      routing=str(trace_path(qwen)), tile=64,
                                                      time_multiplex=True),
        **{f"attention_{s}_b16": (lambda s=s: attention_decode(
            "qwen3-30b-a3b", kv_lengths=kv, parallel=4, strategy=s, data="none"))
           for s in ("interleaved", "coarse", "dynamic")},
        "qkv_generation_mixtral_b64": lambda: qkv_generation("mixtral-8x7b", batch=64),
    }


def workload_snapshot(label: str) -> dict:
    """Simulated cycles and bytes plus symbolic metrics (both presets) of one workload."""
    from step_lab.analysis.metrics import metrics
    start = time.perf_counter()
    wl = _workloads()[label]()
    bindings = wl.bindings or wl.meta.get("nominal_bindings", {})
    peak = wl.meta.get("peak_bindings")
    out: dict = {}
    for preset in ("paper", "artifact"):
        for policy in ("static", "on_demand"):
            m = metrics(wl.program, preset=preset, policy=policy)
            out[f"metrics.{preset}.{policy}"] = m.evaluate(bindings, peak=peak)
    if label.startswith("moe_"):
        from step_lab.workloads.moe import moe_analysis
        out["moe_analysis"] = moe_analysis(wl)
    result = wl.simulate(values=False)
    out["sim"] = {"cycles": result.cycles, "offchip_bytes": result.offchip_bytes,
                  "flops": result.flops, "onchip_peak_bytes": result.onchip_peak_bytes}
    out["_elapsed_s"] = round(time.perf_counter() - start, 1)
    return _plain(out)


def _task(kind_label: tuple) -> tuple:
    kind, label = kind_label
    try:
        value = figure_snapshot(label) if kind == "figures" else workload_snapshot(label)
    except Exception as exc:                     # recorded, so a compare shows it
        value = {"error": f"{type(exc).__name__}: {exc}"}
    return kind, label, value


def snapshot(figures: list, jobs: int) -> dict:
    tasks = [("figures", f) for f in figures] + [("workloads", w) for w in _workloads()]
    out: dict = {"figures": {}, "workloads": {}}
    start = time.perf_counter()
    if jobs > 1:
        with ProcessPoolExecutor(jobs) as pool:
            done = list(pool.map(_task, tasks))
    else:
        done = [_task(t) for t in tasks]
    for kind, label, value in done:
        out[kind][label] = value
        print(f"{kind[:-1]} {label}: {value.get('_elapsed_s', '?')} s", file=sys.stderr)
    out["figures"] = dict(sorted(out["figures"].items()))
    print(f"snapshot in {time.perf_counter() - start:.0f} s", file=sys.stderr)
    return out


# -- comparing ------------------------------------------------------------------------------------
def differences(a, b, path: str = "") -> list:
    """Every ``path: before -> after`` where ``a`` and ``b`` differ (keys starting with ``_``
    are timings and skipped)."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            if key.startswith("_"):
                continue
            where = f"{path}.{key}" if path else key
            if key not in a or key not in b:
                out.append(f"{where}: {'missing' if key not in a else a[key]!r:.80} -> "
                           f"{'missing' if key not in b else b[key]!r:.80}")
            else:
                out += differences(a[key], b[key], where)
        return out
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in differences(x, y, f"{path}[{i}]")]
    return [] if a == b else [f"{path}: {a!r:.80} -> {b!r:.80}"]


def compare(before: Path, after: Path) -> int:
    a, b = (json.loads(Path(p).read_text()) for p in (before, after))
    diffs = differences(a, b)
    for line in diffs:
        print(line)
    figures = len(set(a.get("figures", {})) & set(b.get("figures", {})))
    workloads = len(set(a.get("workloads", {})) & set(b.get("workloads", {})))
    print(f"{len(diffs)} difference(s) over {figures} figures and {workloads} workloads "
          f"({before} -> {after})")
    return 1 if diffs else 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("out", nargs="?", help="the JSON file to write")
    parser.add_argument("--compare", nargs=2, metavar=("BEFORE", "AFTER"))
    parser.add_argument("--figures", default="all",
                        help="'all' (default), 'none' or a comma-separated list (fig8,fig13)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default 2)")
    args = parser.parse_args(argv)
    if args.compare:
        return compare(*args.compare)
    if not args.out:
        parser.error("give OUT.json or --compare BEFORE AFTER")
    if args.figures == "all":
        figures = list(_ORDER)
    elif args.figures == "none":
        figures = []
    else:
        figures = [f.strip() for f in args.figures.split(",") if f.strip()]
    data = snapshot(figures, args.jobs)
    Path(args.out).write_text(json.dumps(data, indent=1, sort_keys=True))
    print(f"wrote {args.out}", file=sys.stderr)
    failed = [f"{kind} {label}: {value['error']}" for kind in ("figures", "workloads")
              for label, value in data[kind].items() if "error" in value]
    for line in failed:
        print(f"FAILED {line}", file=sys.stderr)
    return 2 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
