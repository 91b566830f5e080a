"""What-if explorer (source of notebooks/explorer.ipynb)."""

# %% [markdown]
# # What-if explorer · MoE tiling and attention parallelization
#
# Pick a model, a batch, a trace, a tiling and a parallelization: the panel rebuilds the real
# STeP program, simulates it (timing only, a second or so), and shows its cycles and memory,
# where it lies against a sweep of **static** designs (the Pareto view of Figs 9, 10 and 14) and
# the per-cycle occupancy animation of the chip.
#
# The widgets need a running kernel: open this notebook in JupyterLab and run all cells. In a
# static export (nbconvert, a repository viewer) the widgets are not live, but the text readout
# after each panel still shows the computed results. The paper's own figures, with their
# headline values, have one notebook each (`fig*.ipynb` next to this one).

# %%
from functools import lru_cache

import numpy as np

import step_lab as sl
from step_lab.errors import ConfigError
from step_lab.notebook import explore
from step_lab.notebook.figures import kv_table, routing_table, say
from step_lab.notebook.whatif import ParetoView
from step_lab.workloads import (
    MODELS,
    RoutingModel,
    attention_decode,
    fit_routing,
    load_kv_lengths,
    load_routing,
    model,
    model_choices,
    moe_layer,
    synthetic_kv_lengths,
    synthetic_routing,
    trace_path,
)
from step_lab.workloads.attention import attention_bindings
from step_lab.workloads.moe import moe_analysis
from step_lab.workloads.trace_folder import SHORT_NAMES

# %% [markdown]
# ## A mixture-of-experts layer: tiling
#
# `moe_layer` builds one MoE layer (EXPERIMENTS.md §1.6) for a batch of tokens routed by a
# trace. The knobs:
#
# * **model** — Mixtral-8x7B (few large experts) or Qwen3-30B-A3B (many small ones) as in the
#   paper, or a model of the gallery (`deepseek-v3` with its shared expert, `gpt-oss-20b`,
#   `qwen3-235b-a22b`, `llama-3.1-8b` as one dense FFN, …; `step_lab/data/models`). A path to any
#   Hugging Face `config.json` works too: `model_choices("path/to/config.json")` adds it to the
#   dropdown;
# * **batch** and **trace** — *real* uses the vendored routing trace recorded from that model
#   (its first `batch` tokens; only the paper's two models have one, so *real* offers only
#   the batches the trace holds); *synthetic: uniform* and *synthetic: skewed* draw a seeded
#   synthetic routing, the latter with Zipf-like expert popularity; *synthetic: fitted* uses the
#   generator fitted to the real Qwen trace (its skew, active fraction and token-to-token
#   correlation, docs/TRACES.md) for any model. The synthetic traces offer larger batches;
# * **tiling** and **tile** — static tiling pads every expert's tokens to tiles of `tile` rows
#   (at most the batch; the weights stream once per tile); dynamic tiling packs all of an
#   expert's tokens into one tile sized at run time (`tile` is then disabled);
# * **experts_per_region** — above one, configuration time-multiplexing: each region (one
#   configured expert pipeline) is shared by that many experts (only groupings that divide the
#   model's experts are offered).
#
# The knobs only offer what works for the current choice: hover a greyed-out knob to see why.
# Under the summary, *copy as code* gives the Python that reproduces the shown design and
# *save report* writes it as a standalone HTML page next to this notebook.
#
# Memory is the program's on-chip memory under the paper's accounting ("artifact" preset, idle
# experts counted for plain static tiling only, §1.3), exactly as in the figures.

# %%
SKEW = 1.0                      # Zipf exponent of the "skewed" synthetic routing
MOE_TILES = [8, 16, 32, 64, 128]
MOE_BATCHES = [16, 32, 64, 128, 256]
MOE_TRACES = ["real", "synthetic: uniform", "synthetic: skewed", "synthetic: fitted"]
EXPERTS_PER_REGION = [1, 2, 4, 8]
ROUTING_FILES = sorted(trace_path("expert_routing").glob("*/*.npz"))


