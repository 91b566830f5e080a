"""Analysis of programs without running them: symbolic metrics (STEP.md §6), lint, DOT graphs."""
from .dot import mimebundle, to_dot
from .lint import lint
from .metrics import Metrics, metrics

__all__ = ["metrics", "Metrics", "lint", "to_dot", "mimebundle"]
