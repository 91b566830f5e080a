"""The MoE expert layer workload: static / dynamic tiling, with or without time-multiplexing.

``moe_layer(model, batch=…, routing=…, tiling=…)`` returns a :class:`Workload` whose program
is the real STeP program of EXPERIMENTS.md §1.6 (built in ``_moe_program.py``), with the bindings
(per-expert token counts X_i from the routing), the run-time inputs (selector streams, token rows,
routing weights, expert weights) and the knobs of the notebook sliders.

Analytic quantities (``moe_analysis``) come from the symbolic metrics of the program (STEP.md §6,
"artifact" preset) evaluated at the trace's counts, plus the artifact's algorithmic-FLOP formula
(EXPERIMENTS.md §1.3) which the utilisation figures use.

Timing-only layers (``values=False``, the default for large layers): the expert weights, token
rows and routing weights are zero-stride broadcast arrays (``np.broadcast_to``), so a Mixtral
layer's 24 weight tensors of 58.7 M elements occupy a few bytes (routing is carried by the
selector inputs, which stay real; with zero weights the layer's output is zero either way).
Simulate them with ``wl.simulate(values=False)`` (what the figure sweeps do): the simulator then
serves those placeholders as ghost tiles and no matmul is computed — identical cycles, traffic
and FLOPs, ~5-10× faster. ``wl.simulate()`` still works:
every operator then computes on real zero tiles.
"""
from __future__ import annotations

from dataclasses import replace
from fractions import Fraction
from pathlib import Path

import numpy as np

from ..analysis.metrics import metrics
from ..errors import ConfigError, StepError, did_you_mean
from ..hw.config import PAPER
from ._moe_program import MoePlan, build_moe_program
from ._moe_shared import dense_routing, ffn_view, layer_meta, with_shared
from .base import Workload
from .models import ModelConfig
from .models import model as lookup_model
from .traces import check_routing, expert_counts, load_routing, synthetic_routing

__all__ = ["moe_layer", "moe_analysis", "moe_reference", "moe_bandwidths", "expert_weights",
           "standin_routing", "ffn_view",
           "TILINGS", "IDLE_POLICIES", "WEIGHTS"]

TILINGS = ("static", "dynamic")
WEIGHTS = ("stream", "buffer", "spill")
IDLE_POLICIES = ("static", "on_demand")
BW_ROLES = ("expert", "combine", "pack")
VALUES_LIMIT = 1 << 24          # weight elements materialised by default (values=None)

# EXPERIMENTS.md §1.6: compute bandwidths of Figs 9/10 (FLOPs/cycle per operator)
_FIG9_BW = {"static": {"expert": 4096, "combine": 4096, "pack": 4096},
            "dynamic": {"expert": 6400, "combine": 6400, "pack": 1024}}


def moe_bandwidths(tiling: str, compute_bw=None) -> dict:
    """``{"expert", "combine", "pack"} -> FLOPs/cycle``.

    ``compute_bw`` None: the Figs 9/10 values for ``tiling`` (static 4096 everywhere; dynamic 6400
    for the expert and combine operators, 1024 for row packing); a number: that value for every
    operator (Figs 12/13 use 1024); a dict: overrides of some roles.
    """
    base = dict(_FIG9_BW[tiling])
    if compute_bw is None:
        return base
    if isinstance(compute_bw, dict):
        for key, value in compute_bw.items():
            if key not in BW_ROLES:
                raise ConfigError(f"moe_layer: compute_bw role {key!r} is unknown (expected "
                                  f"one of {list(BW_ROLES)})" + did_you_mean(key, BW_ROLES))
            base[key] = _check_bw(value)
        return base
    value = _check_bw(compute_bw)
    return {key: value for key in BW_ROLES}


def _check_bw(value):
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise ConfigError(f"moe_layer: compute_bw = {value!r} (expected a number of "
                          "FLOPs/cycle > 0, or a dict of them per role)")
    return value


