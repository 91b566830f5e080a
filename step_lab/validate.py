"""One validation point per kind of user input: bindings, input arrays, input streams, limits.

Every entry point (``simulate``, ``interpret``, ``metrics(...).evaluate``, ``Workload.simulate``,
the CLI and the magics) passes its inputs through these functions, so a bad value always raises
the same :class:`~step_lab.errors.StepError` subclass with the argument, the value and what was
expected.

[Choice] A dim bound for a run is a non-negative integer (Python or numpy integer, sympy
Integer or an integral ``Fraction``); bool, float (even ``3.0``), NaN, str and None are
rejected. A non-integral ``Fraction`` is accepted only for a ragged symbol or a dynamic tile dim
(the expected value of a dim that varies between elements, STEP.md §6.4, as the workloads'
bindings hold): a run measures those from its tokens, so such a binding sizes nothing and is
left out of the run's bindings.

[Choice] Input arrays must hold numbers or bools (strings, objects, complex, datetimes are an
:class:`InputError`, which is both a BindingError and a ShapeError) of exactly the declared
shape at the bindings; an integer tensor refuses fractional floats. An input stream whose
outermost dim is known (static, or bound) must receive exactly that many top-level tensors
(``Unchecked`` token lists bypass this, to test operators on malformed streams).

[Choice] Work limit: before building anything, the data tokens of a run are estimated from the
streams' symbolic cardinalities at the bindings (plus generated input-tensor elements / 16);
above ``max_events`` (default 2·10⁸, about minutes of simulation) the run is refused with a
ConfigError naming the estimate and ``max_events=`` / ``$STEP_LAB_MAX_EVENTS``.

[Choice] In metrics evaluation a ragged symbol may also be bound to a finite float (its mean,
converted exactly: ``2.5`` is ``Fraction(5, 2)``); NaN and infinities are rejected, and a peak
(``evaluate(..., peak=...)``) is a maximum, hence an integer.

[Choice] Run bindings (``simulate``/``interpret``) naming a symbol the program does not
contain are a BindingError with a did-you-mean suggestion: a typo would otherwise leave the
intended symbol unbound or its measured value silently unchecked. Metric bindings may name
extra symbols (one dict may serve several variants of a program); when a symbol is unbound the
error suggests the closest extra name.
"""
from __future__ import annotations

import math
import numbers
import os
import weakref
from fractions import Fraction

import numpy as np

from .errors import BindingError, ConfigError, InputError, did_you_mean
from .ir.tokens import DONE, Stop

__all__ = ["check_program", "check_seed", "binding_key", "run_bindings", "metric_bindings",
           "unknown_hint", "program_symbols", "check_input_array", "check_stream_shape",
           "check_work", "max_events", "DEFAULT_MAX_EVENTS"]

#: Default ceiling on the data tokens a single ``simulate``/``interpret`` call may move.
DEFAULT_MAX_EVENTS = 200_000_000
_ENV_MAX = "STEP_LAB_MAX_EVENTS"


def check_program(program, where: str) -> None:
    """``program`` must be a :class:`~step_lab.ir.Program` (a Workload names its ``.program``)."""
    from .ir import Program
    if isinstance(program, Program):
        return
    hint = (" — a Workload: pass workload.program, or call workload.simulate()"
            if hasattr(program, "program") else "")
    raise ConfigError(f"{where}: program = {program!r:.60} of type {type(program).__name__} "
                      f"(expected a step_lab Program){hint}")


def check_seed(seed, where: str) -> int:
    """A random seed: a non-negative integer."""
    n = _integer(seed)
    if n is None or n < 0:
        raise ConfigError(f"{where}: seed = {seed!r:.40} (expected a non-negative integer)")
    return n


def binding_key(key, where: str) -> str:
    """The symbol name of a bindings key (a str or a sympy Symbol)."""
    if isinstance(key, str):
        if not key.isidentifier():
            raise BindingError(f"{where}: binding name {key!r} is not a symbol name "
                               "(expected an identifier such as 'B' or a symbol from sl.dim)")
        return key
    name = getattr(key, "name", None)
    if isinstance(name, str) and getattr(key, "is_Symbol", False):
        return name
    raise BindingError(f"{where}: binding key {key!r:.60} of type {type(key).__name__} "
                       "(expected a symbol name str or a symbol from sl.dim)")


