"""Higher-order operators Map, Accum, Scan and FlatMap (STEP.md §4.4).

Each applies a hardware function of ``sl.fn`` (``step_lab/fn/``) per element. Common
parameters, stored in ``node.params`` for the metrics and the simulator:

* ``fn``: the function object (Accum/Scan: the update; ``init`` and ``rank`` beside it);
* ``compute_bw``: FLOPs per cycle, ``None`` (unset) or a number > 0 (§7.2; C = 0 with FLOPs is
  a ConfigError at simulation time, not here);
* ``write_back``: whether results are written to an on-chip memory unit (§7.2 timing only).

Behaviours yield ``(COMPUTE, flops)`` once per input element, after computing it. Buffer streams
are rejected (types A, B of §4.4). [Choice] a function may be passed as its class when it takes no
arguments (``Map(x, sl.fn.Exp)``, as the paper's listings write it).
"""
from __future__ import annotations

import math
import re
from typing import Any, TypeVar

import sympy

from ..errors import ShapeError, StepError
from ..fn import FlatMapFunction, Function, InitFunction, MapFunction, UpdateFunction
from ..ir.dtypes import Tile
from ..ir.ghost import Ghost, GhostCalls
from ..ir.node import COMPUTE, GET, PUT, Behaviour, BehaviourContext, Node
from ..ir.stream import Stream, StreamType
from ..ir.tokens import DONE, Stop
from ..symbolic import Dim, dim, free_symbols, product
from ._common import check_rank_arg, is_data

__all__ = ["Map", "Accum", "Scan", "FlatMap"]

_F = TypeVar("_F", bound=Function)


def _contains_buffer(dtype) -> bool:
    if dtype.is_buffer:
        return True
    return any(_contains_buffer(t) for t in getattr(dtype, "items", ()))


def fresh_symbol(stream: Stream, suffix: str) -> sympy.Symbol:
    """A deterministic fresh symbol named after ``stream``'s producer (STEP.md §2.5)."""
    base = stream.node.name
    if len(stream.node.outputs) > 1:
        base = f"{base}_{stream.port}"
    return dim(re.sub(r"\W", "_", f"{base}_{suffix}"))


class _HigherOrder(Node):
    group = "higher-order"
    cost_role = "compute"

    def _input(self, value) -> Stream:
        if isinstance(value, (list, tuple)):
            value = self._zip(list(value))
        stream = self._stream_arg(value, "in")
        if _contains_buffer(stream.dtype):
            self._fail("in", stream, "expected a non-buffer stream; higher-order operators do "
                       "not accept buffers (§4.4)", hint="Streamify the buffer first")
        return stream

    def _zip(self, streams: list) -> Stream:
        if not streams or not all(isinstance(s, Stream) for s in streams):
            self._fail("in", repr(streams)[:80], "expected a Stream or a non-empty list of Streams")
        if len(streams) == 1:
            return streams[0]
        from .shape import Zip  # shape.py sits beside this module; imported lazily
        return Zip(*streams)

    def _function(self, arg: str, fn: Any, kind: type[_F], example: str) -> _F:
        if isinstance(fn, type) and issubclass(fn, Function):
            try:
                fn = fn()
            except TypeError:
                self._fail(arg, fn.__name__, f"expected an instance, e.g. {example}")
        if not isinstance(fn, kind):
            self._fail(arg, repr(fn)[:80], f"expected a {kind.__name__} of sl.fn, e.g. {example}")
        return fn

    def _typed(self, arg: str, fn: Function, rule):
        """Evaluate a function's type rule, re-raising its ShapeError under this operator."""
        try:
            return rule()
        except ShapeError as e:
            self._fail(arg, fn.name, str(e))

    def _options(self, compute_bw, write_back) -> dict:
        if compute_bw is not None:
            if (isinstance(compute_bw, bool) or not isinstance(compute_bw, (int, float))
                    or not math.isfinite(compute_bw) or compute_bw <= 0):
                self._fail("compute_bw", repr(compute_bw),
                           "expected None or a number of FLOPs per cycle > 0")
        if not isinstance(write_back, bool):
            self._fail("write_back", repr(write_back), "expected True or False")
        return {"compute_bw": compute_bw, "write_back": write_back}

    def _apply(self, fn, *args):
        try:
            return fn(*args)
        except (ValueError, TypeError, IndexError) as e:
            raise StepError(f"{fn.name} failed on an element: {e}") from e

    def _evaluate(self, calls: GhostCalls, fn, args: tuple, flops_first: bool = False) -> tuple:
        """``(fn(*args), FLOPs of the element)``; for ghost arguments (a timing-only run) the
        result of the same arguments is taken from ``calls`` (one per behaviour, i.e. per run).
        ``flops_first``: count the FLOPs before applying (an update that grows its accumulator
        in place). NOTE: the behaviours call it only when the element is a ghost (a run with
        values pays one type check per element)."""
        key = calls.key(args)
        if key is not None:
            hit = calls.get(key)
            if hit is not None:
                return hit
        if flops_first:
            flops = fn.flops_of_value(*args)
            out = self._apply(fn, *args)
        else:
            out = self._apply(fn, *args)
            flops = fn.flops_of_value(*args)
        if key is not None:
            calls.put(key, args, out, flops)
        return out, flops


