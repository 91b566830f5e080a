"""Request replay: the artifact's HBM node and channels, one 64-B request at a time (issue 16).

Used instead of the fluid :class:`step_lab.sim.hbm_stream.RequestStreams` when
``hw.hbm_request_replay`` is True (same interface: ``issue`` / ``complete``). It replays what
the authors' simulator does with the requests of off-chip operators (step-perf,
``src/ramulator/hbm_context.rs``):

* ``HBMContext::run`` — every cycle the HBM node takes the requests that have reached it, in
  reader order, and deals the i-th of them onto channel ``offset = (offset + i) mod channels``,
  then advances ``offset`` by the number of requests of that cycle. This is not an even
  round-robin: requests of one cycle bunch on a few channels and queue there;
* ``HBMChannelContext::run`` — each channel serves its queue in order, one request every
  ``hbm_cycles_per_request`` cycles, and answers ``per_channel_start_up_time +
  per_channel_latency`` cycles after it takes a request: its ``initial_request`` flag is set
  once and never cleared (every stored version of the file), so the start-up is paid on every
  request, not once per channel.

An operator hands its tile's requests over ``offchip_requests_per_cycle`` per cycle (the
artifact's ``par_dispatch``); they reach the node ``hbm_request_path_cycles`` later and the
tile completes ``hbm_response_path_cycles`` after its last response (DAM adds one cycle to an
element enqueued "now" and none to one given a later time: ``SenderCommon::enqueue``).

[Choice] ``hbm_request_replay`` is True in ``VALIDATION`` (Fig 8) and ``ATTENTION`` (Figs 14,
15, 21 and the attention stage of Fig 17), whose reference points it reproduces (Fig 8: 4 of
15 schedules to the cycle, 11 within 20 cycles; docs/FIDELITY.md), and False in ``PAPER``:
the MoE experiments move 10^7–10^8 requests per run, and replaying each in Python would turn
seconds into minutes; the fluid model (``hbm_stream``) stands in for it there. In replay mode
``hbm_startup_cycles`` is a per-request cost (the artifact's), and ``offchip_bytes_per_cycle``
must equal what the channels deliver (checked by ``HardwareConfig``).
"""
from __future__ import annotations

from array import array
from collections import defaultdict
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..hw.config import HardwareConfig

__all__ = ["RequestReplay"]


class RequestReplay:
    """Per-request replay of the artifact's HBM (see the module docstring). Requests arriving
    at a cycle are dealt once every request of that cycle is known: ``complete`` is called at
    a cycle >= the tile's last arrival, when every earlier issue is known (the engine's second
    synchronisation point of an OFFCHIP command)."""

    __slots__ = ("rate", "bursts", "latency", "to_channel", "to_operator", "interval",
                 "channels", "arrivals", "free", "offset", "dealt", "tiles", "last", "end",
                 "key", "log")

    def __init__(self, hw: HardwareConfig, bursts: Callable[[int, int, int], int],
                 trace: bool = False) -> None:
        self.rate = hw.offchip_requests_per_cycle
        self.bursts = bursts                    # HBM.bursts: requests of a tile
        self.latency = hw.hbm_latency_cycles + hw.hbm_startup_cycles
        self.to_channel = hw.hbm_request_path_cycles
        self.to_operator = hw.hbm_response_path_cycles
        self.interval = hw.hbm_cycles_per_request
        self.channels = hw.hbm_channels
        self.arrivals: dict = defaultdict(list)  # cycle -> [(node, tile, requests)]
        self.free = [0] * self.channels          # cycle each channel takes its next request
        self.offset = 0                          # HBMContext's off_set
        self.dealt = 0                           # cycles before this one are dealt
        self.tiles = 0
        self.last: dict = {}                     # node -> cycle after its latest arrival
        self.end: dict = {}                      # tile -> cycle of its latest response
        self.key: dict = {}                      # (node, first arrival) -> tile
        self.log = array("q") if trace else None

    def issue(self, t: int, nbytes: int, rows: int = 0, row_bytes: int = 0,
              node: int = -1) -> tuple:
        """A tile issued at cycle ``t``: ``(s, e)``, its first arrival at the node and the
        cycle after its last one (an operator's tiles arrive one after the other)."""
        left = self.bursts(nbytes, rows, row_bytes)
        s = c = max(t + self.to_channel, self.last.get(node, 0), self.dealt)
        tile, self.tiles = self.tiles, self.tiles + 1
        while left > 0:
            self.arrivals[c].append((node, tile, min(self.rate, left)))
            left -= self.rate
            c += 1
        self.last[node], self.end[tile], self.key[(node, s)] = c, s, tile
        return s, c

    def complete(self, s: float, e: float, nbytes: int, is_write: bool = False,
                 node: int = -1) -> int:
        """Completion cycle of the tile whose requests arrived over [s, e)."""
        tile = self.key.pop((node, int(s)))
        self._deal(int(e))
        done = self.end.pop(tile) + self.to_operator
        if self.log is not None:
            self.log.extend((int(s), done, nbytes, int(is_write), node))
        return done

    def _deal(self, upto: int) -> None:
        """Deal the requests of cycles [dealt, upto) onto the channels (HBMContext::run)."""
        arrivals, free, end = self.arrivals, self.free, self.end
        n, interval, latency = self.channels, self.interval, self.latency
        if upto - self.dealt <= 4 * len(arrivals):         # walk the cycles, or the keys
            cycles = [c for c in range(self.dealt, upto) if c in arrivals]
        else:
            cycles = sorted(c for c in arrivals if c < upto)
        offset = self.offset
        for cycle in cycles:
            batch = arrivals.pop(cycle)
            if len(batch) > 1:
                batch.sort(key=lambda r: r[0])             # reader order
            i = 0
            for _node, tile, k in batch:
                last = end[tile]
                for _ in range(k):
                    offset = (offset + i) % n
                    i += 1
                    begin = free[offset]
                    if begin < cycle:
                        begin = cycle
                    free[offset] = begin + interval
                    if begin + latency > last:
                        last = begin + latency
                end[tile] = last
            offset = (offset + i) % n
        self.offset = offset
        if upto > self.dealt:
            self.dealt = upto
