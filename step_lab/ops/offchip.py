"""Off-chip memory operators (STEP.md §4.1): linear and random loads and stores of HBM tensors.

A tensor of shape ``[…, rows, cols]`` is viewed as a row-major array of ``[r, c]`` tiles
(``ctx.memory.tiles``); every tile moved yields one ``(OFFCHIP, bytes, is_write)`` command, so the
traffic a run counts is ``tiles moved · tile bytes`` (§6.1).
"""
from __future__ import annotations

import math
from collections.abc import Callable, Generator, Sequence
from typing import Any

import numpy as np

from ..errors import BindingError, GraphError, ShapeError, StepError
from ..interpret.memory import tile_reader
from ..ir.dtypes import Bool, Tile, is_address, is_static_tile
from ..ir.node import GET, OFFCHIP, PUT, Behaviour, BehaviourContext, Node
from ..ir.program import Tensor
from ..ir.stream import Stream, StreamType
from ..ir.tokens import DONE, Stop
from ..symbolic import Dim, as_dim, ceil_div, fmt, is_static, product
from ._common import shape_str

__all__ = ["LinearOffChipLoad", "LinearOffChipStore", "RandomOffChipLoad", "RandomOffChipStore",
           "affine_tokens", "emit_read", "affine_args", "check_reach"]


# -- shared helpers (also used by Streamify's affine reads) ---------------------------------------
def affine_tokens(out_shape: Sequence[int], stride: Sequence[int], base: int = 0) -> list[Any]:
    """Token template of one affine read (§4.1): tile numbers ``Σ i_d·stride_d`` and stop tokens.

    The rank-k read over ``out_shape`` (row-major, last index fastest) is encoded per E1/E2, so a
    non-empty template ends with ``S_k`` (k >= 1); for k = 0 it is the single index ``base``.
    NOTE: built in numpy (every innermost run closed by ``S_j``, j − 1 the number of trailing
    outer indices at their last value), not recursively: a [50 000, 1] tile grid took 0.07 s of
    recursive calls (bench_sim part a); an empty outer dim or a few runs take the recursive
    definition.
    """
    k = len(out_shape)
    if not k:
        return [base]
    outer, n, step = [int(d) for d in out_shape[:-1]], int(out_shape[-1]), int(stride[-1])
    if len(outer) == 0:
        body: list[Any] = list(range(base, base + n * step, step)) if step else [base] * n
        body.append(Stop(1))
        return body
    if not all(outer) or math.prod(outer) <= 64:      # (numpy's fixed cost: small reads)
        return _affine_recursive(out_shape, stride, base)
    # every innermost run, row-major over the outer dims: its first tile number, then its stop
    # token's level (1 + the trailing outer indices at their last value), all at once in numpy
    first = np.full(outer, base, dtype=np.int64)
    level = np.ones(outer, dtype=np.int64)
    closing = np.ones(outer, dtype=bool)
    for j in range(len(outer) - 1, -1, -1):
        axis = [1] * len(outer)
        axis[j] = outer[j]
        index = np.arange(outer[j], dtype=np.int64).reshape(axis)
        first = first + index * int(stride[j])
        closing = closing & (index == outer[j] - 1)
        level = level + closing
    table = np.empty((first.size, n + 1), dtype=object)
    table[:, :n] = first.reshape(-1, 1) + np.arange(n, dtype=np.int64) * step
    table[:, n] = np.array([None] + [Stop(lv) for lv in range(1, k + 1)], dtype=object)[
        level.reshape(-1)]
    return table.reshape(-1).tolist()


def _affine_recursive(out_shape: Sequence[int], stride: Sequence[int], base: int) -> list[Any]:
    """``affine_tokens`` by its recursive definition (E1/E2: an empty sub-read is its stop)."""
    if not out_shape:
        return [base]
    body: list[Any] = []
    for i in range(out_shape[0]):
        body += _affine_recursive(out_shape[1:], stride[1:], base + i * stride[0])
    if body and type(body[-1]) is Stop:
        body[-1] = Stop(len(out_shape))
    else:
        body.append(Stop(len(out_shape)))
    return body


