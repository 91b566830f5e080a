"""Attention decode over variable KV lengths with coarse, interleaved or dynamic parallelization.

EXPERIMENTS.md §1.7 (Figs 14, 15, 21), STEP.md §8.3. One decode step of grouped-query attention
for a batch of B requests, one KV head group per request: the query tile is ``[G, d]`` (G query
heads per KV head, head dim d), request r has ``⌈(L_r+1)/32⌉`` KV tiles of ``[32, d]`` and its new
token goes to row ``L_r mod 32`` of the last tile. ``parallel`` regions (:mod:`._attn_region`)
each process whole requests; the strategy decides which region serves which request:

* ``"coarse"``: request i -> region ``⌊i/16⌋ mod P`` (blocks of 16; with B = 80 region 0 also
  gets requests 64–79, as in the paper); no distributor: each region streams its own block
  (per-region metadata inputs; query and new K/V rows fetched by request index);
* ``"interleaved"``: request i -> region ``i mod P``: one round-robin distributor (a static
  selector driving the Partitions of all per-request data) that stalls once the target region's
  input FIFO is full;
* ``"dynamic"``: the first P requests round-robin, then each request goes to the region that
  finished reading its previous request's KV tiles first — a feedback cycle: per-region
  completion tokens -> EagerMerge (which region is free next) -> Partition/Reassemble building the
  selector ``[initial assignments, completion order]`` -> the Partitions distributing the
  per-request data (STEP.md §8.3, with ``assume`` for the shapes the frontend cannot know).

Static selectors, the round-robin prefix and per-request metadata (index, KV tile count, offset)
are program inputs (the reference's metadata sources). FIFOs have depth 1 except the per-region
metadata broadcasts (16) and the KV write-back path (4), EXPERIMENTS.md §1.1. The dynamic
strategy's per-region counts are decided at run time: its ``bindings`` are empty, and
:func:`attention_bindings` turns a run's ``values["assignment"]`` into metric bindings.

[Choice] Name scopes (``Program.scope``): ``dispatch`` (request streams, distributor and the
dynamic feedback cycle), ``region <r>`` (a region's pipeline; with the coarse strategy also its own
request streams, nested as ``dispatch / region <r>``) and ``store`` (the merged stores).

Outputs: tensor ``O`` ``[B·G, d]`` (request i's tile at index i), the updated caches
``K_cache_out``/``V_cache_out`` (the written-back last tiles) and, unless coarse, the program
output ``assignment`` (the region selector of every request). Results of all regions reach the
single store of each tensor through an EagerMerge of ``Zip(address, tile)``. [Choice] the last
KV tile's positions past the new token are masked in the exp stage (they hold no data), so the
output equals exact softmax attention.
"""
from __future__ import annotations

import heapq
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..errors import ConfigError, did_you_mean
from ..hw import ATTENTION
from ..ir import Program
from ._attn_dispatch import (
    COARSE_BLOCK,
    TILE_ROWS,
    close_feedback,
    distribute,
    merged_store,
    program_inputs,
    region_of,
)
from ._attn_region import FIFO_METADATA, FIFO_WRITEBACK, build_region
from .base import Workload
from .models import model as get_model
from .traces import check_kv_lengths, load_kv_lengths

__all__ = ["attention_decode", "STRATEGIES", "kv_tiles", "region_of", "slot_length",
           "dynamic_assignment", "attention_reference", "attention_bindings", "TILE_ROWS",
           "COARSE_BLOCK"]

STRATEGIES = ("coarse", "interleaved", "dynamic")
MAX_PARALLEL = 16
COMPUTE_BW = 2048         # FLOPs/cycle of each of the six compute stages
SLOT_LENGTHS = {16: 4672, 64: 6464, 80: 6528}   # the artifact's fixed per-request slot lengths


def kv_tiles(kv_lengths) -> np.ndarray:
    """KV tiles per request, ``⌈(L+1)/32⌉`` (the +1 is the new token)."""
    lengths = np.asarray(kv_lengths, dtype=np.int64)
    return (lengths + TILE_ROWS) // TILE_ROWS


