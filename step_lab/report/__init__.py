"""Standalone reports shared by the CLI and the notebook (standard library only).

``html`` writes ``report.html`` + ``report.json`` (tables, the graph section), ``svg`` draws
stdlib SVG scatter plots, ``demo`` builds the ``step-lab demo`` report. Graphs are drawn by the
one DOT-to-SVG renderer, :mod:`step_lab.ir.render`.
"""
from .html import graph_fragment, render_svg, write_html, write_report
from .svg import scatter_svg

__all__ = ["render_svg", "graph_fragment", "write_report", "write_html", "scatter_svg"]
