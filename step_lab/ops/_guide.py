"""The user-facing opening of every operator's docstring: what it does for you, then an example.

``help(ops.Map)``, the JupyterLab hover text and the completion docs (``step_lab.opdocs``) open
with one plain sentence and a two-line example, followed by the precise semantics (the class's
own docstring, written against STEP.md). :func:`apply` prepends them when ``step_lab.ops`` is
imported, so the precise text stays beside the code it describes.

The examples run as written after :data:`EXAMPLE_SETUP` (``tests/test_opdocs_guide.py`` runs
each one):
"""
from __future__ import annotations

import inspect

__all__ = ["OPERATORS", "FUNCTIONS", "EXAMPLE_SETUP", "apply", "opening"]

EXAMPLE_SETUP = '''\
import step_lab as sl
from step_lab import fn, ops
prog = sl.Program("example")
X = prog.tensor("X", (64, 128), "bf16")                 # an off-chip tensor
x = prog.input("x", sl.Tile(1, 1, "f32"), (4, 8))       # a [4, 8] stream of 1x1 tiles
sel = prog.input("sel", sl.Selector(2), (4,))           # one routing choice per row of x
addr = prog.input("addr", sl.Addr, (6,))                # six tile addresses
import numpy as np
a, b = np.ones((2, 3), np.float32), np.full((2, 3), 2, np.float32)   # two tiles
'''

# name -> (what it does for the user, two-line example)
OPERATORS: dict[str, tuple[str, str]] = {
    "LinearOffChipLoad": (
        "Reads an off-chip tensor tile by tile, as a stream (the usual start of a program).",
        "tiles = ops.LinearOffChipLoad(X, tile=(16, 128))      # 4 tiles of 16x128\n"
        "rows = ops.Flatten(tiles, 0, 2)                        # Stream<Tile[16,128]>[4]"),
    "LinearOffChipStore": (
        "Writes a stream of tiles back to an off-chip tensor, in order (the usual end).",
        "tiles = ops.LinearOffChipLoad(X, tile=(16, 128))\n"
        "ops.LinearOffChipStore(tiles, \"Y\")                     # Y[64, 128] in HBM"),
    "RandomOffChipLoad": (
        "Reads the off-chip tiles at data-dependent addresses (gathers, e.g. expert weights).",
        "tiles = ops.RandomOffChipLoad(addr, X, tile=(16, 128)) # one tile per address\n"
        "print(tiles.shape)                                     # (6,)"),
    "RandomOffChipStore": (
        "Writes tiles to data-dependent off-chip addresses (scatters); emits one ack per write.",
        "tiles = ops.RandomOffChipLoad(addr, X, tile=(16, 128))\n"
        "acks = ops.RandomOffChipStore(addr, tiles, prog.tensor(\"Y\", (64, 128), \"bf16\", "
        "role=\"output\"))"),
    "Bufferize": (
        "Keeps the inner dims of a stream in on-chip buffers, to read them again later.",
        "rows = ops.Bufferize(x, 1)                             # 4 buffers of 8 tiles\n"
        "again = ops.Streamify(rows, repeat=(3,))               # each row streamed 3 times"),
    "Streamify": (
        "Streams on-chip buffers back out as tiles, repeated as often as you need them.",
        "rows = ops.Bufferize(x, 1)\n"
        "again = ops.Streamify(rows, repeat=(2,))               # [4, 2, 8]"),
    "Partition": (
        "Routes chunks of a stream to several consumers, chosen per chunk by a selector "
        "(e.g. tokens to experts).",
        "to0, to1 = ops.Partition(x, sel, 2)                    # each row of x to consumer 0 or"
        " 1\n"
        "print(to0.shape)                                       # (sel_x0, 8)"),
    "Reassemble": (
        "Collects chunks from several producers back into one stream, in selector order "
        "(the inverse of Partition).",
        "to0, to1 = ops.Partition(x, sel, 2)\n"
        "back = ops.Reassemble([to0, to1], sel)                 # the rows in their order again"),
    "EagerMerge": (
        "Merges several streams chunk by chunk in arrival order, and says where each came from.",
        "to0, to1 = ops.Partition(x, sel, 2)\n"
        "merged, origin = ops.EagerMerge([to0, to1])            # first come, first served"),
    "Map": (
        "Applies a function to every element of one or more streams (compute: matmul, add, …).",
        "squares = ops.Map([x, x], fn.Mul())                    # element-wise x·x\n"
        "e = ops.Map(x, fn.Exp(), compute_bw=64)                # 64 FLOPs per cycle"),
    "Accum": (
        "Reduces the inner dims of a stream to one value each (sums, running products, "
        "packing tiles).",
        "sums = ops.Accum(x, fn.Add(), fn.Zero((1, 1), \"f32\"), 1)   # one sum per row\n"
        "print(sums.shape)                                      # (4,)"),
    "Scan": (
        "Like Accum, but emits every partial result (running sums, prefix maxima).",
        "running = ops.Scan(x, fn.Add(), fn.Zero((1, 1), \"f32\"), 1)\n"
        "print(running.shape)                                   # (4, 8)"),
    "FlatMap": (
        "Turns every element into a whole stream (e.g. a tile into its rows).",
        "tiles = ops.Flatten(ops.LinearOffChipLoad(X, tile=(16, 128)), 0, 2)\n"
        "rows = ops.FlatMap(tiles, fn.RetileStreamify())        # 4 x 16 rows of [1, 128]"),
    "Flatten": (
        "Merges adjacent dims of a stream into one (drops the stop tokens between them).",
        "flat = ops.Flatten(x, 0, 1)                            # [4, 8] -> [32]\n"
        "print(flat.shape)                                      # (32,)"),
    "Reshape": (
        "Splits one dim of a stream into chunks of a fixed size (padding the last one).",
        "chunks, padding = ops.Reshape(ops.Flatten(x, 0, 1), 0, 4)   # [32] -> [8, 4]\n"
        "print(chunks.shape)                                    # (8, 4)"),
    "Promote": (
        "Adds an outer dim of size 1 (so a stream fits an operator that expects one more).",
        "y = ops.Promote(x)                                     # [4, 8] -> [1, 4, 8]\n"
        "print(y.shape)                                         # (1, 4, 8)"),
    "Expand": (
        "Repeats every element of a stream, e.g. to pair one value with each of many.",
        "column = ops.Reshape(ops.Accum(x, fn.Add(), fn.Zero((1, 1), \"f32\"), 1), 0, 1)[0]\n"
        "spread = ops.Expand(column, x, 1)                      # each row sum 8 times, like x"),
    "Zip": (
        "Pairs equally shaped streams element by element (a Map over several inputs does this "
        "for you).",
        "pairs = ops.Zip(x, x)                                  # Tuple elements\n"
        "squares = ops.Map(pairs, fn.Mul())"),
    "Assume": (
        "Tells the type checker that a stream has a shape you know to be equal "
        "(after routing, for example).",
        "to0, to1 = ops.Partition(x, sel, 2)\n"
        "back = ops.Assume(ops.Reassemble([to0, to1], sel), (4, 1, 8))"),
}


