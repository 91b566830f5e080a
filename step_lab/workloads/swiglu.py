"""The SwiGLU layer of the simulator validation (EXPERIMENTS.md §3 Fig 8, STEP.md §7.5).

``y = (SiLU(x·Wg) ⊙ (x·Wu))·Wd`` for ``x [B, D]``, ``Wg, Wu [D, F]``, ``Wd [F, D]``, FP32. Schedule
(inner-product order): the gate and up projections tile the batch (``tile_m``) and the
intermediate dimension (``tile_n``); the reduction dimension D is tiled by ``tile_k`` (default D:
untiled, one reduction step); the down projection tiles the batch and its reduction dimension
(``tile_n``) and accumulates over ``F/tile_n``; its output keeps D whole. Input rows are re-read
once per intermediate column tile, weights re-streamed once per batch tile::

    x  = LinearOffChipLoad(X, [m, k], out (B/m, F/n, D/k))          # repeated F/n times
    wg = LinearOffChipLoad(Wg, [k, n], out (B/m, F/n, D/k))         # re-streamed B/m times
    g  = Accum(Zip(x, wg), MatmulAccumulate, rank 1)                 # [1, B/m, F/n] Tile[m, n]
    u  = Accum(Zip(x, wu), MatmulAccumulate, rank 1)
    h  = Map(Zip(Map(g, SiLU), u), Mul)
    wd = LinearOffChipLoad(Wd, [n, D], out (B/m, F/n))
    y  = Accum(Zip(h, wd), MatmulAccumulate, rank 1)                 # [1, B/m] Tile[m, D]
    LinearOffChipStore(y, Y)

Off-chip traffic: ``e·(B·D·F/n + 3·(B/m)·D·F + B·D)`` bytes with e bytes per element
(:func:`swiglu_traffic`). Five compute operators of ``compute_bw`` FLOPs/cycle each.
"""
from __future__ import annotations

import numpy as np

from .. import fn, ops
from ..errors import ConfigError
from ..hw import VALIDATION
from ..ir import Program
from ..ir.dtypes import ELEMENT_BYTES, element
from .base import Workload

__all__ = ["swiglu", "swiglu_traffic", "swiglu_reference", "FIG8_TILES_M", "FIG8_TILES_N"]

FIG8_TILES_M = (16, 32, 64)
FIG8_TILES_N = (16, 32, 64, 128, 256)


