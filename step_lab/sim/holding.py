"""Which input slots a node keeps taken while it uses the element (``hw.compute_holds_inputs``).

The authors' simulator reads an operand by *peeking* at its FIFO and dequeues it only once the
operator is done with it: a compute operator (Map, Accum, FlatMap, Scan) after the element's
compute cycles, an expand (``ExpandRef``) after the last repetition of the element. The FIFO slot
therefore stays taken meanwhile and the producer cannot refill it: with the experiments' depth-1
FIFOs a load prefetches one tile less, and a request whose query is still being expanded keeps
the interleaved distributor's FIFO to that region full (EXPERIMENTS.md §1.7: "a long request
stalls the distributor"). step_lab reads by dequeuing, so by default a slot is free as soon as
the element is read; with ``compute_holds_inputs`` the engine returns the slot's credit at the
end of the element's COMPUTE (compute operators, every input port) or when the node next reads
the port (``repeats_input`` operators, port 0). Other operators free a slot when they read the
element, as before.

[Choice] Only compute operators and repeating operators hold their inputs: routing and shape
operators of step_lab have no counterpart with the same FIFO structure in the artifact (its
binary operators read two FIFOs directly where step_lab inserts a Zip). Measured: holding every
node's input slots until its next read of the port raises the Fig 8 mean error from 0.5 % to
2.0 % and deadlocks the attention graphs, which are live with the narrower rule.
"""
from __future__ import annotations

from ..ir.node import Node
from .plan import COMPUTE

__all__ = ["held_ports"]


def held_ports(node: Node, role: int, n_inputs: int, enabled: bool) -> list:
    """Per input port: does the node keep a data element's slot until it is done with it?"""
    if not enabled:
        return [False] * n_inputs
    if role == COMPUTE:
        return [True] * n_inputs
    if type(node).repeats_input:
        return [True] + [False] * (n_inputs - 1)
    return [False] * n_inputs
