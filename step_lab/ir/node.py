"""Operator nodes and the behaviour protocol shared by the interpreter and the simulator.

Every operator is a subclass of :class:`Node`. Calling the class (``ops.Partition(x, sel, 2)``)
type-checks the arguments, adds an immutable node to the program of its inputs and returns the
node's output stream(s) — a single :class:`Stream`, a tuple of streams, or for sinks the value of
:meth:`Node._result`.

Behaviours are generators: ``node.behaviour(ctx)`` yields commands and receives results:

* ``tok = yield (GET, i)``             — next token of input port ``i``
* ``yield (PUT, j, tok)``               — append a token to output port ``j``
* ``k = yield (ANY, ports, level, start)`` — wait until one of ``ports`` (input indices) holds a
  complete chunk of rank ``level`` (or is at Done); returns the position in ``ports`` of the
  chosen one, or -1 when all are at Done. Untimed drivers choose cyclically from ``start``;
  the simulator chooses by arrival time. An optional fifth field ``ordered=True`` makes untimed
  drivers wait for ``ports[start]`` itself (Reassemble's functional in-group order, §4.3).
* ``yield (COMPUTE, flops)``            — charge compute for one element (timing only)
* ``yield (OFFCHIP, nbytes, is_write)`` — an off-chip access (traffic counting and timing)
"""
from __future__ import annotations

from collections.abc import Callable, Generator
from typing import TYPE_CHECKING, Any, ClassVar, NoReturn, Protocol

from ..errors import GraphError, ShapeError
from ..symbolic import fmt
from .stream import Stream, StreamType

if TYPE_CHECKING:
    from .program import Program

GET, PUT, ANY, COMPUTE, OFFCHIP = range(5)

__all__ = ["Node", "GET", "PUT", "ANY", "COMPUTE", "OFFCHIP", "BehaviourContext", "Behaviour"]

# A behaviour: a generator that yields commands (tuples above) and receives their results.
Behaviour = Generator[Any, Any, None]


class BehaviourContext(Protocol):
    """What a behaviour may ask of its driver (``interpret.context.RunContext`` implements it;
    the IR names only the protocol, so it imports nothing above it)."""

    bindings: dict[str, int]
    memory: Any                 # the run's off-chip memory (interpret.memory.OffChipMemory)
    outputs: dict[str, list[Any]]
    stored: dict[str, Any]

    def value(self, dim: Any, where: str = "") -> int: ...
    def input_tokens(self, node: Node) -> list[Any]: ...
    def output_tokens(self, node: Node) -> list[Any]: ...

# Nodes registered while an enclosing operator call is still type-checking its arguments, one
# list per open call (innermost last): rolled back if that call fails.
_BUILDING: list[list[Node]] = []


