"""Fig 8 of the paper (EXPERIMENTS.md §3): the SwiGLU validation sweep on the VALIDATION preset.

The simulator must follow the authors' STeP simulator's cycle trend over the 15 tilings
(Pearson r >= 0.95, every point within ±20%; ranking: see the test) and the traffic must match
the closed form exactly. ``python benchmarks/fig8_validation.py`` prints the table.
"""
import numpy as np
import pytest

import step_lab as sl
from step_lab import fn, ops

B, D, F = 64, 256, 512
# (m, n) -> (reference STeP-simulator cycles, HDL cycles read off the figure)
REFERENCE = {
    (16, 16): (33289, 37000), (16, 32): (29400, 30800), (16, 64): (27503, 28400),
    (16, 128): (26993, 26900), (16, 256): (27509, 27000),
    (32, 16): (21223, 22600), (32, 32): (17097, 18100), (32, 64): (15277, 16200),
    (32, 128): (14773, 15000), (32, 256): (15305, 14300),
    (64, 16): (15218, 16500), (64, 32): (11188, 11700), (64, 64): (9537, 9700),
    (64, 128): (9260, 9300), (64, 256): (11088, 8700),
}


def swiglu(m: int, n: int) -> sl.Program:
    """x·Wg, x·Wu tiled (m, n), D untiled; SiLU ⊙; down projection accumulated over F/n."""
    prog = sl.Program(f"swiglu_{m}_{n}")
    X = prog.tensor("X", (B, D), "f32")
    Wg, Wu = prog.tensor("Wg", (D, F), "f32"), prog.tensor("Wu", (D, F), "f32")
    Wd = prog.tensor("Wd", (F, D), "f32")
    grid = (B // m, F // n)            # inner-product order: batch tiles outer, F tiles inner
    x = ops.LinearOffChipLoad(X, tile=(m, D), stride=(1, 0), tiled_out_shape=grid)
    wg = ops.LinearOffChipLoad(Wg, tile=(D, n), stride=(0, 1), tiled_out_shape=grid)
    wu = ops.LinearOffChipLoad(Wu, tile=(D, n), stride=(0, 1), tiled_out_shape=grid)
    wd = ops.LinearOffChipLoad(Wd, tile=(n, D), stride=(0, 1), tiled_out_shape=grid)
    gate = ops.Map([x, wg], fn.Matmul(), compute_bw=4096)
    up = ops.Map([x, wu], fn.Matmul(), compute_bw=4096)
    h = ops.Map([ops.Map(gate, fn.SiLU(), compute_bw=4096), up], fn.Mul(), compute_bw=4096)
    y = ops.Accum([h, wd], fn.MatmulAccumulate(), fn.Zero((m, D), "f32"), 1, compute_bw=4096)
    ops.LinearOffChipStore(y, prog.tensor("Y", (B, D), "f32", role="output"))
    return prog


def sweep() -> dict:
    return {mn: sl.simulate(swiglu(*mn), hw=sl.hw.VALIDATION, values=False)
            for mn in REFERENCE}


@pytest.fixture(scope="module")
def results():
    return sweep()


def test_traffic_matches_the_closed_form_exactly(results):
    for (m, n), r in results.items():
        assert r.offchip_bytes == 4 * (B * D * F // n + 3 * (B // m) * D * F + B * D)
        assert r.offchip_bytes == sl.metrics(swiglu(m, n)).evaluate({})["offchip_traffic"]


def test_cycles_track_the_reference_simulator(results):
    ours = np.array([results[mn].cycles for mn in REFERENCE])
    ref = np.array([c for c, _ in REFERENCE.values()])
    assert np.corrcoef(ours, ref)[0, 1] >= 0.95
    assert np.all(np.abs(ours / ref - 1) <= 0.20)
    rank_ours, rank_ref = np.argsort(np.argsort(ours)), np.argsort(np.argsort(ref))
    # EXPERIMENTS.md asks ±2 positions (the preset's one tile in flight per load; with 2 the
    # near-tied (32, 128) / (32, 256) schedules swap: ±3)
    assert np.max(np.abs(rank_ours - rank_ref)) <= 2


def test_cycles_correlate_with_the_hdl_model(results):
    ours = np.array([results[mn].cycles for mn in REFERENCE])
    hdl = np.array([h for _, h in REFERENCE.values()])
    assert np.corrcoef(ours, hdl)[0, 1] >= 0.95


def test_the_layer_is_memory_bound(results):
    for r in results.values():
        assert r.offchip_bandwidth_utilization > 0.6


def test_real_values_equal_numpy_for_one_tiling():
    prog = swiglu(32, 128)
    rng = np.random.default_rng(0)
    arrays = {"X": rng.standard_normal((B, D)), "Wg": rng.standard_normal((D, F)) / 16,
              "Wu": rng.standard_normal((D, F)) / 16, "Wd": rng.standard_normal((F, D)) / 16}
    arrays = {k: v.astype(np.float32) for k, v in arrays.items()}
    r = sl.simulate(prog, hw=sl.hw.VALIDATION, inputs=arrays)
    g, u = arrays["X"] @ arrays["Wg"], arrays["X"] @ arrays["Wu"]
    expected = (g / (1 + np.exp(-g)) * u) @ arrays["Wd"]
    np.testing.assert_allclose(r.arrays["Y"], expected, rtol=1e-3, atol=1e-3)
