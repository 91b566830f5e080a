"""Paper notebook: Fig 13 (source of notebooks/fig13_time_multiplexing_resources.ipynb)."""

# %% [markdown]
# # Fig 13 of the STeP paper · configuration time-multiplexing: freed resources
#
# This notebook runs the `--quick` reproduction of Fig 13 of the STeP paper and shows our plot
# beside the paper's headline values. The title, the question and every paper value come from
# the figure registry (`step_lab.reproduce`); every other number is computed below.

# %%
import time

from step_lab.notebook.figures import (
    header,
    headline_table,
    moe_workload,
    points_table,
    say,
    setup,
    show_notes,
    show_plot,
)
from step_lab.reproduce import RunContext, get_figure
from step_lab.reproduce.figures import fig12

QUICK = True        # False runs the full reproduction (also: `step-lab reproduce fig13`)
fig = get_figure("fig13")
ctx = RunContext(quick=QUICK)
setup()
header(fig)

# %% [markdown]
# ## The workload
#
# The static-tiling runs of [Fig 12](fig12_time_multiplexing_utilization.ipynb): Qwen3-30B-A3B's
# MoE layer on its vendored routing trace, with `R` regions each shared by `E/R` experts
# (configuration time-multiplexing, EXPERIMENTS.md §1.6). Here we look at what sharing frees:
# on-chip memory (each active region keeps one set of weight-tile buffers and accumulators,
# "artifact" accounting with on-demand allocation, §1.3), allocated compute, and how well the
# remaining regions use the HBM bandwidth.

# %%
regions = fig12.QUICK_REGIONS if QUICK else fig12.REGIONS
moe_workload(fig12.region_points(ctx, notes=[], tilings=("static",), regions=regions))

# %% [markdown]
# ## Running the reproduction
#
# `fig.run(ctx)` is exactly what `step-lab reproduce fig13 --quick` runs (the command line also
# writes `fig13.json` and a self-contained `fig13.html`); the full run adds the remaining region
# counts.

# %%
start = time.perf_counter()
result = fig.run(ctx)
say(f"Simulated and analysed **{len(result.points)}** points in "
    f"**{time.perf_counter() - start:.1f} s**.")

# %% [markdown]
# ## The plot
#
# (a) On-chip memory and allocated compute against the number of regions; (b) off-chip
# bandwidth utilization (bars) and cycles (line).

# %%
show_plot(result.plot)

# %% [markdown]
# ## Ours vs the paper

# %%
checks = headline_table(fig, result)
points_table(result.points, {"label": "point", "cycles": "cycles",
                             "onchip_memory": "on-chip memory [B]",
                             "allocated_compute": "allocated compute [FLOPs/cycle]",
                             "active_regions": "active regions",
                             "bandwidth_utilization": "HBM utilization"}, "simulated points")

# %% [markdown]
# ## Notes of the run

# %%
show_notes(result)

# %% [markdown]
# ## What to look for
#
# Memory and allocated compute should drop steeply as regions are shared
# (`memory_reduction_r32`, `compute_reduction_r32`) while the cycles stay close to the baseline.
# Panel (b) explains where that stops: with few regions there are not enough concurrent weight
# streams to keep HBM busy, so bandwidth utilization falls (`bandwidth_drop_monotone_below_r32`)
# and the cycles rise.
