"""What a ``%%step`` cell does, as a library function the magic adapts (:func:`run_step_cell`)."""
from __future__ import annotations

from .cell import CellError, StepCell
from .outcome import Options, Outcome, evaluate, metrics_latex, summary_html

__all__ = ["run_step_cell", "show_static"]


def run_step_cell(body: str, name: str, user_ns: dict, options: Options, *,
                  background: bool = True, display: bool = True):
    """Build (and simulate) the cell body; bind ``name``/``name_result``; display the views.

    Returns the :class:`~.panel.StepPanel` when the cell declares knobs or animates, else the
    :class:`~.outcome.Outcome`. Raises :class:`CellError` (one readable message naming the cell
    line) when the first run fails; ``user_ns`` is then left as it was.
    """
    cell = StepCell(body, name, user_ns)
    outcome = evaluate(cell.build, {}, options)
    if outcome.error is not None:
        raise CellError(outcome.error, outcome.exception)

    def bind(result: Outcome) -> None:
        user_ns[name] = result.program
        user_ns[f"{name}_result"] = result.result

    bind(outcome)
    if not cell.knobs and not options.animate:
        if display:
            show_static(outcome, options)
        return outcome
    from .panel import StepPanel
    from .takeaway import CellSource
    panel = StepPanel(cell.build, cell.knobs, options, first=outcome, background=background,
                      on_result=bind, source=CellSource(body, name))
    if display:
        from IPython.display import display as show
        show(panel.widget)
    return panel


def show_static(outcome: Outcome, options: Options) -> None:
    """Display summary, metrics (LaTeX) and graph (SVG) as ordinary rich outputs."""
    from IPython.display import HTML, Latex, display

    from .graph import graph_html
    why = ""
    if outcome.result is not None:
        # the verdict and a static SVG roofline (the interactive bokeh one is in knob panels)
        from .roofline import roofline_svg, why_html
        bottleneck = outcome.result.why_slow()
        why = why_html(bottleneck) + roofline_svg(bottleneck)
    display(HTML(summary_html(outcome) + why))
    if options.show_metrics and outcome.metrics is not None:
        display(Latex(metrics_latex(outcome)))
    if options.show_graph:
        display(HTML(graph_html(outcome.program, outcome.result, annotate=options.annotate,
                                max_nodes=options.max_graph_nodes)))
