"""Shape operators (STEP.md §4.5) and the shape assertion of §2.6.

They rewrite stop tokens only (Reshape may add padding elements). New dimensions follow the
absorbing rule of §2.4: an equation over a ragged dim yields a fresh symbol named after the input
stream's producer (deterministic, §2.5), equations over regular dims stay expressions.
"""
from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import sympy

from ..errors import ShapeError, StepError
from ..ir.dtypes import Bool, DType, Scalar, Selector, Tile, Tuple, numpy_dtype
from ..ir.node import Behaviour, BehaviourContext, Node
from ..ir.stream import Stream, StreamType, register_operator
from ..ir.tokens import DONE, Stop, encode
from ..symbolic import as_dim, ceil_div, dim, dims_equal, fmt, nonempty, product, try_int
from ._common import GET, PUT, check_int, check_rank_arg, is_data

__all__ = ["Flatten", "Reshape", "Promote", "Expand", "Zip", "Assume"]


def fresh_dim(stream: Stream, tag: str) -> sympy.Symbol:
    """Fresh symbol ``<producer>[_<port>]_<tag>``: rebuilding a program gives the same name."""
    base = stream.node.name + (f"_{stream.port}" if len(stream.node.outputs) > 1 else "")
    base = re.sub(r"\W", "_", base)
    return dim(f"{base}_{tag}" if base[:1].isalpha() or base[:1] == "_" else f"s{base}_{tag}")


def shown(tok: object) -> str:
    """A token for error messages: stop tokens and Done by name, data elements abbreviated."""
    if tok is DONE or type(tok) is Stop:
        return repr(tok)
    return f"data {repr(tok).replace(chr(10), ' ')[:40]}"


def _replace_dims(stype: StreamType, start: int, stop: int, new: tuple, ragged=()) -> StreamType:
    """``shape[start:stop]`` replaced by ``new``; ``ragged`` symbols added to the ragged set."""
    shape = stype.shape[:start] + tuple(new) + stype.shape[stop:]
    return StreamType(stype.dtype, shape, stype.ragged | frozenset(ragged))


class Flatten(Node):
    """Merge the dims of rank ``max_rank … min_rank`` into one (STEP.md §4.5).

    Typing: the merged dim is ``Π D_i`` (kept as an expression over static/dynamic-regular dims)
    or, if any merged dim is ragged, the fresh symbol ``<producer>_flat<min>_<max>`` (§2.4).
    [Choice] A fresh symbol that lands in the outermost position is regular (§2.4).
    Tokens: ``S_k`` unchanged for k <= min, ``S_min`` for min < k <= max (dropped if min = 0),
    ``S_{k-(max-min)}`` for k > max.
    """

    group = "shape"
    forwards_residency = "first_output"

    def _build(self, stream, min_rank, max_rank):
        stream = self._stream_arg(stream, "stream")
        a = stream.rank
        check_int(self, "min_rank", min_rank)
        check_rank_arg(self, "max_rank", max_rank, 0, a)
        if min_rank > max_rank:
            self._fail("min_rank", min_rank, f"expected min_rank <= max_rank = {max_rank}")
        self.inputs = (stream,)
        self.params = {"min": min_rank, "max": max_rank}
        start, stop = a - max_rank, a - min_rank + 1
        merged = stream.shape[start:stop]
        if min_rank == max_rank:
            self._out_types = (stream.type,)
        elif any(stream.type.is_ragged(d) for d in merged):
            new = fresh_dim(stream, f"flat{min_rank}_{max_rank}")
            self._out_types = (_replace_dims(stream.type, start, stop, (new,),
                                             () if start == 0 else (new,)),)
        else:
            self._out_types = (_replace_dims(stream.type, start, stop, (product(merged),)),)

    def behaviour(self, ctx: BehaviourContext) -> Behaviour:
        lo, hi = self.params["min"], self.params["max"]
        while True:
            tok = yield (GET, 0)
            if type(tok) is Stop and tok.level > lo:
                if tok.level > hi:
                    tok = Stop(tok.level - (hi - lo))
                elif lo == 0:
                    continue
                else:
                    tok = Stop(lo)
            yield (PUT, 0, tok)
            if tok is DONE:
                return