def emit_read(tokens: Sequence[Any], fetch: Callable[[Any], Any], charge: tuple | None = None
              ) -> Generator[Any, Any, Stop | None]:
    """Generator: PUT ``tokens`` on output 0, data items mapped by ``fetch``.

    A final stop token is *held back* and returned (None otherwise) so that the caller can merge
    it with a following mapped stop token (Rule M). ``charge`` is yielded before each data item.
    """
    last = len(tokens) - 1
    for i, tok in enumerate(tokens):
        if type(tok) is Stop:
            if i == last:
                return tok
            yield (PUT, 0, tok)
        else:
            if charge is not None:
                yield charge
            yield (PUT, 0, fetch(tok))
    return None


def row_major_strides(shape: Sequence[Dim]) -> tuple[Dim, ...]:
    return tuple(product(shape[d + 1:]) for d in range(len(shape)))


def _dims_arg(node: Node, arg: str, values) -> tuple:
    if not isinstance(values, (tuple, list)):
        node._fail(arg, values, "expected a tuple of non-negative ints")
    out = []
    for v in values:
        if isinstance(v, int) and not isinstance(v, bool) and v < 0:
            node._fail(arg, tuple(values), f"entry {v} is negative (expected non-negative ints)")
        try:
            out.append(as_dim(v, what=f"{arg} entry"))
        except ShapeError:
            node._fail(arg, tuple(values), "expected non-negative ints or sl.dim expressions")
    return tuple(out)


def affine_args(node: Node, default_shape: tuple, stride: Any, out: Any, *,
                out_arg: str) -> tuple[tuple, tuple]:
    """Resolve (stride, out_shape) of an affine read; defaults read ``default_shape`` once.

    [Choice] ``out`` alone gets row-major strides over ``out``; ``stride`` alone reads
    ``default_shape`` (the tiled tensor or buffer shape) with the given strides.
    """
    out = default_shape if out is None else _dims_arg(node, out_arg, out)
    stride = row_major_strides(out) if stride is None else _dims_arg(node, "stride", stride)
    if len(stride) != len(out):
        node._fail("stride", stride, f"has {len(stride)} entries but {out_arg} = {fmt(out)} has "
                   f"{len(out)} (expected equal lengths)")
    return stride, out


def check_reach(node: Node, stride: tuple, out: tuple, n_tiles: Dim, what: str) -> None:
    """Largest accessed index ``Σ (out_d − 1)·stride_d`` must be < the tile count (when static)."""
    if not all(is_static(d) for d in (*stride, *out, n_tiles)) or not all(o >= 1 for o in out):
        return
    largest = sum((o - 1) * s for o, s in zip(out, stride, strict=True))
    if largest >= n_tiles:
        node._fail("stride", stride, f"with out shape {fmt(out)} the largest accessed tile index "
                   f"is {largest} but {what} has only {n_tiles} tiles (expected index < "
                   f"{n_tiles})")


def _tile_arg(node: Node, tile) -> tuple:
    if not isinstance(tile, (tuple, list)) or len(tile) != 2:
        node._fail("tile", tile, "expected a pair (rows, cols) of ints >= 1")
    for what, v in zip(("rows", "cols"), tile, strict=True):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            node._fail("tile", tuple(tile), f"tile {what} {v!r} is invalid (expected tile dims "
                       "to be ints >= 1)")
    return int(tile[0]), int(tile[1])


def _tensor_arg(node: Node, tensor, role: str) -> Tensor:
    if not isinstance(tensor, Tensor):
        node._fail("tensor", f"a {type(tensor).__name__}",
                   "expected a Tensor declared with prog.tensor(...)")
    if tensor.role != role:
        node._fail("tensor", str(tensor), f"has role {tensor.role!r} (expected role {role!r})",
                   hint=f"declare it with prog.tensor(..., role={role!r})")
    if tensor.rank < 2:
        node._fail("tensor", str(tensor), f"has rank {tensor.rank} (expected rank >= 2 to tile)")
    return tensor


def _pad_arg(node: Node, pad) -> bool:
    if not isinstance(pad, (bool, np.bool_)):
        node._fail("pad", pad, "expected True (zero-pad the last tiles) or False (the tile "
                   "must divide the tensor)")
    return bool(pad)


