"""The model gallery: every bundled config builds and simulates at batch 64 (timing only) with
off-chip bytes equal to its symbolic metric; shared experts, dense layers, MLA and sliding windows.

All gallery models are simulated with their real dimensions and all their experts (the largest,
DeepSeek-V3's 257-expert layer, takes about two seconds)."""
from dataclasses import fields

import numpy as np
import pytest

import step_lab as sl
from step_lab.errors import ConfigError
from step_lab.workloads import (
    GALLERY,
    MODELS,
    ModelConfig,
    attention_decode,
    model,
    model_names,
    moe_layer,
)
from step_lab.workloads.attention import attention_bindings
from step_lab.workloads.models import gallery_path
from step_lab.workloads.moe import moe_analysis, moe_reference

REQUIRED = {"mixtral-8x7b", "qwen3-30b-a3b-hf", "qwen3-235b-a22b", "deepseek-v2-lite",
            "deepseek-v3", "gpt-oss-20b", "llama-3.1-8b"}
KV = np.array([5, 40, 700, 31, 1200, 64, 9, 300] * 8)          # 64 requests


def test_the_gallery_holds_the_required_models_with_provenance():
    assert REQUIRED <= set(GALLERY)
    provenance = (gallery_path("x").parent / "PROVENANCE.md").read_text(encoding="utf-8")
    for name in GALLERY:
        assert f"`{name}` | huggingface.co/" in provenance, name
    assert set(model_names()) == set(MODELS) | set(GALLERY)


def test_the_paper_models_keep_the_artifact_values():
    assert model("mixtral-8x7b") is MODELS["mixtral-8x7b"]
    assert model("Qwen3-30B-A3B") is MODELS["qwen3-30b-a3b"]
    assert MODELS["qwen3-30b-a3b"].head_dim == 64
    public = ModelConfig.from_hf_config(gallery_path("mixtral-8x7b"))
    dims = [f.name for f in fields(ModelConfig) if f.name not in ("name", "notes", "model_type")]
    assert all(getattr(public, d) == getattr(MODELS["mixtral-8x7b"], d) for d in dims)
    hf = model("qwen3-30b-a3b-hf")
    assert [d for d in dims if getattr(hf, d) != getattr(MODELS["qwen3-30b-a3b"], d)] == \
        ["head_dim"] and hf.head_dim == 128


def test_the_public_dimensions_of_the_gallery():
    ds = model("deepseek-v3")
    assert (ds.experts, ds.shared_experts, ds.top_k, ds.hidden, ds.moe_intermediate) == \
        (256, 1, 8, 7168, 2048)
    assert (ds.dense_layers, ds.dense_intermediate, ds.mla_kv_dim) == (3, 18432, 576)
    assert ds.attention_shape == (128, 288) and ds.kv_bytes_per_token() == 1152
    assert model("deepseek-v2-lite").shared_experts == 2
    oss = model("gpt-oss-20b")
    assert (oss.experts, oss.top_k, oss.sliding_window, oss.attention_shape) == \
        (32, 4, 128, (8, 64))
    assert model("llama-3.1-8b").is_dense and model("qwen3-235b-a22b").attention_shape == (16, 128)


def _moe_cases():
    cases = [(name, False) for name in GALLERY]
    return cases + [(name, True) for name in GALLERY if model(name).dense_layers
                    and not model(name).is_dense]


@pytest.mark.parametrize("name,dense", _moe_cases())
def test_every_gallery_ffn_layer_simulates_with_offchip_bytes_equal_to_its_metric(name, dense):
    wl = moe_layer(name, batch=64, tiling="dynamic", values=False, dense=dense)
    result = wl.simulate(values=False)
    assert result.cycles > 0
    assert result.offchip_bytes == moe_analysis(wl)["offchip_traffic"]
    cfg = model(name)
    if dense or cfg.is_dense:
        assert wl.meta["layer"] == "dense" and wl.meta["counts"] == [64]
    else:
        assert wl.meta["counts"][cfg.experts:] == [64] * cfg.shared_experts
        assert sum(wl.meta["counts"]) == 64 * (cfg.top_k + cfg.shared_experts)


@pytest.mark.parametrize("name", GALLERY)
def test_every_gallery_attention_layer_simulates_with_offchip_bytes_equal_to_its_metric(name):
    window = model(name).sliding_window or None
    wl = attention_decode(name, kv_lengths=KV, parallel=4, strategy="dynamic", data="none",
                          window=window)
    result = wl.simulate(values=False)
    bindings = attention_bindings(wl, result.values["assignment"])
    assert result.offchip_bytes == sl.metrics(wl.program).evaluate(bindings)["offchip_traffic"]
    assert wl.meta["query_tile"] == model(name).attention_shape