class Reshape(Node):
    """Split the dim of rank ``rank`` into chunks of ``chunk_size`` (STEP.md §4.5).

    Returns ``(data, padding)``; ``padding`` carries ``False`` for input elements and ``True``
    for pad elements, with the same tokens. ``pad`` is an init function (an object with
    ``out_type()`` returning exactly A, e.g. ``sl.fn.Zero((1, 64), "bf16")``) or a raw value of
    the stream's data type (a numpy tile of the tile's shape, a bool for ``Bool``, …).
    An init function is called as ``pad(bindings)`` for every pad element (§4.4 protocol).
    [Choice] A ragged split dim gives the fresh outer symbol ``<producer>_reshape<b>_<S>``
    (regular when it is the outermost dim).
    [Choice] Run-time checks: for rank >= 1 a run whose length is not a multiple of chunk_size,
    and for rank 0 a partial chunk without ``pad``, raise StepError (the stream broke its type).
    """

    group = "shape"
    forwards_residency = "first_output"

    def _build(self, stream, rank, chunk_size, pad=None):
        stream = self._stream_arg(stream, "stream")
        if stream.dtype.is_buffer:
            self._fail("stream", stream.type, "expected a non-buffer stream; Reshape cannot "
                       "split a stream of buffer references")
        b = check_rank_arg(self, "rank", rank, 0, stream.rank)
        size = check_int(self, "chunk_size", chunk_size, minimum=1)
        d_b = stream.type.dim_of_rank(b)
        self._check_legal(b, size, d_b, pad)
        self._pad = check_pad(self, stream.dtype, pad)
        self.inputs = (stream,)
        self.params = {"rank": b, "chunk_size": size, "pad": pad_label(pad)}
        at = stream.rank - b
        if stream.type.is_ragged(d_b):
            outer = fresh_dim(stream, f"reshape{b}_{size}")
            data = _replace_dims(stream.type, at, at + 1, (outer, size), (outer,) if at else ())
        else:
            data = _replace_dims(stream.type, at, at + 1, (ceil_div(d_b, size), size))
        self._out_types = (data, StreamType(Bool, data.shape, data.ragged))

    def _check_legal(self, b: int, size: int, d_b, pad) -> None:
        multiple = size == 1 or (isinstance(d_b, int) and d_b % size == 0)  # S=1: never partial
        if b >= 1 and not multiple:
            kind = "static" if isinstance(d_b, int) else "symbolic"
            self._fail("chunk_size", size, f"the dim of rank {b} is {kind} {fmt(d_b)}; for "
                       f"rank >= 1 it must be a static multiple of chunk_size",
                       hint="reshape rank 0 (with pad) or flatten first")
        if b == 0 and not multiple and pad is None:
            self._fail("pad", None, f"the innermost dim {fmt(d_b)} is not a static multiple of "
                       f"chunk_size {size}, so a pad value is required",
                       hint="pass pad=sl.fn.Zero(tile_shape) or a value of the stream's type")

    def behaviour(self, ctx: BehaviourContext) -> Behaviour:
        if self.params["rank"] == 0:
            yield from self._split_elements(ctx.bindings)
        else:
            yield from self._split_chunks()

    def _emit(self, tok, flag):
        yield (PUT, 0, tok)
        yield (PUT, 1, flag if is_data(tok) else tok)

    def _fill(self, n: int, bindings: dict):
        size = self.params["chunk_size"]
        if self._pad is None:
            raise StepError(f"a run ends with a partial chunk of {n} of {size} elements and "
                            "no pad was given (the input broke its declared shape)")
        for _ in range(size - n):
            yield from self._emit(self._pad(bindings), True)

    def _split_elements(self, bindings: dict):
        size = self.params["chunk_size"]
        n, pending = 0, False    # elements in the open chunk; a full chunk awaits its S1
        while True:
            tok = yield (GET, 0)
            if is_data(tok):
                if pending:
                    yield from self._emit(Stop(1), None)
                yield from self._emit(tok, False)
                n += 1
                pending = n == size
                n %= size
                continue
            if n:
                yield from self._fill(n, bindings)
            if tok is DONE:
                if n or pending:
                    yield from self._emit(Stop(1), None)
                yield from self._emit(DONE, None)
                return
            yield from self._emit(Stop(tok.level + 1), None)    # Rule M with the chunk's S1
            n, pending = 0, False

    def _split_chunks(self):
        b, size = self.params["rank"], self.params["chunk_size"]
        d_b = self.inputs[0].type.dim_of_rank(b)
        count = 0                # entries closed so far in the current run along D_b
        while True:
            tok = yield (GET, 0)
            if is_data(tok) or (tok is not DONE and tok.level < b):
                yield from self._emit(tok, False)
                continue
            count += tok is not DONE
            if tok is DONE or tok.level > b:           # the run along D_b ends here
                # (a D_b = 0 run may show one empty entry: §2.3 limitation)
                if count % size and d_b != 0:
                    raise StepError(f"a run of {count} entries along the dim of rank {b} is "
                                    f"not a multiple of chunk_size {size} (declared {d_b})")
                count = 0
                tok = tok if tok is DONE else Stop(tok.level + 1)
            elif count % size == 0:
                tok = Stop(b + 1)
            yield from self._emit(tok, False)
            if tok is DONE:
                return


