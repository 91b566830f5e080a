"""The STeP program of one MoE layer (EXPERIMENTS.md §1.6, STEP.md §8.1, §8.2, §8.4).

Built only from the operators; :func:`build_moe_program` returns the program and the names of the
tensors it declares. The public builder with validation, inputs and bindings is ``moe.py``.

Dataflow per token batch (B tokens, E experts, top-k, hidden D, intermediate F, nF = F/tile_F):

* ``x_load`` reads ``X[B, D]`` as ``[1, D]`` rows, ``wr_load`` the routing weights ``Wr[B, k]``
  as ``[1, 1]`` tiles; both are flattened to rank 0.
* ``Partition(rows, sel, E)`` with the multi-hot selector ``sel [B]`` sends each row to its k
  experts (``[sel_x<i>]`` rows each); ``Partition(weights, wsel, E)`` with the one-hot selector
  ``wsel [B·k]`` sends each weight to its expert (``[wsel_x<i>]``, the same counts).
* Packing per expert: static tiling ``Reshape(rank 0, tile_N, pad=Zero)`` + ``Accum(RetileRow)``
  into ``[⌈X_i/tile_N⌉]`` tiles ``[tile_N, D]`` (plus the padding mask packed the same way);
  dynamic tiling ``Promote`` + ``Accum(RetileRow)`` into ``[P_i]`` tiles ``[X_i, D]``.
* SwiGLU per packed tile (§8.4 inner-product order): ``Promote(rank 0)`` + ``Expand(nF)`` repeats
  the tile once per weight column tile; gate and up weights ``[D, tile_F]`` and down weights
  ``[tile_F, D]`` are loaded once per packed tile (the load's reference is the packed stream);
  ``Map(Matmul)`` ×2, ``Map(SiLU)``, ``Map(Mul)``, ``Accum(MatmulAccumulate)`` over the nF
  column tiles into ``[T, D]``.
* Back to rows: ``FlatMap(RetileStreamify)`` (masked: padded rows dropped), scaled by the routing
  weight (``Map(Mul)`` of ``Zip(rows, weights)``), ``Reassemble`` by ``sel`` into ``[B, k]``,
  ``Accum(Add)`` over the k expert outputs, ``LinearOffChipStore`` into ``Y[B, D]``.
  [Choice] Reassemble reads its own copy ``rsel`` of the multi-hot selector (as the artifact's
  second selector source): fanning ``sel`` out to both Partition and Reassemble deadlocks with
  bounded FIFOs, since the Reassemble holds its selector until the experts answer.
* Time-multiplexing (§8.2): R regions of E/R experts. Per region one ``EagerMerge`` of the packed
  streams yields the tiles and a one-hot selector naming the expert; ``Map(AffineAddress)`` +
  ``FlatMap(TileAddresses)`` turn it into weight tile addresses for three ``RandomOffChipLoad``
  from the region's concatenated weights; the SwiGLU body exists once per region; a
  ``Partition`` by the same selector returns the results to per-expert streams.

[Choice] Weight buffering (``plan.weights``, a what-if of issue 16; expert parallelism only):
``"stream"`` (default, the published programs) loads an expert's weights once per packed tile;
``"buffer"`` loads them once per active expert into a Bufferize (``[1, nF]`` tiles per matrix)
and a Streamify reads them back once per packed tile — weight-stationary: traffic ÷ N, on-chip
memory + the weights; ``"spill"`` is the same program with ``spill=True``: the buffers live in
HBM (written once, read once per packed tile), so traffic exceeds ``"stream"``'s by one write and
one load per active expert while the on-chip memory keeps only the staging. The Streamify's
reference is ``Promote(tiles)`` (``[P_i, N_i]``, ``P_i = 1`` if expert i has a tile); the buffer
stream must have the shape ``[P_i]``, so the weight loads are driven by a program input
``active<i>`` of that shape (one element for an active expert, none for an idle one), given from
the routing like ``sel``: a reference derived from the tiles themselves would make the loads wait
for the expert's last tile while its first one waits for the weights (a deadlock).

[Choice] Output staging: the routing-weight stream and the scaled output rows of expert i get
FIFO depth ``plan.staging[i]`` (``moe.py`` passes ``max(2, X_i)``). With static tiling an
expert's last tile fills only when the Partition has seen every token, while the Reassemble waits
in token order for it; shallow FIFOs then block the other experts' pipelines, the Partition and
finally everything (a real deadlock, observed at batch 1024). Staging each expert's X_i rows
breaks that cycle. Like every FIFO it is not counted as on-chip memory (EXPERIMENTS.md §1.3).

[Choice] Name scopes (``Program.scope``): ``route`` (loads and routing Partitions), ``expert <i>``
(the expert's packing, its pipeline without time-multiplexing, and its unpacking), ``region <r>``
(a time-multiplexed region's shared pipeline) and ``combine`` (gather, sum, store).
[Choice] Node names are ``<scope>_<role>`` (``e3_pack``, ``r1_gate``, ``io_sum``) so per-expert,
per-region and shared nodes can be told apart in tables and metrics.
[Choice] Compute bandwidths: ``bw["expert"]`` for gate, up, SiLU, multiply and down;
``bw["combine"]`` for the weight scaling and the final sum; ``bw["pack"]`` for the row-packing
Accum (and the mask Accum). Data-movement nodes (RetileStreamify, address generation) keep the
hardware default: they compute 0 FLOPs.
"""
from __future__ import annotations

