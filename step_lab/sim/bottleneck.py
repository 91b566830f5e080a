""""Why is it slow?": the bound of a simulated run, its most stalled units, and a roofline.

:func:`why_slow` (also ``SimResult.why_slow()`` and ``SimResult.bottleneck``) reads only what
the simulator recorded — per-node busy / stall cycles, the channel each node waited on longest
(``stall_in_on`` / ``stall_out_on``), channel stall totals, FLOPs, off-chip bytes, allocated
compute and the HardwareConfig — and returns a :class:`Bottleneck`. No extra simulation runs:
knob variants that were already simulated can be passed to place them on the roofline and to
say which knob moves the bound.

The bound, first rule that applies (fractions of the run's cycles):

1. ``"offchip"`` — off-chip bandwidth: the run moves ≥ 60 % of the HardwareConfig's off-chip
   bytes per cycle.
2. ``"compute"`` — compute: FLOPs reach ≥ 60 % of the program's allocated compute
   (``compute_utilization``), or one compute node (it performs FLOPs) is busy ≥ 80 % of the run
   (named in ``unit``).
3. ``"unit"`` — a named non-compute node is busy ≥ 80 % of the run (a memory or routing unit
   that everything else waits for).
4. ``"backpressure"`` — the node that waited longest for a free FIFO slot (≥ 25 % of the run)
   and that channel: its consumer cannot keep up, or the FIFO is too shallow to cover latency.
5. ``"latency"`` — nothing is saturated: the run is short relative to pipeline fill/drain and
   per-token latency; ``unit``/``channel`` name the node that waited longest for input.

[Choice] Thresholds 60 % (shared resources: HBM, total compute), 80 % (one node) and 25 %
(back-pressure) are heuristics chosen so that the three canonical shapes classify as users
expect: a streaming load/store copy is bandwidth bound, one heavy Map is compute bound, a chain
with depth-1 FIFOs behind a slow consumer is back-pressure on that FIFO.
[Choice] ``top_stalled`` leaves out program inputs and outputs (``Input``, ``Output``,
``Feedback``): they wait for their peers by design and would crowd out the operators.
[Choice] Roofline: x = FLOPs per off-chip byte, y = achieved FLOPs per cycle; the roofs are the
HardwareConfig's off-chip bytes per cycle (slope) and the run's allocated compute (flat), the
same quantity ``compute_utilization`` divides by. Variants keep their own coordinates; the roofs
are those of the run being explained.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .result import SimResult

from ..errors import ConfigError

__all__ = ["Bottleneck", "StalledUnit", "Roofline", "RooflinePoint", "why_slow",
           "BOUND_NAMES"]

BW_BOUND, COMPUTE_BOUND, UNIT_BUSY, BACKPRESSURE = 0.6, 0.6, 0.8, 0.25
_PASSIVE = ("Input", "Output", "Feedback")   # program I/O waits by design: not "stalled units"
BOUND_NAMES = {"offchip": "off-chip bandwidth", "compute": "compute",
               "unit": "a busy unit", "backpressure": "back-pressure", "latency": "latency"}


@dataclass(frozen=True)
class StalledUnit:
    """One node's stall record: cycles waiting for input / for output slots, and on what."""

    name: str
    op: str
    busy: int
    stall_in: int
    stall_out: int
    waits_on: str | None          # the channel it waited on longest (its dominant stall)
    waits_for: str                # "input" or "output slot"

    @property
    def stalled(self) -> int:
        return self.stall_in + self.stall_out


@dataclass(frozen=True)
class RooflinePoint:
    label: str
    flops: int
    offchip_bytes: int
    cycles: int
    current: bool = False

    @property
    def intensity(self) -> float:
        """FLOPs per off-chip byte (``inf`` when nothing moves off-chip)."""
        return self.flops / self.offchip_bytes if self.offchip_bytes else float("inf")

    @property
    def achieved(self) -> float:
        """FLOPs per cycle."""
        return self.flops / self.cycles if self.cycles else 0.0


@dataclass(frozen=True)
class Roofline:
    bandwidth: float              # off-chip bytes per cycle (HardwareConfig)
    compute: float                # allocated FLOPs per cycle (compute_utilization's divisor)
    points: tuple = ()
    useful: bool = False          # points count the useful work (padding excluded), not the
                                  # FLOPs each run executed

    @property
    def compute_label(self) -> str:
        """The y axis: what the points' FLOPs count."""
        return ("useful compute [FLOPs per cycle, padding excluded]" if self.useful
                else "achieved compute [FLOPs per cycle]")

    @property
    def ridge(self) -> float:
        """The intensity where the two roofs meet (FLOPs per byte)."""
        return self.compute / self.bandwidth if self.bandwidth else float("inf")


