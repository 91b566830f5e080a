"""Hardware configuration of the simulated spatial dataflow accelerator (STEP.md §7, EXPERIMENTS.md
§1.1–1.2).

:class:`HardwareConfig` is a frozen dataclass whose field names carry their units. Presets:

* ``PAPER`` — the STeP paper's main evaluation (Figs 9–21): HBM 32 channels × 32 B/cycle =
  1024 B/cycle, 64 B/cycle memory units, FIFO depth 2 (the MoE experiments' default);
* ``ATTENTION`` — ``PAPER`` with FIFO depth 1 and one request per cycle per off-chip operator
  (the attention-decode experiments: the artifact's attention scripts pass ``par_dispatch=1``),
  one tile in flight per off-chip operator (the artifact's ``RandomOffChipLoad::run`` waits for
  every response of a tile before it reads the next address) and the request replay
  (``hbm_request_replay``);
* ``VALIDATION`` — the Fig 8 HDL-validation setup: 8 HBM channels (256 B/cycle), 256 B/cycle
  memory units, FIFO depth 1, 4096 FLOPs/cycle per compute operator, and one tile in flight per
  off-chip operator (``offchip_outstanding_tiles = 1``: the artifact's HBM node allows one
  outstanding request and its loads fetch a tile only after the previous one has returned;
  with 2 the near-tied (·, 128) / (·, 256) schedules swap and the largest rank shift against
  the reference simulator is 3, outside EXPERIMENTS.md's ±2). ``PAPER`` keeps 2 (double
  buffering), with which Figs 9–21 match the paper.

``PRESETS`` maps lower-case names to configs; :func:`preset` looks one up with a did-you-mean
error.
"""
from __future__ import annotations

import dataclasses
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import ConfigError, did_you_mean, lookup
from ..ir.program import MAX_FIFO_DEPTH

__all__ = ["HardwareConfig", "PAPER", "ATTENTION", "VALIDATION", "PRESETS", "preset"]

# field -> minimum allowed value (ints); 0 means "may be zero"
_INT_FIELDS = {
    "onchip_bytes_per_cycle": 1, "offchip_bytes_per_cycle": 1, "hbm_channels": 1,
    "hbm_request_bytes": 1, "hbm_cycles_per_request": 1, "hbm_latency_cycles": 0,
    "hbm_startup_cycles": 0, "offchip_outstanding_tiles": 1, "compute_flops_per_cycle": 0,
    "flops_per_cycle_per_unit": 1, "fifo_depth": 1, "channel_latency_cycles": 1,
    "pipeline_latency_cycles": 0, "switch_cost_cycles": 0, "reconfiguration_cycles": 0,
    "onchip_buffer_capacity_bytes": 0,
    "hbm_request_path_cycles": 0, "hbm_response_path_cycles": 0,
    "channel_credit_latency_cycles": 0, "offchip_requests_per_cycle": 0,
}


# [Choice] Upper bounds that keep a run responsive: a FIFO preallocates its slots, and placement
# walks every cell of the grid (a 1000 x 1000 grid already takes seconds).
# MAX_FIFO_DEPTH (imported above) lives in the IR: it bounds Program.set_fifo_depth too.
MAX_GRID_CELLS = 1_000_000


