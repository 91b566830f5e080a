"""REPRODUCTION.md is generated from the committed FIG.json files, never typed."""
from pathlib import Path

from step_lab.reproduce.summary import reproduction_markdown

ROOT = Path(__file__).resolve().parents[1]


def test_reproduction_md_equals_what_the_script_generates_from_the_json_files(monkeypatch):
    monkeypatch.chdir(ROOT)
    text = reproduction_markdown("reproduction/quick", "reproduction/full")
    assert (ROOT / "REPRODUCTION.md").read_text() == text


def test_every_figure_of_experiments_md_is_reproduced_quick_and_full():
    for mode in ("quick", "full"):
        names = {p.stem for p in (ROOT / "reproduction" / mode).glob("fig*.json")}
        assert names == {"fig8", "fig9", "fig10", "fig12", "fig13", "fig14", "fig15", "fig17",
                         "fig21"}, mode
