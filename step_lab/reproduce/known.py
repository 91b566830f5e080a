"""The reviewed list of known misses: ``reproduction/KNOWN_MISSES.json``.

One entry per headline check on real inputs that misses its tolerance for a documented reason
(``{"figure", "key", "runs", "reason"}``, ``runs`` naming ``"quick"`` and/or ``"full"``). The
regression guard, REPRODUCTION.md, the figure pages and the end-of-run summary of ``step-lab
reproduce`` all read it through this module, so they agree on which miss is known.

[Choice] The list of a run folder is ``KNOWN_MISSES.json`` in its parent folder (as for
``reproduction/quick``), else the checkout's ``reproduction/KNOWN_MISSES.json`` (so a trial run
under ``out/reproduce`` is judged against the same reviewed list); none is an empty list.
"""
from __future__ import annotations

import json
from pathlib import Path

from ..errors import ConfigError
from .inputs import REAL
from .scoring import FAIL, NO_VALUE

__all__ = ["load_known_misses", "known_misses_path", "known_reason", "CHECKOUT_LIST", "MISSED"]

CHECKOUT_LIST = Path(__file__).resolve().parents[2] / "reproduction" / "KNOWN_MISSES.json"
MISSED = (FAIL, NO_VALUE)               # the statuses that count as a miss


def load_known_misses(path) -> list:
    """The reviewed list of misses on real inputs: ``{"about": …, "misses": [{"figure", "key",
    "runs", "reason"}]}`` (or the bare list)."""
    p = Path(path)
    if not p.is_file():
        return []
    try:
        entries = json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise ConfigError(f"{str(p)!r} is not readable JSON ({e})") from None
    if isinstance(entries, dict):
        entries = entries.get("misses")
    if not isinstance(entries, list):
        raise ConfigError(f"{str(p)!r} holds no list of misses (expected {{\"misses\": [...]}})")
    for entry in entries:
        if not isinstance(entry, dict) or not {"figure", "key", "runs", "reason"} <= set(entry) \
                or not str(entry["reason"]).strip():
            raise ConfigError(f"{str(p)!r}: entry {entry!r} (expected figure, key, runs and a "
                              "non-empty reason)")
    return entries


def known_misses_path(out_dir) -> Path:
    """The reviewed list that applies to the run folder ``out_dir`` (see the module's Choice)."""
    beside = Path(out_dir).resolve().parent / "KNOWN_MISSES.json"
    return beside if beside.is_file() else CHECKOUT_LIST


def known_reason(known: list, fig_id: str, key: str, check: dict, quick: bool) -> str | None:
    """The reviewed reason when ``check`` (of ``fig_id``'s ``key``) is a known miss, else None:
    a miss on real inputs listed for this figure, key and kind of run."""
    if check.get("status") not in MISSED or check.get("inputs") != REAL:
        return None
    mode = "quick" if quick else "full"
    return next((str(e["reason"]) for e in known
                 if e["figure"] == fig_id and e["key"] == key and mode in e["runs"]), None)