def check_pad(node: Node, dtype: DType, pad: Any) -> Callable[..., Any] | None:
    """Check ``pad`` against the data type (§4.5 "pad type ≠ A"); return a value factory."""
    if pad is None:
        return None
    if callable(getattr(pad, "out_type", None)):
        try:
            made = pad.out_type()
        except (TypeError, StepError) as e:
            node._fail("pad", repr(pad), f"expected an init function taking no inputs ({e})")
        if not _same_dtype(made, dtype):
            node._fail("pad", repr(pad), f"expected an init function producing {dtype}, "
                       f"it produces {made}", hint="e.g. sl.fn.Zero((rows, cols), elem)")
        return pad
    value = _pad_value(node, dtype, pad)
    return lambda bindings=None: value


def _same_dtype(a, b) -> bool:
    if isinstance(a, Tile) and isinstance(b, Tile):
        return a.elem == b.elem and dims_equal(a.rows, b.rows) and dims_equal(a.cols, b.cols)
    if isinstance(a, Tuple) and isinstance(b, Tuple):
        return len(a.items) == len(b.items) and all(map(_same_dtype, a.items, b.items))
    return a == b


def _pad_value(node: Node, dtype: DType, x):
    """The canonical value of a raw pad ``x`` for ``dtype`` (ShapeError when it does not fit)."""
    bad = f"{type(x).__name__} {x!r:.40}"
    if isinstance(dtype, Tile):
        want = tuple(d if isinstance(d, int) else None for d in dtype.shape)
        arr = np.asarray(x) if isinstance(x, (np.ndarray, list, tuple)) else None
        if arr is None or arr.ndim != 2 or arr.dtype.kind not in "biuf" or any(
                w is not None and w != g for w, g in zip(want, arr.shape, strict=True)):
            node._fail("pad", bad, f"expected a numpy tile of shape {dtype.shape} for {dtype}",
                       hint=f"pass np.zeros({dtype.shape}) or "
                       f"sl.fn.Zero({dtype.shape}, {dtype.elem!r})")
        return arr.astype(numpy_dtype(dtype.elem))
    if isinstance(dtype, Scalar):
        is_bool = isinstance(x, (bool, np.bool_))
        if dtype.elem == "bool" and is_bool:
            return bool(x)
        if dtype.elem != "bool" and not is_bool and isinstance(x, (int, float, np.number)):
            return numpy_dtype(dtype.elem)(x).item()
        node._fail("pad", bad, f"expected a {'bool' if dtype.elem == 'bool' else 'number'} "
                   f"for {dtype} elements")
    if isinstance(dtype, Selector):
        bits = {x} if isinstance(x, int) and not isinstance(x, bool) else x
        if isinstance(bits, (set, frozenset)) and all(
                isinstance(i, int) and 0 <= i < dtype.n for i in bits):
            return frozenset(bits)
        node._fail("pad", bad, f"expected a set of indices in [0, {dtype.n}) for {dtype}")
    if isinstance(dtype, Tuple) and isinstance(x, (tuple, list)) and len(x) == len(dtype.items):
        return tuple(_pad_value(node, t, v) for t, v in zip(dtype.items, x, strict=True))
    node._fail("pad", bad, f"expected a value of the stream's data type {dtype}")


