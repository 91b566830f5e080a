"""SwiGLU validation workload (EXPERIMENTS.md §3 Fig 8): traffic, values, arguments."""
import numpy as np
import pytest

import step_lab as sl
from step_lab.errors import ConfigError
from step_lab.workloads import swiglu
from step_lab.workloads.swiglu import FIG8_TILES_M, FIG8_TILES_N, swiglu_reference, swiglu_traffic

PAPER_MB = {(16, 16): 8.45, (16, 32): 7.41, (16, 64): 6.88, (16, 128): 6.62, (16, 256): 6.49,
            (32, 16): 5.31, (32, 32): 4.26, (32, 64): 3.74, (32, 128): 3.47, (32, 256): 3.34,
            (64, 16): 3.74, (64, 32): 2.69, (64, 64): 2.16, (64, 128): 1.90, (64, 256): 1.77}


@pytest.mark.parametrize("m", FIG8_TILES_M)
@pytest.mark.parametrize("n", FIG8_TILES_N)
def test_symbolic_and_simulated_traffic_equal_the_closed_form(m, n):
    wl = swiglu(tile_m=m, tile_n=n)
    formula = 4 * (64 * 256 * 512 // n + 3 * (64 // m) * 256 * 512 + 64 * 256)
    assert swiglu_traffic(64, 256, 512, m, n) == formula
    assert sl.metrics(wl.program).evaluate({})["offchip_traffic"] == formula
    assert wl.simulate(values=False).offchip_bytes == formula
    assert formula / 1e6 == pytest.approx(PAPER_MB[(m, n)], rel=0.01)


@pytest.mark.parametrize("tile_k", [None, 16])
def test_outputs_equal_the_numpy_swiglu(tile_k):
    wl = swiglu(batch=16, hidden=32, intermediate=64, tile_m=8, tile_n=16, tile_k=tile_k)
    res = wl.simulate()
    np.testing.assert_allclose(res.arrays["Y"], swiglu_reference(wl), rtol=1e-4, atol=1e-5)


def test_the_program_has_five_compute_operators_at_the_given_bandwidth():
    wl = swiglu(tile_m=32, tile_n=64)
    m = sl.metrics(wl.program)
    assert m.evaluate({})["allocated_compute"] == 5 * 4096 == wl.meta["allocated_compute"]
    assert m.evaluate({})["flops"] == wl.meta["flops"]
    assert wl.meta["label"] == "(32, 256, 64)"
    assert wl.hw.offchip_bytes_per_cycle == 256 and wl.hw.fifo_depth == 1


def test_the_layer_is_memory_bound_so_cycles_follow_traffic():
    small, large = (swiglu(tile_m=m, tile_n=n).simulate(values=False) for m, n in
                    ((16, 16), (64, 64)))
    assert small.cycles > 2 * large.cycles
    assert small.offchip_bytes / small.cycles > 200      # close to 256 B/cycle


@pytest.mark.parametrize("arg, value", [("tile_m", 24), ("tile_n", 0), ("tile_k", 300),
                                        ("tile_m", "16")])
def test_tiles_that_do_not_divide_are_rejected(arg, value):
    with pytest.raises(ConfigError, match=f"swiglu: {arg} = .*expected a divisor"):
        swiglu(**{arg: value})


def test_bad_sizes_are_rejected_and_knobs_list_the_fig8_tiles():
    with pytest.raises(ConfigError, match="swiglu: batch = 0"):
        swiglu(batch=0)
    wl = swiglu()
    assert wl.knobs == {"tile_m": [16, 32, 64], "tile_n": [16, 32, 64, 128, 256]}
    assert wl.rebuild(tile_n=32).params["tile_n"] == 32
