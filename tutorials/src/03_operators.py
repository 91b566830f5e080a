"""Tutorial 03 — the operators by group (source of 03_operators.ipynb)."""

# %% [markdown]
# # 03 · The operators, group by group
#
# STeP has a small set of operators in five families. Each one maps to something an SDA really
# does — a memory unit reading HBM, a switch steering data, a compute unit applying a function:
#
# | group | operators | what they do |
# |---|---|---|
# | **memory** (off-chip) | `LinearOffChipLoad`, `LinearOffChipStore`, `RandomOffChipLoad`, `RandomOffChipStore` | move tiles between HBM and streams — the *only* source of off-chip traffic |
# | **memory** (on-chip) | `Bufferize`, `Streamify` | keep sub-tensors in on-chip scratchpads and read them back, possibly many times |
# | **routing** | `Partition`, `Reassemble`, `EagerMerge` | send data where a selector says, gather it back, merge in arrival order |
# | **higher-order** | `Map`, `Accum`, `Scan`, `FlatMap` | apply a hardware function (`sl.fn`) per element, per group, or element → stream |
# | **shape** | `Flatten`, `Reshape`, `Promote`, `Expand`, `Zip` | rewrite only the stop tokens (Reshape may pad) |
#
# Every example below is small enough to print every token. At the end you will see the paper's
# simplified MoE program, which uses all the groups, drawn as a graph.

# %%
#%load_ext step_lab
import ipywidgets as widgets
import numpy as np

import step_lab as sl
from step_lab import fn, ops
from step_lab.tutor import check, say, show
from step_lab.workloads import simplified_moe

# %% [markdown]
# ## 1 · Memory: off-chip loads and stores
#
# An off-chip **tensor** lives in HBM; `LinearOffChipLoad` views it as a row-major array of tiles
# and streams them. With 1×1 tiles each number is one element. The load's shape is `[1]` (one read)
# followed by the tiled shape:

# %%
mem = sl.Program("memory")
T = mem.tensor("T", (2, 3), "f32")
whole = ops.LinearOffChipLoad(T, tile=(1, 1))                                   # read T once
columns = ops.LinearOffChipLoad(T, tile=(1, 1), stride=(1, 3), tiled_out_shape=(3, 2))
ref = mem.input("ref", sl.Tile(1, 1, "f32"), (2,))
twice = ops.LinearOffChipLoad(T, tile=(1, 1), ref=ref)                        # once per ref element
addresses = mem.input("addresses", sl.Addr, (4,))
gathered = ops.RandomOffChipLoad(addresses, T, (1, 1))                        # data-dependent reads
ops.LinearOffChipStore(ops.Flatten(whole, 0, 2), mem.tensor("copy", (2, 3), "f32", role="output"))
for name, stream in [("whole", whole), ("columns", columns), ("twice", twice),
                     ("gathered", gathered)]:
    mem.output(name, stream)
    print(f"{name:9}", stream)

# %%
run = sl.interpret(mem, inputs={"T": np.arange(1, 7).reshape(2, 3), "ref": [0, 0],
                                "addresses": [5, 0, 2, 2]})
for name in ["whole", "columns", "twice", "gathered"]:
    print(f"{name:9}", show(run.tokens[name]))
print("stored copy:\n", run.arrays["copy"])

# %% [markdown]
# * `stride` and `tiled_out_shape` describe an **affine read** over tile numbers: strides `(1, 3)`
#   over an output of `(3, 2)` read the tensor column by column (a transpose, for free).
# * With a **reference stream** `ref`, the load repeats its whole read once per `ref` element; the
#   output shape is `ref`'s shape followed by the tiled shape. This is how a weight is re-streamed
#   once per input tile.
# * `RandomOffChipLoad` reads the tiles whose numbers arrive on an address stream (`sl.Addr`).
#
# The reference interpreter counts every byte these operators move:

# %%
say(f"This program moved **{run.offchip_bytes}** bytes off-chip; no other operator ever touches "
    "HBM, which is why off-chip traffic can be computed from the memory operators alone "
    "(notebook 04).")

# %% [markdown]
# ## 2 · Memory: on-chip buffers
#
# `Bufferize(x, b)` collects the innermost `b` dims into an on-chip buffer and emits a *reference*
# to it; `Streamify` reads buffers back, here 3 times each (`repeat=(3,)`). Reading an on-chip
# buffer many times instead of reloading it from HBM is the basic trade between on-chip memory and
# off-chip traffic.

# %%
onchip = sl.Program("onchip")
x = onchip.input("x", sl.Tile(1, 1, "i32"), (2, 2, 2))
buffers = ops.Bufferize(x, 2)
again = ops.Streamify(buffers, repeat=(3,))
onchip.output("buffers", buffers)
onchip.output("again", again)
print(buffers)
print(again)
run = sl.interpret(onchip, inputs={"x": [[[1, 2], [3, 4]], [[5, 6], [7, 8]]]})
print("buffers:", run.tokens["buffers"])
print("again  :", show(run.tokens["again"]))

