"""What a running behaviour may ask of its driver: bindings, input tokens, memory, outputs."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import BindingError, ShapeError, StepError
from ..ir.dtypes import DType, Scalar, Selector, Tile, numpy_dtype
from ..ir.node import Node
from ..ir.program import Program
from ..ir.stream import StreamType
from ..ir.tokens import DONE, Stop, encode
from ..symbolic import evaluate, free_symbols
from ..validate import check_stream_shape, check_work, run_bindings
from .memory import OffChipMemory

__all__ = ["RunContext", "normalize_value", "check_bindings", "check_token_list", "Unchecked"]


def check_bindings(program: Program, bindings: dict) -> None:
    """Symbols that size inputs (tensor dims, input stream dims) must be bound (STEP.md §6.4)."""
    needed = set()
    for t in program.tensors.values():
        if t.role == "input":
            needed |= free_symbols(*t.shape)
    for n in program.inputs.values():  # ragged dims are measured from the tokens, not bound
        st = n.outputs[0].type
        needed |= free_symbols(*st.shape) - set(st.ragged)
    missing = sorted(s.name for s in needed if s.name not in bindings)
    if missing:
        given = ', '.join(repr(m) + ': …' for m in missing)
        raise BindingError(f"cannot run {program.name!r}: unbound symbols {set(missing)} size its "
                           f"inputs (pass bindings={{{given}}})")


class RunContext:
    """Per-run state shared by all behaviours (interpreter and simulator)."""

    def __init__(self, program: Program, inputs: dict[str, Any] | None = None,
                 bindings: dict[str, Any] | None = None, seed: int = 0, *,
                 where: str = "simulate", max_events: int | None = None) -> None:
        self.program = program
        self.where = where
        self.bindings = run_bindings(program, bindings, where)
        if inputs is not None and not hasattr(inputs, "items"):
            raise BindingError(f"{where}: inputs = {inputs!r:.60} of type "
                               f"{type(inputs).__name__} (expected a dict name -> array or "
                               "token list)")
        self.inputs = dict(inputs or {})
        unknown = set(self.inputs) - set(program.tensors) - set(program.inputs)
        if unknown:
            from ..errors import did_you_mean
            name = sorted(unknown)[0]
            raise BindingError(f"inputs name {name!r}, which is neither a tensor nor an input "
                               f"stream of {program.name!r}"
                               + did_you_mean(name, list(program.tensors) + list(program.inputs)))
        check_bindings(program, self.bindings)
        missing = sorted(set(program.inputs) - set(self.inputs))
        if missing:
            stype = program.inputs[missing[0]].outputs[0].type
            raise BindingError(f"{where}: input stream {missing[0]!r} ({stype}) has no value "
                               f"(pass inputs={{{', '.join(repr(m) + ': …' for m in missing)}}})")
        if max_events is not None:
            check_work(program, self.bindings, max_events, where, given=set(self.inputs))
        self.memory = OffChipMemory(program, {k: v for k, v in self.inputs.items()
                                              if k in program.tensors}, self.bindings, seed)
        self.outputs: dict[str, list] = {}
        self.stored: dict[str, Any] = {}
        self.spilled: dict = {}     # Bufferize/Streamify nodes whose buffers live in HBM

    def value(self, dim: Any, where: str = "") -> int:
        return evaluate(dim, self.bindings, where=where)

    def input_tokens(self, node: Node) -> list:
        name = node.name
        stype = node.outputs[0].type
        if name not in self.inputs:
            raise BindingError(f"input stream {name!r} ({stype}) has no value "
                               f"(pass inputs={{{name!r}: …}})")
        tokens = _as_tokens(self.inputs[name], stype.rank, name)
        if not isinstance(self.inputs[name], Unchecked):
            check_stream_shape(name, tokens, self._declared(stype), f"{self.where}: inputs")
        return [t if (t is DONE or type(t) is Stop) else normalize_value(stype.dtype, t, name)
                for t in tokens]

    def _declared(self, stype: StreamType) -> list[int | None]:
        """The stream's dims outermost first: an int when known at these bindings, None for a
        ragged or unknown dim (measured, not checked)."""
        out: list[int | None] = []
        for d in stype.shape:
            if free_symbols(d) & stype.ragged:
                out.append(None)
                continue
            try:
                out.append(self.value(d))
            except StepError:
                out.append(None)
        return out

    def output_tokens(self, node: Node) -> list:
        return self.outputs.setdefault(node.params["label"], [])


class Unchecked(list):
    """A token list given as an input *without* the E1–E4 check: to replay a recorded stream
    as is, or to test how operators react to malformed streams (their run-time checks)."""


def _as_tokens(raw, rank: int, name: str) -> list:
    """A token list (validated against E1–E4) or nested values encoded as one."""
    if isinstance(raw, Unchecked):
        return list(raw)
    if isinstance(raw, list) and any(t is DONE or type(t) is Stop for t in raw):
        check_token_list(raw, rank, f"input {name!r}")
        return raw
    try:
        return encode(list(raw), rank)
    except TypeError as e:
        raise ShapeError(f"input {name!r}: value of type {type(raw).__name__} cannot be read as "
                         f"a rank-{rank} stream ({e}; expected nested lists/arrays of depth "
                         f"{rank}, or a token list ending with DONE)") from None


def check_token_list(tokens: list, rank: int, where: str) -> None:
    """STEP.md §2.2: one final Done, stop levels <= rank (none at rank 0), and every top-level
    tensor (so the last item before Done) closed by ``S_rank``."""
    if not tokens or tokens[-1] is not DONE or any(t is DONE for t in tokens[:-1]):
        raise ShapeError(f"{where}: a token list must end with exactly one DONE "
                         f"(got {len(tokens)} tokens, last {tokens[-1] if tokens else None!r})")
    for i, t in enumerate(tokens):
        if type(t) is Stop and t.level > rank:
            raise ShapeError(f"{where}: token {i} is {t!r} but the stream has rank {rank} "
                             f"(expected stop tokens S1…S{rank})" if rank else
                             f"{where}: token {i} is {t!r} but a rank-0 stream has no stop "
                             "tokens (E3)")
    body = tokens[:-1]
    if rank and body and not (type(body[-1]) is Stop and body[-1].level == rank):
        raise ShapeError(f"{where}: the last tensor ends with {body[-1]!r} (expected S{rank}: "
                         f"every top-level tensor of a rank-{rank} stream ends with S{rank}, "
                         "rule E3)")


def normalize_value(dtype: DType, x: Any, where: str) -> Any:
    """Turn a user-supplied element into the canonical value for ``dtype``."""
    if isinstance(dtype, Selector):
        bits = _selector_bits(dtype, x, where)
        bad = [b for b in bits if not 0 <= b < dtype.n]
        if bad:
            raise ShapeError(f"input {where!r}: selector index {bad[0]} is out of range "
                             f"(expected 0 <= index < {dtype.n})")
        return bits
    if isinstance(dtype, Scalar):
        if x is None or isinstance(x, (str, bytes, list, tuple, dict, set)):
            raise ShapeError(f"input {where!r}: element {x!r:.40} is not a {dtype} (expected "
                             "a number)")
        _check_integral(dtype.elem, np.asarray(x), x, where)
        try:
            return numpy_dtype(dtype.elem)(x).item()
        except (TypeError, ValueError) as e:
            raise ShapeError(f"input {where!r}: element {x!r:.40} is not a {dtype} ({e})") \
                from None
    if isinstance(dtype, Tile):
        try:
            _check_integral(dtype.elem, np.asarray(x), x, where)
            arr = np.asarray(x, dtype=numpy_dtype(dtype.elem))
        except (TypeError, ValueError) as e:
            raise ShapeError(f"input {where!r}: element {x!r:.40} is not a {dtype} tile "
                             f"({e})") from None
        if arr.ndim != 2:
            arr = arr.reshape(_tile_shape(dtype, arr, where))
        for got, want, what in zip(arr.shape, (dtype.rows, dtype.cols), ("rows", "cols"),
                                   strict=True):
            if isinstance(want, int) and got != want:
                raise ShapeError(f"input {where!r}: element of shape {arr.shape} does not fit "
                                 f"{dtype} ({what} {got} != {want})")
        return arr
    return x


def _check_integral(elem: str, arr, x, where: str) -> None:
    """An integer (or bool) element type must not silently truncate fractional values."""
    kind = np.dtype(numpy_dtype(elem)).kind
    if kind in "iub" and arr.dtype.kind in "fc" and arr.size and not (
            np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))):
        raise ShapeError(f"input {where!r}: element {x!r:.40} has fractional or non-finite "
                         f"values but the stream holds {elem} (expected integers)")
    if kind == "b" and arr.dtype.kind in "iuf" and arr.size and not np.all((arr == 0) | (arr == 1)):
        raise ShapeError(f"input {where!r}: element {x!r:.40} is not a bool (expected True/"
                         "False or 0/1)")


def _selector_bits(dtype, x, where) -> frozenset:
    """A selector given as an index, a set of indices or a multi-hot (bool) vector."""
    if isinstance(x, (int, np.integer)) and not isinstance(x, (bool, np.bool_)):
        return frozenset([int(x)])
    try:
        arr = np.asarray(list(x) if isinstance(x, (set, frozenset)) else x)
        if arr.size == 0:
            return frozenset()
        if arr.dtype == np.bool_:
            return frozenset(int(i) for i in np.flatnonzero(arr))
        if arr.dtype.kind not in "iu" and not (arr.dtype.kind == "f"
                                                and np.all(arr == np.round(arr))):
            raise TypeError(f"dtype {arr.dtype}")
        return frozenset(int(i) for i in arr.ravel())
    except (TypeError, ValueError) as e:
        raise ShapeError(f"input {where!r}: element {x!r:.40} is not a {dtype} (expected an "
                         f"index, a set of indices or a bool vector; {e})") from None


def _tile_shape(dtype, arr, where):
    r = dtype.rows if isinstance(dtype.rows, int) else None
    c = dtype.cols if isinstance(dtype.cols, int) else None
    if r is not None and c is not None and arr.size == r * c:
        return (r, c)
    raise ShapeError(f"input {where!r}: element of shape {arr.shape} is not a {dtype} tile")