from dataclasses import dataclass

from .. import fn, ops
from ..ir import Bool, Program, Selector

__all__ = ["MoePlan", "build_moe_program"]


@dataclass(frozen=True)
class MoePlan:
    """Everything the program shape depends on (validated by ``moe.py``)."""

    name: str
    batch: int
    experts: int
    top_k: int
    hidden: int
    intermediate: int
    tiling: str                 # "static" | "dynamic"
    tile: int | None            # tile_N for static tiling
    tile_f: int
    regions: int | None         # None: one pipeline per expert (no time-multiplexing)
    bw: dict                    # {"expert", "combine", "pack"} -> FLOPs/cycle
    staging: tuple = ()         # per-expert FIFO depth of its output rows and routing weights
    weights: str = "stream"     # "stream" | "buffer" | "spill" (see the module docstring)

    @property
    def n_col(self) -> int:
        return self.intermediate // self.tile_f

    @property
    def group(self) -> int:
        return self.experts // self.regions if self.regions else 1


def build_moe_program(plan: MoePlan) -> Program:
    """The MoE layer program of ``plan`` (see the module docstring)."""
    prog = Program(plan.name)
    B, D, E, k = plan.batch, plan.hidden, plan.experts, plan.top_k
    X = prog.tensor("X", (B, D), "bf16")
    Wr = prog.tensor("Wr", (B, k), "bf16")
    with prog.scope("route"):
        rows = ops.Flatten(ops.LinearOffChipLoad(X, tile=(1, D), name="io_x_load"), 0, 2)  # [B]
        wts = ops.Flatten(ops.LinearOffChipLoad(Wr, tile=(1, 1), name="io_wr_load"), 0, 2)
        sel = prog.input("sel", Selector(E), (B,))
        wsel = prog.input("wsel", Selector(E), (B * k,))
        rsel = prog.input("rsel", Selector(E), (B,))               # sel again, for Reassemble
        parts = ops.Partition(rows, sel, E, name="io_route")        # [sel_x<i>] Tile[1, D]
        wparts = ops.Partition(wts, wsel, E, name="io_route_w")     # [wsel_x<i>] Tile[1, 1]
    packed = []
    for i in range(E):                                              # (tiles, mask) per expert
        with prog.scope(f"expert {i}"):
            packed.append(_pack(plan, i, parts[i]))
    if plan.regions:
        outs = []
        for r in range(plan.regions):
            group = range(r * plan.group, (r + 1) * plan.group)
            with prog.scope(f"region {r}"):
                outs += _region(prog, plan, r, [packed[i][0] for i in group])
    else:
        outs = []
        for i in range(E):
            with prog.scope(f"expert {i}"):
                outs.append(_expert(prog, plan, i, packed[i][0]))
    scaled = []
    for i in range(E):
        with prog.scope(f"expert {i}"):
            scaled.append(_unpack(plan, i, outs[i], packed[i][1], wparts[i]))
    for i, depth in enumerate(plan.staging):
        prog.set_fifo_depth(wparts[i], depth)
        prog.set_fifo_depth(scaled[i], depth)
    with prog.scope("combine"):
        gathered = ops.Reassemble(scaled, rsel, name="io_gather").assume((B, k))   # [B, k]
        total = ops.Accum(gathered, fn.Add(), fn.Zero((1, D)), 1,
                          compute_bw=plan.bw["combine"], name="io_sum")       # [B] Tile[1, D]
        ops.LinearOffChipStore(total, "Y", name="io_store")
    return prog