class Map(_HigherOrder):
    """``Map(in: Strm<A, a>, fn: A -> B) => Strm<B, a>``, same shape, tokens copied (§4.4).

    A list of streams is zipped first (``ops.Zip``) and the tuple is passed to ``fn``.
    """

    stages_matmul = True
    coalesces = True

    def _build(self, stream_or_list, fn, *, compute_bw=None, write_back: bool = False):
        stream = self._input(stream_or_list)
        fn = self._function("fn", fn, MapFunction, "sl.fn.Matmul()")
        out = self._typed("fn", fn, lambda: fn.out_type(stream.dtype))
        self.inputs = (stream,)
        self.params = {"fn": fn, **self._options(compute_bw, write_back)}
        self._out_types = (StreamType(out, stream.shape, stream.ragged),)

    def behaviour(self, ctx: BehaviourContext) -> Behaviour:
        fn, calls = self.params["fn"], GhostCalls()
        while True:
            tok = yield (GET, 0)
            if is_data(tok):
                if type(tok) is Ghost or type(tok) is tuple:       # a ghost (or ghosts zipped)
                    tok, flops = self._evaluate(calls, fn, (tok,))
                else:
                    out = self._apply(fn, tok)
                    flops = fn.flops_of_value(tok)
                    tok = out
                yield (COMPUTE, flops)
            yield (PUT, 0, tok)
            if tok is DONE:
                return


class _Reduce(_HigherOrder):
    """Shared construction of Accum and Scan."""

    def _build_reduce(self, stream, update, init, rank, compute_bw, write_back) -> tuple:
        stream = self._input(stream)
        update = self._function("update", update, UpdateFunction, "sl.fn.Add()")
        init = self._function("init", init, InitFunction, "sl.fn.Zero((1, 64))")
        check_rank_arg(self, "rank", rank, 1, stream.rank)
        self.inputs = (stream,)
        self.params = {"fn": update, "init": init, "rank": rank,
                       **self._options(compute_bw, write_back)}
        return stream, update, init


