"""Warnings about programs that build and type-check but are probably not what was meant.

``lint(prog)`` (also ``prog.lint()``) returns a list of human-readable warnings, each naming the
node or stream concerned, in a stable order:

* feedback placeholders never closed with ``prog.connect`` (the program cannot run);
* Partition outputs never consumed (chunks routed there are lost);
* program input streams never consumed;
* other streams without a consumer (implicitly drained, STEP.md §1 "Fan-out");
* tensors no operator reads or writes;
* symbols introduced by an operator's parameters rather than derived from inputs, and finally a
  hint listing the *input symbols* (those sizing tensors and input streams) that must be bound
  before running (§6.4).

[Choice] Not reported as undrained: the acknowledgement stream of RandomOffChipStore (a sink whose
acknowledgements are optional) and the padding stream of a Reshape without ``pad`` (all false).
Symbols an operator creates are "derived" when named after a node (§2.5 deterministic fresh
names, e.g. ``reassemble3_g``); any other symbol first appearing at an operator is reported.
"""
from __future__ import annotations

from typing import Any

from ..ir.program import Feedback, Input, Program, Tensor
from ..ops.routing import Partition
from ..ops.shape import Reshape
from ..symbolic import free_symbols

__all__ = ["lint"]


def lint(program: Program) -> list[str]:
    """Warnings about ``program`` (an empty list for a clean program)."""
    consumers = program.consumers()
    warnings: list[str] = []
    warnings += _open_feedback(program)
    warnings += _unconsumed(program, consumers)
    warnings += _unused_tensors(program)
    warnings += _unsourced_symbols(program)
    warnings += _input_symbol_hint(program)
    return warnings


def _open_feedback(program) -> list[str]:
    return [f"feedback placeholder {n.name!r} ({n.outputs[0].type}) is never connected: "
            f"close it with prog.connect({n.name}, stream)"
            for n in program.nodes if isinstance(n, Feedback) and not n.inputs]


def _unconsumed(program, consumers: dict) -> list[str]:
    out = []
    for stream in program.streams:
        if consumers.get(stream):
            continue
        message = _unconsumed_message(stream)
        if message:
            out.append(message)
    return out


def _unconsumed_message(stream) -> str | None:
    node = stream.node
    if isinstance(node, Partition):
        return (f"Partition {node.name!r} output {stream.port} ({stream.name!r}, {stream.type}) "
                "is never consumed: the chunks routed to it are lost")
    if isinstance(node, Input):
        return (f"input stream {node.name!r} ({stream.type}) is never consumed")
    if node.writes_tensor:              # a store's write acknowledgements
        return None
    if node.reads_tensor and stream.port == 0:
        tensors = [v.name for v in node.params.values() if isinstance(v, Tensor)]
        return (f"{type(node).__name__} {node.name!r} loads tensor {', '.join(map(repr, tensors))}"
                f" but its tiles ({stream.type}) are never used: the load still costs off-chip "
                "traffic and time (remove it, or consume it / prog.output it)")
    if isinstance(node, Reshape) and stream.port == 1 and node.params.get("pad") in (None, "None"):
        return None
    return (f"stream {stream.name!r} ({stream.type}) of {type(node).__name__} {node.name!r} has "
            "no consumer: it is implicitly drained (use prog.output to keep it)")


def _unused_tensors(program) -> list[str]:
    used = {id(v) for n in program.nodes for v in n.params.values() if isinstance(v, Tensor)}
    return [f"tensor {t.name!r} ({t}) is declared but no load or store uses it"
            for t in program.tensors.values() if id(t) not in used]


def input_symbols(program: Program) -> set[Any]:
    """Symbols sizing tensors and input streams: they must be bound before running (§6.4)."""
    found: set[Any] = set()
    for tensor in program.tensors.values():
        found |= free_symbols(*tensor.shape)
    for node in program.nodes:
        if node.introduces_symbols:
            found |= _type_symbols(node.outputs[0].type)
    return found


def _unsourced_symbols(program) -> list[str]:
    known = input_symbols(program)
    prefixes = tuple(n.name for n in program.nodes)
    out = []
    for node in program.nodes:
        if node.introduces_symbols:
            continue
        seen = set(known)
        for s in node.inputs:
            seen |= _type_symbols(s.type)
        for v in node.params.values():
            if isinstance(v, Tensor):
                seen |= free_symbols(*v.shape)
        fresh = set()
        for s in node.outputs:
            fresh |= _type_symbols(s.type) - seen
        for sym in sorted(fresh, key=lambda s: s.name):
            if not sym.name.startswith(prefixes):
                out.append(f"symbol {sym.name!r} first appears at {type(node).__name__} "
                           f"{node.name!r} and is not derived from any input: bind it "
                           f"(bindings={{{sym.name!r}: …}}) or size an input with it")
                known.add(sym)
    return out


def _input_symbol_hint(program) -> list[str]:
    names = sorted(s.name for s in input_symbols(program))
    if not names:
        return []
    return [f"hint: input symbols {names} size tensors or input streams and must be bound "
            f"before running (bindings={{{', '.join(repr(n) + ': …' for n in names)}}})"]


def _type_symbols(stype) -> set:
    return free_symbols(*stype.shape) | _dtype_symbols(stype.dtype)


def _dtype_symbols(dtype) -> set:
    found = set()
    for attr in ("rows", "cols", "shape"):
        found |= free_symbols(getattr(dtype, attr, None))
    for inner in (getattr(dtype, "tile", None), *getattr(dtype, "items", ())):
        if inner is not None:
            found |= _dtype_symbols(inner)
    return found
