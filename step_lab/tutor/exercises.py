"""The exercises of the tutorials, in course order (checked by ``step_lab.tutor.check``).

Every checker takes the learner's answer, computes the expected one from the package
(``tutor.programs``) and either returns a success message or raises ``Wrong`` with a diagnosis.
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ..ir import Program, Stream, Tile
from ..ir.tokens import decode, encode
from ..symbolic import dim, fmt, free_symbols
from . import programs as ref
from .compare import (
    check_symbols,
    compare_nested,
    compare_tokens,
    evaluate_answer,
    same_dim,
    shape_text,
)
from .display import Wrong, as_tokens, parse_tokens, scalars, show

__all__ = ["Exercise", "EXERCISES"]


@dataclass(frozen=True)
class Exercise:
    id: str
    title: str
    task: str
    checker: Callable[[object], str]


EXERCISES: dict = {}


def exercise(id: str, title: str, task: str):
    def register(checker):
        EXERCISES[id] = Exercise(id, title, task, checker)
        return checker
    return register


# -- 01 streams and stop tokens ------------------------------------------------------------------
@exercise("01.encode", "Encode two levels of stop tokens",
          f"write the tokens of the rank-2 stream holding the matrices {ref.ENCODE_TENSORS} "
          "(a string such as '1 S1 Done' or a list with sl.S(k) and sl.DONE).")
def _encode(answer) -> str:
    expected = encode(ref.ENCODE_TENSORS, 2)
    compare_tokens(as_tokens(answer), expected, rank=2)
    return (f"{show(expected)}. Each row ends with S1, each matrix with S2, and where a row "
            "and its matrix end together only S2 is written (rule E2).")


@exercise("01.decode", "Decode a stream with an empty row",
          f"write the nested list (list of matrices, each a list of rows) of the rank-2 stream "
          f"{ref.DECODE_TOKENS}.")
def _decode(answer) -> str:
    expected = decode(parse_tokens(ref.DECODE_TOKENS), 2)
    compare_nested(answer, expected, ("matrix", "row", "element"))
    return (f"{expected}: `S1 S2` closes the row [1, 2] and then an empty row before closing "
            "the matrix; the stream is rank 2, so its last matrix ends with S2.")


# -- 02 shapes -----------------------------------------------------------------------------------
def _flatten_shapes() -> dict:
    """``{(min, max): shape}`` of every Flatten of tutorial 02's stream x [2, 3, 4]."""
    from ..ops import Flatten
    prog = Program("flatten_options")
    x = prog.input("x", Tile(1, 1, "f32"), (2, 3, 4))
    return {(lo, hi): Flatten(x, lo, hi).shape for lo in range(3) for hi in range(lo, 3)}


@exercise("02.flatten", "Flatten the right ranks",
          "x = prog.input('x', sl.Tile(1, 1, 'f32'), (2, 3, 4)); build from x a stream of shape "
          "[6, 4] and pass that stream.")
def _flatten(answer) -> str:
    if not isinstance(answer, Stream):
        raise Wrong(f"pass the Stream your operator returned, not a {type(answer).__name__}.")
    options = _flatten_shapes()
    target = options[(1, 2)]
    if answer.shape == target:
        return (f"{answer}: Flatten(x, 1, 2) merged the dims of ranks 2 and 1 (2 and 3) into "
                f"one of {target[0]}; rank 0, the innermost, is untouched.")
    same = [k for k, shape in options.items() if shape == answer.shape and k[0] != k[1]]
    guess = (f": that is Flatten(x, {same[0][0]}, {same[0][1]}). Ranks count from the innermost "
             "dim (rank 0 = the 4 columns); which ranks hold the 2 and the 3?" if same else ".")
    raise Wrong(f"your stream has shape {shape_text(answer.shape)} but the exercise expects "
                f"{shape_text(target)}{guess}")


@exercise("02.padding", "Count Reshape's padding",
          "x has shape [X] (X = sl.dim('X')); Reshape(x, 0, 4, pad=...) cuts it into chunks of 4. "
          "Give, as an expression of X, the number of padding elements it adds.")
