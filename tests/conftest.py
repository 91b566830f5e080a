"""Suite-wide pytest hooks.

With ``STEP_LAB_FILE_PROGRESS=1`` (what ``./run test`` sets) a passing test prints nothing and
each test file ends with one line: its counts, its seconds and where the run stands, e.g.
``tests/test_cli.py  14 passed  3.2 s   [ 52/1019, 0:41]``. Failures, errors and skips keep
their usual letters, and pytest's closing summary line (``N passed in …``) is unchanged.
"""
from __future__ import annotations

import os
import time

import pytest

_ENABLED = os.environ.get("STEP_LAB_FILE_PROGRESS") == "1"


class FileProgress:
    """One summary line per test file instead of a dot per test."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config
        self.file: str | None = None
        self.counts: dict[str, int] = {}
        self.file_start = self.run_start = time.monotonic()
        self.done = 0

    def _reporter(self):
        return self.config.pluginmanager.get_plugin("terminalreporter")

    @pytest.hookimpl(tryfirst=True)
    def pytest_report_teststatus(self, report, config):
        if report.passed and report.when == "call" and not hasattr(report, "wasxfail"):
            return "passed", "", ""
        return None

    def pytest_runtest_logstart(self, nodeid, location):
        path = nodeid.split("::", 1)[0]
        if path != self.file:
            self.flush()
            self.file, self.counts, self.file_start = path, {}, time.monotonic()

    def pytest_runtest_logreport(self, report):
        outcome = None
        if report.when == "call":
            outcome = "xfailed" if hasattr(report, "wasxfail") and report.skipped else \
                report.outcome
        elif report.failed:
            outcome = "error"
        elif report.skipped and report.when == "setup":
            outcome = "skipped"
        if outcome is not None:
            self.counts[outcome] = self.counts.get(outcome, 0) + 1
            if report.when == "call" or report.when == "setup":
                self.done += 1

    @pytest.hookimpl(hookwrapper=True)
    def pytest_runtestloop(self, session):
        yield
        self.flush()

    def flush(self) -> None:
        if self.file is None:
            return
        reporter = self._reporter()
        if reporter is None:
            return
        total = getattr(reporter, "_numcollected", 0) or self.done
        elapsed = int(time.monotonic() - self.run_start)
        counts = ", ".join(f"{n} {k}" for k, n in self.counts.items()) or "no tests"
        if getattr(reporter._tw, "width_of_current_line", 0):    # after an F/E/s letter
            reporter._tw.line()
        reporter.write_line(f"{self.file}  {counts}  {time.monotonic() - self.file_start:.1f} s"
                            f"   [{self.done:>{len(str(total))}}/{total}, "
                            f"{elapsed // 60}:{elapsed % 60:02d}]")
        self.file = None


def pytest_configure(config: pytest.Config) -> None:
    if _ENABLED and not config.pluginmanager.has_plugin("step-lab-file-progress"):
        config.pluginmanager.register(FileProgress(config), "step-lab-file-progress")


# -- shared fixtures --------------------------------------------------------------------------
@pytest.fixture
def shell():
    """A fresh-namespace IPython shell with ``%load_ext step_lab`` done."""
    from IPython.core.interactiveshell import InteractiveShell
    ip = InteractiveShell.instance()
    ip.reset(new_session=False)                   # a clean user namespace, same shell
    ip.run_line_magic("load_ext", "step_lab")
    magics = ip.magics_manager.registry["StepMagics"]
    saved = {k: getattr(magics, k) for k in magics.traits(config=True)}
    magics.background = False
    yield ip
    for key, value in saved.items():
        setattr(magics, key, value)
