"""IPython magics: ``%%step`` and ``%step_config`` — thin adapters over :mod:`.run`.

``%load_ext step_lab`` registers :class:`StepMagics`. Defaults are traitlets, so both
``%config StepMagics.hw = "paper"`` and ``%step_config hw=paper`` change them. A mistake in a cell
raises :class:`~IPython.core.error.UsageError` with one readable message naming the cell line
(IPython prints it without a traceback) and leaves the user namespace untouched.
"""
from __future__ import annotations

import ast

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class
from IPython.core.magic_arguments import argument, magic_arguments, parse_argstring
from traitlets import Bool, Enum, Int, TraitError, Unicode, validate

from ..errors import did_you_mean
from .cell import CellError
from .graph import ANNOTATIONS
from .outcome import Options
from .run import run_step_cell

__all__ = ["StepMagics", "load_ipython_extension"]


@magics_class
class StepMagics(Magics):
    """``%%step [NAME] [--hw PRESET] [--no-sim] [--animate]`` builds, analyses and simulates."""

    hw = Unicode("paper", help="Hardware preset used to simulate (see step_lab.hw)").tag(
        config=True)
    simulate = Bool(True, help="Simulate after building (%%step --no-sim skips it)").tag(
        config=True)
    animate = Bool(False, help="Show the occupancy animation (%%step --animate)").tag(config=True)
    show_graph = Bool(True, help="Draw the program graph").tag(config=True)
    show_metrics = Bool(True, help="Show the symbolic metrics as LaTeX").tag(config=True)
    annotate = Enum(ANNOTATIONS, "busy", help="Graph node annotation: busy, bytes or none").tag(
        config=True)
    values = Bool(True, help="Compute real tensor values (False: timing-only, faster)").tag(
        config=True)
    max_graph_nodes = Int(400, help="Larger programs are not drawn on every run").tag(
        config=True)
    background = Bool(True, help="Re-simulate knob changes in a background thread").tag(
        config=True)
    full_traceback = Bool(False, help="Show full tracebacks instead of one-line errors").tag(
        config=True)

    @validate("hw")
    def _check_hw(self, proposal):
        from ..hw import preset as resolve_hw
        try:
            resolve_hw(proposal["value"])
        except Exception as exc:
            raise TraitError(str(exc)) from None
        return proposal["value"]

    last = None     # the StepPanel or Outcome of the last %%step cell (for tests and power users)

    @magic_arguments()
    @argument("name", nargs="?", default="prog", help="program name; binds NAME and NAME_result")
    @argument("--hw", default=None, help="hardware preset (default: StepMagics.hw)")
    @argument("--no-sim", action="store_true", help="build and analyse only, do not simulate")
    @argument("--animate", action="store_true", help="show the per-cycle occupancy animation")
    @argument("--annotate", default=None, choices=ANNOTATIONS, help="graph node annotation")
    @cell_magic
    def step(self, line: str, cell: str):
        """Run the cell as a STeP program builder (``prog``, ``sl``, ``ops``, ``fn``, ``knob``)."""
        args = parse_argstring(self.step, line)
        if not args.name.isidentifier():
            raise UsageError(f"%%step: program name {args.name!r} is not a Python identifier "
                             "(expected e.g. %%step moe)")
        options = Options(hw=args.hw or self.hw, simulate=self.simulate and not args.no_sim,
                          animate=self.animate or args.animate, show_graph=self.show_graph,
                          show_metrics=self.show_metrics, annotate=args.annotate or self.annotate,
                          values=self.values, max_graph_nodes=self.max_graph_nodes)
        try:
            self.last = run_step_cell(cell, args.name, self.shell.user_ns, options,
                                      background=self.background)
        except CellError as exc:
            if self.full_traceback and exc.original is not None:
                raise exc.original from None    # the user's own error, as if run plainly
            raise UsageError(str(exc)) from None

    @line_magic
    def step_config(self, line: str):
        """``%step_config`` shows the defaults; ``%step_config hw=paper animate=True`` sets them."""
        if not line.strip():
            print("\n".join(f"StepMagics.{k} = {getattr(self, k)!r}    # {t.help}"
                            for k, t in sorted(self.traits(config=True).items())))
            return
        for key, value in (_split_setting(item) for item in line.split()):
            try:
                setattr(self, key, value)
            except Exception as exc:  # traitlets validation error: say what was expected
                raise UsageError(f"%step_config {key}={value!r}: {exc}") from None


def _split_setting(item: str) -> tuple[str, object]:
    key, sep, raw = item.partition("=")
    known = StepMagics.class_trait_names(config=True)
    if not sep or key not in known:
        raise UsageError(f"%step_config: {item!r} is not a setting (expected NAME=VALUE with NAME "
                         f"one of {sorted(known)})" + did_you_mean(key, known))
    try:
        return key, ast.literal_eval(raw)
    except (ValueError, SyntaxError):
        return key, raw


def load_ipython_extension(ipython) -> None:
    """``%load_ext step_lab``: register the magics (idempotent)."""
    from .solution import SolutionMagics
    ipython.register_magics(StepMagics)
    ipython.register_magics(SolutionMagics)

