"""Tutorial 04 — memory hierarchy and symbolic metrics (source of 04_memory_and_metrics.ipynb)."""

# %% [markdown]
# # 04 · The memory hierarchy and symbolic metrics
#
# A STeP program makes the memory hierarchy explicit: **off-chip HBM** is reached only by the
# off-chip memory operators, **on-chip scratchpads** hold what loads stage and what Bufferize and
# Accum keep, and **streams** are the FIFOs between units. Because every stream has a symbolic
# shape, step_lab can tell you — before any simulation — a program's
#
# * **off-chip traffic** (bytes moved to and from HBM),
# * **on-chip memory** (bytes of scratchpad it needs),
# * **FLOPs**, and the **compute bandwidth** it allocates,
#
# as exact formulas of its dynamic dimensions. You will learn to read `sl.metrics`, to evaluate it
# for concrete sizes, and what the "paper" and "artifact" accounting presets and the "on-demand"
# policy mean.

# %%
#%load_ext step_lab
import ipywidgets as widgets
import numpy as np

import step_lab as sl
from step_lab import fn, ops
from step_lab.symbolic import fmt
from step_lab.tutor import check, say, table
from step_lab.workloads import simplified_moe

# %% [markdown]
# ## 1 · The machine the metrics describe
#
# The paper's evaluation machine is `sl.hw.PAPER`. Two of its numbers frame everything that follows:
# how fast HBM is, and how fast one on-chip memory unit is.

# %%
hw = sl.hw.PAPER
say(f"HBM delivers **{hw.offchip_bytes_per_cycle} B/cycle**; one on-chip memory unit "
    f"**{hw.onchip_bytes_per_cycle} B/cycle**; a compute operator without an explicit bandwidth "
    f"gets **{hw.compute_flops_per_cycle} FLOPs/cycle**.")

# %% [markdown]
# ## 2 · Metrics of a first program
#
# The README's matrix–vector product: every row of `x[B, 256]` is multiplied by `W[256, 512]`.
# `B` is symbolic. We make the row tile a parameter — it will be our tuning knob.

# %%
def gemv(row_tile=1):
    B = sl.dim("B")
    prog = sl.Program("gemv")
    x = prog.tensor("x", (B, 256), "bf16")
    W = prog.tensor("W", (256, 512), "bf16")
    rows = ops.Flatten(ops.LinearOffChipLoad(x, tile=(row_tile, 256)), 0, 2)    # [B/t] tiles
    ws = ops.Flatten(ops.LinearOffChipLoad(W, tile=(256, 512), ref=rows), 0, 2)  # W per tile
    y = ops.Map([rows, ws], fn.Matmul(), compute_bw=1024)                       # [t, 512]
    ops.LinearOffChipStore(y, "y")
    return prog


prog = gemv()
m = sl.metrics(prog)
m

# %% [markdown]
# `sl.metrics` returns sympy expressions (rendered above as LaTeX). The **per-node table** shows
# where each term comes from:

# %%
say(table(m.table()))

# %% [markdown]
# Only the loads and the store have traffic, and each moves `‖stream‖ · |tile|` bytes: the number
# of tiles in its stream times the bytes per tile. You can recompute one entry from the stream
# types yourself:

# %%
w_load = next(n for n in prog.nodes if type(n).__name__ == "LinearOffChipLoad"
              and n.params["tensor"].name == "W")
out = w_load.outputs[0]
by_hand = out.type.cardinality * out.dtype.nbytes
say(f"The W load's stream is `{out}`: ‖stream‖ = {fmt(out.type.cardinality)} tiles of "
    f"{out.dtype.nbytes:,} bytes each, so it moves **{fmt(by_hand)} bytes** — the table's value.")

# %% [markdown]
# To get numbers, bind the symbols with `evaluate`. The reference interpreter counts the bytes it
# really moves — they agree exactly:

# %%
B_value = 8
numbers = m.evaluate({"B": B_value})
rng = np.random.default_rng(0)
run = sl.interpret(prog, inputs={"x": rng.random((B_value, 256)), "W": rng.random((256, 512))},
                   bindings={"B": B_value})
say(f"At B = {B_value}: predicted **{numbers['offchip_traffic']:,} B**, measured by the "
    f"interpreter **{run.offchip_bytes:,} B**; **{numbers['flops']:,}** FLOPs predicted, "
    f"**{run.flops:,}** counted.")

# %% [markdown]
# ## 3 · Comparing designs without simulating
#
# W is loaded once per row tile, so a bigger row tile means fewer weight reloads — but bigger
# tiles need more on-chip staging. The formulas answer the trade-off instantly:

# %%
rows = []
for t in [1, 2, 4, 8, 16, 32, 64]:
    values = sl.metrics(gemv(t)).evaluate({"B": 64})
    rows.append({"row tile": t, "traffic [B]": values["offchip_traffic"],
                 "on-chip [B]": values["onchip_memory"],
                 "FLOPs / byte": values["flops"] / values["offchip_traffic"]})
say(table(rows))
best = min(rows, key=lambda r: r["traffic [B]"])
say(f"From row tile 1 to {best['row tile']}, traffic falls by "
    f"**{rows[0]['traffic [B]'] / best['traffic [B]']:.1f}×** while on-chip memory grows by "
    f"**{best['on-chip [B]'] / rows[0]['on-chip [B]']:.1f}×** — a memory-for-traffic trade.")

# %% [markdown]
# **Operational intensity** (FLOPs per off-chip byte) tells whether a design is limited by HBM
# bandwidth or by compute: with HBM at the bandwidth shown in section 1, a design needs enough
# FLOPs per byte to keep its compute units busy.
#
# ## 4 · Accounting presets: "paper" and "artifact"
#
# Traffic and FLOPs are unambiguous; on-chip memory depends on what you count. step_lab offers two
# presets:
#
# * **`"paper"`** (default, STeP §6.2) — loads and stores are double-buffered (2 tiles), matmul Maps
#   stage a 16-row slice of their input plus the weight tile, Accum/Expand hold their output;
# * **`"artifact"`** — the accounting of the authors' code, which produced the paper's published
#   memory numbers: single-buffered loads, compute tiles in FP32, matmul Maps free.
#
# The spec's worked example is the simplified MoE with 6 tokens routed to expert 0 and 4 to
# expert 1. Its symbols `sel_x0`, `sel_x1` are those counts (named after the selector stream):

# %%
routing = [0] * 6 + [1] * 4
moe, moe_inputs, moe_bindings = simplified_moe(tokens=10, experts=2, routing=routing)
paper = sl.metrics(moe)
artifact = sl.metrics(moe, preset="artifact")
print("traffic :", fmt(paper.offchip_traffic))
print("bindings:", moe_bindings)
say(table([{"preset": name, **mm.evaluate(moe_bindings)}
           for name, mm in [("paper", paper), ("artifact", artifact)]]))

# %% [markdown]
# The traffic formula has a `⌈sel_x/4⌉` per expert: static tiling packs 4 rows per tile and
# re-streams the expert's weights once per tile. Traffic is identical under both presets; only the
# memory column differs.
#
# ## 5 · Idle branches: the on-demand policy
#
# Suppose every token goes to expert 0. Hardware configured for both experts still holds expert 1's
# buffers (**static** policy, the default). An **on-demand** policy counts only operators whose
# inputs carry data — each node's memory is multiplied by a `[input > 0]` factor:

# %%
all_to_0 = {"sel_x0": 10, "sel_x1": 0}
static = sl.metrics(moe).evaluate(all_to_0)
on_demand = sl.metrics(moe, policy="on_demand").evaluate(all_to_0)
say(table([{"policy": "static", **static}, {"policy": "on_demand", **on_demand}]))
say(f"With expert 1 idle, on-demand accounting needs **{on_demand['onchip_memory']:,} B** "
    f"instead of **{static['onchip_memory']:,} B**; traffic is the same "
    f"(**{static['offchip_traffic'] == on_demand['offchip_traffic']}**), because an idle load "
    "already moves nothing.")

# %% [markdown]
# ## 6 · Exercise
#
# **Exercise 04.traffic.** For `gemv()` (row tile 1, bf16 = 2 bytes per element) write the total
# off-chip traffic as an expression of `B`, by reasoning about each load and store — not by
# copying `m.offchip_traffic`! Each row is a `[1, 256]` tile, W is one `[256, 512]` tile loaded once
# per row, each result row a `[1, 512]` tile.

# %%
B = sl.dim("B")
my_traffic = ...
check("04.traffic", my_traffic)

# %% solution
check("04.traffic", B * 256 * 2 + B * 256 * 512 * 2 + B * 512 * 2)

# %% [markdown]
# ## 7 · What if…?
#
# Pick a batch size and a row tile; the metrics are re-evaluated instantly from the same formulas.

