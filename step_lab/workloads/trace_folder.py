"""The trace folder format (``--traces DIR``, docs/TRACES.md): scanned and validated on load.

::

    DIR/
      expert_routing/<model>_b<batch>/<iter>_<layer>.npz   key "data": int [batch, k] expert ids
      kv_lengths/b<batch>/<name>.npy                        int vector [batch] of KV lengths

``<model>`` is the artifact's short name (``mixtral``, ``qwen``) or any name
:func:`step_lab.workloads.model` knows (a gallery name such as ``deepseek-v3``); for a known
model the expert ids must be below its expert count and k must equal its top-k. Files of other
kinds (README, PROVENANCE.md) are ignored; either subfolder may be missing.

[Choice] :func:`scan_traces` loads every trace file (they are small) and reports the first
problem as a StepError naming the file and what was expected; the per-file checks are those of
``traces.load_routing`` / ``traces.load_kv_lengths``.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError, StepError
from .traces import load_kv_lengths, load_routing, trace_path

__all__ = ["TraceFolder", "scan_traces", "SHORT_NAMES"]

SHORT_NAMES = {"mixtral": "mixtral-8x7b", "qwen": "qwen3-30b-a3b"}
_ROUTING_DIR = re.compile(r"^(?P<model>.+)_b(?P<batch>\d+)$")
_KV_DIR = re.compile(r"^b(?P<batch>\d+)$")


@dataclass
class TraceFolder:
    """The validated traces of one folder, keyed by their path relative to it."""

    root: Path
    routing: dict = field(default_factory=dict)         # rel path -> int64 [batch, k]
    kv_lengths: dict = field(default_factory=dict)      # rel path -> int64 [batch]
    models: dict = field(default_factory=dict)          # routing rel path -> ModelConfig | None

    def experts_of(self, rel: str) -> int:
        """Expert count of a routing trace: its model's, else the largest id + 1."""
        cfg = self.models.get(rel)
        return cfg.experts if cfg is not None else int(self.routing[rel].max()) + 1

    def summary(self) -> list[str]:
        lines = [f"{rel}: routing {list(a.shape)}" for rel, a in self.routing.items()]
        return lines + [f"{rel}: {len(a)} KV lengths" for rel, a in self.kv_lengths.items()]


def _model_for(short: str):
    from .models import model
    try:
        return model(SHORT_NAMES.get(short, short))
    except ConfigError:
        return None


def scan_traces(root=None) -> TraceFolder:
    """Load and validate every trace under ``root`` (default: the vendored ``data/traces``)."""
    base = Path(root) if root is not None else trace_path(".")
    if not base.is_dir():
        raise StepError(f"trace folder {str(base)!r} does not exist (expected a folder with "
                        "expert_routing/ and/or kv_lengths/, see docs/TRACES.md)")
    folder = TraceFolder(base)
    for sub in sorted(p for p in (base / "expert_routing").glob("*") if p.is_dir()):
        _scan_routing(folder, sub)
    for sub in sorted(p for p in (base / "kv_lengths").glob("*") if p.is_dir()):
        _scan_kv(folder, sub)
    if not folder.routing and not folder.kv_lengths:
        raise StepError(f"trace folder {str(base)!r} holds no trace (expected "
                        "expert_routing/<model>_b<batch>/*.npz or kv_lengths/b<batch>/*.npy)")
    return folder


def _scan_routing(folder: TraceFolder, sub: Path) -> None:
    m = _ROUTING_DIR.match(sub.name)
    if m is None:
        raise StepError(f"routing folder {str(sub)!r} is not named <model>_b<batch> "
                        "(e.g. mixtral_b64)")
    batch, cfg = int(m["batch"]), _model_for(m["model"])
    for path in sorted(sub.glob("*.npz")):
        rel = f"expert_routing/{sub.name}/{path.name}"
        arr = load_routing(path, experts=cfg.experts if cfg is not None else None)
        if arr.shape[0] != batch:
            raise StepError(f"routing trace {str(path)!r} has {arr.shape[0]} tokens (expected "
                            f"{batch}, the batch in its folder name {sub.name!r})")
        if cfg is not None and arr.shape[1] != cfg.top_k:
            raise StepError(f"routing trace {str(path)!r} lists {arr.shape[1]} experts per "
                            f"token (expected top-k {cfg.top_k} of {cfg.name})")
        folder.routing[rel], folder.models[rel] = arr, cfg
    _no_strays(sub, ".npz")


def _scan_kv(folder: TraceFolder, sub: Path) -> None:
    m = _KV_DIR.match(sub.name)
    if m is None:
        raise StepError(f"KV-length folder {str(sub)!r} is not named b<batch> (e.g. b64)")
    for path in sorted(sub.glob("*.npy")):
        arr = load_kv_lengths(path)
        if len(arr) != int(m["batch"]):
            raise StepError(f"KV-length trace {str(path)!r} has {len(arr)} requests (expected "
                            f"{m['batch']}, the batch in its folder name {sub.name!r})")
        folder.kv_lengths[f"kv_lengths/{sub.name}/{path.name}"] = arr
    _no_strays(sub, ".npy")


def _no_strays(sub: Path, suffix: str) -> None:
    other = ".npy" if suffix == ".npz" else ".npz"
    stray = sorted(p.name for p in sub.glob(f"*{other}"))
    if stray:
        raise StepError(f"{str(sub)!r} holds {stray[0]!r} (expected only {suffix} files there)")
