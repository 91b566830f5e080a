"""Tutorial 01 — streams and stop tokens (source of 01_streams_and_stop_tokens.ipynb)."""

# %% [markdown]
# # 01 · Streams and stop tokens
#
# A **Streaming Tensor Program** (STeP) describes a computation the way a *spatial dataflow
# accelerator* runs it: many small units work at the same time and pass data to each other through
# hardware FIFOs. In STeP those FIFOs are **streams**, and everything — tensors, routing decisions,
# references to on-chip buffers — travels on streams as a flat sequence of tokens.
#
# In this first notebook you will learn
#
# 1. how a tensor becomes a flat token sequence (**data elements**, **stop tokens** `S1`, `S2`, …
#    and a final **`Done`**), and how to read one back;
# 2. the one subtle rule of the encoding: *only the highest stop token is written*;
# 3. how to run a tiny program with the reference interpreter `sl.interpret` and look at every
#    stream it produced.
#
# Everything here is exact and untimed; timing comes in notebook 05.

# %%
#%load_ext step_lab
import ast

import ipywidgets as widgets

import step_lab as sl
from step_lab import fn, ops
from step_lab.ir.tokens import Stop
from step_lab.tutor import check, parse_tokens, say, scalars, show

# %% [markdown]
# ## 1 · A stream is data, stop tokens and Done
#
# A stream of **rank N** carries N-dimensional tensors, one after the other. Its **shape** is
# written outermost first, `[D_N, …, D_1, D_0]`: `D_N` counts the tensors, `D_0` is the
# innermost dimension.
#
# To make the tensors' structure visible in a flat sequence, STeP inserts **stop tokens**: `S1` ends
# a vector (a rank-1 sub-tensor), `S2` ends a matrix, `S_k` ends a k-dimensional sub-tensor. After
# the last tensor comes `Done`. `sl.encode(tensors, rank)` produces the tokens and `show` prints
# them the way the STeP paper writes them:

# %%
two_vectors = [[1, 2, 3], [4, 5, 6]]
tokens = sl.encode(two_vectors, 1)
print(show(tokens))
print(tokens)                      # the real objects: ints, sl.S(1) stop tokens and sl.DONE

# %% [markdown]
# The same numbers as **one 2×3 matrix** — a rank-2 stream holding one tensor — need an `S2` to
# close the matrix:

# %%
print(show(sl.encode([[[1, 2, 3], [4, 5, 6]]], 2)))

# %% [markdown]
# Here are the examples of the STeP specification (§2.2), computed rather than copied. The fourth
# is the paper's own example: two matrices whose rows have different lengths (a *ragged*
# dimension, the subject of notebook 02).

# %%
examples = [
    ("two vectors of 3 elements", [[1, 2, 3], [4, 5, 6]], 1),
    ("one 2×3 matrix", [[[1, 2, 3], [4, 5, 6]]], 2),
    ("three scalars", [7, 8, 9], 0),
    ("two matrices, ragged rows", [[[1, 2], [3]], [[4], [5, 6, 7]]], 2),
    ("an empty stream", [], 2),
]
for label, tensors, rank in examples:
    print(f"{label:28} rank {rank}:  {show(sl.encode(tensors, rank))}")

# %% [markdown]
# Three things to notice:
#
# * a **rank-0** stream (plain scalars) has no stop tokens at all;
# * every top-level tensor of a rank-N stream ends with exactly `S_N`, and no higher token ever
#   appears (rule **E3**);
# * an empty stream is just `Done` (rule **E4**).

# %% [markdown]
# ## 2 · Only the highest stop token is written (rule E2)
#
# Look again at the 2×3 matrix: its second row and the matrix end at the same place. A naive
# encoding would write `… 6 S1 S2`; STeP writes only `… 6 S2`, because `S2` ("close a matrix")
# implies closing the row inside it. In general `S_k` closes the k innermost open levels at once.
# This is rule **E2**, and it is what keeps streams short: one token per boundary, however many
# dimensions end there.

# %%
matrix = [[[1, 2, 3], [4, 5, 6]]]
encoded = sl.encode(matrix, 2)
stops = [tok for tok in encoded if isinstance(tok, Stop)]
say(f"The matrix holds **{sum(len(row) for row in matrix[0])}** numbers and its encoding uses "
    f"**{len(stops)}** stop tokens (`{' '.join(map(repr, stops))}`), one per boundary.")

# %% [markdown]
# ## 3 · Decoding, and empty sub-tensors
#
# `sl.decode(tokens, rank)` reads tokens back into nested lists. Each `S_k` closes the k innermost
# open levels, and each closed level is appended to its parent — even when it is empty. So a stop
# token directly after another stop token denotes an **empty** sub-tensor:

# %%
for text in ["1 S1 S2 Done", "1 2 S1 3 S2 4 S1 5 6 7 S2 Done", "S1 Done"]:
    rank = 2 if "S2" in text else 1
    print(f"{text:32} rank {rank} -> {sl.decode(parse_tokens(text), rank)}")

