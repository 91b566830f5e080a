"""Paper notebook: Fig 12 (source of notebooks/fig12_time_multiplexing_utilization.ipynb)."""

# %% [markdown]
# # Fig 12 of the STeP paper · configuration time-multiplexing: compute utilization
#
# This notebook runs the `--quick` reproduction of Fig 12 of the STeP paper and shows our plot
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

QUICK = True        # False runs the full reproduction (also: `step-lab reproduce fig12`)
fig = get_figure("fig12")
ctx = RunContext(quick=QUICK)
setup()
header(fig)

# %% [markdown]
# ## The workload
#
# Qwen3-30B-A3B's MoE layer on its vendored routing trace (EXPERIMENTS.md §1.6), where many of
# the experts receive no token and the busy ones few. An expert-parallel program configures one
# pipeline (gate, up, SiLU, multiply, down) per expert, most of which sit idle. **Configuration
# time-multiplexing** instead configures `R` *regions*, each shared by `E/R` experts: an
# `EagerMerge` forwards whichever of its experts' token tiles is ready and a `RandomOffChipLoad`
# fetches that expert's weights. The sweep varies `R` for static tiling and for dynamic tiling;
# the point without time-multiplexing (one region per expert) is the baseline. Compute
# utilization = algorithmic FLOPs / cycles / allocated compute (§1.3), where padded rows count
# as work for static tiling.

# %%
regions = fig12.QUICK_REGIONS if QUICK else fig12.REGIONS
moe_workload(fig12.region_points(ctx, notes=[], regions=regions))

# %% [markdown]
# ## Running the reproduction
#
# `fig.run(ctx)` is exactly what `step-lab reproduce fig12 --quick` runs (the command line also
# writes `fig12.json` and a self-contained `fig12.html`); the full run adds the remaining region
# counts.

# %%
start = time.perf_counter()
result = fig.run(ctx)
say(f"Simulated and analysed **{len(result.points)}** points in "
    f"**{time.perf_counter() - start:.1f} s**.")

# %% [markdown]
# ## The plot
#
# One panel per tiling: compute utilization (bars, left axis) and cycles (line, right axis)
# against the number of regions, from one region per expert (left) to the fewest regions
# (right).

# %%
show_plot(result.plot)

# %% [markdown]
# ## Ours vs the paper

# %%
checks = headline_table(fig, result)
points_table(result.points, {"label": "point", "cycles": "cycles",
                             "compute_utilization": "compute utilization",
                             "allocated_compute": "allocated compute [FLOPs/cycle]",
                             "algorithmic_flops": "algorithmic FLOPs",
                             "active_regions": "active regions",
                             "bandwidth_utilization": "HBM utilization"}, "simulated points")

# %% [markdown]
# ## Notes of the run

# %%
show_notes(result)

# %% [markdown]
# ## What to look for
#
# Sharing regions should raise utilization a lot while the cycles barely move (compare
# `*.util_ratio_r32` with `*.cycle_overhead_r32`): idle experts no longer hold compute that does
# nothing. With very few regions the bars fall again and the cycles climb
# (`*.util_falls_at_r4`, `*.cycle_ratio_r4`): too few concurrent weight streams are left to keep
# HBM busy (see [Fig 13](fig13_time_multiplexing_resources.ipynb)). Dynamic tiling's
# utilization is lower in absolute terms only because static tiling counts its padded rows as
# work (`padded_flop_ratio`).