def pad_label(pad: object) -> str:
    """A short, content-dependent label of ``pad`` for display and fingerprints."""
    if isinstance(pad, np.ndarray):
        digest = hashlib.sha1(np.ascontiguousarray(pad).tobytes()).hexdigest()[:8]
        return f"array{pad.shape}#{digest}"
    return f"{pad!r:.40}"


class Promote(Node):
    """Add a dimension (STEP.md §4.5).

    Default: a new outermost dim ``1 if D_a > 0 else 0`` (``nonempty``); the final ``S_a`` becomes
    ``S_{a+1}`` (a = 0: ``S1`` before Done) and an empty stream stays ``Done``.
    ``rank=p`` (0 <= p <= a, the reference's generalisation) inserts a static 1 of rank p: stop
    tokens of level >= p rise by one and for p = 0 ``S1`` follows every element not already
    followed by a stop token.
    [Choice] ``rank=None`` (default) is the paper's Promote; ``rank`` outside 0 … a is an error.
    """

    group = "shape"
    forwards_residency = "first_output"

    def _build(self, stream, rank=None):
        stream = self._stream_arg(stream, "stream")
        self.inputs = (stream,)
        self.params = {"rank": rank}
        shape = stream.shape
        if rank is None:
            self._out_types = (StreamType(stream.dtype, (nonempty(shape[0]),) + shape,
                                          stream.ragged),)
            return
        p = check_rank_arg(self, "rank", rank, 0, stream.rank)
        at = len(shape) - p
        self._out_types = (StreamType(stream.dtype, shape[:at] + (1,) + shape[at:],
                                      stream.ragged),)

    def behaviour(self, ctx: BehaviourContext) -> Behaviour:
        p = self.params["rank"]
        if p is None:
            yield from self._outermost(self.inputs[0].rank)
        elif p == 0:
            yield from self._wrap_elements()
        else:
            while True:
                tok = yield (GET, 0)
                yield (PUT, 0, Stop(tok.level + 1) if type(tok) is Stop and tok.level >= p
                       else tok)
                if tok is DONE:
                    return

    def _outermost(self, a: int) -> Behaviour:
        held: object = None              # the last top-level S_a (or, for a = 0, "saw data")
        while True:
            tok = yield (GET, 0)
            if tok is DONE:
                if held is not None:
                    yield (PUT, 0, Stop(a + 1))
                yield (PUT, 0, DONE)
                return
            if a == 0:
                held = True
                yield (PUT, 0, tok)
                continue
            if held is not None:
                yield (PUT, 0, held)
                held = None
            if type(tok) is Stop and tok.level == a:
                held = tok
            else:
                yield (PUT, 0, tok)

    def _wrap_elements(self):
        pending = False
        while True:
            tok = yield (GET, 0)
            if type(tok) is Stop:
                yield (PUT, 0, Stop(tok.level + 1))
                pending = False
                continue
            if pending:
                yield (PUT, 0, Stop(1))
            yield (PUT, 0, tok)
            if tok is DONE:
                return
            pending = True