# %% [markdown]
# `1 S1 S2` is a matrix whose rows are `[1]` and `[]`. Operators must treat such empty sub-tensors
# as present (a sum over an empty row is the initial value, for instance).
#
# ## 4 · Running a tiny program
#
# Streams connect **operators**. A `sl.Program` is the graph you build by calling operators on
# streams. The elements of streams are **tiles** (small 2-D matrices, the unit the hardware
# computes on); in these first notebooks we use 1×1 tiles, `sl.Tile(1, 1, "f32")`, so every
# element is just a number.
#
# `prog.input(name, dtype, shape)` declares a stream whose tokens you supply when running, and
# `prog.output(name, stream)` names a result. The operator `Accum` folds the elements of each
# sub-tensor into one value — `rank=1` reduces each innermost vector:

# %%
prog = sl.Program("row_sums")
x = prog.input("x", sl.Tile(1, 1, "f32"), (1, 2, 3))               # one 2×3 matrix
sums = ops.Accum(x, fn.Add(), fn.Zero((1, 1), "f32"), 1)           # rank 1: sum each row
totals = ops.Accum(x, fn.Add(), fn.Zero((1, 1), "f32"), 2)         # rank 2: sum the matrix
prog.output("sums", sums)
prog.output("totals", totals)
print(x)
print(sums)
print(totals)

# %% [markdown]
# Printing a stream shows its element type and shape: reducing rank 1 removes the innermost
# dimension. `sl.interpret` runs the program on real values and records **every** stream's tokens
# in `run.stream_tokens`:

# %%
run = sl.interpret(prog, inputs={"x": [[[1, 2, 3], [4, 5, 6]]]})
print("x      :", show(run.stream_tokens[x]))
print("sums   :", show(run.tokens["sums"]))
print("totals :", show(run.tokens["totals"]))
print("decoded:", scalars(run.values["sums"]))

# %% [markdown]
# Watch the stop tokens travel: in `x` the first row ends with `S1` and the matrix with `S2`. The
# rank-1 Accum emits a sum at each `S1` and turns the input's `S2` into an `S1` for its rank-1
# output (a token of level k ≥ 1 becomes `S_{k−1}`). The rank-2 Accum absorbs the `S1`s and
# emits one total when the matrix ends.
#
# `Scan` is Accum's sibling: it emits the running value after every element and keeps the tokens:

# %%
prog2 = sl.Program("running_sums")
x2 = prog2.input("x", sl.Tile(1, 1, "f32"), (2, 3))
prog2.output("running", ops.Scan(x2, fn.Add(), fn.Zero((1, 1), "f32"), 1))
print(show(sl.interpret(prog2, inputs={"x": [[1, 2, 3], [4, 5, 6]]}).tokens["running"]))

# %% [markdown]
# ## 5 · Exercises
#
# **Exercise 01.encode.** Write the tokens of the rank-2 stream holding the three matrices below.
# Use a string such as `"1 2 S1 Done"` (or a list with `sl.S(1)` and `sl.DONE`). Replace the `...`
# and run the cell; `check` tells you precisely what is wrong, if anything.

# %%
matrices = [[[1, 2], [3]], [[4], [5, 6]], [[7]]]
my_tokens = ...                   # e.g. "1 2 S1 ... Done"
check("01.encode", my_tokens)

# %% solution
# Solution (open after trying): rows end with S1, matrices with S2, and E2 merges the two.
check("01.encode", "1 2 S1 3 S2 4 S1 5 6 S2 7 S2 Done")

# %% [markdown]
# **Exercise 01.decode.** Decode the rank-2 stream `1 2 S1 S2 3 S1 4 5 S2 Done` by hand: write it as
# a list of matrices, each a list of rows.

# %%
my_matrices = ...                 # e.g. [[[1, 2]], ...]
check("01.decode", my_matrices)

# %% solution
check("01.decode", [[[1, 2], []], [[3], [4, 5]]])

# %% [markdown]
# ## 6 · What if…?
#
# Type any nested list and choose a rank: the widgets encode it, decode the tokens again and show
# whether the round trip gives back what you typed. Try an empty row (`[[1], []]`), the paper's
# ragged example, or a rank that does not match the nesting. (The first call below shows one
# setting without widgets.)

# %%
def round_trip(tensors="[[[1, 2], [3]], [[4], [5, 6, 7]]]", rank=2):
    try:
        value = ast.literal_eval(tensors)
        tokens = sl.encode(value, rank)
    except (ValueError, SyntaxError, TypeError) as exc:
        print(f"cannot encode {tensors!r} at rank {rank}: {exc} "
              "(each tensor must be nested exactly `rank` lists deep)")
        return
    back = sl.decode(tokens, rank)
    print("tokens :", show(tokens))
    print("decoded:", back, "(same as typed)" if back == value else "(differs from what you typed)")


round_trip()

# %%
widgets.interact(round_trip,
                 tensors=widgets.Text(value="[[[1, 2], [3]], [[4], [5, 6, 7]]]",
                                      continuous_update=False, description="tensors"),
                 rank=widgets.IntSlider(value=2, min=0, max=4, description="rank"))

# %% [markdown]
# ## Summary
#
# * A stream is a flat sequence: data elements, stop tokens `S_k` closing k-dimensional
#   sub-tensors, and one `Done`.
# * Only the highest stop token is written where several dimensions end together (E2); a rank-N
#   stream never carries a token above `S_N` (E3).
# * A stop token right after a stop token means an empty sub-tensor.
# * `sl.interpret(prog, inputs=…)` runs a program exactly; `run.stream_tokens[s]` shows any
#   stream.
#
# **Next:** [02 · Shapes](02_shapes.ipynb) — static, dynamic and ragged dimensions.
