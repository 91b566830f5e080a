"""Dynamic routing and merging operators (STEP.md §4.3): Partition, Reassemble, EagerMerge.

Partition splits a stream by a selector stream, Reassemble gathers chunks back under a selector,
EagerMerge merges chunks in arrival order and reports their origin. Reassemble and EagerMerge
choose among inputs with the ``ANY`` command: untimed drivers serve the first input holding a
complete chunk (from a start position), the timed simulator serves by arrival time.
"""
from __future__ import annotations

import re

from ..errors import StepError
from ..ir.dtypes import DType, Selector, Tile
from ..ir.node import ANY, GET, PUT, Behaviour, BehaviourContext, Node
from ..ir.stream import Stream, StreamType
from ..ir.tokens import DONE, Stop
from ..symbolic import Dim, as_dim, dim, dims_equal, free_symbols, shapes_equal
from ._common import check_int, put_all, put_done, shape_str, take_chunk

__all__ = ["Partition", "Reassemble", "EagerMerge"]

_PLACEHOLDER = "_unnamed"   # prefix of fresh symbols until the node has its name


# -- helpers ---------------------------------------------------------------------------------
def symbol_prefix(text: str) -> str:
    """A valid identifier made from a node or stream name (``'ep0.1'`` -> ``'ep0_1'``)."""
    ident = re.sub(r"\W", "_", text)
    return ident if ident.isidentifier() else f"_{ident}"


def _show(tok) -> str:
    if tok is DONE or type(tok) is Stop:
        return repr(tok)
    return "a data element"


def _selected(value, n: int) -> list[int]:
    """The sorted indices of a selector value; StepError unless it is a set within [0, n)."""
    if not isinstance(value, (frozenset, set)):
        raise StepError(f"selector element {value!r:.40} is not a set of indices "
                        f"(expected a Selector[{n}] value such as frozenset({{0}}))")
    bad = [i for i in value if isinstance(i, bool) or not isinstance(i, int) or not 0 <= i < n]
    if bad:
        raise StepError(f"selector element {set(value)} names index {bad[0]!r} "
                        f"(expected indices 0 <= i < {n})")
    return sorted(value)


def _stream_list(node: Node, streams, arg: str) -> tuple[Stream, ...]:
    if isinstance(streams, Stream) or not isinstance(streams, (list, tuple)):
        node._fail(arg, f"{type(streams).__name__} {streams!r:.60}",
                   "expected a list of streams", hint=f"wrap a single stream: [{arg}]")
    if not streams:
        node._fail(arg, "[]", "expected at least one input stream (n >= 1)")
    return tuple(node._stream_arg(s, f"{arg}[{i}]") for i, s in enumerate(streams))


def _common_rank(node: Node, streams, arg: str) -> int:
    ranks = [s.rank for s in streams]
    if len(set(ranks)) > 1:
        listing = ", ".join(f"{arg}[{i}] rank {r}" for i, r in enumerate(ranks))
        node._fail(arg, listing, "expected inputs of one common rank")
    return ranks[0]


def _merge_dim(values, fresh: str) -> tuple[Dim | None, bool]:
    """One dim from the inputs' dims and whether it is fresh: kept if all are equal, the fresh
    symbol if a non-static one differs, ``None`` if two static values clash."""
    first = values[0]
    if all(dims_equal(v, first) for v in values):
        return first, False
    if len({v for v in values if isinstance(v, int)}) > 1:
        return None, False
    return dim(fresh), True


def _merged_dtype(node: Node, streams, arg: str, prefix: str) -> DType:
    """The common dtype; dynamic tiles of one element type may differ in symbolic rows/cols."""
    first = streams[0].dtype
    if all(s.dtype == first for s in streams):
        return first
    dtypes = [s.dtype for s in streams]
    if all(isinstance(t, Tile) and t.elem == first.elem for t in dtypes):
        rows, _ = _merge_dim([t.rows for t in dtypes], f"{prefix}_rows")
        cols, _ = _merge_dim([t.cols for t in dtypes], f"{prefix}_cols")
        if rows is not None and cols is not None:
            return Tile(rows, cols, first.elem)
    listing = ", ".join(f"{arg}[{i}] {t}" for i, t in enumerate(dtypes))
    node._fail(arg, listing, "expected inputs of one dtype (dynamic tiles may differ only in "
                             "symbolic rows/cols)")


