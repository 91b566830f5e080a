"""Shared helpers of the notebook tests (imported by the other test_notebook_* modules)."""
from __future__ import annotations

import numpy as np

from step_lab.notebook.occupancy import Fifo, Occupancy, Unit

# A tiled GEMM Y = X·W with a symbolic row count M and two knobs (the quickstart's cell).
GEMM_CELL = """\
M, K, N = sl.dim("M"), 128, 512
t = knob("tile", 64, choices=[16, 32, 64, 128])
c = knob("col_tile", 128, choices=[64, 128, 256])
X = prog.tensor("X", (M, K), "bf16")
W = prog.tensor("W", (K, N), "bf16")
x = ops.LinearOffChipLoad(X, tile=(t, K))
w = ops.LinearOffChipLoad(W, tile=(K, c), ref=x, stride=(1,), tiled_out_shape=(N // c,))
y = ops.Map([ops.Expand(x, sizes=(N // c,)), ops.Flatten(w, 1, 2)], fn.Matmul(),
            compute_bw=1024)
rows = ops.Accum(y, fn.RetileCol(), fn.Empty((t, 0)), 1)
ops.LinearOffChipStore(rows, prog.tensor("Y", (M, N), "bf16", role="output"))
bindings = {"M": knob("M", 256, choices=[64, 128, 256, 512])}
"""

# The same GEMM without knobs (static display path).
STATIC_CELL = (GEMM_CELL.replace('knob("tile", 64, choices=[16, 32, 64, 128])', "64")
               .replace('knob("col_tile", 128, choices=[64, 128, 256])', "128")
               .replace('knob("M", 256, choices=[64, 128, 256, 512])', "256"))


def gemm_builder(values: dict):
    """The GEMM as a plain builder function (values: tile, col_tile, M)."""
    import step_lab as sl
    from step_lab.notebook.cell import StepCell
    cell = StepCell(GEMM_CELL, "gemm", {"sl": sl})
    return cell.build(values)


def synthetic_occupancy(units: int = 6, cycles: int = 400, fifos: int = 3, seed: int = 0,
                        label: str = "synthetic") -> Occupancy:
    """Random but reproducible change events for ``units`` units and ``fifos`` FIFOs."""
    rng = np.random.default_rng(seed)
    unit_list = [Unit(f"node{i}", "Map", "higher-order" if i % 2 else "memory", i // 3, i % 3)
                 for i in range(units)]
    events = []
    for u in range(units):
        t = int(rng.integers(0, 10))
        while t < cycles:
            events.append((t, u, int(rng.integers(0, 4))))
            t += int(rng.integers(1, 40))
    fifo_events = [(int(t), q, int(rng.integers(0, 3)))
                   for q in range(fifos) for t in np.sort(rng.integers(0, cycles, 30))]
    hbm = [(int(t), int(t) + 4, 256) for t in rng.integers(0, cycles, 200)]
    return Occupancy(cycles, unit_list, events, [Fifo(f"fifo{q}", 2) for q in range(fifos)],
                     fifo_events, hbm, 1024.0, label)


def test_synthetic_occupancy_is_reproducible():
    a, b = synthetic_occupancy(seed=3), synthetic_occupancy(seed=3)
    assert np.array_equal(a.unit_events, b.unit_events)
    assert a.unit_events.shape[1] == 3 and len(a.units) == 6