@dataclass(frozen=True)
class HardwareConfig:
    """Timing parameters of the simulated SDA; every field name states its unit.

    Memory:

    * ``onchip_bytes_per_cycle`` — bandwidth of one on-chip memory unit (BW_onchip, §7.2).
    * ``offchip_bytes_per_cycle`` — aggregate HBM cap (§7.3); must not exceed what the channels
      can deliver, ``hbm_channels · hbm_request_bytes / hbm_cycles_per_request``.
    * ``hbm_channels``, ``hbm_request_bytes`` (burst size), ``hbm_cycles_per_request`` (one
      request per channel every that many cycles), ``hbm_latency_cycles`` (issue to response),
      ``hbm_startup_cycles`` (a channel serves nothing before this cycle).
    * ``offchip_outstanding_tiles`` — tiles one off-chip operator may have in flight (2 = the
      double buffering of the paper's on-chip accounting, §6.2).
    * ``onchip_buffer_capacity_bytes`` — bytes one Bufferize may keep on chip; a buffer
      ``‖buffer‖ · |tile|`` larger than this spills to HBM (``step_lab.analysis.spill``).
      0 (default, every preset): unlimited, nothing spills unless built with ``spill=True``.
    * ``offchip_requests_per_cycle`` — requests an off-chip operator hands to the HBM per cycle;
      requests are served in arrival order, so concurrent tiles share the channels
      (``sim.hbm_stream``); 0 = whole-tile reservations (``sim.hbm``).
    * ``hbm_request_path_cycles`` / ``hbm_response_path_cycles`` — network cycles from an
      operator to a channel queue and from the HBM back to the operator.
    * ``hbm_request_replay`` — serve the requests one by one as the artifact's HBM node and
      channels do (``sim.hbm_replay``: its uneven channel dealing, start-up paid on every
      request) instead of the fluid arrival-order model; True in ``VALIDATION`` and
      ``ATTENTION``, False in ``PAPER`` (too many requests to replay in the MoE runs).

    Compute:

    * ``compute_flops_per_cycle`` — the compute bandwidth C of a higher-order node created
      without ``compute_bw`` (§7.2). 0 makes such nodes a ConfigError once they need FLOPs.
    * ``flops_per_cycle_per_unit`` — one 16×16 compute unit (256 MACs = 512 FLOPs/cycle); a node
      with bandwidth C is reported as using ``⌈C / flops_per_cycle_per_unit⌉`` of them (§7.4).
    * ``pipeline_latency_cycles`` — extra cycles before a higher-order node's result is visible
      downstream (latency, not throughput).

    Network:

    * ``fifo_depth`` — default channel depth in slots (per-stream override:
      ``program.set_fifo_depth``; feedback edges use their declared depth).
    * ``channel_latency_cycles`` — cycles from a put to the token's visibility (>= 1).
    * ``channel_credit_latency_cycles`` — cycles from freeing a slot to the producer seeing it.
    * ``compute_holds_inputs`` — compute (and expand) operators keep an element's slot until
      they are done with it (``sim.holding``).

    The last five fields model the reference simulator's overheads (``hw.overheads``: the
    artifact's values in every preset; ``hw.idealized(hw)`` turns them off).
    * ``switch_cost_cycles`` — Partition/Reassemble/EagerMerge port-switch cost (§7.2).

    Placement (``step_lab.hw.placement``):

    * ``grid`` — ``(rows, cols)`` of units in a checkerboard of compute and memory units, or
      ``None`` to size the grid to the program (one unit per placed node).
    * ``time_multiplex`` — when the grid is too small, share units round-robin instead of
      raising ConfigError; nodes sharing a unit serialise their work on it.
    * ``reconfiguration_cycles`` — charged when a shared unit switches to another node (§7.4
      says the paper has no such penalty: 0).
    """

    onchip_bytes_per_cycle: int = 64
    offchip_bytes_per_cycle: int = 1024
    hbm_channels: int = 32
    hbm_request_bytes: int = 64
    hbm_cycles_per_request: int = 2
    hbm_latency_cycles: int = 2
    hbm_startup_cycles: int = 14
    hbm_request_path_cycles: int = 2
    hbm_response_path_cycles: int = 1
    offchip_outstanding_tiles: int = 2
    offchip_requests_per_cycle: int = 4
    compute_flops_per_cycle: int = 1024
    flops_per_cycle_per_unit: int = 512
    fifo_depth: int = 2
    channel_latency_cycles: int = 1
    channel_credit_latency_cycles: int = 1
    pipeline_latency_cycles: int = 0
    switch_cost_cycles: int = 1
    compute_holds_inputs: bool = True
    hbm_request_replay: bool = False
    grid: tuple | None = None
    time_multiplex: bool = False
    reconfiguration_cycles: int = 0
    onchip_buffer_capacity_bytes: int = 0

    def __post_init__(self):
        for name, minimum in _INT_FIELDS.items():
            object.__setattr__(self, name, _check_int(name, getattr(self, name), minimum))
        if not isinstance(self.compute_holds_inputs, bool):
            raise ConfigError(f"HardwareConfig: compute_holds_inputs = "
                              f"{self.compute_holds_inputs!r} (expected True or False)")
        if not isinstance(self.hbm_request_replay, bool):
            raise ConfigError(f"HardwareConfig: hbm_request_replay = "
                              f"{self.hbm_request_replay!r} (expected True or False)")
        if self.hbm_request_replay and not self.offchip_requests_per_cycle:
            raise ConfigError("HardwareConfig: hbm_request_replay = True needs "
                              "offchip_requests_per_cycle >= 1 (got 0: whole-tile "
                              "reservations have no requests to replay)")
        if not isinstance(self.time_multiplex, bool):
            raise ConfigError(f"HardwareConfig: time_multiplex = {self.time_multiplex!r} "
                              "(expected True or False)")
        if self.fifo_depth > MAX_FIFO_DEPTH:
            raise ConfigError(f"HardwareConfig: fifo_depth = {self.fifo_depth} (expected an "
                              f"int <= {MAX_FIFO_DEPTH}: every slot is allocated)")
        if self.grid is not None:
            object.__setattr__(self, "grid", _check_grid(self.grid))
        limit = self.hbm_channels * self.hbm_request_bytes // self.hbm_cycles_per_request
        if self.offchip_bytes_per_cycle > limit:
            raise ConfigError(
                f"HardwareConfig: offchip_bytes_per_cycle = {self.offchip_bytes_per_cycle} "
                f"exceeds what the HBM channels deliver (expected <= hbm_channels · "
                f"hbm_request_bytes / hbm_cycles_per_request = {limit})\n"
                "  hint: raise hbm_channels together with offchip_bytes_per_cycle")
        if self.hbm_request_replay and self.offchip_bytes_per_cycle < limit:
            raise ConfigError(
                f"HardwareConfig: hbm_request_replay = True with offchip_bytes_per_cycle = "
                f"{self.offchip_bytes_per_cycle} (expected the channels' {limit}: the replay "
                "has no bandwidth cap beyond its channels)")

    def replace(self, **changes: Any) -> HardwareConfig:
        """A copy with some fields changed (validated again); unknown names raise ConfigError."""
        names = [f.name for f in dataclasses.fields(self)]
        for key in changes:
            if key not in names:
                raise ConfigError(f"HardwareConfig has no field {key!r}"
                                  + did_you_mean(key, names) + f" (expected one of {names})")
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        out = dataclasses.asdict(self)
        out["grid"] = list(self.grid) if self.grid is not None else None
        return out