def recorded_from(path) -> str:
    """The model a vendored routing trace was recorded from (its folder: ``qwen_b64``)."""
    return SHORT_NAMES[path.parent.name.split("_")[0]]


QWEN_FIT = fit_routing(load_routing(trace_path("expert_routing/qwen_b64/032_012.npz")), 128)


def routing_for(name: str, batch: int, trace: str) -> np.ndarray | None:
    """The ``[batch, k]`` expert ids of a trace choice (None for a dense FFN layer)."""
    cfg = model(name)
    if cfg.is_dense:
        return None
    if trace == "synthetic: fitted":
        return RoutingModel(cfg.experts, cfg.top_k, QWEN_FIT.skew, QWEN_FIT.correlation,
                            QWEN_FIT.active).generate(batch, seed=0)
    if trace != "real":
        skew = {"synthetic: uniform": 0.0, "synthetic: skewed": SKEW}[trace]
        return synthetic_routing(batch, cfg.experts, cfg.top_k, skew=skew, seed=0)
    path = real_trace(name)
    if path is None:
        raise ConfigError(f"no vendored routing trace was recorded from {name} (expected a "
                          "synthetic trace for a gallery model)")
    routing = load_routing(path, experts=cfg.experts)
    if batch > len(routing):
        raise ConfigError(f"the vendored trace {path.parent.name}/{path.name} has "
                          f"{len(routing)} tokens (expected batch <= {len(routing)}, or a "
                          "synthetic trace)")
    return routing[:batch]


def real_trace(name: str):
    """The vendored routing trace recorded from model ``name``, or None."""
    return next((p for p in ROUTING_FILES if name.startswith(recorded_from(p))), None)


model_config = model


@lru_cache(maxsize=64)
def moe_design(model="mixtral-8x7b", batch=64, trace="real", tiling="dynamic", tile=32,
               experts_per_region=1):
    """One MoE design as a Workload (cached: the Pareto view measures the same object)."""
    cfg = model_config(model)
    experts = cfg.experts + cfg.shared_experts if not cfg.is_dense else 1
    shared = experts_per_region > 1
    wl = moe_layer(model, batch=batch, routing=routing_for(model, batch, trace),
                   tiling=tiling, tile=tile if tiling == "static" else None,
                   time_multiplex=shared, regions=experts // experts_per_region if shared
                   else None, values=False)
    if trace != "real" and not cfg.is_dense:      # say it in the summary, next to the cycles
        wl.meta["notes"] = "; ".join(filter(None, [wl.meta.get("notes"),
                                                   f"{trace} routing, not a recorded trace"]))
    return wl


def moe_offers(values):
    """What each knob offers for the current choice (``explore(..., constraints=)``)."""
    cfg = model_config(values["model"])
    rules = {}
    if cfg.is_dense:
        rules["trace"] = f"{values['model']} is a dense FFN: no expert routing to trace"
        rules["experts_per_region"] = ([1], "a dense FFN has one expert pipeline")
    else:
        experts = cfg.experts + cfg.shared_experts
        rules["experts_per_region"] = ([e for e in EXPERTS_PER_REGION if experts % e == 0],
                                       f"groupings that divide the {experts} experts")
        real = real_trace(values["model"])
        if real is None:
            rules["trace"] = (MOE_TRACES[1:],
                              f"no routing trace was recorded from {values['model']}")
        elif values["trace"] == "real":
            tokens = len(load_routing(real))
            why = f"the real trace has {tokens} tokens; pick a synthetic trace for more"
            rules["batch"] = ([b for b in MOE_BATCHES if b <= tokens], why)
    if values["tiling"] == "dynamic":
        rules["tile"] = "dynamic tiling sizes each tile at run time: the tile does not apply"
    else:
        rules["tile"] = ([t for t in MOE_TILES if t <= values["batch"]],
                         "static tiles of at most the batch")
    return rules


def moe_label(tiling, tile, experts_per_region, **_):
    name = f"static tile {tile}" if tiling == "static" else "dynamic"
    return name + (f", {experts_per_region} experts/region" if experts_per_region > 1 else "")