class Node:
    """Base class of operator nodes. Nodes compare by identity and are immutable once built."""

    # -- traits: what the operator is, declared once on its class and read by analysis
    # (formulas, lint, DOT), the simulator (plan, check) and placement; never derived from names.
    group: ClassVar[str] = "other"        # unit kind / colour: memory | routing | higher-order |
                                          # shape | io
    is_offchip: ClassVar[bool] = False    # reads/writes HBM
    cost_role: ClassVar[str] = "plain"    # §7.2 cost model: compute | offchip | bufferize |
                                          # streamify | plain
    reads_tensor: ClassVar[bool] = False  # an off-chip load (its output tiles are resident)
    writes_tensor: ClassVar[bool] = False  # an off-chip store (drawn with a tensor edge)
    random_access: ClassVar[bool] = False  # addresses come from a stream (artifact staging depth)
    data_inputs: ClassVar[slice] = slice(0, 1)   # input ports carrying data (not selectors)
    forwards_residency: ClassVar[str] = "none"   # none | first_output | all_outputs |
                                                 # per_component (memory residency, §7.2)
    order_free: ClassVar[bool] = False    # output order may follow arrival order (§4.3)
    switches_output: ClassVar[bool] = False  # pays switch_cost_cycles on an output-port change
    stages_matmul: ClassVar[bool] = False    # a matmul function stages T rows + weight (§6.2)
    holds_accumulator: ClassVar[bool] = False  # keeps its output element on chip (§6.2)
    repeats_input: ClassVar[bool] = False  # re-emits each element of input 0 (holds its slot)
    introduces_symbols: ClassVar[bool] = False  # its output type sizes the program's inputs
    back_edge: ClassVar[bool] = False     # closes a feedback loop (drawn dashed, not ranked)
    coalesces: ClassVar[bool] = False     # stateless per element: GET, COMPUTE, PUT of fn(tok)
                                          # per data token (runs move in one step, sim/coalesce)
    scope: tuple[str, ...] = ()           # name-scope path (Program.scope), outermost first

    # set by __new__ (and _build) on every instance
    inputs: tuple[Stream, ...]
    outputs: tuple[Stream, ...]
    params: dict[str, Any]
    name: str
    program: Program
    _out_types: tuple[StreamType, ...]

    def __new__(cls, *args: Any, name: str | None = None, **kwargs: Any) -> Any:
        """Type-check the arguments, add the node to its program, return its output(s) (or a
        sink's result), not the node.

        [Choice] A failed operator call leaves the program as it was: helper nodes its
        argument checks already added (e.g. the ``Zip`` of ``Map([a, b], fn)`` with a bad
        ``fn``) are taken back, so a corrected call in the next notebook cell builds no stray
        node.
        """
        node = object.__new__(cls)
        node.inputs = ()
        node.outputs = ()
        node.params = {}
        helpers: list[Node] = []
        _BUILDING.append(helpers)
        try:
            node._build(*args, **kwargs)
            program = node._find_program()
            node.name = program._register(node, name)    # a duplicate name fails here too
        except BaseException:
            for helper in reversed(helpers):
                helper.program._unregister(helper)
            raise
        finally:
            _BUILDING.pop()
        for frame in _BUILDING:
            frame.append(node)
        node.program = program
        node.outputs = tuple(Stream(program, node, i, t) for i, t in enumerate(node._out_types))
        program._add_streams(node.outputs)
        return node._result()

    # -- construction helpers used by subclasses -------------------------------------------
    def _build(self, *args, **kwargs) -> None:  # pragma: no cover - every op overrides
        raise TypeError(f"{type(self).__name__} does not define _build")

    def _result(self):
        if len(self.outputs) == 1:
            return self.outputs[0]
        return self.outputs

    def _find_program(self):
        programs = {id(s.program): s.program for s in self.inputs}
        tensor = self.params.get("tensor")
        if tensor is not None:
            programs[id(tensor.program)] = tensor.program
        owner = self.params.get("program")
        if owner is not None:
            programs[id(owner)] = owner
        if not programs:
            raise GraphError(f"{type(self).__name__}: no input stream or tensor to attach to "
                             "(expected streams or tensors of a Program)")
        if len(programs) > 1:
            names = sorted(p.name for p in programs.values())
            raise GraphError(f"{type(self).__name__}: inputs come from different programs "
                             f"{names} (expected all streams and tensors of one Program)")
        return next(iter(programs.values()))

    def _stream_arg(self, value, arg: str) -> Stream:
        if not isinstance(value, Stream):
            raise ShapeError(f"{type(self).__name__}: argument {arg!r} is "
                             f"{type(value).__name__} {value!r:.60} (expected a Stream)")
        return value

    def _fail(self, arg: str, value: Any, expected: str, hint: str = "") -> NoReturn:
        """Raise a ShapeError naming this operator, the argument, the value and the rule."""
        shown = fmt(value) if not isinstance(value, (Stream, StreamType, str)) else str(value)
        msg = f"{self._label()}: argument {arg!r} = {shown} ({expected})"
        raise ShapeError(msg + (f"\n  hint: {hint}" if hint else ""))

    def _label(self) -> str:
        name = getattr(self, "name", None)
        return f"{type(self).__name__} {name!r}" if name else type(self).__name__

    # -- behaviour ---------------------------------------------------------------------------
    def behaviour(self, ctx: BehaviourContext) -> Behaviour:  # pragma: no cover
        raise TypeError(f"{type(self).__name__} has no behaviour")

    def script(self, ctx: BehaviourContext) -> tuple[str, Callable[[], tuple]] | None:
        """The behaviour as data, for the simulator's generator-free drivers
        (``sim/drivers.py``): ``(kind, setup)``, where ``setup()`` — called when the behaviour
        would start running, so its errors surface at the same moment — returns the parameters
        of that kind of driver. None (the default): the simulator resumes ``behaviour``, which
        stays the reference (``simulate(coalesce=False)`` runs it for every node) and must
        issue exactly the commands the driver issues."""
        return None

    # -- display -------------------------------------------------------------------------------
    def describe(self) -> str:
        """One line with the parameters that matter (used by to_dot and repr)."""
        parts = [f"{k}={_short(v)}" for k, v in self.params.items()
                 if k not in ("tensor", "program") and v is not None and v is not False]
        return ", ".join(parts)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {getattr(self, 'name', '?')}>"

    # NOTE: nodes compare and hash by identity: object's own __eq__ / __hash__ (C slots), not
    # Python methods (a layer's simulation set-up hashes nodes tens of thousands of times)


def _short(v) -> str:
    if isinstance(v, (tuple, list)):
        return "(" + ", ".join(_short(x) for x in v) + ")"
    if hasattr(v, "name") and not isinstance(v, str):
        return str(v.name)
    return fmt(v) if not isinstance(v, str) else v
