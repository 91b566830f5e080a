"""On-chip memory operators (STEP.md §4.2): Bufferize writes buffers, Streamify reads them back.

A buffer travels on a stream as a :class:`BufferValue` — a read-only reference to on-chip storage
holding a rank-b tensor of tiles.
"""
from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from ..errors import StepError
from ..ir.dtypes import Buffer, is_static_tile
from ..ir.node import GET, OFFCHIP, PUT, Behaviour, BehaviourContext, Node
from ..ir.stream import StreamType
from ..ir.tokens import DONE, Stop, decode
from ..symbolic import Dim, fmt, free_symbols, is_static, product, shapes_equal
from ._common import check_int, check_rank_arg, shape_str
from .offchip import affine_args, affine_tokens, check_reach, emit_read

__all__ = ["Bufferize", "Streamify", "BufferValue"]


class BufferValue:
    """The value of a buffer reference: the buffered rank-b tensor (§4.2).

    ``tokens`` is the tensor's own encoding (data tiles and stop tokens, ending ``S_b``) used to
    replay it; ``tiles`` the tiles in write order (row-major); ``shape`` its concrete dims,
    outermost first (an empty tensor reads as ``[[]]``-form, §2.3).
    """

    __slots__ = ("tokens", "tiles", "shape")

    def __init__(self, tokens: Iterable[Any], rank: int) -> None:
        self.tokens = tuple(tokens)
        self.tiles = [t for t in self.tokens if type(t) is not Stop]
        self.shape = _concrete_shape(self.tokens, rank)

    @property
    def rank(self) -> int:
        return len(self.shape)

    def __len__(self) -> int:
        return len(self.tiles)

    def __repr__(self) -> str:
        return f"BufferValue[{', '.join(map(str, self.shape))}]({len(self.tiles)} tiles)"


def _concrete_shape(tokens, rank: int) -> tuple:
    node = decode(list(tokens) + [DONE], rank)[0]
    dims = []
    for _ in range(rank):
        dims.append(len(node))
        node = node[0] if len(node) else []
    return tuple(dims)


class Bufferize(Node):
    """Materialise the inner ``rank`` dims of a tile stream into on-chip buffers (§4.2).

    ``Bufferize(stream, rank)``, 1 <= rank <= stream rank: ``[D_a…D_b, D_{b−1}…D_0]`` of S ->
    ``[D_a…D_b]`` of ``Buffer<S, [D_{b−1}…D_0]>``. Only ``D_{b−1}`` may be ragged. Every stop token
    ``S_k`` with k >= b closes a (possibly empty) buffer, then ``S_{k−b}`` is emitted if k − b >= 1.

    ``spill`` (issue 16): None (default) keeps the buffers on chip unless they do not fit the
    hardware's per-buffer capacity (``HardwareConfig.onchip_buffer_capacity_bytes``,
    ``metrics(..., buffer_capacity=…)``); True puts them in HBM (off-chip traffic: every tile
    written once, and read by each Streamify); False keeps them on chip whatever their size.
    Values and tokens are the same in every case. See ``step_lab.analysis.spill``.
    """

    group = "memory"
    cost_role = "bufferize"

    def _build(self, stream, rank, *, spill=None):
        s = self._stream_arg(stream, "stream")
        if not is_static_tile(s.dtype):
            self._fail("stream", s, "expected a stream of static tiles; dynamic tiles, buffers "
                       "and other types cannot be buffered")
        b = check_rank_arg(self, "rank", rank, 1, s.rank)
        if spill is not None and not isinstance(spill, bool):
            self._fail("spill", spill, "expected None (on chip unless it does not fit), True "
                       "(in HBM) or False (on chip)")
        inner = s.shape[len(s.shape) - b:]
        for i, d in enumerate(inner[1:]):
            if s.type.is_ragged(d):
                self._fail("rank", b, f"buffered dim {fmt(d)} of rank {b - 2 - i} is ragged "
                           f"(expected only the outermost buffered dim D_{b - 1} to be ragged)")
        ragged = frozenset(free_symbols(inner[0]) & s.ragged)
        self.rank = b
        self.inputs = (s,)
        self.params = {"rank": b} if spill is None else {"rank": b, "spill": spill}
        buffer = Buffer(s.dtype, inner, ragged)
        self._out_types = (StreamType(buffer, s.shape[:len(s.shape) - b], s.ragged),)

    def element_bytes(self) -> Dim:
        """Bytes of one input tile."""
        return self.inputs[0].dtype.nbytes

    def describe(self) -> str:
        spill = self.params.get("spill")
        return f"rank={self.rank}" + ("" if spill is None else f" spill={spill}")

    def behaviour(self, ctx: BehaviourContext) -> Behaviour:
        b = self.rank
        charge = _spill_charge(ctx, self, self.element_bytes(), True)
        body: list = []
        while True:
            tok = yield (GET, 0)
            if tok is DONE:
                break
            if type(tok) is not Stop or tok.level < b:
                if charge is not None and type(tok) is not Stop:
                    yield charge                    # a spilled buffer: the tile goes to HBM
                body.append(tok)
                continue
            yield (PUT, 0, BufferValue(body + [Stop(b)], b))
            if tok.level > b:
                yield (PUT, 0, Stop(tok.level - b))
            body = []
        if body:
            raise StepError(f"the input ended inside a rank-{b} sub-tensor ({len(body)} tokens "
                            "without a closing stop token)")
        yield (PUT, 0, DONE)


