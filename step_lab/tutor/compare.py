"""Diagnosing comparisons for the tutor: token sequences, nested values, symbolic expressions.

Each ``compare_*`` returns silently when the answer matches and raises :class:`tutor.Wrong` with
a message saying *where* it differs and *which rule* explains the difference otherwise.
"""
from __future__ import annotations

import random

from ..errors import StepError
from ..ir.tokens import DONE, Stop
from ..symbolic import evaluate, fmt, free_symbols
from .display import Wrong, show
from .programs import scalar

__all__ = ["compare_tokens", "compare_nested", "evaluate_answer", "check_symbols", "level_name",
           "same_dim", "shape_text"]


def _wrong(message: str):
    return Wrong(message)


def level_name(k: int) -> str:
    return {1: "row (vector)", 2: "matrix"}.get(k, f"{k}-dimensional sub-tensor")


def _same(a, b) -> bool:
    if (type(a) is Stop) or (type(b) is Stop) or a is DONE or b is DONE:
        return a is b
    return scalar(a) == scalar(b)


def _marked(tokens: list, i: int) -> str:
    words = show(tokens).split(" ") if tokens else []
    if i < len(words):
        words[i] = f"⟨{words[i]}⟩"
    else:
        words.append("⟨…⟩")
    return " ".join(words)


def compare_tokens(got: list, expected: list, rank: int) -> None:
    """Raise Wrong naming the first differing token of ``got`` and the rule behind it."""
    if len(got) == len(expected) and all(_same(a, b) for a, b in zip(got, expected, strict=True)):
        return
    if not got or got[-1] is not DONE:
        if any(t is DONE for t in got):
            after = len(got) - 1 - max(i for i, t in enumerate(got) if t is DONE)
            raise _wrong(f"Done must be the very last token (it ends the whole stream), but "
                         f"{after} token(s) follow it in your answer.")
        raise _wrong("your sequence does not end with Done: every stream ends with exactly one "
                     "Done after its last tensor (rule E4).")
    high = [t for t in got if type(t) is Stop and t.level > rank]
    if high:
        raise _wrong(f"{high[0]!r} cannot appear in a rank-{rank} stream: S{rank} closes each "
                     f"top-level tensor and no higher stop token exists (rule E3).")
    # the first difference within the common prefix (the lengths may differ here)
    i = next(i for i, (a, b) in enumerate(zip(got, expected, strict=False)) if not _same(a, b))
    raise _wrong(_first_difference(got, expected, i) + f"\nyour tokens: {_marked(got, i)}")


def _first_difference(got: list, expected: list, i: int) -> str:
    g, e = got[i], expected[i]
    if g is DONE:
        data = sum(1 for t in expected if t is not DONE and type(t) is not Stop)
        return (f"your stream ends too early, at token {i}: the stream holds {data} data "
                "elements, each followed by the stop tokens that close it.")
    if e is DONE:
        return (f"your stream is too long: the stream is over after token {i - 1}, but yours "
                "continues.")
    if type(g) is Stop and type(e) is Stop:
        return _stop_versus_stop(got, i, g, e)
    if type(g) is Stop:
        return (f"token {i}: {g!r} closes a {level_name(g.level)}, but the current one is not "
                "finished: it has more elements.")
    if type(e) is Stop:
        return (f"token {i}: the {level_name(e.level)} that element {scalar(got[i - 1])} "
                "belongs to ends there, so a stop token comes next, not another element.")
    return (f"token {i} is the element {scalar(g)}, but another element belongs here: "
            "elements appear in row-major order, one row after the other.")


def _stop_versus_stop(got: list, i: int, g: Stop, e: Stop) -> str:
    following = got[i + 1] if i + 1 < len(got) else None
    if g.level < e.level and following is e:
        return (f"tokens {i}–{i + 1}: you wrote {g!r} {e!r}, but where a {level_name(g.level)} "
                f"and the enclosing {level_name(e.level)} end at the same place only the highest "
                f"stop token is written: {e!r} replaces {g!r} (rule E2).")
    if g.level < e.level:
        return (f"token {i}: {g!r} closes only a {level_name(g.level)}, but here a "
                f"{level_name(e.level)} ends as well, so the higher stop token is needed.")
    return (f"token {i}: {g!r} closes a {level_name(g.level)}, but only a "
            f"{level_name(e.level)} ends here.")


def compare_nested(got, expected, names: tuple, where: str = "the stream") -> None:
    """Compare decoded nested lists; ``names`` name the levels ("matrix", "row")."""
    if not isinstance(got, (list, tuple)):
        raise _wrong(f"{where} should be a list of {len(expected)} {names[0]}(s), but your "
                     f"answer has {got!r} there.")
    if len(got) != len(expected):
        hint = ""
        if any(child == [] for child in expected):
            hint = ("\nHint: a stop token that directly follows another stop token closes an "
                    "EMPTY sub-tensor: `S1 S2` ends a row that has no elements ([]).")
        raise _wrong(f"{where} has {len(got)} {names[0]}(s) in your answer, but the tokens "
                     f"describe {len(expected)}.{hint}")
    for k, (g, e) in enumerate(zip(got, expected, strict=True)):
        here = f"{names[0]} {k}" if where == "the stream" else f"{where}, {names[0]} {k}"
        if len(names) > 1:
            compare_nested(g, e, names[1:], here)
        elif scalar(g) != scalar(e):
            raise _wrong(f"{here} is {g!r} in your answer, but the tokens give another value.")


def check_symbols(answer, allowed: set, what: str) -> None:
    """``answer`` must be a number or an expression over symbols named in ``allowed``."""
    if isinstance(answer, bool) or not (isinstance(answer, int) or hasattr(answer,
                                                                           "free_symbols")):
        raise _wrong(f"{what} should be an int or a sympy expression (e.g. built from "
                     f"sl.dim('X') and sl.ceil_div), got {type(answer).__name__} {answer!r:.60}")
    extra = sorted({s.name for s in free_symbols(answer)} - allowed)
    if extra:
        raise _wrong(f"{what} uses symbol(s) {extra} that the exercise does not have (expected "
                     f"only {sorted(allowed)}).")


def evaluate_answer(answer, bindings: dict):
    """The value of a learner's expression (sympy, possibly with rational results)."""
    if isinstance(answer, int):
        return answer
    try:
        return evaluate(answer, bindings)
    except StepError:
        value = answer.subs({s: bindings[s.name] for s in answer.free_symbols})
        return float(value)


def same_dim(a, b, names: set, trials: int = 6) -> bool:
    """Whether dims ``a`` and ``b`` agree at several random bindings of ``names`` (by name)."""
    rng = random.Random(0)
    for _ in range(trials):
        values = {n: rng.randint(1, 40) for n in names}
        try:
            if evaluate_answer(a, values) != evaluate_answer(b, values):
                return False
        except (KeyError, StepError, TypeError, ValueError):
            return False
    return True


def shape_text(shape) -> str:
    return "[" + ", ".join(fmt(d) if not isinstance(d, str) else d for d in shape) + "]"