# %% [markdown]
# ## 3 · Routing: Partition, Reassemble, EagerMerge
#
# A **selector** stream (`sl.Selector(n)`) carries, per chunk, the set of outputs it should go to.
# `Partition(x, sel, n)` sends each chunk (here: each row) to the selected outputs; output i gets
# `X_i` rows, a dynamic dimension named after the selector. `Reassemble(outputs, sel)` uses the
# same selectors to put the rows back in their original order.

# %%
def routing_program():
    prog = sl.Program("routing")
    rows = prog.input("rows", sl.Tile(1, 1, "i32"), (4, 2))
    sel = prog.input("sel", sl.Selector(2), (4,))
    to0, to1 = ops.Partition(rows, sel, 2)
    merged, origin = ops.EagerMerge([to0, to1])
    outputs = {"to0": to0, "to1": to1, "back": ops.Reassemble([to0, to1], sel),
               "merged": merged, "origin": origin}
    for name, stream in outputs.items():
        prog.output(name, stream)
    return prog, sel, outputs


route, sel, streams = routing_program()
for name, stream in streams.items():
    print(f"{name:7}", stream)

# %%
run = sl.interpret(route, inputs={"rows": [[10, 11], [20, 21], [30, 31], [40, 41]],
                                  "sel": [{0}, {1}, {1}, {0}]})
for name in ["to0", "to1", "back", "merged", "origin"]:
    print(f"{name:7}", show(run.tokens[name]))

# %% [markdown]
# * `Reassemble` adds a dimension `G` — how many chunks come back per selector element — because
#   a multi-hot selector may send a row to several outputs. Its size is a fresh symbol: with one-hot
#   selectors you know it is 1, and say so with `.assume(...)`.
# * `EagerMerge` takes whole chunks from whichever input has one ready and reports on its second
#   output where each chunk came from. Its order depends on timing: this untimed run serves the
#   inputs in turn; the simulator (notebook 05) serves them in arrival order.

# %%
to0, to1 = streams["to0"], streams["to1"]
restored = ops.Reassemble([to0, to1], sel).assume((4, 1, 2))
print(restored)

# %% [markdown]
# ## 4 · Higher-order: Map, Accum, Scan, FlatMap
#
# These apply a **function** from `sl.fn` — matrix multiply, element-wise maths, re-tiling — to
# every element (Map), to every group (Accum), as a running value (Scan), or turn one element into
# a stream (FlatMap). Functions have types and FLOP counts; here real 2×4 and 4×2 tiles:

# %%
ho = sl.Program("higher_order")
A = ho.tensor("A", (4, 4), "f32")
Bw = ho.tensor("B", (4, 2), "f32")
a_tiles = ops.Flatten(ops.LinearOffChipLoad(A, tile=(2, 4)), 0, 2)              # 2 tiles [2,4]
b_tiles = ops.Flatten(ops.LinearOffChipLoad(Bw, tile=(4, 2), ref=a_tiles), 0, 2)  # B once per tile
products = ops.Map([a_tiles, b_tiles], fn.Matmul())                             # [2,4] @ [4,2]
row_stream = ops.FlatMap(products, fn.RetileStreamify())                        # tiles -> rows
ho.output("products", products)
ho.output("rows", row_stream)
print(products)
print(row_stream)
A_val, B_val = np.arange(16).reshape(4, 4), np.ones((4, 2))
run = sl.interpret(ho, inputs={"A": A_val, "B": B_val})
print(show(run.tokens["products"]), "|", show(run.tokens["rows"]))
result = np.vstack(run.values["products"])
say(f"Stacked, the product tiles equal `A @ B`: **{np.allclose(result, A_val @ B_val)}**; the "
    f"interpreter counted **{run.flops}** FLOPs (a matmul of [M,K]×[K,N] costs 2·M·K·N).")

# %% [markdown]
# `Accum` and `Scan` you met in notebook 01. A `Map` over several streams (a list) zips them: the
# function receives a tuple. Functions check their types too: a Matmul of `[2,4]` by `[2,4]`
# tiles is refused at construction.

# %%
try:
    ops.Map([a_tiles, a_tiles], fn.Matmul())
except sl.ShapeError as error:
    print(error)

# %% [markdown]
# ## 5 · Shape operators: Flatten, Reshape, Promote, Expand, Zip
#
# You met Flatten, Reshape and Promote in notebook 02. `Expand` repeats each element over the
# structure of a reference stream — here the paper's Fig. 5 example, where `R` is ragged — and
# `Zip` pairs two streams of equal shape.