class Expand(Node):
    """Repeat each element over a reference's inner structure (STEP.md §4.5).

    ``Expand(stream, ref, rank=b)``: stream ``[D_a … D_b, 1 … 1]`` (b trailing static 1s), ref
    ``[D_a … D_b, E_{b-1} … E_0]`` ⇒ stream's dtype with ref's shape. ``Expand(stream,
    sizes=(n_{b-1}, …, n_0))``: static variant, output ``[D_a … D_b, n_{b-1} … n_0]``.
    [Choice] b = the number of trailing unit dims (the smallest stop level of the input, paper
    Fig. 5); ``rank=None`` infers it as the count of trailing static-1 dims (at most a).
    [Choice] ``ref`` and ``sizes`` are exclusive; with ``sizes``, ``rank`` may be omitted and
    otherwise must equal ``len(sizes)``.
    """

    group = "shape"
    forwards_residency = "first_output"
    holds_accumulator = True
    repeats_input = True

    def _build(self, stream, ref=None, rank=None, *, sizes=None):
        stream = self._stream_arg(stream, "stream")
        if (ref is None) == (sizes is None):
            self._fail("ref", ref, "expected exactly one of a reference stream `ref` or "
                       "static `sizes=(n_{b-1}, …, n_0)`")
        if sizes is not None:
            self._build_static(stream, rank, sizes)
            return
        ref = self._stream_arg(ref, "ref")
        if ref.rank != stream.rank:
            self._fail("ref", ref.type, f"expected a reference of the input's rank "
                       f"{stream.rank}, got rank {ref.rank}")
        b = self._unit_rank(stream, rank)
        for i in range(b, stream.rank + 1):
            mine, theirs = stream.type.dim_of_rank(i), ref.type.dim_of_rank(i)
            if not dims_equal(mine, theirs):
                self._fail("ref", ref.type, f"expected the dims of rank {stream.rank} … {b} to "
                           f"equal the input's {stream.type}; rank {i} is {fmt(theirs)} vs "
                           f"{fmt(mine)}", hint="use .assume(shape) if they are known equal")
        self.inputs = (stream, ref)
        self.params = {"rank": b}
        self._out_types = (StreamType(stream.dtype, ref.shape, ref.ragged),)

    def _unit_rank(self, stream: Stream, rank) -> int:
        units = 0
        while units < stream.rank and stream.type.dim_of_rank(units) == 1:
            units += 1
        if rank is None:
            if units == 0:
                self._fail("stream", stream.type, "expected trailing static 1 dims to expand "
                           "(the innermost dim is not 1)")
            return units
        b = check_rank_arg(self, "rank", rank, 1, stream.rank)
        if b > units:
            self._fail("stream", stream.type, f"expected the dims of rank {b - 1} … 0 to be "
                       f"static 1 for rank={b}")
        return b

    def _build_static(self, stream: Stream, rank, sizes) -> None:
        if not isinstance(sizes, (tuple, list)) or not sizes:
            self._fail("sizes", sizes, "expected a non-empty tuple of ints >= 1")
        for n in sizes:
            check_int(self, "sizes", n, minimum=1)
        if rank is not None and rank != len(sizes):
            self._fail("rank", rank, f"expected rank = len(sizes) = {len(sizes)}")
        if len(sizes) > stream.rank:
            self._fail("sizes", tuple(sizes), f"expected at most {stream.rank} sizes for an "
                       f"input of rank {stream.rank}")
        b = self._unit_rank(stream, len(sizes))
        self.inputs = (stream,)
        self.params = {"rank": b, "sizes": tuple(sizes)}
        at = len(stream.shape) - b
        self._out_types = (_replace_dims(stream.type, at, len(stream.shape), tuple(sizes)),)

    def behaviour(self, ctx: BehaviourContext) -> Behaviour:
        if "sizes" in self.params:
            yield from self._expand_static()
        else:
            yield from self._expand_ref()

    def _expand_ref(self):
        b = self.params["rank"]
        pos = 0                   # input token position, for messages
        while True:
            tok = yield (GET, 0)
            if is_data(tok):
                # stream the ref's b-chunk item by item (a streaming unit: the ref may also feed
                # a consumer of this output, e.g. Zip(Expand(q, K), K), through shallow FIFOs)
                while True:
                    t = yield (GET, 1)
                    if t is DONE or (type(t) is Stop and t.level >= b):
                        closing = t
                        break
                    yield (PUT, 0, tok if is_data(t) else t)
                tok = yield (GET, 0)
                pos += 1
            else:
                closing = yield (GET, 1)
            if tok is not closing:
                raise StepError(f"input token {pos} is {shown(tok)} but the reference "
                                f"{self.inputs[1].name!r} has {shown(closing)} there "
                                f"(expected the input's tokens to match the reference's "
                                f"closing tokens of level >= {b})")
            yield (PUT, 0, tok)
            if tok is DONE:
                return
            pos += 1

    def _expand_static(self):
        sizes, b = self.params["sizes"], self.params["rank"]
        while True:
            tok = yield (GET, 0)
            if is_data(tok):
                nxt = yield (GET, 0)
                if type(nxt) is not Stop or nxt.level < b:
                    raise StepError(f"element followed by {shown(nxt)} (expected a stop token "
                                    f"of level >= {b}: the input's {b} innermost dims are 1)")
                yield from _static_block(tok, sizes, nxt)
                continue
            yield (PUT, 0, tok)
            if tok is DONE:
                return


