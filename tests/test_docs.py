"""docs/CHOICES.md collects every [Choice] of the code; it must not go stale."""
import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_choices_md_lists_every_choice_paragraph_of_the_code():
    render = runpy.run_path(str(ROOT / "docs" / "collect_choices.py"))["render"]
    assert (ROOT / "docs" / "CHOICES.md").read_text() == render(), \
        "docs/CHOICES.md is stale: run .venv/bin/python docs/collect_choices.py"
