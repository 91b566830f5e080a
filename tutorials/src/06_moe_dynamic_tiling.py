"""Tutorial 06 — MoE and dynamic tiling on a real trace (source of 06_moe_dynamic_tiling.ipynb)."""

# %% [markdown]
# # 06 · Mixture-of-experts and dynamic tiling on a real routing trace
#
# In a mixture-of-experts (MoE) layer a router sends every token to its top-k experts, so expert i
# receives a data-dependent number of tokens `X_i`. Hardware that tiles data statically must pick a
# tile size in advance; STeP can size a tile **at run time** to exactly the tokens that arrived.
# This notebook measures what that buys on a routing trace recorded from the real Mixtral-8x7B
# model.
#
# You will learn
#
# 1. how static and dynamic tiling differ in a STeP program (one operator!);
# 2. how to drive the MoE workload with a real trace and compare designs by traffic, memory, FLOPs
#    and cycles;
# 3. how to read the trade-off as a Pareto frontier.

# %%
#%load_ext step_lab
import dataclasses

import step_lab as sl
from step_lab.dse import pareto
from step_lab.notebook import compare, explore
from step_lab.symbolic import fmt
from step_lab.tutor import check, say, table
from step_lab.workloads import (
    MODELS,
    expert_counts,
    load_routing,
    moe_layer,
    simplified_moe,
    trace_path,
)

# %% [markdown]
# ## 1 · A real routing trace
#
# step_lab ships the routing traces of the paper's artifact (see `step_lab/data/traces/
# PROVENANCE.md`): for each token of a batch, the experts the router chose. Here Mixtral-8x7B, batch
# 64, top-2.

# %%
TRACE = trace_path("expert_routing/mixtral_b64/008_010.npz")
mixtral = MODELS["mixtral-8x7b"]
routing = load_routing(TRACE, experts=mixtral.experts)
counts = expert_counts(routing, mixtral.experts)
print("routing shape:", routing.shape, " first tokens:", routing[:4].tolist())
say(table([{"expert": i, "tokens X_i": int(c)} for i, c in enumerate(counts)]))
say(f"Every expert is active; the busiest receives **{counts.max()}** tokens, the least busy "
    f"**{counts.min()}** (standard deviation **{counts.std():.1f}**).")

# %% [markdown]
# ## 2 · Static versus dynamic tiling, in the program
#
# The paper's simplified MoE (notebook 03) shows the difference in one place. **Static tiling**
# cuts each expert's rows into chunks of 4 with `Reshape` (padding the last) and packs each chunk
# into a `[4, 64]` tile; the weights are then re-streamed once per tile. **Dynamic tiling**
# replaces the Reshape by `Promote` and packs *all* rows of the expert into one tile whose height is
# the symbol `X_i` itself:

# %%
for tiling in ["static", "dynamic"]:
    prog, _, _ = simplified_moe(tokens=10, experts=2, tiling=tiling)
    packed = next(n.outputs[0] for n in prog.nodes
                  if type(n).__name__ == "Accum" and n.params["fn"] == sl.fn.RetileRow()
                  and n.outputs[0].dtype.elem == "bf16")
    print(f"{tiling:8} packed rows: {packed}")
    print(f"{'':8} traffic    : {fmt(sl.metrics(prog).offchip_traffic)}")

# %% [markdown]
# With static tiling the weight traffic of expert i is proportional to `⌈X_i/4⌉`; with dynamic
# tiling to `[X_i > 0]` — each active expert's weights stream exactly once, and no row is padding.
#
# ## 3 · The real layer
#
# `moe_layer(model, batch=…, routing=…, tiling=…, tile=…)` builds the full STeP program of an MoE
# expert layer (routing, per-expert packing and matmuls, combination of the k results) and
# returns a `Workload`: program, bindings (the `X_i` from the trace), inputs and knobs. Each expert
# is a SwiGLU block (gate, up and down projections). Its
# symbolic metrics at the real Mixtral sizes take a moment to evaluate, no simulation needed.
# We use the **artifact** accounting (the one behind the paper's figures) and the layer's own idle
# policy.

# %%
designs = [("static", 8), ("static", 16), ("static", 32), ("static", 64), ("dynamic", None)]


def layer_metrics(model, tiling, tile):
    work = moe_layer(model, batch=64, routing=TRACE, tiling=tiling, tile=tile)
    values = work.metrics(preset="artifact", policy=work.meta["idle_policy"]).evaluate(
        work.bindings)
    return {"design": f"{tiling} {tile or ''}".strip(), **values}


real = [layer_metrics("mixtral-8x7b", tiling, tile) for tiling, tile in designs]
say(table(real, ["design", "offchip_traffic", "onchip_memory", "flops"]))

