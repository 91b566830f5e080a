"""Write the tutorial notebooks from their reviewable sources in ``tutorials/src/``.

    python tutorials/_build.py            # (re)write every tutorials/NN_*.ipynb, without outputs
    python tutorials/_build.py --check    # exit 1 if a notebook differs from its source

A source is a Python file in the "percent" format (as jupytext writes it):

* ``# %% [markdown]`` starts a Markdown cell; its lines are comments (``# text``);
* ``# %%`` starts a code cell; ``# %% solution`` starts a ``%%solution`` cell tagged
  ``solution`` whose input is collapsed in JupyterLab: the worked answer to an exercise, which
  *Run All* does not run (``step_lab.notebook.solution``; the learner opens or runs it);
* the text before the first marker (the module docstring) is not part of the notebook.

Edit the source, then run this script; ``tests/test_tutorials.py`` fails when they disagree.
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


def parse(text: str, options: tuple = ("solution",)) -> list[dict]:
    """The cells of one percent-format source; ``options`` are the allowed code-cell markers."""
    cells: list[dict] = []
    kind, option, lines = None, "", []
    for line in text.splitlines():
        if line.startswith("# %%"):
            if kind is not None:
                cells.append(_cell(kind, option, lines))
            marker = line[4:].strip()
            if marker not in ("", "[markdown]", *options):
                allowed = ", ".join(repr(f"# %% {o}".rstrip()) for o in ("", "[markdown]",
                                                                            *options))
                raise ValueError(f"unknown cell marker {line!r} (expected {allowed})")
            kind = "markdown" if marker == "[markdown]" else "code"
            option, lines = ("" if kind == "markdown" else marker), []
        elif kind is not None:
            lines.append(line)
    if kind is not None:
        cells.append(_cell(kind, option, lines))
    return [c for c in cells if c["source"]]


def _cell(kind: str, option: str, lines: list[str]) -> dict:
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
    metadata: dict = {}
    if option == "solution":
        metadata = {"jupyter": {"source_hidden": True}, "tags": ["solution"]}
        source = "%%solution\n" + source
    return {"cell_type": "code", "execution_count": None, "metadata": metadata, "outputs": [],
            "source": source}


def _uncomment(line: str) -> str:
    if line.startswith("# "):
        return line[2:]
    if line.strip() in ("#", ""):
        return ""
    raise ValueError(f"markdown line {line!r} is not a comment (expected '# text')")


def notebook(source: Path, *, id_prefix: str | None = None,
             options: tuple = ("solution",)) -> str:
    """The .ipynb text (nbformat 4.5, no outputs, stable cell ids and key order) of a source."""
    cells = parse(source.read_text(encoding="utf-8"), options)
    prefix = source.stem[:2] if id_prefix is None else id_prefix
    for i, cell in enumerate(cells):
        cell["id"] = f"{prefix}-{i:02d}"
        cell["source"] = _split(cell["source"])
    nb = {"cells": cells, "metadata": METADATA, "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def _split(source: str) -> list[str]:
    lines = source.split("\n")
    return [line + "\n" for line in lines[:-1]] + [lines[-1]]


def targets() -> dict[Path, Path]:
    """``{source: notebook path}`` for every tutorial source."""
    return {src: HERE / f"{src.stem}.ipynb" for src in sorted(SOURCES.glob("[0-9][0-9]_*.py"))}


def main(argv: list[str]) -> int:
    return write_all(argv, targets(), HERE, "python tutorials/_build.py", notebook)


def write_all(argv: list[str], pairs: dict, root: Path, command: str, render) -> int:
    """(Re)write every ``{source: notebook}`` pair with ``render``; with ``--check`` only report
    stale notebooks (exit code 1). Shared by ``notebooks/_build.py``."""
    check = "--check" in argv
    stale = []
    for src, dst in pairs.items():
        text = render(src)
        if check:
            if not dst.exists() or dst.read_text(encoding="utf-8") != text:
                stale.append(dst.name)
        else:
            dst.write_text(text, encoding="utf-8")
            print(f"wrote {dst.relative_to(root.parent)}")
    if stale:
        print(f"out of date (run {command}): {', '.join(stale)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
