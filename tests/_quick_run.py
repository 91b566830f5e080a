"""One in-process ``reproduce all --quick`` per test session, shared by every test that needs a
quick figure record (the regression guard and the figure smoke tests), so the suite pays for
each figure once. Not a test module (leading underscore)."""
from __future__ import annotations

import atexit
import functools
import shutil
import tempfile
from pathlib import Path

from step_lab.reproduce import RunContext, figure_ids, reproduce

_ROOT = Path(tempfile.mkdtemp(prefix="step_lab_quick_"))
atexit.register(shutil.rmtree, _ROOT, ignore_errors=True)


@functools.cache
def quick_record(fig_id: str) -> dict:
    """The record of ``reproduce FIG --quick`` (written to :func:`quick_dir`), run once."""
    return reproduce(fig_id, _ROOT, RunContext(quick=True, progress=False))


def quick_dir() -> Path:
    """The folder the shared quick records are written to (FIG.json and FIG.html)."""
    return _ROOT


def quick_all() -> dict:
    """Every figure's quick record, in figure order."""
    return {f: quick_record(f) for f in figure_ids()}
