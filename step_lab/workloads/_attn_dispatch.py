"""How requests reach the attention regions (EXPERIMENTS.md §1.7, STEP.md §8.3), the merged
stores and the program inputs of :func:`step_lab.workloads.attention_decode`.

* coarse: no distributor — each region streams its own contiguous block of requests: per-region
  metadata inputs, and the query / new key / new value rows are fetched by request index
  (RandomOffChipLoad), as the reference loads per-region blocks;
* interleaved: one load per stream and a Partition per stream driven by a static round-robin
  selector (a distributor that stalls once a region's input FIFO is full);
* dynamic: the same Partitions driven by a selector built in a feedback cycle from the regions'
  completion tokens.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .. import fn, ops
from ..ir import Selector
from ._attn_fn import COUNT, Pick
from ._attn_region import FIFO_METADATA

__all__ = ["RegionInputs", "distribute", "close_feedback", "merged_store", "program_inputs",
           "region_of", "COARSE_BLOCK", "TILE_ROWS"]

TILE_ROWS = 32            # KV tile rows (EXPERIMENTS.md §1.7)
COARSE_BLOCK = 16         # requests per region under static coarse-grained parallelization
META = ("index", "kv_tiles", "offset")


@dataclass
class RegionInputs:
    """The streams of one region (``q``: ``[X, 1, 1]``, the others ``[X]``) and X (an int for
    coarse, a Partition symbol else)."""

    q: object
    k_new: object
    v_new: object
    meta: object          # Zip(index, kv_tiles, offset)
    count: object


def region_of(strategy: str, batch: int, parallel: int) -> np.ndarray | None:
    """Static request -> region map (None for the dynamic strategy)."""
    i = np.arange(batch)
    if strategy == "coarse":
        return (i // COARSE_BLOCK) % parallel
    if strategy == "interleaved":
        return i % parallel
    return None


def distribute(prog, strategy: str, tensors: dict, batch: int, parallel: int):
    """Per-region inputs; returns ``(regions, dispatch stream or None, feedback or None)``."""
    if strategy == "coarse":
        owner = region_of(strategy, batch, parallel)
        regions = []
        for r in range(parallel):
            with prog.scope(f"region {r}"):
                regions.append(_coarse_region(prog, tensors, r, int((owner == r).sum())))
        return regions, None, None
    streams = _request_streams(prog, tensors)
    if strategy == "interleaved":
        # one round-robin distributor: its selector reaches the four Partitions through
        # default-depth FIFOs, so a full region input FIFO stalls the whole distributor
        dispatch = prog.input("dispatch", Selector(parallel), (batch,))
        feedback = None
    else:
        # the back edge of the cycle: the reference's reassemble -> partition channel (depth 1)
        dispatch = feedback = prog.feedback(Selector(parallel), (batch,), depth=1,
                                            name="dispatch")
    parts = [ops.Partition(s, dispatch, parallel, name=f"dispatch_{tag}")
             for tag, s in zip(("q", "k_new", "v_new", "meta"), streams, strict=True)]
    regions = []
    for r in range(parallel):
        q, kn, vn, meta = (p[r] for p in parts)
        prog.set_fifo_depth(meta, FIFO_METADATA)     # broadcast to the region's metadata users
        regions.append(RegionInputs(q, kn, vn, meta, q.shape[0]))
    return regions, dispatch, feedback


def _request_streams(prog, tensors: dict) -> list:
    """Per-request streams: query tile ``[B, 1, 1]`` (ready to be expanded over the KV tiles),
    new key row, new value row and metadata tuple ``[B]``."""
    batch = tensors["K_new"].shape[0]
    q = ops.Flatten(ops.LinearOffChipLoad(tensors["Q"], _tile(tensors["Q"], tensors),
                                          stride=(1, 0, 0), tiled_out_shape=(batch, 1, 1),
                                          name="load_q"), 2, 3)          # [B, 1, 1]
    kn = ops.Flatten(ops.LinearOffChipLoad(tensors["K_new"], _row(tensors), name="load_k_new"),
                     0, 2)
    vn = ops.Flatten(ops.LinearOffChipLoad(tensors["V_new"], _row(tensors), name="load_v_new"),
                     0, 2)
    fields = [prog.input(name, COUNT, (batch,)) for name in META]
    meta = ops.Zip(*fields)
    for s in (meta, *fields):
        prog.set_fifo_depth(s, FIFO_METADATA)
    return [q, kn, vn, meta]


def _coarse_region(prog, tensors: dict, r: int, count: int) -> RegionInputs:
    """Region r's own block of requests: metadata inputs, rows fetched by request index."""
    fields = [prog.input(f"{name}{r}", COUNT, (count,)) for name in META]
    meta = ops.Zip(*fields)
    addr = ops.Map(fields[0], fn.AffineAddress(), name=f"r{r}_request_addr")
    q_addr = ops.Promote(ops.Promote(addr, 0), 0)                        # [X, 1, 1]
    q = ops.RandomOffChipLoad(q_addr, tensors["Q"], _tile(tensors["Q"], tensors),
                              name=f"r{r}_q")
    kn = ops.RandomOffChipLoad(addr, tensors["K_new"], _row(tensors), name=f"r{r}_k_new")
    vn = ops.RandomOffChipLoad(addr, tensors["V_new"], _row(tensors), name=f"r{r}_v_new")
    for s in (meta, *fields, addr):
        prog.set_fifo_depth(s, FIFO_METADATA)
    return RegionInputs(q, kn, vn, meta, count)