def _static_block(x, sizes: tuple, closing: Stop):
    """Emit ``x`` repeated over a static ``sizes`` block whose final token is ``closing``."""
    block = x
    for n in reversed(sizes):
        block = [block] * n
    toks = encode([block], len(sizes))[:-2]       # drop the block's S_b and the Done
    for t in toks:
        yield (PUT, 0, t)
    yield (PUT, 0, closing)


class Zip(Node):
    """Pair n >= 2 equally shaped streams element-wise into ``Tuple`` elements (STEP.md §4.5).

    Run-time check: the streams' tokens must be identical kinds at every position.
    [Choice] The output's ragged set is the union of the inputs' (their shapes are equal).
    """

    group = "shape"
    forwards_residency = "per_component"

    def _build(self, *streams):
        if len(streams) < 2:
            self._fail("streams", len(streams), "expected at least 2 streams to zip")
        streams = tuple(self._stream_arg(s, f"streams[{i}]") for i, s in enumerate(streams))
        first = streams[0]
        for i, s in enumerate(streams[1:], 1):
            if s.rank != first.rank:
                self._fail(f"streams[{i}]", s.type, f"expected rank {first.rank} like "
                           f"{first.name!r} {first.type}")
            for k, (x, y) in enumerate(zip(first.shape, s.shape, strict=True)):
                if not dims_equal(x, y):
                    self._fail(f"streams[{i}]", s.type, f"expected the shape of {first.name!r} "
                               f"{first.type}; entry {k} is {fmt(y)} vs {fmt(x)}",
                               hint="use .assume(shape) if the dims are known to be equal")
        ragged = frozenset().union(*(s.ragged for s in streams))
        self.inputs = streams
        self.params = {"n": len(streams)}
        self._out_types = (StreamType(Tuple(tuple(s.dtype for s in streams)), first.shape,
                                      ragged),)

    def behaviour(self, ctx: BehaviourContext) -> Behaviour:
        if len(self.inputs) == 2:
            return self._pairs()
        return self._tuples()

    def _pairs(self) -> Behaviour:
        """Two streams (the common case; ``_tuples`` is the general one, same results)."""
        pos = 0
        while True:
            a = yield (GET, 0)
            b = yield (GET, 1)
            if type(a) is Stop or a is DONE:
                if b is not a:
                    self._differ(pos, 1, a, b)
                yield (PUT, 0, a)
                if a is DONE:
                    return
            else:
                if type(b) is Stop or b is DONE:
                    self._differ(pos, 1, a, b)
                yield (PUT, 0, (a, b))
            pos += 1

    def _differ(self, pos: int, i: int, head: Any, t: Any) -> None:
        raise StepError(f"tokens differ at position {pos}: {self.inputs[0].name!r} "
                        f"has {shown(head)} but {self.inputs[i].name!r} has "
                        f"{shown(t)} (expected identical stop tokens)")

    def _tuples(self) -> Behaviour:
        pos = 0
        while True:
            toks = []
            for i in range(len(self.inputs)):
                toks.append((yield (GET, i)))
            head = toks[0]
            for i, t in enumerate(toks[1:], 1):
                if t is not head and (is_data(t) != is_data(head) or not is_data(t)):
                    self._differ(pos, i, head, t)
            yield (PUT, 0, tuple(toks) if is_data(head) else head)
            if head is DONE:
                return
            pos += 1


