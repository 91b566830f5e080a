"""What-if notebook: the model gallery on the SDA (source of notebooks/whatif_deepseek_v3.ipynb)."""

# %% [markdown]
# # What if `DeepSeek-V3` ran on this SDA?
#
# The paper measures dynamic tiling and dynamic parallelization on Mixtral-8x7B and
# Qwen3-30B-A3B. This notebook asks the same two questions of current models — the **gallery**
# of public Hugging Face configs bundled with step_lab (`step_lab/data/models`, each file's model
# card named in `PROVENANCE.md` there) — and then puts a whole `deepseek-v3` decode step together.
#
# Every layer below is the real STeP program of the workload, simulated (timing only) on the
# paper's hardware model; memory and traffic are the programs' symbolic metrics. Where a model's
# layer is not what the workloads build, it is approximated, and the tables say so:
#
# * DeepSeek's **shared experts** are extra experts that every token visits (routing weight one);
#   its first layers, and every `llama-3.1-8b` layer, are **dense FFNs**, built as one expert
#   that receives all tokens;
# * DeepSeek's **multi-head latent attention** is modelled by its KV-cache bytes per token: one
#   KV head of half the latent width serving all query heads;
# * `gpt-oss-20b` alternates sliding-window and full attention; its full-attention layers are
#   shown (a sliding layer is `attention_decode(..., window=...)`, which caps the KV lengths).

# %%
import numpy as np
from bokeh.models import ColumnDataSource, FactorRange
from bokeh.palettes import Category10
from bokeh.plotting import figure

import step_lab as sl
from step_lab.notebook.figures import fmt, say, setup, show_plot
from step_lab.workloads import (
    GALLERY,
    RoutingModel,
    attention_decode,
    fit_kv_lengths,
    fit_routing,
    load_routing,
    model,
    moe_layer,
    scan_traces,
    trace_path,
)
from step_lab.workloads.attention import attention_bindings
from step_lab.workloads.moe import moe_analysis

BATCH = 64                   # tokens of the MoE layers, requests of the attention layers
STATIC_TILES = [16, 64]      # static tile sizes compared with dynamic tiling
REGIONS = 4                  # parallel attention regions
CLOCK_GHZ = 1.0              # an assumed clock, only to turn cycles into time
setup()


def table(head, rows):
    from IPython.display import HTML, display
    cells = "".join("<tr>" + "".join(f"<td style='padding:2px 8px'>{c}</td>" for c in row)
                    + "</tr>" for row in rows)
    heads = "".join(f"<th style='padding:2px 8px'>{h}</th>" for h in head)
    display(HTML(f"<table><tr>{heads}</tr>{cells}</table>"))


table(["model", "routed experts", "shared", "top-k", "hidden", "expert FFN", "dense layers",
       "attention", "query heads / KV head, head dim", "KV bytes / token / layer", "notes"],
      [[name, fmt(c.experts), fmt(c.shared_experts), fmt(c.top_k), fmt(c.hidden),
        fmt(c.moe_intermediate if not c.is_dense else c.dense_intermediate),
        f"{fmt(c.dense_layers)} of {fmt(c.layers)}", c.attention,
        f"{c.attention_shape[0]}, {c.attention_shape[1]}", fmt(c.kv_bytes_per_token()),
        c.notes or "–"] for name, c in ((n, model(n)) for n in GALLERY)])

# %% [markdown]
# ## The traffic: generators fitted to the real traces
#
# No routing trace was recorded from these models, so their routing is drawn from the generator
# fitted to the real `qwen3-30b-a3b` trace (expert-popularity skew, the fraction of experts in use
# and the token-to-token correlation; docs/TRACES.md), applied to each model's experts and top-k.
# The KV lengths come from the log-normal mixture fitted to all vendored Azure conversation traces.

# %%
QWEN = fit_routing(load_routing(trace_path("expert_routing/qwen_b64/032_012.npz")), 128)
KV_MODEL = fit_kv_lengths(np.concatenate(list(scan_traces().kv_lengths.values())))
KV = KV_MODEL.generate(BATCH, seed=0)
say(f"Routing: skew **{QWEN.skew}**, active fraction **{QWEN.active}**, correlation "
    f"**{QWEN.correlation}**. KV lengths of the batch: mean **{KV.mean():,.0f}**, "
    f"standard deviation **{KV.std():,.0f}**, longest **{KV.max():,}** tokens.")