def _padding(answer) -> str:
    check_symbols(answer, {"X"}, "your answer")
    if not free_symbols(answer):
        raise Wrong(f"your answer is the constant {answer}, but the padding depends on X: "
                    "write it with X = sl.dim('X') (sl.ceil_div(X, 4) is ⌈X/4⌉).")
    for n in range(0, 13):
        got, want = evaluate_answer(answer, {"X": n}), ref.padding_count(n)
        if got != want:
            last = "there is no chunk at all" if n == 0 else \
                f"the last chunk holds {n % 4 or 4} real element(s) of 4"
            raise Wrong(f"at X = {n} your expression gives {got}, but Reshape(x, 0, 4) adds "
                        f"{want} padding element(s): {last}.")
    return (f"{fmt(answer)} matches the padding stream for X = 0…12: the data stream has "
            "⌈X/4⌉ chunks of 4, so 4·⌈X/4⌉ − X of its elements are padding.")


@exercise("02.ragged", "The absorbing rule",
          "x has shape [B, 3, D0] where D0 is ragged (B = sl.dim('B'), D0 = sl.dim('D0')). "
          "Give the shape of Flatten(x, 1, 2) as a tuple of dims.")
def _ragged(answer) -> str:
    from ..ops import Flatten
    B, D0 = dim("B"), dim("D0")
    prog = Program("ragged")
    x = prog.input("x", Tile(1, 1, "f32"), (B, 3, D0), ragged=[D0])
    target, other = Flatten(x, 1, 2).shape, Flatten(x, 0, 1).shape
    if not isinstance(answer, (tuple, list)):
        raise Wrong(f"give the shape as a tuple of dims such as (B, D0), not {answer!r:.60}.")
    if len(answer) != len(target):
        raise Wrong(f"Flatten(x, 1, 2) merges two dims into one, so the rank drops from 2 to 1 "
                    f"and the shape has {len(target)} entries; yours has {len(answer)}.")
    for d in answer:
        check_symbols(d, {"B", "D0"}, f"the entry {d!r}")
    names = {"B", "D0"}
    if not same_dim(answer[1], D0, names):
        raise Wrong(f"the innermost entry should stay as it was (you wrote {fmt(answer[1])}): "
                    "Flatten(x, 1, 2) merges the dims of ranks 2 and 1, B and 3, and leaves "
                    "rank 0 untouched.")
    if not same_dim(answer[0], target[0], names):
        raise Wrong(f"{fmt(answer[0])} is not the merged dim: Flatten(x, 1, 2) merges the dims "
                    "of ranks 2 and 1 into their product. Neither is ragged, so the product is "
                    "kept as an equation (the absorbing rule only replaces products that "
                    "involve a ragged dim).")
    return (f"{shape_text(target)}. By contrast Flatten(x, 0, 1) multiplies 3 by the ragged D0, "
            f"so the absorbing rule gives it a fresh ragged symbol: {shape_text(other)}.")


# -- 03 operators --------------------------------------------------------------------------------
@exercise("03.partition", "Predict a Partition output",
          f"rows {ref.PARTITION_ROWS} (shape [4, 2]) are partitioned to 2 outputs by the "
          f"selectors {[sorted(s) for s in ref.PARTITION_SELECTORS]}; write the tokens of "
          "output 1.")
def _partition(answer) -> str:
    out0, out1 = ref.partition_outputs()
    got = as_tokens(answer)
    if len(got) == len(out0) and show(got) == show(out0) and show(out0) != show(out1):
        raise Wrong("those are the tokens of output 0: a row goes to output i when bit i of its "
                    "selector is set, so output 1 gets the rows whose selector contains 1.")
    dropped = ref.PARTITION_ROWS[ref.PARTITION_SELECTORS.index(set())]
    if any(not isinstance(t, (bool, str)) and t in dropped for t in got if _is_data(t)):
        raise Wrong(f"the row {dropped} has an empty selector {{}}: it goes to no output at all "
                    "(Partition drops it).")
    compare_tokens(got, out1, rank=1)
    return (f"{show(out1)}: the row with selector {{0,1}} is multicast to both outputs, the one "
            "with the empty selector is dropped, and each output is 'flat' (its own [X_i, 2]).")


def _is_data(tok) -> bool:
    from ..ir.tokens import DONE, Stop
    return tok is not DONE and type(tok) is not Stop


@exercise("03.sumsq", "Sum of squares per row",
          "build a program with input stream 'x' = prog.input('x', sl.Tile(1, 1, 'f32'), (3, 4)) "
          "and output 'y' holding the sum of squares of each row (shape [3]); pass the Program.")
