"""``step-lab reproduce FIG``: the paper's evaluation figures, their headlines and plots."""
from .registry import FIGURES, Figure, FigureResult, RunContext, figure, get_figure
from .runner import figure_ids, nest, reproduce

__all__ = ["FIGURES", "Figure", "FigureResult", "RunContext", "figure", "get_figure",
           "figure_ids", "nest", "reproduce"]
