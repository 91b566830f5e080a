"""Tutorial 02 — shapes: static, dynamic and ragged dimensions (source of 02_shapes.ipynb)."""

# %% [markdown]
# # 02 · Shapes: static, dynamic and ragged dimensions
#
# Every stream in a STeP program has a **shape**, and every operator computes its output shape
# from its inputs' shapes *when you call it*. That is what lets step_lab reject a wrong program
# before it runs and express its costs as formulas (notebook 04).
#
# You will learn
#
# 1. how operators check shapes at construction, and how their **rank** arguments count;
# 2. **dynamic** dimensions — symbols such as `X` whose value is only known at run time;
# 3. **ragged** dimensions — sizes that differ from one sub-tensor to the next — and the
#    **absorbing rule** that keeps their formulas honest.

# %%
#%load_ext step_lab
import ipywidgets as widgets

import step_lab as sl
from step_lab import fn, ops
from step_lab.symbolic import evaluate, fmt
from step_lab.tutor import check, say, scalars, show

# %% [markdown]
# ## 1 · Shapes are checked when you build
#
# A shape is a tuple, outermost first: `[D_N, …, D_0]`. Operators refuse ill-typed inputs at once,
# with a message naming the operator, the argument, the bad value and what was expected. Here two
# streams that cannot be zipped element by element:

# %%
prog = sl.Program("checks")
a = prog.input("a", sl.Tile(1, 1, "f32"), (2, 3))
b = prog.input("b", sl.Tile(1, 1, "f32"), (3, 2))
try:
    ops.Zip(a, b)
except sl.ShapeError as error:
    print(error)

# %% [markdown]
# ### Ranks count from the innermost dimension
#
# Operators that work on "some of the dimensions" take **rank** arguments, and rank 0 is always
# the **innermost** dimension (`D_0`, the last entry of the shape). `Flatten(x, min, max)` merges
# the dims of ranks `min…max` into one. For a stream of shape `[2, 3, 4]` (rank 2):

# %%
flat = sl.Program("flatten")
x = flat.input("x", sl.Tile(1, 1, "f32"), (2, 3, 4))
for lo, hi in [(0, 0), (0, 1), (1, 2), (0, 2)]:
    print(f"Flatten(x, {lo}, {hi}) -> {list(ops.Flatten(x, lo, hi).shape)}")

# %% [markdown]
# `Flatten(x, 0, 1)` merged the 3 and the 4 (ranks 1 and 0); `Flatten(x, 1, 2)` merged the 2 and the
# 3. At token level Flatten only rewrites stop tokens: merging ranks 0 and 1 drops the `S1` inside
# each matrix, so the two levels become one.
#
# ## 2 · Dynamic dimensions
#
# Many sizes are only known at run time: how many tokens an expert receives, how long a request's
# KV cache is. STeP writes them as **symbols**. `sl.dim("X")` is a non-negative integer sympy
# symbol, and operators compute with it exactly. `Reshape(x, 0, 4, pad)` cuts the innermost
# dimension into chunks of 4, padding the last chunk; its outer dimension is `⌈X/4⌉`:

# %%
X = sl.dim("X")
dyn = sl.Program("dynamic")
xs = dyn.input("x", sl.Tile(1, 1, "i32"), (X,))
data, padding = ops.Reshape(xs, 0, 4, pad=fn.Zero((1, 1), "i32"))
dyn.output("data", data)
dyn.output("padding", padding)
print(data)
print(padding)
print("outer dim:", data.shape[0], "=", fmt(data.shape[0]), "(a sympy expression)")

# %% [markdown]
# Reshape has two outputs: the data, and a Bool stream marking which elements are padding (`T`).
# A symbolic dimension gets a value when you run the program (`bindings`), and any expression can
# be evaluated with `evaluate`:

# %%
n = 6
run = sl.interpret(dyn, inputs={"x": list(range(1, n + 1))}, bindings={"X": n})
print("data   :", show(run.tokens["data"]))
print("padding:", show(run.tokens["padding"]))
say(f"At X = {n} the outer dimension ⌈X/4⌉ evaluates to **{evaluate(data.shape[0], {'X': n})}**, "
    f"and the run produced **{len(run.values['data'])}** chunks.")

# %% [markdown]
# `Promote` adds a new outermost dimension of size `1 if X > 0 else 0` (shown as `[X>0]`): an empty
# stream stays empty instead of becoming one empty tensor — the trick behind *dynamic tiling*
# (notebook 06).

# %%
promoted = ops.Promote(xs)
print(promoted)

# %% [markdown]
# ## 3 · Ragged dimensions and the absorbing rule
#
# A **ragged** dimension may have a different size in every sub-tensor of one stream: rows of
# different lengths, requests with different KV lengths. It is always a bare symbol, declared
# with `ragged=[...]`. The paper's example has two matrices of two rows each, with rows of varying
# length: shape `[2, 2, D0]`.

