"""Tutorial 09 — writing your own program (source of 09_writing_your_own_program.ipynb)."""

# %% [markdown]
# # 09 · Writing, checking and tuning your own program
#
# Time to put it together. We write a tiled matrix multiply `Y = X @ W` from scratch, following
# the workflow you will use for any STeP program:
#
# 1. **plan** the tiles and streams, and **build** the program step by step, reading each shape;
# 2. **check** the values against numpy with the reference interpreter;
# 3. **analyse** the symbolic metrics;
# 4. **simulate** to find the bottleneck;
# 5. **tune** the knobs, with a sweep and with live sliders (`%%step`).
#
# Then you extend it yourself: the exercise asks for `Y = SiLU(X @ W)` within a traffic budget.

# %%
#%load_ext step_lab
import numpy as np

import step_lab as sl
from step_lab import fn, ops
from step_lab.dse import pareto
from step_lab.tutor import check, say, table

# %% [markdown]
# ## 1 · Plan and build
#
# `X` is `[M, 128]` with `M` symbolic (the batch of rows), `W` is `[128, 256]`, both bf16. The plan:
#
# * load `X` in row tiles `[t, 128]` (t rows at a time);
# * for every row tile, stream `W` in column tiles `[128, c]` — a load whose **reference** is the
#   row-tile stream, so it repeats once per row tile;
# * repeat each row tile once per column tile (`Expand`) and multiply the pairs (`Map(Matmul)`):
#   results are `[t, c]` tiles;
# * glue each row tile's `[t, c]` results into a `[t, 256]` tile (`Accum(RetileCol)`) and store.
#
# `t` and `c` are the knobs. Build it once, printing every stream: the types are the best
# documentation of what the program does.

# %%
K, N = 128, 256


