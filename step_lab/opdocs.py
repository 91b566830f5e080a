"""Operator documentation for editors: the names a ``%%step`` cell uses, with signature and doc.

:func:`operator_docs` reads the package itself — the classes of :mod:`step_lab.ops`, the
functions of :mod:`step_lab.fn`, and the cell names ``knob`` and ``prog`` — so the JupyterLab
extension's completion and hover text can never disagree with the code. The prebuilt extension
ships the result as ``step_lab/labextension/opdocs.json``; regenerate it with
``python -m step_lab.opdocs`` (``--check`` exits 1 when the shipped file is stale).

Only the standard library and step_lab are imported (no notebook dependencies).
"""
from __future__ import annotations

import argparse
import inspect
import json
import re
import sys
from pathlib import Path

from . import fn, ops
from .fn.base import FlatMapFunction, Function, InitFunction, MapFunction, UpdateFunction
from .ir.program import Program
from .notebook import knobs

__all__ = ["operator_docs", "opdocs_json", "OPDOCS_PATH", "main"]

OPDOCS_PATH = Path(__file__).resolve().parent / "labextension" / "opdocs.json"

_FUNCTION_KINDS = ((MapFunction, "map"), (UpdateFunction, "update"), (InitFunction, "init"),
                   (FlatMapFunction, "flatmap"))
_BASES = {Function, MapFunction, UpdateFunction, InitFunction, FlatMapFunction}
_PROGRAM_METHODS = ("tensor", "input", "output", "feedback", "connect", "set_fifo_depth")


def operator_docs() -> dict[str, dict[str, str]]:
    """``{name: {"signature", "doc", "group"}}`` for every operator, function and cell name.

    Operators come first (group = the operator's ``group``: memory, routing, higher-order,
    shape), then the tile functions (group ``"function: map, update"`` naming the kinds), then
    ``knob`` and ``prog`` (group ``"cell"``). Signatures start with ``ops.`` or ``fn.`` so an
    editor can tell the namespaces apart.
    """
    docs: dict[str, dict[str, str]] = {}
    for name in ops.__all__:
        cls = getattr(ops, name)
        docs[name] = _entry(f"ops.{name}{_operator_signature(cls)}", cls.__doc__, cls.group)
    for name in fn.__all__:
        cls = getattr(fn, name)
        if cls in _BASES:
            continue
        docs[name] = _entry(f"fn.{name}{_parameters(cls)}", cls.__doc__,
                            "function: " + ", ".join(_function_kinds(cls)))
    docs["knob"] = _entry(f"knob{_parameters(knobs.KnobRecorder.__call__)}", _knob_doc(), "cell")
    docs["prog"] = _entry("prog: sl.Program", _program_doc(), "cell")
    return docs


def opdocs_json() -> str:
    """The JSON text shipped with the labextension (stable: same package, same bytes)."""
    return json.dumps(operator_docs(), indent=1, ensure_ascii=False) + "\n"


# -- pieces ----------------------------------------------------------------------------------
def _entry(signature: str, doc: str | None, group: str) -> dict[str, str]:
    return {"signature": signature, "doc": inspect.cleandoc(doc or ""), "group": group}


def _parameters(function, extra: tuple[inspect.Parameter, ...] = ()) -> str:
    """``(a, b=1, *, c=None)`` without ``self`` and annotations (a class: its constructor)."""
    signature = inspect.signature(function)
    params = [p.replace(annotation=inspect.Parameter.empty)
              for p in signature.parameters.values() if p.name != "self"]
    variadic = [p for p in params if p.kind is inspect.Parameter.VAR_KEYWORD]
    params = [p for p in params if p.kind is not inspect.Parameter.VAR_KEYWORD]
    params += list(extra) + variadic
    plain = signature.replace(parameters=params, return_annotation=inspect.Signature.empty)
    return str(plain)


def _operator_signature(cls) -> str:
    """The parameters of ``_build`` plus the ``name=`` keyword every operator accepts."""
    name = inspect.Parameter("name", inspect.Parameter.KEYWORD_ONLY, default=None)
    return _parameters(cls._build, extra=(name,))


def _function_kinds(cls) -> list[str]:
    return [kind for base, kind in _FUNCTION_KINDS if issubclass(cls, base)]


def _knob_doc() -> str:
    """The first sentence of the knobs module's usage paragraph, then the Knob class doc."""
    usage = inspect.cleandoc(knobs.__doc__ or "").split("\n\n")[1]
    sentence = re.split(r"(?<=\.)\s+(?=[A-Z])", usage)[0]
    return f"{sentence}\n\n{inspect.cleandoc(knobs.Knob.__doc__ or '')}"


def _program_doc() -> str:
    lines = ["The program this ``%%step`` cell builds: a fresh ``sl.Program`` named after the "
             "cell (``%%step NAME``) on every run.", "", inspect.cleandoc(Program.__doc__ or "")]
    for method in _PROGRAM_METHODS:
        function = getattr(Program, method)
        summary = inspect.cleandoc(function.__doc__ or "").split("\n")[0]
        lines.append(f"\nprog.{method}{_parameters(function)}" + (f"\n    {summary}"
                                                                 if summary else ""))
    return "\n".join(lines)


# -- command line ----------------------------------------------------------------------------
def main(argv: list[str] | None = None) -> int:
    """``python -m step_lab.opdocs [--check] [--out PATH]``: write (or check) the JSON."""
    parser = argparse.ArgumentParser(prog="python -m step_lab.opdocs", description=main.__doc__)
    parser.add_argument("--out", type=Path, default=OPDOCS_PATH, help="JSON file to write")
    parser.add_argument("--check", action="store_true",
                        help="do not write; exit 1 when the file differs from the package")
    args = parser.parse_args(argv)
    text = opdocs_json()
    current = args.out.read_text(encoding="utf-8") if args.out.exists() else None
    if args.check:
        if current != text:
            print(f"{args.out} is stale: run python -m step_lab.opdocs", file=sys.stderr)
            return 1
        print(f"{args.out} is up to date ({len(operator_docs())} names)")
        return 0
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text, encoding="utf-8")
    print(f"wrote {args.out} ({len(operator_docs())} names)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
