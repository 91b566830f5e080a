"""Trace loaders and seeded synthetic generators (EXPERIMENTS.md §1.5, traces README).

Routing traces: ``.npz`` with key ``data``, an int array ``[B, k]`` of expert ids per token.
KV-length traces: ``.npy`` int vector of per-request KV lengths. Real traces ship in
``step_lab/data/traces`` (see PROVENANCE.md there); everything also runs on synthetic ones.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import StepError, TraceError

__all__ = ["load_routing", "load_kv_lengths", "expert_counts", "synthetic_routing",
           "synthetic_kv_lengths", "trace_path", "TRACES_ROOT", "check_routing",
           "check_kv_lengths", "MAX_KV_LENGTH"]

TRACES_ROOT = "data/traces"
_PACKAGE = Path(__file__).resolve().parents[1]      # the step_lab folder (data ships inside)


def trace_path(relative: str, root=None) -> Path:
    """Path of a trace under ``root`` (a folder laid out like data/traces) or the vendored copy."""
    if root is not None:
        return Path(root) / relative
    return _PACKAGE / TRACES_ROOT / relative


MAX_KV_LENGTH = 1 << 20      # longest KV cache a trace may hold (see check_kv_lengths)


def _open(path, suffix: str):
    """``np.load`` of a trace file; every failure is a :class:`TraceError` naming the file."""
    p = Path(path)
    expected = ("an .npz archive with key 'data'" if suffix == ".npz"
                else "an .npy integer vector")
    if not p.exists():
        raise TraceError(f"trace file {str(p)!r} does not exist (expected {expected})")
    if not p.is_file():
        raise TraceError(f"trace file {str(p)!r} is not a regular file (expected {expected})")
    try:
        return np.load(p, allow_pickle=False)
    except Exception as e:  # numpy raises several types for corrupt / text / pickled files
        raise TraceError(f"trace file {str(p)!r} is not a readable {suffix} file: "
                         f"{type(e).__name__}: {e} (expected {expected})") from None


def load_routing(path, *, experts: int | None = None, batch: int | None = None,
                 top_k: int | None = None) -> np.ndarray:
    """Load an expert-routing trace: int64 ``[B, k]``; checks dtype, shape and id range.

    ``batch`` / ``top_k`` (optional) are the expected number of tokens and experts per token.
    """
    where = f"routing trace {str(path)!r}"
    data = _open(path, ".npz")
    if not hasattr(data, "files"):
        raise TraceError(f"{where} is a single .npy array (expected an .npz archive with key "
                         "'data' holding [tokens, k] expert ids)")
    with data:
        if "data" not in data.files:
            raise TraceError(f"{where} has no array 'data' (has {sorted(data.files)}; expected "
                             "an .npz with key 'data' holding [tokens, k] expert ids)")
        try:
            arr = np.asarray(data["data"])
        except Exception as e:   # object arrays (pickles), truncated members
            raise TraceError(f"{where}: array 'data' is unreadable: {type(e).__name__}: {e} "
                             "(expected an integer array [tokens, k] of expert ids)") from None
    arr = check_routing(arr, experts=experts, where=where)
    expected = (batch if batch is not None else arr.shape[0],
                top_k if top_k is not None else arr.shape[1])
    if arr.shape != expected:
        raise TraceError(f"{where} has shape {list(arr.shape)} (expected [tokens, k] = "
                         f"{list(expected)})")
    return arr


def check_routing(arr, *, experts: int | None = None, where: str = "routing") -> np.ndarray:
    """Check an in-memory routing ``[tokens, k]``: integer dtype, ids in range, distinct."""
    arr = np.asarray(arr)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or not _is_int(arr):
        raise TraceError(f"{where} has shape {list(arr.shape)} and dtype {arr.dtype} "
                         "(expected an integer array [tokens, k] of expert ids)")
    if arr.size == 0:
        raise TraceError(f"{where} is empty, shape {list(arr.shape)} (expected at least one "
                         "token with at least one expert id)")
    if arr.min() < 0:
        raise TraceError(f"{where} holds negative expert id {int(arr.min())} (expected >= 0)")
    if experts is not None and arr.max() >= experts:
        raise TraceError(f"{where} holds expert id {int(arr.max())} (expected ids < {experts})")
    for t, row in enumerate(arr):
        if len(set(row.tolist())) != len(row):
            raise TraceError(f"{where}: token {t} lists an expert twice {row.tolist()} "
                             "(expected k distinct experts per token)")
    return arr.astype(np.int64)


def load_kv_lengths(path, *, batch: int | None = None) -> np.ndarray:
    """Load a KV-length trace: int64 vector of lengths in [0, MAX_KV_LENGTH]; ``batch`` (optional)
    is the expected number of requests."""
    where = f"KV-length trace {str(path)!r}"
    arr = _open(path, ".npy")
    if hasattr(arr, "files"):
        arr.close()
        raise TraceError(f"{where} is an .npz archive (expected an .npy integer vector)")
    arr = check_kv_lengths(arr, where=where)
    if batch is not None and arr.shape != (batch,):
        raise TraceError(f"{where} holds {arr.shape[0]} lengths (expected {batch}, one per "
                         "request of the batch)")
    return arr


def check_kv_lengths(arr, where: str = "kv_lengths") -> np.ndarray:
    """Check an in-memory KV-length vector: 1-D, integer dtype, 0 <= length <= MAX_KV_LENGTH.

    [Choice] A KV length above 2^20 tokens is rejected as malformed: the paper's traces stay below
    8,000 and no model of EXPERIMENTS.md has a context near 10^6, while such a value would make
    the attention program enumerate millions of KV tiles.
    """
    arr = np.asarray(arr)
    if arr.ndim != 1 or not _is_int(arr):
        raise TraceError(f"{where} has shape {list(arr.shape)} and dtype {arr.dtype} "
                         "(expected an integer vector of per-request KV lengths)")
    if arr.size == 0:
        raise TraceError(f"{where} is empty (expected one KV length per request)")
    if arr.min() < 0:
        raise TraceError(f"{where} holds negative KV length {int(arr.min())} (expected >= 0)")
    if arr.max() > MAX_KV_LENGTH:
        raise TraceError(f"{where} holds KV length {int(arr.max())} (expected <= "
                         f"{MAX_KV_LENGTH})")
    return arr.astype(np.int64)


def _is_int(arr: np.ndarray) -> bool:
    """Integer dtype (bool is not: a mask is no list of ids or lengths)."""
    return np.issubdtype(arr.dtype, np.integer) and arr.dtype != np.bool_


def expert_counts(routing, experts: int) -> np.ndarray:
    """Tokens routed to each expert (X_i)."""
    return np.bincount(np.asarray(routing).ravel(), minlength=experts)


def synthetic_routing(tokens: int, experts: int, top_k: int, *, skew: float = 0.0,
                      seed: int = 0) -> np.ndarray:
    """Seeded routing ``[tokens, top_k]``: uniform (skew=0) or Zipf-like popularity (skew>0)."""
    if top_k > experts:
        raise StepError(f"top_k {top_k} exceeds the number of experts {experts}")
    rng = np.random.default_rng(seed)
    weights = 1.0 / np.arange(1, experts + 1) ** skew
    weights = weights[rng.permutation(experts)]
    p = weights / weights.sum()
    return np.stack([rng.choice(experts, size=top_k, replace=False, p=p)
                     for _ in range(tokens)]).astype(np.int64)


def synthetic_kv_lengths(batch: int, *, mean: float = 1000.0, std: float = 500.0,
                         low: int = 2, high: int = 8000, seed: int = 0) -> np.ndarray:
    """Seeded KV lengths with about the given mean and standard deviation (gamma-distributed)."""
    rng = np.random.default_rng(seed)
    if std <= 0:
        return np.full(batch, int(round(mean)), dtype=np.int64)
    shape = (mean / std) ** 2
    vals = rng.gamma(shape, std ** 2 / mean, size=batch)
    return np.clip(np.round(vals), low, high).astype(np.int64)