def _merged_inner(node: Node, streams, arg: str, prefix: str) -> tuple[tuple, set]:
    """Inner dims ``[D_{a-1} … D_0]`` common to all inputs and the ragged symbols among them."""
    shapes = [s.shape for s in streams]
    rank = len(shapes[0]) - 1
    inner: list = []
    ragged: set = set()
    for j in range(1, rank + 1):
        values = [sh[j] for sh in shapes]
        merged, fresh = _merge_dim(values, f"{prefix}_d{rank - j}")
        if merged is None:
            listing = ", ".join(f"{arg}[{i}] {shape_str(sh)}" for i, sh in enumerate(shapes))
            node._fail(arg, listing, f"expected equal static dims of rank {rank - j}")
        if fresh:
            ragged.add(merged)           # the inputs disagree: fresh ragged symbol (§4.3)
        else:
            ragged |= free_symbols(merged) & set().union(*(s.ragged for s in streams))
        inner.append(merged)
    return tuple(inner), ragged


def _take_whole_chunk(port: int, level: int, what: str):
    """GET one rank-``level`` chunk; StepError if the port is at Done instead."""
    chunk = yield from take_chunk(port, level)
    if chunk[-1] is DONE:
        where = "at Done" if len(chunk) == 1 else "at Done in the middle of a chunk"
        raise StepError(f"{what} is {where} (expected a complete rank-{level} chunk)")
    if level == 0 and type(chunk[0]) is Stop:
        raise StepError(f"{what} holds {chunk[0]!r} where a data element was expected")
    return chunk


class _FreshSymbols(Node):
    """Base of operators whose output types contain fresh symbols named after the node (§2.5).

    ``_build`` computes the types with a placeholder prefix (the name is not known yet);
    ``_result`` recomputes them once the program has named the node.
    """

    def _types_for(self, prefix: str) -> tuple[StreamType, ...]:  # pragma: no cover
        raise TypeError(f"{type(self).__name__} must define _types_for (an internal error)")

    def _result(self):
        types = self._types_for(symbol_prefix(self.name))
        self._out_types = types
        for stream, stype in zip(self.outputs, types, strict=True):
            stream.type = stype
        return super()._result()


# -- Partition ---------------------------------------------------------------------------------
class Partition(Node):
    """Route rank-p chunks of ``stream`` to the outputs named by ``sel`` (STEP.md §4.3).

    ``Partition(stream [D_a…D_0], sel [D_a…D_p] of Selector[n], num_consumers=n)`` returns a
    tuple of n streams ``[X_i, D_{p-1}…D_0]`` (a tuple even for n = 1), ``p = a - b``. Multi-hot
    selector elements multicast the chunk; an empty selector element drops it. Outputs are flat:
    every chunk is closed with ``S_p`` and selector stop tokens are dropped.

    [Choice] ``X_i`` is the dynamic-regular symbol ``<selector stream>_x<i>`` (the selector
    stream's name made an identifier: ``sel_x0``, ``eagermerge0_1_x0`` for port 1 of a
    multi-output node), so partitions driven by the same selector stream share it.
    [Choice] Outputs are written in ascending index order for a multicast chunk.
    Runtime: a selector whose structure disagrees with the input's raises StepError.
    """

    group = "routing"
    forwards_residency = "all_outputs"
    switches_output = True

    def _build(self, stream, sel, num_consumers):
        stream = self._stream_arg(stream, "stream")
        sel = self._stream_arg(sel, "sel")
        n = check_int(self, "num_consumers", num_consumers, minimum=1)
        if not isinstance(sel.dtype, Selector):
            self._fail("sel", f"{sel.name!r} {sel.type}", "expected a stream of Selector[n]")
        if sel.dtype.n != n:
            self._fail("num_consumers", n, f"expected {sel.dtype.n} = the width of selector "
                                           f"{sel.name!r} {sel.dtype}")
        a, b = stream.rank, sel.rank
        if b > a:
            self._fail("sel", f"rank {b} {sel.type}", f"expected a selector rank <= {a}, "
                                                      f"the rank of the input {stream.type}")
        prefix = stream.shape[:b + 1]
        if not shapes_equal(sel.shape, prefix):
            self._fail("sel", shape_str(sel.shape), f"expected the input's outer dims "
                                                    f"{shape_str(prefix)} (input {stream.type})")
        self.inputs = (stream, sel)
        self.params = {"rank": a - b, "num_consumers": n}
        symbol = symbol_prefix(sel.name)
        inner = stream.shape[b + 1:]
        self._out_types = tuple(StreamType(stream.dtype, (dim(f"{symbol}_x{i}"),) + inner,
                                           stream.ragged) for i in range(n))

    def _result(self):
        return tuple(self.outputs)

    def describe(self) -> str:
        return f"rank={self.params['rank']}, num_consumers={self.params['num_consumers']}"

    def behaviour(self, ctx: BehaviourContext) -> Behaviour:
        p, n = self.params["rank"], self.params["num_consumers"]
        owed = 0   # selector stop level owed for an input stop of level > p already consumed
        while True:
            s = yield (GET, 1)
            if s is DONE:
                yield from self._finish(owed)
                return
            if type(s) is Stop:
                owed = yield from self._match_stop(s.level, owed, p)
                continue
            if owed:
                raise StepError(f"selector holds a data element where {Stop(owed)!r} was "
                                f"expected (the input closed a level-{owed + p} sub-tensor)")
            targets = _selected(s, n)
            chunk = yield from _take_whole_chunk(0, p, "the input")
            body = chunk[:-1] if p else chunk
            for i in targets:
                yield from put_all(i, body)
                if p:
                    yield (PUT, i, Stop(p))
            closing = chunk[-1].level if p else 0
            owed = closing - p if closing > p else 0

    def _match_stop(self, level: int, owed: int, p: int):
        """Consume the input stop matching selector ``S_level`` (lockstep, §4.3)."""
        if owed:
            if level != owed:
                raise StepError(f"selector holds S{level} where S{owed} was expected (the "
                                f"input closed a level-{owed + p} sub-tensor)")
            return 0
        tok = yield (GET, 0)
        if type(tok) is not Stop or tok.level != level + p:
            raise StepError(f"selector holds S{level} but the input holds {_show(tok)} "
                            f"(expected S{level + p}: selector and input structures differ)")
        return 0

    def _finish(self, owed: int):
        if owed:
            raise StepError(f"selector ended where S{owed} was expected")
        tok = yield (GET, 0)
        if tok is not DONE:
            raise StepError(f"selector ended but the input still holds {_show(tok)} "
                            "(expected one selector element per input chunk)")
        yield from put_done(self.params["num_consumers"])