# %%
R = sl.dim("R")
shape_ops = sl.Program("expand")
y = shape_ops.input("y", sl.Tile(1, 1, "i32"), (2, 1, 1))
structure = shape_ops.input("structure", sl.Tile(1, 1, "i32"), (2, R, 2), ragged=[R])
expanded = ops.Expand(y, structure, 2)
shape_ops.output("expanded", expanded)
run = sl.interpret(shape_ops, inputs={"y": [[[1]], [[2]]],
                                      "structure": [[[0, 0], [0, 0]], [[0, 0]]]})
print(expanded)
print("structure:", show(run.stream_tokens[structure]))
print("expanded :", show(run.tokens["expanded"]))

# %% [markdown]
# ## 6 · A whole program, drawn
#
# The paper's **simplified MoE** (its Figs. 6–7) routes 10 tokens to 2 experts, packs each
# expert's rows into tiles, multiplies them by the expert's weights and reassembles the rows. It
# uses every group: loads and a store, Partition/Reassemble, Accum/Map/FlatMap, and
# Flatten/Reshape/Expand/Zip. A program displays itself as a graph (colours = groups, edges =
# streams with their types):

# %%
moe, moe_inputs, moe_bindings = simplified_moe(tokens=10, experts=2)
moe

# %%
run = sl.interpret(moe, inputs=moe_inputs, bindings=moe_bindings)
X_in, routing = moe_inputs["X"], moe_inputs["sel"]
expected = np.stack([X_in[t] @ moe_inputs[f"W{e}"] for t, e in enumerate(routing)])
groups = {}
for node in moe.nodes:
    groups.setdefault(type(node).group, set()).add(type(node).__name__)
say(f"The program has **{len(moe.nodes)}** nodes in the groups "
    + ", ".join(f"*{g}* ({', '.join(sorted(ops_))})" for g, ops_ in sorted(groups.items()))
    + f". Its output matches numpy (`X[t] @ W[expert(t)]`): "
    f"**{np.allclose(run.arrays['Y'], expected, rtol=2e-2, atol=2e-2)}**.")

# %% [markdown]
# ## 7 · Exercises
#
# **Exercise 03.partition.** Rows `[[1, 2], [3, 4], [5, 6], [7, 8]]` go through
# `Partition(rows, sel, 2)` with selectors `{1}, {0}, {0, 1}, {}`. Write the tokens of
# **output 1** (e.g. `"1 2 S1 Done"`).

# %%
my_tokens = ...
check("03.partition", my_tokens)

# %% solution
check("03.partition", "1 2 S1 5 6 S1 Done")

# %% [markdown]
# **Exercise 03.sumsq.** Build a program with input stream `x` of shape `[3, 4]` (1×1 `f32` tiles)
# and an output `y` holding each row's **sum of squares** (shape `[3]`). Hint: square with a `Map`
# of `fn.Mul()` over `[x, x]`, then reduce. Pass the program to `check`, which runs it on random
# rows and compares with numpy.

# %%
mine = sl.Program("sum_of_squares")
x_in = mine.input("x", sl.Tile(1, 1, "f32"), (3, 4))
# ... your operators here, then mine.output("y", ...)
check("03.sumsq", mine)

# %% solution
solution = sl.Program("sum_of_squares_solution")
x_in = solution.input("x", sl.Tile(1, 1, "f32"), (3, 4))
squares = ops.Map([x_in, x_in], fn.Mul())
solution.output("y", ops.Accum(squares, fn.Add(), fn.Zero((1, 1), "f32"), 1))
check("03.sumsq", solution)

# %% [markdown]
# ## 8 · What if…?
#
# Choose where each of the four rows goes. Watch what each output receives, how `Reassemble`
# restores the order (a multicast row comes back twice, in one group), and how `EagerMerge`
# interleaves whole rows.

# %%
CHOICES = {"{0}": {0}, "{1}": {1}, "{0,1}": {0, 1}, "{}": set()}


def route_rows(row0="{0}", row1="{1}", row2="{0,1}", row3="{}"):
    selectors = [CHOICES[c] for c in (row0, row1, row2, row3)]
    prog, _, _ = routing_program()
    run = sl.interpret(prog, inputs={"rows": [[10, 11], [20, 21], [30, 31], [40, 41]],
                                      "sel": selectors})
    for name in ["to0", "to1", "back", "merged", "origin"]:
        print(f"{name:7}", show(run.tokens[name]))


route_rows()

# %%
pick = {f"row{i}": widgets.Dropdown(options=list(CHOICES), value=v, description=f"row {i}")
        for i, v in enumerate(["{0}", "{1}", "{0,1}", "{}"])}
widgets.interact(route_rows, **pick)

# %% [markdown]
# ## Summary
#
# * Only the off-chip memory operators touch HBM; Bufferize/Streamify trade on-chip memory for
#   re-reads.
# * Routing operators steer whole chunks by selector streams; their output sizes are dynamic.
# * Higher-order operators apply typed hardware functions with known FLOP counts.
# * Shape operators only rewrite stop tokens; a program renders itself as a graph.
#
# **Next:** [04 · Memory and metrics](04_memory_and_metrics.ipynb).
