"""The shared off-chip memory (HBM): per-channel reservations computed per tile (STEP.md §7.3).

Model (our reading of the paper's Ramulator-emulating HBM node, EXPERIMENTS.md §1.1):

* **requests per tile row**: a tile of ``rows`` rows of ``row_bytes`` bytes each is
  ``rows · ⌈row_bytes / hbm_request_bytes⌉`` bursts — the reference's off-chip loads and stores
  issue one 64-B request per 64 B of *each tile row* (a tile row is contiguous in HBM, the next
  row is a full tensor row further), so a ``[2048, 48]`` bf16 tile (96-B rows) costs 2 bursts =
  128 B of HBM time per row, not 96 B. A tile without geometry (``rows = 0``) is one contiguous
  block of ``⌈n / hbm_request_bytes⌉`` bursts. A partial burst costs a whole one. The *bytes*
  counted (the simulator's ``offchip_bytes``) stay the
  useful tile bytes, which equal the symbolic traffic metric (STEP.md §6.1); only time uses
  the bursts;
* burst ``j`` of a tile at byte address ``a`` goes to channel
  ``(a // hbm_request_bytes + j) mod hbm_channels`` (a tile's bursts are spread evenly over
  the channels, as the reference HBM node's round-robin dispatch does);
* each channel serves one burst every ``hbm_cycles_per_request`` cycles, in arrival order; a burst
  that starts at cycle ``s`` has its data back at ``s + hbm_latency_cycles``; no channel serves
  anything before cycle ``hbm_startup_cycles`` (start-up);
* a tile completes when its last burst has returned;
* if ``offchip_bytes_per_cycle`` is below the channels' aggregate
  ``hbm_channels · hbm_request_bytes / hbm_cycles_per_request``, a shared bus additionally serves
  bursts at that many bytes per cycle (otherwise the channels already enforce the cap).

**Reservation, not events.** Each channel keeps the cycle at which it becomes free. A tile request
issued at cycle ``t`` touches ``min(bursts, channels)`` channels: channel ``c`` receives ``k_c``
bursts (⌊bursts/channels⌋ or one more), starts at ``max(t, free[c])`` and is then free
``k_c · hbm_cycles_per_request`` cycles later (two list comprehensions over channel slices).
The completion time is computed in closed form, so a 256 KB tile costs one pass over 32
channels instead of 4096 request events (``access_per_request`` is the per-burst reference path
the tests compare against). The simulator issues
requests in global time order (off-chip commands are synchronisation points), so channel queues
are served first come, first served.

**Two models.** These per-tile reservations are the *idealised* HBM (``hw.idealized``,
``offchip_requests_per_cycle = 0``): a tile's bursts are queued whole, first come first served.
The presets use the artifact's request streams instead (``offchip_requests_per_cycle = 4``,
:mod:`step_lab.sim.hbm_stream`, owned here as ``HBM.stream``): an operator hands over its requests
a few per cycle and concurrent tiles interleave in the channel queues, which the reference
simulator shows on Fig 8 (docs/FIDELITY.md). Both add ``hbm_request_path_cycles`` before a tile's
bursts reach the channels and ``hbm_response_path_cycles`` after its last response.

**Limits.** No banks, rows, refresh or read/write turnaround (row-buffer hits are assumed: the
workloads stream tiles); no queue-depth limit inside the controller (an operator's outstanding
tiles are bounded by ``offchip_outstanding_tiles`` instead; the artifact stores a per-channel
limit of 1 but never applies it, step_lab/hw/overheads.py); reads and writes share the same
channel timing; the address of a tile is the operator's running byte cursor from its tensor's
base address unless the behaviour supplies one (``(OFFCHIP, bytes, is_write, address)``).
"""
from __future__ import annotations

from array import array
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..hw.config import HardwareConfig
    from .hbm_replay import RequestReplay
    from .hbm_stream import RequestStreams

__all__ = ["HBM"]


