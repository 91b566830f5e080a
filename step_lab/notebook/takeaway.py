"""Take a panel with you: "copy as code" and "save report" (issue 12, item 7).

A *source* knows how the panel's builder was written and turns one knob setting into Python
that rebuilds the program and simulates it exactly as the panel did: :class:`CellSource` (the
body of a ``%%step`` cell), :class:`FunctionSource` (``explore(fn)``) and
:class:`WorkloadSource` (``explore(workload)``). :func:`code_box_html` shows the code in a
collapsible box with a copy-to-clipboard button; :func:`save_report` writes the same standalone
HTML report as ``step-lab simulate FILE --report OUT.html`` (``report.write_html`` with
``export.report_fragments``) plus the code.

[Choice] The code is plain Python (no ``%%step`` magic), so it also runs in a script: a
``%%step`` cell's body is wrapped with a ``knob()`` that returns the panel's current values.
Names the cell or function takes from the notebook (``moe_design``, a helper) are referenced,
not copied: the code is runnable as-is in the notebook that made the panel.
"""
from __future__ import annotations

import ast
import html
import importlib
import numbers
from pathlib import Path

from ..errors import ConfigError

__all__ = [
    "CellSource",
    "FunctionSource",
    "WorkloadSource",
    "code_box_html",
    "literal",
    "report_name",
    "save_report",
]


def literal(value) -> str:
    """Python source that evaluates to ``value`` (numpy arrays as ``np.array([...])``)."""
    if hasattr(value, "tolist") and hasattr(value, "dtype"):
        if getattr(value, "ndim", 0) == 0:
            return literal(value.item())
        return f"np.array({value.tolist()!r}, dtype={str(value.dtype)!r})"
    if isinstance(value, (list, tuple)):
        items = ", ".join(literal(v) for v in value)
        if isinstance(value, list):
            return f"[{items}]"
        return f"({items},)" if len(value) == 1 else f"({items})"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{literal(k)}: {literal(v)}" for k, v in value.items()) + "}"
    text = repr(value)
    try:
        if ast.literal_eval(text) == value:
            return text
    except (ValueError, SyntaxError):
        pass
    raise ConfigError(f"copy as code: the value {text:.60} ({type(value).__name__}) cannot be "
                      "written as Python source (expected numbers, strings, lists or arrays)")


def _hw(hw) -> str:
    if isinstance(hw, str):
        return repr(hw)
    from ..hw.config import PRESETS
    for name, preset in PRESETS.items():
        if preset == hw:
            return repr(name)
    return _custom_hw(hw)


def _custom_hw(hw) -> str:
    from dataclasses import fields
    args = ", ".join(f"{f.name}={literal(getattr(hw, f.name))}" for f in fields(hw))
    return f"sl.HardwareConfig({args})"


def _simulate_line(options, program: str = "program") -> str:
    return (f"result = sl.simulate({program}, hw={_hw(options.hw)}, bindings=bindings or None, "
            f"inputs=inputs or None, values={bool(options.values)!r})\n"
            "print(f\"{result.cycles:,} cycles\")\n")


def _importable(obj) -> str | None:
    """``from module import name`` when ``obj`` can be imported by its qualified name."""
    module, name = getattr(obj, "__module__", None), getattr(obj, "__qualname__", "")
    if not module or module == "__main__" or "." in name or "<" in name:
        return None
    try:
        found = getattr(importlib.import_module(module), name, None)
    except ImportError:
        return None
    target = getattr(obj, "__wrapped__", obj)
    if found is obj or getattr(found, "__wrapped__", found) is target:
        return f"from {module} import {name}\n"
    return None


def _call(name: str, values: dict) -> str:
    args = ", ".join(f"{k}={literal(v)}" for k, v in values.items())
    return f"{name}({args})"


class CellSource:
    """A ``%%step NAME`` cell: its body, run with the panel's knob values."""

    def __init__(self, body: str, name: str):
        self.body, self.name = body, name

    def code(self, values: dict, options) -> str:
        knobs = ", ".join(f"{k!r}: {literal(v)}" for k, v in values.items())
        head = ("import numpy as np\n\nimport step_lab as sl\nfrom step_lab import fn, ops\n\n"
                f"KNOBS = {{{knobs}}}     # the panel's knob setting\n\n\n"
                "def knob(name, default=None, **_):\n    return KNOBS.get(name, default)\n\n\n"
                f"prog = sl.Program({self.name!r})\ninputs, bindings = {{}}, {{}}\n")
        body = self.body.rstrip() + "\n"
        return (f"# %%step {self.name} as plain Python\n" + head + body + "\n"
                + f"{self.name} = prog\n" + _simulate_line(options, "prog"))


