"""Trace loaders and seeded synthetic generators (EXPERIMENTS.md §1.5, traces README).

Routing traces: ``.npz`` with key ``data``, an int array ``[B, k]`` of expert ids per token.
KV-length traces: ``.npy`` int vector of per-request KV lengths. Real traces ship in
``step_lab/data/traces`` (see PROVENANCE.md there); everything also runs on synthetic ones.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from ..errors import StepError

__all__ = ["load_routing", "load_kv_lengths", "expert_counts", "synthetic_routing",
           "synthetic_kv_lengths", "trace_path", "TRACES_ROOT"]

TRACES_ROOT = "data/traces"


def trace_path(relative: str, root=None) -> Path:
    """Path of a trace under ``root`` (a folder laid out like data/traces) or the vendored copy."""
    if root is not None:
        return Path(root) / relative
    return Path(str(resources.files("step_lab").joinpath(TRACES_ROOT, relative)))


def _open(path, suffix: str):
    p = Path(path)
    if not p.is_file():
        raise StepError(f"trace file {str(p)!r} does not exist (expected a {suffix} file)")
    try:
        return np.load(p, allow_pickle=False)
    except Exception as e:  # numpy raises several types for corrupt files
        raise StepError(f"trace file {str(p)!r} is not a readable {suffix} file ({e})") from None


def load_routing(path, *, experts: int | None = None) -> np.ndarray:
    """Load an expert-routing trace: int64 ``[B, k]``; checks shape and expert id range."""
    data = _open(path, ".npz")
    if not hasattr(data, "files") or "data" not in data.files:
        raise StepError(f"routing trace {str(path)!r} has no array 'data' "
                        "(expected an .npz with key 'data' holding [B, k] expert ids)")
    arr = np.asarray(data["data"])
    return check_routing(arr, experts=experts, where=f"routing trace {str(path)!r}")


def check_routing(arr, *, experts: int | None = None, where: str = "routing") -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or not np.issubdtype(arr.dtype, np.integer):
        raise StepError(f"{where} has shape {arr.shape} and dtype {arr.dtype} "
                        "(expected an integer array [tokens, k] of expert ids)")
    if arr.size and arr.min() < 0:
        raise StepError(f"{where} holds negative expert id {int(arr.min())} (expected >= 0)")
    if experts is not None and arr.size and arr.max() >= experts:
        raise StepError(f"{where} holds expert id {int(arr.max())} (expected ids < {experts})")
    for t, row in enumerate(arr):
        if len(set(row.tolist())) != len(row):
            raise StepError(f"{where}: token {t} lists an expert twice {row.tolist()} "
                            "(expected k distinct experts per token)")
    return arr.astype(np.int64)


def load_kv_lengths(path) -> np.ndarray:
    """Load a KV-length trace: int64 vector of non-negative lengths."""
    arr = _open(path, ".npy")
    if hasattr(arr, "files"):
        raise StepError(f"KV-length trace {str(path)!r} is an .npz archive (expected an .npy "
                        "vector)")
    return check_kv_lengths(arr, where=f"KV-length trace {str(path)!r}")


def check_kv_lengths(arr, where: str = "kv_lengths") -> np.ndarray:
    arr = np.asarray(arr)
    if arr.ndim != 1 or not np.issubdtype(arr.dtype, np.integer):
        raise StepError(f"{where} has shape {arr.shape} and dtype {arr.dtype} "
                        "(expected an integer vector of per-request KV lengths)")
    if arr.size and arr.min() < 0:
        raise StepError(f"{where} holds negative KV length {int(arr.min())} (expected >= 0)")
    return arr.astype(np.int64)


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