@dataclass(frozen=True)
class Bottleneck:
    """The answer to "why is it slow?" for one run (see the module docstring)."""

    program: str
    cycles: int
    bound: str                    # offchip | compute | unit | backpressure | latency
    unit: str | None
    channel: str | None
    reason: str                   # one sentence with the numbers behind the verdict
    knob: str                     # what would move the bound
    offchip_utilization: float
    compute_utilization: float
    top_stalled: tuple = ()
    roofline: Roofline | None = None
    variants: tuple = field(default=())   # (label, bound, cycles) of the variants passed in

    @property
    def bound_name(self) -> str:
        return BOUND_NAMES[self.bound]

    def headline(self) -> str:
        where = f" at {self.unit!r}" if self.unit else ""
        via = f" on channel {self.channel!r}" if self.channel else ""
        return f"bound: {self.bound_name}{where}{via}"

    def to_dict(self) -> dict:
        out = asdict(self)
        out["bound_name"] = self.bound_name
        if self.roofline is not None:
            out["roofline"]["ridge"] = self.roofline.ridge
            for p, d in zip(self.roofline.points, out["roofline"]["points"], strict=True):
                d["intensity"] = None if p.intensity == float("inf") else p.intensity
                d["achieved"] = p.achieved
        return out

    def summary(self) -> str:
        lines = [f"{self.program}: {self.headline()}", f"  why: {self.reason}",
                 f"  what moves it: {self.knob}"]
        for s in self.top_stalled[:5]:
            lines.append(f"  {s.name} ({s.op}): stalled {s.stalled:,} of {self.cycles:,} cycles"
                         f" waiting for {s.waits_for}" + (f" on {s.waits_on!r}" if s.waits_on
                                                         else ""))
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def why_slow(result: SimResult, variants: dict[str, SimResult] | None = None, *, top: int = 5,
             label: str = "this run", useful_flops: int | None = None) -> Bottleneck:
    """Classify ``result`` (a SimResult); ``variants`` ``{label: SimResult}`` already simulated
    (knob settings) are placed on the roofline and compared, never re-run.

    ``useful_flops``: the work every variant does for the user (e.g. the unpadded FLOPs of the
    layer). [Choice] Without it each point counts the FLOPs its run executed, so a statically
    tiled run that computes on padding rows sits higher on the roofline than the same work
    done without padding; with it every point is placed by the same useful work — its
    ordinate is useful FLOPs per cycle and the plot's axis says so.
    """
    if useful_flops is not None and (isinstance(useful_flops, bool)
                                     or not isinstance(useful_flops, int) or useful_flops <= 0):
        raise ConfigError(f"why_slow: argument 'useful_flops' = {useful_flops!r} (expected None "
                          "or a positive int of FLOPs)")
    cycles = max(int(result.cycles), 1)
    per_node = result.per_node
    bw_util = result.offchip_bandwidth_utilization
    comp_util = result.compute_utilization
    stalled = _top_stalled(per_node, top)
    bound, unit, channel, reason = _classify(result, per_node, cycles, bw_util, comp_util)
    points = [_point(result, label, True, useful_flops)]
    compared = []
    for label, other in (variants or {}).items():
        if other is result:
            continue
        points.append(_point(other, str(label), False, useful_flops))
        other_bound = _classify(other, other.per_node, max(int(other.cycles), 1),
                                other.offchip_bandwidth_utilization,
                                other.compute_utilization)[0]
        compared.append((str(label), other_bound, int(other.cycles)))
    roof = Roofline(float(result.hw.offchip_bytes_per_cycle), float(result.allocated_compute),
                    tuple(points), useful_flops is not None)
    knob = _knob(bound, unit, channel, result, compared)
    return Bottleneck(result.program, int(result.cycles), bound, unit, channel, reason, knob,
                      bw_util, comp_util, tuple(stalled), roof, tuple(compared))


def _point(result, label: str, current: bool, useful_flops: int | None) -> RooflinePoint:
    flops = int(result.flops) if useful_flops is None else useful_flops
    return RooflinePoint(label, flops, int(result.offchip_bytes), int(result.cycles), current)


