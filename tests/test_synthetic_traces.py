"""Synthetic trace generators fitted to the vendored real traces, and the trace folder format.

Stated tolerances (docs/TRACES.md): averaged over 32 seeded synthetic traces of the real trace's
size, the per-expert load statistics of a fitted RoutingModel are within 15 % (CV), 25 %
(max/mean) and 10 % (active experts) of the real trace's, the overlap of consecutive tokens'
experts within 0.1, and the sorted load profile within 0.2 × the mean count on average per
expert. The fitted KV-length model's mean, standard deviation and median are within 10 % of the
pooled real lengths and its Kolmogorov-Smirnov distance to them is below 0.12."""
import functools
from pathlib import Path

import numpy as np
import pytest

from step_lab.cli import main
from step_lab.errors import ConfigError, StepError
from step_lab.workloads import (
    KvLengthModel,
    RoutingModel,
    fit_kv_lengths,
    fit_routing,
    scan_traces,
    synthetic_routing,
)
from step_lab.workloads.synthetic import load_profile, load_stats

FOLDER = scan_traces()
SEEDS = range(100, 132)


@functools.cache
def _fit(rel: str) -> RoutingModel:
    return fit_routing(FOLDER.routing[rel], FOLDER.experts_of(rel))


@pytest.mark.parametrize("rel", sorted(FOLDER.routing))
def test_fitted_routing_reproduces_the_real_per_expert_load(rel):
    real, experts = FOLDER.routing[rel], FOLDER.experts_of(rel)
    fitted = _fit(rel)
    gen = [fitted.generate(len(real), seed) for seed in SEEDS]
    stats = {k: np.mean([load_stats(g, experts)[k] for g in gen]) for k in load_stats(real, 1)}
    want = load_stats(real, experts)
    assert abs(stats["cv"] / want["cv"] - 1) <= 0.15, (stats, want)
    assert abs(stats["max_over_mean"] / want["max_over_mean"] - 1) <= 0.25, (stats, want)
    assert abs(stats["active"] / want["active"] - 1) <= 0.10, (stats, want)
    assert abs(stats["overlap"] - want["overlap"]) <= 0.10, (stats, want)
    profile = np.mean([load_profile(g, experts) for g in gen], axis=0)
    assert np.abs(profile - load_profile(real, experts)).mean() <= 0.20
    assert all(g.shape == real.shape and g.max() < experts for g in gen)


def test_the_fits_tell_the_two_models_apart():
    mixtral = _fit("expert_routing/mixtral_b64/008_010.npz")
    qwen = _fit("expert_routing/qwen_b64/032_012.npz")
    assert mixtral.active == 1.0 and mixtral.skew < qwen.skew and qwen.active < 0.6


def test_fitted_kv_lengths_reproduce_the_pooled_real_lengths():
    real = np.concatenate(list(FOLDER.kv_lengths.values()))
    fitted = fit_kv_lengths(real)
    gen = fitted.generate(20000, seed=1)
    for stat in (np.mean, np.std, np.median):
        assert abs(stat(gen) / stat(real) - 1) <= 0.10, stat.__name__
    grid = np.unique(np.concatenate([real, gen]))
    cdf = lambda a: np.searchsorted(np.sort(a), grid, side="right") / len(a)  # noqa: E731
    assert np.max(np.abs(cdf(real) - cdf(gen))) < 0.12
    assert gen.min() >= real.min() and gen.max() <= real.max()
    assert len(fitted.weights) == 3 and abs(sum(fitted.weights) - 1) < 1e-3


def test_routing_model_parameters_do_what_they_say():
    base = RoutingModel(64, 4)
    assert np.array_equal(base.generate(50, 3), base.generate(50, 3))
    routes = RoutingModel(64, 4, skew=1.0, correlation=0.8).generate(200, 0)
    assert all(len(set(r)) == 4 for r in routes.tolist())
    baseline = load_stats(base.generate(200, 0), 64)["overlap"]
    assert load_stats(routes, 64)["overlap"] > baseline + 0.3
    few = RoutingModel(64, 4, active=0.25).generate(400, 0)
    assert len(np.unique(few)) == 16
    skewed = load_stats(RoutingModel(64, 4, skew=1.5).generate(400, 0), 64)["cv"]
    assert skewed > 2 * load_stats(base.generate(400, 0), 64)["cv"]


