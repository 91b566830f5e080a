"""Scoring of a figure's headlines: pass / fail / not assessed, on real or synthetic inputs.

One check per key of the figure's ``paper`` dict that has a tolerance (EXPERIMENTS.md §4 and the
per-figure notes). A check's ``inputs`` is ``"synthetic"`` when any trace the headline rests on
(``Figure.scopes``, else every trace the run used) was a synthetic stand-in. Headlines on real
inputs must be within tolerance; those on stand-ins are reported, not required.

[Choice] A criterion is assessed in a ``--quick`` run only when the quick run computes the same
quantity as the full run (the same simulated points); one that needs the whole sweep (a PID
against a subsampled frontier, a curve shape, a class mean over fewer batches) is "not assessed
in quick mode" and decided by the full run. A headline resting on real and synthetic traces at
once (Fig 21's geometric means over all batch sizes) counts as synthetic.
"""
from __future__ import annotations

from .inputs import REAL, SYNTHETIC
from .registry import within

__all__ = ["score", "describe", "counts", "PASS", "FAIL", "NOT_IN_QUICK", "NO_VALUE",
           "REFERENCE"]

PASS, FAIL = "pass", "fail"
NOT_IN_QUICK = "not assessed in quick mode"
NO_VALUE = "no value"                  # the run could not compute it (a failed point)
REFERENCE = "reference only"           # a paper value without a stated criterion


def describe(tol, value=None) -> str:
    """A tolerance as a reader would write it: ``±15%``, ``≥ 0.95``, ``must hold``."""
    if not tol:
        return "—"
    kind, amount = tol[0], tol[1]
    if kind == "all":
        return "; ".join(describe(t, value) for t in amount)
    if kind == "rel_any":
        return f"±{amount * 100:g}% of " + " or ".join(f"{p:g}" for p in tol[2])
    if kind == "abs" and amount == 0 and isinstance(value, bool):
        return "must hold"
    return {"rel": f"±{amount * 100:g}%", "abs": f"±{amount}", "min": f"≥ {amount}",
            "max": f"≤ {amount}", "gt": f"> {amount}"}.get(kind, str(tol))


def _scope(fig, key: str):
    """The traces a headline rests on: the longest matching ``scopes`` entry, else None (all)."""
    best = None
    for prefix in fig.scopes:
        hit = key == prefix or (prefix.endswith(".") and key.startswith(prefix))
        if hit and (best is None or len(prefix) > len(best)):
            best = prefix
    return fig.scopes[best] if best is not None else None


def input_kind(fig, key: str, inputs: dict) -> str:
    """``"real"`` or ``"synthetic"``: whether any used trace behind ``key`` was a stand-in."""
    scope = _scope(fig, key)
    used = inputs if scope is None else {r: inputs[r] for r in scope if r in inputs}
    return SYNTHETIC if any(v["source"] == SYNTHETIC for v in used.values()) else REAL


def score(fig, headline: dict, inputs: dict, quick: bool) -> dict:
    """``key -> {"status", "inputs", "tolerance"}`` for every paper key of ``fig``."""
    out = {}
    for key, paper in fig.paper.items():
        tol = fig.tolerance.get(key)
        value = headline.get(key)
        if tol is None:
            status = REFERENCE
        elif quick and key in fig.full_only:
            status = NOT_IN_QUICK
        else:
            ok = within(value, paper, tol)
            status = NO_VALUE if ok is None else PASS if ok else FAIL
        out[key] = {"status": status, "inputs": input_kind(fig, key, inputs),
                    "tolerance": describe(tol, paper)}
    return out


def counts(records: dict) -> dict:
    """Per input kind: ``{"real": {"pass", "fail", "no value", ...}, "synthetic": {...}}``."""
    out = {REAL: {}, SYNTHETIC: {}}
    for rec in records.values():
        for check in rec.get("checks", {}).values():
            bucket = out[check["inputs"]]
            bucket[check["status"]] = bucket.get(check["status"], 0) + 1
    return out