class Accum(_Reduce):
    """``Accum(in: Strm<A, a>, update: (A, R) -> R, init: () -> R, rank b)``, 1 <= b <= a (§4.4).

    Output ``Strm<R, a-b>`` of shape ``[D_a … D_b]``; R = ``update.accum_type(A, init type,
    count)`` with count = ``D_{b-1} · … · D_0``. If a reduced dim is ragged, count is a fresh
    symbol ``<producer>_n<b>`` (absorbing rule, §2.4). [Choice] a single reduced ragged dim is
    kept as its own symbol (no equation is formed). If R is a tile whose rows (or cols) grow
    along a ragged dim (``RetileRow`` over ``[…, D]`` gives ``2·D`` rows), that tile dim is an
    equation over a ragged dim, so it becomes the fresh symbol ``<producer>_rows<b>`` /
    ``_cols<b>`` (absorbing rule §2.4, dynamic tiles §3); a bare symbol is kept. On ``S_k`` with
    k >= b: emit acc, then
    ``S_{k-b}`` if k-b >= 1, reset; tokens with k < b are absorbed; an empty group emits init().
    """

    stages_matmul = True
    holds_accumulator = True

    def _build(self, stream, update, init, rank, *, compute_bw=None, write_back: bool = False):
        stream, update, init = self._build_reduce(stream, update, init, rank, compute_bw,
                                                  write_back)
        count = self._count(stream, rank)
        out = self._typed("update", update,
                          lambda: update.accum_type(stream.dtype, init.out_type(), count))
        out = self._absorb(stream, out, rank)
        shape = stream.shape[:len(stream.shape) - rank]
        self._out_types = (StreamType(out, shape, stream.ragged),)

    @staticmethod
    def _absorb(stream: Stream, out, rank: int):
        """A tile dim that is an equation over a ragged (or fresh) dim becomes a fresh symbol."""
        if not isinstance(out, Tile):
            return out
        fresh = {fresh_symbol(stream, f"n{rank}")}
        volatile = set(stream.ragged) | fresh

        def absorbed(d, suffix):
            if isinstance(d, int) or d.is_Symbol or not (free_symbols(d) & volatile):
                return d
            return fresh_symbol(stream, f"{suffix}{rank}")
        rows, cols = absorbed(out.rows, "rows"), absorbed(out.cols, "cols")
        if rows is out.rows and cols is out.cols:
            return out
        return Tile(rows, cols, out.elem)

    @staticmethod
    def _count(stream: Stream, rank: int) -> Dim:
        reduced = stream.shape[len(stream.shape) - rank:]
        ragged = [d for d in reduced if stream.type.is_ragged(d)]
        if not ragged:
            return product(reduced)
        if len(reduced) == 1 and reduced[0] in stream.ragged:
            return reduced[0]
        return fresh_symbol(stream, f"n{rank}")

    def behaviour(self, ctx: BehaviourContext) -> Behaviour:
        fn, init, b = self.params["fn"], self.params["init"], self.params["rank"]
        acc, open_group, calls = init(ctx.bindings), False, GhostCalls()
        while True:
            tok = yield (GET, 0)
            if tok is DONE:
                if open_group:
                    raise StepError(f"input ended inside a rank-{b} group (expected a closing "
                                    f"stop token of level >= {b} before Done)")
                yield (PUT, 0, DONE)
                return
            if type(tok) is Stop:
                if tok.level >= b:
                    yield (PUT, 0, acc)
                    if tok.level > b:
                        yield (PUT, 0, Stop(tok.level - b))
                    acc, open_group = init(ctx.bindings), False
                continue
            if type(tok) is Ghost or type(tok) is tuple:
                acc, flops = self._evaluate(calls, fn, (tok, acc), flops_first=True)
            else:
                flops = fn.flops_of_value(tok, acc)
                acc = self._apply(fn, tok, acc)
            open_group = True
            yield (COMPUTE, flops)


class Scan(_Reduce):
    """As Accum but emits the accumulator after every element (§4.4): output shape = input shape,
    dtype ``update.scan_type(A, init type)``, tokens copied, accumulator reset after each token
    of level >= rank."""

    holds_accumulator = True

    def _build(self, stream, update, init, rank, *, compute_bw=None, write_back: bool = False):
        stream, update, init = self._build_reduce(stream, update, init, rank, compute_bw,
                                                  write_back)
        out = self._typed("update", update, lambda: update.scan_type(stream.dtype,
                                                                     init.out_type()))
        self._out_types = (StreamType(out, stream.shape, stream.ragged),)

    def behaviour(self, ctx: BehaviourContext) -> Behaviour:
        fn, init, b = self.params["fn"], self.params["init"], self.params["rank"]
        acc, calls = init(ctx.bindings), GhostCalls()
        while True:
            tok = yield (GET, 0)
            if is_data(tok):
                if type(tok) is Ghost or type(tok) is tuple:       # a ghost (or ghosts zipped)
                    acc, flops = self._evaluate(calls, fn, (tok, acc), flops_first=True)
                else:
                    flops = fn.flops_of_value(tok, acc)
                    acc = self._apply(fn, tok, acc)
                yield (COMPUTE, flops)
                yield (PUT, 0, acc)
                continue
            yield (PUT, 0, tok)
            if tok is DONE:
                return
            if tok.level >= b:
                acc = init(ctx.bindings)