def _check_int(name: str, value, minimum: int) -> int:
    """An int field (numpy integers accepted and converted); bool, float, str, None rejected."""
    if isinstance(value, (bool, np.bool_)) \
            or not isinstance(value, numbers.Integral) or value < minimum:
        raise ConfigError(f"HardwareConfig: {name} = {value!r:.40} (expected an int >= "
                          f"{minimum})")
    return int(value)


def _check_grid(grid) -> tuple:
    ok = (isinstance(grid, (tuple, list)) and len(grid) == 2
          and all(isinstance(v, numbers.Integral) and not isinstance(v, bool) and int(v) >= 1
                  for v in grid))
    if not ok:
        raise ConfigError(f"HardwareConfig: grid = {grid!r:.60} (expected None or (rows, cols) "
                          "with two ints >= 1)")
    if grid[0] * grid[1] > MAX_GRID_CELLS:
        raise ConfigError(f"HardwareConfig: grid = {tuple(grid)} has {grid[0] * grid[1]:,} "
                          f"units (expected at most {MAX_GRID_CELLS:,})")
    return (int(grid[0]), int(grid[1]))


PAPER = HardwareConfig()
ATTENTION = PAPER.replace(fifo_depth=1, offchip_requests_per_cycle=1,
                          offchip_outstanding_tiles=1, hbm_request_replay=True)
VALIDATION = PAPER.replace(hbm_channels=8, offchip_bytes_per_cycle=256,
                           onchip_bytes_per_cycle=256, fifo_depth=1,
                           compute_flops_per_cycle=4096, offchip_outstanding_tiles=1,
                           hbm_request_replay=True)

PRESETS = {"paper": PAPER, "attention": ATTENTION, "validation": VALIDATION}


def preset(name: str | HardwareConfig) -> HardwareConfig:
    """The preset called ``name`` (case-insensitive); a HardwareConfig is returned unchanged."""
    if isinstance(name, HardwareConfig):
        return name
    return lookup(PRESETS, name, "hardware preset")
