"""The Program: a named, growing dataflow graph of operator nodes, tensors and streams."""
from __future__ import annotations

import hashlib
from collections import defaultdict
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from ..errors import GraphError, ShapeError, did_you_mean
from ..symbolic import as_dim, free_symbols
from .dot import mimebundle, to_dot
from .dtypes import Buffer, DType, element
from .node import GET, PUT, Behaviour, BehaviourContext, Node
from .stream import Stream, StreamType
from .tensor import Tensor
from .tokens import DONE

# The largest FIFO depth (a FIFO preallocates its slots); HardwareConfig.fifo_depth shares it.
MAX_FIFO_DEPTH = 1 << 20

__all__ = ["Program", "Tensor", "Input", "Output", "Feedback"]


class Input(Node):
    """A program input stream whose tokens are supplied at run time (selectors, metadata)."""

    group = "io"
    forwards_residency = "first_output"
    introduces_symbols = True

    def _build(self, program: Program, stype: StreamType) -> None:
        self.params = {"program": program}
        self._out_types = (stype,)

    def describe(self) -> str:
        return ""

    def behaviour(self, ctx: BehaviourContext) -> Behaviour:
        for tok in ctx.input_tokens(self):
            yield (PUT, 0, tok)


class Output(Node):
    """A named program output: collects the tokens of a stream."""

    group = "io"
    forwards_residency = "first_output"

    def _build(self, stream: Stream, label: str) -> None:
        self.inputs = (self._stream_arg(stream, "stream"),)
        self.params = {"label": label}
        self._out_types = ()

    def _result(self) -> None:
        return None

    def behaviour(self, ctx: BehaviourContext) -> Behaviour:
        sink = ctx.output_tokens(self)
        while True:
            tok = yield (GET, 0)
            sink.append(tok)
            if tok is DONE:
                return


class Feedback(Node):
    """Placeholder for a back edge: consumers use it now, :meth:`Program.connect` closes it."""

    group = "io"
    forwards_residency = "first_output"
    introduces_symbols = True
    back_edge = True

    def _build(self, program: Program, stype: StreamType, depth: int) -> None:
        self.params = {"program": program, "depth": depth}
        self._out_types = (stype,)

    def describe(self) -> str:
        return f"depth={self.params['depth']}"

    def behaviour(self, ctx: BehaviourContext) -> Behaviour:
        while True:
            tok = yield (GET, 0)
            yield (PUT, 0, tok)
            if tok is DONE:
                return