# -- per-expert packing and unpacking ------------------------------------------------------------
def _pack(plan: MoePlan, i: int, part):
    """Rows of expert i -> packed token tiles (and the padding mask for static tiling)."""
    D, pack_bw = plan.hidden, plan.bw["pack"]
    if plan.tiling == "static":
        data, pad = ops.Reshape(part, 0, plan.tile, pad=fn.Zero((1, D), "bf16"),
                                name=f"e{i}_pad")                   # [⌈X_i/T⌉, T]
        tiles = ops.Accum(data, fn.RetileRow(), fn.Empty((0, D)), 1, compute_bw=pack_bw,
                          name=f"e{i}_pack")                        # Tile[T, D]
        mask = ops.Accum(pad, fn.RetileRow(), fn.Empty((0, 1), "bool"), 1, compute_bw=pack_bw,
                         name=f"e{i}_mask")                         # Tile[T, 1] bool
        return tiles, mask
    promoted = ops.Promote(part, name=f"e{i}_promote")              # [P_i, X_i]
    tiles = ops.Accum(promoted, fn.RetileRow(), fn.Empty((0, D)), 1, compute_bw=pack_bw,
                      name=f"e{i}_pack")                            # [P_i] Tile[X_i, D]
    return tiles, None


def _unpack(plan: MoePlan, i: int, out, mask, weights):
    """Output tiles of expert i -> rows (padding dropped), scaled by their routing weights."""
    src = ops.Zip(out.assume(mask.shape), mask, name=f"e{i}_zip_mask") if mask is not None \
        else out
    rows = ops.FlatMap(src, fn.RetileStreamify(), name=f"e{i}_rows")
    rows = rows.assume(weights.shape)                               # [X_i]: padding removed
    return ops.Map([rows, weights], fn.Mul(), compute_bw=plan.bw["combine"],
                   name=f"e{i}_scale")                              # [X_i] Tile[1, D]


# -- the SwiGLU body -------------------------------------------------------------------------------
def _swiglu(plan: MoePlan, scope: str, tiles, wg, wu, wd):
    """``down(SiLU(t·Wg) ⊙ (t·Wu))`` per packed tile, weights streamed per column tile."""
    bw = plan.bw["expert"]
    rep = ops.Expand(ops.Promote(tiles, 0, name=f"{scope}_unit"), sizes=(plan.n_col,),
                     name=f"{scope}_repeat")                        # [N, nF] Tile[T, D]
    gate = ops.Map([rep, wg], fn.Matmul(), compute_bw=bw, name=f"{scope}_gate")
    up = ops.Map([rep, wu], fn.Matmul(), compute_bw=bw, name=f"{scope}_up")
    act = ops.Map(gate, fn.SiLU(), compute_bw=bw, name=f"{scope}_silu")
    hidden = ops.Map([act, up], fn.Mul(), compute_bw=bw, name=f"{scope}_mul")
    return ops.Accum([hidden, wd], fn.MatmulAccumulate(), fn.Zero((1, 1)), 1, compute_bw=bw,
                     name=f"{scope}_down")                          # [N] Tile[T, D]


