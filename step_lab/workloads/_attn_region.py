"""One attention-decode region (EXPERIMENTS.md §1.7): the per-request pipeline of a GQA decode step.

A region receives, per request, its query tile ``[G, d]`` (a ``[X, 1, 1]`` stream), the new key
and value rows ``[1, d]`` and the metadata ``(index, tile count, offset)`` (``[X]`` streams; X =
requests routed to the region). It streams the request's K and V tiles from its cache slot,
appends the new row to the last tile (a 2-way Partition/Reassemble; the modified tile is also
written back), and computes ``softmax(q·Kᵀ)·V`` without max subtraction:

    tiles  = FlatMap(meta, RequestTiles)            # [X, T] (address, role, valid) per KV tile
    K, V   = RandomOffChipLoad(address)             # [X, T] Tile[32, d]
    K', V' = Reassemble([old tiles, InsertRow(last tile, new row, offset)], role)   # [X, T, 1]
    s      = Map(Zip(Expand(q, K'), K'), Matmul(transpose_weight=True))             # [X, T, 1]
    p      = Map(Zip(s, valid), MaskedExp)          # exp; KV rows past the new token masked
    o      = Accum(Zip(p, V'), MatmulAccumulate, rank 2)          # [X] Tile[G, d]
    l      = Map(Accum(p, Add, rank 2), RowSum)     # row sums accumulated, then reduced
    out    = Map(Zip(o, l), Div)                    # [X] Tile[G, d]

Six compute stages (Matmul, MaskedExp, MatmulAccumulate, Add, RowSum, Div), each with the same
compute bandwidth. The region also returns the completion tokens of dynamic parallelization (a
Count Accum over its K stream: one token per request once its KV tiles have been read).
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import fn, ops
from ._attn_fn import MaskedExp, Pick, RequestTiles

__all__ = ["Region", "build_region", "FIFO_METADATA", "FIFO_WRITEBACK"]

FIFO_METADATA = 16      # EXPERIMENTS.md §1.1: metadata broadcast FIFOs
FIFO_WRITEBACK = 4      # EXPERIMENTS.md §1.1: KV-cache write-back FIFOs


@dataclass
class Region:
    """The streams a region hands back to the program level."""

    out: object            # [X] Tile[G, d]: attention output per request
    out_addr: object       # [X] Addr: the request's output tile index
    k_mod: object          # [X] modified last K tile (written back)
    v_mod: object
    last_addr: object      # [X] Addr of the last KV tile (write-back address)
    done: object           # [X] completion token per request (dynamic parallelization)
    tiles_symbol: object   # the ragged symbol T (KV tiles per request) of this region


def build_region(prog, r: int, q, k_new, v_new, meta, caches, *, slot_tiles: int,
                 compute_bw: float, count) -> Region:
    """Build region ``r`` on its ``[X]`` input streams; ``count`` is X (a dim)."""
    k_cache, v_cache = caches
    rows, d = 32, k_cache.shape[1]
    tiles = ops.FlatMap(meta, RequestTiles(slot_tiles, rows), name=f"r{r}_tiles")
    address = ops.Map(tiles, Pick(0), name=f"r{r}_addr")               # [X, T] Addr
    role = ops.Map(tiles, Pick(1), name=f"r{r}_role")                  # [X, T] Selector[2]
    valid = ops.Map(tiles, Pick(2), name=f"r{r}_valid")                # [X, T] valid rows
    t_sym = address.shape[1]
    offset = ops.Map(meta, Pick(2), name=f"r{r}_offset")               # [X]
    k = ops.RandomOffChipLoad(address, k_cache, (rows, d), name=f"r{r}_load_k")
    v = ops.RandomOffChipLoad(address, v_cache, (rows, d), name=f"r{r}_load_v")
    last_addr = ops.Partition(address, role, 2, name=f"r{r}_split_addr")[1].assume((count,))
    k_full, k_mod = _append_row(k, role, k_new, offset, count, t_sym, f"r{r}_k")
    v_full, v_mod = _append_row(v, role, v_new, offset, count, t_sym, f"r{r}_v")
    done = ops.Accum(k, fn.Count(), fn.Zero((1, 1), "i64"), 1, name=f"r{r}_done")   # [X]
    out = _attend(q, k_full, v_full, valid, compute_bw, r)
    index = ops.Map(meta, Pick(0), name=f"r{r}_index")
    out_addr = ops.Map(index, fn.AffineAddress(), name=f"r{r}_out_addr")
    for s in (offset, index, out_addr):
        prog.set_fifo_depth(s, FIFO_METADATA)
    for s in (last_addr, k_mod, v_mod):
        prog.set_fifo_depth(s, FIFO_WRITEBACK)
    return Region(out, out_addr, k_mod, v_mod, last_addr, done, t_sym)


def _append_row(tiles, role, new_row, offset, count, t_sym, tag: str):
    """Route the last KV tile through InsertRow (2-way Partition/Reassemble); returns the full
    tile stream ``[X, T, 1]`` and the modified last tiles ``[X]``."""
    old, last = ops.Partition(tiles, role, 2, name=f"{tag}_split")
    last = last.assume((count,))
    # write_back: the modified tile is stored into a memory unit (it is also written to HBM)
    mod = ops.Map([last, new_row, offset], fn.InsertRow(), write_back=True, name=f"{tag}_append")
    full = ops.Reassemble([old, mod], role, name=f"{tag}_merge").assume((count, t_sym, 1))
    return full, mod


def _attend(q, k_full, v_full, valid, bw: float, r: int):
    """softmax(q·Kᵀ)·V without max subtraction over the request's tiles (six compute stages)."""
    g, d = q.dtype.rows, q.dtype.cols
    rows = k_full.dtype.rows
    qe = ops.Expand(q, k_full, 2, name=f"r{r}_expand_q")                  # [X, T, 1]
    s = ops.Map([qe, k_full], fn.Matmul(transpose_weight=True), compute_bw=bw,
                name=f"r{r}_qk")                                           # Tile[G, 32]
    p = ops.Map([s, ops.Promote(valid, 0)], MaskedExp(), compute_bw=bw, name=f"r{r}_exp")
    o = ops.Accum([p, v_full], fn.MatmulAccumulate(), fn.Zero((g, d)), 2, compute_bw=bw,
                  name=f"r{r}_pv")                                         # [X] Tile[G, d]
    psum = ops.Accum(p, fn.Add(), fn.Zero((g, rows)), 2, compute_bw=bw, name=f"r{r}_psum")
    total = ops.Map(psum, fn.RowSum(), compute_bw=bw, name=f"r{r}_rowsum")  # [X] Tile[G, 1]
    return ops.Map([o, total], fn.Div(), compute_bw=bw, name=f"r{r}_div")
