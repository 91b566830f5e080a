"""Which trace files a figure reads, where they come from, and which are synthetic stand-ins.

Every trace a figure uses goes through :func:`resolve`: a file that exists is loaded and checked
(dtype, shape, value range; a malformed file is a :class:`~step_lab.errors.TraceError` naming
it), a file that is missing becomes a labelled synthetic stand-in — or an error under
``--traces DIR`` without ``--allow-standins``. What was used is recorded in ``ctx.inputs``
(written to ``FIG.json`` as ``"inputs"``), so a report can say which headlines rest on real traces.

[Choice] Under ``--traces DIR`` with ``--allow-standins``, a file missing in DIR is replaced by a
synthetic stand-in even when the vendored copy has it: DIR is the one source of real traces the
user named, and mixing in other real files silently would make the report's "real" ambiguous.
[Choice] Stand-ins: batch-1024 (or any missing) routing = ``workloads.moe.standin_routing``
(EXPERIMENTS.md §1.5 skewed routing); batch-80 KV = the class's b64 file followed by its b16
file (§1.5); any other missing KV file = seeded gamma-distributed lengths (mean 1000) with the σ
its file name states.
"""
from __future__ import annotations

import re
import zlib
from pathlib import Path

import numpy as np

from ..errors import TraceError
from ..workloads.traces import load_kv_lengths, load_routing, synthetic_kv_lengths, trace_path

__all__ = ["resolve", "plan", "expected", "synthetic_kv", "REAL", "SYNTHETIC", "check_folder"]

REAL, SYNTHETIC = "real", "synthetic"
_MODELS = {"mixtral": "mixtral-8x7b", "qwen": "qwen3-30b-a3b"}
_ROUTING = re.compile(r"expert_routing/(?P<model>[a-z]+)_b(?P<batch>\d+)/\d+_\d+\.npz$")
_KV = re.compile(r"kv_lengths/b(?P<batch>\d+)/conv_stdev(?P<sigma>\d+)_\d+_\d+\.npy$")


def expected(relative: str) -> dict:
    """What a trace file must hold, from its name: kind, batch, model (routing), σ (KV)."""
    m = _ROUTING.search(relative)
    if m:
        from ..workloads.models import model as get_model
        cfg = get_model(_MODELS[m["model"]])
        batch = int(m["batch"])
        return {"kind": "routing", "model": cfg.name, "batch": batch, "experts": cfg.experts,
                "top_k": cfg.top_k, "what": f"an .npz with key 'data': int [{batch}, "
                f"{cfg.top_k}] of expert ids in [0, {cfg.experts}) ({cfg.name})"}
    m = _KV.search(relative)
    if m:
        batch = int(m["batch"])
        return {"kind": "kv", "batch": batch, "sigma": int(m["sigma"]),
                "what": f"an .npy int vector of {batch} KV lengths >= 0"}
    raise TraceError(f"unknown trace name {relative!r} (expected expert_routing/<model>_b<B>/"
                     "<iter>_<layer>.npz or kv_lengths/b<B>/conv_stdev<σ>_<a>_<b>.npy)")


def load(relative: str, path: Path) -> np.ndarray:
    """Load and check ``path`` as trace ``relative`` (TraceError naming the file if malformed)."""
    spec = expected(relative)
    if spec["kind"] == "routing":
        return load_routing(path, experts=spec["experts"], batch=spec["batch"],
                            top_k=spec["top_k"])
    return load_kv_lengths(path, batch=spec["batch"])


def _missing(ctx, relative: str, path: Path) -> str:
    """Why ``relative`` gets a stand-in, or a TraceError when stand-ins are not allowed."""
    if ctx.traces is None:
        return "not in the vendored traces (withheld acceptance data)"
    if not getattr(ctx, "allow_standins", False):
        vendored = trace_path(relative).is_file()
        raise TraceError(f"trace file {str(path)!r} is missing under --traces {str(ctx.traces)!r} "
                         f"(expected {expected(relative)['what']}); add it"
                         + (" (the vendored step_lab/data/traces has it: copy that folder into "
                            "DIR first)" if vendored else "")
                         + ", or pass --allow-standins to use a labelled synthetic stand-in")
    return f"missing under --traces {ctx.traces} (--allow-standins)"


def resolve(ctx, relative: str, standin: str):
    """``(path or None, array or None)`` of trace ``relative`` for a figure run.

    A present file is checked and returned with its array; a missing one gives ``(None, None)``
    and is recorded as the synthetic stand-in described by ``standin`` (the caller builds it).
    """
    path = trace_path(relative, ctx.traces)
    record = getattr(ctx, "inputs", None)
    if path.exists():
        arr = load(relative, path)
        if record is not None:
            record[relative] = {"source": REAL, "from": "vendored" if ctx.traces is None
                                else "--traces"}
        return path, arr
    reason = _missing(ctx, relative, path)
    if record is not None:
        record[relative] = {"source": SYNTHETIC, "reason": reason, "standin": standin}
    return None, None


def synthetic_kv(relative: str) -> np.ndarray:
    """The seeded stand-in of a missing KV file: gamma lengths, mean 1000, the σ of its name."""
    spec = expected(relative)
    seed = zlib.crc32(relative.encode())
    return synthetic_kv_lengths(spec["batch"], mean=1000.0, std=float(spec["sigma"]), seed=seed)


def check_folder(folder) -> None:
    """``--traces DIR`` must be a folder holding at least one trace file (.npz / .npy)."""
    root = Path(folder)
    if not root.is_dir():
        raise TraceError(f"--traces {str(folder)!r} is not a folder (expected one laid out like "
                         "data/traces: expert_routing/<model>_b<B>/*.npz, kv_lengths/b<B>/*.npy)")
    if not any(p.suffix in (".npz", ".npy") for p in root.rglob("*") if p.is_file()):
        raise TraceError(f"--traces {str(folder)!r} holds no trace file (expected .npz routing "
                         "files under expert_routing/ and .npy KV files under kv_lengths/)")


def plan(figures, ctx) -> dict:
    """Check every trace the ``figures`` declare before anything runs.

    Returns ``{figure id: {relative: "real" | stand-in reason}}``; raises TraceError for a
    malformed file, or a missing one under ``--traces`` without ``--allow-standins``.
    """
    if ctx.traces is not None:
        check_folder(ctx.traces)
    out: dict = {}
    seen: dict = {}
    for fig in figures:
        out[fig.id] = {}
        for relative in fig.traces:
            if relative not in seen:
                path = trace_path(relative, ctx.traces)
                if path.exists():
                    load(relative, path)
                    seen[relative] = REAL
                else:
                    seen[relative] = _missing(ctx, relative, path)
            out[fig.id][relative] = seen[relative]
    return out
