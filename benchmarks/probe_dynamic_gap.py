"""Probe of the attention "dynamic" gap (issue 16 item 1): candidates measured, none modelled.

Run: ``python benchmarks/probe_dynamic_gap.py`` (a few seconds). Prints, for the three attention
b64 reference points and the Fig 8 mean / max |error|, the cycles of the presets' model and of
each candidate below (one at a time, on top of the presets; ``benchmarks/fidelity.py`` builds
the points). Nothing here changes the model: the script is the record of what was tried.

Candidates, each read off the authors' artifact (step_perf / DAM sources):

* ``dealing`` — ``HBMContext::run`` deals the requests of one cycle onto channels with
  ``off_set = (off_set + i) % channel_num`` for the i-th request, then ``+= req_len``: not an even
  round-robin when several operators issue in the same cycle. :class:`DealtRequests` replays it
  request by request (each channel: one request every ``hbm_cycles_per_request`` cycles,
  response after ``hbm_latency_cycles``; ``HBMChannelContext::run``).
* ``serial loads`` — ``RandomOffChipLoad::run`` dequeues one address, waits for every response
  and enqueues the tile before it reads the next address: one tile in flight
  (``offchip_outstanding_tiles = 1``; ``ATTENTION`` inherits 2 from ``PAPER``).
* ``startup per request`` — ``HBMChannelContext::run`` never clears ``initial_request``, so every
  request pays ``per_channel_start_up_time`` (14) on top of its latency: modelled as latency
  2 + 14 with no start-up window, with serial loads.
* ``channel latency 2`` — a sensitivity (not read off the artifact): every FIFO hop one cycle
  slower.
"""
from __future__ import annotations

import sys
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

import fidelity  # noqa: E402

import step_lab.sim.hbm_stream as hbm_stream  # noqa: E402


class DealtRequests:
    """Per-request HBM with the artifact's channel dealing (same interface as
    ``hbm_stream.RequestStreams``); cycles are dealt once every request of a cycle is known."""

    def __init__(self, hw, bursts, trace: bool = False) -> None:
        self.rate, self.bursts = hw.offchip_requests_per_cycle, bursts
        self.latency, self.start = hw.hbm_latency_cycles, hw.hbm_startup_cycles
        self.to_channel, self.to_operator = hw.hbm_request_path_cycles, hw.hbm_response_path_cycles
        self.interval, self.channels = hw.hbm_cycles_per_request, hw.hbm_channels
        self.arrivals: dict = defaultdict(list)      # cycle -> [(node, tile, requests)]
        self.free = [0] * self.channels
        self.started = [False] * self.channels
        self.offset = self.dealt = self.tiles = 0
        self.last: dict = {}
        self.end: dict = {}
        self.key: dict = {}
        self.log = None

    def issue(self, t, nbytes, rows=0, row_bytes=0, node=-1) -> tuple:
        left = self.bursts(nbytes, rows, row_bytes)
        s = c = max(t + self.to_channel, self.last.get(node, 0), self.dealt)
        tile, self.tiles = self.tiles, self.tiles + 1
        while left > 0:
            self.arrivals[c].append((node, tile, min(self.rate, left)))
            left -= self.rate
            c += 1
        self.last[node], self.end[tile], self.key[(node, s)] = c, -1, tile
        return s, c

    def _deal(self, upto: int) -> None:
        for cycle in range(self.dealt, upto):
            i = 0
            for _node, tile, k in sorted(self.arrivals.pop(cycle, ()), key=lambda r: r[0]):
                for _ in range(k):
                    self.offset = (self.offset + i) % self.channels
                    ch, i = self.offset, i + 1
                    begin = max(cycle, self.free[ch])
                    self.free[ch] = begin + self.interval
                    done = begin + self.latency + (0 if self.started[ch] else self.start)
                    self.started[ch] = True
                    self.end[tile] = max(self.end[tile], done)
            self.offset = (self.offset + i) % self.channels
        self.dealt = max(self.dealt, upto)

    def complete(self, s, e, nbytes, is_write=False, node=-1) -> int:
        tile = self.key.pop((node, s))
        self._deal(int(e))
        return self.end.pop(tile) + self.to_operator


def _row(name: str, changes: dict | None = None, dealt: bool = False) -> list:
    saved = hbm_stream.RequestStreams
    if dealt:
        hbm_stream.RequestStreams = DealtRequests   # type: ignore[misc]
    try:
        cycles = fidelity.points(changes=changes or {})
    finally:
        hbm_stream.RequestStreams = saved
    ref = fidelity.references()
    errs = [abs(cycles[k] / ref[k] - 1) * 100 for k in ref if k.startswith("fig8")]
    cells = [f"{cycles[k]:,} ({(cycles[k] / ref[k] - 1) * 100:+.1f}%)"
             for k in ref if k.startswith("attention")]
    return [name, *cells, f"{sum(errs) / len(errs):.2f}%", f"{max(errs):.2f}%"]


def main() -> None:
    serial = {"offchip_outstanding_tiles": 1}
    rows = [
        _row("presets"),
        _row("dealing", dealt=True),
        _row("serial loads", serial),
        _row("startup per request", {**serial, "hbm_latency_cycles": 16,
                                     "hbm_startup_cycles": 0}),
        _row("channel latency 2", {"channel_latency_cycles": 2}),
    ]
    ref = fidelity.references()
    head = ["candidate", *[k for k in ref if k.startswith("attention")],
            "fig8 mean", "fig8 max"]
    print("| " + " | ".join(head) + " |")
    print("|" + "---|" * len(head))
    print("| reference | " + " | ".join(f"{ref[k]:,}" for k in head[1:4]) + " | | |")
    for r in rows:
        print("| " + " | ".join(r) + " |")


if __name__ == "__main__":
    main()