routing_table({f"{p.parent.name}/{p.name}": (load_routing(p), MODELS[m].experts)
               for m in MODELS for p in ROUTING_FILES
               if m == recorded_from(p)})


# %% [markdown]
# The Pareto view compares the explored design with **plain static tiling at every tile size**
# (up to the batch) for the same model, batch and trace, simulated once per combination and
# then cached:

# %%
def moe_measure(values, result):
    wl = moe_design(**values)
    return {"x": moe_analysis(wl)["onchip_memory"], "y": result.cycles,
            "label": moe_label(**values), "note": wl.meta.get("notes")}


def moe_static_sweep(values):
    points = []
    for tile in [t for t in MOE_TILES if t <= values["batch"]]:      # tile_N <= batch
        wl = moe_design(values["model"], values["batch"], values["trace"], "static", tile, 1)
        points.append({"x": moe_analysis(wl)["onchip_memory"],
                       "y": wl.simulate(values=False).cycles, "label": f"tile {tile}"})
    return points


moe_view = ParetoView(moe_measure, lambda v: (v["model"], v["batch"], v["trace"]),
                      moe_static_sweep, x_label="on-chip memory (artifact preset)",
                      title="MoE layer: explored design vs static tiling")

# %% [markdown]
# Move a knob and everything below it follows: the summary (cycles, off-chip bytes, the
# simulator's peak on-chip bytes), the Pareto view and, underneath, the animation — press ▶ to
# play it (green busy, orange waiting for input, red blocked on output).

# %%
moe = explore(moe_design, model=model_choices(), batch=MOE_BATCHES, trace=MOE_TRACES,
              tiling=["static", "dynamic"], tile=MOE_TILES,
              experts_per_region=EXPERTS_PER_REGION, constraints=moe_offers, hw="paper",
              show_graph=False, values=False)
moe.panel.metrics.layout.display = "none"        # symbolic totals: sl.metrics(program)
moe_view.attach(moe)
moe

# %% [markdown]
# The same readout as text (it is also computed from the simulation, so it stays true whatever
# the simulator's version):

# %%
say(" ".join(moe_view.sentences()))

# %% [markdown]
# Knobs can also be set from code, as a user would move them — here sharing each pipeline
# between two experts (configuration time-multiplexing):

# %%
moe.panel.set(experts_per_region=2)
moe.panel.wait()
say(" ".join(moe_view.sentences()))

# %% [markdown]
# ## Attention decode: parallelization
#
# `attention_decode` builds one decode step of grouped-query attention (EXPERIMENTS.md §1.7):
# every request attends over its own KV cache, and parallel **regions** each process whole
# requests. The knobs:
#
# * **model** — its attention shape (query heads per KV head, head dimension). Attention that is
#   not grouped-query is approximated, and the readout says how: DeepSeek's multi-head latent
#   attention by its KV-cache bytes per token (one KV head of half the latent width serving all
#   query heads); gpt-oss is shown with its full-attention layers (`window=128` in
#   `attention_decode` models its sliding-window layers by capping the KV lengths);
# * **batch** and **trace** — a vendored KV-length trace from the Azure LLM inference trace
#   (named by the standard deviation of its lengths and its request range; the first `batch`
#   requests are used, so these offer only batches up to their number of requests), or a
#   seeded synthetic one (which also offers the larger batches);
# * **strategy** — *coarse* (fixed blocks of consecutive requests per region), *interleaved*
#   (round robin) or *dynamic* (each request goes to the region that becomes free first);
# * **regions** — how many copies of the attention pipeline.
#
# The Pareto view compares the explored design with the two **static** strategies at every
# region count; memory grows with the regions (each keeps its own buffers).

# %%
KV_FILES = {p.stem: p for p in sorted(trace_path("kv_lengths/b64").glob("*.npy"),
                                      key=lambda p: np.std(load_kv_lengths(p)))}