def _as_mapping(bindings, where: str) -> dict:
    if bindings is None:
        return {}
    if not hasattr(bindings, "items"):
        raise BindingError(f"{where}: bindings = {bindings!r:.60} of type "
                           f"{type(bindings).__name__} (expected a dict symbol name -> value)")
    return bindings


def _integer(value):
    """``int(value)`` for integral values of an accepted type, else None."""
    if isinstance(value, (bool, np.bool_)):
        return None
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, Fraction) and value.denominator == 1:
        return int(value)
    if getattr(value, "is_Integer", False):
        return int(value)
    return None


def _describe(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return "a bool"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, numbers.Real) and not isinstance(value, numbers.Rational):
        return f"a {type(value).__name__} (not an exact integer)"
    if isinstance(value, numbers.Rational) and not isinstance(value, numbers.Integral):
        return "a non-integral rational"
    return f"of type {type(value).__name__}"


def _check_value(name: str, value, where: str, *, rational: bool, hint: str = "") -> object:
    n = _integer(value)
    if n is not None:
        if n < 0:
            raise BindingError(f"{where}: binding {name!r} = {n} is negative (expected a "
                               "non-negative integer)")
        return n
    if rational and isinstance(value, (float, np.floating)) and math.isfinite(value):
        value = Fraction(float(value))          # exact: 2.5 -> 5/2
    if rational and isinstance(value, Fraction):
        if value < 0:
            raise BindingError(f"{where}: binding {name!r} = {value} is negative (expected a "
                               "non-negative rational)")
        return value
    expected = ("a non-negative integer, or a fractions.Fraction for a ragged dim"
                if rational else "a non-negative integer")
    raise BindingError(f"{where}: binding {name!r} = {value!r:.60} is {_describe(value)} "
                       f"(expected {expected}){hint}")


def program_symbols(program) -> dict:
    """Every symbol name of ``program`` -> whether a non-integral (mean) value may bind it.

    True for ragged symbols (§2.4) and for symbols that occur in dynamic tile dims (a merged
    tile's ``_rows``, an Accum's grown tile, §3): both may vary between elements of a stream,
    so their expected value may be a rational; a run measures them.
    """
    cached = _SYMBOLS.get(program)
    if cached is not None and cached[0] == len(program.nodes):
        return cached[1]
    from .ir.program import ragged_symbols
    from .symbolic import free_symbols
    sized: set = set()
    in_types: set = set()
    shapes = {stream.shape for stream in program.streams}     # streams share shapes and dtypes
    dtypes = {stream.dtype for stream in program.streams}
    for shape in shapes:
        sized |= free_symbols(*shape)
    for dtype in dtypes:
        in_types |= _dtype_symbols(dtype)
    for tensor in program.tensors.values():
        sized |= free_symbols(*tensor.shape)
    ragged = {s.name for s in ragged_symbols(program)}
    out = {s.name: s.name in ragged or s in in_types for s in sized | in_types}
    _SYMBOLS[program] = (len(program.nodes), out)
    return out


# Programs only grow (nodes are immutable once built), so the node count identifies a state.
_SYMBOLS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _dtype_symbols(dtype) -> set:
    from .symbolic import free_symbols
    out: set = set()
    for attr in ("rows", "cols"):
        value = getattr(dtype, attr, None)
        if value is not None and not isinstance(value, int):
            out |= free_symbols(value)
    shape = getattr(dtype, "shape", None)
    if isinstance(shape, tuple):
        out |= free_symbols(*shape)
    for inner in getattr(dtype, "items", ()) or ():
        out |= _dtype_symbols(inner)
    tile = getattr(dtype, "tile", None)
    if tile is not None:
        out |= _dtype_symbols(tile)
    return out