# %%
dynamic = real[-1]
same_traffic = [r for r in real[:-1] if r["offchip_traffic"] <= dynamic["offchip_traffic"]]
say(f"Only static tiles of {', '.join(r['design'].split()[1] for r in same_traffic)} rows reach "
    f"dynamic tiling's traffic, and the smallest of them needs "
    f"**{same_traffic[0]['onchip_memory'] / dynamic['onchip_memory']:.2f}×** its on-chip memory "
    f"and **{same_traffic[0]['flops'] / dynamic['flops']:.2f}×** its FLOPs (padding rows are "
    "multiplied too).")

# %% [markdown]
# ## 4 · Cycles, on a smaller layer
#
# Simulating the full Mixtral layer takes a while, so for cycles we shrink the matrices — hidden
# and intermediate sizes — while keeping the real expert count, top-k and trace. Routing decides
# which experts get how many tokens, so the trace drives the small layer exactly as it drives the
# real one.

# %%
mini = dataclasses.replace(mixtral, name="mini-mixtral", hidden=256, moe_intermediate=512)
say(f"Real Mixtral: hidden **{mixtral.hidden}**, expert intermediate "
    f"**{mixtral.moe_intermediate}**; the mini layer: **{mini.hidden}** and "
    f"**{mini.moe_intermediate}**, with the same **{mini.experts}** experts and "
    f"top-**{mini.top_k}** routing.")


def mini_moe(tiling="static", tile=32):
    return moe_layer(mini, batch=64, routing=TRACE, tiling=tiling,
                     tile=tile if tiling == "static" else None, tile_f=64)


points = []
for tiling, tile in designs:
    work = mini_moe(tiling, tile)
    run = work.simulate(values=False)
    points.append({"design": f"{tiling} {tile or ''}".strip(), "cycles": run.cycles,
                   "onchip_memory": work.metrics(preset="artifact",
                                                 policy=work.meta["idle_policy"]).evaluate(
                       work.bindings)["onchip_memory"],
                   "offchip_traffic": run.offchip_bytes,
                   "HBM use": run.offchip_bandwidth_utilization})
say(table(points))

# %% [markdown]
# A design is **Pareto-optimal** when no other design is at least as good in both memory and
# cycles and better in one. `pareto` (from `step_lab.dse`) picks them:

# %%
frontier = pareto(points, x="onchip_memory", y="cycles")
say("Pareto-optimal (memory, cycles): " + ", ".join(f"**{p['design']}**" for p in frontier))

# %% [markdown]
# ### Watching the difference
#
# `compare` plays two traced runs side by side on one time axis — static tile 32 on the left,
# dynamic tiling on the right.

# %%
static_work, dynamic_work = mini_moe("static", 32), mini_moe("dynamic")
static_run = static_work.simulate(values=False, trace=True)
dynamic_run = dynamic_work.simulate(values=False, trace=True)
compare(static_run, dynamic_run, programs=(static_work.program, dynamic_work.program))

# %% [markdown]
# ## 5 · Exercise
#
# **Exercise 06.tile.** On this mini layer and trace, what is the **smallest** static tile among
# 8, 16, 32, 64 whose off-chip traffic is no larger than dynamic tiling's? Use the metrics (or the
# table above) and pass the number.

# %%
my_tile = ...
check("06.tile", my_tile)

# %% solution
# Reuse the table of section 4: traffic per design, then the smallest tile within the limit.
limit = next(p["offchip_traffic"] for p in points if p["design"] == "dynamic")
check("06.tile", min(int(p["design"].split()[1]) for p in points
                     if p["design"] != "dynamic" and p["offchip_traffic"] <= limit))

# %% [markdown]
# Why that tile? Because the largest `X_i` in this trace fits in it: every expert needs a single
# tile, so the weights stream once — at the price of padding every expert up to the tile.
#
# ## 6 · What if…?
#
# Change the tiling and the static tile; the panel re-simulates the mini layer (timing only) and
# shows its numbers, metrics and animation. (The graph is hidden: the layer has hundreds of
# nodes.)

# %%
panel = explore(mini_moe, tiling=["static", "dynamic"], tile=[8, 16, 32, 64], show_graph=False,
                values=False)
panel

# %% [markdown]
# ## Summary
#
# * Routing makes per-expert sizes `X_i` dynamic; static tiling pads them to a fixed tile and
#   re-streams weights `⌈X_i/T⌉` times, dynamic tiling sizes one tile to `X_i`.
# * The switch is one operator in the program: `Reshape` (static) → `Promote` (dynamic).
# * Symbolic metrics evaluate the real model on a real trace in seconds; simulation of a shrunken
#   layer gives cycles; `step_lab.dse.pareto` finds the designs worth keeping.
#
# **Next:** [07 · Attention, dynamic parallelization](07_attention_dynamic_parallelization.ipynb).
