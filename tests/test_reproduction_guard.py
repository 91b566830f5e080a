"""Regression guard on every headline (issue 18).

A fresh ``reproduce all --quick`` must equal the committed ``reproduction/quick`` JSON up to float
noise (elapsed times excluded), and every check on real inputs — of that run and of the committed
full run — must be within tolerance or listed with a reason in ``reproduction/KNOWN_MISSES.json``.
Checks on synthetic stand-ins are reported, not required. The quick run is shared with the figure
smoke tests (``_quick_run``).
"""
import json
import math
from pathlib import Path

import pytest
from _quick_run import quick_all, quick_dir

from step_lab.reproduce import figure_ids, get_figure, nest
from step_lab.reproduce.runner import _plain
from step_lab.reproduce.scoring import FAIL, NO_VALUE, NOT_IN_QUICK, PASS, REFERENCE, score
from step_lab.reproduce.summary import load_known_misses, load_records

ROOT = Path(__file__).resolve().parents[1]
COMMITTED = {"quick": ROOT / "reproduction" / "quick", "full": ROOT / "reproduction" / "full"}
KNOWN = load_known_misses(ROOT / "reproduction" / "KNOWN_MISSES.json")
MACHINE_SPECIFIC = {"elapsed_s"}


def _same(a, b, path="") -> list:
    """Differences between two JSON values; floats equal up to 1e-9 relative."""
    if isinstance(a, dict) and isinstance(b, dict):
        out = [f"{path}.{k}: only in one" for k in set(a) ^ set(b)]
        for k in set(a) & set(b):
            if k not in MACHINE_SPECIFIC:
                out += _same(a[k], b[k], f"{path}.{k}")
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} vs {len(b)} items"]
        return [d for i, (x, y) in enumerate(zip(a, b, strict=True))
                for d in _same(x, y, f"{path}[{i}]")]
    if isinstance(a, float) and isinstance(b, (int, float)) and not isinstance(b, bool):
        return [] if math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-12) else [f"{path}: {a} vs {b}"]
    return [] if a == b and type(a) is type(b) else [f"{path}: {a!r} vs {b!r}"]


def _listed(fig: str, key: str, mode: str) -> bool:
    return any(e["figure"] == fig and e["key"] == key and mode in e["runs"] for e in KNOWN)


def _unexplained_misses(records: dict, mode: str) -> list:
    bad = []
    for fig, rec in records.items():
        for key, check in rec["checks"].items():
            if check["inputs"] != "real":
                continue
            if check["status"] in (FAIL, NO_VALUE) and not _listed(fig, key, mode):
                bad.append(f"{fig} {key}: {check['status']} "
                           f"(value {rec['headline'] and _get(rec['headline'], key)!r})")
            if check["status"] == NOT_IN_QUICK and (mode != "quick"
                                                    or key not in get_figure(fig).full_only):
                bad.append(f"{fig} {key}: not assessed in a {mode} run")
    return bad


def _get(nested: dict, dotted: str):
    node = nested
    for part in dotted.split("."):
        node = node.get(part) if isinstance(node, dict) else None
    return node


@pytest.mark.slow      # the whole quick reproduction, once per session (~1 min on 2 cores)
def test_a_fresh_quick_run_equals_the_committed_quick_json():
    quick_all()
    for fig in figure_ids():
        fresh = json.loads((quick_dir() / f"{fig}.json").read_text())
        committed = json.loads((COMMITTED["quick"] / f"{fig}.json").read_text())
        diff = _same(fresh, committed, fig)
        assert not diff, ("reproduction/quick is stale; regenerate it (see REPRODUCTION.md): "
                          + "; ".join(diff[:8]))


@pytest.mark.slow
def test_every_check_on_real_inputs_of_a_fresh_quick_run_is_within_tolerance():
    records = quick_all()
    assert _unexplained_misses(records, "quick") == []
    real = [c for rec in records.values() for c in rec["checks"].values()
            if c["inputs"] == "real" and c["status"] == PASS]
    assert len(real) >= 80           # the guard really scores the headlines


def test_every_check_on_real_inputs_of_the_committed_full_run_is_within_tolerance():
    assert _unexplained_misses(load_records(COMMITTED["full"]), "full") == []


@pytest.mark.parametrize("mode", ["quick", "full"])
def test_committed_records_are_scored_by_the_current_criteria(mode):
    """Paper values, tolerances and checks in the committed JSON are what the code scores now:
    changing a criterion without regenerating the JSON fails here."""
    for fig_id, rec in load_records(COMMITTED[mode]).items():
        fig = get_figure(fig_id)
        assert rec["paper"] == json.loads(json.dumps(nest(fig.paper))), fig_id
        assert rec["tolerance"] == {k: _plain(v) for k, v in fig.tolerance.items()}, fig_id
        flat = {k: _get(rec["headline"], k) for k in fig.paper}
        assert rec["checks"] == score(fig, flat, rec["inputs"], rec["quick"]), fig_id


def test_the_full_run_assesses_every_criterion():
    for fig_id, rec in load_records(COMMITTED["full"]).items():
        statuses = {c["status"] for c in rec["checks"].values()}
        assert NOT_IN_QUICK not in statuses and NO_VALUE not in statuses, fig_id
        assert rec["failed_points"] == [], fig_id


def test_known_misses_are_reviewed_and_current():
    """Every listed miss is a real-input check that misses in the runs it names (a fixed miss
    must leave the list), with a reason."""
    runs = {m: load_records(p) for m, p in COMMITTED.items()}
    for entry in KNOWN:
        assert entry["reason"].strip()
        for mode in entry["runs"]:
            check = runs[mode][entry["figure"]]["checks"][entry["key"]]
            assert check["inputs"] == "real" and check["status"] in (FAIL, NO_VALUE), entry


def test_the_committed_runs_name_their_stand_ins():
    """Without --traces the withheld traces are stand-ins: Fig 10 (batch-1024 routing) and the
    Fig 21 B = 80 column, and the checks resting on them are labelled synthetic."""
    for mode, folder in COMMITTED.items():
        records = load_records(folder)
        assert records["fig10"]["standins"] == ["expert_routing/mixtral_b1024/019_009.npz",
                                                "expert_routing/qwen_b1024/022_016.npz"]
        assert all(c["inputs"] == "synthetic" for c in records["fig10"]["checks"].values())
        assert all("/b80/" in s for s in records["fig21"]["standins"])
        assert len(records["fig21"]["standins"]) == (3 if mode == "quick" else 9)
        checks = records["fig21"]["checks"]
        assert checks["coarse_ge_3x_at_b16"]["inputs"] == "real"
        assert checks["geomean_vs_coarse"]["inputs"] == "synthetic"
        for fig in ("fig8", "fig9", "fig12", "fig13", "fig14", "fig15", "fig17"):
            assert records[fig]["standins"] == [], (mode, fig)
            assert {c["inputs"] for c in records[fig]["checks"].values()} == {"real"}


def test_no_committed_file_holds_a_machine_specific_path():
    for folder in COMMITTED.values():
        for p in folder.glob("*.json"):
            text = p.read_text()
            assert "/work/" not in text and "site-packages" not in text, p
            assert "/home/" not in text and "/tmp/" not in text, p


def test_reference_only_rows_are_the_approximate_bars():
    """A paper value without a criterion is only ever Fig 21's approximate class bars."""
    for fig_id in figure_ids():
        fig = get_figure(fig_id)
        ref = [k for k in fig.paper if k not in fig.tolerance]
        assert all(fig_id == "fig21" and k.count(".") == 2 for k in ref), (fig_id, ref)
    assert REFERENCE == "reference only"