def _unknown(name: str, known: dict, where: str, program_name: str) -> BindingError:
    listing = sorted(known)
    shown = listing if len(listing) <= 12 else listing[:12] + ["…"]
    return BindingError(f"{where}: binding {name!r} names no symbol of {program_name!r} "
                        f"(expected one of {shown})" + did_you_mean(name, listing))


def run_bindings(program, bindings, where: str = "simulate") -> dict:
    """Validated bindings of a run: symbol name -> non-negative int.

    Non-integral Fractions of ragged symbols are accepted and dropped (a run measures them).
    """
    known = program_symbols(program)
    out = {}
    for key, value in _as_mapping(bindings, where).items():
        name = binding_key(key, where)
        if name not in known:
            raise _unknown(name, known, where, program.name)
        checked = _check_value(name, value, where, rational=known[name],
                               hint=" — a run binds dims to integers; only a ragged dim's "
                               "expected value may be a Fraction"
                               if isinstance(value, Fraction) and not known[name] else "")
        if isinstance(checked, int):
            out[name] = checked
    return out


def metric_bindings(bindings, where: str, *, ragged=(), symbols=None, peak: bool = False) \
        -> dict:
    """Validated metric bindings: name -> int, or Fraction for a ragged symbol (§6.4).

    ``peak`` values are maxima (integers). Names the program does not use are accepted (one
    bindings dict may serve several variants of a program); :func:`unknown_hint` names them
    when a symbol turns out unbound.
    """
    ragged = {getattr(s, "name", s) for s in ragged}
    out = {}
    for key, value in _as_mapping(bindings, where).items():
        name = binding_key(key, where)
        rational = not peak and name in ragged
        hint = "" if rational or peak else (
            " — only a ragged dim's expected (mean) value may be a Fraction" if
            isinstance(value, Fraction) else
            " (use fractions.Fraction for the mean of a ragged dim)" if
            isinstance(value, float) and name in ragged else "")
        out[name] = _check_value(name, value, where, rational=rational, hint=hint)
    return out


def unknown_hint(given, symbols) -> str:
    """`` (bindings also name 'b', did you mean 'B'?)`` for given names that are not symbols."""
    if symbols is None:
        return ""
    hints = []
    for name in sorted(set(given) - set(symbols)):
        close = did_you_mean(name, sorted(symbols))
        if close:
            hints.append(f"{name!r}{close.replace(' (', ': ').rstrip(')')}")
    return f" (bindings also name {', '.join(hints)})" if hints else ""


_BAD_KINDS = {"U": "strings", "S": "bytes", "O": "Python objects", "V": "records",
              "M": "datetimes", "m": "timedeltas", "c": "complex numbers"}


def check_input_array(name: str, value, declared: tuple, dtype: str, where: str) -> np.ndarray:
    """An input tensor's array: numeric (or bool) dtype, finite shape equal to ``declared``."""
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError) as e:
        raise InputError(f"{where}: input array for tensor {name!r} cannot be read as an array "
                         f"({e}; expected a numeric array of shape {declared})") from None
    kind = arr.dtype.kind
    if kind in _BAD_KINDS:
        raise InputError(f"{where}: input array for tensor {name!r} holds {_BAD_KINDS[kind]} "
                         f"(dtype {arr.dtype}; expected numbers castable to {dtype}, shape "
                         f"{declared})")
    if np.dtype(_numpy(dtype)).kind in "iub" and kind == "f" and arr.size \
            and not np.array_equal(arr, np.round(arr), equal_nan=False):
        raise InputError(f"{where}: input array for tensor {name!r} holds non-integral floats "
                         f"but the tensor is {dtype} (expected integer values)")
    if arr.shape != tuple(declared):
        raise InputError(f"{where}: input array for tensor {name!r} has shape {arr.shape} "
                         f"(expected {tuple(declared)} at these bindings)")
    return arr


def _numpy(dtype: str):
    from .ir.dtypes import numpy_dtype
    return numpy_dtype(dtype)


