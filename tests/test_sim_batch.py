"""Batched values of coalesced Map chains read from a linear load (sim/batch.py): the very
values, FLOPs, cycles and errors of the per-token path, and batching that stops (never lies)
when a tile is not the one it computed."""
import numpy as np
import pytest

import step_lab as sl
from step_lab import fn, ops
from step_lab.errors import StepError
from step_lab.ir.tokens import Stop
from step_lab.sim.batch import chain_batch, elementwise
from step_lab.sim.drivers import ReadDriver, chunk_size


def chain(shape, tile, fns, dtype="f32", **load):
    prog = sl.Program("batch")
    s = ops.LinearOffChipLoad(prog.tensor("X", shape, dtype), tile, **load)
    for f, bw in fns:
        s = ops.Map(s, f, compute_bw=bw)
    ops.LinearOffChipStore(s, "Y")
    return prog


def same(prog, data, **kw):
    a = sl.simulate(prog, inputs={"X": data}, trace=True, **kw)
    b = sl.simulate(prog, inputs={"X": data}, trace=True, coalesce=False, **kw)
    assert (a.cycles, a.per_node, a.channels, a.flops) == (b.cycles, b.per_node, b.channels,
                                                           b.flops)
    assert a.trace.to_dict() == b.trace.to_dict()
    assert a.arrays["Y"].dtype == b.arrays["Y"].dtype
    assert a.arrays["Y"].tobytes() == b.arrays["Y"].tobytes()      # bit for bit
    return a


FNS = [(fn.Exp(), 64), (fn.Scale(0.5), 16), (fn.SiLU(), 8), (fn.GELU(), 32)]
CASES = [  # (tensor shape, tile, load keywords): several chunks, gathers, column blocks
    ((64 * 200, 64), (64, 64), {}),                                     # 16 KB tiles: 4 chunks
    ((64 * 200, 64), (64, 64), {"stride": (0, 1), "tiled_out_shape": (3, 100)}),   # re-reads
    ((64 * 40, 64), (64, 64), {"stride": (2, 1), "tiled_out_shape": (20, 1)}),     # gathered
    ((64 * 40, 128), (64, 64), {}),                    # column blocks: not one stacked view
    ((6, 8), (2, 4), {}),
]


@pytest.mark.parametrize("shape, tile, load", CASES)
@pytest.mark.parametrize("dtype", ["f32", "f16"])
def test_batched_chains_give_the_per_token_values_bit_for_bit(shape, tile, load, dtype):
    rng = np.random.default_rng(5)
    data = (rng.standard_normal(shape) * 4).astype(np.float32 if dtype == "f32" else np.float16)
    data[0, 0] = 100.0                                  # exp overflows to inf, alike
    prog = chain(shape, tile, FNS, dtype, **load)
    with np.errstate(over="ignore"):
        same(prog, data)


def test_a_chain_batches_its_leading_elementwise_stages_only():
    data = np.random.default_rng(0).standard_normal((64 * 20, 64)).astype(np.float32)
    fns = [(fn.Exp(), 64), (fn.RowSum(), 64), (fn.Scale(2.0), 64)]   # RowSum is not one
    prog = chain((64 * 20, 64), (64, 64), fns)
    r = same(prog, data)
    expected = np.exp(data).reshape(20, 64, 64).sum(axis=2, keepdims=True) * 2.0
    assert np.allclose(r.arrays["Y"], expected.reshape(20 * 64, 1), rtol=1e-5)


class Picky(fn.Exp):
    """An elementwise function that fails on a tile holding 7 (as a user's might)."""

    elementwise = True

    def __call__(self, value):
        if (np.asarray(value) == 7).any():
            raise ValueError("seven")
        return np.exp(value)


def test_an_error_in_a_batched_stage_surfaces_at_its_tile_as_per_token():
    data = np.zeros((64 * 30, 64), np.float32)
    data[64 * 17 + 3, 5] = 7                          # tile 17 of chunk 1
    prog = chain((64 * 30, 64), (64, 64), [(fn.Scale(1.0), 64), (Picky(), 64)])
    messages = []
    for coalesce in (True, False):
        with pytest.raises(StepError, match="seven") as e:
            sl.simulate(prog, inputs={"X": data}, coalesce=coalesce)
        messages.append(str(e.value))
    assert messages[0] == messages[1]


def _driver(n_tiles=10, tile=(2, 4)):
    view = np.arange(n_tiles * tile[0] * tile[1], dtype=np.float32).reshape(n_tiles, *tile)

    class Tiles:
        stacked = view

        def __len__(self):
            return n_tiles

        def __getitem__(self, i):
            return view[i]

    template = [*range(n_tiles), Stop(1)]
    return ReadDriver(lambda: (template, Tiles(), ("charge",))), view


def emitted(driver):
    out = []
    try:
        while True:
            cmd = driver.send(None)
            if cmd[0] != "charge" and isinstance(cmd[2], np.ndarray):
                out.append(cmd[2])
    except StopIteration:
        return out