def _expert(prog: Program, plan: MoePlan, i: int, tiles):
    """One expert pipeline (expert parallelism): weights loaded once per packed tile."""
    D, F, tf = plan.hidden, plan.intermediate, plan.tile_f
    Wg = prog.tensor(f"Wg{i}", (D, F), "bf16")
    Wu = prog.tensor(f"Wu{i}", (D, F), "bf16")
    Wd = prog.tensor(f"Wd{i}", (F, D), "bf16")
    scope = f"e{i}"
    if plan.weights != "stream":
        wg, wu, wd = _buffered_weights(prog, plan, i, tiles, (Wg, Wu, Wd))
        return _swiglu(plan, scope, tiles, wg, wu, wd)
    wg = ops.Flatten(ops.LinearOffChipLoad(Wg, tile=(D, tf), ref=tiles, name=f"{scope}_wg"),
                     0, 1)                                          # [N, nF] Tile[D, tf]
    wu = ops.Flatten(ops.LinearOffChipLoad(Wu, tile=(D, tf), ref=tiles, name=f"{scope}_wu"),
                     0, 1)
    wd = ops.Flatten(ops.LinearOffChipLoad(Wd, tile=(tf, D), ref=tiles, name=f"{scope}_wd"),
                     0, 1)                                          # [N, nF] Tile[tf, D]
    return _swiglu(plan, scope, tiles, wg, wu, wd)


def _buffered_weights(prog: Program, plan: MoePlan, i: int, tiles, tensors) -> list:
    """Weights loaded once per active expert into buffers, read once per packed tile."""
    D, tf = plan.hidden, plan.tile_f
    ref = ops.Promote(tiles, name=f"e{i}_wref")                     # [P_i, N]
    active = prog.input(f"active{i}", Bool, (ref.shape[0],))         # [P_i]
    spill = True if plan.weights == "spill" else None
    out = []
    tiles_of = ((D, tf), (D, tf), (tf, D))
    for tensor, tile, role in zip(tensors, tiles_of, ("wg", "wu", "wd"), strict=True):
        load = ops.LinearOffChipLoad(tensor, tile=tile, ref=active, name=f"e{i}_{role}")
        buf = ops.Bufferize(load, 2, spill=spill, name=f"e{i}_{role}_buf")   # [P_i] buffers
        read = ops.Streamify(buf, ref, name=f"e{i}_{role}_read")       # [P_i, N, 1, nF]
        flat = ops.Flatten(ops.Flatten(read, 0, 1), 1, 2)             # [P_i·N, nF]
        out.append(flat.assume((tiles.shape[0], plan.n_col)))
    return out


def _region(prog: Program, plan: MoePlan, r: int, group_tiles: list) -> list:
    """One time-multiplexed region serving ``len(group_tiles)`` experts (§8.2)."""
    D, F, tf, g = plan.hidden, plan.intermediate, plan.tile_f, plan.group
    Wg = prog.tensor(f"Wg_r{r}", (g * D, F), "bf16")                # experts stacked by rows
    Wu = prog.tensor(f"Wu_r{r}", (g * D, F), "bf16")
    Wd = prog.tensor(f"Wd_r{r}", (g * F, D), "bf16")
    scope = f"r{r}"
    data, which = ops.EagerMerge(group_tiles, name=f"{scope}_merge")  # [Σ N_j], [Σ N_j]
    base = ops.Map(which, fn.AffineAddress(scale=plan.n_col), name=f"{scope}_base")
    addr = ops.FlatMap(base, fn.TileAddresses(count=plan.n_col), name=f"{scope}_addr")
    wg = ops.RandomOffChipLoad(addr, Wg, (D, tf), name=f"{scope}_wg")  # [Σ N_j, nF]
    wu = ops.RandomOffChipLoad(addr, Wu, (D, tf), name=f"{scope}_wu")
    wd = ops.RandomOffChipLoad(addr, Wd, (tf, D), name=f"{scope}_wd")
    out = _swiglu(plan, scope, data, wg, wu, wd)                    # [Σ N_j]
    parts = ops.Partition(out, which, g, name=f"{scope}_split")     # per expert [N_j]
    return [p.assume(t.shape) for p, t in zip(parts, group_tiles, strict=True)]