def routing(cfg):
    if cfg.is_dense:
        return None
    return RoutingModel(cfg.experts, cfg.top_k, QWEN.skew, QWEN.correlation,
                        QWEN.active).generate(BATCH, seed=0)


# %% [markdown]
# ## MoE layers: static vs dynamic tiling
#
# For each model one FFN layer (the MoE layer; the dense FFN for `llama-3.1-8b`) with static
# tiling at each tile size and with dynamic tiling. Static tiling streams an expert's weights
# once per tile of its tokens and buffers whole tiles; dynamic tiling streams them once per
# active expert and sizes the tile at run time.

# %%
def moe_points(name):
    routes, points = routing(model(name)), []
    for tile in [*STATIC_TILES, None]:
        wl = moe_layer(name, batch=BATCH, routing=routes, values=False,
                       tiling="static" if tile else "dynamic", tile=tile)
        result, metrics = wl.simulate(values=False), moe_analysis(wl)
        points.append({"model": name, "design": f"static {tile}" if tile else "dynamic",
                       "cycles": result.cycles, "memory": metrics["onchip_memory"],
                       "traffic": metrics["offchip_traffic"]})
    return points


MOE = [p for name in GALLERY for p in moe_points(name)]
table(["model", "design", "cycles", "on-chip memory [MB]", "off-chip traffic [MB]"],
      [[p["model"], p["design"], fmt(p["cycles"]), f"{p['memory'] / 1e6:,.1f}",
        f"{p['traffic'] / 1e6:,.1f}"] for p in MOE])

# %%
def moe_plot(points):
    fig = figure(width=760, height=420, x_axis_type="log", y_axis_type="log",
                 title=f"One FFN layer per model at batch {BATCH}: static tiles vs dynamic",
                 x_axis_label="on-chip memory [MB]", y_axis_label="cycles per layer",
                 tools="pan,wheel_zoom,reset,hover",
                 tooltips=[("model", "@model"), ("design", "@design"), ("cycles", "@cycles"),
                           ("memory [MB]", "@mb")])
    colors = Category10[10]
    for i, name in enumerate(GALLERY):
        mine = [p for p in points if p["model"] == name]
        for dynamic, marker, size in ((False, "circle", 9), (True, "star", 16)):
            sel = [p for p in mine if (p["design"] == "dynamic") == dynamic]
            src = ColumnDataSource({"mb": [p["memory"] / 1e6 for p in sel],
                                    "cycles": [p["cycles"] for p in sel],
                                    "model": [name] * len(sel),
                                    "design": [p["design"] for p in sel]})
            fig.scatter("mb", "cycles", source=src, marker=marker, size=size,
                        color=colors[i % 10], legend_label=name)
    fig.legend.location = "top_left"
    fig.legend.click_policy = "hide"
    return fig


show_plot(moe_plot(MOE))


def tiling_verdict(name):
    mine = {p["design"]: p for p in MOE if p["model"] == name}
    dyn, small = mine["dynamic"], mine[f"static {STATIC_TILES[0]}"]
    return (f"`{name}`: dynamic tiling takes **{small['cycles'] / dyn['cycles']:.2f}×** fewer "
            f"cycles than static tile {STATIC_TILES[0]} with "
            f"**{dyn['memory'] / small['memory']:.2f}×** its on-chip memory")


say("\n".join(f"* {tiling_verdict(name)};" for name in GALLERY))

# %% [markdown]
# ## Attention decode: static vs dynamic parallelization
#
# One decode step of each model's attention over the batch's KV caches, split over parallel
# regions: coarse blocks of requests, round-robin (interleaved) or dynamic (each request to the
# region that becomes free first). Long and short caches make the static assignments uneven.

# %%
STRATEGIES = ["coarse", "interleaved", "dynamic"]


def attention_point(name, strategy):
    wl = attention_decode(name, kv_lengths=KV, parallel=REGIONS, strategy=strategy, data="none")
    result = wl.simulate(values=False)
    bindings = attention_bindings(wl, (result.values or {}).get("assignment"))
    memory = sl.metrics(wl.program, preset="artifact").evaluate(bindings)["onchip_memory"]
    return {"model": name, "strategy": strategy, "cycles": result.cycles, "memory": memory,
            "notes": wl.meta["notes"]}