class HBM:
    """Channel reservations of the shared off-chip memory (see the module docstring)."""

    __slots__ = ("free", "channels", "request_bytes", "cycles_per_request", "latency",
                 "cap", "bus", "use_bus", "log", "to_channel", "to_operator",
                 "stream")

    def __init__(self, hw: HardwareConfig, trace: bool = False) -> None:
        self.channels = hw.hbm_channels
        self.request_bytes = hw.hbm_request_bytes
        self.cycles_per_request = hw.hbm_cycles_per_request
        self.latency = hw.hbm_latency_cycles
        self.to_channel = hw.hbm_request_path_cycles
        self.to_operator = hw.hbm_response_path_cycles
        self.free = [hw.hbm_startup_cycles] * self.channels
        self.cap = hw.offchip_bytes_per_cycle
        aggregate = self.channels * self.request_bytes / self.cycles_per_request
        self.use_bus = self.cap < aggregate
        self.bus = hw.hbm_startup_cycles * self.cap    # bus free time, in units of 1/cap cycles
        self.log = array("q") if trace else None       # start, done, bytes, write, node
        self.stream: RequestStreams | RequestReplay | None = None
        if hw.offchip_requests_per_cycle:
            if hw.hbm_request_replay:              # the artifact's HBM, request by request
                from .hbm_replay import RequestReplay
                stream: RequestStreams | RequestReplay = RequestReplay(hw, self.bursts)
            else:
                from .hbm_stream import RequestStreams
                stream = RequestStreams(hw, self.bursts)
            stream.log = self.log
            self.stream = stream

    def bursts(self, nbytes: int, rows: int = 0, row_bytes: int = 0) -> int:
        """Requests of one tile: ``rows · ⌈row_bytes/req⌉`` when the geometry describes the
        tile (``rows · row_bytes == nbytes``), else ``⌈nbytes/req⌉`` (one contiguous block)."""
        req = self.request_bytes
        if rows and rows * row_bytes == nbytes:
            return rows * -(-row_bytes // req)
        return -(-nbytes // req)

    def access(self, t: int, nbytes: int, address: int, is_write: bool = False,
               node: int = -1, rows: int = 0, row_bytes: int = 0) -> int:
        """Reserve the channels for one tile issued at cycle ``t``; return its completion.

        ``rows``/``row_bytes``: the tile's geometry (see the module docstring); 0 = contiguous.
        """
        if nbytes <= 0:
            return t
        t += self.to_channel                        # the bursts reach their channels
        req = self.request_bytes
        n_channels = self.channels
        cpr = self.cycles_per_request
        bursts = self.bursts(nbytes, rows, row_bytes)
        q, r = divmod(bursts, n_channels)
        ch = (address // req) % n_channels
        first = self._first_start(ch, bursts, t) if self.log is not None else t
        # channels ch … ch+r-1 (cyclically) serve q+1 bursts, the other ones q
        last = self._span(ch, r, t, (q + 1) * cpr) if r else 0
        if q:
            other = self._span((ch + r) % n_channels, n_channels - r, t, q * cpr)
            last = other if other > last else last
        done = last - cpr + self.latency
        if self.use_bus:
            done = max(done, self._bus(t, bursts * req))
        done += self.to_operator                    # the last response reaches the operator
        if self.log is not None:
            self.log.extend((first, done, nbytes, int(is_write), node))
        return done

    def _span(self, lo: int, count: int, t: int, add: int) -> int:
        """Channels lo … lo+count-1 (cyclically) each take ``add`` cycles of bursts from
        ``max(t, free)``; return the latest new free time."""
        free = self.free
        hi = lo + count
        if hi <= self.channels:
            seg = [(s if s > t else t) + add for s in free[lo:hi]]
            free[lo:hi] = seg
            return max(seg)
        a = self._span(lo, self.channels - lo, t, add)
        b = self._span(0, hi - self.channels, t, add)
        return a if a > b else b

    def _first_start(self, ch: int, bursts: int, t: int) -> int:
        """Cycle at which the tile's first burst starts (for the trace)."""
        n = min(bursts, self.channels)
        idx = [(ch + i) % self.channels for i in range(n)]
        return max(t, min(self.free[i] for i in idx))

    def _bus(self, t: int, nbytes: int) -> int:
        """Aggregate cap: bursts cross a shared bus at ``cap`` bytes per cycle, in order."""
        start = max(t * self.cap, self.bus)
        self.bus = start + nbytes
        last_start = -(-(self.bus - self.request_bytes) // self.cap)
        return last_start + self.latency

    def access_per_request(self, t: int, nbytes: int, address: int, rows: int = 0,
                           row_bytes: int = 0) -> int:
        """Reference path: the same reservation issued one burst at a time (for tests)."""
        req = self.request_bytes
        bursts = self.bursts(nbytes, rows, row_bytes) if nbytes > 0 else 0
        if bursts:
            t += self.to_channel
        ch0 = address // req
        first, last = None, None
        for j in range(bursts):
            ch = (ch0 + j) % self.channels
            s = max(t, self.free[ch])
            self.free[ch] = s + self.cycles_per_request
            first = s if first is None else min(first, s)
            last = s if last is None else max(last, s)
        if first is None or last is None:
            return t
        done = last + self.latency
        if self.use_bus:
            done = max(done, self._bus(t, bursts * req))
        return done + self.to_operator