def test_the_symbolic_metric_itself_matches_for_shared_experts():
    wl = moe_layer("deepseek-v2-lite", batch=64, tiling="static", values=False)
    total = sl.metrics(wl.program, preset="artifact").evaluate(wl.bindings)
    assert total["offchip_traffic"] == moe_analysis(wl)["offchip_traffic"] \
        == wl.simulate(values=False).offchip_bytes


TINY = {"model_type": "deepseek_v3", "hidden_size": 32, "num_attention_heads": 4,
        "num_hidden_layers": 4, "n_routed_experts": 4, "n_shared_experts": 1,
        "num_experts_per_tok": 2, "moe_intermediate_size": 32, "intermediate_size": 64,
        "first_k_dense_replace": 1, "kv_lora_rank": 16, "qk_rope_head_dim": 8,
        "qk_nope_head_dim": 8, "v_head_dim": 8}


@pytest.mark.parametrize("dense", [False, True])
def test_shared_experts_and_dense_layers_compute_the_right_values(dense):
    wl = moe_layer(TINY, batch=8, tiling="static", tile=4, tile_f=16, dense=dense, values=True)
    result = wl.simulate()
    assert np.allclose(result.outputs["Y"], moe_reference(wl), rtol=1e-4, atol=1e-5)
    if not dense:
        assert np.all(wl.inputs["Wr"][:, -1] == 1)        # shared expert: weight 1
        assert wl.meta["shared_experts"] == 1 and wl.meta["routed_experts"] == 4


def test_dense_layer_errors_are_named():
    with pytest.raises(ConfigError, match="mixtral-8x7b has no dense FFN layer"):
        moe_layer("mixtral-8x7b", batch=8, dense=True)
    with pytest.raises(ConfigError, match="routing given for the dense FFN layer"):
        moe_layer("llama-3.1-8b", batch=2, routing=np.zeros((2, 1), dtype=int))
    with pytest.raises(ConfigError, match="dense = 'yes'"):
        moe_layer("deepseek-v3", batch=2, dense="yes")


def test_a_sliding_window_caps_the_kv_lengths_and_says_so():
    full = attention_decode("gpt-oss-20b", kv_lengths=KV[:8], data="none")
    slid = attention_decode("gpt-oss-20b", kv_lengths=KV[:8], data="none", window=128)
    assert list(slid.params["kv_lengths"]) == [min(v, 128) for v in KV[:8]]
    assert "capped at 128" in slid.meta["notes"] and "window=128" in full.meta["notes"]
    assert "latent" in attention_decode("deepseek-v3", kv_lengths=KV[:4], data="none",
                                        parallel=2).meta["notes"]
    assert attention_decode("qwen3-30b-a3b", kv_lengths=KV[:4], data="none").meta["notes"] == ""
    with pytest.raises(ConfigError, match="window = 0"):
        attention_decode("gpt-oss-20b", kv_lengths=KV[:8], data="none", window=0)


def test_a_config_path_or_dict_works_wherever_a_model_name_does(tmp_path):
    path = tmp_path / "tiny" / "config.json"
    path.parent.mkdir()
    path.write_text(gallery_path("gpt-oss-20b").read_text())
    wl = moe_layer(str(path), batch=4, values=False)
    assert wl.program.name.startswith("moe_tiny_b4") and wl.meta["counts"].__len__() == 32
    rebuilt = moe_layer(TINY, batch=4, tile_f=16, tiling="dynamic").rebuild(batch=6)
    assert rebuilt.params["batch"] == 6


def test_model_knobs_take_gallery_names_and_config_paths(tmp_path):
    from step_lab.notebook.knobs import KnobRecorder
    path = tmp_path / "mine.json"
    path.write_text(gallery_path("deepseek-v2-lite").read_text())
    choices = sl.workloads.model_choices(path)
    assert choices[:2] == ["mixtral-8x7b", "qwen3-30b-a3b"] and choices[-1] == str(path)
    assert set(GALLERY) <= set(choices)
    knob = KnobRecorder(values={"model": str(path)})
    chosen = knob("model", "mixtral-8x7b", choices=choices)
    assert moe_layer(chosen, batch=8, values=False).meta["shared_experts"] == 2
    assert KnobRecorder(values={"model": "gpt-oss-20b"})("model", "mixtral-8x7b",
                                                        choices=choices) == "gpt-oss-20b"
    bad = tmp_path / "bad.json"
    bad.write_text('{"model_type": "bert"}')
    with pytest.raises(ConfigError, match="unknown model_type 'bert'"):
        sl.workloads.model_choices(bad)