# %%
D0 = sl.dim("D0")
rag = sl.Program("ragged")
r = rag.input("x", sl.Tile(1, 1, "i32"), (2, 2, D0), ragged=[D0])
merge_rows = ops.Flatten(r, 0, 1)       # ranks 0 and 1: concatenate each matrix's rows
merge_mats = ops.Flatten(r, 1, 2)       # ranks 1 and 2: one stream of 4 rows
rag.output("merge_rows", merge_rows)
rag.output("merge_mats", merge_mats)
print(r, "ragged:", set(r.ragged))
print(merge_rows, "ragged:", set(merge_rows.ragged))
print(merge_mats, "ragged:", set(merge_mats.ragged))

# %% [markdown]
# `Flatten(x, 1, 2)` multiplies the regular dims 2 × 2 and keeps `D0`. But `Flatten(x, 0, 1)` would
# have to multiply 2 by the ragged `D0` — and `2·D0` would be a lie, because the two rows of a
# matrix need not have the same length. So the result gets a **fresh ragged symbol** named after
# the node. This is the **absorbing rule**: an equation involving a ragged dimension becomes a new
# ragged symbol; equations over static and dynamic-regular dims are kept. Run it on the paper's
# values to see why:

# %%
paper = [[[1, 2], [3]], [[4], [5, 6, 7]]]
run = sl.interpret(rag, inputs={"x": paper})
print("x         :", show(run.stream_tokens[r]))
print("merge_rows:", show(run.tokens["merge_rows"]))
print("merge_mats:", show(run.tokens["merge_mats"]))
lengths = [len(row) for row in scalars(run.values["merge_rows"])]
say(f"The merged rows have lengths **{lengths}**: no single formula `2·D0` describes both, which "
    "is why the dimension gets a fresh symbol.")

# %% [markdown]
# Where do dynamic symbols come from in real programs? Mostly from routing: `Partition` sends each
# row to the consumer its selector names, and output i gets `X_i` rows — a dynamic-regular symbol
# named after the selector stream (notebook 03). When you *know* more than the frontend can prove
# (say, every row comes back from exactly one expert), `stream.assume(shape)` asserts the shape;
# the simulator checks the assumption.
#
# ## 4 · Exercises
#
# **Exercise 02.flatten.** From `x` of shape `[2, 3, 4]` (defined above as `x`) build a stream of
# shape `[6, 4]` and pass it to `check`.

# %%
my_stream = ...                        # e.g. ops.Flatten(x, ?, ?)
check("02.flatten", my_stream)

# %% solution
check("02.flatten", ops.Flatten(x, 1, 2))

# %% [markdown]
# **Exercise 02.padding.** `Reshape(xs, 0, 4, pad)` on a stream `[X]` adds padding to fill the last
# chunk. Write the number of padding elements as an expression of `X` (use `X` and
# `sl.ceil_div(X, 4)`, which is ⌈X/4⌉). The check compares it with the padding stream for many X.

# %%
my_padding = ...
check("02.padding", my_padding)

# %% solution
check("02.padding", 4 * sl.ceil_div(X, 4) - X)

# %% [markdown]
# **Exercise 02.ragged.** A stream has shape `[B, 3, D0]` with `D0` ragged. What is the shape of
# `Flatten(x, 1, 2)`? Give a tuple of dims built from `B = sl.dim("B")` and `D0`.

# %%
B = sl.dim("B")
my_shape = ...
check("02.ragged", my_shape)

# %% solution
check("02.ragged", (3 * B, D0))

# %% [markdown]
# ## 5 · What if…?
#
# Move the sliders to change the run-time size X and the chunk size: the symbolic shape stays the
# same formula, its value and the tokens follow.

# %%
def reshape_view(X_value=6, chunk=4):
    prog = sl.Program("what_if")
    stream = prog.input("x", sl.Tile(1, 1, "i32"), (X,))
    data, pad = ops.Reshape(stream, 0, chunk, pad=fn.Zero((1, 1), "i32"))
    prog.output("data", data)
    prog.output("pad", pad)
    run = sl.interpret(prog, inputs={"x": list(range(1, X_value + 1))}, bindings={"X": X_value})
    outer = evaluate(data.shape[0], {"X": X_value})
    print(f"shape {[fmt(d) for d in data.shape]}  ->  [{outer}, {chunk}] at X = {X_value}")
    print("data   :", show(run.tokens["data"]))
    print("padding:", show(run.tokens["pad"]))


reshape_view()

# %%
widgets.interact(reshape_view,
                 X_value=widgets.IntSlider(value=6, min=0, max=14, description="X"),
                 chunk=widgets.IntSlider(value=4, min=1, max=6, description="chunk"))

# %% [markdown]
# ## Summary
#
# * Shapes are checked at construction; rank arguments count from the innermost dim (rank 0).
# * Dynamic dims are sympy symbols (`sl.dim`); shapes become exact formulas such as `⌈X/4⌉`,
#   evaluated once the symbols are bound.
# * Ragged dims vary between sub-tensors; any equation involving one becomes a fresh ragged symbol
#   (the absorbing rule).
#
# **Next:** [03 · The operators](03_operators.ipynb).
