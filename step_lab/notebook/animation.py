"""Animated per-cycle occupancy of the SDA: bokeh figures inside ipywidgets.

``animate(result)`` returns an ipywidget: a Play button linked (in the browser) to a scrub
slider, a speed control, and a :class:`jupyter_bokeh.BokehModel` with the unit grid (placement,
state per frame, operator group), FIFO fill levels and off-chip bandwidth over time. Frames are
computed once (:mod:`.frames`, at most :data:`~.frames.MAX_FRAMES`); playing only changes
``ColumnDataSource.data`` columns from Python, which jupyter_bokeh sends as small patches.
``compare(a, b)`` plays two runs on one shared cycle axis, side by side.
BokehJS is loaded once per kernel with INLINE resources (no CDN).
"""
from __future__ import annotations

from functools import lru_cache

from .frames import MAX_FRAMES, Frames, compute_frames, frame_boundaries
from .occupancy import Occupancy, occupancy_from_result
from .plots import BandwidthPlot, FifoBars, UnitGrid, legend_html

__all__ = ["animate", "compare", "Animation", "ensure_bokehjs", "SPEEDS"]

# Speed label -> (milliseconds per tick, frames per tick). 1× plays 20 frames per second.
WIDTH = 960          # pixels for the unit grids side by side
SPEEDS = {"0.25×": (200, 1), "0.5×": (100, 1), "1×": (50, 1), "2×": (50, 2), "4×": (50, 4),
          "8×": (50, 8), "16×": (50, 16)}
_BOKEHJS_LOADED = False


def ensure_bokehjs() -> None:
    """Load BokehJS into the notebook page once per kernel, INLINE (works offline)."""
    global _BOKEHJS_LOADED
    if _BOKEHJS_LOADED:
        return
    from bokeh.io import output_notebook
    from bokeh.resources import INLINE
    output_notebook(resources=INLINE, hide_banner=True)
    _BOKEHJS_LOADED = True


def animate(result, program=None, *, label: str = "", max_frames: int = MAX_FRAMES,
            load_bokehjs: bool = True):
    """A widget playing the occupancy of ``result`` (a SimResult with a trace, or Occupancy)."""
    return Animation([_occupancy(result, program, label)], max_frames=max_frames,
                     load_bokehjs=load_bokehjs).widget


def compare(result_a, result_b, *, labels=("static tiling", "dynamic tiling"), programs=(None,
            None), max_frames: int = MAX_FRAMES, load_bokehjs: bool = True):
    """Two runs side by side on one cycle axis (e.g. static vs dynamic tiling)."""
    runs = [_occupancy(r, p, lab) for r, p, lab in zip((result_a, result_b), programs, labels)]
    return Animation(runs, max_frames=max_frames, load_bokehjs=load_bokehjs).widget


def _occupancy(result, program, label: str) -> Occupancy:
    if isinstance(result, Occupancy):
        if label:
            result.label = label
        return result
    occ = occupancy_from_result(result, program, label)
    return occ