def moe_layer(model, *, batch: int, routing=None, tiling: str = "static", tile: int | None = None,
              tile_f: int = 64, time_multiplex: bool = False, regions: int | None = None,
              compute_bw=None, seed: int = 0, idle_policy: str | None = None,
              values: bool | None = None, dense: bool = False,
              weights: str = "stream") -> Workload:
    """One MoE layer of ``model`` over ``batch`` tokens (EXPERIMENTS.md §1.6).

    * ``routing``: an int array ``[batch, k]`` of expert ids, a path to an ``.npz`` trace, or
      None for a seeded uniform synthetic routing.
    * ``tiling``: "static" (pad each expert's rows to a multiple of ``tile`` = tile_N, default
      32) or "dynamic" (one ``[X_i, D]`` tile per active expert; ``tile`` must be None).
    * ``tile_f``: weight column tile (a divisor of F). ``time_multiplex=True`` shares one
      pipeline among ``E/regions`` experts (``regions`` divides E; default E/4).
    * ``compute_bw``: see :func:`moe_bandwidths` (default: the Figs 9/10 values).
    * ``idle_policy``: on-chip accounting of experts/regions that receive no token (§1.3):
      "static" counts them (hardware configured for all E experts), "on_demand" does not.
      Default: "static" for plain static tiling, "on_demand" for dynamic tiling or
      time-multiplexing — the published figures' rule.
    * ``values``: materialise random expert weights (needed to check numbers) or serve zero
      tiles from broadcast arrays (timing only). None: values when the weights have at most
      2**24 elements.
    * ``model``: a name of ``MODELS`` or of the gallery, a path to a Hugging Face config.json,
      a config dict or a ModelConfig. Shared experts (DeepSeek) are extra experts that every
      token visits with routing weight 1; ``dense=True`` builds the model's dense FFN layer
      (DeepSeek's first layers; every layer of a dense model such as Llama, where it is
      implied) as one expert receiving all tokens (``routing`` must then be None).
    * ``weights`` (what-if, expert parallelism only): "stream" (default, the published
      programs: weights loaded once per packed tile), "buffer" (loaded once per active expert
      into on-chip buffers and read back per tile: less traffic, much more on-chip memory) or
      "spill" (the same buffers kept in HBM: the most traffic, the least on-chip memory); a
      hardware ``onchip_buffer_capacity_bytes`` below a buffer spills "buffer" automatically
      (``step_lab.analysis.spill``).

    Bindings: ``sel_x<i>`` / ``wsel_x<i>`` (the trace's per-expert counts) and, for dynamic
    time-multiplexing, each region's mean merged-tile rows ``r<j>_merge_rows``
    (``meta["peak_bindings"]`` holds their peaks, for on-chip memory; see ``_region_rows``).

    The workload's hardware is ``sl.hw.PAPER`` (EXPERIMENTS.md §1.1: 1024 B/cycle HBM, 64 B/cycle
    memory units, FIFO depth 2 for the MoE experiments).
    """
    base = lookup_model(model)
    cfg, shared, kind = ffn_view(base, dense)
    plan = _plan(cfg, batch, tiling, tile, tile_f, time_multiplex, regions, compute_bw)
    plan = replace(plan, **_weights_arg(weights, time_multiplex, plan.name))
    if cfg is base:
        routes = _routing(routing, cfg, batch, seed)
    else:
        routes = with_shared(dense_routing(routing, base, batch) if kind == "dense"
                             else _routing(routing, base, batch, seed), cfg, shared)
    policy = _idle_policy(idle_policy, tiling, time_multiplex)
    counts = expert_counts(routes, cfg.experts)
    program = build_moe_program(replace(plan, staging=tuple(max(2, int(c)) for c in counts)))
    want_values = values if values is not None else _weight_elements(cfg) <= VALUES_LIMIT
    params = dict(model=_param_model(base), batch=batch,
                  routing=routing if routing is None or isinstance(routing, (str, Path))
                  else routes, tiling=tiling, tile=plan.tile, tile_f=tile_f,
                  time_multiplex=time_multiplex, regions=regions, compute_bw=compute_bw,
                  seed=seed, idle_policy=idle_policy, values=values)
    if dense:
        params["dense"] = True
    if weights != "stream":
        params["weights"] = weights
    return Workload(program=program, bindings={**_bindings(cfg, counts),
                                               **_region_rows(plan, counts, peak=False)},
                    inputs={**_inputs(plan, cfg, routes, seed, want_values, shared),
                            **_active_inputs(plan, counts)},
                    knobs=_knobs(cfg, batch), params=params, builder=moe_layer, hw=PAPER,
                    meta={**_meta(plan, cfg, routes, counts, policy),
                          **layer_meta(base, shared, kind)})