def swiglu_traffic(batch: int, hidden: int, intermediate: int, tile_m: int, tile_n: int,
                   elem_bytes: int = 4) -> int:
    """Closed-form off-chip bytes of the schedule (EXPERIMENTS.md Fig 8)."""
    b, d, f = batch, hidden, intermediate
    return elem_bytes * (b * d * f // tile_n + 3 * (b // tile_m) * d * f + b * d)


def swiglu(*, batch: int = 64, hidden: int = 256, intermediate: int = 512, tile_m: int = 16,
           tile_n: int = 16, tile_k: int | None = None, compute_bw: float = 4096,
           dtype: str = "f32", seed: int = 0) -> Workload:
    """Build the Fig 8 SwiGLU layer with tiles ``(tile_m, hidden, tile_n)`` (EXPERIMENTS.md §3)."""
    elem = element(dtype)
    b, d, f = (_positive(v, name) for v, name in ((batch, "batch"), (hidden, "hidden"),
                                                   (intermediate, "intermediate")))
    m = _tile(tile_m, "tile_m", b, "batch")
    n = _tile(tile_n, "tile_n", f, "intermediate")
    k = _tile(d if tile_k is None else tile_k, "tile_k", d, "hidden")
    prog = Program(f"swiglu_m{m}_n{n}" + ("" if k == d else f"_k{k}"))
    X = prog.tensor("X", (b, d), elem)
    Wg, Wu = prog.tensor("Wg", (d, f), elem), prog.tensor("Wu", (d, f), elem)
    Wd = prog.tensor("Wd", (f, d), elem)
    grid = (b // m, f // n, d // k)
    with prog.scope("load x"):
        x = ops.LinearOffChipLoad(X, (m, k), stride=(d // k, 0, 1), tiled_out_shape=grid,
                                  name="load_x")
    with prog.scope("gate"):
        gate = _projection(x, Wg, (k, n), grid, compute_bw, "gate")
    with prog.scope("up"):
        up = _projection(x, Wu, (k, n), grid, compute_bw, "up")
    with prog.scope("activation"):
        act = ops.Map(gate, fn.SiLU(), compute_bw=compute_bw, name="silu")
        h = ops.Map([act, up], fn.Mul(), compute_bw=compute_bw, name="mul")    # [1, B/m, F/n]
    with prog.scope("down"):
        wd = ops.LinearOffChipLoad(Wd, (n, d), stride=(0, 1), tiled_out_shape=grid[:2],
                                   name="load_wd")
        y = ops.Accum([h, wd], fn.MatmulAccumulate(), fn.Zero((m, d)), 1,
                      compute_bw=compute_bw, name="down")                        # [1, B/m]
        ops.LinearOffChipStore(y, prog.tensor("Y", (b, d), elem, role="output"),
                               name="store_y")
    rng = np.random.default_rng(seed)
    inputs = {"X": rng.standard_normal((b, d)).astype(np.float32),
              "Wg": (rng.standard_normal((d, f)) / np.sqrt(d)).astype(np.float32),
              "Wu": (rng.standard_normal((d, f)) / np.sqrt(d)).astype(np.float32),
              "Wd": (rng.standard_normal((f, d)) / np.sqrt(f)).astype(np.float32)}
    params = {"batch": b, "hidden": d, "intermediate": f, "tile_m": m, "tile_n": n,
              "tile_k": tile_k, "compute_bw": compute_bw, "dtype": elem, "seed": seed}
    traffic = swiglu_traffic(b, d, f, m, n, ELEMENT_BYTES[elem]) if k == d else None
    return Workload(prog, {}, inputs,
                    knobs={"tile_m": [t for t in FIG8_TILES_M if b % t == 0],
                           "tile_n": [t for t in FIG8_TILES_N if f % t == 0]},
                    params=params, builder=_rebuild, hw=VALIDATION,
                    meta={"label": f"({m}, {d}, {n})", "traffic_formula": traffic,
                          "flops": 2 * b * d * f * 3 + 9 * b * f,
                          "allocated_compute": 5 * compute_bw})


def _rebuild(**kwargs) -> Workload:
    return swiglu(**kwargs)


def _projection(x, weight, tile: tuple, grid: tuple, bw, name: str):
    """``x·W`` accumulated over the D/k reduction tiles: ``[1, B/m, F/n]`` Tile[m, n]."""
    k, n = tile
    d, f = weight.shape
    w = ops.LinearOffChipLoad(weight, (k, n), stride=(0, 1, f // n), tiled_out_shape=grid,
                              name=f"load_w{name[0]}")
    m = x.dtype.rows
    return ops.Accum([x, w], fn.MatmulAccumulate(), fn.Zero((m, n)), 1, compute_bw=bw,
                     name=name)


def _positive(value, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ConfigError(f"swiglu: {name} = {value!r} (expected an int >= 1)")
    return int(value)


def _tile(value, name: str, extent: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or not 1 <= value <= extent or extent % value:
        divisors = [t for t in range(1, extent + 1) if extent % t == 0]
        shown = divisors if len(divisors) <= 12 else divisors[:6] + ["…"] + divisors[-3:]
        raise ConfigError(f"swiglu: {name} = {value!r} is out of range (expected a divisor of "
                          f"{what} = {extent}: {shown})")
    return int(value)


def swiglu_reference(workload) -> np.ndarray:
    """numpy ``(SiLU(x·Wg) ⊙ (x·Wu))·Wd`` of a workload's inputs (float64)."""
    x, wg, wu, wd = (np.asarray(workload.inputs[k], dtype=np.float64)
                     for k in ("X", "Wg", "Wu", "Wd"))
    g = x @ wg
    return (g / (1 + np.exp(-g)) * (x @ wu)) @ wd
