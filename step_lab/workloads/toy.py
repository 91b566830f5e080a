"""The paper's simplified MoE program (STEP.md §8.4, Figs. 6–7), at any size.

Small enough to read, big enough to show static vs dynamic tiling; the demo and the tests use it.
"""
from __future__ import annotations

import numpy as np

from .. import fn, ops
from ..ir import Program, Selector

__all__ = ["simplified_moe", "toy_routing"]


def toy_routing(tokens: int, experts: int, seed: int = 0) -> np.ndarray:
    """A seeded top-1 routing: expert id per token."""
    return np.random.default_rng(seed).integers(0, experts, tokens)


def simplified_moe(*, tokens: int = 10, width: int = 64, out_width: int = 256, experts: int = 2,
                   chunk: int = 4, col_tile: int = 64, tiling: str = "static",
                   routing=None, compute_bw: int = 1024, seed: int = 0):
    """Build §8.4's program. Returns ``(program, inputs, bindings)``.

    ``routing`` is an int array of expert ids per token (top-1); None draws a seeded one.
    ``tiling`` is "static" (Reshape with padding into ``chunk``-row tiles) or "dynamic" (Promote:
    one tile of all routed rows per expert).
    """
    if tiling not in ("static", "dynamic"):
        from ..errors import ConfigError, did_you_mean
        raise ConfigError(f"tiling {tiling!r} (expected 'static' or 'dynamic')"
                          + did_you_mean(tiling, ["static", "dynamic"]))
    routing = toy_routing(tokens, experts, seed) if routing is None else np.asarray(routing)
    prog = Program(f"simplified_moe_{tiling}" + (str(chunk) if tiling == "static" else ""))
    X = prog.tensor("X", (tokens, width), "bf16")
    xin = ops.Flatten(ops.LinearOffChipLoad(X, tile=(1, width)), 1, 2)       # [T, 1]
    sel = prog.input("sel", Selector(experts), (tokens,))                     # [T]
    # The selector is broadcast to Partition and Reassemble. Reassemble waits for each token's
    # row to come back through its expert while Partition must keep reading selectors to feed
    # the experts, so the selector needs a metadata FIFO deep enough for the whole batch (the
    # paper's deep broadcast FIFOs, STEP.md §7.1); with depth 2 the program deadlocks.
    prog.set_fifo_depth(sel, tokens + 1)
    parts = ops.Partition(xin, sel, experts)                                  # [D_i, 1] each
    rows = []
    for i in range(experts):                      # one name scope per expert (Program.scope)
        with prog.scope(f"expert {i}"):
            rows.append(_expert(prog, i, parts[i], width, out_width, chunk, col_tile, tiling,
                                compute_bw))
    out = ops.Reassemble(rows, sel).assume((tokens, 1))                       # [T, G] -> [T, 1]
    ops.LinearOffChipStore(out, "Y")
    rng = np.random.default_rng(seed)
    inputs = {"sel": [int(e) for e in routing], "X": rng.standard_normal((tokens, width))}
    for i in range(experts):
        inputs[f"W{i}"] = rng.standard_normal((width, out_width)) / np.sqrt(width)
    counts = np.bincount(routing, minlength=experts)
    bindings = {sym.name: int(counts[i]) for i, sym in enumerate(_partition_symbols(parts))}
    return prog, inputs, bindings


def _expert(prog, i, part, width, out_width, chunk, col_tile, tiling, compute_bw):
    W = prog.tensor(f"W{i}", (width, out_width), "bf16")
    n_col = out_width // col_tile
    r = ops.Flatten(part, 0, 1)                                               # [D_i]
    if tiling == "static":
        d, m = ops.Reshape(r, 0, chunk, pad=fn.Zero((1, width), "bf16"))              # [⌈D_i/c⌉, c]
        t = ops.Accum(d, fn.RetileRow(), fn.Empty((0, width), "bf16"), 1)     # Tile[c, W]
        mask = ops.Accum(m, fn.RetileRow(), fn.Empty((0, 1), "bool"), 1)      # Tile[c, 1] bool
        rows_per_tile = chunk
    else:
        t = ops.Accum(ops.Promote(r), fn.RetileRow(), fn.Empty((0, width), "bf16"), 1)  # [D_i,W]
        mask, rows_per_tile = None, t.dtype.rows
    w = ops.LinearOffChipLoad(W, tile=(width, col_tile), ref=t, stride=(n_col, 1),
                              tiled_out_shape=(1, n_col))                     # [·, 1, n_col]
    wf = ops.Flatten(w, 0, 1)                                                 # [·, n_col]
    te = ops.Expand(ops.Reshape(t, 0, 1)[0], sizes=(n_col,))                  # [·, n_col]
    y = ops.Map([te, wf], fn.Matmul(), compute_bw=compute_bw)                 # Tile[·, col_tile]
    yc = ops.Accum(y, fn.RetileCol(), fn.Empty((rows_per_tile, 0), "bf16"), 1)        # Tile[·, out]
    src = ops.Zip(yc, mask) if mask is not None else yc
    return ops.FlatMap(src, fn.RetileStreamify())                             # [D_i'] Tile[1, out]


def _partition_symbols(parts) -> list:
    return [p.shape[0] for p in parts]