def check_stream_shape(name: str, tokens: list, declared: list, where: str) -> None:
    """An input stream whose outermost dim is known (``declared[0]``, None = not checked) must
    receive exactly that many top-level tensors (E3: one ``S_N`` each; a rank-0 stream counts
    its elements).

    [Choice] Inner dims are not checked here: an empty rank-k sub-tensor and one whose only
    child is empty encode identically (STEP.md §2.3), so a per-sub-tensor extent check would
    reject valid streams; operators check what they rely on at run time.
    """
    rank = len(declared) - 1
    if rank == 0:
        top = sum(1 for t in tokens if t is not DONE)
    else:
        top = sum(1 for t in tokens if type(t) is Stop and t.level == rank)
    _check_extent(name, declared[0], top, where)


def _check_extent(name: str, want, got: int, where: str) -> None:
    if want is None or want == got:
        return
    raise InputError(f"{where}: input stream {name!r} is declared with {want} top-level "
                     f"element(s) but received {got} (expected exactly {want})")


def max_events(value=None, where: str = "simulate") -> int:
    """The work limit: ``value``, else ``$STEP_LAB_MAX_EVENTS``, else the default."""
    source = "max_events"
    if value is None:
        raw = os.environ.get(_ENV_MAX)
        if raw is None:
            return DEFAULT_MAX_EVENTS
        source = f"${_ENV_MAX}"
        try:
            value = int(raw)
        except ValueError:
            raise ConfigError(f"{where}: {source} = {raw!r} (expected a positive integer)") \
                from None
    n = _integer(value)
    if n is None or n < 1:
        raise ConfigError(f"{where}: {source} = {value!r:.40} (expected a positive integer, "
                          "e.g. max_events=10**9)")
    return n


def check_work(program, bindings: dict, limit: int, where: str, given=()) -> int:
    """Estimate the data tokens of a run from the symbolic cardinalities (streams whose size
    is known at these bindings, plus one token per 16 elements of the input tensors the run
    must generate, i.e. not in ``given``) and refuse above ``limit`` with a ConfigError naming
    the estimate and how to raise it.

    [Choice] A stream whose size depends on a dim measured at run time (Partition counts,
    ragged dims) counts 0: the estimate is a lower bound, so a refused run is truly too big.
    """
    import sympy
    env = {sympy.Symbol(k, integer=True, nonnegative=True): sympy.Integer(v)
           for k, v in bindings.items()}
    memo: dict = {}
    total = 0
    for shape, count in _shapes(program):
        size = count
        for d in shape:
            size *= _bounded(d, env, memo)
        total += size
    for tensor in program.tensors.values():
        if tensor.role == "input" and tensor.name not in given:
            elems = 1
            for d in tensor.shape:
                elems *= _bounded(d, env, memo)
            total += elems // 16       # generating random values costs memory and time
    if total > limit:
        raise ConfigError(f"{where}: {program.name!r} would move about {total:.3g} data tokens "
                          f"at these bindings, above the limit of {limit:.3g} (expected a "
                          f"smaller binding; to run it anyway pass max_events={_suggest(total)} "
                          f"or set ${_ENV_MAX})")
    return total


def _shapes(program) -> list:
    """``[(stream shape, number of streams with it)]``, cached per program state (a stream's
    cardinality is the product of its dims, evaluated dim by dim: no symbolic products)."""
    cached = _CARDS.get(program)
    if cached is not None and cached[0] == len(program.nodes):
        return cached[1]
    counts: dict = {}
    for stream in program.streams:
        shape = stream.type.shape
        counts[shape] = counts.get(shape, 0) + 1
    out = list(counts.items())
    _CARDS[program] = (len(program.nodes), out)
    return out


_CARDS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _bounded(expr, env: dict, memo: dict) -> int:
    """``expr`` at ``env``; 0 when some symbol is unknown (measured at run time)."""
    if isinstance(expr, int):
        return expr
    if expr not in memo:
        value = expr.xreplace(env)
        memo[expr] = int(value) if value.is_Integer else 0
    return memo[expr]


def _suggest(total: int) -> str:
    exp = max(1, math.ceil(math.log10(max(total, 10))))
    return f"10**{exp}"