# -- validation ----------------------------------------------------------------------------------
def _param_model(cfg: ModelConfig):
    """The model as recorded in ``params``: its name when that name resolves to it, else the
    ModelConfig (a config file or dict whose name matches another model's)."""
    from .models import model_names
    return cfg.name if cfg.name in model_names() and lookup_model(cfg.name) == cfg else cfg


def _int_arg(what: str, value, lo: int, hi: int, extra: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not lo <= value <= hi:
        raise ConfigError(f"moe_layer: {what} = {value!r} (expected an int in [{lo}, {hi}]"
                          f"{extra})")
    return int(value)


def _weights_arg(weights, time_multiplex, name: str) -> dict:
    """``{"weights": …, "name": …}`` overrides of the plan for the weight-buffering what-if."""
    if weights not in WEIGHTS:
        raise ConfigError(f"moe_layer: weights = {weights!r:.40} (expected one of "
                          f"{list(WEIGHTS)})" + did_you_mean(str(weights), WEIGHTS))
    if weights != "stream" and time_multiplex:
        raise ConfigError(f"moe_layer: weights = {weights!r} with time_multiplex=True (expected "
                          "'stream': a time-multiplexed region gathers its weights by address)")
    return {"weights": weights, "name": name + ("" if weights == "stream" else f"_w{weights}")}


def _active_inputs(plan: MoePlan, counts) -> dict:
    """``active<i>``: one element for an expert that receives a token (buffered weights)."""
    if plan.weights == "stream":
        return {}
    return {f"active{i}": [True] if c else [] for i, c in enumerate(counts)}


def _divisors(n: int) -> list:
    return [d for d in range(1, n + 1) if n % d == 0]


def _plan(cfg: ModelConfig, batch, tiling, tile, tile_f, time_multiplex, regions,
          compute_bw) -> MoePlan:
    batch = _int_arg("batch", batch, 1, 1 << 20)
    if tiling not in TILINGS:
        raise ConfigError(f"moe_layer: tiling {tiling!r} is unknown (expected one of "
                          f"{list(TILINGS)})" + did_you_mean(str(tiling), TILINGS))
    if tiling == "static":
        tile = 32 if tile is None else _int_arg("tile", tile, 1, batch,
                                                " for static tiling: tile_N <= batch")
    elif tile is not None:
        raise ConfigError(f"moe_layer: tile = {tile!r} with dynamic tiling (expected None: the "
                          "tile size follows each expert's token count)")
    F, E = cfg.moe_intermediate, cfg.experts
    tile_f = _int_arg("tile_f", tile_f, 1, F)
    if F % tile_f:
        raise ConfigError(f"moe_layer: tile_f = {tile_f} does not divide F = {F} of "
                          f"{cfg.name} (expected a divisor such as "
                          f"{[d for d in _divisors(F) if d >= 16][:8]})")
    if not isinstance(time_multiplex, bool):
        raise ConfigError(f"moe_layer: time_multiplex = {time_multiplex!r} (expected True or "
                          "False)")
    if time_multiplex:
        regions = max(1, E // 4) if regions is None else _int_arg("regions", regions, 1, E)
        if E % regions:
            raise ConfigError(f"moe_layer: regions = {regions} does not divide the {E} experts "
                              f"of {cfg.name} (expected one of {_divisors(E)})")
    elif regions is not None and regions != E:
        raise ConfigError(f"moe_layer: regions = {regions!r} without time_multiplex (expected "
                          f"None or {E}: one region per expert; pass time_multiplex=True)")
    else:
        regions = None
    name = f"moe_{cfg.name}_b{batch}_{tiling}" + (f"{tile}" if tiling == "static" else "") \
        + (f"_r{regions}" if regions else "")
    return MoePlan(name, batch, E, cfg.top_k, cfg.hidden, F, tiling, tile, tile_f, regions,
                   moe_bandwidths(tiling, compute_bw))


def _routing(routing, cfg: ModelConfig, batch: int, seed: int) -> np.ndarray:
    E, k = cfg.experts, cfg.top_k
    if routing is None:
        return synthetic_routing(batch, E, k, seed=seed)
    if isinstance(routing, (str, Path)):
        routes = load_routing(routing, experts=E)
        where = f"routing trace {str(routing)!r}"
    else:
        routes = check_routing(routing, experts=E, where="routing")
        where = "routing"
    if routes.shape != (batch, k):
        raise StepError(f"{where} has shape {tuple(routes.shape)} (expected [batch, top_k] = "
                        f"[{batch}, {k}] for {cfg.name} at batch {batch})")
    return routes


def _idle_policy(policy, tiling: str, time_multiplex: bool) -> str:
    if policy is None:
        return "on_demand" if tiling == "dynamic" or time_multiplex else "static"
    if policy not in IDLE_POLICIES:
        raise ConfigError(f"moe_layer: idle_policy {policy!r} is unknown (expected one of "
                          f"{list(IDLE_POLICIES)})" + did_you_mean(str(policy), IDLE_POLICIES))
    return policy


# -- bindings, inputs, knobs, meta --------------------------------------------------------------
def _bindings(cfg: ModelConfig, counts) -> dict:
    """Both partitions' counts: ``sel_x<i>`` (rows) and ``wsel_x<i>`` (routing weights)."""
    out = {}
    for i in range(cfg.experts):
        out[f"sel_x{i}"] = int(counts[i])
        out[f"wsel_x{i}"] = int(counts[i])
    return out


def _region_rows(plan: MoePlan, counts, *, peak: bool) -> dict:
    """``r<j>_merge_rows``: rows of region j's merged token tiles (dynamic time-multiplexing).

    The EagerMerge of a region's ``[X_i, D]`` tiles has the fresh tile-row symbol
    ``r<j>_merge_rows``, a ragged dim (one value per merged tile, §2.4). Bound to the **mean**
    over the region's active experts (``Σ X_i / #active``, a Fraction if need be) it makes
    traffic and FLOPs exact; on-chip memory needs the **peak** (``max X_i``, §6.4 [Choice]),
    which ``meta["peak_bindings"]`` holds: ``metrics(prog).evaluate(wl.bindings,
    peak=wl.meta["peak_bindings"])``. A region without tokens binds 0 (it merges no tile).
    """
    if not plan.regions or plan.tiling != "dynamic":
        return {}
    g, out = plan.group, {}
    for r in range(plan.regions):
        rows = [int(c) for c in counts[r * g:(r + 1) * g] if c]
        value = (max(rows) if peak else Fraction(sum(rows), len(rows))) if rows else 0
        out[f"r{r}_merge_rows"] = int(value) if value == int(value) else value
    return out


def _weight_elements(cfg: ModelConfig) -> int:
    return 3 * cfg.experts * cfg.hidden * cfg.moe_intermediate


def expert_weights(cfg: ModelConfig, seed: int = 0) -> list:
    """Seeded float32 ``(Wg, Wu, Wd)`` per expert (``[D,F], [D,F], [F,D]``)."""
    rng = np.random.default_rng([seed, 1])
    D, F = cfg.hidden, cfg.moe_intermediate
    return [(rng.standard_normal((D, F), np.float32) / np.sqrt(D),
             rng.standard_normal((D, F), np.float32) / np.sqrt(D),
             rng.standard_normal((F, D), np.float32) / np.sqrt(F)) for _ in range(cfg.experts)]


def _token_inputs(cfg: ModelConfig, routes: np.ndarray, seed: int, shared: int = 0) -> tuple:
    """Token rows and routing weights (softmax over the routed experts; shared ones get 1)."""
    rng = np.random.default_rng([seed, 0])
    x = rng.standard_normal((routes.shape[0], cfg.hidden)).astype(np.float32)
    logits = rng.standard_normal((routes.shape[0], routes.shape[1] - shared))
    weights = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    if shared:
        weights = np.hstack([weights, np.ones((routes.shape[0], shared))])
    return x, weights.astype(np.float32)


def _inputs(plan: MoePlan, cfg: ModelConfig, routes: np.ndarray, seed: int,
            values: bool, shared: int = 0) -> dict:
    x, weights = _token_inputs(cfg, routes, seed, shared)
    if not values:          # timing only: every float tile a ghost (routing is in sel/rsel/wsel)
        x, weights = _zeros(x.shape), _zeros(weights.shape)
    multi_hot = [frozenset(int(e) for e in row) for row in routes]
    inputs = {"X": x, "Wr": weights, "sel": multi_hot, "rsel": list(multi_hot),
              "wsel": [int(e) for e in routes.ravel()]}
    D, F, E = cfg.hidden, cfg.moe_intermediate, cfg.experts
    experts = expert_weights(cfg, seed) if values else None
    if plan.regions is None:
        for i in range(E):
            for j, (name, shape) in enumerate(((f"Wg{i}", (D, F)), (f"Wu{i}", (D, F)),
                                              (f"Wd{i}", (F, D)))):
                inputs[name] = experts[i][j] if values else _zeros(shape)
        return inputs
    g = plan.group
    for r in range(plan.regions):
        group = range(r * g, (r + 1) * g)
        for j, (name, shape) in enumerate(((f"Wg_r{r}", (g * D, F)), (f"Wu_r{r}", (g * D, F)),
                                          (f"Wd_r{r}", (g * F, D)))):
            inputs[name] = (np.concatenate([experts[i][j] for i in group]) if values
                            else _zeros(shape))
    return inputs


def _zeros(shape) -> np.ndarray:
    """A read-only all-zero array of ``shape`` that occupies one element (zero strides)."""
    return np.broadcast_to(np.float32(0), shape)


def _knobs(cfg: ModelConfig, batch: int) -> dict:
    tiles = [t for t in (8, 16, 32, 64, 128, 256, 512, 1024) if t <= batch] or [batch]
    tile_fs = [d for d in _divisors(cfg.moe_intermediate) if 16 <= d <= 256]
    return {"tiling": list(TILINGS), "tile": tiles, "tile_f": tile_fs,
            "time_multiplex": [False, True], "regions": _divisors(cfg.experts),
            "weights": list(WEIGHTS)}


def _meta(plan: MoePlan, cfg: ModelConfig, routes, counts, policy: str) -> dict:
    tiles = [int(-(-c // plan.tile)) if plan.tiling == "static" else int(c > 0) for c in counts]
    rows = [t * plan.tile for t in tiles] if plan.tiling == "static" else [int(c) for c in counts]
    D, F = cfg.hidden, cfg.moe_intermediate
    return {"model": cfg.name, "counts": [int(c) for c in counts],
            "active_experts": int(np.count_nonzero(counts)), "token_tiles": tiles,
            "padded_rows": rows, "idle_policy": policy, "bandwidths": dict(plan.bw),
            "regions": plan.regions or cfg.experts, "tile": plan.tile, "tiling": plan.tiling,
            "algorithmic_flops": sum(rows) * (6 * D * F + F + 8 * D * F),
            "routing_shape": list(routes.shape),
            "peak_bindings": _region_rows(plan, counts, peak=True)}


# -- analysis and reference ----------------------------------------------------------------------
def _region_peaks(wl: Workload) -> dict:
    """Peak rows of the dynamic time-multiplexed region tiles ``r<j>_merge_rows`` (the largest
    expert of the region: the on-chip accounting binds ragged dims to their maximum, §6.4)."""
    return dict(wl.meta.get("peak_bindings", {}))


def moe_analysis(wl: Workload, *, policy: str | None = None) -> dict:
    """Analytic numbers of an MoE workload at its routing (no simulation).

    ``offchip_traffic`` and ``weight_traffic`` (bytes), ``onchip_memory`` (bytes, "artifact"
    preset, ``policy`` or the workload's idle policy) and its split ``onchip_memory_io`` (shared
    input/output nodes, ``io_*``) / ``onchip_memory_experts`` (everything else),
    ``allocated_compute`` (Σ C of the compute operators that perform FLOPs: the artifact's
    count, which leaves out data-movement functions such as RetileRow), and
    ``algorithmic_flops`` (EXPERIMENTS.md §1.3 formula).

    [Choice] These are ``sl.metrics``' numeric mode (STEP.md §6, "artifact" preset) at the
    workload's bindings with the region peaks (``meta["peak_bindings"]``) for on-chip memory,
    split by node name. ``allocated_compute`` counts every compute operator the layer
    configures (the "static" policy: the hardware is allocated for idle experts too), whatever
    ``policy`` says for memory.
    """
    policy = _idle_policy(policy or wl.meta["idle_policy"], wl.meta["tiling"],
                          bool(wl.params.get("time_multiplex")))
    peak = _region_peaks(wl)
    counted = metrics(wl.program, preset="artifact", policy="static", bindings=wl.bindings,
                      peak=peak)
    held = counted if policy == "static" else metrics(
        wl.program, preset="artifact", policy=policy, bindings=wl.bindings, peak=peak)
    io = [name for name in counted.by_node if name.startswith("io_")]
    io_traffic = sum(counted.by_node[name]["offchip_traffic"] for name in io)
    io_memory = sum(held.by_node[name]["onchip_memory"] for name in io)
    return {"offchip_traffic": counted.offchip_traffic,
            "weight_traffic": counted.offchip_traffic - io_traffic,
            "onchip_memory": held.onchip_memory, "onchip_memory_io": io_memory,
            "onchip_memory_experts": held.onchip_memory - io_memory,
            "allocated_compute": counted.allocated_compute,
            "algorithmic_flops": wl.meta["algorithmic_flops"], "idle_policy": policy}


def moe_reference(wl: Workload) -> np.ndarray:
    """The layer's output ``Y[B, D]`` computed directly with numpy (needs ``values``)."""
    cfg = ffn_view(lookup_model(wl.params["model"]), wl.params.get("dense", False))[0]
    x, w = wl.inputs["X"], wl.inputs["Wr"]
    experts = expert_weights(cfg, wl.params["seed"])
    wsel = np.asarray(wl.inputs["wsel"]).reshape(x.shape[0], -1)     # experts in routing order
    y = np.zeros_like(x)
    for t in range(x.shape[0]):
        for j, e in enumerate(wsel[t]):
            wg, wu, wd = experts[e]
            h = x[t:t + 1] @ wg
            h = h / (1 + np.exp(-h)) * (x[t:t + 1] @ wu)
            y[t] += w[t, j] * (h @ wd)[0]
    return y


# -- a synthetic stand-in for the withheld batch-1024 traces -------------------------------------
def standin_routing(model, batch: int, *, seed: int = 0) -> np.ndarray:
    """A seeded skewed routing ``[batch, k]`` standing in for the withheld prefill traces.

    EXPERIMENTS.md §1.5: for Mixtral all experts active with the busiest 2–3× the least busy;
    for Qwen roughly a third of the experts idle and the busiest receiving several hundred
    tokens. [Choice] A random third of the experts is idle when E > 16 (none otherwise); the
    others get Zipf popularity ``1/rank^s`` (s = 0.5 for E <= 16, 0.6 otherwise) in random
    order; each token picks k distinct experts. At batch 1024 with seed 0 this gives Mixtral
    counts 165…450 (ratio 2.7) and Qwen 85 active experts with the busiest at 494 tokens.
    """
    cfg = lookup_model(model)
    E, k = cfg.experts, cfg.top_k
    rng = np.random.default_rng(seed)
    n_idle = round(E / 3) if E > 16 else 0
    active = rng.permutation(E)[:E - n_idle]
    popularity = np.zeros(E)
    popularity[active] = 1.0 / np.arange(1, len(active) + 1) ** (0.5 if E <= 16 else 0.6)
    p = popularity / popularity.sum()
    return np.stack([rng.choice(E, size=k, replace=False, p=p)
                     for _ in range(batch)]).astype(np.int64)