class Streamify(Node):
    """Read buffers back as tile streams, once per reference element (§4.2).

    ``Streamify(buffers, ref=None, *, repeat=None, stride=None, out_shape=None)``:
    buffers ``[D_b…D_0]`` of ``Buffer<S, B>``, ref ``[D_b…D_0, E_{c−1}…E_0]`` -> S with shape
    ``ref.shape ++ (out_shape or B)``. ``repeat=(n_{c−1}…n_0)`` stands for a ref of static shape
    ``[D_b…D_0, n…]``. [Choice] neither ref nor repeat means ``repeat=()``: one read per buffer.
    [Choice] affine reads follow LinearOffChipLoad: ``out_shape`` alone gets row-major strides,
    ``stride`` alone reads the buffer shape, and an index beyond the buffer is a ShapeError.
    The static variant looks one buffer-stream token ahead to merge the closing stop (Rule M).
    [Choice] A buffer its Bufferize spilled to HBM is read tile by tile from off-chip memory
    (``step_lab.analysis.spill``).
    """

    group = "memory"
    cost_role = "streamify"

    def _build(self, buffers, ref=None, *, repeat=None, stride=None, out_shape=None):
        s = self._stream_arg(buffers, "buffers")
        if not s.dtype.is_buffer:
            self._fail("buffers", s, "expected a stream of buffer references from Bufferize")
        buf = s.dtype
        self.ref, self.repeat = None, None
        if ref is not None:
            if repeat is not None:
                self._fail("repeat", repeat, "expected either ref or repeat, not both")
            outer, ragged = self._ref_arg(s, ref)
        else:
            self.repeat = self._repeat_arg(repeat)
            outer, ragged = s.shape + self.repeat, s.ragged
        self.b, self.c = s.rank, len(outer) - len(s.shape)
        inner = self._read_arg(buf, stride, out_shape)
        self.m = len(inner)
        self.inputs = (s,) if self.ref is None else (s, self.ref)
        self.params = {"repeat": self.repeat, "stride": self.stride, "out_shape": self.out_shape}
        self._out_types = (StreamType(buf.tile, outer + inner, ragged | buf.ragged),)

    def _ref_arg(self, s, ref) -> tuple:
        r = self._stream_arg(ref, "ref")
        if r.rank < s.rank or not shapes_equal(r.shape[:len(s.shape)], s.shape):
            self._fail("ref", r, f"expected a ref whose first {len(s.shape)} dims equal the "
                       f"buffer stream's shape {shape_str(s.shape)}",
                       hint="use .assume(shape) if the dims are known to be equal")
        self.ref = r
        return r.shape, r.ragged | s.ragged

    def _repeat_arg(self, repeat) -> tuple:
        if repeat is None:
            return ()
        if not isinstance(repeat, (tuple, list)):
            self._fail("repeat", repeat, "expected a tuple of repetition counts >= 1")
        return tuple(check_int(self, "repeat", n, minimum=1) for n in repeat)

    def _read_arg(self, buf: Buffer, stride, out_shape) -> tuple:
        """Output dims of one read; sets ``stride``, ``out_shape`` and the affine ``template``."""
        self.stride = self.out_shape = self.template = None
        if stride is None and out_shape is None:
            return buf.shape
        if not all(is_static(d) for d in buf.shape):
            self._fail("stride" if stride is not None else "out_shape",
                       stride if stride is not None else out_shape,
                       f"affine reads need a fully static buffer, got {buf} (expected stride "
                       "and out_shape to be absent for dynamic buffers)")
        self.stride, self.out_shape = affine_args(self, buf.shape, stride, out_shape,
                                                  out_arg="out_shape")
        for arg, dims in (("stride", self.stride), ("out_shape", self.out_shape)):
            if not all(is_static(d) for d in dims):
                self._fail(arg, dims, "expected ints for an affine read of a static buffer")
        check_reach(self, self.stride, self.out_shape, product(buf.shape), f"buffer {buf}")
        self.template = affine_tokens(self.out_shape, self.stride)
        return self.out_shape

    def element_bytes(self) -> Dim:
        """Bytes of one output tile."""
        buf = self.inputs[0].dtype
        assert isinstance(buf, Buffer)  # _build checked: a stream of buffers
        return buf.tile.nbytes

    def describe(self) -> str:
        parts = ["per ref" if self.ref is not None else f"repeat={fmt(self.repeat)}"]
        if self.template is not None:
            parts.append(f"stride={fmt(self.stride)} out={fmt(self.out_shape)}")
        return " ".join(parts)

    # -- behaviour -----------------------------------------------------------------------------
    def behaviour(self, ctx: BehaviourContext) -> Behaviour:
        charge = _spill_charge(ctx, self, self.element_bytes(), False)
        if self.ref is None:
            pending = yield from self._run_static(charge)
        else:
            pending = yield from self._run_ref(charge)
        if pending is not None:
            yield (PUT, 0, pending)
        yield (PUT, 0, DONE)

    def _read(self, buffer, charge=None):
        """Emit one full read of ``buffer``; returns its held closing stop token."""
        if not isinstance(buffer, BufferValue):
            raise StepError(f"buffer stream element {buffer!r:.60} is not a buffer reference")
        if self.template is None:
            return (yield from emit_read(buffer.tokens, _identity, charge))
        return (yield from emit_read(self.template, lambda i: _tile_at(buffer, i), charge))

    def _run_ref(self, charge=None):
        """Ref form; returns the closing token still held at Done."""
        pending, closed_at_c = None, False
        while True:
            bt = yield (GET, 0)
            if bt is DONE:
                rt = yield (GET, 1)
                if rt is not DONE:
                    raise StepError(f"the buffer stream ended but ref continues with {rt!r:.40} "
                                    "(expected ref to end too)")
                return pending
            if type(bt) is Stop:
                rt = yield (GET, 1)
                if closed_at_c or type(rt) is not Stop or rt.level != bt.level + self.c:
                    raise _mismatch(rt, bt, self.c)
                yield (PUT, 0, Stop(rt.level + self.m))
                pending, closed_at_c = None, False
                continue
            pending, closed_at_c = yield from self._ref_chunk(bt, pending, charge)

    def _ref_chunk(self, buffer, pending, charge=None):
        """Consume the ref's rank-c sub-tensor for ``buffer``; one read per ref element."""
        hold = self.ref.rank >= 1  # a rank-0 ref has no stop token to merge with
        while True:
            rt = yield (GET, 1)
            if rt is DONE:
                raise StepError(f"ref ended while buffer {buffer!r:.60} still needs its "
                                f"rank-{self.c} sub-tensor (expected equal outer dims)")
            if type(rt) is not Stop:
                if pending is not None:
                    yield (PUT, 0, pending)
                pending = yield from self._read(buffer, charge)
                if not hold and pending is not None:
                    yield (PUT, 0, pending)
                    pending = None
                if self.c == 0:
                    return pending, False
                continue
            if self.c == 0:
                raise _mismatch(rt, buffer, 0)
            yield (PUT, 0, Stop(rt.level + self.m))   # replaces the held S_m (Rule M)
            pending = None
            if rt.level > self.c:
                bt = yield (GET, 0)
                if type(bt) is not Stop or bt.level != rt.level - self.c:
                    raise _mismatch(rt, bt, self.c)
            if rt.level >= self.c:
                return None, rt.level == self.c

    def _run_static(self, charge=None):
        """Static variant: a virtual ref of shape ``repeat`` per buffer (Rule M by look-ahead)."""
        chunk = affine_tokens(self.repeat, (0,) * self.c)
        body = chunk if self.c == 0 else chunk[:-1]
        pending = None
        bt = yield (GET, 0)
        while bt is not DONE:
            if type(bt) is Stop:
                yield (PUT, 0, Stop(bt.level + self.c + self.m))
                pending, bt = None, (yield (GET, 0))
                continue
            for tok in body:
                if type(tok) is Stop:
                    yield (PUT, 0, Stop(tok.level + self.m))
                    pending = None
                    continue
                if pending is not None:
                    yield (PUT, 0, pending)
                pending = yield from self._read(bt, charge)
            if self.c == 0:
                if self.b == 0 and pending is not None:  # no buffer-stream stop can follow
                    yield (PUT, 0, pending)
                    pending = None
                bt = yield (GET, 0)
                continue
            pending, bt = None, (yield from self._close_chunk())
        return pending

    def _close_chunk(self):
        """Emit the closing ``S_{c+m}`` of a virtual ref chunk, merged with a following buffer
        stream stop ``S_j`` into ``S_{j+c+m}``; returns the next buffer-stream token."""
        if self.b == 0:
            yield (PUT, 0, Stop(self.c + self.m))
            return (yield (GET, 0))
        bt = yield (GET, 0)
        if type(bt) is not Stop:
            yield (PUT, 0, Stop(self.c + self.m))
            return bt
        yield (PUT, 0, Stop(bt.level + self.c + self.m))
        return (yield (GET, 0))


def _spill_charge(ctx, node, nbytes, is_write: bool):
    """The OFFCHIP command per tile of a spilled buffer (``ctx.spilled``), else None."""
    if node not in getattr(ctx, "spilled", ()):
        return None
    return (OFFCHIP, ctx.value(nbytes, where=f"{node.name} tile bytes"), is_write)


def _identity(x):
    return x


def _tile_at(buffer: BufferValue, i: int):
    if i >= len(buffer.tiles):
        raise StepError(f"affine read of tile {i} from {buffer!r} (expected index < "
                        f"{len(buffer.tiles)})")
    return buffer.tiles[i]


def _mismatch(rt, bt, c: int) -> StepError:
    return StepError(f"ref token {rt!r:.40} does not match buffer stream token {bt!r:.40} "
                     f"(expected ref stop tokens of level > {c} to coincide with the buffer "
                     f"stream's stop tokens, shifted by {c})")
