"""Simulator fingerprint: everything a simulator speed-up must leave unchanged, hashed.

    PYTHONPATH=CHECKOUT python tools/sim_fingerprint.py OUT.json [--coalesce on|off|default]
    cmp BEFORE.json AFTER.json        # identical files = identical simulations

For bench_sim's pipeline (load → Map → Map → store, 1,500 tiles with values) on the PAPER,
idealised, VALIDATION and ATTENTION hardware, and for every workload of
``tools/behaviour_snapshot.py`` (timing only, on its own and on the idealised hardware), one
simulation with ``trace=True``: cycles, off-chip bytes, FLOPs, the on-chip peak and hashes of
the per-node and per-channel statistics (stalls included), of the whole trace (busy intervals,
every FIFO put and get cycle, every HBM access), of the measured dims, of the notes and of the
output arrays. ``behaviour_snapshot.py`` compares the
reproduction's numbers; this compares what the engine does cycle by cycle.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tools"), str(ROOT / "benchmarks")]


def _hash(obj) -> str:
    from behaviour_snapshot import _plain
    text = json.dumps(_plain(obj), sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def fingerprint(result) -> dict:
    """Cycles, bytes, FLOPs and hashes of the statistics, trace and arrays of one result."""
    import numpy as np
    arrays = {name: hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()[:16]
              for name, a in sorted(result.arrays.items())}
    trace = result.trace.to_dict() if result.trace is not None else None
    return {"cycles": result.cycles, "offchip_bytes": result.offchip_bytes,
            "flops": result.flops, "per_node": _hash(result.per_node),
            "channels": _hash(result.channels), "trace": _hash(trace), "arrays": arrays,
            "measured": _hash(result.measured), "onchip_peak": result.onchip_peak_bytes,
            "notes": _hash(result.notes)}


def collect(options: dict) -> dict:
    """label -> fingerprint of every simulation (see module docstring)."""
    # step_lab first, from PYTHONPATH: bench_sim puts this checkout on sys.path
    sl = importlib.import_module("step_lab")
    print(f"step_lab from {Path(sl.__file__).parent}", file=sys.stderr)
    import bench_sim
    from behaviour_snapshot import _workloads
    out: dict = {}
    prog, inputs = bench_sim.pipeline(1500), bench_sim.pipeline_inputs(1500)
    hardware = {"paper": sl.hw.PAPER, "ideal": sl.hw.idealized(sl.hw.PAPER),
                "validation": sl.hw.VALIDATION, "attention": sl.hw.ATTENTION}
    for name, hw in hardware.items():
        out[f"pipeline.{name}"] = fingerprint(sl.simulate(prog, inputs=inputs, hw=hw,
                                                          trace=True, **options))
    for label, build in _workloads().items():
        wl = build()
        for name in ("own", "ideal"):
            hw = None if name == "own" else sl.hw.idealized(wl.hw or sl.hw.PAPER)
            out[f"{label}.{name}"] = fingerprint(wl.simulate(hw=hw, values=False, trace=True,
                                                             **options))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", help="the JSON file to write")
    ap.add_argument("--coalesce", choices=("on", "off", "default"), default="default",
                    help="simulate(coalesce=...) (default: the simulator's default)")
    args = ap.parse_args(argv)
    options = {} if args.coalesce == "default" else {"coalesce": args.coalesce == "on"}
    Path(args.out).write_text(json.dumps(collect(options), indent=1, sort_keys=True) + "\n")
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
