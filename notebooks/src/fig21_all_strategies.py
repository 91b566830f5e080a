"""Paper notebook: appendix Fig 21 (source of notebooks/fig21_all_strategies.ipynb)."""

# %% [markdown]
# # Fig 21 of the STeP paper · coarse, interleaved and dynamic parallelization
#
# This notebook runs the `--quick` reproduction of the appendix's Fig 21 of the STeP paper and
# shows our plot beside the paper's headline values. The title, the question and every paper
# value come from the figure registry (`step_lab.reproduce`); every other number is computed
# below.

# %%
import time

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
from step_lab.reproduce.figures import fig21

QUICK = True        # False runs the full reproduction (also: `step-lab reproduce fig21`)
TRACES = None       # a folder laid out like step_lab/data/traces holding the withheld traces
fig = get_figure("fig21")
ctx = RunContext(quick=QUICK, traces=TRACES)
setup()
header(fig)

# %% [markdown]
# ## The workload
#
# The attention decode of [Figs 14](fig14_dynamic_vs_interleaved.ipynb) and
# [15](fig15_dynamic_vs_coarse.ipynb) (EXPERIMENTS.md §1.7) with all three strategies —
# **coarse** (fixed blocks of consecutive requests per region), **interleaved** (round robin) and
# **dynamic** (first free region) — at three batch sizes, on low-, medium- and high-variance KV
# traces. A bar is a static strategy's cycles divided by dynamic's, averaged geometrically over
# the class's traces. The largest batch is one stream of a middle-sized and a smallest-sized
# batch, as in the artifact; its own traces are **withheld**, so without them (`TRACES = None`)
# each is replaced by the documented stand-in (the class's traces of those two sizes,
# concatenated) and the notes say so. The quick run uses the first trace of each class.

# %%
attention_setup()
picks = range(1) if QUICK else range(3)
stand_in_notes = []
kv_table({name: lengths for b in fig21.BATCHES for cls in fig21.CLASSES for i in picks
          for lengths, name in [fig21.kv_trace(ctx, b, cls, i, stand_in_notes)]})

# %% [markdown]
# ## Running the reproduction
#
# `fig.run(ctx)` is exactly what `step-lab reproduce fig21 --quick` runs (the command line also
# writes `fig21.json` and a self-contained `fig21.html`); the full run averages three traces per
# class.

# %%
start = time.perf_counter()
result = fig.run(ctx)
say(f"Simulated **{len(result.points)}** points in **{time.perf_counter() - start:.1f} s**.")

# %% [markdown]
# ## The plot
#
# For every batch size and variance class: coarse and interleaved cycles divided by dynamic's
# (above one: dynamic is faster); the black dashes are the paper's bars (≈ read from the
# published figure).

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
# Which static strategy is second best changes with the batch: at the smallest batch coarse
# blocks leave regions idle and interleaving wins (`coarse_ge_3x_at_b16`); at the middle one
# every region gets a block and coarse tends to beat interleaving
# (`interleaved_worse_than_coarse_at_b64_classes` counts the classes where it does). Dynamic
# dispatch should beat both everywhere (`dynamic_beats_both_everywhere`); the two geometric
# means summarise by how much.
