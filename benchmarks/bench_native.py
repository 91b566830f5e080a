"""A benchmark run with the compiled simulator core and with the pure-Python one, alternately.

Run: ``python benchmarks/bench_native.py [--repeat N] [--json FILE] BENCH.py [ARGS...]``, e.g.
``python benchmarks/bench_native.py bench_sim.py --quick --only a,b,e``.

``BENCH.py ARGS --json TMP`` runs in a subprocess under ``STEP_LAB_NATIVE=1`` and ``=0``
(``step_lab/native.py``), alternately so that both see the same machine load, ``--repeat``
times each. Every numeric leaf of the two JSON reports is printed side by side with the ratio
compiled / pure — rates (``…_per_s``) are best of the repeats as the largest value, times
(``…seconds``, ``…_s``) as the smallest; other numbers must agree between the two and are
listed once (a cycle count that differs is an error: exit 1).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent


def leaves(obj, prefix: str = "") -> dict:
    """``{"a.b.c": number}`` for every int/float leaf (bools and strings left out); list items
    are named by their ``workload`` field, else their index."""
    out: dict = {}
    if isinstance(obj, dict):
        for k, v in obj.items():
            out.update(leaves(v, f"{prefix}{k}."))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            name = v.get("workload", i) if isinstance(v, dict) else i
            out.update(leaves(v, f"{prefix}{name}."))
    elif isinstance(obj, (int, float)) and not isinstance(obj, bool):
        out[prefix[:-1]] = obj
    return out


def kind(key: str) -> str:
    last = key.rsplit(".", 1)[-1]
    if last.endswith("per_s"):
        return "rate"
    if last.endswith(("seconds", "_s")) or last in ("wall", "cpu"):
        return "time"
    if last in ("load_average", "self_peak_rss_mb") or key.startswith("load_average"):
        return "machine"
    return "value"


def run(bench: str, args: list, flag: str) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.json"
        env = {**os.environ, "STEP_LAB_NATIVE": flag, "PYTHONPATH": str(ROOT)}
        subprocess.run([sys.executable, str(HERE / bench), *args, "--json", str(out)],
                       env=env, cwd=ROOT, check=True, stdout=subprocess.DEVNULL)
        report = json.loads(out.read_text())
    said = [r.get("simulator") for r in (report if isinstance(report, list) else [report])
            if isinstance(r, dict)]
    if flag == "1" and not any(s == "compiled (mypyc)" for s in said):
        raise SystemExit(f"{bench} did not run the compiled core ({said or 'not recorded'}): "
                         "run ./run setup, or use a benchmark that records it")
    return leaves(report)


def best(runs: list, key: str):
    values = [r[key] for r in runs if key in r]
    return max(values) if kind(key) == "rate" else min(values)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--json")
    ap.add_argument("bench")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args(argv)
    runs: dict = {"1": [], "0": []}
    for _ in range(a.repeat):
        for flag in ("1", "0"):
            runs[flag].append(run(a.bench, a.args, flag))
    report, mismatched = {}, []
    for key in runs["1"][0]:
        k = kind(key)
        if k == "machine" or key not in runs["0"][0]:
            continue
        compiled, pure = best(runs["1"], key), best(runs["0"], key)
        if k == "value":
            if compiled != pure and not isinstance(compiled, float):
                mismatched.append(key)
                print(f"DIFFERS {key}: compiled {compiled} vs pure {pure}")
            continue
        ratio = compiled / pure if pure else float("nan")
        if k == "time":
            ratio = pure / compiled if compiled else float("nan")
        report[key] = {"compiled": compiled, "pure": pure, "speed-up": round(ratio, 2)}
        print(f"{key:60s} compiled {compiled:>12.4g} pure {pure:>12.4g}  speed-up {ratio:5.2f}x")
    if a.json:
        Path(a.json).write_text(json.dumps({"bench": [a.bench, *a.args], "repeat": a.repeat,
                                            "results": report, "differs": mismatched},
                                           indent=1))
    return 1 if mismatched else 0


if __name__ == "__main__":
    sys.exit(main())