def _tiled_extent(node: Node, tensor: Tensor, tile: tuple, axis: int, pad: bool) -> Dim:
    extent, t, what = tensor.shape[axis - 2], tile[axis], ("rows", "cols")[axis]
    if pad:
        return ceil_div(extent, t)             # ⌈extent / t⌉: the last tile is zero-padded
    if is_static(extent):
        if extent % t:
            node._fail("tile", tuple(tile), f"tensor {tensor.name!r} has {extent} {what}, not "
                       f"divisible by the tile's {t} (expected {what} % {t} == 0)",
                       hint="pass pad=True to zero-pad the last tile (partial tiles)")
        return extent // t
    return extent if t == 1 else extent / t  # exact division; a bad binding is a BindingError


def _tiled_shape(node: Node, tensor: Tensor, tile: tuple, pad: bool = False) -> tuple:
    """``(…leading dims, rows / r, cols / c)`` (§4.1 Tiling); ``⌈rows / r⌉, ⌈cols / c⌉`` with
    ``pad``."""
    return (*tensor.shape[:-2], _tiled_extent(node, tensor, tile, 0, pad),
            _tiled_extent(node, tensor, tile, 1, pad))


def _pad_param(pad: bool) -> dict:
    """``{"pad": True}`` for a padded operator, else nothing (params stay as before)."""
    return {"pad": True} if pad else {}


def _address(value, n_tiles: int | None, tensor: Tensor) -> int:
    """An address tile value ([1,1] int array or int) as a checked linear tile index."""
    if isinstance(value, np.ndarray):
        if value.size != 1:
            raise StepError(f"address tile of shape {value.shape} for tensor {tensor.name!r} "
                            "(expected a [1,1] address tile)")
        value = value.reshape(-1)[0]
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise StepError(f"address {value!r} for tensor {tensor.name!r} is not an integer "
                        "(expected a linear tile index)")
    addr = int(value)
    if addr < 0 or (n_tiles is not None and addr >= n_tiles):
        has = f" with {n_tiles} tiles" if n_tiles is not None else ""
        bound = f" < {n_tiles}" if n_tiles is not None else ""
        raise StepError(f"address {addr} is out of range for tensor {tensor.name!r}{has} "
                        f"(expected 0 <= address{bound})")
    return addr