class Animation:
    """Frames, bokeh views and playback widgets for one or more runs.

    :meth:`set_runs` replaces the runs (same count) in place: a knob change recomputes the
    frames and patches the existing bokeh document instead of building a new widget.
    """

    def __init__(self, runs: list, *, max_frames: int = MAX_FRAMES, load_bokehjs: bool = True):
        self.max_frames = max_frames
        self.grids = [UnitGrid(width=WIDTH // len(runs)) for _ in runs]
        self.fifos = [FifoBars(width=WIDTH // len(runs)) for _ in runs]
        self.bandwidth = BandwidthPlot(len(runs))
        self._build_layout()
        self._set_data(runs)                  # data and frame 0 before the widget serialises
        self.show(0)                          # the document: later changes are patches
        self._build_widgets()
        if load_bokehjs:
            ensure_bokehjs()

    @property
    def count(self) -> int:
        return len(self.boundaries) - 1

    @property
    def cursor(self):
        return self.bandwidth.cursor

    def set_runs(self, runs: list) -> None:
        """Show new runs (as many as before) from frame 0, patching the displayed document."""
        self._set_data(runs)
        self.play.playing = False
        for control in (self.play, self.slider):
            control.value = 0
            control.max = self.count - 1
        self.show(0)

    def _set_data(self, runs: list) -> None:
        if len(runs) != len(self.grids):
            raise ValueError(f"Animation.set_runs: {len(runs)} runs given, the animation shows "
                             f"{len(self.grids)} (expected the same number)")
        self.runs = runs
        self.boundaries = frame_boundaries(max(o.cycles for o in runs), self.max_frames)
        self.frames: list[Frames] = [compute_frames(o, self.boundaries) for o in runs]
        for i, (occ, fr, grid, fifo) in enumerate(zip(runs, self.frames, self.grids,
                                                       self.fifos)):
            name = occ.label or (f"run {i}" if len(runs) > 1 else "units")
            grid.set_run(occ, fr, f"{name}: {occ.cycles:,} cycles")
            fifo.set_run(occ, fr, f"{name}: FIFO fill")
        self.bandwidth.set_runs(runs, self.frames)

    def _build_layout(self) -> None:
        from bokeh.layouts import column, row
        from bokeh.models import Div
        self.clock = Div(text="", name="clock")
        self.layout = column(row(self.clock, Div(text=legend_html())),
                             row(*[g.figure for g in self.grids]),
                             row(*[f.figure for f in self.fifos]), self.bandwidth.figure)

    def _build_widgets(self) -> None:
        import ipywidgets as w
        interval, step = SPEEDS["1×"]
        self.play = w.Play(value=0, min=0, max=self.count - 1, step=step, interval=interval,
                           description="play")
        self.slider = w.IntSlider(value=0, min=0, max=self.count - 1, description="frame",
                                  continuous_update=True, layout=w.Layout(width="420px"))
        self.speed = w.Dropdown(options=list(SPEEDS), value="1×", description="speed",
                                layout=w.Layout(width="150px"))
        w.jslink((self.play, "value"), (self.slider, "value"))
        self.speed.observe(lambda change: self.set_speed(change["new"]), names="value")
        self.slider.observe(lambda change: self.show(change["new"]), names="value")
        self.model = _bokeh_model(self.layout)
        controls = w.HBox([self.play, self.slider, self.speed])
        self.widget = w.VBox([controls, self.model])
        self.widget.add_class("step-lab-animation")
        self.widget.animation = self           # reachable from the returned widget

    def set_speed(self, label: str) -> None:
        """Change the playback speed (a key of :data:`SPEEDS`)."""
        self.play.interval, self.play.step = SPEEDS[label]

    def show(self, k: int) -> None:
        """Draw frame ``k`` (0 <= k < count) by updating the sources' per-frame columns."""
        k = min(max(int(k), 0), self.count - 1)
        self.frame = k
        for grid, fifo, fr in zip(self.grids, self.fifos, self.frames):
            grid.show(fr, k)
            fifo.show(fr, k)
        self.bandwidth.show(self.boundaries[k])
        self.clock.text = self._clock_text(k)

    def _clock_text(self, k: int) -> str:
        lo, hi = int(self.boundaries[k]), int(self.boundaries[k + 1])
        end = int(self.boundaries[-1])
        return (f"<b class='step-lab-clock'>cycle {lo:,}–{hi:,}</b> of {end:,}"
                f" <span style='color:#777'>(frame {k + 1}/{self.count})</span>")


def _bokeh_model(layout):
    """A :class:`jupyter_bokeh.BokehModel` whose ``close()`` may run twice (explicitly, then
    from ``__del__``): jupyter_bokeh's raises KeyError the second time."""
    return _model_class()(layout)


@lru_cache(maxsize=1)
def _model_class():
    from jupyter_bokeh import BokehModel

    class StepLabBokehModel(BokehModel):
        def close(self) -> None:
            if getattr(self, "_step_lab_closed", False):
                return
            self._step_lab_closed = True
            super().close()
    return StepLabBokehModel