class FunctionSource:
    """``explore(fn)``: ``fn(**knobs)`` returns a Workload, a Program or a triple."""

    def __init__(self, fn):
        self.fn = fn

    def code(self, values: dict, options) -> str:
        name = getattr(self.fn, "__name__", "fn")
        where = _importable(self.fn) or f"# {name}: the function defined in this notebook\n"
        return ("import numpy as np\n\nimport step_lab as sl\n"
                "from step_lab.notebook.explorer import unpack\n" + where + "\n"
                f"built = {_call(name, values)}\n"
                "program, inputs, bindings = unpack(built)\n" + _simulate_line(options))


class WorkloadSource:
    """``explore(workload)``: its builder called with its params and the knob values."""

    def __init__(self, workload):
        self.workload = workload

    def code(self, values: dict, options) -> str:
        builder = getattr(self.workload, "builder", None)
        params = {**(getattr(self.workload, "params", None) or {}), **values}
        if builder is None:
            raise ConfigError(f"copy as code: workload {self.workload.program.name!r} has no "
                              "builder (expected a Workload made by a builder function)")
        name = getattr(builder, "__name__", "builder")
        where = _importable(builder) or f"# {name}: the function defined in this notebook\n"
        return ("import numpy as np\n\nimport step_lab as sl\n"
                "from step_lab.notebook.explorer import unpack\n" + where + "\n"
                f"workload = {_call(name, params)}\n"
                "program, inputs, bindings = unpack(workload)\n" + _simulate_line(options))


_COPY_JS = ("(function(b){var t=b.closest('details').querySelector('pre').innerText;"
            "function ok(){b.textContent='copied';setTimeout(function(){b.textContent='copy'},"
            "1500)}function old(){var a=document.createElement('textarea');a.value=t;"
            "document.body.appendChild(a);a.select();document.execCommand('copy');a.remove();"
            "ok()}if(navigator.clipboard&&window.isSecureContext){navigator.clipboard"
            ".writeText(t).then(ok,old)}else{old()}})(this)")


def code_box_html(code: str, *, title: str = "copy as code") -> str:
    """A collapsed ``<details>`` box with the code and a copy-to-clipboard button."""
    return ("<details class='step-lab-code'><summary style='cursor:pointer;color:#555'>"
            f"{html.escape(title)}</summary>"
            f"<button class='step-lab-copy' type='button' onclick=\"{html.escape(_COPY_JS)}\" "
            "style='margin:4px 0'>copy</button>"
            "<pre style='background:#f7f7f7;padding:6px;margin:0;max-height:320px;"
            f"overflow:auto;white-space:pre'>{html.escape(code)}</pre></details>")


def report_name(name: str) -> str:
    """``step_lab_report_<name>.html`` with ``name`` reduced to safe characters."""
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "panel"
    return f"step_lab_report_{safe}.html"


def save_report(outcome, options, path, *, code: str = "") -> Path:
    """Write the report of ``outcome`` (re-simulated with a trace if needed) to ``path``."""
    from ..report import write_html
    from ..sim import simulate
    from .export import report_fragments
    if outcome is None or outcome.program is None:
        raise ConfigError("save_report: the panel has no successful result yet (expected a "
                          "knob setting that simulates)")
    path = Path(path)
    if path.suffix.lower() not in (".html", ".htm"):
        raise ConfigError(f"save_report: {str(path)!r} is not an .html file name (expected e.g. "
                          f"{report_name(outcome.program.name)!r})")
    program, result = outcome.program, outcome.result
    if result is None or getattr(result, "trace", None) is None:
        result = simulate(program, hw=options.hw, bindings=outcome.bindings or None,
                          inputs=outcome.inputs or None, trace=True, values=options.values)
    rows = [{"metric": k, "value": v} for k, v in result.to_dict().items()
            if isinstance(v, (numbers.Real, str)) and not isinstance(v, bool)]
    rows += [{"metric": f"knob {k}", "value": str(v)} for k, v in outcome.values.items()]
    sections = report_fragments(program, result)
    if code:
        sections.append(("Reproduce it (Python)", f"<pre>{html.escape(code)}</pre>"))
    knobs = ", ".join(f"{k}={v}" for k, v in outcome.values.items())
    title = f"step-lab panel: {program.name}" + (f" ({knobs})" if knobs else "")
    return write_html(path, title, rows, sections).resolve()
