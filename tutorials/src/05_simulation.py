"""Tutorial 05 — simulation, back-pressure, occupancy animation (source of 05_simulation.ipynb)."""

# %% [markdown]
# # 05 · Simulation, back-pressure and reading the occupancy animation
#
# The metrics of notebook 04 say *how much* a program moves and computes. How *long* it takes
# depends on how its operators overlap, and that is what the cycle-approximate simulator
# `sl.simulate` answers. Every operator runs concurrently; every stream is a **bounded FIFO**; a
# full FIFO stops its producer (**back-pressure**) and an empty one its consumer.
#
# You will learn to
#
# 1. run `sl.simulate` and read its result and per-node statistics;
# 2. explain an operator's time from the timing model;
# 3. recognise back-pressure, diagnose a **deadlock** and fix it;
# 4. read the occupancy animation.

# %%
#%load_ext step_lab
import math

import numpy as np

import step_lab as sl
from step_lab import fn, ops
from step_lab.notebook import animate, explore
from step_lab.tutor import check, say, table
from step_lab.workloads import simplified_moe

# %% [markdown]
# ## 1 · A first simulation
#
# `sl.simulate` takes the program, its inputs and bindings like `sl.interpret`, plus a hardware
# configuration (`sl.hw.PAPER` by default). It computes real values *and* time. We reuse the gemv of
# notebook 04 with a row tile of 8.

# %%
def gemv(row_tile=8):
    B = sl.dim("B")
    prog = sl.Program("gemv")
    x = prog.tensor("x", (B, 256), "bf16")
    W = prog.tensor("W", (256, 512), "bf16")
    rows = ops.Flatten(ops.LinearOffChipLoad(x, tile=(row_tile, 256)), 0, 2)
    ws = ops.Flatten(ops.LinearOffChipLoad(W, tile=(256, 512), ref=rows), 0, 2)
    ops.LinearOffChipStore(ops.Map([rows, ws], fn.Matmul(), compute_bw=1024), "y")
    return prog


prog = gemv()
rng = np.random.default_rng(0)
inputs = {"x": rng.random((64, 256)), "W": rng.random((256, 512))}
result = sl.simulate(prog, inputs=inputs, bindings={"B": 64})
print(result.summary())

# %%
predicted = sl.metrics(prog).evaluate({"B": 64})["offchip_traffic"]
say(f"The simulator measured **{result.offchip_bytes:,} B** of off-chip traffic; the symbolic "
    f"metric predicted **{predicted:,} B**. The output is correct: "
    f"**{np.allclose(result.arrays['y'], inputs['x'] @ inputs['W'], rtol=1e-2)}**.")

# %% [markdown]
# ## 2 · Reading per-node statistics
#
# `result.per_node` tells, for every operator, how its cycles were spent:
#
# * **busy** — doing work; **stall_in** — waiting for an input token;
# * **stall_out** — blocked because an output FIFO is full (back-pressure); **idle** — the rest.

# %%
say(table([{"node": name, **{k: s[k] for k in ("op", "busy", "stall_in", "stall_out", "idle")}}
           for name, s in result.per_node.items()]))

# %% [markdown]
# The Map is busy almost all the time: it is the bottleneck. Why that long? The timing model
# charges each element of a higher-order operator
#
# `cycles = max(⌈bytes read from on-chip memory / BW_onchip⌉, ⌈FLOPs / C⌉)`
#
# Tiles delivered by an off-chip load sit in an on-chip memory unit, so the Map must read both of
# its operands at the memory-unit bandwidth. Let us compute both terms:

# %%
hw = sl.hw.PAPER
map_node = next(n for n in prog.nodes if type(n).__name__ == "Map")
x_tile, w_tile = map_node.inputs[0].dtype.items
flops = 2 * x_tile.rows * x_tile.cols * w_tile.cols
read_cycles = math.ceil((x_tile.nbytes + w_tile.nbytes) / hw.onchip_bytes_per_cycle)
compute_cycles = math.ceil(flops / map_node.params["compute_bw"])
elements = result.per_node[map_node.name]["tokens_out"] - 1        # minus Done
say(f"Per element: reading operands **{read_cycles:,}** cycles, computing **{compute_cycles:,}** "
    f"cycles, so **{max(read_cycles, compute_cycles):,}**. Over {elements} elements that is "
    f"**{elements * max(read_cycles, compute_cycles):,}** cycles; the simulator reports "
    f"**{result.per_node[map_node.name]['busy']:,}** busy cycles. This Map is "
    f"**{'memory' if read_cycles > compute_cycles else 'compute'}-bound**.")
if read_cycles > compute_cycles:
    say("More compute bandwidth would not help here; reading fewer bytes per FLOP would — a "
        "bigger row tile, for instance, amortises each weight-tile read over more rows.")

# %% [markdown]
# ## 3 · Back-pressure
#
# Our next program normalises every row of `x` by its sum: `y = x / rowsum(x)`. The stream `x`
# feeds three operators (fan-out): the Accum computing the sum, the Expand that repeats the sum
# along the row, and the Zip pairing each element with its row's sum.

# %%
def normalise(rows=3, cols=8, depth=None):
    prog = sl.Program("normalise")
    x = prog.input("x", sl.Tile(1, 1, "f32"), (rows, cols))
    total = ops.Accum(x, fn.Add(), fn.Zero((1, 1), "f32"), 1)          # [rows]
    column = ops.Reshape(total, 0, 1)[0]                                # [rows, 1]
    spread = ops.Expand(column, x, 1)                                   # [rows, cols]
    prog.output("y", ops.Map(ops.Zip(x, spread), fn.Div()))
    if depth is not None:
        prog.set_fifo_depth(x, depth)
    return prog