# name -> (what it does for the user, two-line example): the per-element functions of step_lab.fn
FUNCTIONS: dict[str, tuple[str, str]] = {
    "Identity": ("Passes every element through unchanged (a Map that only moves data).",
                 "same = ops.Map(x, fn.Identity())\n"
                 "print(same.shape)                                      # (4, 8)"),
    "Matmul": ("Multiplies pairs of tiles (activations × weights): the workhorse of a Map.",
               "y = ops.Map([x, x], fn.Matmul(), compute_bw=1024)      # A @ W per pair\n"
               "print(fn.Matmul()((a, b.T)).shape)                     # (2, 2)"),
    "MatmulAccumulate": ("Multiplies pairs of tiles and adds the product to an accumulator "
                         "(a fused matmul + sum).",
                         "acc = fn.MatmulAccumulate()((a, b.T), np.zeros((2, 2), np.float32))\n"
                         "print(acc.tolist())                                    # [[6.0, 6.0],"
                         " [6.0, 6.0]]"),
    "Add": ("Adds two tiles element-wise (also the update of a running sum).",
            "sums = ops.Accum(x, fn.Add(), fn.Zero((1, 1), \"f32\"), 1)\n"
            "print(fn.Add()((a, b))[0, 0])                          # 3.0"),
    "Sub": ("Subtracts the second tile from the first, element-wise.",
            "d = ops.Map([x, x], fn.Sub())\n"
            "print(fn.Sub()((b, a))[0, 0])                          # 1.0"),
    "Mul": ("Multiplies two tiles element-wise.",
            "squares = ops.Map([x, x], fn.Mul())\n"
            "print(fn.Mul()((a, b))[0, 0])                          # 2.0"),
    "Div": ("Divides the first tile by the second, element-wise (e.g. normalising).",
            "ratio = ops.Map([x, x], fn.Div())\n"
            "print(fn.Div()((a, b))[0, 0])                          # 0.5"),
    "Max": ("Keeps the larger of two tiles' elements (also a running maximum).",
            "peak = ops.Accum(x, fn.Max(), fn.Zero((1, 1), \"f32\"), 1)\n"
            "print(fn.Max()((a, b))[0, 0])                          # 2.0"),
    "Exp": ("Takes e to the power of every element (softmax, SiLU).",
            "e = ops.Map(x, fn.Exp())\n"
            "print(round(float(fn.Exp()(a)[0, 0]), 3))              # 2.718"),
    "SiLU": ("Applies the SiLU activation x·sigmoid(x) to every element (the FFN's gate).",
             "h = ops.Map(x, fn.SiLU())\n"
             "print(round(float(fn.SiLU()(a)[0, 0]), 3))             # 0.731"),
    "GELU": ("Applies the GELU activation (tanh form) to every element (the MLP of GPT-style "
             "models).",
             "h = ops.Map(x, fn.GELU())\n"
             "print(round(float(fn.GELU()(a)[0, 0]), 3))             # 0.841"),
    "Scale": ("Multiplies every element by a constant.",
              "half = ops.Map(x, fn.Scale(0.5))\n"
              "print(fn.Scale(0.5)(b)[0, 0])                          # 1.0"),
    "RowSum": ("Sums each row of a tile into a one-column tile.",
               "sums = ops.Map(x, fn.RowSum())\n"
               "print(fn.RowSum()(a).tolist())                         # [[3.0], [3.0]]"),
    "RetileRow": ("Stacks tiles on top of each other into a taller tile (packs rows).",
                  "rows = ops.Accum(ops.Promote(x), fn.RetileRow(), fn.Empty((0, 1)), 1)\n"
                  "print(fn.RetileRow()(a, b).shape)                      # (4, 3)"),
    "RetileCol": ("Puts tiles side by side into a wider tile (packs columns).",
                  "wide = ops.Accum(x, fn.RetileCol(), fn.Empty((1, 0)), 1)   # one [1, 8] per"
                  " row\n"
                  "print(fn.RetileCol()(a, b).shape)                      # (2, 6)"),
    "RetileStreamify": ("Splits every tile into a stream of its rows.",
                        "tiles = ops.Flatten(ops.LinearOffChipLoad(X, tile=(16, 128)), 0, 2)\n"
                        "rows = ops.FlatMap(tiles, fn.RetileStreamify())        # rows of [1,"
                        " 128]"),
    "Count": ("Counts the elements of each group (as a running count).",
              "n = ops.Accum(x, fn.Count(), fn.Zero((1, 1), \"i32\"), 1)\n"
              "print(n.shape)                                         # (4,)"),
    "Zero": ("A tile of zeros: the starting value of sums and maxima.",
             "sums = ops.Accum(x, fn.Add(), fn.Zero((1, 1), \"f32\"), 1)\n"
             "print(fn.Zero((2, 3))().shape)                         # (2, 3)"),
    "Empty": ("An empty tile (no rows or no columns) that RetileRow / RetileCol grow.",
              "wide = ops.Accum(x, fn.RetileCol(), fn.Empty((1, 0)), 1)\n"
              "print(fn.Empty((0, 3))().shape)                        # (0, 3)"),
    "AffineAddress": ("Turns an index into a tile address (index · scale + offset), for "
                      "data-dependent loads.",
                      "f = fn.AffineAddress(scale=4, offset=1)\n"
                      "print(f(np.array([[2]], np.int32)).tolist())           # [[9]]"),
    "TileAddresses": ("Expands a base address into the addresses of consecutive tiles.",
                      "tiles = ops.FlatMap(addr, fn.TileAddresses(count=3, stride=2))\n"
                      "print(tiles.shape)                                     # (6, 3)"),
    "InsertRow": ("Replaces one row of a tile (e.g. writing a new token into a KV cache tile).",
                  "tile, row = np.zeros((3, 2), np.float32), np.ones((1, 2), np.float32)\n"
                  "print(fn.InsertRow()((tile, row, np.array([[1]]))).tolist())   # [[0.0, 0.0],"
                  " [1.0, 1.0], [0.0, 0.0]]"),
}


def opening(name: str) -> str:
    """The user-facing opening of ``name``'s docstring: sentence, blank line, example."""
    summary, example = OPERATORS[name] if name in OPERATORS else FUNCTIONS[name]
    indented = "\n".join("    " + line for line in example.splitlines())
    return f"{summary}\n\nExample::\n\n{indented}\n\nPrecisely: "


def apply(namespace: dict, table: dict | None = None) -> None:
    """Prepend :func:`opening` to the docstring of every class of ``table`` (default: the
    operators) found in ``namespace`` (idempotent)."""
    for name in (OPERATORS if table is None else table):
        cls = namespace[name]
        doc = inspect.cleandoc(cls.__doc__ or "")
        head = opening(name)
        if not doc.startswith(head):
            cls.__doc__ = head + doc
