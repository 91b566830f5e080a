"""The README's example program runs as written and prints what its comments say."""
import contextlib
import io
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs_and_its_comments_are_true():
    code = re.search(r"```python\n(.*?)```", README.read_text(), re.S).group(1)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})
    printed = out.getvalue().splitlines()
    assert printed[0] == "263680*B"
    assert printed[1].startswith("{'offchip_traffic': 16875520")


def test_readme_holds_the_two_setup_commands_that_ci_runs():
    text = README.read_text()
    assert "./run demo" in text and "./run test" in text
    ci = (README.parent / ".ci" / "run").read_text()
    assert "./run test" in ci
