"""Trace loaders (real vendored files and malformed ones) and seeded synthetic generators."""
import numpy as np
import pytest

import step_lab as sl
from step_lab.workloads.models import MODELS, model
from step_lab.workloads.traces import (
    expert_counts,
    load_kv_lengths,
    load_routing,
    synthetic_kv_lengths,
    synthetic_routing,
    trace_path,
)


def test_vendored_mixtral_trace_has_the_documented_counts():
    r = load_routing(trace_path("expert_routing/mixtral_b64/008_010.npz"), experts=8)
    assert r.shape == (64, 2)
    assert expert_counts(r, 8).tolist() == [13, 10, 17, 14, 17, 10, 24, 23]


def test_vendored_qwen_trace_has_60_active_experts_max_42():
    c = expert_counts(load_routing(trace_path("expert_routing/qwen_b64/032_012.npz")), 128)
    assert (c > 0).sum() == 60 and c.max() == 42 and c.sum() == 64 * 8


def test_vendored_kv_trace_matches_its_readme_row():
    kv = load_kv_lengths(trace_path("kv_lengths/b64/conv_stdev0996_4007_4070.npy"))
    assert kv.shape == (64,) and kv.min() == 109 and kv.max() == 4088
    assert int(np.std(kv, ddof=1)) == 996


def test_missing_and_malformed_trace_files_name_the_file(tmp_path):
    with pytest.raises(sl.StepError, match="does not exist"):
        load_routing(tmp_path / "nope.npz")
    bad = tmp_path / "bad.npz"
    np.savez(bad, other=np.zeros(3))
    with pytest.raises(sl.StepError, match="has no array 'data'"):
        load_routing(bad)
    garbage = tmp_path / "garbage.npy"
    garbage.write_bytes(b"not numpy")
    with pytest.raises(sl.StepError, match="not a readable .npy"):
        load_kv_lengths(garbage)


def test_out_of_range_expert_ids_and_negative_lengths_are_rejected(tmp_path):
    p = tmp_path / "r.npz"
    np.savez(p, data=np.array([[0, 9]]))
    with pytest.raises(sl.StepError, match="expert id 9 .*ids < 8"):
        load_routing(p, experts=8)
    q = tmp_path / "kv.npy"
    np.save(q, np.array([5, -1]))
    with pytest.raises(sl.StepError, match="negative KV length -1"):
        load_kv_lengths(q)


def test_synthetic_routing_is_seeded_distinct_per_token_and_skewable():
    a = synthetic_routing(256, 8, 2, seed=3)
    assert (a == synthetic_routing(256, 8, 2, seed=3)).all()
    assert all(len(set(row)) == 2 for row in a.tolist())
    flat = expert_counts(synthetic_routing(2048, 16, 1, seed=0), 16)
    skewed = expert_counts(synthetic_routing(2048, 16, 1, skew=1.5, seed=0), 16)
    assert skewed.max() / max(skewed.min(), 1) > flat.max() / flat.min()


def test_synthetic_kv_lengths_hit_the_requested_moments():
    kv = synthetic_kv_lengths(4000, mean=1000, std=400, seed=1)
    assert abs(kv.mean() - 1000) < 40 and abs(kv.std() - 400) < 40 and kv.min() >= 2


def test_models_hold_the_experiment_dimensions_and_suggest_names():
    q = MODELS["qwen3-30b-a3b"]
    assert (q.experts, q.top_k, q.hidden, q.moe_intermediate, q.head_dim) == (128, 8, 2048, 768, 64)
    assert model("Mixtral-8x7B").hidden == 4096
    with pytest.raises(sl.ConfigError, match="did you mean 'qwen3-30b-a3b'"):
        model("qwen3-30b")