# -- Reassemble --------------------------------------------------------------------------------
class Reassemble(_FreshSymbols):
    """Gather one chunk from each selected input per selector element (STEP.md §4.3).

    ``Reassemble(streams: n × [X_i, D_{a-1}…D_0], sel [E_b…E_0] of Selector[n])`` returns
    ``[E_b…E_0, G, D_{a-1}…D_0]``; chunks of a group are separated by ``S_a``, a group ends with
    ``S_{a+1}`` and selector ``S_j`` becomes ``S_{j+a+1}`` (merged by Rule M).

    [Choice] The fresh ragged group size is ``G = <node name>_g`` (``reassemble0_g``); an inner
    dim of rank r on which the inputs disagree becomes the fresh ragged ``<node name>_d<r>``.
    [Choice] A static and a symbolic inner dim count as disagreeing (fresh symbol); only two
    different static values are an error. Dynamic tiles of one element type may differ in
    symbolic rows/cols, which become ``<node name>_rows`` / ``_cols``.
    [Choice] The group closer ``S_{a+1}`` is held until the next selector token shows whether
    Rule M merges it into a higher stop token.
    In-group order comes from the driver's ``ANY`` over the not-yet-served selected inputs,
    listed ascending with start 0 and ``ordered=True``: untimed drivers serve them in ascending
    index order (§4.3's functional order); the simulator serves them in arrival order.
    Port order: inputs ``0…n-1``, then the selector (port n).
    """

    group = "routing"
    forwards_residency = "first_output"
    order_free = True
    data_inputs = slice(0, -1)   # the selector is the last input

    def _build(self, streams, sel):
        streams = _stream_list(self, streams, "streams")
        sel = self._stream_arg(sel, "sel")
        if not isinstance(sel.dtype, Selector):
            self._fail("sel", f"{sel.name!r} {sel.type}", "expected a stream of Selector[n]")
        if sel.dtype.n != len(streams):
            self._fail("sel", str(sel.dtype), f"expected width {len(streams)} = the number of "
                                              "input streams")
        a = _common_rank(self, streams, "streams")
        self.inputs = streams + (sel,)
        self.params = {"rank": a, "num_inputs": len(streams)}
        self._out_types = self._types_for(_PLACEHOLDER)

    def _types_for(self, prefix: str) -> tuple[StreamType, ...]:
        streams, sel = self.inputs[:-1], self.inputs[-1]
        dtype = _merged_dtype(self, streams, "streams", prefix)
        inner, ragged = _merged_inner(self, streams, "streams", prefix)
        group = dim(f"{prefix}_g")
        shape = tuple(sel.shape) + (group,) + inner
        return (StreamType(dtype, shape, frozenset(ragged | set(sel.ragged) | {group})),)

    def describe(self) -> str:
        return f"rank={self.params['rank']}, num_inputs={self.params['num_inputs']}"

    def behaviour(self, ctx: BehaviourContext) -> Behaviour:
        a, n = self.params["rank"], self.params["num_inputs"]
        held = None   # the group closer S_{a+1}, waiting for a possible Rule M merge
        while True:
            s = yield (GET, n)
            if s is DONE:
                if held is not None:
                    yield (PUT, 0, held)
                # Done first, then drain: inside a feedback cycle (STEP.md §8.3) the inputs'
                # Done may itself depend on this output's Done.
                yield (PUT, 0, DONE)
                yield from self._check_drained(n)
                return
            if type(s) is Stop:
                yield (PUT, 0, Stop(s.level + a + 1))   # replaces a held S_{a+1} (Rule M)
                held = None
                continue
            if held is not None:
                yield (PUT, 0, held)
            yield from self._group(_selected(s, n), a)
            held = Stop(a + 1)

    def _group(self, remaining: list[int], a: int):
        while remaining:
            k = yield (ANY, list(remaining), a, 0, True)
            if k < 0:
                names = [self.inputs[i].name for i in remaining]
                raise StepError(f"the selector selects inputs {remaining} {names} but they are "
                                "at Done (expected one more chunk from each)")
            port = remaining.pop(k)
            chunk = yield from _take_whole_chunk(port, a, f"input {port} "
                                                         f"({self.inputs[port].name!r})")
            yield from put_all(0, chunk[:-1] if a else chunk)
            if remaining and a:
                yield (PUT, 0, Stop(a))

    def _check_drained(self, n: int):
        for i in range(n):
            tok = yield (GET, i)
            if tok is not DONE:
                raise StepError(f"input {i} ({self.inputs[i].name!r}) still holds {_show(tok)} "
                                "when the selector ended (expected every input at Done)")


