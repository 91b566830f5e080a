"""Shared experts and dense FFN layers in the MoE layer program (issue 17).

The MoE program (``_moe_program.py``) serves E experts of one size to tokens that each visit k
of them. Other layers map onto it without a new program shape:

* **shared experts** (DeepSeek's ``n_shared_experts``, Qwen2-MoE's shared expert): S more
  experts of the routed experts' size, appended after the E routed ones; every token visits its
  k routed experts and all S shared ones (k + S ids per row), with routing weight 1 for the
  shared ones (softmax over the routed ones);
* **dense FFN layers** (Llama's layers, DeepSeek's first ``first_k_dense_replace`` layers): one
  expert of ``dense_intermediate`` that every token visits with weight 1.

[Choice] The same program therefore gives static or dynamic tiling and time-multiplexing of
shared and dense FFNs too; with dynamic tiling a dense layer is one ``[B, D]`` tile.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from ..errors import ConfigError
from .models import ModelConfig

__all__ = ["ffn_view", "dense_routing", "with_shared", "layer_meta"]


def ffn_view(cfg: ModelConfig, dense: bool = False) -> tuple[ModelConfig, int, str]:
    """``(layer config, shared experts, "moe" | "dense")``: the experts the program builds.

    Routed experts only (the paper's models): ``(cfg, 0, "moe")`` — the very same object, so
    their programs never change. Shared experts: ``E + S`` experts, top-k + S. A dense layer
    (``dense=True`` or a dense model): one expert of ``dense_intermediate``.
    """
    if not isinstance(dense, bool):
        raise ConfigError(f"moe_layer: dense = {dense!r} (expected True or False)")
    if dense or cfg.is_dense:
        if not cfg.dense_intermediate:
            raise ConfigError(f"moe_layer: dense=True but {cfg.name} has no dense FFN layer "
                              "(expected a model with dense_intermediate > 0, e.g. DeepSeek or "
                              "Llama)")
        return replace(cfg, name=f"{cfg.name}-dense", experts=1, top_k=1, shared_experts=0,
                       moe_intermediate=cfg.dense_intermediate), 1, "dense"
    if cfg.shared_experts:
        s = cfg.shared_experts
        return replace(cfg, experts=cfg.experts + s, top_k=cfg.top_k + s,
                       shared_experts=0), s, "moe"
    return cfg, 0, "moe"


def dense_routing(routing, base: ModelConfig, batch: int) -> np.ndarray:
    """The (empty) routed part ``[batch, 0]`` of a dense layer; a given routing is an error."""
    if routing is not None:
        raise ConfigError(f"moe_layer: routing given for the dense FFN layer of {base.name} "
                          "(expected None: every token visits the one FFN)")
    return np.zeros((batch, 0), dtype=np.int64)


def with_shared(routes: np.ndarray, view: ModelConfig, shared: int) -> np.ndarray:
    """Append the shared experts' ids (the last ``shared`` of ``view.experts``) to each row."""
    ids = np.arange(view.experts - shared, view.experts, dtype=np.int64)
    return np.hstack([routes, np.broadcast_to(ids, (len(routes), shared))]).astype(np.int64)


def layer_meta(base: ModelConfig, shared: int, kind: str) -> dict:
    """What the workload's ``meta`` says about the layer (kind, experts, approximations)."""
    return {"layer": kind, "shared_experts": shared if kind == "moe" else 0,
            "routed_experts": base.experts if kind == "moe" else 0, "notes": base.notes}
