"""Paper notebook: Figs 9 and 19 (source of notebooks/fig09_dynamic_tiling_b64.ipynb)."""

# %% [markdown]
# # Fig 9 of the STeP paper · dynamic vs static tiling of an MoE layer
#
# This notebook runs the `--quick` reproduction of Fig 9 of the STeP paper (and of the appendix's
# Fig 19, which plots the same runs against off-chip traffic) and shows our plot beside the
# paper's headline values. The title, the question and every paper value come from the figure
# registry (`step_lab.reproduce`); every other number is computed below.

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
from step_lab.reproduce.figures import fig9

QUICK = True        # False runs the full reproduction (also: `step-lab reproduce fig9`)
fig = get_figure("fig9")
ctx = RunContext(quick=QUICK)
setup()
header(fig)

# %% [markdown]
# ## The workload
#
# One mixture-of-experts layer of each model (EXPERIMENTS.md §1.6): a router sends every token
# of the batch to its top-k experts; each expert is a SwiGLU block whose weights stream from HBM
# once per *token tile*. The vendored routing traces, recorded from the real models, decide
# how many tokens `X_i` each expert receives.
#
# * **Static tiling** pads each expert's tokens to a multiple of a fixed tile size `tile_N`
#   and streams the weights `⌈X_i / tile_N⌉` times: small tiles re-stream weights, large tiles
#   compute on padding and need big buffers.
# * **Dynamic tiling** (STeP) packs all `X_i` tokens of an expert into one tile sized at run time,
#   so each active expert's weights stream exactly once and idle experts need no buffers.
#
# Cycles come from a timing-only simulation of the real STeP program on the paper's hardware
# model; on-chip memory and traffic from the program's symbolic metrics evaluated at the trace
# ("artifact" accounting, §1.3). The tables list the models, the traces and the points the
# reproduction simulates.

# %%
moe_workload(fig9.sweep_points(ctx, notes=[]))

# %% [markdown]
# ## Running the reproduction
#
# `fig.run(ctx)` is exactly what `step-lab reproduce fig9 --quick` runs (the command line also
# writes `fig9.json` and a self-contained `fig9.html`).

# %%
start = time.perf_counter()
result = fig.run(ctx)
say(f"Simulated and analysed **{len(result.points)}** points in "
    f"**{time.perf_counter() - start:.1f} s**.")

# %% [markdown]
# ## The plot
#
# On-chip memory (x) against cycles (y), one panel per model: static tile sizes (blue) with their
# Pareto frontier (dashed) and dynamic tiling (red star). Hover a point for its values.

# %%
show_plot(result.plot)

# %% [markdown]
# ## Ours vs the paper

# %%
checks = headline_table(fig, result)
points_table(result.points, {"label": "point", "cycles": "cycles",
                             "onchip_memory": "on-chip memory [B]",
                             "offchip_traffic": "off-chip traffic [B]",
                             "weight_traffic": "weight traffic [B]",
                             "token_tiles": "token tiles"}, "simulated points")

# %% [markdown]
# ## Notes of the run

# %%
show_notes(result)

# %% [markdown]
# ## What to look for
#
# The red star should lie *beyond* the dashed static frontier: no static tile size reaches both
# its memory and its cycles. `*.pid` measures by how much (the factor by which the best static
# point must improve on its harder axis to reach it). For Mixtral, whose experts are all busy,
# dynamic tiling matches a small tile's memory with a large tile's speed; for Qwen, with many
# idle experts, the gain is mostly memory, because idle experts allocate no buffers.