def slot_length(kv_lengths) -> int:
    """Per-request cache slot length: the artifact's value for B = 16/64/80, else the longest
    request rounded up to whole tiles (never shorter than the longest request needs)."""
    lengths = np.asarray(kv_lengths)
    needed = int(kv_tiles(lengths).max(initial=1)) * TILE_ROWS
    return max(SLOT_LENGTHS.get(len(lengths), 0), needed)


def dynamic_assignment(kv_lengths, parallel: int) -> np.ndarray:
    """Greedy estimate of the dynamic assignment (each request to the region whose queue of KV
    tiles empties first). Used only for nominal metric bindings: the simulator decides the real
    assignment; traffic and FLOP totals do not depend on it."""
    heap = [(0, r) for r in range(parallel)]
    out = np.empty(len(kv_lengths), dtype=np.int64)
    for i, n in enumerate(kv_tiles(kv_lengths)):
        busy, r = heapq.heappop(heap)
        out[i] = r
        heapq.heappush(heap, (busy + int(n), r))
    return out


def attention_decode(model, *, kv_lengths, parallel: int = 4, strategy: str = "coarse",
                     seed: int = 0, data: str = "random",
                     compute_bw: float = COMPUTE_BW, window: int | None = None) -> Workload:
    """Build the attention-decode workload (EXPERIMENTS.md §1.7) as a real STeP program.

    ``kv_lengths``: int array or ``.npy`` path of per-request KV lengths (B = its length).
    ``data``: ``"random"`` (seeded caches and queries) or ``"none"`` (no cache arrays: for
    timing-only runs, ``workload.simulate(values=False)``, which never materialises the caches).
    ``model``: a paper or gallery name, a config.json path, a config dict or a ModelConfig.
    ``window``: a sliding-window layer (gpt-oss: ``cfg.sliding_window``): every KV length is
    capped at ``window`` tokens (the stated approximation); None: full attention.
    MLA models (DeepSeek) use ``cfg.attention_shape``: one KV head of half the latent cache
    width serving all query heads (``meta["notes"]`` states it).
    """
    cfg = get_model(model)
    lengths = cap_lengths(_lengths(kv_lengths), window)
    strategy = _strategy(strategy)
    batch = len(lengths)
    parallel = _parallel(parallel, strategy, batch)
    if data not in ("random", "none"):
        raise ConfigError(f"data {data!r} (expected 'random' or 'none')"
                          + did_you_mean(data, ["random", "none"]))
    group, d = cfg.attention_shape
    slot = slot_length(lengths)
    prog = Program(f"attention_decode_{strategy}_b{batch}_p{parallel}")
    tensors = _tensors(prog, batch, group, d, slot)
    with prog.scope("dispatch"):
        inputs_of, dispatch, feedback = distribute(prog, strategy, tensors, batch, parallel)
    caches = (tensors["K_cache"], tensors["V_cache"])
    regions = []
    for r, x in enumerate(inputs_of):
        with prog.scope(f"region {r}"):
            regions.append(build_region(prog, r, x.q, x.k_new, x.v_new, x.meta, caches,
                                        slot_tiles=slot // TILE_ROWS, compute_bw=compute_bw,
                                        count=x.count))
    if feedback is not None:
        with prog.scope("dispatch"):
            close_feedback(prog, feedback, [reg.done for reg in regions], batch, parallel)
    with prog.scope("store"):
        merged_store(prog, [(g.out_addr, g.out) for g in regions], tensors["O"], "out",
                     FIFO_METADATA)
        merged_store(prog, [(g.last_addr, g.k_mod) for g in regions], tensors["K_cache_out"],
                     "k_wb", FIFO_WRITEBACK)
        merged_store(prog, [(g.last_addr, g.v_mod) for g in regions], tensors["V_cache_out"],
                     "v_wb", FIFO_WRITEBACK)
    if dispatch is not None:
        prog.output("assignment", dispatch)
    symbols = [(x.count.name if hasattr(x.count, "name") else None, reg.tiles_symbol.name)
               for x, reg in zip(inputs_of, regions, strict=True)]
    assignment = (region_of(strategy, batch, parallel) if feedback is None
                  else dynamic_assignment(lengths, parallel))
    params = {"model": cfg.name, "kv_lengths": lengths, "parallel": parallel,
              "strategy": strategy, "seed": seed, "data": data, "compute_bw": compute_bw}
    if window is not None:
        params["window"] = window
    nominal = _bindings(symbols, lengths, assignment)
    return Workload(
        program=prog,
        bindings={} if feedback is not None else nominal,
        inputs=_inputs(lengths, strategy, parallel, slot, group, d, seed, data),
        knobs={"strategy": list(STRATEGIES), "parallel": (1, MAX_PARALLEL)},
        params=params, builder=_rebuild, hw=ATTENTION,
        meta={"batch": batch, "slot_length": slot, "kv_tiles": kv_tiles(lengths),
              "total_kv_tiles": int(kv_tiles(lengths).sum()), "query_tile": (group, d),
              "assignment": assignment, "assignment_is_estimate": feedback is not None,
              "region_symbols": symbols, "nominal_bindings": nominal,
              "compute_ops": 6 * parallel, "allocated_compute": 6 * parallel * compute_bw,
              "notes": attention_notes(cfg, window)})


