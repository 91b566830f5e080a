"""Analysis of programs without running them: symbolic metrics (STEP.md §6), lint.

``to_dot``/``mimebundle`` are re-exported from :mod:`step_lab.ir.dot` (the DOT source and the
one renderer live in the IR, so ``Program.to_dot()`` needs no upward import).
"""
from ..ir.dot import mimebundle, to_dot
from .lint import lint
from .metrics import Metrics, metrics

__all__ = ["metrics", "Metrics", "lint", "to_dot", "mimebundle"]
