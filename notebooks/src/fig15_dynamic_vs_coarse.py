"""Paper notebook: Fig 15 (source of notebooks/fig15_dynamic_vs_coarse.ipynb)."""

# %% [markdown]
# # Fig 15 of the STeP paper · dynamic vs coarse-grained parallelization across batch sizes
#
# This notebook runs the `--quick` reproduction of Fig 15 of the STeP paper and shows our plot
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
from step_lab.reproduce.figures import fig15
from step_lab.workloads import load_kv_lengths, trace_path

QUICK = True        # False runs the full reproduction (also: `step-lab reproduce fig15`)
fig = get_figure("fig15")
ctx = RunContext(quick=QUICK)
setup()
header(fig)

# %% [markdown]
# ## The workload
#
# The attention decode of [Fig 14](fig14_dynamic_vs_interleaved.ipynb) (EXPERIMENTS.md §1.7) on
# one medium-variance KV trace, for growing batch sizes (a batch uses the first requests of the
# trace). **Coarse-grained** static parallelization gives each region a fixed block of
# consecutive requests, so a small batch fills only the first regions and the others idle;
# **dynamic** dispatch sends each request to whichever region becomes free first.

# %%
attention_setup()
trace = fig.traces[0]
lengths = load_kv_lengths(trace_path(trace))
kv_table({f"{Path(trace).stem}, first {b}": lengths[:b] for b in fig15.BATCHES})

# %% [markdown]
# ## Running the reproduction
#
# `fig.run(ctx)` is exactly what `step-lab reproduce fig15 --quick` runs (the command line also
# writes `fig15.json` and a self-contained `fig15.html`); quick and full runs are the same.

# %%
start = time.perf_counter()
result = fig.run(ctx)
say(f"Simulated **{len(result.points)}** points in **{time.perf_counter() - start:.1f} s**.")

# %% [markdown]
# ## The plot
#
# Cycles (log scale) per batch size for both strategies; the black dashes are the paper's
# values (≈ read from the published figure).

# %%
show_plot(result.plot)

# %% [markdown]
# ## Ours vs the paper

# %%
checks = headline_table(fig, result)
points_table(result.points, {"label": "point", "strategy": "strategy", "batch": "requests",
                             "kv_tiles": "KV tiles", "cycles": "cycles"}, "simulated points")

# %% [markdown]
# ## Notes of the run

# %%
show_notes(result)

# %% [markdown]
# ## What to look for
#
# The coarse bars should stay flat while the batch still fits in the first regions
# (`coarse_flatness_b16_48`): adding requests only wakes up another region, and the latency is
# that of the busiest block. Dynamic cycles grow with the batch instead, because all regions
# share the work from the start — hence the largest speed-up at the smallest batch
# (`speedup_b16`) and a smaller but persistent one when every region has a block
# (`speedup_b64`).
