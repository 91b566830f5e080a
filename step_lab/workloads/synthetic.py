"""Synthetic trace generators with named parameters, fitted to the vendored real traces.

* :class:`RoutingModel` — expert routing ``[tokens, k]``: expert popularity ``1/rank**skew`` over a
  seeded random order of the experts (``skew`` 0: uniform) among the ``active`` fraction of them
  (the others are never picked: a layer's router ignores many experts for a given prompt
  mix), and token-to-token ``correlation``:
  each of a token's k slots re-uses, with that probability, one of the previous token's experts
  (a uniformly chosen one not yet picked), else draws from the popularity without replacement.
* :class:`KvLengthModel` — KV-cache lengths: a mixture of log-normal components (``weights``,
  ``medians`` in tokens, ``log_stds``), rounded and clipped to ``[low, high]``.

``fit_routing`` / ``fit_kv_lengths`` fit them to real traces, ``fitted_models()`` to the
vendored ones (``step-lab traces fit`` prints the values; docs/TRACES.md lists them).

[Choice] Skew and active fraction are fitted by least squares between the square roots of the
real trace's sorted per-expert load profile (counts / mean count, busiest first) and of the mean
profile of 8 seeded synthetic traces of the same size plus 0.05 times the plain squared error
(square roots weigh the long tail of rarely used experts against the few busy ones — plain squares
alone fit Qwen's idle experts badly, square roots alone overshoot its busiest expert), on a grid
(skew step 0.05 in [0, 3], active fraction step 0.05 in [0.2, 1]); correlation from the mean
overlap of consecutive tokens' expert sets, ``c = (o_real - o_indep) / (1 - o_indep)`` with
``o_indep`` the overlap of uncorrelated synthetic traces at the fitted skew (clipped to [0, 0.95]).
[Choice] KV lengths: a 3-component Gaussian mixture on log(length) fitted by EM (200
iterations, deterministic initialisation at the quantiles). The Azure conversation lengths are
multi-modal (a broad body, a narrow mode near 1,080 tokens and one near 4,090): one log-normal
misses the modes (Kolmogorov-Smirnov distance 0.22 against 0.09 for three components).
The old ``synthetic_routing`` / ``synthetic_kv_lengths`` are unchanged (the figures use them).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError

__all__ = ["RoutingModel", "KvLengthModel", "fit_routing", "fit_kv_lengths", "load_profile",
           "load_stats", "fitted_models", "SKEW_GRID"]

SKEW_GRID = np.round(np.arange(0.0, 3.0001, 0.05), 2)
ACTIVE_GRID = np.round(np.arange(1.0, 0.1999, -0.05), 2)     # 1.0 first: ties keep all active
FIT_SEEDS = 8
PLAIN_WEIGHT = 0.05         # weight of the plain squared profile error in the fit's loss


def _check(name: str, value, lo: float, hi: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) \
            or not lo <= value <= hi:
        raise ConfigError(f"{name} = {value!r} (expected a number in [{lo}, {hi}])")
    return float(value)


@dataclass(frozen=True)
class RoutingModel:
    """Seeded routing traces: ``skew`` (expert popularity), ``correlation`` (token to token)."""

    experts: int
    top_k: int
    skew: float = 0.0
    correlation: float = 0.0
    active: float = 1.0

    def __post_init__(self):
        for name in ("experts", "top_k"):
            v = getattr(self, name)
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
                raise ConfigError(f"RoutingModel: {name} = {v!r} (expected an int >= 1)")
        if self.top_k > self.experts:
            raise ConfigError(f"RoutingModel: top_k {self.top_k} exceeds the {self.experts} "
                              "experts (expected top_k <= experts)")
        _check("RoutingModel: skew", self.skew, 0.0, 10.0)
        _check("RoutingModel: correlation", self.correlation, 0.0, 1.0)
        _check("RoutingModel: active", self.active, 0.0, 1.0)

    @property
    def active_experts(self) -> int:
        """Experts with non-zero popularity (at least top_k)."""
        return max(self.top_k, int(round(self.active * self.experts)))

    def popularity(self, rng) -> np.ndarray:
        """Per-expert probabilities ``1/rank**skew`` in a seeded random expert order."""
        weights = 1.0 / np.arange(1, self.experts + 1) ** self.skew
        weights[self.active_experts:] = 0.0
        weights = weights[rng.permutation(self.experts)]
        return weights / weights.sum()

    def generate(self, tokens: int, seed: int = 0) -> np.ndarray:
        """An int64 routing ``[tokens, top_k]`` (k distinct expert ids per token)."""
        if isinstance(tokens, bool) or not isinstance(tokens, (int, np.integer)) or tokens < 1:
            raise ConfigError(f"RoutingModel.generate: tokens = {tokens!r} (expected an int >= 1)")
        rng = np.random.default_rng(seed)
        with np.errstate(divide="ignore"):
            logp = np.log(self.popularity(rng))
        if self.correlation == 0:                           # Gumbel top-k for all tokens at once
            keys = logp + rng.gumbel(size=(tokens, self.experts))
            return np.argsort(-keys, axis=1)[:, :self.top_k].astype(np.int64)
        out = np.empty((tokens, self.top_k), dtype=np.int64)
        prev = None
        for t in range(tokens):
            copied = []
            if prev is not None and self.correlation > 0:
                n = min(int(rng.binomial(self.top_k, self.correlation)), len(prev))
                copied = list(rng.choice(prev, size=n, replace=False)) if n else []
            keys = logp + rng.gumbel(size=self.experts)      # Gumbel top-k: draws w/o replacement
            keys[copied] = -np.inf
            fresh = np.argsort(-keys)[:self.top_k - len(copied)]
            out[t] = np.concatenate([np.asarray(copied, dtype=np.int64), fresh])
            prev = out[t]
        return out


@dataclass(frozen=True)
class KvLengthModel:
    """Seeded KV lengths: a log-normal mixture (``weights``, ``medians``, ``log_stds``)."""

    weights: tuple
    medians: tuple          # exp(mean of log length) of each component, in tokens
    log_stds: tuple
    low: int = 1
    high: int = 8192
    notes: str = field(default="", compare=False)

    def __post_init__(self):
        n = len(self.weights)
        if not n or len(self.medians) != n or len(self.log_stds) != n:
            raise ConfigError(f"KvLengthModel: weights, medians and log_stds have lengths "
                              f"{len(self.weights)}, {len(self.medians)}, {len(self.log_stds)} "
                              "(expected the same number >= 1 of components)")
        if any(w < 0 for w in self.weights) or not np.isclose(sum(self.weights), 1.0):
            raise ConfigError(f"KvLengthModel: weights {list(self.weights)} (expected "
                              "non-negative numbers summing to 1)")
        if any(m <= 0 for m in self.medians) or any(s < 0 for s in self.log_stds):
            raise ConfigError("KvLengthModel: medians must be > 0 and log_stds >= 0")
        if not 0 <= self.low <= self.high:
            raise ConfigError(f"KvLengthModel: low {self.low}, high {self.high} (expected "
                              "0 <= low <= high)")

    def generate(self, batch: int, seed: int = 0) -> np.ndarray:
        """An int64 vector of ``batch`` KV lengths."""
        if isinstance(batch, bool) or not isinstance(batch, (int, np.integer)) or batch < 1:
            raise ConfigError(f"KvLengthModel.generate: batch = {batch!r} (expected an int >= 1)")
        rng = np.random.default_rng(seed)
        comp = rng.choice(len(self.weights), size=batch, p=np.asarray(self.weights))
        logs = rng.normal(np.log(np.asarray(self.medians))[comp], np.asarray(self.log_stds)[comp])
        return np.clip(np.round(np.exp(logs)), self.low, self.high).astype(np.int64)


# -- statistics ----------------------------------------------------------------------------------
def load_profile(routing, experts: int) -> np.ndarray:
    """Per-expert token counts divided by their mean, busiest first."""
    counts = np.bincount(np.asarray(routing).ravel(), minlength=experts).astype(float)
    return np.sort(counts)[::-1] / counts.mean()


def load_stats(routing, experts: int) -> dict:
    """``cv`` (std/mean of per-expert counts), ``max_over_mean``, ``active`` (fraction of experts
    with a token) and ``overlap`` (mean fraction of a token's experts the previous token had)."""
    routes = np.asarray(routing)
    counts = np.bincount(routes.ravel(), minlength=experts).astype(float)
    return {"cv": float(counts.std() / counts.mean()),
            "max_over_mean": float(counts.max() / counts.mean()),
            "active": float(np.count_nonzero(counts) / experts),
            "overlap": _overlap(routes)}


def _overlap(routes: np.ndarray) -> float:
    if len(routes) < 2:
        return 0.0
    shared = [len(set(a.tolist()) & set(b.tolist()))
              for a, b in zip(routes[1:], routes[:-1], strict=True)]
    return float(np.mean(shared) / routes.shape[1])


# -- fitting -------------------------------------------------------------------------------------
def fit_routing(routing, experts: int) -> RoutingModel:
    """Fit ``skew`` and ``correlation`` to one real routing trace (see the module's [Choice])."""
    routes = np.asarray(routing)
    tokens, k = routes.shape
    real = load_profile(routes, experts)
    best, best_loss = (0.0, 1.0), np.inf
    for active in ACTIVE_GRID:
        if max(k, round(active * experts)) < k or (active < 1 and round(active * experts) < k):
            continue
        for skew in SKEW_GRID:
            gen = RoutingModel(experts, k, float(skew), 0.0, float(active))
            mean = np.mean([load_profile(gen.generate(tokens, s), experts)
                            for s in range(FIT_SEEDS)], axis=0)
            loss = float(np.sum((np.sqrt(mean) - np.sqrt(real)) ** 2)
                         + PLAIN_WEIGHT * np.sum((mean - real) ** 2))
            if loss < best_loss - 1e-12:
                best, best_loss = (float(skew), float(active)), loss
    skew, active = best
    indep = np.mean([_overlap(RoutingModel(experts, k, skew, 0.0, active).generate(tokens, s))
                     for s in range(FIT_SEEDS)])
    corr = (_overlap(routes) - indep) / (1 - indep) if indep < 1 else 0.0
    return RoutingModel(experts, k, skew, round(float(np.clip(corr, 0.0, 0.95)), 3), active)


def fit_kv_lengths(lengths, components: int = 3, iters: int = 200) -> KvLengthModel:
    """Fit a log-normal mixture to KV lengths by EM on log(length) (lengths 0 count as 1)."""
    x = np.log(np.maximum(np.asarray(lengths, dtype=float), 1.0))
    if x.size < components:
        raise ConfigError(f"fit_kv_lengths: {x.size} lengths (expected at least {components})")
    w = np.full(components, 1.0 / components)
    mu = np.quantile(x, (np.arange(components) + 0.5) / components)
    sd = np.full(components, max(x.std(), 1e-3) / components)
    for _ in range(iters):
        dens = w * np.exp(-0.5 * ((x[:, None] - mu) / sd) ** 2) / sd
        resp = dens / np.maximum(dens.sum(axis=1, keepdims=True), 1e-300)
        n = np.maximum(resp.sum(axis=0), 1e-12)
        w, mu = n / x.size, (resp * x[:, None]).sum(axis=0) / n
        sd = np.maximum(np.sqrt((resp * (x[:, None] - mu) ** 2).sum(axis=0) / n), 0.02)
    order = np.argsort(mu)
    return KvLengthModel(tuple(round(float(v), 4) for v in w[order] / w.sum()),
                         tuple(round(float(np.exp(v)), 1) for v in mu[order]),
                         tuple(round(float(v), 4) for v in sd[order]),
                         low=int(np.min(lengths)), high=int(np.max(lengths)))


def fitted_models(root=None, *, kv_only: bool = False) -> dict:
    """The generators fitted to the real traces under ``root`` (default: the vendored copy):
    ``{"routing": {"<folder>/<file>": RoutingModel}, "kv_lengths": KvLengthModel}`` (one KV
    model for all KV files pooled; ``kv_only``: skip the routing fits, which take seconds)."""
    from .trace_folder import scan_traces
    folder = scan_traces(root)
    routing = {} if kv_only else {rel: fit_routing(arr, folder.experts_of(rel))
                                  for rel, arr in folder.routing.items()}
    pooled = np.concatenate(list(folder.kv_lengths.values())) if folder.kv_lengths else None
    return {"routing": routing,
            "kv_lengths": fit_kv_lengths(pooled) if pooled is not None else None}