def _sumsq(answer) -> str:
    from ..interpret import interpret
    prog = answer.program if isinstance(answer, Stream) else answer
    if not isinstance(prog, Program):
        raise Wrong(f"pass your Program (or its output stream), not a {type(prog).__name__}.")
    _require(prog.inputs, "x", "input stream", "prog.input('x', sl.Tile(1, 1, 'f32'), (3, 4))")
    _require(prog.outputs, "y", "output", "prog.output('y', stream)")
    shape = prog.outputs["y"].inputs[0].shape
    if shape != (3,):
        raise Wrong(f"output 'y' has shape {shape_text(shape)} but one value per row means "
                    f"[3]" + _reduction_hint(shape))
    x = np.random.default_rng(1).uniform(-2, 2, (3, 4)).round(2)
    run = interpret(prog, inputs={"x": x.tolist()})
    got = np.array([float(v) for v in scalars(run.values["y"])])
    want = (x ** 2).sum(axis=1)
    if np.allclose(got, want, rtol=1e-4, atol=1e-4):
        return f"on rows {x.tolist()} your program gives {got.round(4).tolist()}, as numpy does."
    for label, value in (("the plain row sums: square the elements first", x.sum(axis=1)),
                         ("the squares of the row sums: square the elements before summing",
                          x.sum(axis=1) ** 2)):
        if np.allclose(got, value, rtol=1e-4, atol=1e-4):
            raise Wrong(f"your program computes {label}.")
    row = int(np.argmax(np.abs(got - want)))
    raise Wrong(f"on the test rows {x.tolist()}, row {row} gives {got[row]:g} but its sum of "
                f"squares is {want[row]:g}.")


def _require(table: dict, name: str, what: str, how: str) -> None:
    if name not in table:
        raise Wrong(f"your program has no {what} named {name!r} (it has {sorted(table)}); "
                    f"declare it with {how}.")


def _reduction_hint(shape) -> str:
    if len(shape) == 2:
        return ": the rows are not reduced yet (Accum with rank 1 folds each row into one value)."
    return "."


# -- 04 metrics ----------------------------------------------------------------------------------
@exercise("04.traffic", "Off-chip traffic by hand",
          "for the README's gemv (x[B,256] in rows of [1,256], W[256,512] loaded once per row, "
          "y[B,512] stored; bf16) write the total off-chip traffic in bytes as an expression of "
          "B = sl.dim('B').")
def _traffic(answer) -> str:
    from ..analysis.metrics import metrics
    check_symbols(answer, {"B"}, "your answer")
    m = metrics(ref.gemv_program())
    per_node = {node: cells["offchip_traffic"] for node, cells in m.by_node.items()
                if cells["offchip_traffic"] != 0}
    if same_dim(answer, m.offchip_traffic, {"B"}):
        parts = " + ".join(f"{fmt(v)} ({m.ops[n]} {n})" for n, v in per_node.items())
        return f"{fmt(m.offchip_traffic)} bytes = {parts}."
    if not free_symbols(answer):
        raise Wrong(f"your answer is the constant {answer}, but every load and store here moves "
                    "data for each of the B rows: the traffic grows with B.")
    b = next(b for b in (1, 2, 3, 5, 8) if evaluate_answer(answer, {"B": b})
             != evaluate_answer(m.offchip_traffic, {"B": b}))
    at = {"B": b}
    gap = evaluate_answer(m.offchip_traffic, at) - evaluate_answer(answer, at)
    for node, value in per_node.items():
        term = evaluate_answer(value, at)
        if gap == term:
            raise Wrong(f"you are missing the traffic of {node} ({m.ops[node]}): every "
                        "off-chip operator moves ‖stream‖ · |tile| bytes.")
        if gap == -term:
            raise Wrong(f"you counted the traffic of {node} ({m.ops[node]}) twice.")
    raise Wrong(f"at B = {b} your expression gives {evaluate_answer(answer, at)} bytes, but the "
                f"program moves {evaluate_answer(m.offchip_traffic, at)}: add up, for each "
                "load and store, (elements in its stream) × (bytes per tile).")


# -- 05 simulation -------------------------------------------------------------------------------
@exercise("05.fifo", "Size a FIFO to avoid a deadlock",
          "in tutorial 05's normalise(rows=3, cols=8), give the smallest FIFO depth of stream x "
          "(prog.set_fifo_depth(x, depth)) with which the simulation finishes.")