def matmul(t=16, c=64, compute_bw=1024, verbose=False):
    M = sl.dim("M")
    prog = sl.Program("matmul")
    X = prog.tensor("X", (M, K), "bf16")
    W = prog.tensor("W", (K, N), "bf16")
    x = ops.LinearOffChipLoad(X, tile=(t, K))                             # row tiles
    w = ops.LinearOffChipLoad(W, tile=(K, c), ref=x, stride=(1,),
                              tiled_out_shape=(N // c,))                  # W per row tile
    xe = ops.Expand(x, sizes=(N // c,))                                   # row tile per column
    y = ops.Map([xe, ops.Flatten(w, 1, 2)], fn.Matmul(), compute_bw=compute_bw)
    rows = ops.Accum(y, fn.RetileCol(), fn.Empty((t, 0)), 1)              # [t, N] tiles
    ops.LinearOffChipStore(rows, prog.tensor("Y", (M, N), "bf16", role="output"))
    if verbose:
        for name, s in [("x", x), ("w", w), ("xe", xe), ("y", y), ("rows", rows)]:
            print(f"{name:5}", s)
    return prog


prog = matmul(verbose=True)

# %% [markdown]
# Read the shapes: `x` is `[1, M/16, 1]` row tiles (one read of X, `M/16` tiles, a trailing unit
# dim); `w` has one more dim — the column tiles — repeated for every row tile; `Expand` replaces
# `x`'s trailing unit dim by the number of column tiles so that `xe` and the flattened `w` have
# equal shapes and can be zipped; `Accum` over rank 1 glues each row tile's column results.
#
# `lint()` warns about things that type-check but are probably mistakes (unused streams, unbound
# inputs):

# %%
for warning in prog.lint():
    print("lint:", warning)
prog

# %% [markdown]
# ## 2 · Check the values
#
# Always compare with a plain numpy computation before trusting any number. Any M that is a
# multiple of the row tile works:

# %%
M_value = 64
rng = np.random.default_rng(0)
X_val, W_val = rng.standard_normal((M_value, K)), rng.standard_normal((K, N)) / np.sqrt(K)
run = sl.interpret(prog, inputs={"X": X_val, "W": W_val}, bindings={"M": M_value})
error = np.abs(run.arrays["Y"] - X_val @ W_val).max()
say(f"Largest difference from numpy: **{error:.1e}** (values are computed in float32).")

# %% [markdown]
# ## 3 · Analyse
#
# The metrics as formulas of `M`:

# %%
m = sl.metrics(prog)
m

# %%
values = m.evaluate({"M": M_value})
minimum = 2 * (M_value * K + K * N + M_value * N)       # every tensor moved exactly once
say(f"At M = {M_value}: **{values['offchip_traffic']:,} B** of traffic, "
    f"**{values['offchip_traffic'] / minimum:.2f}×** the minimum (each tensor moved once); "
    f"**{values['onchip_memory']:,} B** on chip; **{values['flops']:,}** FLOPs.")

# %% [markdown]
# ## 4 · Simulate and find the bottleneck

# %%
result = sl.simulate(prog, inputs={"X": X_val, "W": W_val}, bindings={"M": M_value})
print(result.summary())
busiest = max(result.per_node, key=lambda n: result.per_node[n]["busy"])
say(f"The busiest node is **{busiest}** ({result.per_node[busiest]['op']}), busy "
    f"**{result.per_node[busiest]['busy'] / result.cycles:.0%}** of the run.")

# %% [markdown]
# ## 5 · Tune
#
# Sweep both tiles: bigger row tiles reuse each W tile for more rows (less traffic, more staging
# memory); the column tile changes the size of each matmul.

# %%
points = []
for t in [8, 16, 32, 64]:
    for c in [32, 64, 128, 256]:
        p = matmul(t, c)
        r = sl.simulate(p, inputs={"X": X_val, "W": W_val}, bindings={"M": M_value}, values=False)
        points.append({"t": t, "c": c, "cycles": r.cycles, "offchip_traffic": r.offchip_bytes,
                       "onchip_memory": sl.metrics(p).evaluate({"M": M_value})["onchip_memory"]})
best = pareto(points, x="onchip_memory", y="cycles")
say("Pareto-optimal designs (on-chip memory vs cycles):\n\n" + table(best))
fastest = min(points, key=lambda p: p["cycles"])
say(f"The fastest design is t = {fastest['t']}, c = {fastest['c']}: **{fastest['cycles']:,}** "
    f"cycles against **{result.cycles:,}** for our first guess (t = 16, c = 64).")

# %% [markdown]
# ## 6 · What if…? Live tuning with `%%step`
#
# The `%%step` cell magic turns a program-building cell into a live panel. In the cell, `prog` is a
# fresh program, `sl`, `ops`, `fn`, `np` are imported, and `knob(name, default, choices=…)`
# declares a slider. Running the cell shows the simulation summary, the metrics and the graph;
# moving a slider rebuilds and re-simulates. (Tensors you give no value are filled with seeded
# random data.)

# %%
#%load_ext step_lab

# %%
#%%step tuned
t = knob("t", 16, choices=[8, 16, 32, 64])
c = knob("c", 64, choices=[32, 64, 128, 256])
M = sl.dim("M")
X = prog.tensor("X", (M, 128), "bf16")
W = prog.tensor("W", (128, 256), "bf16")
x = ops.LinearOffChipLoad(X, tile=(t, 128))
w = ops.LinearOffChipLoad(W, tile=(128, c), ref=x, stride=(1,), tiled_out_shape=(256 // c,))
y = ops.Map([ops.Expand(x, sizes=(256 // c,)), ops.Flatten(w, 1, 2)], fn.Matmul(),
            compute_bw=1024)
rows = ops.Accum(y, fn.RetileCol(), fn.Empty((t, 0)), 1)
ops.LinearOffChipStore(rows, prog.tensor("Y", (M, 256), "bf16", role="output"))
bindings = {"M": knob("M", 64, choices=[32, 64, 128, 256])}

# %%
say(f"The cell bound `tuned` (the program) and `tuned_result` (its simulation): "
    f"**{tuned_result.cycles:,}** cycles at the sliders' current values.")

# %% [markdown]
# ## 7 · Your turn
#
# **Exercise 09.silu_gemm.** Write a program that stores `Y = SiLU(X @ W)` (same `X[M, 128]` with
# `M = sl.dim("M")`, `W[128, 256]`, bf16, result into a tensor `"Y"`), and tune it so that at
# M = 32 its off-chip traffic is at most **twice** the minimum (each tensor moved once). Start
# from `matmul` above: `fn.SiLU()` is an element-wise function for `Map`. `check` runs your
# program on random data, compares with numpy and evaluates its traffic.

# %%
def my_program():
    prog = sl.Program("silu_gemm")
    # ... build it here
    return prog


check("09.silu_gemm", my_program())

# %% solution
def silu_gemm(t=32, c=64):
    M = sl.dim("M")
    prog = sl.Program("silu_gemm")
    X = prog.tensor("X", (M, K), "bf16")
    W = prog.tensor("W", (K, N), "bf16")
    x = ops.LinearOffChipLoad(X, tile=(t, K))
    w = ops.LinearOffChipLoad(W, tile=(K, c), ref=x, stride=(1,), tiled_out_shape=(N // c,))
    y = ops.Map([ops.Expand(x, sizes=(N // c,)), ops.Flatten(w, 1, 2)], fn.Matmul(),
                compute_bw=1024)
    activated = ops.Map(y, fn.SiLU())                                     # the one new operator
    rows = ops.Accum(activated, fn.RetileCol(), fn.Empty((t, 0)), 1)
    ops.LinearOffChipStore(rows, prog.tensor("Y", (M, N), "bf16", role="output"))
    return prog


check("09.silu_gemm", silu_gemm())

# %% [markdown]
# ## Where next
#
# You can now read and write STeP programs, predict their costs symbolically, simulate them and
# tune them. From here:
#
# * `notebooks/` reproduces the paper's figures and has a what-if explorer over real models;
# * `step_lab.workloads` holds the full MoE, attention and SwiGLU programs — read their source for
#   larger, idiomatic examples;
# * `spec/STEP.md` (in the project's shared specification) is the precise definition of every
#   operator.