def test_bad_generator_parameters_are_named():
    with pytest.raises(ConfigError, match="correlation = 1.5"):
        RoutingModel(8, 2, correlation=1.5)
    with pytest.raises(ConfigError, match="top_k 9 exceeds the 8 experts"):
        RoutingModel(8, 9)
    with pytest.raises(ConfigError, match="tokens = 0"):
        RoutingModel(8, 2).generate(0)
    with pytest.raises(ConfigError, match="summing to 1"):
        KvLengthModel((0.5, 0.4), (100.0, 1000.0), (1.0, 0.1))
    with pytest.raises(ConfigError, match="same number"):
        KvLengthModel((1.0,), (100.0, 1000.0), (1.0,))


def test_the_old_generators_are_unchanged():
    # the figures use synthetic_routing with fixed seeds: its output must never change
    assert synthetic_routing(4, 8, 2, seed=0).tolist() == [[6, 7], [4, 5], [4, 7], [6, 0]]


# -- the trace folder format ---------------------------------------------------------------------
def _folder(tmp_path, routing=None, kv=None):
    for rel, arr in (routing or {}).items():
        path = tmp_path / "expert_routing" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, data=arr)
    for rel, arr in (kv or {}).items():
        path = tmp_path / "kv_lengths" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        np.save(path, arr)
    return tmp_path


def test_the_vendored_folder_is_valid():
    assert len(FOLDER.routing) == 2 and len(FOLDER.kv_lengths) == 36
    assert FOLDER.experts_of("expert_routing/qwen_b64/032_012.npz") == 128


def test_a_user_folder_with_a_gallery_model_loads(tmp_path):
    routes = RoutingModel(256, 8).generate(16, 0)
    folder = scan_traces(_folder(tmp_path, {"deepseek-v3_b16/000_003.npz": routes},
                                 {"b4/mine.npy": np.array([1, 2, 3, 4])}))
    assert folder.experts_of("expert_routing/deepseek-v3_b16/000_003.npz") == 256
    assert list(folder.kv_lengths) == ["kv_lengths/b4/mine.npy"]


@pytest.mark.parametrize("routing,kv,message", [
    ({"mixtral_b4/x.npz": np.array([[0, 1]] * 3)}, None, "has 3 tokens .*expected 4"),
    ({"mixtral_b4/x.npz": np.array([[0, 1, 2]] * 4)}, None, "lists 3 experts .*top-k 2"),
    ({"mixtral_b4/x.npz": np.array([[0, 9]] * 4)}, None, "expert id 9 .*< 8"),
    ({"mixtral64/x.npz": np.array([[0, 1]] * 4)}, None, "not named <model>_b<batch>"),
    (None, {"b4/x.npy": np.array([1, 2, 3])}, "has 3 requests .*expected 4"),
    (None, {"b4/x.npy": np.array([1, -2, 3, 4])}, "negative KV length"),
    (None, {"batch4/x.npy": np.array([1, 2, 3, 4])}, "not named b<batch>"),
])
def test_malformed_folders_name_the_file_and_the_expectation(tmp_path, routing, kv, message):
    with pytest.raises(StepError, match=message):
        scan_traces(_folder(tmp_path, routing, kv))


def test_a_file_of_the_wrong_kind_is_named(tmp_path):
    _folder(tmp_path, {"mixtral_b4/x.npz": np.array([[0, 1]] * 4)})
    np.save(tmp_path / "expert_routing" / "mixtral_b4" / "y.npy", np.array([1, 2, 3, 4]))
    with pytest.raises(StepError, match="holds 'y.npy' .*expected only .npz files"):
        scan_traces(tmp_path)


def test_empty_or_missing_folders_are_errors(tmp_path):
    with pytest.raises(StepError, match="holds no trace"):
        scan_traces(tmp_path)
    with pytest.raises(StepError, match="does not exist"):
        scan_traces(tmp_path / "nope")


def test_step_lab_traces_fit_and_check_print_the_values(capsys, tmp_path):
    assert main(["traces", "fit"]) == 0
    out = capsys.readouterr().out
    assert "qwen_b64/032_012.npz: RoutingModel(experts=128, top_k=8, skew=" in out
    assert "KvLengthModel(weights=" in out
    docs = (Path(__file__).resolve().parents[1] / "docs" / "TRACES.md").read_text(encoding="utf-8")
    assert all(line in docs for line in out.splitlines()), "docs/TRACES.md shows stale fits"
    assert main(["traces", "check"]) == 0
    assert "2 routing and 36 KV-length traces" in capsys.readouterr().out
    _folder(tmp_path, None, {"b4/x.npy": np.array([1, 2, 3])})
    assert main(["traces", "check", "--traces", str(tmp_path)]) == 1
    assert "has 3 requests" in capsys.readouterr().err