def _top_stalled(per_node: dict, top: int) -> list:
    rows = []
    for name, st in per_node.items():
        s_in, s_out = int(st.get("stall_in", 0)), int(st.get("stall_out", 0))
        if s_in + s_out <= 0 or st.get("op") in _PASSIVE:
            continue
        out_side = s_out >= s_in
        rows.append(StalledUnit(name, st.get("op", "?"), int(st.get("busy", 0)), s_in, s_out,
                                st.get("stall_out_on") if out_side else st.get("stall_in_on"),
                                "output slot" if out_side else "input"))
    rows.sort(key=lambda r: (-r.stalled, r.name))
    return rows[:top]


def _classify(result, per_node: dict, cycles: int, bw_util: float, comp_util: float) -> tuple:
    if bw_util >= BW_BOUND:
        return ("offchip", None, None,
                f"off-chip traffic uses {bw_util:.0%} of the "
                f"{_num(result.hw.offchip_bytes_per_cycle)} B/cycle the hardware provides "
                f"({_num(result.offchip_bytes)} B in "
                f"{_num(result.cycles)} cycles)")
    if comp_util >= COMPUTE_BOUND:
        return ("compute", None, None,
                f"FLOPs reach {comp_util:.0%} of the program's allocated compute "
                f"({_num(result.allocated_compute)} FLOPs/cycle)")
    busiest = max(per_node.items(), key=lambda kv: (kv[1].get("busy", 0), kv[0]), default=None)
    if busiest is not None:
        name, st = busiest
        share = st.get("busy", 0) / cycles
        if share >= UNIT_BUSY:
            kind = "compute" if st.get("flops", 0) > 0 else "unit"
            return (kind, name, None,
                    f"{name!r} ({st.get('op', '?')}) is busy {share:.0%} of the run; the "
                    "nodes around it wait for it")
    pressed = max(per_node.items(), key=lambda kv: (kv[1].get("stall_out", 0), kv[0]),
                  default=None)
    if pressed is not None and pressed[1].get("stall_out", 0) / cycles >= BACKPRESSURE:
        name, st = pressed
        channel = st.get("stall_out_on")
        cap = result.channels.get(channel, {}).get("capacity") if channel else None
        depth = f" (depth {cap})" if cap is not None else ""
        return ("backpressure", name, channel,
                f"{name!r} ({st.get('op', '?')}) waits {st['stall_out'] / cycles:.0%} of the run "
                f"for a free slot on {channel!r}{depth}: its consumer does not free slots fast "
                "enough (a slow consumer, or a FIFO too shallow to cover the latency)")
    starved = max(per_node.items(), key=lambda kv: (kv[1].get("stall_in", 0), kv[0]),
                  default=None)
    name, st = starved if starved is not None else (None, {})
    return ("latency", name, st.get("stall_in_on") if name else None,
            "no resource is saturated (off-chip "
            f"{bw_util:.0%}, compute {comp_util:.0%}); the run is dominated by pipeline fill, "
            "drain and per-token latency"
            + (f" — {name!r} waits longest for input" if name else ""))


def _knob(bound: str, unit, channel, result, compared: list) -> str:
    advice = {
        "offchip": "raise FLOPs per off-chip byte (larger tiles that reuse loaded data, fewer "
                   "re-reads of weights) or use a HardwareConfig with more off-chip bandwidth",
        "compute": (f"give {unit!r} more compute (its compute_bw) or split its work across "
                    "more units" if unit else "allocate more compute (compute_bw of the busy "
                    "operators) or parallelise over more regions"),
        "unit": f"speed up or replicate {unit!r} (it is busy almost all the time)",
        "backpressure": (f"deepen FIFO {channel!r} (program.set_fifo_depth) or speed up its "
                         "consumer" if channel else "deepen the FIFOs behind the stalled unit"),
        "latency": "put more work in flight: larger tiles, deeper FIFOs or more parallel "
                   "regions",
    }[bound]
    faster = [c for c in compared if c[2] < result.cycles]
    if not faster:
        return advice
    label, other_bound, cycles = min(faster, key=lambda c: c[2])
    gain = 1 - cycles / max(result.cycles, 1)
    moved = ("moves the bound to " + BOUND_NAMES[other_bound] if other_bound != bound
             else "keeps the same bound")
    return (f"{advice}. Among the settings already simulated, {label} is {gain:.0%} faster "
            f"({_num(cycles)} cycles) and {moved}")


def _num(value) -> str:
    """``1,234,567`` for integers, 3 significant digits otherwise (never 1.2e+06)."""
    if isinstance(value, int) or float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
