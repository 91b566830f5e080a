"""A compact, replayable record of one simulation (STYLE.md §4: record, then replay).

Nothing is stored per cycle. Per node: its busy intervals ``[start, end)`` (merged when
contiguous). Per FIFO: the put cycle and the get cycle of every slot-taking token, from which the
occupancy at any cycle is ``#puts <= c − #gets <= c`` (:meth:`Trace.occupancy`). Per HBM tile
access: first burst start, completion, bytes, read/write and the node. All numbers live in
``array('q')`` (8 bytes each).
"""
from __future__ import annotations

from bisect import bisect_right
from collections.abc import Sequence
from dataclasses import dataclass, field

__all__ = ["Trace", "FifoTrace"]


@dataclass
class FifoTrace:
    """Slot tokens of one channel: ``puts[k]`` / ``gets[k]`` are the cycles of the k-th."""

    name: str
    stream: str
    producer: str
    consumer: str
    capacity: int
    puts: Sequence[int]             # array('q')
    gets: Sequence[int]

    def changes(self) -> list[tuple[int, int]]:
        """``[(cycle, occupancy), …]`` after every change, in cycle order (gets before puts)."""
        events = [(c, -1) for c in self.gets] + [(c, 1) for c in self.puts]
        events.sort()
        out: list[tuple[int, int]] = []
        level = 0
        for cycle, delta in events:
            level += delta
            if out and out[-1][0] == cycle:
                out[-1] = (cycle, level)
            else:
                out.append((cycle, level))
        return out

    def occupancy(self, cycle: int) -> int:
        """Slots in use during ``cycle`` (a slot freed at c is reusable at c)."""
        return bisect_right(self.puts, cycle) - bisect_right(self.gets, cycle)

    def peak(self) -> int:
        return max((level for _, level in self.changes()), default=0)


@dataclass
class Trace:
    """Busy intervals per node, FIFO put/get cycles, HBM accesses (see module docstring)."""

    cycles: int
    busy: dict                      # node name -> array [s0, e0, s1, e1, …]
    units: dict                     # node name -> (row, col) or None (network)
    fifos: dict                     # channel name -> FifoTrace
    hbm: Sequence[int]              # array [start, done, bytes, is_write, node index] * n
    node_names: list = field(default_factory=list)

    def intervals(self, node: str) -> list:
        arr = self.busy[node]
        return [(arr[i], arr[i + 1]) for i in range(0, len(arr), 2)]

    def busy_at(self, node: str, cycle: int) -> bool:
        arr = self.busy[node]
        i = bisect_right(arr, cycle)
        return i % 2 == 1

    def occupancy(self, fifo: str, cycle: int) -> int:
        return self.fifos[fifo].occupancy(cycle)

    def hbm_accesses(self) -> list:
        """``[(start, done, bytes, is_write, node name), …]``."""
        a = self.hbm
        return [(a[i], a[i + 1], a[i + 2], bool(a[i + 3]), self.node_names[a[i + 4]])
                for i in range(0, len(a), 5)]

    def hbm_bytes(self, window: int = 100) -> list:
        """Bytes moved per window of ``window`` cycles (each access spread over its span)."""
        n = max(1, -(-self.cycles // window))
        out = [0.0] * n
        a = self.hbm
        for i in range(0, len(a), 5):
            start, done, nbytes = a[i], a[i + 1], a[i + 2]
            span = max(1, done - start)
            for w in range(start // window, min(n - 1, (done - 1) // window) + 1):
                lo, hi = max(start, w * window), min(done, (w + 1) * window)
                out[w] += nbytes * max(0, hi - lo) / span if done > start else nbytes
        return out

    def to_dict(self) -> dict:
        return {"cycles": self.cycles,
                "busy": {k: list(v) for k, v in self.busy.items()},
                "units": {k: (list(v) if v else None) for k, v in self.units.items()},
                "fifos": {k: {"stream": f.stream, "producer": f.producer,
                              "consumer": f.consumer, "capacity": f.capacity,
                              "puts": list(f.puts), "gets": list(f.gets)}
                          for k, f in self.fifos.items()},
                "hbm": list(self.hbm), "node_names": list(self.node_names)}

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Trace) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        events = sum(len(f.puts) + len(f.gets) for f in self.fifos.values())
        return (f"<Trace {self.cycles} cycles: {len(self.busy)} nodes, {len(self.fifos)} FIFOs "
                f"({events} slot events), {len(self.hbm) // 5} HBM accesses>")