class FlatMap(_HigherOrder):
    """``FlatMap(in: Strm<A, a>, fn: A -> Strm<B, b>) => Strm<B, a+b>`` (§4.4).

    ``[D_a … D_1, D_0] => [D_a … D_1, D'_b, E_{b-1} … E_0]`` with ``D'_b = D_0 · E_b``, or a
    fresh symbol ``<producer>_fm`` if ``E_b`` is data-dependent or ``D_0`` ragged (ragged unless
    outermost). A data-dependent inner ``E_i`` becomes the fresh ragged symbol
    ``<producer>_fm<i>``. [Choice] ``E_b = 1`` (not data-dependent) keeps ``D_0`` as it is.
    Tokens: each element's result items (without Done); input ``S_k`` maps to ``S_{k+b}``
    (Rule M: it replaces the final ``S_b`` of the result just emitted).
    """

    def _build(self, stream, fn, *, compute_bw=None, write_back: bool = False):
        stream = self._input(stream)
        fn = self._function("fn", fn, FlatMapFunction, "sl.fn.RetileStreamify()")
        elem, eshape, data_dependent = self._typed("fn", fn, lambda: fn.out_type(stream.dtype))
        b = len(eshape) - 1
        ragged = set(stream.ragged)
        inner = []
        for i, (e, dd) in enumerate(zip(eshape[1:], data_dependent[1:], strict=True)):
            inner.append(fresh_symbol(stream, f"fm{b - 1 - i}") if dd else e)
        ragged.update(d for d, dd in zip(inner, data_dependent[1:], strict=True) if dd)
        outer, fresh = self._outer_dim(stream, eshape[0], data_dependent[0])
        if fresh and stream.rank >= 1:      # an outermost dim is always regular (§2.4)
            ragged.add(outer)
        self.inputs = (stream,)
        self.params = {"fn": fn, "b": b, **self._options(compute_bw, write_back)}
        shape = stream.shape[:-1] + (outer,) + tuple(inner)
        self._out_types = (StreamType(elem, shape, frozenset(ragged)),)

    @staticmethod
    def _outer_dim(stream: Stream, e_b: Dim, data_dependent: bool) -> tuple:
        """``(D'_b, is_fresh)``."""
        d0 = stream.shape[-1]
        if e_b == 1 and not data_dependent:
            return d0, False
        if data_dependent or stream.type.is_ragged(d0):
            return fresh_symbol(stream, "fm"), True
        return product((d0, e_b)), False

    def behaviour(self, ctx: BehaviourContext) -> Behaviour:
        fn, b = self.params["fn"], self.params["b"]
        hold = self.inputs[0].rank >= 1   # a rank-0 input has no stop token to merge with
        pending = None          # the closing S_b of the last element's result, not yet emitted
        while True:
            tok = yield (GET, 0)
            if is_data(tok):
                if pending is not None:
                    yield (PUT, 0, pending)
                out = self._apply(fn, tok)
                yield (COMPUTE, fn.flops_of_value(tok))
                pending = out.pop() if out and type(out[-1]) is Stop else None
                for item in out:
                    yield (PUT, 0, item)
                if pending is not None and not hold:
                    yield (PUT, 0, pending)
                    pending = None
            elif tok is DONE:
                if pending is not None:
                    yield (PUT, 0, pending)
                yield (PUT, 0, DONE)
                return
            else:
                pending = None  # Rule M: S_{k+b} replaces the result's closing S_b
                yield (PUT, 0, Stop(tok.level + b))