def _fifo(answer) -> str:
    from ..errors import DeadlockError
    from ..sim import simulate
    if isinstance(answer, bool) or not isinstance(answer, (int, np.integer)) or answer < 1:
        raise Wrong(f"give the depth as an int >= 1, not {answer!r:.60}.")
    need = ref.smallest_fifo_depth(3, 8)
    if answer < need:
        try:
            simulate(ref.normalise_program(3, 8, int(answer)),
                     inputs={"x": np.ones((3, 8)).tolist()})
        except DeadlockError as exc:
            first = str(exc).splitlines()[1].strip()
            raise Wrong(f"with depth {answer} the simulation still deadlocks: {first}") from None
    if answer > need:
        raise Wrong(f"depth {answer} works, but so does depth {answer - 1}: the exercise asks "
                    "for the smallest, and every FIFO slot costs on-chip storage.")
    return (f"depth {need}: x's FIFO towards the Expand and the Zip must hold a whole row while "
            "the Accum, which reads the same broadcast, finishes the row sum.")


# -- 06 MoE --------------------------------------------------------------------------------------
TILES = (8, 16, 32, 64)


@exercise("06.tile", "Static tile versus dynamic tiling",
          f"on the mini Mixtral layer and the real routing trace, give the smallest static tile "
          f"in {TILES} whose off-chip traffic is no larger than dynamic tiling's.")
def _tile(answer) -> str:
    if answer not in TILES:
        raise Wrong(f"pick one of the tile sizes {TILES} (got {answer!r:.60}).")
    dynamic = ref.moe_traffic("dynamic")
    fits = [t for t in TILES if ref.moe_traffic("static", t) <= dynamic]
    best = fits[0]
    if answer < best:
        raise Wrong(f"with tile {answer} static tiling moves {ref.moe_traffic('static', answer):,}"
                    f" B against {dynamic:,} B for dynamic tiling: an expert with X_i tokens "
                    f"streams its weights ⌈X_i/{answer}⌉ times instead of once.")
    if answer > best:
        raise Wrong(f"tile {answer} matches dynamic tiling's traffic, but a smaller tile already "
                    "does; bigger static tiles pad more rows (wasted FLOPs and buffers).")
    return (f"tile {best}: every expert's token count fits in one tile, so each expert streams "
            f"its weights once ({dynamic:,} B), as dynamic tiling does without any padding.")


# -- 07 attention --------------------------------------------------------------------------------
@exercise("07.tiles", "Work per region under interleaving",
          "for the KV-length trace of tutorial 07, 4 regions and the interleaved strategy "
          "(request i -> region i mod 4), give the list of KV tiles each region reads.")