SYNTHETIC_KV = {"synthetic, equal lengths": {"mean": 1000, "std": 0},
                "synthetic, high variance": {"mean": 1000, "std": 1500}}
KV_CHOICES = [*KV_FILES, *SYNTHETIC_KV]
MEDIUM_KV = list(KV_FILES)[len(KV_FILES) // 2]           # the median standard deviation
REGIONS = [1, 2, 4, 8]
ATTENTION_BATCHES = [4, 8, 16, 32, 48, 64, 128, 256]
kv_table({name: load_kv_lengths(path) for name, path in KV_FILES.items()})


def kv_lengths_for(trace: str, batch: int) -> np.ndarray:
    if trace in SYNTHETIC_KV:
        return synthetic_kv_lengths(batch, **SYNTHETIC_KV[trace], seed=0)
    return load_kv_lengths(KV_FILES[trace])[:batch]


def attention_offers(values):
    """Batches up to a vendored trace's requests; a synthetic trace offers them all."""
    if values["trace"] in SYNTHETIC_KV:
        return {}
    requests = len(load_kv_lengths(KV_FILES[values["trace"]]))
    return {"batch": ([b for b in ATTENTION_BATCHES if b <= requests],
                      f"this trace has {requests} requests; pick a synthetic trace for more")}


@lru_cache(maxsize=64)
def attention_design(model="qwen3-30b-a3b", batch=64, trace=MEDIUM_KV, strategy="dynamic",
                     regions=4):
    return attention_decode(model, kv_lengths=kv_lengths_for(trace, batch), parallel=regions,
                            strategy=strategy, data="none")


def attention_memory(wl, result) -> int:
    """On-chip memory ("artifact" preset) at the simulated request -> region assignment."""
    assignment = (result.values or {}).get("assignment")
    bindings = attention_bindings(wl, assignment) if assignment is not None else wl.bindings
    return sl.metrics(wl.program, preset="artifact").evaluate(bindings)["onchip_memory"]


def attention_measure(values, result):
    wl = attention_design(**values)
    return {"x": attention_memory(wl, result), "y": result.cycles,
            "label": f"{values['strategy']}, {values['regions']} regions",
            "note": wl.meta.get("notes")}


def attention_static_sweep(values):
    points = []
    for strategy in ["coarse", "interleaved"]:
        for regions in REGIONS:
            if regions == 1 and strategy == "interleaved":
                continue                     # one region: both strategies send it everything
            wl = attention_design(values["model"], values["batch"], values["trace"], strategy,
                                  regions)
            result = wl.simulate(values=False)
            label = "one region" if regions == 1 else f"{strategy} ×{regions}"
            points.append({"x": attention_memory(wl, result), "y": result.cycles,
                           "label": label})
    return points


attention_view = ParetoView(attention_measure,
                            lambda v: (v["model"], v["batch"], v["trace"]),
                            attention_static_sweep, x_unit="KB", x_scale=1e3,
                            x_label="on-chip memory (artifact preset)",
                            title="Attention decode: explored design vs static strategies")

# %%
attention = explore(attention_design, model=model_choices(), batch=ATTENTION_BATCHES,
                    trace=KV_CHOICES, strategy=["coarse", "interleaved", "dynamic"],
                    regions=REGIONS, constraints=attention_offers, hw="attention",
                    show_graph=False, values=False)
attention.panel.metrics.layout.display = "none"
attention_view.attach(attention)
attention

# %%
say(" ".join(attention_view.sentences()))

# %% [markdown]
# ## Going further
#
# * The design functions above are plain Python: `moe_design(...)` and `attention_design(...)`
#   return a `Workload` (`.program`, `.simulate()`, `.metrics()`), so any point can be studied
#   in detail — `sl.metrics(w.program)` gives the symbolic formulas, `w.simulate(trace=True)` a
#   traced run for `step_lab.notebook.animate`.
# * `step_lab.dse.sweep` runs whole grids (in parallel processes or on a Dask cluster) and
#   `step_lab.dse.pareto` / `pid` score them; the figure notebooks show it at the paper's scale.