def _rebuild(model, **kwargs) -> Workload:
    return attention_decode(model, **kwargs)


# -- approximations of non-GQA attention (issue 17) ---------------------------------------------
def cap_lengths(lengths: np.ndarray, window) -> np.ndarray:
    """KV lengths of a sliding-window layer: ``min(L, window)`` (None: unchanged)."""
    if window is None:
        return lengths
    if isinstance(window, bool) or not isinstance(window, (int, np.integer)) or window < 1:
        raise ConfigError(f"window = {window!r} (expected None or an int >= 1 of tokens)")
    return np.minimum(lengths, int(window))


def attention_notes(cfg, window) -> str:
    """The approximations this workload makes for ``cfg`` (empty for plain GQA)."""
    notes = []
    if cfg.attention != "sliding":        # sliding: said below, with the window actually used
        notes.append(cfg.attention_notes)
    if window is not None:
        notes.append(f"sliding-window layer: KV lengths capped at {window} tokens"
                     + ("; attention sinks ignored" if cfg.attention == "sliding" else ""))
    elif cfg.attention == "sliding":
        notes.append(f"full-attention layer of {cfg.name} (its sliding-window layers: pass "
                     f"window={cfg.sliding_window})")
    return "; ".join(n for n in notes if n)


# -- argument checks --------------------------------------------------------------------------
def _lengths(kv_lengths) -> np.ndarray:
    if isinstance(kv_lengths, (str, Path)):
        lengths = load_kv_lengths(kv_lengths)
    elif np.size(kv_lengths) == 0:
        lengths = ()
    else:
        lengths = check_kv_lengths(kv_lengths)
    if len(lengths) == 0:
        raise ConfigError("kv_lengths is empty (expected at least one request)")
    return lengths


def _strategy(strategy) -> str:
    if strategy not in STRATEGIES:
        raise ConfigError(f"unknown parallelization strategy {strategy!r} (expected one of "
                          f"{list(STRATEGIES)})" + did_you_mean(strategy, STRATEGIES))
    return strategy


def _parallel(parallel, strategy: str, batch: int) -> int:
    if isinstance(parallel, bool) or not isinstance(parallel, (int, np.integer)) \
            or not 1 <= parallel <= MAX_PARALLEL:
        raise ConfigError(f"parallel = {parallel!r} regions is out of range (expected an int in "
                          f"1..{MAX_PARALLEL})")
    if strategy == "dynamic" and parallel > batch:
        raise ConfigError(f"parallel = {parallel} regions exceeds the batch of {batch} requests "
                          f"(expected parallel <= {batch} for the dynamic strategy, whose first "
                          "requests are assigned round-robin)")
    return int(parallel)


