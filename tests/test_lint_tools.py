"""Static checks run as tests (configuration in pyproject.toml): what is clean stays clean."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _ruff(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "ruff", "check", *args], cwd=ROOT,
                          capture_output=True, text=True)


@pytest.fixture(scope="module")
def ruff():
    version = subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True)
    if version.returncode != 0:
        pytest.skip("ruff is a test extra (pip install step-lab[test])")


def test_the_package_tools_and_benchmarks_are_pyflakes_clean(ruff):
    out = _ruff("--select", "F,E9", "step_lab", "tools", "benchmarks")
    assert out.returncode == 0, out.stdout


def test_ruff_reports_an_unused_import(ruff, tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import os\n")
    out = _ruff("--select", "F", "--no-cache", str(bad))
    assert out.returncode == 1 and "F401" in out.stdout
