"""Model configurations: the paper's two (EXPERIMENTS.md §1.4) and a gallery of public configs.

``MODELS`` holds the artifact's values under the names the figures use ("mixtral-8x7b",
"qwen3-30b-a3b"). ``GALLERY`` names the bundled Hugging Face config.json files in
``step_lab/data/models`` (see PROVENANCE.md there); :func:`model` resolves a paper name, a
gallery name, a path to a config.json, a config dict or a ModelConfig.

[Choice] A paper name wins over a gallery file of the same name (only "mixtral-8x7b", whose
public config has the artifact's dimensions); a public config that differs from the artifact
gets its own gallery name ("qwen3-30b-a3b-hf"), so no figure ever changes.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from ..errors import ConfigError, lookup
from .hf_config import hf_fields

__all__ = ["ModelConfig", "MODELS", "GALLERY", "model", "gallery_path", "model_names",
           "model_choices"]

@dataclass(frozen=True)
class ModelConfig:
    """Dimensions of one decoder layer that the STeP workloads need.

    Dense models have ``experts = top_k = 0`` and ``dense_layers = layers``; DeepSeek has
    ``shared_experts`` beside the routed ones and its first ``dense_layers`` layers are dense
    FFNs of ``dense_intermediate``. ``attention``: "gqa", "mla" (``mla_kv_dim`` latent values
    cached per token) or "sliding" (some layers see only ``sliding_window`` tokens).
    """

    name: str
    experts: int            # routed experts E
    top_k: int              # experts per token k
    hidden: int             # D
    moe_intermediate: int   # F
    query_heads: int
    kv_heads: int
    head_dim: int           # the artifact's value (see notes)
    layers: int
    notes: str = ""                 # approximations of the layer as a whole / its FFN
    attention_notes: str = ""       # approximations of its attention (MLA, sliding windows)
    shared_experts: int = 0         # experts every token visits (DeepSeek, Qwen2-MoE)
    dense_intermediate: int = 0     # FFN size of the dense layers (0: none)
    dense_layers: int = 0           # leading dense layers (all layers of a dense model)
    attention: str = "gqa"
    mla_kv_dim: int = 0             # latent KV values per token (MLA)
    sliding_window: int = 0         # tokens seen by the sliding-window layers (0: none)
    model_type: str = ""            # the HF config's model_type ("" for the paper's entries)

    @property
    def queries_per_kv_head(self) -> int:
        return self.query_heads // self.kv_heads

    @property
    def is_dense(self) -> bool:
        return self.experts == 0

    @property
    def attention_shape(self) -> tuple[int, int]:
        """``(query heads per KV group, head dim)`` of the attention workload.

        MLA: one KV head serving all query heads, head dim ``ceil(mla_kv_dim / 2)`` so that K
        plus V move the latent cache's bytes per token (the stated approximation).
        """
        if self.attention == "mla":
            return self.query_heads, -(-self.mla_kv_dim // 2)
        return self.queries_per_kv_head, self.head_dim

    def kv_bytes_per_token(self, elem_bytes: int = 2) -> int:
        """KV-cache bytes per token and layer (all KV heads; MLA: the latent cache)."""
        if self.attention == "mla":
            return self.mla_kv_dim * elem_bytes
        return 2 * self.kv_heads * self.head_dim * elem_bytes

    @classmethod
    def from_hf_config(cls, path_or_dict, *, name: str | None = None) -> ModelConfig:
        """Read a local Hugging Face config.json (see :mod:`.hf_config`); no network."""
        return cls(**hf_fields(path_or_dict, name=name))


MODELS: dict[str, ModelConfig] = {
    "mixtral-8x7b": ModelConfig("mixtral-8x7b", experts=8, top_k=2, hidden=4096,
                                moe_intermediate=14336, query_heads=32, kv_heads=8, head_dim=128,
                                layers=32),
    "qwen3-30b-a3b": ModelConfig("qwen3-30b-a3b", experts=128, top_k=8, hidden=2048,
                                 moe_intermediate=768, query_heads=32, kv_heads=4, head_dim=64,
                                 layers=48, notes="head_dim 64 as in the paper's artifact "
                                 "(the public config says 128); EXPERIMENTS.md §6.5"),
}

GALLERY_ROOT = "data/models"


def _gallery_dir() -> Path:
    return Path(str(resources.files("step_lab").joinpath(GALLERY_ROOT)))


GALLERY: tuple[str, ...] = tuple(sorted(p.stem for p in _gallery_dir().glob("*.json")))


def gallery_path(name: str) -> Path:
    """The bundled config.json of a gallery model."""
    return _gallery_dir() / f"{name}.json"


@cache
def _gallery_model(name: str) -> ModelConfig:
    return ModelConfig.from_hf_config(gallery_path(name), name=name)


def model_names() -> list[str]:
    """Every name :func:`model` knows: the paper's models, then the gallery's others."""
    return list(MODELS) + [n for n in GALLERY if n not in MODELS]


def model_choices(*configs) -> list[str]:
    """Choices for a model knob or dropdown: every known name, then the given config.json paths
    (each read once here, so a bad file fails when the knob is declared, naming the file)."""
    extra = [str(path) for path in configs]
    for path in extra:
        ModelConfig.from_hf_config(path)
    return model_names() + extra


def model(name) -> ModelConfig:
    """A ModelConfig from a paper or gallery name (case-insensitive; unknown names suggest the
    closest), a path to a config.json, a config dict, or a ModelConfig (returned as is)."""
    if isinstance(name, ModelConfig):
        return name
    if isinstance(name, dict):
        return ModelConfig.from_hf_config(name)
    if isinstance(name, Path) or (isinstance(name, str) and (name.endswith(".json")
                                                             or "/" in name)):
        return ModelConfig.from_hf_config(name)
    if not isinstance(name, str):
        raise ConfigError(f"model {name!r:.60} (expected a model name, a config.json path, a "
                          "config dict or a ModelConfig)")
    key = name.lower()
    if key in MODELS:
        return MODELS[key]
    if key in GALLERY:
        return _gallery_model(key)
    return lookup({**{g: g for g in GALLERY}, **MODELS}, name, "model")
