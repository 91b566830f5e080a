"""Reference programs and data of the tutorials' exercises (``step_lab.tutor``).

The notebooks build the same programs in their own cells so that learners read the code; the
checker builds them here, so an exercise's expected answer always comes from the package itself.
"""
from __future__ import annotations

import dataclasses
from functools import cache

import numpy as np

from .. import fn, ops
from ..errors import DeadlockError
from ..ir import Program, Selector, Tile
from ..symbolic import dim

__all__ = ["MIXTRAL_TRACE", "QWEN_TRACE", "KV_TRACE", "ENCODE_TENSORS", "DECODE_TOKENS",
           "PARTITION_ROWS", "PARTITION_SELECTORS", "mini_model", "gemv_program",
           "normalise_program", "smallest_fifo_depth", "padding_count", "partition_outputs",
           "moe_traffic", "region_tiles", "time_multiplex_cycles", "silu", "scalar"]

# Vendored real traces (step_lab/data/traces, see PROVENANCE.md there).
MIXTRAL_TRACE = "expert_routing/mixtral_b64/008_010.npz"
QWEN_TRACE = "expert_routing/qwen_b64/032_012.npz"
KV_TRACE = "kv_lengths/b16/conv_stdev1951_3727_3742.npy"

ENCODE_TENSORS = [[[1, 2], [3]], [[4], [5, 6]], [[7]]]      # 01.encode: rank 2
DECODE_TOKENS = "1 2 S1 S2 3 S1 4 5 S2 Done"                  # 01.decode: rank 2
PARTITION_ROWS = [[1, 2], [3, 4], [5, 6], [7, 8]]             # 03.partition: [4, 2]
PARTITION_SELECTORS = [{1}, {0}, {0, 1}, set()]               # one selector per row


def scalar(value):
    """A 1×1 tile (numpy array) as a Python number; anything else unchanged."""
    if isinstance(value, np.ndarray) and value.size == 1:
        item = value.item()
        return int(item) if isinstance(item, float) and item.is_integer() else item
    return value


def silu(x: np.ndarray) -> np.ndarray:
    return x / (1.0 + np.exp(-x))


def mini_model(name: str = "mixtral-8x7b", *, hidden: int = 256, intermediate: int = 512):
    """``name``'s expert count and top-k with small hidden/intermediate sizes (fast to simulate).

    Routing traces only fix which experts each token visits, so they drive the small model
    exactly as the real one; only the matrix sizes shrink.
    """
    from ..workloads.models import model
    base = model(name)
    return dataclasses.replace(base, name=f"mini-{base.name}", hidden=hidden,
                               moe_intermediate=intermediate)


def gemv_program(row_tile: int = 1) -> Program:
    """The README's first program: y[B, 512] = x[B, 256] @ W[256, 512], B symbolic."""
    B = dim("B")
    prog = Program("gemv")
    x = prog.tensor("x", (B, 256), "bf16")
    W = prog.tensor("W", (256, 512), "bf16")
    rows = ops.Flatten(ops.LinearOffChipLoad(x, tile=(row_tile, 256)), 0, 2)
    ws = ops.Flatten(ops.LinearOffChipLoad(W, tile=(256, 512), ref=rows), 0, 2)
    y = ops.Map([rows, ws], fn.Matmul(), compute_bw=1024)
    ops.LinearOffChipStore(y, "y")
    return prog


def normalise_program(rows: int = 3, cols: int = 8, depth: int | None = None) -> Program:
    """y = x / rowsum(x): ``x`` feeds the Accum, the Expand reference and the Zip (tutorial 05)."""
    prog = Program("normalise")
    x = prog.input("x", Tile(1, 1, "f32"), (rows, cols))
    total = ops.Accum(x, fn.Add(), fn.Zero((1, 1), "f32"), 1)          # [rows]
    column = ops.Reshape(total, 0, 1)[0]                                # [rows, 1]
    spread = ops.Expand(column, x, 1)                                   # [rows, cols]
    prog.output("y", ops.Map(ops.Zip(x, spread), fn.Div()))
    if depth is not None:
        prog.set_fifo_depth(x, depth)
    return prog


def _runs(rows: int, cols: int, depth: int) -> bool:
    from ..sim import simulate
    values = (np.arange(rows * cols, dtype=float).reshape(rows, cols) + 1).tolist()
    try:
        simulate(normalise_program(rows, cols, depth), inputs={"x": values})
    except DeadlockError:
        return False
    return True


@cache
def smallest_fifo_depth(rows: int = 3, cols: int = 8) -> int:
    """The smallest depth of stream ``x`` with which :func:`normalise_program` finishes."""
    depth = 1
    while not _runs(rows, cols, depth):
        depth += 1
    return depth


@cache
def padding_count(n: int, chunk: int = 4) -> int:
    """Padding elements ``Reshape(x, 0, chunk, pad)`` adds to a stream ``[X]`` at X = n."""
    from ..interpret import interpret
    X = dim("X")
    prog = Program("padding")
    x = prog.input("x", Tile(1, 1, "i32"), (X,))
    prog.output("pad", ops.Reshape(x, 0, chunk, pad=fn.Zero((1, 1), "i32"))[1])
    run = interpret(prog, inputs={"x": list(range(n))}, bindings={"X": n})
    return sum(1 for tok in run.values["pad"] for flag in tok if flag is True)


def partition_outputs() -> list:
    """Token lists of both outputs of tutorial 03's Partition."""
    from ..interpret import interpret
    prog = Program("partition")
    x = prog.input("x", Tile(1, 1, "i32"), (4, 2))
    sel = prog.input("sel", Selector(2), (4,))
    for i, out in enumerate(ops.Partition(x, sel, 2)):
        prog.output(f"out{i}", out)
    run = interpret(prog, inputs={"x": PARTITION_ROWS, "sel": PARTITION_SELECTORS})
    return [run.tokens[f"out{i}"] for i in range(2)]


@cache
def moe_traffic(tiling: str, tile: int | None = None) -> int:
    """Off-chip bytes of the mini Mixtral layer on the real batch-64 routing trace."""
    from ..workloads import moe_layer, trace_path
    work = moe_layer(mini_model(), batch=64, routing=trace_path(MIXTRAL_TRACE), tiling=tiling,
                     tile=tile, tile_f=64)
    return work.metrics().evaluate(work.bindings)["offchip_traffic"]


def region_tiles(strategy: str = "interleaved", parallel: int = 4) -> list:
    """KV tiles each region reads under a static strategy, for the vendored KV trace."""
    from ..workloads import load_kv_lengths, trace_path
    from ..workloads.attention import kv_tiles, region_of
    lengths = load_kv_lengths(trace_path(KV_TRACE))
    owner = region_of(strategy, len(lengths), parallel)
    return [int(v) for v in np.bincount(owner, weights=kv_tiles(lengths), minlength=parallel)]


@cache
def time_multiplex_cycles(regions: int | None) -> int:
    """Cycles of the mini Qwen3 layer on the real routing trace; None = one region per expert."""
    from ..workloads import moe_layer, trace_path
    extra = {} if regions is None else {"time_multiplex": True, "regions": regions}
    work = moe_layer(mini_model("qwen3-30b-a3b", hidden=128, intermediate=128), batch=64,
                     routing=trace_path(QWEN_TRACE), tiling="static", tile=16, tile_f=64,
                     **extra)
    return work.simulate(values=False).cycles
