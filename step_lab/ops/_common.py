"""Helpers shared by operator definitions: argument checks and token-level chunk handling."""
from __future__ import annotations

from collections.abc import Generator, Iterable
from typing import Any

from ..ir.node import GET, PUT, Behaviour, Node
from ..ir.tokens import DONE, Stop
from ..symbolic import fmt

__all__ = ["take_chunk", "put_all", "put_done", "check_rank_arg", "check_int",
           "is_data", "raise_stop", "GET", "PUT", "DONE", "Stop"]


def is_data(tok: object) -> bool:
    return tok is not DONE and type(tok) is not Stop


def take_chunk(port: int, level: int) -> Generator[Any, Any, list[Any]]:
    """Generator: GET one rank-``level`` chunk from ``port``; returns its token list.

    For level 0 the chunk is one data element (a directly following stop token is *not* taken).
    For level >= 1 it is every token up to and including the first stop token of level >= level.
    Returns ``[DONE]`` if the port is at Done.
    """
    if level == 0:
        tok = yield (GET, port)
        return [tok]
    out: list[Any] = []
    while True:
        tok = yield (GET, port)
        out.append(tok)
        if tok is DONE or (type(tok) is Stop and tok.level >= level):
            return out


def put_all(port: int, tokens: Iterable[Any]) -> Behaviour:
    for tok in tokens:
        yield (PUT, port, tok)


def put_done(n_outputs: int) -> Behaviour:
    for j in range(n_outputs):
        yield (PUT, j, DONE)


def raise_stop(tok: Stop, by: int) -> Stop:
    """``S_k`` -> ``S_{k+by}`` (by may be negative; result level must stay >= 1)."""
    return Stop(tok.level + by)


def check_int(node: Node, arg: str, value: Any, *, minimum: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        node._fail(arg, value, f"expected an int >= {minimum}")
    return value


def check_rank_arg(node: Node, arg: str, value: Any, lo: int, hi: int) -> int:
    """A rank argument must be an int with lo <= value <= hi."""
    if isinstance(value, bool) or not isinstance(value, int):
        node._fail(arg, value, f"expected an int rank in [{lo}, {hi}]")
    if not lo <= value <= hi:
        node._fail(arg, value, f"expected {lo} <= {arg} <= {hi} for an input of rank {hi}"
                   if hi >= lo else f"no valid {arg} exists for this input")
    return value


def shape_str(shape: Iterable[Any]) -> str:
    return "[" + ", ".join(fmt(d) for d in shape) + "]"