@register_operator
class Assume(Node):
    """Replace a stream's dims by known-equivalent ones (STEP.md §2.6); tokens pass through.

    Symbols ragged in the input stay ragged if they still occur in the new shape.
    Run-time check: every dim that is not ragged and evaluates to an int under the run's
    bindings must equal the counted number of children of every sub-tensor (and the top-level
    count); a mismatch raises StepError naming the stream, the dim, expected and actual counts.
    [Choice] Because an empty rank-k tensor and one holding a single empty child encode alike
    (§2.3), a dim assumed 0 also accepts that single empty child.
    """

    group = "shape"
    forwards_residency = "first_output"

    def _build(self, stream, shape):
        stream = self._stream_arg(stream, "stream")
        if not isinstance(shape, (tuple, list)):
            self._fail("shape", repr(shape), "expected a tuple of dims, outermost first")
        if len(shape) != len(stream.shape):
            self._fail("shape", repr(tuple(shape)), f"expected {len(stream.shape)} dims (same "
                       f"rank {stream.rank} as {stream.name!r} {stream.type})")
        try:
            dims = tuple(as_dim(d, what="assumed dim") for d in shape)
        except ShapeError as e:
            self._fail("shape", repr(tuple(shape)), str(e))
        self.inputs = (stream,)
        self.params = {"shape": dims}
        self._out_types = (StreamType(stream.dtype, dims, stream.ragged),)

    def behaviour(self, ctx: BehaviourContext) -> Behaviour:
        stype = self._out_types[0]
        expected = [None if stype.is_ragged(d) else try_int(d, ctx.bindings)
                    for d in (stype.dim_of_rank(i) for i in range(stype.rank + 1))]
        checker = _ShapeCounter(stype.rank, expected, self._mismatch)
        while True:
            tok = yield (GET, 0)
            checker.feed(tok)
            yield (PUT, 0, tok)
            if tok is DONE:
                return

    def _mismatch(self, rank: int, expected: int, actual: int):
        stype = self._out_types[0]
        where = "top-level tensors" if rank == stype.rank else f"entries of rank {rank}"
        raise StepError(f"stream {self.inputs[0].name!r} was assumed to have shape {stype} but "
                        f"it has {actual} {where} where dim {fmt(stype.dim_of_rank(rank))} = "
                        f"{expected} (expected {expected}, actual {actual})")


class _ShapeCounter:
    """Counts the children of every open sub-tensor and compares them with expected dims."""

    __slots__ = ("rank", "expected", "fail", "counts")

    def __init__(self, rank: int, expected: list, fail):
        self.rank, self.expected, self.fail = rank, expected, fail
        self.counts = [0] * (rank + 1)

    def feed(self, tok) -> None:
        counts = self.counts
        if tok is DONE:
            want = self.expected[self.rank]
            if want is not None and want != counts[self.rank]:
                self.fail(self.rank, want, counts[self.rank])
            return
        if type(tok) is not Stop:
            counts[0] += 1
            return
        if tok.level > self.rank:
            raise StepError(f"stop token {tok!r} in a rank-{self.rank} stream")
        closed = []                       # (level, children, may be an empty-tensor artefact)
        child_empty = False               # the child closed at level j-1 holds nothing
        for j in range(1, tok.level + 1):
            n = counts[j - 1]
            ambiguous = j >= 2 and n == 1 and child_empty
            closed.append((j - 1, n, ambiguous))
            child_empty = n == 0 or ambiguous
            counts[j - 1] = 0
            counts[j] += 1
        for level, n, ambiguous in reversed(closed):
            want = self.expected[level]
            if ambiguous and want == 0:
                return                    # its one empty child only encodes emptiness (§2.3)
            if want is not None and want != n:
                self.fail(level, want, n)