def test_stages_hand_out_results_only_for_the_tiles_they_computed():
    driver, view = _driver()
    batch = chain_batch(driver, [fn.Exp(), fn.Scale(3.0)], single_reader=True)
    assert batch is not None and driver.chunked
    tiles = emitted(driver)
    assert len(tiles) == 10 and all(np.shares_memory(t, view) for t in tiles)   # (views)
    first, second = batch.stages
    outs = [first.take(t) for t in tiles[:4]]
    assert all(np.array_equal(o, np.exp(t)) for o, t in zip(outs, tiles, strict=False))
    assert np.array_equal(second.take(outs[0]), np.exp(tiles[0]) * 3.0)
    assert first.flops == fn.Exp().flops_of_value(tiles[0]) and second.flops == 8
    assert first.take(tiles[4].copy()) is None          # not the tile it computed: off, for good
    assert batch.off and first.take(tiles[5]) is None and second.take(outs[1]) is None
    assert not driver.chunked and not driver.chunks


class Counting(fn.Exp):
    """Overrides ``__call__`` without declaring ``elementwise``: not batched."""

    calls = 0

    def __call__(self, value):
        Counting.calls += 1
        return np.exp(value)


def test_a_subclass_overriding_call_must_declare_elementwise_itself():
    assert elementwise(fn.Exp()) and elementwise(Picky()) and not elementwise(Counting())
    assert not elementwise(fn.RowSum()) and not elementwise(fn.Identity())
    prog = chain((64 * 20, 64), (64, 64), [(Counting(), 64), (fn.Scale(2.0), 64)])
    Counting.calls = 0
    same(prog, np.zeros((64 * 20, 64), np.float32))
    assert Counting.calls == 2 * 20                      # every tile, in both runs


def test_no_batch_without_a_single_reader_or_an_elementwise_head():
    driver, _ = _driver()
    assert chain_batch(driver, [fn.Exp()], single_reader=False) is None
    assert chain_batch(driver, [fn.RowSum(), fn.Exp()], single_reader=True) is None
    assert chain_batch(object(), [fn.Exp()], single_reader=True) is None
    assert not driver.chunked


def test_a_read_driver_emits_the_same_tiles_chunked_or_not():
    plain, _ = _driver(n_tiles=50)
    chunked, _ = _driver(n_tiles=50)
    chunked.chunked = True
    a, b = emitted(plain), emitted(chunked)
    assert len(a) == len(b) == 50 and all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert sum(len(c[2]) for c in chunked.chunks) == 50


def test_chunks_hold_about_a_megabyte():
    assert chunk_size(1024) == 1024 and chunk_size(16 * 1024) == 64
    assert chunk_size(64 * 1024 * 1024) == 1 and chunk_size(4) == 4096


def test_timing_only_runs_do_not_batch_and_match():
    prog = chain((64 * 20, 64), (64, 64), FNS)
    a = sl.simulate(prog, values=False)
    b = sl.simulate(prog, values=False, coalesce=False)
    assert (a.cycles, a.per_node, a.flops) == (b.cycles, b.per_node, b.flops)


class NnzScale(fn.Scale):
    """FLOPs that depend on the values: overriding flops_of_value drops the inherited claim."""

    def flops_of_value(self, value):
        return int(np.count_nonzero(value))


class OptOut(fn.Exp):
    elementwise = False


def test_overriding_flops_or_opting_out_is_not_batched_and_costs_per_tile():
    assert not elementwise(NnzScale(2.0)) and not elementwise(OptOut())
    data = np.zeros((64 * 20, 64), np.float32)
    data[64 * 5:, :3] = 1.0                               # the first tiles hold no nonzero
    r = same(chain((64 * 20, 64), (64, 64), [(NnzScale(2.0), 1)]), data)
    assert r.flops == 15 * 64 * 3
    same(chain((64 * 20, 64), (64, 64), [(OptOut(), 4)]), data)


def test_an_empty_tensor_runs_alike():
    prog = sl.Program("empty")
    s = ops.LinearOffChipLoad(prog.tensor("X", (sl.dim("N"), 64), "f32"), (64, 64))
    ops.LinearOffChipStore(ops.Map(s, fn.Exp(), compute_bw=64), "Y")
    kw = dict(inputs={"X": np.zeros((0, 64), np.float32)}, bindings={"N": 0})
    a, b = sl.simulate(prog, **kw), sl.simulate(prog, coalesce=False, **kw)
    assert (a.cycles, a.per_node) == (b.cycles, b.per_node)


def test_gathered_chunks_leave_views_of_the_tensor_in_the_fifos():
    driver, view = _driver(n_tiles=12)
    driver.setup = (lambda s=driver.setup: (lambda: (lambda t: ([5, 1, 7, 1, Stop(1)], *t[1:]))(
        s()))())
    chain_batch(driver, [fn.Exp()], single_reader=True)
    tiles = emitted(driver)
    assert len(tiles) == 4 and all(np.shares_memory(t, view) for t in tiles)
    (pos, arr, chunk), = driver.chunks
    assert chunk[0] is tiles[0] and np.array_equal(arr, view[[5, 1, 7, 1]])
