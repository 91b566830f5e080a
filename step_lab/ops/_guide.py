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

__all__ = ["OPERATORS", "EXAMPLE_SETUP", "apply", "opening"]

EXAMPLE_SETUP = '''\
import step_lab as sl
from step_lab import fn, ops
prog = sl.Program("example")
X = prog.tensor("X", (64, 128), "bf16")                 # an off-chip tensor
x = prog.input("x", sl.Tile(1, 1, "f32"), (4, 8))       # a [4, 8] stream of 1x1 tiles
sel = prog.input("sel", sl.Selector(2), (4,))           # one routing choice per row of x
addr = prog.input("addr", sl.Addr, (6,))                # six tile addresses
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
        "to0, to1 = ops.Partition(x, sel, 2)                    # rows of x to consumer 0 or 1\n"
        "print(to0.shape)                                       # a ragged number of rows"),
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


def opening(name: str) -> str:
    """The user-facing opening of ``name``'s docstring: sentence, blank line, example."""
    summary, example = OPERATORS[name]
    indented = "\n".join("    " + line for line in example.splitlines())
    return f"{summary}\n\nExample::\n\n{indented}\n\nPrecisely: "


def apply(namespace: dict) -> None:
    """Prepend :func:`opening` to the docstring of every operator class in ``namespace``
    (idempotent)."""
    for name in OPERATORS:
        cls = namespace[name]
        doc = inspect.cleandoc(cls.__doc__ or "")
        head = opening(name)
        if not doc.startswith(head):
            cls.__doc__ = head + doc