# -- program construction -----------------------------------------------------------------------
def _tensors(prog, batch: int, group: int, d: int, slot: int) -> dict:
    return {
        "Q": prog.tensor("Q", (batch * group, d), "bf16"),
        "K_new": prog.tensor("K_new", (batch, d), "bf16"),
        "V_new": prog.tensor("V_new", (batch, d), "bf16"),
        "K_cache": prog.tensor("K_cache", (batch * slot, d), "bf16"),
        "V_cache": prog.tensor("V_cache", (batch * slot, d), "bf16"),
        "K_cache_out": prog.tensor("K_cache_out", (batch * slot, d), "bf16", role="output"),
        "V_cache_out": prog.tensor("V_cache_out", (batch * slot, d), "bf16", role="output"),
        "O": prog.tensor("O", (batch * group, d), "bf16", role="output"),
    }


# -- bindings and inputs ------------------------------------------------------------------------
def _bindings(symbols: list, lengths, assignment) -> dict:
    """Partition counts X_r and, per region, the ragged KV-tile count T_r bound to its mean
    (exact traffic and FLOPs, STEP.md §6.4)."""
    tiles = kv_tiles(lengths)
    assignment = np.asarray(assignment)
    out = {}
    for r, (x_name, t_name) in enumerate(symbols):
        mine = tiles[assignment == r]
        if x_name is not None:
            out[x_name] = int(len(mine))
        out[t_name] = Fraction(int(mine.sum()), len(mine)) if len(mine) else Fraction(0)
    return out


def attention_bindings(workload, assignment=None) -> dict:
    """Metric bindings of an attention workload for a request -> region ``assignment``.

    ``assignment``: region per request, or a run's ``values["assignment"]`` (selectors); None:
    the workload's own (static strategies) or estimated (dynamic) assignment. The dynamic
    strategy's counts are decided at run time, so its ``bindings`` are empty: pass the
    simulated assignment here to evaluate its metrics exactly.
    """
    if assignment is None:
        return dict(workload.meta["nominal_bindings"])
    regions = [next(iter(a)) if isinstance(a, (set, frozenset)) else int(a) for a in assignment]
    return _bindings(workload.meta["region_symbols"], workload.params["kv_lengths"], regions)


def _inputs(lengths, strategy: str, parallel: int, slot: int, group: int, d: int,
            seed: int, data: str) -> dict:
    batch = len(lengths)
    rng = np.random.default_rng(seed)
    small = lambda rows: (rng.standard_normal((rows, d)) / np.sqrt(d)).astype(np.float32)  # noqa
    inputs = program_inputs(lengths, strategy, parallel)
    inputs.update(Q=small(batch * group), K_new=small(batch), V_new=small(batch))
    if data == "random":
        inputs["K_cache"] = small(batch * slot)
        inputs["V_cache"] = small(batch * slot)
    return inputs


def attention_reference(workload) -> np.ndarray:
    """numpy softmax attention (no max subtraction) of a workload's inputs: ``[B·G, d]``."""
    inp, meta = workload.inputs, workload.meta
    lengths = workload.params["kv_lengths"]
    group, d = meta["query_tile"]
    slot = meta["slot_length"]
    out = np.zeros((len(lengths) * group, d), dtype=np.float64)
    for i, n in enumerate(lengths):
        keys = np.array(inp["K_cache"][i * slot:i * slot + n + 1], dtype=np.float64)
        vals = np.array(inp["V_cache"][i * slot:i * slot + n + 1], dtype=np.float64)
        keys[n], vals[n] = inp["K_new"][i], inp["V_new"][i]
        q = np.asarray(inp["Q"][i * group:(i + 1) * group], dtype=np.float64)
        p = np.exp(q @ keys.T)
        out[i * group:(i + 1) * group] = (p @ vals) / p.sum(axis=1, keepdims=True)
    return out
