"""ModelConfig.from_hf_config: hand-written sample configs of each family, and named errors."""
import json

import pytest

from step_lab.errors import ConfigError
from step_lab.workloads import ModelConfig, model
from step_lab.workloads.hf_config import FAMILIES

ATTN = {"hidden_size": 1024, "num_attention_heads": 16, "num_key_value_heads": 4,
        "num_hidden_layers": 6}

SAMPLES = {
    "mixtral": {**ATTN, "model_type": "mixtral", "num_local_experts": 8,
                "num_experts_per_tok": 2, "intermediate_size": 3584},
    "qwen2_moe": {**ATTN, "model_type": "qwen2_moe", "num_experts": 60, "num_experts_per_tok": 4,
                  "moe_intermediate_size": 1408, "shared_expert_intermediate_size": 5632,
                  "intermediate_size": 5632},
    "qwen3_moe": {**ATTN, "model_type": "qwen3_moe", "num_experts": 32, "num_experts_per_tok": 4,
                  "moe_intermediate_size": 512, "head_dim": 128},
    "deepseek_v2": {**ATTN, "model_type": "deepseek_v2", "num_key_value_heads": 16,
                    "n_routed_experts": 16, "n_shared_experts": 2, "num_experts_per_tok": 4,
                    "moe_intermediate_size": 256, "intermediate_size": 2048,
                    "first_k_dense_replace": 1, "kv_lora_rank": 128, "qk_rope_head_dim": 32,
                    "qk_nope_head_dim": 64, "v_head_dim": 64},
    "deepseek_v3": {**ATTN, "model_type": "deepseek_v3", "num_key_value_heads": 16,
                    "n_routed_experts": 32, "n_shared_experts": 1, "num_experts_per_tok": 8,
                    "moe_intermediate_size": 256, "intermediate_size": 4096,
                    "first_k_dense_replace": 3, "kv_lora_rank": 256, "qk_rope_head_dim": 64,
                    "qk_nope_head_dim": 128, "v_head_dim": 128},
    "gpt_oss": {**ATTN, "model_type": "gpt_oss", "num_local_experts": 32,
                "experts_per_token": 4, "intermediate_size": 1024, "head_dim": 64,
                "sliding_window": 128},
    "llama": {**ATTN, "model_type": "llama", "intermediate_size": 4096},
    "mistral": {**ATTN, "model_type": "mistral", "intermediate_size": 4096},
    "qwen2": {**ATTN, "model_type": "qwen2", "intermediate_size": 4096},
    "qwen3": {**ATTN, "model_type": "qwen3", "intermediate_size": 4096, "head_dim": 128},
}


def test_every_supported_family_has_a_sample():
    assert set(SAMPLES) == set(FAMILIES)


@pytest.mark.parametrize("kind", sorted(SAMPLES))
def test_a_sample_config_of_each_family_reads(kind, tmp_path):
    path = tmp_path / kind / "config.json"
    path.parent.mkdir()
    path.write_text(json.dumps(SAMPLES[kind]))
    cfg = ModelConfig.from_hf_config(path)
    assert cfg == ModelConfig.from_hf_config(SAMPLES[kind], name=kind.replace("_", "-")) \
        and cfg.name == kind.replace("_", "-")
    assert model(str(path)) == cfg and model(path.parent / "config.json") == cfg
    assert cfg.hidden == 1024 and cfg.layers == 6 and cfg.model_type == kind
    assert cfg.query_heads == 16


def test_family_specific_dimensions():
    mixtral = ModelConfig.from_hf_config(SAMPLES["mixtral"])
    assert (mixtral.experts, mixtral.top_k, mixtral.moe_intermediate) == (8, 2, 3584)
    assert (mixtral.kv_heads, mixtral.head_dim, mixtral.queries_per_kv_head) == (4, 64, 4)
    qwen2 = ModelConfig.from_hf_config(SAMPLES["qwen2_moe"])
    assert (qwen2.experts, qwen2.shared_experts, qwen2.moe_intermediate) == (60, 4, 1408)
    qwen3 = ModelConfig.from_hf_config(SAMPLES["qwen3_moe"])
    assert (qwen3.head_dim, qwen3.shared_experts) == (128, 0)
    ds = ModelConfig.from_hf_config(SAMPLES["deepseek_v3"])
    assert (ds.experts, ds.shared_experts, ds.dense_layers, ds.dense_intermediate) == \
        (32, 1, 3, 4096)
    assert ds.attention == "mla" and ds.mla_kv_dim == 320 and ds.head_dim == 192
    assert ds.attention_shape == (16, 160) and ds.kv_bytes_per_token() == 640
    assert "latent" in ds.attention_notes and "latent" not in ds.notes
    oss = ModelConfig.from_hf_config(SAMPLES["gpt_oss"])
    assert (oss.experts, oss.top_k, oss.sliding_window, oss.attention) == (32, 4, 128, "sliding")
    llama = ModelConfig.from_hf_config(SAMPLES["llama"])
    assert llama.is_dense and llama.dense_intermediate == 4096 and llama.dense_layers == 6
    assert ModelConfig.from_hf_config({**SAMPLES["llama"], "num_key_value_heads": None}) \
        .kv_heads == 16                                   # default: multi-head attention


@pytest.mark.parametrize("kind,key", [("mixtral", "num_local_experts"),
                                      ("deepseek_v3", "kv_lora_rank"),
                                      ("qwen3_moe", "moe_intermediate_size"),
                                      ("llama", "hidden_size")])
def test_a_missing_key_names_the_key_and_the_model_type(kind, key):
    broken = {k: v for k, v in SAMPLES[kind].items() if k != key}
    with pytest.raises(ConfigError, match=f"model_type '{kind}'.*missing key '{key}'"):
        ModelConfig.from_hf_config(broken)


def test_an_unknown_or_missing_model_type_is_named():
    with pytest.raises(ConfigError, match=r"unknown model_type 'mixtrall'.*did you mean "
                                          r"'mixtral'"):
        ModelConfig.from_hf_config({**SAMPLES["mixtral"], "model_type": "mixtrall"})
    with pytest.raises(ConfigError, match="missing key 'model_type'"):
        ModelConfig.from_hf_config({"hidden_size": 8})


@pytest.mark.parametrize("value,expected", [("4096", "expected an int"),
                                            (4096.0, "expected an int"),
                                            (True, "expected an int"), (-1, "expected an int >= 1"),
                                            (0, "expected an int >= 1")])
def test_wrong_types_and_non_positive_values_are_named(value, expected):
    with pytest.raises(ConfigError, match=f"model_type 'llama'.*'hidden_size' = .*{expected}"):
        ModelConfig.from_hf_config({**SAMPLES["llama"], "hidden_size": value})


def test_inconsistent_dimensions_are_errors():
    with pytest.raises(ConfigError, match="not a multiple of num_key_value_heads 5"):
        ModelConfig.from_hf_config({**SAMPLES["llama"], "num_key_value_heads": 5})
    with pytest.raises(ConfigError, match="top-k 9 exceeds the 8 routed experts"):
        ModelConfig.from_hf_config({**SAMPLES["qwen3_moe"], "num_experts": 8,
                                    "num_experts_per_tok": 9})


def test_bad_files_are_named(tmp_path):
    with pytest.raises(ConfigError, match="does not exist.*nothing is downloaded"):
        ModelConfig.from_hf_config(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(ConfigError, match="not valid JSON"):
        ModelConfig.from_hf_config(bad)
    bad.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="expected a JSON object"):
        model(str(bad))
    with pytest.raises(ConfigError, match="expected a path to a config.json or a dict"):
        ModelConfig.from_hf_config(42)
