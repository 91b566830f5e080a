"""Write the paper notebooks from their reviewable sources in ``notebooks/src/``.

    python notebooks/_build.py            # (re)write notebooks/<source>.ipynb, without outputs
    python notebooks/_build.py --check    # exit 1 if a notebook differs from its source

A source is a Python file in the "percent" format (as jupytext writes it); the parsing and
writing are those of ``tutorials/_build.py`` (without its ``solution`` cells):

* ``# %% [markdown]`` starts a Markdown cell; its lines are comments (``# text``);
* ``# %%`` starts a code cell; a line ``#%…`` in it is written as ``%…`` (IPython magics);
* the text before the first marker (the module docstring) is not part of the notebook.

Only the sources are edited; ``notebooks/quickstart.ipynb`` has no source and is left alone.
``tests/test_paper_notebooks.py`` fails when a notebook and its source disagree.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "src"


def _tutorials_builder():
    spec = importlib.util.spec_from_file_location("tutorials_build",
                                                  HERE.parent / "tutorials" / "_build.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_BUILD = _tutorials_builder()
METADATA = _BUILD.METADATA


def parse(text: str) -> list[dict]:
    """The cells of one percent-format source (empty cells dropped; no option markers)."""
    return _BUILD.parse(text, options=())


def notebook(source: Path) -> str:
    """The .ipynb text of a source; cell ids start with the source's name."""
    return _BUILD.notebook(source, id_prefix=source.stem[:40], options=())


def targets() -> dict[Path, Path]:
    """``{source: notebook path}`` for every source in ``notebooks/src/``."""
    return {src: HERE / f"{src.stem}.ipynb" for src in sorted(SOURCES.glob("*.py"))}


def main(argv: list[str]) -> int:
    return _BUILD.write_all(argv, targets(), HERE, "python notebooks/_build.py", notebook)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