# %%
def gemv_metrics(B_value=64, row_tile=8):
    if B_value % row_tile:
        print(f"B = {B_value} is not a multiple of the row tile {row_tile}: choose another pair")
        return
    mm = sl.metrics(gemv(row_tile))
    values = mm.evaluate({"B": B_value})
    print(f"traffic      {fmt(mm.offchip_traffic):>14}  = {values['offchip_traffic']:>12,} B")
    print(f"on-chip      {fmt(mm.onchip_memory):>14}  = {values['onchip_memory']:>12,} B")
    print(f"FLOPs        {fmt(mm.flops):>14}  = {values['flops']:>12,}")
    print(f"intensity    {values['flops'] / values['offchip_traffic']:.2f} FLOPs/byte")


gemv_metrics()

# %%
widgets.interact(gemv_metrics,
                 B_value=widgets.SelectionSlider(options=[8, 16, 32, 64, 128, 256, 512],
                                                 value=64, description="B"),
                 row_tile=widgets.SelectionSlider(options=[1, 2, 4, 8, 16, 32, 64], value=8,
                                                  description="row tile"))

# %% [markdown]
# ## 8 · Beyond the spec's accounting: partial tiles, spilled buffers, counted FIFOs
#
# Three opt-in options go past STEP.md's rules; the defaults stay the spec's.
#
# * **Partial tiles.** A tile must divide the tensor (§4.1), unless the off-chip operator gets
#   `pad=True`: a (3, 100) tensor then loads as `[1, 32]` tiles with a zero-padded last tile per
#   row, and a padded store writes back only the valid elements. Traffic counts the padded bytes
#   (the hardware moves whole tiles), FLOPs the whole tiles.

# %%
padded = sl.Program("gelu_pad")
A = padded.tensor("A", (3, 100), "f32")
out = padded.tensor("OUT", (3, 100), "f32", role="output")
rows = ops.LinearOffChipLoad(A, tile=(1, 32), pad=True)               # [1, 3, 4] tiles
ops.LinearOffChipStore(ops.Map(rows, fn.GELU(), compute_bw=32), out, pad=True)
a_values = np.random.default_rng(0).standard_normal((3, 100)).astype(np.float32)
run = sl.simulate(padded, inputs={"A": a_values})
say(f"`{rows.shape}` tiles; traffic **{sl.metrics(padded).offchip_traffic:,} B** "
    f"(= measured {run.offchip_bytes:,} B) for 2 · 1,200 useful bytes; result equals numpy: "
    f"**{np.allclose(run.arrays['OUT'], fn.GELU()(a_values))}**")

# %% [markdown]
# * **Spilled buffers.** A `Bufferize` with `spill=True`, or whose buffer exceeds
#   `metrics(..., buffer_capacity=N)` / `HardwareConfig.onchip_buffer_capacity_bytes`, keeps its
#   buffers in HBM: its writes and every Streamify read become off-chip traffic and the buffer
#   leaves the on-chip total. The MoE workload's `weights="stream" | "buffer" | "spill"` knob
#   shows the trade-off on a real layer.
# * **Counted FIFOs.** `metrics(..., fifo_depth=d)` (and `simulate(..., fifo_memory=True)`) adds
#   every FIFO's depth × token bytes, as the authors' artifact does.

# %%
def buffered(spill):
    p = sl.Program(f"buffered_{spill}")
    T = p.tensor("T", (4, 256), "f32")
    kept = ops.Bufferize(ops.LinearOffChipLoad(T, tile=(1, 64)), 1, spill=spill)
    ops.LinearOffChipStore(ops.Flatten(ops.Streamify(kept, repeat=(3,)), 0, 3), "U")
    return p


rows_out = []
for spill in (False, True):
    mm = sl.metrics(buffered(spill))
    rows_out.append({"spill": spill, "offchip_traffic": mm.offchip_traffic,
                     "onchip_memory": mm.onchip_memory,
                     "with FIFOs (depth 2)": sl.metrics(buffered(spill),
                                                        fifo_depth=2).onchip_memory})
say(table(rows_out))

# %% [markdown]
# ## Summary
#
# * Off-chip traffic is the sum over off-chip memory operators of `‖stream‖ · |tile|`; on-chip
#   memory and FLOPs are sums over nodes too — all exact sympy formulas of the dynamic dims.
# * `metrics(prog).evaluate(bindings)` turns them into numbers, which match what the interpreter
#   and the simulator measure.
# * Presets change only on-chip accounting ("paper" vs the authors' "artifact"); the
#   "on_demand" policy drops idle branches.
# * Opt-in options go beyond the spec: `pad=True` partial tiles, spilled buffers
#   (`spill=True`, `buffer_capacity`), and the artifact's counted FIFOs (`fifo_depth`).
#
# **Next:** [05 · Simulation and back-pressure](05_simulation.ipynb).
