"""Paper notebook: Fig 14 (source of notebooks/fig14_dynamic_vs_interleaved.ipynb)."""

# %% [markdown]
# # Fig 14 of the STeP paper · dynamic vs interleaved parallelization of attention
#
# This notebook runs the `--quick` reproduction of Fig 14 of the STeP paper and shows our plot
# beside the paper's headline values. The title, the question and every paper value come from
# the figure registry (`step_lab.reproduce`); every other number is computed below.

# %%
import time
from pathlib import Path

from step_lab.notebook.figures import (
    attention_setup,
    header,
    headline_table,
    kv_table,
    points_table,
    say,
    setup,
    show_notes,
    show_plot,
)
from step_lab.reproduce import RunContext, get_figure
from step_lab.workloads import load_kv_lengths, trace_path

QUICK = True        # False runs the full reproduction (also: `step-lab reproduce fig14`)
fig = get_figure("fig14")
ctx = RunContext(quick=QUICK)
setup()
header(fig)

# %% [markdown]
# ## The workload
#
# One decode step of grouped-query attention (EXPERIMENTS.md §1.7): every request of the batch
# attends over its own KV cache, whose length comes from the vendored Azure LLM inference
# traces — batches grouped into low, medium and high variance of the KV lengths. Several
# parallel *regions* (copies of the attention pipeline) each process whole requests; a region's
# time follows the KV tiles of its requests. Two ways to hand out requests:
#
# * **interleaved** (static): request `i` goes to region `i mod P`, through one round-robin
#   distributor that stalls while the target region's input FIFO is full;
# * **dynamic** (STeP): the first `P` requests go round robin, then each request goes to the
#   region that finished its previous request first — a feedback cycle through `EagerMerge`.
#
# The bar of a trace is interleaved cycles / dynamic cycles.

# %%
attention_setup()
kv_table({Path(t).stem: load_kv_lengths(trace_path(t)) for t in fig.traces})

# %% [markdown]
# ## Running the reproduction
#
# `fig.run(ctx)` is exactly what `step-lab reproduce fig14 --quick` runs (the command line also
# writes `fig14.json` and a self-contained `fig14.html`); quick and full runs are the same.

# %%
start = time.perf_counter()
result = fig.run(ctx)
say(f"Simulated **{len(result.points)}** points in **{time.perf_counter() - start:.1f} s**.")

# %% [markdown]
# ## The plot
#
# One pair of bars per trace, grouped by variance class: our speed-up of dynamic over
# interleaved and the paper's bar (≈ read from the published figure).

# %%
show_plot(result.plot)

# %% [markdown]
# ## Ours vs the paper

# %%
checks = headline_table(fig, result)
points_table(result.points, {"label": "point", "strategy": "strategy", "batch": "requests",
                             "kv_tiles": "KV tiles", "cycles": "cycles",
                             "offchip_bytes": "off-chip bytes"}, "simulated points")

# %% [markdown]
# ## Notes of the run

# %%
show_notes(result)

# %% [markdown]
# ## What to look for
#
# Every bar should be above one (`all_bars_above_1`): dynamic dispatch never loses. The gain
# should grow with the variance of the KV lengths (`high_ge_low`): when lengths are similar,
# round robin is already balanced; when a few requests are very long, the interleaved
# distributor waits for the region busy with them while other regions idle.