normalise()

# %% [markdown]
# Think about the first row. The Zip needs the row's first element *and* its sum; the sum needs
# the whole row. So while the Accum reads the row, the row's elements must wait in the FIFOs
# towards the Expand and the Zip. With the default FIFO depth…

# %%
values = (np.arange(24, dtype=float).reshape(3, 8) + 1).tolist()
try:
    sl.simulate(normalise(), inputs={"x": values})
except sl.DeadlockError as error:
    print(error)

# %% [markdown]
# ## 4 · Reading a deadlock
#
# The simulator never hangs: when nothing can move, it raises `DeadlockError` naming every blocked
# node, what it waits for, and the channel's occupancy. Read it from the top: the input `x` cannot
# put its next token because its FIFO towards the Expand is full; the Accum waits for that very
# token to finish the row sum; everything downstream waits for the sum. A cycle of waiting — a
# deadlock — caused by FIFOs too shallow to hold a row.
#
# The fix is to give stream `x` a deeper FIFO with `prog.set_fifo_depth(x, depth)` (the `depth`
# argument of `normalise` does that).
#
# **Exercise 05.fifo.** What is the smallest depth of `x`'s FIFO with which `normalise(3, 8, depth)`
# finishes? Find it by experiment — simulate for increasing depths — and pass the number.

# %%
my_depth = ...
check("05.fifo", my_depth)

# %% solution
depth = 1
while True:
    try:
        sl.simulate(normalise(3, 8, depth), inputs={"x": values})
        break
    except sl.DeadlockError:
        depth += 1
check("05.fifo", depth)

# %% [markdown]
# Once it runs, deeper FIFOs still help: the producer can run ahead while the Accum finishes. The
# `stall_out` column of the input node is the back-pressure it suffers, here with room for two,
# three and four rows of `x`:

# %%
rows = []
for depth in [16, 24, 32]:
    run = sl.simulate(normalise(3, 8, depth), inputs={"x": values})
    rows.append({"depth of x": depth, "cycles": run.cycles,
                 "x stall_out": run.per_node["x"]["stall_out"]})
say(table(rows))

# %% [markdown]
# ## 5 · The occupancy animation
#
# With `trace=True` the simulator records every unit's state and every FIFO's fill level per
# cycle; `animate(result)` plays them back, in the browser (the kernel stays free). Below: the
# paper's simplified MoE with 32 tokens and 4 experts. Units are grouped (by their name scope, e.g.
# `expert 3`, or else by operator family); each group is a cell whose bar shows the share of its
# units' time that is **green** busy, **orange** waiting for input, **red** blocked on a full
# output (back-pressure) and grey idle. Under it, the units of the selected group (click another
# cell to drill into it), coloured by the state they spent most of the frame in (paler: only part
# of it). The heatmap shows the whole run at once; the bars show FIFO fill, the curve the
# off-chip bandwidth. Press ▶, step one frame with the arrow buttons, or drag the slider.

# %%
moe, moe_inputs, moe_bindings = simplified_moe(tokens=32, experts=4)
traced = sl.simulate(moe, inputs=moe_inputs, bindings=moe_bindings, trace=True)
print(traced.summary())
animate(traced, moe)

# %%
stats = traced.per_node
busiest = max(stats, key=lambda n: stats[n]["busy"])
gather = next(n for n in stats if stats[n]["op"] == "Reassemble")
say(f"While it plays, watch **{busiest}** ({stats[busiest]['op']}): busy "
    f"{stats[busiest]['busy'] / traced.cycles:.0%} of the run, it sets the pace. The final "
    f"**{gather}** waits for input {stats[gather]['stall_in'] / traced.cycles:.0%} of the time, "
    "because rows come back from the experts at different times.")

# %% [markdown]
# ## 6 · What if…?
#
# `explore` wraps any builder function in widgets. Here: the simplified MoE with a knob for the
# static tile (rows packed per tile, `chunk`) and the compute bandwidth of the matmuls. Each change
# rebuilds, re-simulates and redraws the summary, the metrics, the graph and the animation.

# %%
explorer = explore(simplified_moe, chunk=[2, 4, 8], compute_bw=[256, 1024, 4096])
explorer

# %%
outcome = explorer.panel.outcome
say(f"The explorer's current setting {outcome.values} takes **{outcome.result.cycles:,}** cycles "
    f"and moves **{outcome.result.offchip_bytes:,} B**. Try a smaller `chunk`: the weights are "
    "re-streamed more often.")

# %% [markdown]
# ## Summary
#
# * `sl.simulate` returns cycles, traffic, FLOPs, utilisation, real outputs and `per_node` stats
#   (busy / stall_in / stall_out / idle).
# * Per element, a compute operator costs `max(⌈on-chip bytes read / BW⌉, ⌈FLOPs / C⌉)` cycles.
# * Full FIFOs stall producers (back-pressure); when waits form a cycle the simulator raises
#   `DeadlockError` naming the blocked nodes — deepen the FIFO the message points at.
# * `animate(sl.simulate(..., trace=True))` replays unit states and FIFO levels; `explore` turns a
#   builder into a what-if panel.
#
# **Next:** [06 · MoE and dynamic tiling](06_moe_dynamic_tiling.ipynb).
