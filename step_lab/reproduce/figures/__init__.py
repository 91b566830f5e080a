"""One module per reproduced figure; importing this package registers them all.

Every public module of this package (``fig9.py``, ``fig14.py``, …) is imported in figure-number
order, so ``figure_ids()`` lists them as EXPERIMENTS.md numbers them; private helpers start
with an underscore and are imported by the modules that use them.
"""
import importlib
import pkgutil
import re


def _number(name: str) -> tuple:
    match = re.search(r"\d+", name)
    return (int(match.group()) if match else 1 << 30, name)


for _info in sorted(pkgutil.iter_modules(__path__), key=lambda m: _number(m.name)):
    if not _info.name.startswith("_"):
        importlib.import_module(f"{__name__}.{_info.name}")
