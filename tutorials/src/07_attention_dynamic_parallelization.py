"""Tutorial 07 — attention and dynamic parallelization (source of the notebook of that name)."""

# %% [markdown]
# # 07 · Attention and dynamic parallelization on real KV lengths
#
# During LLM decoding every request of a batch attends over its own KV cache, and cache lengths
# vary a lot between requests. An SDA runs attention in several parallel **regions** (copies of
# the attention pipeline); which region serves which request decides how well the work is
# balanced. STeP can express a distribution that is **decided at run time**: each request goes to
# whichever region becomes free first.
#
# You will learn
#
# 1. how KV lengths turn into work, and how static strategies split it;
# 2. how the dynamic strategy works — a feedback cycle through `EagerMerge`;
# 3. how much it gains on real KV-length traces, and when.

# %%
#%load_ext step_lab
import numpy as np

from step_lab.notebook import explore
from step_lab.tutor import check, say, table
from step_lab.workloads import attention_decode, load_kv_lengths, trace_path
from step_lab.workloads.attention import TILE_ROWS, kv_tiles, region_of

# %% [markdown]
# ## 1 · Real KV lengths
#
# The vendored traces (from the Azure LLM inference trace, via the paper's artifact) give the KV
# length of each request in decode batches of 16. The file name carries the batch's standard
# deviation. We take a high-variance batch:

# %%
folder = trace_path("kv_lengths/b16")
files = sorted(p.name for p in folder.iterdir())
TRACE = folder / "conv_stdev1951_3727_3742.npy"
lengths = load_kv_lengths(TRACE)
tiles = kv_tiles(lengths)
print(f"{len(files)} traces of batch 16, e.g. {files[0]} … {files[-1]}")
print("KV lengths:", lengths.tolist())
print(f"KV tiles  : {tiles.tolist()}   (⌈(L+1)/{TILE_ROWS}⌉: the new token joins the cache)")
say(f"The longest request has **{tiles.max()}** tiles of {TILE_ROWS} rows, the shortest "
    f"**{tiles.min()}**: a **{tiles.max() / tiles.min():.0f}×** spread of work.")

# %% [markdown]
# ## 2 · Static strategies
#
# A region reads its requests' KV tiles one after the other, so its time is roughly its total
# number of tiles, and the batch finishes when the **busiest** region does. Two static
# strategies, with P = 4 regions:
#
# * **coarse**: request i goes to region ⌊i/16⌋ mod P — blocks of 16 requests (with a batch of 16,
#   all to region 0!);
# * **interleaved**: request i goes to region i mod P — round robin, regardless of length.

# %%
P = 4
coarse = region_of("coarse", len(lengths), P)
print("coarse assignment:", coarse.tolist())
coarse_load = np.bincount(coarse, weights=tiles, minlength=P).astype(int)
say(f"Tiles per region under **coarse**: {coarse_load.tolist()} — one region does all the work.")

# %% [markdown]
# **Exercise 07.tiles.** Compute the tiles per region under **interleaved** (`i mod 4`) as a list
# of 4 ints.

# %%
my_loads = ...
check("07.tiles", my_loads)

# %% solution
interleaved = np.arange(len(lengths)) % P
check("07.tiles", np.bincount(interleaved, weights=tiles, minlength=P).astype(int).tolist())

# %% [markdown]
# ## 3 · Dynamic parallelization: first free region wins
#
# The dynamic strategy (the paper's Fig. 16) assigns the first P requests round robin; after that,
# each request goes to the region that **finished first**. In STeP this is a feedback cycle:
#
# 1. each region emits one token whenever it has read all KV tiles of a request;
# 2. `EagerMerge` over those completion streams outputs, in *arrival order*, a selector naming the
#    region that just became free;
# 3. a `Partition`/`Reassemble` pair prepends the P initial round-robin choices to that stream;
# 4. the resulting selector drives the `Partition`s that hand each request's data to a region —
#    whose completion feeds step 1 again.
#
# The frontend cannot know that every request completes exactly once, so the program asserts
# the shapes with `.assume(...)`; the simulator checks them. The workload builder
# `attention_decode` builds all three strategies as real STeP programs (Qwen3-30B-A3B's attention:
# grouped-query, head dim from the model config):

