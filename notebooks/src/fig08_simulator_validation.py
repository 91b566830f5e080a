"""Paper notebook: Fig 8 (source of notebooks/fig08_simulator_validation.ipynb)."""

# %% [markdown]
# # Fig 8 of the STeP paper · simulator validation on a SwiGLU layer
#
# This notebook runs the `--quick` reproduction of Fig 8 of the STeP paper and shows our plot
# beside the paper's headline values. The title, the question and every paper value come from
# the figure registry (`step_lab.reproduce`); every other number is computed below.

# %%
import inspect
import time

from step_lab.hw import VALIDATION
from step_lab.notebook.figures import (
    header,
    headline_table,
    points_table,
    say,
    settings_table,
    setup,
    show_notes,
    show_plot,
)
from step_lab.reproduce import RunContext, get_figure
from step_lab.workloads import swiglu
from step_lab.workloads.swiglu import FIG8_TILES_M, FIG8_TILES_N

QUICK = True        # False runs the full reproduction (also: `step-lab reproduce fig8`)
fig = get_figure("fig8")
ctx = RunContext(quick=QUICK)
setup()
header(fig)

# %% [markdown]
# ## The workload
#
# One SwiGLU layer, `down(SiLU(x·Wg) ⊙ (x·Wu))`, written as a STeP program with tiles
# `(m, D, n)`: the batch is cut into `m`-row tiles and the intermediate dimension into
# `n`-column tiles, the hidden dimension `D` stays whole. Input rows are re-read once per
# intermediate column tile and the weights re-streamed once per batch tile, so the off-chip
# traffic has the closed form `4·(B·D·F/n + 3·(B/m)·D·F + B·D)` bytes. Every schedule of the
# sweep is simulated on the validation hardware (the HDL model's setup, preset
# `sl.hw.VALIDATION`).
#
# The authors compared their simulator with a cycle-accurate HDL model, which we cannot rerun:
# we compare our cycles with the authors' *simulator* cycles (exact, from their reference
# output) and with the HDL cycles read off the published figure.

# %%
defaults = {k: p.default for k, p in inspect.signature(swiglu).parameters.items()}
settings_table({"batch B": defaults["batch"], "hidden D": defaults["hidden"],
                "intermediate F": defaults["intermediate"], "data type": defaults["dtype"],
                "batch tiles m": list(FIG8_TILES_M), "intermediate tiles n": list(FIG8_TILES_N),
                "schedules": len(FIG8_TILES_M) * len(FIG8_TILES_N),
                "compute per operator [FLOPs/cycle]": defaults["compute_bw"],
                "HBM [B/cycle]": VALIDATION.offchip_bytes_per_cycle,
                "HBM channels": VALIDATION.hbm_channels,
                "memory unit [B/cycle]": VALIDATION.onchip_bytes_per_cycle,
                "FIFO depth": VALIDATION.fifo_depth,
                "tiles in flight per off-chip operator": VALIDATION.offchip_outstanding_tiles})

# %% [markdown]
# ## Running the reproduction
#
# `fig.run(ctx)` is exactly what `step-lab reproduce fig8 --quick` runs (the command line also
# writes `fig8.json` and a self-contained `fig8.html`); quick and full runs are the same sweep.

# %%
start = time.perf_counter()
result = fig.run(ctx)
say(f"Simulated **{len(result.points)}** schedules (plus the same sweep with another number of "
    f"tiles in flight, see the notes) in **{time.perf_counter() - start:.1f} s**.")

# %% [markdown]
# ## The plot
#
# Left: our cycles against the reference simulator's (circles) and the HDL model's (triangles);
# the dashed line is equality. Right: cycles against off-chip traffic, ours and the reference
# simulator's. Hover a point for its schedule.

# %%
show_plot(result.plot)

# %% [markdown]
# ## Ours vs the paper

# %%
checks = headline_table(fig, result)
points_table(result.points, {"label": "schedule", "cycles": "our cycles",
                             "reference_cycles": "reference simulator",
                             "hdl_cycles": "HDL (≈ from the figure)",
                             "offchip_bytes": "simulated traffic [B]",
                             "symbolic_traffic": "symbolic traffic [B]",
                             "formula_traffic": "closed form [B]"}, "simulated schedules")

# %% [markdown]
# ## Notes of the run

# %%
show_notes(result)

# %% [markdown]
# ## What to look for
#
# On the left the points should hug the diagonal: `pearson_r` near one and a small
# `max_rank_shift_vs_reference` mean the simulator orders the schedules as the reference does,
# which is what a design-space exploration needs. On the right cycles rise almost linearly with
# traffic — the layer is memory-bound, so the *symbolic* traffic, available without any
# simulation, already ranks the schedules. `traffic_exact` must be `yes`: the simulated bytes,
# the symbolic metric and the closed form agree at every point.
