"""Write the paper notebooks from their reviewable sources in ``notebooks/src/``.

    python notebooks/_build.py            # (re)write notebooks/<source>.ipynb, without outputs
    python notebooks/_build.py --check    # exit 1 if a notebook differs from its source

A source is a Python file in the "percent" format (as jupytext writes it), like the tutorials'
(``tutorials/_build.py``):

* ``# %% [markdown]`` starts a Markdown cell; its lines are comments (``# text``);
* ``# %%`` starts a code cell; a line ``#%…`` in it is written as ``%…`` (IPython magics);
* the text before the first marker (the module docstring) is not part of the notebook.

Only the sources are edited; ``notebooks/quickstart.ipynb`` has no source and is left alone.
``tests/test_paper_notebooks.py`` fails when a notebook and its source disagree.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "src"

METADATA = {
    "kernelspec": {"display_name": "Python 3 (ipykernel)", "language": "python",
                   "name": "python3"},
    "language_info": {"name": "python", "pygments_lexer": "ipython3"},
}


def parse(text: str) -> list[dict]:
    """The cells of one percent-format source (empty cells dropped)."""
    cells: list[dict] = []
    kind, lines = None, []
    for line in text.splitlines():
        if line.startswith("# %%"):
            if kind is not None:
                cells.append(_cell(kind, lines))
            marker = line[4:].strip()
            if marker not in ("", "[markdown]"):
                raise ValueError(f"unknown cell marker {line!r} (expected '# %%' or "
                                 "'# %% [markdown]')")
            kind, lines = ("markdown" if marker else "code"), []
        elif kind is not None:
            lines.append(line)
    if kind is not None:
        cells.append(_cell(kind, lines))
    return [c for c in cells if c["source"]]


def _cell(kind: str, lines: list[str]) -> dict:
    if kind == "markdown":
        lines = [_uncomment(line) for line in lines]
    else:
        lines = [line[1:] if line.startswith("#%") else line for line in lines]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    source = "\n".join(lines)
    if kind == "markdown":
        return {"cell_type": "markdown", "metadata": {}, "source": source}
    return {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": source}


def _uncomment(line: str) -> str:
    if line.startswith("# "):
        return line[2:]
    if line.strip() in ("#", ""):
        return ""
    raise ValueError(f"markdown line {line!r} is not a comment (expected '# text')")


def notebook(source: Path) -> str:
    """The .ipynb text (nbformat 4.5, no outputs, stable cell ids and key order) of a source."""
    cells = parse(source.read_text(encoding="utf-8"))
    for i, cell in enumerate(cells):
        cell["id"] = f"{source.stem[:40]}-{i:02d}"
        cell["source"] = _split(cell["source"])
    nb = {"cells": cells, "metadata": METADATA, "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def _split(source: str) -> list[str]:
    lines = source.split("\n")
    return [line + "\n" for line in lines[:-1]] + [lines[-1]]


def targets() -> dict[Path, Path]:
    """``{source: notebook path}`` for every source in ``notebooks/src/``."""
    return {src: HERE / f"{src.stem}.ipynb" for src in sorted(SOURCES.glob("*.py"))}


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for src, dst in targets().items():
        text = notebook(src)
        if check:
            if not dst.exists() or dst.read_text(encoding="utf-8") != text:
                stale.append(dst.name)
        else:
            dst.write_text(text, encoding="utf-8")
            print(f"wrote {dst.relative_to(HERE.parent)}")
    if stale:
        print(f"out of date (run python notebooks/_build.py): {', '.join(stale)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