# %%
work = attention_decode("qwen3-30b-a3b", kv_lengths=TRACE, parallel=P, strategy="dynamic",
                        data="none")
kinds = {}
for node in work.program.nodes:
    kinds[type(node).__name__] = kinds.get(type(node).__name__, 0) + 1
print(work.program)
print("operators:", dict(sorted(kinds.items())))

# %% [markdown]
# ## 4 · Simulating the three strategies
#
# Each strategy is simulated (timing only) on the same trace. For the dynamic one, the run also
# reports the assignment the hardware actually made (`values["assignment"]`).

# %%
runs = {}
for strategy in ["coarse", "interleaved", "dynamic"]:
    w = attention_decode("qwen3-30b-a3b", kv_lengths=TRACE, parallel=P, strategy=strategy,
                         data="none")
    runs[strategy] = w.simulate(values=False)
chosen = [next(iter(sel)) for sel in runs["dynamic"].values["assignment"]]
dynamic_load = np.bincount(chosen, weights=tiles, minlength=P).astype(int)
say(table([{"strategy": s, "cycles": r.cycles,
             "speed-up of dynamic": r.cycles / runs["dynamic"].cycles} for s, r in runs.items()]))
interleaved_load = np.bincount(np.arange(len(lengths)) % P, weights=tiles, minlength=P)
say(f"The dynamic run assigned the requests as {chosen}; tiles per region "
    f"**{dynamic_load.tolist()}** (interleaved: {interleaved_load.astype(int).tolist()}).")

# %% [markdown]
# The cycles differ more than the busiest region's tile count does. Interleaving has a second
# weakness: one distributor hands the requests out in a fixed order and must wait until the target
# region can accept the next request, so a region busy with a long request also holds up requests
# meant for idle regions. The dynamic strategy never waits for a particular region.
#
# ## 5 · When does it pay off?
#
# Balancing matters only when lengths differ. Sweep a few batches of increasing KV-length standard
# deviation and compare dynamic with interleaved:

# %%
picked = [files[i] for i in np.linspace(0, len(files) - 1, 5).astype(int)]
rows = []
for name in picked:
    L = load_kv_lengths(folder / name)
    cycles = {s: attention_decode("qwen3-30b-a3b", kv_lengths=L, parallel=P, strategy=s,
                                  data="none").simulate(values=False).cycles
              for s in ["interleaved", "dynamic"]}
    rows.append({"trace": name, "std of L": float(L.std()),
                 "interleaved / dynamic": cycles["interleaved"] / cycles["dynamic"]})
say(table(rows))
gain = [r["interleaved / dynamic"] for r in rows]
say(f"On the most uniform batch dynamic parallelization gains **{gain[0]:.2f}×**; on the more "
    f"varied ones between **{min(gain[1:]):.2f}×** and **{max(gain[1:]):.2f}×**. Variance is not "
    "the whole story: with 16 requests, *where* the long requests fall in the round robin "
    "decides how unbalanced interleaving is.")

# %% [markdown]
# ## 6 · What if…?
#
# Pick the strategy and the number of regions; the panel rebuilds the program for the same trace,
# simulates it and plays its occupancy. (The graph is hidden: the program has hundreds of nodes.)

# %%
panel = explore(attention_decode("qwen3-30b-a3b", kv_lengths=TRACE, parallel=P,
                                 strategy="interleaved", data="none"),
                strategy=["coarse", "interleaved", "dynamic"], parallel=[2, 4, 8],
                hw="attention", show_graph=False, values=False)
panel

# %% [markdown]
# ## Summary
#
# * A region's time follows its requests' KV tiles; the busiest region bounds the batch.
# * Coarse and interleaved distributions are fixed in advance; the dynamic one is a feedback cycle
#   (`EagerMerge` of completion tokens → selector → `Partition`), decided by timing at run time.
# * On real traces it pays off when KV lengths vary, by an amount that also depends on how the
#   long requests are spread over the batch.
#
# **Next:** [08 · Configuration time-multiplexing](08_time_multiplexing.ipynb).
