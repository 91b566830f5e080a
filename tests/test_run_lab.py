"""``./run lab``: JupyterLab from the project's environment on 127.0.0.1, quickstart open, the
printed URL carries a token that the server requires; ``./run demo`` names ``./run lab`` next."""
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RUN = ROOT / "run"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env() -> dict:
    """Plain ``./run lab`` when this interpreter is the project's .venv; otherwise the
    interpreter's own environment through STEP_LAB_VENV (installs nothing)."""
    env = dict(os.environ)
    if Path(sys.prefix).resolve() != (ROOT / ".venv").resolve():
        env["STEP_LAB_VENV"] = sys.prefix
    return env


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


@pytest.mark.slow
def test_run_lab_serves_the_quickstart_on_localhost_behind_the_printed_token():
    pytest.importorskip("jupyterlab")
    port = _free_port()
    proc = subprocess.Popen([str(RUN), "lab", "--no-browser", "--port", str(port)], cwd=ROOT,
                            env=_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)
    try:
        url = proc.stdout.readline().strip()
        assert url.startswith(f"http://127.0.0.1:{port}/lab/tree/notebooks/quickstart.ipynb"
                              "?token="), url
        token = url.split("token=", 1)[1]
        assert len(token) >= 32
        api = f"http://127.0.0.1:{port}/api/contents/notebooks/quickstart.ipynb"
        deadline = time.monotonic() + 90
        while True:
            try:
                code = _status(f"{api}?token={token}")
                break
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None, proc.stderr.read()
                assert time.monotonic() < deadline, "JupyterLab did not answer within 90 s"
                time.sleep(0.5)
        assert code == 200
        assert _status(url) == 200
        assert _status(api) == 403                       # no token, no access
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_run_lab_rejects_a_bad_port_before_doing_anything():
    out = subprocess.run([str(RUN), "lab", "--port", "http"], cwd=ROOT, env=_env(),
                         capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "step-lab: error: --port 'http' is not a port number (expected 1..65535)" in out.stderr


def test_run_uses_one_log_prefix_and_names_the_lab_step_after_the_demo():
    text = RUN.read_text()
    assert "step_lab: " not in text
    demo = text[text.index("run_demo() {"):text.index("run_test() {")]
    assert "next: ./run lab" in demo and "report.html" in demo
    usage = subprocess.run([str(RUN), "help"], capture_output=True, text=True, timeout=30)
    assert "lab [--port N] [--no-browser]" in usage.stderr


def test_the_test_suite_duration_is_said_once_and_the_readme_agrees():
    import re
    text = RUN.read_text()
    said = re.findall(r'^SUITE_TIME="(about \d+ minutes on \d+ cores)"$', text, re.M)
    assert len(said) == 1, "./run defines SUITE_TIME once"
    elsewhere = text.replace(f'SUITE_TIME="{said[0]}"', "")
    assert not re.search(r"\d+ minutes on", elsewhere.split("\nset -euo")[1]), \
        "the usage and the log line say $SUITE_TIME, not a number of their own"
    assert f"./run test [pytest args]  run the test suite ({said[0]})" in text   # header
    usage = subprocess.run([str(RUN), "help"], capture_output=True, text=True, timeout=30)
    assert f"takes {said[0]} and prints" in usage.stderr
    assert "${OUT:-out}" in usage.stderr and "`step-lab demo" in usage.stderr   # literal text
    run_test = text[text.index("run_test() {"):text.index("run_lab() {")]
    assert "the full suite takes $SUITE_TIME;" in run_test
    readme = (ROOT / "README.md").read_text()
    assert f"run the test suite ({said[0]})" in readme
    assert len(re.findall(r"\d+ minutes on 2 cores\)", readme)) == 1


def test_run_test_prints_one_line_per_file_and_keeps_the_closing_summary(tmp_path):
    (tmp_path / "conftest.py").write_text((ROOT / "tests" / "conftest.py").read_text())
    (tmp_path / "test_one.py").write_text("def test_a():\n    pass\n\ndef test_b():\n    pass\n")
    (tmp_path / "test_two.py").write_text("def test_c():\n    assert 0\n")
    env = {**os.environ, "STEP_LAB_FILE_PROGRESS": "1"}
    out = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                          "-o", "console_output_style=classic", str(tmp_path)], cwd=tmp_path,
                         env=env, capture_output=True, text=True, timeout=120).stdout
    lines = out.splitlines()
    assert any(line.startswith("test_one.py  2 passed  ") and "[2/3, " in line for line in lines)
    assert any(line.startswith("test_two.py  1 failed  ") and "[3/3, " in line for line in lines)
    assert not any(line.startswith("..") for line in lines)
    assert lines[-1].startswith("1 failed, 2 passed in ")
    text = RUN.read_text()
    assert "STEP_LAB_FILE_PROGRESS=1" in text and "console_output_style=classic" in text