def _tile(q_tensor, tensors: dict) -> tuple:
    batch = tensors["K_new"].shape[0]
    return (q_tensor.shape[0] // batch, q_tensor.shape[1])


def _row(tensors: dict) -> tuple:
    return (1, tensors["K_new"].shape[1])


def close_feedback(prog, placeholder, done: list, batch: int, parallel: int) -> None:
    """STEP.md §8.3: completion order -> selector of the request Partitions (a cycle)."""
    _, freed = ops.EagerMerge(done, name="free_region")                  # [ΣX_r] Selector[P]
    freed = freed.assume((batch,))                       # every request completes once
    keep = prog.input("keep", Selector(1), (batch,))     # the first B-P completions are used
    later = ops.Partition(freed, keep, 1, name="later")[0].assume((batch - parallel,))
    first = prog.input("first", Selector(parallel), (parallel,))        # round-robin start
    order = prog.input("order", Selector(2), (batch,))   # P × first, then B-P × later
    choice = ops.Reassemble([first, later], order, name="choice").assume((batch, 1))
    prog.connect(placeholder, ops.Flatten(choice, 0, 1, name="choice_flat"))


def merged_store(prog, pairs: list, tensor, tag: str, depth: int) -> None:
    """All regions' ``(address, tile)`` pairs -> EagerMerge -> one RandomOffChipStore.

    [Choice] one store per tensor (the library's single-writer rule); the reference gives each
    region its own store into the same tensor. Traffic is identical.
    """
    zipped = [ops.Zip(a, t) for a, t in pairs]
    merged, _ = ops.EagerMerge(zipped, name=f"{tag}_merge")
    addr = ops.Map(merged, Pick(0), name=f"{tag}_addr")
    data = ops.Map(merged, Pick(1), name=f"{tag}_data")
    for s in (*zipped, merged, addr, data):
        prog.set_fifo_depth(s, depth)
    ops.RandomOffChipStore(addr, data, tensor, name=f"{tag}_store")


def program_inputs(lengths, strategy: str, parallel: int) -> dict:
    """Metadata and selector inputs (tensor arrays are added by the caller)."""
    batch = len(lengths)
    one = lambda v: np.array([[int(v)]], dtype=np.int64)   # noqa: E731
    tiles = (np.asarray(lengths) + TILE_ROWS) // TILE_ROWS
    values = {"index": np.arange(batch), "kv_tiles": tiles, "offset": np.asarray(lengths) % 32}
    inputs = {}
    if strategy == "coarse":
        owner = region_of(strategy, batch, parallel)
        for r in range(parallel):
            for name in META:
                inputs[f"{name}{r}"] = [one(v) for v in values[name][owner == r]]
        return inputs
    for name in META:
        inputs[name] = [one(v) for v in values[name]]
    if strategy == "dynamic":
        inputs["keep"] = [frozenset({0})] * (batch - parallel) + [frozenset()] * parallel
        inputs["first"] = [frozenset({r}) for r in range(parallel)]
        inputs["order"] = [frozenset({0})] * parallel + [frozenset({1})] * (batch - parallel)
    else:
        inputs["dispatch"] = [frozenset({int(r)}) for r in region_of(strategy, batch, parallel)]
    return inputs