def _tile_count(ctx, tensor: Tensor, tile: tuple, pad: bool = False) -> int | None:
    """Number of ``tile``s in ``tensor`` at the run's bindings, or None if its shape is unbound
    (with ``pad``, the zero-padded shape's)."""
    try:
        shape = ctx.memory.shape_of(tensor)
    except BindingError:
        return None
    *lead, rows, cols = shape
    if pad:
        rows, cols = rows + (-rows % tile[0]), cols + (-cols % tile[1])
    if rows % tile[0] or cols % tile[1]:
        raise BindingError(f"tensor {tensor.name!r} of shape {tuple(shape)} is not divisible "
                           f"into [{tile[0]},{tile[1]}] tiles (expected a divisible binding, or "
                           "pad=True for a zero-padded last tile)")
    return int(np.prod(lead, dtype=np.int64)) * (rows // tile[0]) * (cols // tile[1])


def _check_tile_value(value, tile: tuple, tensor: Tensor) -> None:
    if (value.shape if isinstance(value, np.ndarray) else np.shape(value)) != tile:
        raise StepError(f"tile of shape {np.shape(value)} cannot be stored into tensor "
                        f"{tensor.name!r} (expected a [{tile[0]},{tile[1]}] tile)")


def _check_single_writer(node: Node, tensor: Tensor) -> None:
    for other in tensor.program.nodes:
        if other.writes_tensor and other.params.get("tensor") is tensor:
            raise GraphError(f"{type(node).__name__}: tensor {tensor.name!r} is already written "
                             f"by {other.name!r} (expected one store per output tensor)")


def _check_store_tile(node: Node, tensor: Tensor, tile_type: Tile, pad: bool = False) -> tuple:
    """The store's (tile, number of tiles of the tensor); checks element type and divisibility."""
    tile = (tile_type.rows, tile_type.cols)
    if tile_type.elem != tensor.dtype:
        node._fail("tensor", str(tensor), f"has element type {tensor.dtype} but the tiles are "
                   f"{tile_type.elem} (expected equal element types)")
    return tile, product(_tiled_shape(node, tensor, tile, pad))


# -- operators ------------------------------------------------------------------------------------
class LinearOffChipLoad(Node):
    """Stream a tiled HBM tensor, one affine read per reference element (STEP.md §4.1).

    ``LinearOffChipLoad(tensor, tile, *, ref=None, stride=None, tiled_out_shape=None)``: output
    ``Tile[r, c] e`` with shape ``ref.shape ++ tiled_out_shape`` (no ref: ``[1] ++ …``).
    [Choice] (§4.1) the appended dims are ``tiled_out_shape``. [Choice] a symbolic tensor dim's
    tiled extent is the exact quotient ``dim / r``; a non-divisible binding is a BindingError at run
    time. [Choice] ragged symbols declared on the tensor stay ragged in the output. [Choice] an
    affine read is checked against the tile count at run time too (StepError) when it is symbolic.

    ``pad=True`` (opt-in partial tiles; the default keeps §4.1's divisibility error).
    [Choice] ``tiled_in_shape = (…, ⌈rows / r⌉, ⌈cols / c⌉)``; the last tile row/column is
    zero-padded, so every tile on the stream is a full ``Tile[r, c]``: a (3, 100) tensor in [1, 32]
    tiles is ``[1, 3, 4]`` tiles, the 4th of each row holding 4 values and 28 zeros. Traffic stays
    §6.1's ``‖out‖ · |out tile|`` (the padded bytes: the hardware moves whole tiles), FLOPs
    downstream are counted on whole tiles (§6.4), values in the padding are 0.
    """

    group = "memory"
    is_offchip = True
    cost_role = "offchip"
    reads_tensor = True

    def _build(self, tensor, tile, *, ref=None, stride=None, tiled_out_shape=None, pad=False):
        self.tensor = _tensor_arg(self, tensor, "input")
        self.tile = _tile_arg(self, tile)
        self.pad = _pad_arg(self, pad)
        self.tiled_in_shape = _tiled_shape(self, tensor, self.tile, self.pad)
        self.stride, self.tiled_out_shape = affine_args(
            self, self.tiled_in_shape, stride, tiled_out_shape, out_arg="tiled_out_shape")
        check_reach(self, self.stride, self.tiled_out_shape, product(self.tiled_in_shape),
                    f"tensor {tensor.name!r}")
        self.ref = None if ref is None else self._stream_arg(ref, "ref")
        outer = (1,) if ref is None else self.ref.shape
        ragged = tensor.ragged | (frozenset() if ref is None else self.ref.ragged)
        self.inputs = () if ref is None else (self.ref,)
        self.params = {"tensor": tensor, "tile": self.tile, "stride": self.stride,
                       "tiled_out_shape": self.tiled_out_shape, **_pad_param(self.pad)}
        dtype = Tile(self.tile[0], self.tile[1], tensor.dtype)
        self._out_types = (StreamType(dtype, outer + self.tiled_out_shape, ragged),)

    def element_bytes(self) -> Dim:
        """Bytes of one output tile."""
        return Tile(self.tile[0], self.tile[1], self.tensor.dtype).nbytes

    def describe(self) -> str:
        r, c = self.tile
        return (f"{self.tensor.name} tile=[{r},{c}] stride={fmt(self.stride)} "
                f"out={fmt(self.tiled_out_shape)}" + (" per ref" if self.ref is not None else "")
                + (" padded" if self.pad else ""))

    def _template(self, ctx, n_tiles: int) -> list:
        out = [ctx.value(d, where=f"{self.name} tiled_out_shape") for d in self.tiled_out_shape]
        stride = [ctx.value(s, where=f"{self.name} stride") for s in self.stride]
        if all(o >= 1 for o in out):
            largest = sum((o - 1) * s for o, s in zip(out, stride, strict=True))
            if largest >= n_tiles:
                raise StepError(f"affine read reaches tile {largest} but tensor "
                                f"{self.tensor.name!r} has {n_tiles} tiles (expected < {n_tiles})")
        return affine_tokens(out, stride)

    def _read_setup(self, ctx: BehaviourContext) -> tuple[list, Any, tuple]:
        """``(tokens, tiles, charge)``: the read's token template, the tensor's tiles by tile
        number and the OFFCHIP command charged before each tile (what ``behaviour`` and the
        simulator's driver of a read without ref, ``sim/drivers.py``, emit)."""
        tiles = ctx.memory.tiles(self.tensor, self.tile, self.pad)
        template = self._template(ctx, len(tiles))
        charge = (OFFCHIP, ctx.value(self.element_bytes()), False)
        return template, tiles, charge

    def script(self, ctx: BehaviourContext) -> tuple[str, Callable[[], tuple]] | None:
        """Without ref, a ``"read"``: per template token, a stop token PUT as is, a tile number
        ``charge`` then PUT ``tiles[tok]``; then Done (``Node.script``)."""
        if self.ref is not None:
            return None
        return "read", lambda: self._read_setup(ctx)

    def behaviour(self, ctx: BehaviourContext) -> Behaviour:
        template, tiles, charge = self._read_setup(ctx)
        fetch = tile_reader(tiles)
        if self.ref is None:
            held = yield from emit_read(template, fetch, charge)
            if held is not None:
                yield (PUT, 0, held)
        else:
            yield from self._per_ref_element(template, fetch, charge)
        yield (PUT, 0, DONE)

    def _per_ref_element(self, template, fetch, charge):
        """One read per ref element; ref ``S_j`` -> ``S_{j+k}`` merged by Rule M."""
        k = len(self.tiled_out_shape)
        hold = self.ref.rank >= 1          # a rank-0 ref never has stop tokens to merge with
        pending = None
        while True:
            tok = yield (GET, 0)
            if tok is DONE:
                break
            if type(tok) is Stop:
                yield (PUT, 0, Stop(tok.level + k))
                pending = None
                continue
            if pending is not None:
                yield (PUT, 0, pending)
            pending = yield from emit_read(template, fetch, charge)
            if not hold and pending is not None:
                yield (PUT, 0, pending)
                pending = None
        if pending is not None:
            yield (PUT, 0, pending)


class LinearOffChipStore(Node):
    """Write a stream's tiles linearly to an HBM tensor (STEP.md §4.1). Sink; returns the Tensor.

    ``LinearOffChipStore(stream, tensor)`` with ``tensor`` an output Tensor or a name. Tiles go to
    linear tile indices 0, 1, 2, … of the tensor's row-major tile array; stop tokens are dropped.
    [Choice] a name declares ``prog.tensor(name, shape, role="output")`` with the reconstructed
    shape ``[…, Dr, Dc]`` of ``Tile[r,c]`` -> ``(…, Dr·r, Dc·c)`` (rank 0 ``[N]`` -> ``(N·r, c)``),
    symbolic when the stream shape is; a name of an existing output tensor stores into it.
    [Choice] the tile element type must equal the tensor's; a stream with more tiles than the
    tensor holds is a ShapeError (static) or StepError (at run time); fewer tiles leave zeros.
    [Choice] a tensor is written by one store only (GraphError).

    ``pad=True`` (partial tiles, see LinearOffChipLoad): [Choice] the tensor holds
    ``⌈rows / r⌉ · ⌈cols / c⌉`` (per leading index) tiles; each tile is written whole (traffic
    ``‖in‖ · |in tile|``, §6.1: padded bytes included) but only its elements inside the tensor
    are kept: the padding is dropped and the stored array has the tensor's own shape.
    """

    group = "memory"
    is_offchip = True
    cost_role = "offchip"
    writes_tensor = True

    def _build(self, stream, tensor, *, pad=False):
        s = self._stream_arg(stream, "stream")
        if not is_static_tile(s.dtype):
            self._fail("stream", s, "expected a stream of static tiles Tile[r,c]")
        if isinstance(tensor, str):
            tensor = s.program.tensors.get(tensor) or self._declare(s, tensor)
        tensor = _tensor_arg(self, tensor, "output")
        self.pad = _pad_arg(self, pad)
        tile, n_tiles = _check_store_tile(self, tensor, s.dtype, self.pad)
        if is_static(n_tiles) and is_static(s.type.cardinality) and s.type.cardinality > n_tiles:
            self._fail("stream", s, f"has {s.type.cardinality} tiles but tensor {tensor.name!r} "
                       f"holds {n_tiles} (expected at most {n_tiles})")
        _check_single_writer(self, tensor)
        self.tensor, self.tile = tensor, tile
        self.inputs = (s,)
        self.params = {"tensor": tensor, **_pad_param(self.pad)}
        self._out_types = ()

    def _declare(self, s: Stream, name: str) -> Tensor:
        shape, tile = s.shape, s.dtype
        assert isinstance(tile, Tile)  # _build checked: a stream of static tiles
        r, c = tile.rows, tile.cols
        if len(shape) == 1:
            full = (product((shape[0], r)), c)
        else:
            full = (*shape[:-2], product((shape[-2], r)), product((shape[-1], c)))
        return s.program.tensor(name, full, tile.elem, role="output", ragged=s.ragged)

    def _result(self):
        return self.tensor

    def element_bytes(self) -> Dim:
        """Bytes of one input tile."""
        return self.inputs[0].dtype.nbytes

    def describe(self) -> str:
        return f"-> {self.tensor.name} tile=[{self.tile[0]},{self.tile[1]}]"

    def _write_setup(self, ctx: BehaviourContext) -> tuple:
        """``(capacity, tile, charge, write, check, finish)`` of the store: the tensor's tile
        count (None when unbound), the tile shape, the OFFCHIP command charged after each tile,
        ``write(count, tile)``, ``check(count, tile)`` (a StepError for a tile beyond the capacity
        or of the wrong shape) and ``finish(count)`` at Done (what ``behaviour`` and the
        simulator's driver, ``sim/drivers.py``, do)."""
        n_tiles = _tile_count(ctx, self.tensor, self.tile, self.pad)
        if self.pad:
            ctx.memory.padded.add(self.tensor.name)
        charge = (OFFCHIP, self.element_bytes(), True)
        write = ctx.memory.writer(self.tensor, self.tile, self.pad)
        tensor, tile = self.tensor, self.tile

        def check(count: int, tok: Any) -> None:
            if n_tiles is not None and count >= n_tiles:
                raise StepError(f"the stream has more than {n_tiles} tiles, the capacity of "
                                f"tensor {tensor.name!r} (expected at most {n_tiles})")
            _check_tile_value(tok, tile, tensor)

        def finish(count: int) -> None:
            ctx.stored[tensor.name] = (tensor, tile, count)
        return n_tiles, tile, charge, write, check, finish

    def script(self, ctx: BehaviourContext) -> tuple[str, Callable[[], tuple]]:
        """A ``"write"``: per data token ``check``, ``write`` then ``charge``; stop tokens
        dropped; ``finish`` at Done (``Node.script``)."""
        return "write", lambda: self._write_setup(ctx)

    def behaviour(self, ctx: BehaviourContext) -> Behaviour:
        _, _, charge, write, check, finish = self._write_setup(ctx)
        count = 0
        while True:
            tok = yield (GET, 0)
            if tok is DONE:
                break
            if type(tok) is Stop:
                continue
            check(count, tok)
            write(count, tok)
            yield charge
            count += 1
        finish(count)


class RandomOffChipLoad(Node):
    """Data-dependent tile reads (STEP.md §4.1): one tile per address, tokens copied.

    ``RandomOffChipLoad(raddr, tensor, tile)``; output ``Tile[r,c] e`` with ``raddr``'s shape.
    [Choice] (§4.1) an address is a linear tile index into the tensor's row-major tile array.
    An address value is a [1,1] integer tile or an int; out of range is a StepError at run time.
    ``pad=True``: partial tiles as LinearOffChipLoad's (the padded tile array is addressed).
    """

    group = "memory"
    is_offchip = True
    cost_role = "offchip"
    reads_tensor = True
    random_access = True

    def _build(self, raddr, tensor, tile, *, pad=False):
        a = self._stream_arg(raddr, "raddr")
        if not is_address(a.dtype):
            self._fail("raddr", a, "expected a stream of address tiles Tile[1,1] of an int type")
        self.tensor = _tensor_arg(self, tensor, "input")
        self.tile = _tile_arg(self, tile)
        self.pad = _pad_arg(self, pad)
        self.tiled_in_shape = _tiled_shape(self, tensor, self.tile, self.pad)
        self.inputs = (a,)
        self.params = {"tensor": tensor, "tile": self.tile, **_pad_param(self.pad)}
        dtype = Tile(self.tile[0], self.tile[1], tensor.dtype)
        self._out_types = (StreamType(dtype, a.shape, a.ragged),)

    def element_bytes(self) -> Dim:
        """Bytes of one output tile."""
        return Tile(self.tile[0], self.tile[1], self.tensor.dtype).nbytes

    def describe(self) -> str:
        return f"{self.tensor.name} tile=[{self.tile[0]},{self.tile[1]}]"

    def behaviour(self, ctx: BehaviourContext) -> Behaviour:
        tiles = ctx.memory.tiles(self.tensor, self.tile, self.pad)
        charge = (OFFCHIP, ctx.value(self.element_bytes()), False)
        while True:
            tok = yield (GET, 0)
            if tok is DONE or type(tok) is Stop:
                yield (PUT, 0, tok)
                if tok is DONE:
                    return
                continue
            addr = _address(tok, len(tiles), self.tensor)
            yield charge
            yield (PUT, 0, tiles[addr])


class RandomOffChipStore(Node):
    """Data-dependent tile writes (STEP.md §4.1); output: one ``True`` ack per write.

    ``RandomOffChipStore(waddr, wdata, tensor)``: the i-th address pairs with the i-th data tile;
    the ack stream has ``waddr``'s shape and tokens. [Choice] (§4.1) addresses are linear tile
    indices; a later write to the same address wins; the tile element type must equal the
    tensor's; a tensor is written by one store only (GraphError). ``pad=True``: partial tiles
    as LinearOffChipStore's (addresses index the padded tile array, the padding is dropped).
    """

    group = "memory"
    is_offchip = True
    cost_role = "offchip"
    writes_tensor = True
    random_access = True
    data_inputs = slice(1, 2)   # wdata (port 0 is waddr)

    def _build(self, waddr, wdata, tensor, *, pad=False):
        a = self._stream_arg(waddr, "waddr")
        d = self._stream_arg(wdata, "wdata")
        if not is_address(a.dtype):
            self._fail("waddr", a, "expected a stream of address tiles Tile[1,1] of an int type")
        if not is_static_tile(d.dtype):
            self._fail("wdata", d, "expected a stream of static tiles Tile[r,c]")
        na, nd = a.type.cardinality, d.type.cardinality
        if is_static(na) and is_static(nd) and na != nd:
            self._fail("wdata", d, f"has {nd} tiles but waddr {shape_str(a.shape)} has {na} "
                       "addresses (expected equal cardinalities)")
        self.tensor = _tensor_arg(self, tensor, "output")
        self.pad = _pad_arg(self, pad)
        self.tile, _ = _check_store_tile(self, tensor, d.dtype, self.pad)
        _check_single_writer(self, tensor)
        self.inputs = (a, d)
        self.params = {"tensor": tensor, **_pad_param(self.pad)}
        self._out_types = (StreamType(Bool, a.shape, a.ragged),)

    def element_bytes(self) -> Dim:
        """Bytes of one input data tile."""
        return self.inputs[1].dtype.nbytes

    def describe(self) -> str:
        return f"-> {self.tensor.name} tile=[{self.tile[0]},{self.tile[1]}]"

    def behaviour(self, ctx: BehaviourContext) -> Behaviour:
        n_tiles = _tile_count(ctx, self.tensor, self.tile, self.pad)
        if self.pad:
            ctx.memory.padded.add(self.tensor.name)
        charge = (OFFCHIP, self.element_bytes(), True)
        write = ctx.memory.writer(self.tensor, self.tile, self.pad)
        writes = 0
        while True:
            tok = yield (GET, 0)
            if tok is DONE:
                break
            if type(tok) is Stop:
                yield (PUT, 0, tok)
                continue
            addr = _address(tok, n_tiles, self.tensor)
            value = yield from self._next_data(writes)
            _check_tile_value(value, self.tile, self.tensor)
            write(addr, value)
            yield charge
            yield (PUT, 0, True)
            writes += 1
        yield from self._drain_data(writes)
        ctx.stored[self.tensor.name] = (self.tensor, self.tile, None)
        yield (PUT, 0, DONE)

    def _next_data(self, writes: int):
        while True:
            tok = yield (GET, 1)
            if tok is DONE:
                raise StepError(f"wdata ended after {writes} tiles while waddr still has "
                                "addresses (expected one data tile per address)")
            if type(tok) is not Stop:
                return tok

    def _drain_data(self, writes: int):
        while True:
            tok = yield (GET, 1)
            if tok is DONE:
                return
            if type(tok) is not Stop:
                raise StepError(f"waddr ended after {writes} addresses while wdata still has "
                                "tiles (expected one address per data tile)")
