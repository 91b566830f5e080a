"""Build and simulation times of every gallery model's layers at batch 64 (timing only).

    python benchmarks/gallery.py            # one row per model and layer: nodes, seconds, cycles

Measures what tests/test_gallery.py runs (so its time can be judged) and what the notebook
notebooks/whatif_deepseek_v3.ipynb simulates. Times are wall-clock seconds of this machine.
"""
from __future__ import annotations

import time

from step_lab.workloads import GALLERY, attention_decode, model, moe_layer
from step_lab.workloads.synthetic import fitted_models

BATCH = 64


def _timed(build):
    start = time.perf_counter()
    wl = build()
    built = time.perf_counter()
    result = wl.simulate(values=False)
    return wl, built - start, time.perf_counter() - built, result.cycles


def main() -> None:
    kv = fitted_models(kv_only=True)["kv_lengths"].generate(BATCH, seed=0)
    print(f"{'model':<18} {'layer':<22} {'nodes':>6} {'build s':>8} {'sim s':>7} {'cycles':>12}")
    for name in GALLERY:
        cfg = model(name)
        layers = {"ffn dynamic": lambda name=name: moe_layer(name, batch=BATCH, tiling="dynamic"),
                  "ffn static 32": lambda name=name: moe_layer(name, batch=BATCH,
                                                               tiling="static", tile=32,
                                                               values=False)}
        if cfg.dense_layers and not cfg.is_dense:
            layers["dense ffn dynamic"] = lambda name=name: moe_layer(name, batch=BATCH,
                                                                      dense=True,
                                                                      tiling="dynamic")
        layers["attention dynamic"] = lambda name=name: attention_decode(
            name, kv_lengths=kv, parallel=4, strategy="dynamic", data="none")
        for label, build in layers.items():
            wl, t_build, t_sim, cycles = _timed(build)
            print(f"{name:<18} {label:<22} {len(wl.program.nodes):>6} {t_build:>8.2f} "
                  f"{t_sim:>7.2f} {cycles:>12,}")


if __name__ == "__main__":
    main()
