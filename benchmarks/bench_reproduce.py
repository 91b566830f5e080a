"""``step-lab reproduce all`` wall and CPU time (issue 15), optionally against a baseline checkout.

Run: ``python benchmarks/bench_reproduce.py [--full] [--baseline DIR] [--repeat N] [--args ...]``.

Each run is ``python -m step_lab.cli reproduce all [--quick] --out TMP ARGS`` in a subprocess
(this checkout, and DIR when ``--baseline`` is given, alternately, so both see the same load);
reported: wall seconds, CPU seconds of the whole process tree (the CLI and its workers), and the
1-minute load average before the run (the machine's 2 cores are shared: compare runs of the same
minutes). Every run's FIG.json files must equal the first run's apart from ``elapsed_s``
(checked: the speed must not change a number). ``--breakdown`` instead runs every figure in this
process, one after the other, and prints each figure's wall and CPU seconds with the CPU spent in
its simulated points and elsewhere (plots, scoring, JSON/HTML).
Options: ``--json FILE`` writes the measurements.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_once(checkout: Path, full: bool, extra: list, out: Path) -> dict:
    cmd = [sys.executable, "-m", "step_lab.cli", "reproduce", "all", "--out", str(out), *extra]
    if not full:
        cmd.insert(5, "--quick")
    env = {**os.environ, "PYTHONPATH": str(checkout)}
    load = os.getloadavg()[0]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(cmd, env=env, cwd=checkout, capture_output=True, text=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in (0, 1):        # 1: a point failed (reported in its FIG.json)
        raise SystemExit(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"checkout": str(checkout), "wall_s": round(wall, 2), "cpu_s": round(cpu, 2),
            "load_before": round(load, 2), "out": str(out)}


def _records(folder: Path) -> dict:
    return {p.name: re.sub(r'"elapsed_s": [0-9.]+', '"elapsed_s": 0', p.read_text())
            for p in sorted(folder.glob("*.json"))}


def compare(runs: list) -> list:
    """Files whose content differs from the first run's (elapsed_s aside)."""
    first = _records(Path(runs[0]["out"]))
    bad = []
    for run in runs[1:]:
        other = _records(Path(run["out"]))
        bad += [f"{run['out']}/{name}" for name in sorted(set(first) | set(other))
                if first.get(name) != other.get(name)]
    return bad


def breakdown(full: bool) -> list:
    """Every figure in this process, one after the other: wall, CPU, CPU in its points."""
    sys.path.insert(0, str(ROOT))
    import importlib

    from step_lab.reproduce import RunContext, figure_ids, memo
    from step_lab.reproduce.runner import reproduce
    sweep_module = importlib.import_module("step_lab.dse.sweep")
    spent = [0.0]
    original = sweep_module._run_point

    def timed(fn, point):
        start = time.process_time()
        try:
            return original(fn, point)
        finally:
            spent[0] += time.process_time() - start
    sweep_module._run_point = timed
    rows = []
    ctx = RunContext(quick=not full, progress=False)
    with tempfile.TemporaryDirectory() as out, memo.session():
        for fig in figure_ids():
            spent[0] = 0.0
            wall, cpu = time.perf_counter(), time.process_time()
            reproduce(fig, out, ctx)
            cpu = time.process_time() - cpu
            rows.append({"figure": fig, "wall_s": round(time.perf_counter() - wall, 2),
                         "cpu_s": round(cpu, 2), "points_cpu_s": round(spent[0], 2),
                         "other_cpu_s": round(cpu - spent[0], 2)})
            print(f"{fig:6s} wall {rows[-1]['wall_s']:6.2f} s  cpu {rows[-1]['cpu_s']:6.2f} s  "
                  f"(points {rows[-1]['points_cpu_s']:6.2f}, other "
                  f"{rows[-1]['other_cpu_s']:5.2f})", flush=True)
    print(f"total  cpu {sum(r['cpu_s'] for r in rows):.2f} s")
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--full", action="store_true", help="the full run (default: --quick)")
    ap.add_argument("--baseline", type=Path, default=None, help="another checkout to compare")
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--args", nargs=argparse.REMAINDER, default=[],
                    help="extra reproduce arguments, e.g. --args --jobs 2 (last option)")
    ap.add_argument("--breakdown", action="store_true")
    ap.add_argument("--json", default=None)
    opts = ap.parse_args()
    if opts.breakdown:
        result: object = breakdown(opts.full)
    else:
        checkouts = [ROOT] + ([opts.baseline.resolve()] if opts.baseline else [])
        runs = []
        with tempfile.TemporaryDirectory() as tmp:
            for i in range(opts.repeat):
                for n, checkout in enumerate(checkouts if i % 2 == 0 else checkouts[::-1]):
                    out = Path(tmp) / f"run{i}_{n}"
                    runs.append(run_once(checkout, opts.full, opts.args, out))
                    r = runs[-1]
                    label = "this" if Path(r["checkout"]) == ROOT else "baseline"
                    print(f"{label:8s} wall {r['wall_s']:6.1f} s  cpu {r['cpu_s']:6.1f} s  "
                          f"(load before {r['load_before']})", flush=True)
            bad = compare(runs)
        print("outputs identical (elapsed_s aside)" if not bad
              else f"OUTPUTS DIFFER: {', '.join(bad[:6])}")
        for label, path in (("this", ROOT), ("baseline", opts.baseline)):
            walls = [r["wall_s"] for r in runs if path and Path(r["checkout"]) == path.resolve()]
            if walls:
                print(f"{label}: best wall {min(walls):.1f} s")
        result = {"runs": runs, "identical": not bad}
        if bad:
            print("\n".join(bad))
    # the simulator core the CLI runs with this environment (compiled or pure Python)
    simulator = subprocess.run(
        [sys.executable, "-c", "import step_lab; print(step_lab.native.status())"],
        env={**os.environ, "PYTHONPATH": str(ROOT)}, capture_output=True, text=True,
        cwd=ROOT).stdout.strip()
    print("simulator core:", simulator)
    if isinstance(result, dict):
        result["simulator"] = simulator
    if opts.json:
        Path(opts.json).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
