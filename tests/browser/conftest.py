"""Fixtures shared by the browser tests: a running JupyterLab and Debian's chromium.

The launcher and the chromium check live in ``test_jupyterlab`` (``running_lab``,
``_require_chromium``); every browser test module gets these fixtures from here.
"""
from __future__ import annotations

import shutil

import pytest
from test_jupyterlab import CHROMIUM, CHROMIUM_ARGS, ROOT, SHOTS, _require_chromium, running_lab


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A running JupyterLab on a copy of notebooks/: yields ``(base_url, token)``."""
    work = tmp_path_factory.mktemp("lab")
    shutil.copytree(ROOT / "notebooks", work / "notebooks")
    yield from running_lab(work, work / "notebooks", kernel_for="quickstart.ipynb")


@pytest.fixture(scope="module")
def browser():
    """Debian's chromium driven by Playwright (one instance for the module's tests)."""
    _require_chromium()
    from playwright.sync_api import sync_playwright
    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in [*SHOTS.glob("[0-9]-*.png"), SHOTS / "failure.png"]:   # ours only
        old.unlink(missing_ok=True)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()