def _tiles(answer) -> str:
    from ..workloads import load_kv_lengths, trace_path
    want = ref.region_tiles("interleaved", 4)
    got = _int_list(answer, len(want))
    if got == want:
        ratio = max(want) / np.mean(want)
        return (f"{want}: the busiest region reads {max(want)} tiles, {ratio:.2f}× the average "
                "— the others wait for it at the end of the batch.")
    lengths = load_kv_lengths(trace_path(ref.KV_TRACE))
    owner = np.arange(len(lengths)) % 4
    no_new = np.bincount(owner, weights=-(-lengths // 32), minlength=4).astype(int).tolist()
    if got == no_new:
        raise Wrong("close: each request has ⌈(L+1)/32⌉ tiles, not ⌈L/32⌉ — the new token is "
                    "appended to the cache before attention reads it.")
    if got == ref.region_tiles("coarse", 4):
        raise Wrong("that is the coarse assignment (blocks of 16 requests); interleaving sends "
                    "request i to region i mod 4.")
    r = next(i for i, (g, w) in enumerate(zip(got, want, strict=True)) if g != w)
    raise Wrong(f"region {r}: you have {got[r]} tiles; sum ⌈(L+1)/32⌉ over the requests "
                f"i with i mod 4 = {r}.")


def _int_list(answer, n: int) -> list:
    if not isinstance(answer, (list, tuple, np.ndarray)) or len(answer) != n:
        raise Wrong(f"give a list of {n} ints, one per region (got {answer!r:.60}).")
    return [int(v) for v in answer]


# -- 08 time-multiplexing ------------------------------------------------------------------------
REGIONS = (1, 2, 4, 8, 16, 32)


@exercise("08.regions", "How few regions are enough?",
          f"for the mini Qwen3 layer on the real routing trace, give the smallest number of "
          f"time-multiplexed regions in {REGIONS} whose cycles stay within 10% of the fully "
          "spatial design (one region per expert).")
def _regions(answer) -> str:
    if answer not in REGIONS:
        raise Wrong(f"pick one of {REGIONS} (got {answer!r:.60}).")
    spatial = ref.time_multiplex_cycles(None)
    slow = {r: ref.time_multiplex_cycles(r) / spatial - 1 for r in REGIONS}
    best = next(r for r in REGIONS if slow[r] <= 0.10)
    if answer < best:
        raise Wrong(f"with {answer} region(s) the layer takes {slow[answer]:.0%} more cycles than "
                    "the spatial design: too few regions serialise the active experts.")
    if answer > best:
        raise Wrong(f"{answer} regions stay within 10% ({slow[answer]:+.1%}), but fewer regions "
                    "do too — and every region you drop frees its compute and buffers.")
    return (f"{best} regions: {slow[best]:+.1%} cycles against the spatial design, which "
            f"configures one region for each expert, idle or not.")


# -- 09 your own program -------------------------------------------------------------------------
ROWS = 32
MIN_TRAFFIC = 2 * (ROWS * 128 + 128 * 256 + ROWS * 256)


@exercise("09.silu_gemm", "Write, check and tune a program",
          "write a program storing Y = SiLU(X @ W) for X[M,128], W[128,256] (bf16, "
          "M = sl.dim('M')) into the tensor 'Y', with at most twice the minimal off-chip "
          f"traffic at M = {ROWS}; pass the Program.")
def _silu_gemm(answer) -> str:
    from ..analysis.metrics import metrics
    from ..interpret import interpret
    if not isinstance(answer, Program):
        raise Wrong(f"pass your Program, not a {type(answer).__name__}.")
    for name, role in (("X", "input"), ("W", "input"), ("Y", "output")):
        if name not in answer.tensors:
            extra = ", role='output'" if role == "output" else ""
            raise Wrong(f"your program has no tensor {name!r} (it has {sorted(answer.tensors)}); "
                        f"declare it with prog.tensor({name!r}, shape, 'bf16'{extra}).")
    bindings = {s.name: ROWS for s in free_symbols(*answer.tensors["X"].shape)}
    rng = np.random.default_rng(2)
    X, W = rng.standard_normal((ROWS, 128)), rng.standard_normal((128, 256)) / 11
    run = interpret(answer, inputs={"X": X, "W": W}, bindings=bindings)
    if "Y" not in run.arrays:
        raise Wrong("nothing was stored into 'Y': end with ops.LinearOffChipStore(stream, Y).")
    _compare_silu(np.asarray(run.arrays["Y"], dtype=float), X @ W)
    traffic = metrics(answer).evaluate(bindings)["offchip_traffic"]
    if traffic > 2 * MIN_TRAFFIC:
        heavy = max(_traffic_by_node(answer, bindings).items(), key=lambda kv: kv[1])
        raise Wrong(f"the values are right, but the program moves {traffic:,} B at M = {ROWS}, "
                    f"more than twice the minimum {MIN_TRAFFIC:,} B (each tensor moved once). "
                    f"The heaviest node is {heavy[0]} with {heavy[1]:,} B: let each W read serve "
                    "more rows (a bigger row tile).")
    return (f"correct values, and {traffic:,} B of off-chip traffic at M = {ROWS} "
            f"({traffic / MIN_TRAFFIC:.2f}× the minimum).")


def _compare_silu(got: np.ndarray, product: np.ndarray) -> None:
    want = ref.silu(product)
    if got.shape != want.shape:
        raise Wrong(f"Y has shape {list(got.shape)} but should be {list(want.shape)}.")
    if np.allclose(got, want, rtol=1e-2, atol=1e-2):
        return
    if np.allclose(got, product, rtol=1e-2, atol=1e-2):
        raise Wrong("Y equals X @ W: the SiLU is missing (Map(stream, fn.SiLU())).")
    r, c = np.unravel_index(int(np.argmax(np.abs(got - want))), got.shape)
    raise Wrong(f"Y[{r}, {c}] is {got[r, c]:.4g} but SiLU(X @ W) gives {want[r, c]:.4g} there "
                "(checked with random X and W).")


def _traffic_by_node(prog, bindings: dict) -> dict:
    from ..analysis.metrics import metrics
    m = metrics(prog)
    return {node: evaluate_answer(cells["offchip_traffic"], bindings)
            for node, cells in m.by_node.items() if cells["offchip_traffic"] != 0}
