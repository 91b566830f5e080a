"""Generate REPRODUCTION.md from the ``FIG.json`` files of a quick and a full run.

The report counts exactly what it says: the quick and the full run separately, and for each the
checks on real traces and on synthetic stand-ins as separate numbers; the stand-ins are named in
its first lines. Known misses on real inputs come from ``KNOWN_MISSES.json`` next to the run
folders (the reviewed list, one reason per entry).
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import ConfigError
from .inputs import REAL, SYNTHETIC
from .known import load_known_misses
from .runner import _flat
from .scoring import FAIL, NO_VALUE, NOT_IN_QUICK, PASS, REFERENCE, counts

__all__ = ["reproduction_markdown", "load_records", "load_known_misses", "REGENERATE"]

_ORDER = ["fig8", "fig9", "fig10", "fig12", "fig13", "fig14", "fig15", "fig21", "fig17"]
_REQUIRED = ("figure", "title", "quick", "headline", "paper", "checks", "inputs", "standins",
             "notes", "elapsed_s")
REGENERATE = ("step-lab reproduce all --quick --out reproduction/quick && "
              "step-lab reproduce all --out reproduction/full --jobs 2 && "
              "step-lab reproduction --quick-dir reproduction/quick --full-dir reproduction/full")


def load_records(folder) -> dict:
    """``figure id -> record`` of every ``fig*.json`` in ``folder``; a folder without one, or a
    file that is not a FIG.json record, is a ConfigError naming it."""
    if folder is None:
        return {}
    root = Path(folder)
    if not root.is_dir():
        raise ConfigError(f"{str(folder)!r} is not a folder (expected a folder of FIG.json files "
                          "written by `step-lab reproduce`)")
    files = sorted(root.glob("fig*.json"))
    if not files:
        raise ConfigError(f"{str(folder)!r} holds no fig*.json file (expected the output folder "
                          "of `step-lab reproduce`)")
    out = {}
    for p in files:
        try:
            rec = json.loads(p.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
            raise ConfigError(f"{str(p)!r} is not readable JSON ({e}; expected a FIG.json "
                              "written by `step-lab reproduce`)") from None
        missing = [k for k in _REQUIRED if not isinstance(rec, dict) or k not in rec]
        if missing:
            raise ConfigError(f"{str(p)!r} is not a FIG.json record (missing {missing}; "
                              "rerun `step-lab reproduce` to rewrite it)")
        out[rec["figure"]] = rec
    return out


def _v(x) -> str:
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "true" if x else "false"
    if isinstance(x, float):
        return f"{x:.3g}" if abs(x) < 1e4 else f"{x:.3e}"
    return str(x)


_MARK = {PASS: " ✓", FAIL: " ✗", NO_VALUE: " ✗ (no value)", NOT_IN_QUICK: " (not assessed in "
         "quick mode)"}


def _cell(rec, key) -> str:
    if rec is None:
        return ""
    value = _flat(rec["headline"]).get(key)
    check = rec["checks"].get(key, {})
    return f"{_v(value)}{_MARK.get(check.get('status'), '')}"


def _misses(records: dict, kind: str) -> list:
    return [(f, k) for f, rec in records.items() for k, c in rec["checks"].items()
            if c["inputs"] == kind and c["status"] in (FAIL, NO_VALUE)]


def _count_line(name: str, folder, records: dict, known: list) -> str:
    c = counts(records)
    cells = []
    for kind in (REAL, SYNTHETIC):
        assessed = sum(v for s, v in c[kind].items() if s in (PASS, FAIL, NO_VALUE))
        cells.append(f"{c[kind].get(PASS, 0)} of {assessed}")
    skipped = sum(c[k].get(NOT_IN_QUICK, 0) for k in c)
    mode = name.split()[0]
    listed = sum(1 for f, k in _misses(records, REAL)
                 if any(e["figure"] == f and e["key"] == k and mode in e["runs"] for e in known))
    return (f"| {name} (`{folder}`) | **{cells[0]}** | {cells[1]} | "
            f"{skipped if records and records[next(iter(records))]['quick'] else '—'} | "
            f"{listed} |")


def _standin_lines(runs: dict) -> list:
    lines = []
    for name, records in runs.items():
        per_fig = {f: rec["standins"] for f, rec in records.items() if rec["standins"]}
        if not per_fig:
            lines.append(f"- {name} run: none — every trace was real.")
            continue
        parts = [f"{f} ({len(s)}: " + ", ".join(f"`{x}`" for x in s) + ")"
                 for f, s in per_fig.items()]
        lines.append(f"- {name} run: " + "; ".join(parts) + ".")
    return lines


def _real_sources(runs: dict) -> str:
    sources = {rec["traces"] for records in runs.values() for rec in records.values()
               if any(v["source"] == REAL for v in rec["inputs"].values())}
    if not sources:
        return "no real trace file"
    return " and ".join("the vendored traces (`step_lab/data/traces`)" if s == "vendored"
                        else f"`--traces {s}`" for s in sorted(sources))


def reproduction_markdown(quick_dir=None, full_dir=None, known_misses=None) -> str:
    """The REPRODUCTION.md text. ``known_misses``: path of the reviewed list (default
    ``KNOWN_MISSES.json`` in the parent folder of the run folders)."""
    quick, full = load_records(quick_dir), load_records(full_dir)
    if known_misses is None:
        known_misses = Path(quick_dir or full_dir).parent / "KNOWN_MISSES.json"
    known = load_known_misses(known_misses)
    runs = {n: r for n, r in (("quick", quick), ("full", full)) if r}
    ids = [f for f in _ORDER if f in quick or f in full] + \
        sorted((set(quick) | set(full)) - set(_ORDER))
    lines = ["# Reproduction of the STeP paper's evaluation", "",
             f"**Inputs.** Real traces: {_real_sources(runs)}. Synthetic stand-ins (for traces "
             "the paper's authors withheld, or files missing under `--traces`); headlines "
             "resting on them are reported, not required:", ""]
    lines += _standin_lines(runs)
    lines += ["", "| run | checks on real inputs within tolerance | checks on synthetic "
              "stand-ins within tolerance | not assessed in quick mode | known misses (real) |",
              "|---|---|---|---|---|"]
    if quick:
        lines.append(_count_line("quick run", quick_dir, quick, known))
    if full:
        lines.append(_count_line("full run", full_dir, full, known))
    lines += [""] + _outside(runs, known) + [""]
    sources = " and ".join(f"`{d}` ({n})" for n, d in (("quick", quick_dir), ("full", full_dir))
                           if d is not None)
    lines += [f"Generated by `step-lab reproduction` from the `FIG.json` files of {sources}; do "
              f"not edit by hand. Regenerate everything with `{REGENERATE}`. Wall times are "
              "from one machine of 2 cores shared with other jobs (they vary with its load).",
              ""]
    lines += _how_to_check()
    lines += _wall_times(ids, quick, full)
    for f in ids:
        lines += _figure_section(f, quick.get(f), full.get(f))
    return "\n".join(lines)


def _outside(runs: dict, known: list) -> list:
    out = []
    for kind, label in ((REAL, "real inputs"), (SYNTHETIC, "synthetic stand-ins")):
        found: dict = {}
        for name, records in runs.items():
            for f, k in _misses(records, kind):
                found.setdefault((f, k), []).append(name)
        if not found:
            out.append(f"- Outside tolerance on {label}: none.")
            continue
        items = []
        for (f, k), names in found.items():
            reason = next((e["reason"] for e in known if e["figure"] == f and e["key"] == k),
                          None)
            items.append(f"{f} `{k}` ({', '.join(names)})"
                         + (f" — known miss: {reason}" if reason and kind == REAL else ""))
        out.append(f"- Outside tolerance on {label}: " + "; ".join(items) + ".")
    return out


def _how_to_check() -> list:
    return [
        "## How to check our numbers", "",
        "- **Real vs synthetic inputs.** Every `FIG.json` lists its traces under `inputs` "
        "(`real`, from the vendored copy or `--traces`, or `synthetic` with the stand-in used) "
        "and names the stand-ins under `standins`; each check says whether its headline rests "
        "on a stand-in (`checks.<key>.inputs`). The batch-1024 routing traces (Fig 10) and the "
        "batch-80 KV traces (Fig 21, B = 64+16) are withheld by the authors, so those headlines "
        "use the stand-ins of EXPERIMENTS.md §1.5 unless you supply the files.",
        "- **Your own traces.** `step-lab reproduce all --traces DIR` with DIR laid out like "
        "`step_lab/data/traces` (`expert_routing/<model>_b<B>/<iter>_<layer>.npz`, "
        "`kv_lengths/b<B>/conv_stdev<σ>_<a>_<b>.npy`). Every file is checked first (dtype, "
        "shape, value range); a malformed or missing file is an error naming it, unless "
        "`--allow-standins` lets a missing file be replaced by a labelled stand-in. Then "
        "`step-lab reproduction --quick-dir … --full-dir …` rewrites this report, which says "
        "which inputs were real.",
        "- **Quick vs full.** `--quick` subsamples some sweeps; criteria that need the whole "
        "sweep (Fig 10 PIDs and curve shape, Fig 12/13 shapes, every Fig 21 criterion) are "
        "marked \"not assessed in quick mode\" there and decided by the full run.",
        "- **Modelling choices to know.** HBM requests are issued per tile row (one 64-B "
        "request per 64 B of each row: a strided 96-B row costs two requests, Figs 12/13/17); "
        "Fig 8 runs with one outstanding tile per off-chip operator (the artifact's HBM node "
        "allows one request in flight; the 2-tile result is reported beside it); Fig 17 adds a "
        "QKV-generation stage whose program the paper does not give (one fused [Wq|Wk|Wv] "
        "matmul per region, streamed once per region; the per-request ablation is in the full "
        "run). See each figure's notes.",
        "- **Regression guard.** The test suite reruns `reproduce all --quick`, compares it "
        "with `reproduction/quick` (up to float noise; elapsed times excluded), and requires "
        "every check on real inputs — quick and committed full run — to pass or be listed "
        "with a reason in `reproduction/KNOWN_MISSES.json`.", ""]


def _wall_times(ids, quick, full) -> list:
    lines = ["| figure | quick wall time | full wall time |", "|---|---|---|"]
    for f in ids:
        q, u = quick.get(f), full.get(f)
        lines.append(f"| {f} | {_secs(q)} | {_secs(u)} |")
    total_q = sum(r["elapsed_s"] for r in quick.values())
    total_f = sum(r["elapsed_s"] for r in full.values())
    return lines + [f"| sum of the above (figures overlap in `reproduce all`, so its wall time "
                    f"is shorter) | {total_q:.0f} s | {total_f:.0f} s |", ""]


def _secs(rec) -> str:
    return f"{_v(rec['elapsed_s'])} s" if rec else "—"


def _figure_section(f: str, q, u) -> list:
    rec = u or q
    lines = [f"## {f}: {rec.get('title', '')}", "",
             f"Command: `step-lab reproduce {f}` (quick: `--quick`)", ""]
    standins = sorted(set((q or {}).get("standins", [])) | set((u or {}).get("standins", [])))
    if standins:
        lines += [f"Synthetic stand-ins: {len(standins)} trace file(s) — "
                  + ", ".join(f"`{s}`" for s in standins) + ".", ""]
    lines += ["| headline | paper | ours (quick) | ours (full) | tolerance | inputs |",
              "|---|---|---|---|---|---|"]
    for key, pv in _flat(rec["paper"]).items():
        check = rec["checks"].get(key, {})
        tol = check.get("tolerance", "—")
        if check.get("status") == REFERENCE:
            tol = "— (approximate reading, no criterion)"
        lines.append(f"| `{key}` | {_v(pv)} | {_cell(q, key)} | {_cell(u, key)} "
                     f"| {tol} | {check.get('inputs', '')} |")
    notes = list(rec.get("notes", []))
    if q is not None and u is not None:
        notes += [n if n.startswith("Quick run:") else f"Quick run: {n}"
                  for n in q["notes"] if n not in u["notes"]]
    if notes:
        lines += ["", "Notes:", ""] + [f"- {n}" for n in notes]
    lines.append("")
    return lines
