"""What ``step-lab reproduce`` prints about its figures: the stand-in note of each figure and the
summary at the end of the run. Both read the FIG.json records the run wrote (nothing is scored
again here) and the reviewed list of known misses (:mod:`.known`).
"""
from __future__ import annotations

from pathlib import Path

from .inputs import REAL, SYNTHETIC
from .known import MISSED, known_reason
from .scoring import NOT_IN_QUICK, PASS

__all__ = ["standin_notes", "run_summary"]

_SHOWN = 5                              # misses named one by one; the rest are counted


def standin_notes(record: dict) -> list[str]:
    """One ``step-lab: note:`` line per stand-in reason of a figure's record: the trace files the
    run actually replaced (its ``inputs``), not every file the figure may read."""
    by_reason: dict = {}
    for relative, used in record["inputs"].items():
        if used["source"] == SYNTHETIC:
            by_reason.setdefault(used.get("reason", "missing"), []).append(relative)
    lines = []
    for reason, files in by_reason.items():
        lines.append(f"step-lab: note: {record['figure']}: {len(files)} trace file(s) {reason} "
                     f"({_some(files, 3)}); used labelled synthetic stand-ins, reported in "
                     "FIG.json, not counted as real")
    return lines


def run_summary(records: list[dict], out_dir, wall_s: float, known: list,
                known_path=None) -> list[str]:
    """The closing lines of ``step-lab reproduce``: figures reproduced, checks passed and missed
    (known misses apart from new ones, real inputs apart from stand-ins), wall time, outputs."""
    quick = bool(records) and all(r["quick"] for r in records)
    failed = [r["figure"] for r in records if r.get("failed_points")]
    head = (f"step-lab: reproduced {len(records)} figure(s){' (--quick)' if quick else ''} in "
            f"{_duration(wall_s)} of wall time")
    lines = [head + (f"; {len(failed)} with failed points ({', '.join(failed)})" if failed
                     else "")]
    lines += _real_lines(records, known, known_path)
    lines += _synthetic_lines(records)
    lines += _output_lines(records, out_dir, quick)
    return lines


def _real_lines(records: list[dict], known: list, known_path) -> list[str]:
    listed: list[str] = []
    new: list[str] = []
    for rec in records:
        for key, check in rec["checks"].items():
            if check["inputs"] == REAL and check["status"] in MISSED:
                reason = known_reason(known, rec["figure"], key, check, rec["quick"])
                (new if reason is None else listed).append(f"{rec['figure']} {key}")
    lines = [_count_line(records, REAL, "real inputs",
                         f" ({len(listed)} known, {len(new)} new)" if listed or new else "")]
    if listed:
        where = f" (reasons in {_shown(known_path)})" if known_path is not None else ""
        lines.append(f"step-lab:   known misses{where}: {_some(listed, _SHOWN)}")
    if new:
        lines.append(f"step-lab:   NEW misses (not in the reviewed list): {_some(new, _SHOWN)}")
    return lines


def _synthetic_lines(records: list[dict]) -> list[str]:
    if not any(c["inputs"] == SYNTHETIC for r in records for c in r["checks"].values()):
        return []
    return [_count_line(records, SYNTHETIC, "synthetic stand-ins", "")
            + " (reported, not required)"]


def _count_line(records: list[dict], kind: str, label: str, split: str) -> str:
    """``checks on <label>: P passed, M missed<split>, S not assessed in quick mode``."""
    statuses = [c["status"] for r in records for c in r["checks"].values()
                if c["inputs"] == kind]
    missed = sum(statuses.count(s) for s in MISSED)
    skipped = statuses.count(NOT_IN_QUICK)
    return (f"step-lab: checks on {label}: {statuses.count(PASS)} passed, {missed} missed{split}"
            + (f", {skipped} not assessed in quick mode" if skipped else ""))


def _output_lines(records: list[dict], out_dir, quick: bool) -> list[str]:
    out = _shown(out_dir)
    figures = ", ".join(r["figure"] for r in records)
    option = "--quick-dir" if quick else "--full-dir"
    return [f"step-lab: outputs: {out}/FIG.json and {out}/FIG.html for {figures}",
            f"step-lab: REPRODUCTION.md is not written by `reproduce`; write it with `step-lab "
            f"reproduction {option} {out} --output {out}/REPRODUCTION.md`"]


def _some(items: list[str], n: int) -> str:
    return ", ".join(items[:n]) + (f" and {len(items) - n} more" if len(items) > n else "")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest} s"


def _shown(path) -> str:
    """``path`` relative to the working folder when it lies under it, else as given."""
    p = Path(path)
    try:
        return str(p.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(p)
