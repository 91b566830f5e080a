"""Request streams: the artifact's HBM as seen by concurrent off-chip operators (issue 16).

In the authors' simulator an off-chip operator hands its tile's 64-B requests to the HBM node
``par_dispatch`` per cycle (``hw.offchip_requests_per_cycle``, 4 in every artifact script); the
node deals them round-robin onto unbounded per-channel queues, and each channel serves its queue
in arrival order, one request every ``hbm_cycles_per_request`` cycles. When several operators
stream at once their requests **interleave**: every concurrent tile progresses at a share of the
bandwidth and they finish together, instead of one tile after the other. The per-tile channel
reservations of :mod:`step_lab.sim.hbm` serve whole tiles first come, first served, which lets
the first of several simultaneous tiles finish early and its consumer start early: that is the
overhead the reference simulator has and the reservation model leaves out (Fig 8, docs/FIDELITY.md).

**Model (fluid, arrival order).** All channels together serve
``C = min(hbm_channels / hbm_cycles_per_request, offchip_bytes_per_cycle / hbm_request_bytes)``
requests per cycle (nothing before ``hbm_startup_cycles``); a tile of ``n`` requests issued at
cycle ``s`` (after ``hbm_request_path_cycles``) arrives at ``offchip_requests_per_cycle``
requests per cycle until ``e = s + n / rate``. Requests are served in arrival order, so the
tile's last request leaves once the backlog present at ``e`` has drained:
``done = ⌈e + backlog(e) / C⌉ − 1 + hbm_latency_cycles`` (+ ``hbm_response_path_cycles``). A
tile alone on an idle memory therefore takes ``⌈n / min(rate, C)⌉ − 1 + latency`` cycles, as
the per-request path does. The backlog at ``e`` depends only on tiles issued before ``e``: the
engine asks for the completion at global cycle ``e`` (a second synchronisation point of the
OFFCHIP command), when every earlier issue is known, so the model stays event-driven and costs
O(1) amortised per tile (a heap of the open arrival streams), not one event per request. When
no peer can act before ``e`` the engine takes both points in one call (``serve``,
``sim/offchip.py``); a tile alone in the channels then needs no heap of arrivals at all.

**Limits.** Channels are pooled (the artifact's round-robin dispatch spreads every tile evenly);
no per-channel queue imbalance, no reordering; a tile's requests all arrive at the same rate.
"""
from __future__ import annotations

from array import array
from collections.abc import Callable
from heapq import heappop, heappush
from math import ceil
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..hw.config import HardwareConfig

__all__ = ["RequestStreams"]


