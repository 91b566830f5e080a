"""Model configurations used by the experiments (EXPERIMENTS.md §1.4)."""
from __future__ import annotations

from dataclasses import dataclass

from ..errors import lookup

__all__ = ["ModelConfig", "MODELS", "model"]


@dataclass(frozen=True)
class ModelConfig:
    """Dimensions of one decoder layer that the STeP workloads need."""

    name: str
    experts: int            # routed experts E
    top_k: int              # experts per token k
    hidden: int             # D
    moe_intermediate: int   # F
    query_heads: int
    kv_heads: int
    head_dim: int           # the artifact's value (see notes)
    layers: int
    notes: str = ""

    @property
    def queries_per_kv_head(self) -> int:
        return self.query_heads // self.kv_heads


MODELS: dict[str, ModelConfig] = {
    "mixtral-8x7b": ModelConfig("mixtral-8x7b", experts=8, top_k=2, hidden=4096,
                                moe_intermediate=14336, query_heads=32, kv_heads=8, head_dim=128,
                                layers=32),
    "qwen3-30b-a3b": ModelConfig("qwen3-30b-a3b", experts=128, top_k=8, hidden=2048,
                                 moe_intermediate=768, query_heads=32, kv_heads=4, head_dim=64,
                                 layers=48, notes="head_dim 64 as in the paper's artifact "
                                 "(the public config says 128); EXPERIMENTS.md §6.5"),
}


def model(name) -> ModelConfig:
    """Look up a model by name (case-insensitive); unknown names suggest the closest."""
    if isinstance(name, ModelConfig):
        return name
    return lookup(MODELS, name, "model")
