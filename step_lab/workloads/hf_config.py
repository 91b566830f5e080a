"""Read a Hugging Face ``config.json`` into a :class:`~.models.ModelConfig` (no network).

Supported ``model_type`` families and the keys each needs:

* ``mixtral``: ``num_local_experts``, ``num_experts_per_tok``, ``intermediate_size`` (per expert);
* ``qwen2_moe``: ``num_experts``, ``num_experts_per_tok``, ``moe_intermediate_size``,
  ``shared_expert_intermediate_size``;
* ``qwen3_moe``: ``num_experts``, ``num_experts_per_tok``, ``moe_intermediate_size``;
* ``deepseek_v2`` / ``deepseek_v3``: ``n_routed_experts``, ``n_shared_experts``,
  ``num_experts_per_tok``, ``moe_intermediate_size``, ``intermediate_size`` (dense layers),
  ``first_k_dense_replace``, ``kv_lora_rank``, ``qk_rope_head_dim`` (multi-head latent attention);
* ``gpt_oss``: ``num_local_experts``, ``num_experts_per_tok`` (or ``experts_per_token``),
  ``intermediate_size`` (per expert), ``sliding_window``;
* dense ``llama``, ``mistral``, ``qwen2``, ``qwen3``: ``intermediate_size``.

All of them need ``hidden_size``, ``num_hidden_layers``, ``num_attention_heads``; the KV heads
(``num_key_value_heads``) default to the query heads and ``head_dim`` to
``hidden_size // num_attention_heads``, as in ``transformers``.

[Choice] Keys the workloads do not need (vocabulary, RoPE, norms, …) are ignored, so a real
config.json loads unchanged; a missing needed key, a wrong type or a non-positive value is a
ConfigError naming the key and the config's model_type.
[Choice] Qwen2-MoE's shared expert (one FFN of ``shared_expert_intermediate_size``) is modelled
as ``ceil(shared / moe_intermediate_size)`` extra experts of the routed experts' size (exact when
it divides, as in the published Qwen1.5/Qwen2 MoE configs); the notes say so otherwise.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from ..errors import ConfigError, did_you_mean

__all__ = ["hf_fields", "read_config", "FAMILIES"]

MOE_FAMILIES = ("mixtral", "qwen2_moe", "qwen3_moe", "deepseek_v2", "deepseek_v3", "gpt_oss")
DENSE_FAMILIES = ("llama", "mistral", "qwen2", "qwen3")
FAMILIES = MOE_FAMILIES + DENSE_FAMILIES

MLA_NOTE = ("multi-head latent attention approximated as grouped-query attention with one KV "
            "head of dim {d} (K + V = {kv} values = the latent cache kv_lora_rank + "
            "qk_rope_head_dim per token) serving all {q} query heads; MLA projections not "
            "modelled")
SLIDING_NOTE = ("sliding-window layers ({w} tokens) modelled by capping each request's KV "
                "length at the window (attention_decode(..., window={w})); attention sinks "
                "ignored")


def read_config(path_or_dict) -> tuple[dict, str]:
    """``(config dict, default name)`` from a path to a config.json (or its folder) or a dict."""
    if isinstance(path_or_dict, dict):
        name = str(path_or_dict.get("_name_or_path") or path_or_dict.get("model_type") or "hf")
        return path_or_dict, _slug(name.rstrip("/").split("/")[-1])
    if not isinstance(path_or_dict, (str, Path)):
        raise ConfigError(f"from_hf_config: {type(path_or_dict).__name__} {path_or_dict!r:.60} "
                          "(expected a path to a config.json or a dict)")
    path = Path(path_or_dict)
    if path.is_dir():
        path = path / "config.json"
    if not path.is_file():
        raise ConfigError(f"from_hf_config: {str(path)!r} does not exist (expected a local "
                          "Hugging Face config.json; nothing is downloaded)")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as e:
        raise ConfigError(f"from_hf_config: {str(path)!r} is not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise ConfigError(f"from_hf_config: {str(path)!r} holds a {type(data).__name__} "
                          "(expected a JSON object)")
    stem = path.parent.name if path.name == "config.json" and path.parent.name else path.stem
    return data, _slug(stem)


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9.]+", "-", text.lower()).strip("-") or "hf"


class _Reader:
    """Typed access to the keys of one config (errors name the key and the model_type)."""

    def __init__(self, data: dict, where: str):
        self.data, self.type, self.where = data, data.get("model_type"), where

    def fail(self, key: str, problem: str) -> ConfigError:
        return ConfigError(f"{self.where} (model_type {self.type!r}): {problem} {key!r}")

    def int(self, key: str, default=None, *, minimum: int = 1) -> int:
        if key not in self.data or self.data[key] is None:
            if default is not None:
                return default
            raise self.fail(key, "missing key")
        value = self.data[key]
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{self.where} (model_type {self.type!r}): key {key!r} = "
                              f"{value!r} (expected an int >= {minimum})")
        if value < minimum:
            raise ConfigError(f"{self.where} (model_type {self.type!r}): key {key!r} = "
                              f"{value} (expected an int >= {minimum})")
        return value

    def first(self, *keys: str, minimum: int = 1) -> int:
        for key in keys:
            if self.data.get(key) is not None:
                return self.int(key, minimum=minimum)
        raise self.fail(" or ".join(keys), "missing key")


def hf_fields(path_or_dict, *, name: str | None = None) -> dict:
    """The :class:`~.models.ModelConfig` fields read from a local Hugging Face config.json
    (path, folder or dict); ``ModelConfig.from_hf_config`` builds the config from them.

    ``name`` overrides the default name (the config's folder or file stem, or its
    ``_name_or_path``). See the module docstring for the keys each ``model_type`` needs.
    """
    data, default_name = read_config(path_or_dict)
    where = f"config {default_name!r}"
    kind = data.get("model_type")
    if kind is None:
        raise ConfigError(f"{where}: missing key 'model_type' (expected one of {list(FAMILIES)})")
    if kind not in FAMILIES:
        raise ConfigError(f"{where}: unknown model_type {kind!r} (expected one of "
                          f"{list(FAMILIES)})" + did_you_mean(str(kind), FAMILIES))
    r = _Reader(data, where)
    hidden = r.int("hidden_size")
    heads = r.int("num_attention_heads")
    kv_heads = r.int("num_key_value_heads", heads)
    if heads % kv_heads:
        raise ConfigError(f"{where} (model_type {kind!r}): num_attention_heads {heads} is not a "
                          f"multiple of num_key_value_heads {kv_heads} (expected a GQA group)")
    head_dim = r.int("head_dim", hidden // heads)
    common = dict(name=name or default_name, hidden=hidden, query_heads=heads,
                  kv_heads=kv_heads, head_dim=head_dim, layers=r.int("num_hidden_layers"),
                  model_type=kind)
    return {**common, **_family(r, kind, heads)}


def _family(r: _Reader, kind: str, heads: int) -> dict:
    if kind in DENSE_FAMILIES:
        inter = r.int("intermediate_size")
        return dict(experts=0, top_k=0, moe_intermediate=inter, dense_intermediate=inter,
                    dense_layers=r.int("num_hidden_layers"),
                    notes="dense model: every layer is a SwiGLU FFN (moe_layer(..., dense=True))")
    if kind in ("mixtral", "gpt_oss"):
        out = dict(experts=r.int("num_local_experts"),
                   top_k=r.first("num_experts_per_tok", "experts_per_token"),
                   moe_intermediate=r.int("intermediate_size"))
        if kind == "gpt_oss":
            window = r.int("sliding_window")
            out.update(sliding_window=window, attention="sliding",
                       attention_notes=SLIDING_NOTE.format(w=window))
        return out
    experts = r.int("num_experts" if kind.startswith("qwen") else "n_routed_experts")
    out = dict(experts=experts, top_k=r.int("num_experts_per_tok"),
               moe_intermediate=r.int("moe_intermediate_size"))
    if kind == "qwen2_moe":
        shared = r.int("shared_expert_intermediate_size", 0, minimum=0)
        count = -(-shared // out["moe_intermediate"])
        out["shared_experts"] = count
        if count * out["moe_intermediate"] != shared:
            out["notes"] = (f"shared expert of {shared} modelled as {count} experts of "
                            f"{out['moe_intermediate']}")
    elif kind.startswith("deepseek"):
        out.update(shared_experts=r.int("n_shared_experts", 0, minimum=0),
                   dense_intermediate=r.int("intermediate_size"),
                   dense_layers=r.int("first_k_dense_replace", 0, minimum=0))
        rope = r.int("qk_rope_head_dim")
        latent = r.int("kv_lora_rank") + rope
        out.update(attention="mla", mla_kv_dim=latent,
                   head_dim=r.int("qk_nope_head_dim") + rope,
                   attention_notes=MLA_NOTE.format(d=-(-latent // 2), kv=latent,
                                                   q=heads))
    if out["top_k"] > out["experts"]:
        raise r.fail("num_experts_per_tok", f"top-k {out['top_k']} exceeds the "
                     f"{out['experts']} routed experts in key")
    return out
