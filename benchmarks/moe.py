"""A Qwen3-30B-A3B-sized MoE layer built directly from the operators (EXPERIMENTS.md §1.6).

Static token tiling: rows routed to an expert are padded to a multiple of ``tile_n`` and packed
into ``[tile_n, D]`` tiles; each packed tile is repeated F/tile_F times and meets the gate and
up weight column tiles ``[D, tile_F]`` and the down weight row tiles ``[tile_F, D]`` (streamed
from HBM once per packed tile); SiLU(gate) ⊙ up is multiplied into the down projection and
accumulated over F/tile_F; rows are unpacked (padding dropped), reassembled per token under the
multi-hot selector and summed over the k experts. Routing is a seeded, skewed synthetic top-k
draw (roughly half of the 128 experts idle at batch 64, as in the Qwen traces).
"""
from __future__ import annotations

import numpy as np

import step_lab as sl
from step_lab import fn, ops

QWEN = {"experts": 128, "top_k": 8, "hidden": 2048, "intermediate": 768}


def synthetic_routing(batch: int, experts: int, top_k: int, seed: int = 0) -> np.ndarray:
    """``[batch, top_k]`` distinct expert ids per token, Zipf-skewed popularity."""
    rng = np.random.default_rng(seed)
    popularity = 1.0 / np.arange(1, experts + 1) ** 1.1
    popularity = rng.permutation(popularity / popularity.sum())
    return np.stack([rng.choice(experts, size=top_k, replace=False, p=popularity)
                     for _ in range(batch)])


def qwen_moe_layer(batch: int, *, tile_n: int = 16, tile_f: int = 64, compute_bw: int = 4096,
                   model: dict = QWEN, seed: int = 0):
    """``(program, bindings, inputs)`` of one MoE layer (timing-only: weights are not given)."""
    E, k, D, F = model["experts"], model["top_k"], model["hidden"], model["intermediate"]
    routing = synthetic_routing(batch, E, k, seed)
    prog = sl.Program(f"qwen3_moe_b{batch}")
    X = prog.tensor("X", (batch, D), "bf16")
    x = ops.Flatten(ops.LinearOffChipLoad(X, tile=(1, D)), 1, 2)          # [B, 1]
    sel = prog.input("sel", sl.Selector(E), (batch,))
    prog.set_fifo_depth(sel, batch)           # the selector is also held for Reassemble
    parts = ops.Partition(x, sel, E)
    rows = []
    for e in range(E):
        out = _expert(prog, parts[e], e, D, F, tile_n, tile_f, compute_bw)
        prog.set_fifo_depth(out, batch)       # unpacked rows wait for their token's group
        rows.append(out)
    gathered = ops.Reassemble(rows, sel).assume((batch, k))
    total = ops.Accum(gathered, fn.Add(), fn.Zero((1, D), "bf16"), 1, compute_bw=compute_bw)
    ops.LinearOffChipStore(total, "Y")
    counts = np.bincount(routing.ravel(), minlength=E)
    bindings = {f"sel_x{e}": int(c) for e, c in enumerate(counts)}
    inputs = {"sel": [frozenset(int(v) for v in row) for row in routing]}
    return prog, bindings, inputs


def _expert(prog, part, e: int, D: int, F: int, tile_n: int, tile_f: int, bw: int):
    nf = F // tile_f
    r = ops.Flatten(part, 0, 1)                                            # [X_e]
    d, m = ops.Reshape(r, 0, tile_n, pad=fn.Zero((1, D), "bf16"))          # [⌈X/T⌉, T]
    t = ops.Accum(d, fn.RetileRow(), fn.Empty((0, D), "bf16"), 1, compute_bw=bw)
    mask = ops.Accum(m, fn.RetileRow(), fn.Empty((0, 1), "bool"), 1, compute_bw=bw)
    t1, _ = ops.Reshape(t, 0, 1)
    te = ops.Expand(t1, sizes=(nf,))                                       # [⌈X/T⌉, F/tF]

    def weights(name, shape, tile):
        tensor = prog.tensor(f"{name}{e}", shape, "bf16")
        return ops.LinearOffChipLoad(tensor, tile=tile, ref=t, stride=(1,),
                                     tiled_out_shape=(nf,))
    gate = ops.Map([te, weights("Wg", (D, F), (D, tile_f))], fn.Matmul(), compute_bw=bw)
    up = ops.Map([te, weights("Wu", (D, F), (D, tile_f))], fn.Matmul(), compute_bw=bw)
    h = ops.Map([ops.Map(gate, fn.SiLU(), compute_bw=bw), up], fn.Mul(), compute_bw=bw)
    down = weights("Wd", (F, D), (tile_f, D))
    y = ops.Accum([h, down], fn.MatmulAccumulate(), fn.Zero((tile_n, D), "bf16"), 1,
                  compute_bw=bw)
    return ops.FlatMap([y, mask], fn.RetileStreamify())