# -- EagerMerge --------------------------------------------------------------------------------
class EagerMerge(_FreshSymbols):
    """Forward whole chunks of any input in arrival order and name their source (STEP.md §4.3).

    ``EagerMerge(streams: n × [X_i, D_{a-1}…D_0])`` returns ``(data [ΣX_i, D_{a-1}…D_0],
    sel [ΣX_i] of Selector[n])``; chunk j of ``data`` came from input ``sel[j]`` (one-hot).

    [Choice] Untimed order: inputs holding a complete chunk are served cyclically starting one
    past the last served input (input 0 first); the timed simulator serves by arrival time.
    [Choice] The selector element is emitted before the chunk's tokens.
    [Choice] Fresh symbols as Reassemble's (``eagermerge0_d0`` for disagreeing inner dims,
    ``_rows``/``_cols`` for dynamic tiles); if some ``X_i`` involves a ragged symbol the total is
    the fresh regular symbol ``<node name>_n`` (absorbing rule, §2.4).
    """

    group = "routing"
    forwards_residency = "first_output"
    order_free = True
    data_inputs = slice(0, None)

    def _build(self, streams):
        streams = _stream_list(self, streams, "streams")
        a = _common_rank(self, streams, "streams")
        self.inputs = streams
        self.params = {"rank": a, "num_inputs": len(streams)}
        self._out_types = self._types_for(_PLACEHOLDER)

    def _types_for(self, prefix: str) -> tuple[StreamType, ...]:
        streams = self.inputs
        dtype = _merged_dtype(self, streams, "streams", prefix)
        inner, ragged = _merged_inner(self, streams, "streams", prefix)
        if any(s.type.is_ragged(s.shape[0]) for s in streams):
            total: Dim = dim(f"{prefix}_n")
        else:
            total = 0
            for s in streams:
                total = total + s.shape[0]
            total = as_dim(total)
        return (StreamType(dtype, (total,) + inner, frozenset(ragged)),
                StreamType(Selector(len(streams)), (total,)))

    def describe(self) -> str:
        return f"rank={self.params['rank']}, num_inputs={self.params['num_inputs']}"

    def behaviour(self, ctx: BehaviourContext) -> Behaviour:
        a, n = self.params["rank"], self.params["num_inputs"]
        ports = list(range(n))
        start = 0
        while True:
            k = yield (ANY, ports, a, start)
            if k < 0:
                break
            yield (PUT, 1, frozenset({k}))
            chunk = yield from _take_whole_chunk(k, a, f"input {k} ({self.inputs[k].name!r})")
            yield from put_all(0, chunk)
            start = (k + 1) % n
        for i in ports:   # consume every input's Done
            yield (GET, i)
        yield from put_done(2)