class Program:
    """A named STeP program: a dataflow graph built by calling operators on its streams."""

    def __init__(self, name: str = "program"):
        self.name = name
        self.nodes: list[Node] = []
        self.streams: list[Stream] = []
        self.tensors: dict[str, Tensor] = {}
        self.inputs: dict[str, Input] = {}
        self.outputs: dict[str, Output] = {}
        self.fifo_depth: dict[Stream, int] = {}
        self._counters: dict[str, int] = defaultdict(int)
        self._names: set[str] = set()
        self._next_addr = 0
        self._scope: tuple[str, ...] = ()

    # -- name scopes ------------------------------------------------------------------------
    @contextmanager
    def scope(self, name: str) -> Iterator[tuple[str, ...]]:
        """Group the nodes created inside: ``with prog.scope("expert 12"): ...``.

        Scopes nest like a module path in torch.fx; every node created inside gets
        ``node.scope`` = the tuple of enclosing scope names, outermost first (``()`` outside any
        scope). Re-entering a scope name later adds to the same group. Scopes only label nodes:
        they change no behaviour, metric or cycle count.
        [Choice] Scopes are not part of :meth:`fingerprint`: they cannot change a result, so a
        cached result stays valid when only the grouping changes.
        """
        if not isinstance(name, str) or not name.strip():
            raise GraphError(f"scope name {name!r} in program {self.name!r} "
                             "(expected a non-empty string, e.g. 'expert 12')")
        outer = self._scope
        self._scope = outer + (name,)
        try:
            yield self._scope
        finally:
            self._scope = outer

    @property
    def current_scope(self) -> tuple[str, ...]:
        """The scope path new nodes get (``()`` outside any ``with prog.scope(...)``)."""
        return self._scope

    def scopes(self) -> dict[tuple[str, ...], list[Node]]:
        """``{scope path: [nodes whose scope is exactly that path]}`` in node order."""
        table: dict[tuple[str, ...], list[Node]] = {}
        for n in self.nodes:
            table.setdefault(n.scope, []).append(n)
        return table

    # -- building --------------------------------------------------------------------------
    def tensor(self, name: str, shape: Iterable[Any], dtype: str = "bf16", *,
               role: str = "input", ragged: Iterable[Any] = ()) -> Tensor:
        """Declare an off-chip tensor (element shape, symbolic dims allowed)."""
        self._check_new_name(name, self.tensors, "tensor")
        shape = tuple(as_dim(d, what=f"tensor {name!r} dim") for d in shape)
        t = Tensor(self, name, shape, element(dtype, what=f"tensor {name!r} dtype"),
                   self._next_addr, role, frozenset(ragged))
        self._next_addr += 1 << 32  # tensors live in disjoint address ranges
        self.tensors[name] = t
        return t

    def input(self, name: str, dtype: DType, shape: Iterable[Any], *,
              ragged: Iterable[Any] = ()) -> Stream:
        """Declare an input stream whose tokens are given at run time (``inputs={name: …}``)."""
        self._check_new_name(name, self.inputs, "input")
        if not isinstance(dtype, DType):
            raise ShapeError(f"input {name!r}: dtype {dtype!r} is not a stream data type "
                             "(expected e.g. sl.Selector(8) or sl.Tile(1, 64, 'bf16'))")
        stream = Input(self, StreamType(dtype, tuple(shape), frozenset(ragged)), name=name)
        self.inputs[name] = stream.node
        return stream

    def output(self, name: str, stream: Stream) -> None:
        """Name a stream as a program output; the run result exposes its tokens and values."""
        self._check_new_name(name, self.outputs, "output")
        if not isinstance(stream, Stream):
            raise GraphError(f"output {name!r}: {stream!r:.60} is not a Stream")
        if stream.program is not self:
            raise GraphError(f"output {name!r}: stream {stream.name!r} belongs to program "
                             f"{stream.program.name!r}, not {self.name!r}")
        Output(stream, name, name=f"out_{name}")
        sink = self.nodes[-1]
        assert isinstance(sink, Output)  # Output() returns None; its node is the last one
        self.outputs[name] = sink

    def feedback(self, dtype: DType, shape: Iterable[Any], *, ragged: Iterable[Any] = (),
                 depth: int = 1,
                 name: str | None = None) -> Stream:
        """A stream usable before its producer exists; close it with :meth:`connect`."""
        if not _valid_depth(depth):
            raise GraphError(f"feedback depth {depth!r}: a cycle needs a FIFO buffer of depth "
                             ">= 1 on its back edge (expected an int >= 1)")
        return Feedback(self, StreamType(dtype, tuple(shape), frozenset(ragged)), depth,
                        name=name)

    def connect(self, placeholder: Stream, source: Stream) -> None:
        """Close a feedback placeholder with the stream that actually produces its tokens."""
        node = placeholder.node
        if not isinstance(node, Feedback):
            raise GraphError(f"connect: {placeholder.name!r} is not a feedback placeholder "
                             "(expected a stream from prog.feedback(...))")
        if node.inputs:
            raise GraphError(f"connect: feedback {node.name!r} is already connected to "
                             f"{node.inputs[0].name!r}")
        if source.program is not self:
            raise GraphError(f"connect: stream {source.name!r} belongs to another program")
        if not source.type.same_as(placeholder.type):
            raise ShapeError(f"connect: stream {source.name!r} has type {source.type} but "
                             f"feedback {node.name!r} was declared {placeholder.type} "
                             "(expected equal types; use .assume(shape) to assert equality)")
        node.inputs = (source,)
        self.fifo_depth[source] = node.params["depth"]

    def set_fifo_depth(self, stream: Stream, depth: int) -> None:
        if not _valid_depth(depth):
            raise GraphError(f"FIFO depth {depth!r:.40} for {stream.name!r} (expected an int "
                             f"from 1 to {_max_depth()})")
        self.fifo_depth[stream] = depth

    # -- registry (called by Node) ------------------------------------------------------------
    def _register(self, node: Node, name: str | None) -> str:
        if name is None:
            kind = type(node).__name__.lower()
            while True:
                name = f"{kind}{self._counters[kind]}"
                self._counters[kind] += 1
                if name not in self._names:
                    break
        elif name in self._names:
            raise GraphError(f"node name {name!r} is already used in program {self.name!r} "
                             "(expected a unique name)")
        self._names.add(name)
        node.scope = self._scope
        self.nodes.append(node)
        return name

    def _add_streams(self, streams: Iterable[Stream]) -> None:
        self.streams.extend(streams)

    def _unregister(self, node: Node) -> None:
        """Take back a node whose enclosing operator call failed (see ``Node.__new__``)."""
        self.nodes.remove(node)
        self._names.discard(node.name)
        dropped = set(node.outputs)
        self.streams = [s for s in self.streams if s not in dropped]
        for stream in dropped:
            self.fifo_depth.pop(stream, None)

    def _check_new_name(self, name: object, table: dict[str, Any], what: str) -> None:
        if not isinstance(name, str) or not name:
            raise GraphError(f"{what} name {name!r} (expected a non-empty string)")
        if name in table:
            raise GraphError(f"{what} {name!r} is declared twice in program {self.name!r} "
                             f"(expected unique {what} names)")

    # -- queries --------------------------------------------------------------------------------
    def node(self, name: str) -> Node:
        for n in self.nodes:
            if n.name == name:
                return n
        raise GraphError(f"no node {name!r} in program {self.name!r}"
                         + did_you_mean(name, [n.name for n in self.nodes]))

    def consumers(self) -> dict[Stream, list[tuple[Node, int]]]:
        """``{stream: [(node, input_port), …]}`` for every stream."""
        table: dict[Stream, list[tuple[Node, int]]] = {s: [] for s in self.streams}
        for n in self.nodes:
            for i, s in enumerate(n.inputs):
                table.setdefault(s, []).append((n, i))
        return table

    def symbols(self) -> set[Any]:
        """Every free symbol in stream shapes, dtypes and tensor shapes."""
        syms: set[Any] = set()
        for s in self.streams:
            syms |= free_symbols(*s.shape) | _dtype_symbols(s.dtype)
        for t in self.tensors.values():
            syms |= free_symbols(*t.shape)
        return syms

    def validate(self) -> None:
        """Raise GraphError for a program that cannot run (open feedback placeholders)."""
        for n in self.nodes:
            if isinstance(n, Feedback) and not n.inputs:
                raise GraphError(f"feedback {n.name!r} was never connected "
                                 "(call prog.connect(placeholder, stream))")

    def lint(self) -> list[str]:
        # The one upward import of the IR (allowed by design): lint is an analysis, and
        # Program.lint() is a convenience facade over step_lab.analysis.lint.lint.
        from ..analysis.lint import lint
        return lint(self)

    def to_dot(self, **kwargs: Any) -> str:
        return to_dot(self, **kwargs)

    def _repr_mimebundle_(self, include: Any = None, exclude: Any = None) -> dict[str, str]:
        return mimebundle(self)

    def fingerprint(self) -> str:
        """A content hash of the program (structure, types, parameters) for result caching.

        [Choice] The hash covers the structure, not the drawing: each node's operator class,
        name, parameters (``describe()``), input streams (producer, port, type) and output
        types, plus every tensor. Name scopes are left out, so regrouping a program keeps its
        cached results valid.
        """
        return hashlib.sha256(repr(self._structure()).encode()).hexdigest()[:16]

    def _structure(self) -> tuple[Any, ...]:
        nodes = tuple((type(n).__qualname__, n.name, n.describe(),
                       tuple((s.node.name, s.port, str(s.type)) for s in n.inputs),
                       tuple(str(s.type) for s in n.outputs)) for n in self.nodes)
        return nodes, tuple((name, str(t)) for name, t in self.tensors.items())

    def __repr__(self) -> str:
        return f"<Program {self.name!r}: {len(self.nodes)} nodes, {len(self.streams)} streams>"


def _dtype_symbols(dtype: DType) -> set[Any]:
    out: set[Any] = set()
    for attr in ("rows", "cols", "shape", "tile", "items"):
        v = getattr(dtype, attr, None)
        if v is None:
            continue
        if isinstance(v, DType):
            out |= _dtype_symbols(v)
        elif isinstance(v, tuple) and v and isinstance(v[0], DType):
            for x in v:
                out |= _dtype_symbols(x)
        else:
            out |= free_symbols(v)
    return out


def _max_depth() -> int:
    return MAX_FIFO_DEPTH


def _valid_depth(depth: object) -> bool:
    return (isinstance(depth, int) and not isinstance(depth, bool)
            and 1 <= depth <= _max_depth())


def ragged_symbols(program: Program) -> tuple[Any, ...]:
    """Ragged symbols of every stream, buffer type and tensor of ``program``, sorted by name."""
    found: set[Any] = set()
    for stream in program.streams:
        found |= stream.type.ragged
        if isinstance(stream.dtype, Buffer):
            found |= set(stream.dtype.ragged)
    for tensor in program.tensors.values():
        found |= set(tensor.ragged)
    return tuple(sorted(found, key=lambda s: s.name))
