"""Token encoding of streams (STEP.md §2.2–2.3): data items, stop tokens ``S_k`` and ``Done``.

Data items are arbitrary Python values (numpy tiles, bools, frozenset selectors, buffers, tuples).
Stop tokens are interned :class:`Stop` instances (``S(2) is S(2)``); ``DONE`` is a singleton.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

__all__ = ["Stop", "S", "DONE", "is_stop", "encode", "decode", "format_tokens", "count_data"]


class Stop:
    """Stop token ``S_k``: closes a k-dimensional sub-tensor (k >= 1)."""

    __slots__ = ("level",)
    _interned: dict[int, Stop] = {}
    level: int

    def __new__(cls, level: int):
        tok = cls._interned.get(level)
        if tok is None:
            if not isinstance(level, int) or level < 1:
                raise ValueError(f"stop token level {level!r} (expected an int >= 1)")
            tok = super().__new__(cls)
            tok.level = level
            cls._interned[level] = tok
        return tok

    def __repr__(self) -> str:
        return f"S{self.level}"

    def __reduce__(self) -> tuple[type[Stop], tuple[int]]:
        return (Stop, (self.level,))


class _Done:
    __slots__ = ()
    _instance: _Done | None = None

    def __new__(cls) -> _Done:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "Done"

    def __reduce__(self) -> tuple[type[_Done], tuple[()]]:
        return (_Done, ())


DONE = _Done()


def S(level: int) -> Stop:
    return Stop(level)


def is_stop(tok: object) -> bool:
    return type(tok) is Stop


def encode(tensors: Iterable[Any], rank: int) -> list[Any]:
    """Encode a list of rank-``rank`` nested lists as tokens, ending with ``DONE`` (E1–E4)."""
    out: list = []
    for t in tensors:
        out += _enc(t, rank)
    out.append(DONE)
    return out


def _enc(t: Any, k: int) -> list[Any]:
    if k == 0:
        return [t]
    body = [tok for child in t for tok in _enc(child, k - 1)]
    if body and type(body[-1]) is Stop:
        body[-1] = Stop(k)
    else:
        body.append(Stop(k))
    return body


def decode(tokens: Iterable[Any], rank: int) -> list[Any]:
    """Inverse of :func:`encode`: a list of rank-``rank`` nested lists (STEP.md §2.3).

    ``S_k`` closes the k innermost open levels; an empty rank-k tensor decodes as ``[[]]``-form.
    """
    if rank == 0:
        return [t for t in tokens if t is not DONE]
    stack: list = [[] for _ in range(rank + 1)]  # stack[0] = top-level list, stack[rank] = leaf
    for tok in tokens:
        if tok is DONE:
            break
        if type(tok) is Stop:
            if tok.level > rank:
                raise ValueError(f"stop token {tok!r} in a rank-{rank} stream")
            for lvl in range(rank, rank - tok.level, -1):
                stack[lvl - 1].append(stack[lvl])
                stack[lvl] = []
        else:
            stack[rank].append(tok)
    return stack[0]


def format_tokens(tokens: Iterable[Any], show: Callable[[Any], str] = repr) -> str:
    return " ".join(repr(t) if (t is DONE or type(t) is Stop) else show(t) for t in tokens)


def count_data(tokens: Iterable[Any]) -> int:
    return sum(1 for t in tokens if t is not DONE and type(t) is not Stop)