ATTENTION = [attention_point(name, s) for name in GALLERY for s in STRATEGIES]
table(["model", "strategy", "cycles", "on-chip memory [KB]", "approximation"],
      [[p["model"], p["strategy"], fmt(p["cycles"]), f"{p['memory'] / 1e3:,.1f}",
        p["notes"] or "–"] for p in ATTENTION])

# %%
def speedup_plot(points):
    cycles = {(p["model"], p["strategy"]): p["cycles"] for p in points}
    factors = [(name, s) for name in GALLERY for s in ("coarse", "interleaved")]
    src = ColumnDataSource({"x": factors,
                            "speedup": [cycles[f] / cycles[(f[0], "dynamic")] for f in factors],
                            "color": [Category10[3][i % 2] for i in range(len(factors))]})
    fig = figure(x_range=FactorRange(*factors), width=760, height=380,
                 title=f"Dynamic parallelization, {REGIONS} regions, batch {BATCH}",
                 x_axis_label="model, static strategy compared",
                 y_axis_label="speedup of dynamic [× static cycles]",
                 tools="hover,reset", tooltips=[("speedup", "@speedup{0.00}")])
    fig.vbar(x="x", top="speedup", width=0.8, source=src, color="color")
    fig.xaxis.major_label_orientation = 1.0
    fig.y_range.start = 0
    return fig


show_plot(speedup_plot(ATTENTION))

# %% [markdown]
# ## A whole `DeepSeek-V3` decode step
#
# The model has dense FFN layers first and MoE layers after; every layer has attention. A decode
# step of the batch runs them one after another, so its cycles are the per-layer cycles times
# the layer counts (QKV projections, norms and the output head are not included). The static
# design uses the smallest static tile and coarse parallelization; the dynamic design uses
# dynamic tiling and dynamic parallelization.

# %%
V3 = model("deepseek-v3")
dense = {tile: moe_layer(V3, batch=BATCH, dense=True, values=False,
                         tiling="static" if tile else "dynamic", tile=tile)
         .simulate(values=False).cycles for tile in (STATIC_TILES[0], None)}
moe_c = {p["design"]: p["cycles"] for p in MOE if p["model"] == "deepseek-v3"}
attn_c = {p["strategy"]: p["cycles"] for p in ATTENTION if p["model"] == "deepseek-v3"}
moe_layers = V3.layers - V3.dense_layers
static_step = V3.dense_layers * (attn_c["coarse"] + dense[STATIC_TILES[0]]) \
    + moe_layers * (attn_c["coarse"] + moe_c[f"static {STATIC_TILES[0]}"])
dynamic_step = V3.dense_layers * (attn_c["dynamic"] + dense[None]) \
    + moe_layers * (attn_c["dynamic"] + moe_c["dynamic"])
say(f"`deepseek-v3`: **{V3.dense_layers}** dense and **{moe_layers}** MoE layers. One decode "
    f"step of **{BATCH}** requests: **{static_step:,}** cycles with the static design, "
    f"**{dynamic_step:,}** with the dynamic one (**{static_step / dynamic_step:.2f}×** faster). "
    f"At an assumed clock of {CLOCK_GHZ} GHz that is **{dynamic_step / CLOCK_GHZ / 1e6:,.1f} ms** "
    f"per step, **{BATCH / (dynamic_step / CLOCK_GHZ / 1e9):,.0f}** tokens per second. The MoE "
    f"layers' share of the dynamic step: "
    f"**{moe_layers * moe_c['dynamic'] / dynamic_step:.0%}**.")

# %% [markdown]
# ## Your model
#
# Any Hugging Face `config.json` works where a gallery name does: `model("path/to/config.json")`,
# `moe_layer("path/to/config.json", batch=...)`, `attention_decode(...)`, the explorer's model
# dropdown (`model_choices("path/to/config.json")`) and the command line
# (`step-lab simulate --workload moe --model path/to/config.json --batch 64 --report out.html`).
# Your own traces go in a folder laid out as docs/TRACES.md describes (`--traces DIR`).