class RequestStreams:
    """Arrival-ordered fluid server of the off-chip requests (see the module docstring)."""

    __slots__ = ("rate", "service", "start", "latency", "to_channel", "to_operator",
                 "request_bytes", "now", "backlog", "arriving", "ends", "log", "bursts", "last",
                 "requests", "memo")

    def __init__(self, hw: HardwareConfig, bursts: Callable[[int, int, int], int],
                 trace: bool = False) -> None:
        self.rate = hw.offchip_requests_per_cycle
        self.request_bytes = hw.hbm_request_bytes
        self.service = min(hw.hbm_channels / hw.hbm_cycles_per_request,
                           hw.offchip_bytes_per_cycle / hw.hbm_request_bytes)
        self.start = hw.hbm_startup_cycles
        self.latency = hw.hbm_latency_cycles
        self.to_channel = hw.hbm_request_path_cycles
        self.to_operator = hw.hbm_response_path_cycles
        self.bursts = bursts            # HBM.bursts: requests of a tile (row geometry)
        self.now = 0.0                  # the fluid state is known up to this cycle
        self.backlog = 0.0              # requests arrived and not yet served at ``now``
        self.arriving = 0               # tiles whose requests are still arriving
        self.ends: list = []            # heap of the arrival ends of those tiles
        self.log = array("q") if trace else None
        self.last: dict = {}            # node -> arrival end of its latest tile
        self.requests: dict = {}        # (bytes, rows, row bytes) -> requests of such a tile
        self.memo: tuple[int, int, int, int] = (-1, -1, -1, 0)   # the latest of them

    def issue(self, t: int, nbytes: int, rows: int = 0, row_bytes: int = 0,
              node: int = -1) -> tuple:
        """A tile issued at cycle ``t``: ``(s, e)``, its first and last request arrivals.

        An operator hands its requests over one after the other: a tile's requests follow
        those of the operator's previous tile (``offchip_outstanding_tiles`` > 1), and never
        arrive before the cycle the model has reached."""
        s, e = self.arrival(t, nbytes, rows, row_bytes, node)
        self.begin(s, e, node)
        return s, e

    def arrival(self, t: int, nbytes: int, rows: int = 0, row_bytes: int = 0,
                node: int = -1) -> tuple[float, float]:
        """``(s, e)`` of a tile issued at cycle ``t`` (as ``issue``), without recording it."""
        if nbytes == self.memo[0] and rows == self.memo[1] and row_bytes == self.memo[2]:
            n = self.memo[3]                 # (the same tile shape as the previous call)
        else:
            key = (nbytes, rows, row_bytes)
            known = self.requests.get(key)
            if known is None:
                known = self.requests[key] = self.bursts(nbytes, rows, row_bytes)
            n = known
            self.memo = (nbytes, rows, row_bytes, n)
        s: float = float(t + self.to_channel)
        last = self.last.get(node, 0)
        if last > s:
            s = last
        if self.now > s:
            s = self.now
        return s, s + n / self.rate

    def begin(self, s: float, e: float, node: int = -1) -> None:
        """Record the tile of ``node`` whose requests arrive over [s, e) (from ``arrival``)."""
        if self.now < s:
            self._advance(s)
        self.last[node] = e
        self.arriving += 1
        heappush(self.ends, e)

    def serve(self, s: float, e: float, nbytes: int, is_write: bool = False,
              node: int = -1) -> int:
        """``begin`` then ``complete`` of a tile no other tile can join before ``e`` (the
        engine knows no peer acts before then). NOTE: when no other tile is arriving, the
        integration over [s, e) is its one piece, written as ``_advance`` computes it."""
        if self.now < s:
            self._advance(s)
        if self.arriving or s < self.start:
            self.begin(s, e, node)
            return self.complete(s, e, nbytes, is_write, node)
        self.last[node] = e
        dt = e - self.now
        b = self.backlog + 1 * self.rate * dt - self.service * dt
        self.backlog = b if b > 0.0 else 0.0
        self.now = e
        return self.complete(s, e, nbytes, is_write, node)     # (integrated up to e already)

    def complete(self, s: float, e: float, nbytes: int, is_write: bool = False,
                 node: int = -1) -> int:
        """Completion of the tile whose requests arrived over [s, e); call at cycle >= e."""
        if self.now < e:
            self._advance(e)
        start = self.start
        depart = (e if e > start else start) + self.backlog / self.service
        first = ceil(s)
        last = ceil(depart) - 1
        done = (last if last > first else first) + self.latency + self.to_operator
        if self.log is not None:
            self.log.extend((first, done, nbytes, int(is_write), node))
        return done

    def _advance(self, x: float) -> None:
        """Integrate arrivals and service from ``now`` to ``x`` (piecewise constant rates).

        NOTE: the hot path of streamed tiles (bench_sim part a): the state is kept in locals;
        the arithmetic is written exactly as its plain form
        ``backlog = max(0, backlog + arriving · rate · dt − served)`` (bit-identical floats)."""
        now, ends, start, rate = self.now, self.ends, self.start, self.rate
        backlog, arriving, service = self.backlog, self.arriving, self.service
        while now < x:
            nxt = x
            if ends and ends[0] < nxt:
                nxt = ends[0]
            if now < start < nxt:
                nxt = float(start)
            dt = nxt - now
            b = backlog + arriving * rate * dt - (service * dt if now >= start else 0.0)
            backlog = b if b > 0.0 else 0.0
            now = nxt
            while ends and ends[0] <= nxt:
                heappop(ends)
                arriving -= 1
        self.now, self.backlog, self.arriving = now, backlog, arriving
