"""Tutorial 08 — configuration time-multiplexing (source of 08_time_multiplexing.ipynb)."""

# %% [markdown]
# # 08 · Configuration time-multiplexing
#
# An SDA is *configured* with a dataflow graph: every operator gets its own unit. For an MoE layer
# with many experts, a fully **spatial** design configures a pipeline per expert — even for experts
# that receive no token in this batch. **Configuration time-multiplexing** lets several branches of
# identical structure share one configured region, which serves them in turn.
#
# You will learn
#
# 1. why sharing regions is attractive for models with many, often idle, experts;
# 2. how STeP expresses it with `EagerMerge`, `RandomOffChipLoad` and `Partition`;
# 3. how to find how few regions are enough, by simulation on a real routing trace.

# %%
#%load_ext step_lab
import dataclasses

import ipywidgets as widgets

from step_lab.tutor import check, say, table
from step_lab.workloads import MODELS, expert_counts, load_routing, moe_layer, trace_path

# %% [markdown]
# ## 1 · Many experts, many of them idle
#
# Qwen3-30B-A3B routes each token to a handful of its many experts. The vendored trace holds one
# batch of tokens recorded from the real model:

# %%
qwen = MODELS["qwen3-30b-a3b"]
TRACE = trace_path("expert_routing/qwen_b64/032_012.npz")
counts = expert_counts(load_routing(TRACE, experts=qwen.experts), qwen.experts)
active = int((counts > 0).sum())
say(f"{qwen.experts} experts, top-{qwen.top_k}: in this batch **{active}** experts receive tokens "
    f"and **{qwen.experts - active}** receive none; the busiest gets **{counts.max()}** tokens.")

# %% [markdown]
# A spatial design still configures all of them. Time-multiplexing instead groups the experts into
# R regions of E/R experts each:
#
# ```python
# data, which = EagerMerge([packed_i for experts i of the group])     # whichever expert is ready
# addr = FlatMap(Map(which, expert_base), tile_addresses)              # where its weights are
# w    = RandomOffChipLoad(addr, concatenated weights of the group)    # fetch the chosen weights
# y    = shared expert body on Zip(data, w)                            # ONE configured pipeline
# outs = Partition(y, which, num_consumers=group size)                 # results back per expert
# ```
#
# `EagerMerge` forwards each expert's work as soon as it is ready and says whose it is; the same
# selector picks the weights (`RandomOffChipLoad`: data-dependent addresses) and routes the results
# back (`Partition`). No reconfiguration happens at run time — the cost is serialisation on the
# shared pipeline.
#
# ## 2 · Sweeping the number of regions
#
# As in notebook 06 we shrink the matrices (hidden and intermediate sizes) so the simulations take
# a moment, keeping the real expert count, top-k and trace. Static tiles of 16 rows.

# %%
mini = dataclasses.replace(qwen, name="mini-qwen3", hidden=128, moe_intermediate=128)


def qwen_layer(regions=None):
    """The mini layer: one region per expert (regions=None) or `regions` shared regions."""
    extra = {} if regions is None else {"time_multiplex": True, "regions": regions}
    return moe_layer(mini, batch=64, routing=TRACE, tiling="static", tile=16, tile_f=64, **extra)


rows = []
for regions in [None, 32, 16, 8, 4, 2, 1]:
    work = qwen_layer(regions)
    run = work.simulate(values=False)
    memory = work.metrics(preset="artifact", policy="static").evaluate(work.bindings)
    rows.append({"regions": regions or f"{qwen.experts} (spatial)", "cycles": run.cycles,
                 "allocated compute": run.allocated_compute,
                 "utilization": run.compute_utilization,
                 "on-chip memory": memory["onchip_memory"]})
say(table(rows))

# %%
spatial = rows[0]
shared = rows[1:]
best = max(shared, key=lambda r: r["utilization"])
say(f"Sharing **{best['regions']}** regions raises compute utilization "
    f"**{best['utilization'] / spatial['utilization']:.1f}×** over the spatial design at "
    f"**{best['cycles'] / spatial['cycles'] - 1:+.1%}** cycles, with "
    f"**{best['allocated compute'] / spatial['allocated compute']:.0%}** of its compute and "
    f"**{best['on-chip memory'] / spatial['on-chip memory']:.0%}** of its on-chip memory.")
say(f"With a single region the layer takes **{shared[-1]['cycles'] / spatial['cycles']:.1f}×** "
    "the cycles: every active expert now waits for the one shared pipeline.")

# %% [markdown]
# ## 3 · Exercise
#
# **Exercise 08.regions.** What is the **smallest** number of regions (among 1, 2, 4, 8, 16, 32)
# whose cycles stay within **10%** of the spatial design? Read it off the table or compute it.

# %%
my_regions = ...
check("08.regions", my_regions)

# %% solution
limit = 1.10 * spatial["cycles"]
check("08.regions", min(r["regions"] for r in shared if r["cycles"] <= limit))

# %% [markdown]
# ## 4 · What if…?
#
# Slide the number of regions; the mini layer is rebuilt and simulated (timing only).

# %%
def what_if(regions=8):
    work = qwen_layer(regions)
    run = work.simulate(values=False)
    print(f"{regions:3} regions: {run.cycles:,} cycles "
          f"({run.cycles / spatial['cycles'] - 1:+.1%} vs spatial), "
          f"utilization {run.compute_utilization:.2%} "
          f"(spatial {spatial['utilization']:.2%}), "
          f"HBM busy {run.offchip_bandwidth_utilization:.0%}")


what_if()

# %%
widgets.interact(what_if, regions=widgets.SelectionSlider(options=[1, 2, 4, 8, 16, 32, 64, 128],
                                                          value=8, description="regions",
                                                          continuous_update=False))

# %% [markdown]
# ## Summary
#
# * Time-multiplexing shares one configured region among branches of identical structure:
#   `EagerMerge` picks ready work, `RandomOffChipLoad` fetches the matching weights, `Partition`
#   returns results.
# * With many idle experts, a few shared regions keep nearly the spatial performance with a
#   fraction of the compute and memory; too few regions serialise the active experts.
#
# **Next:** [09 · Writing your own program](09_writing_your_own_program.ipynb).
