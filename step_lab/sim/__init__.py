"""The cycle-approximate simulator (STEP.md §7): bounded FIFOs, per-element costs, shared HBM.

``simulate(program, hw=PAPER, bindings=…, inputs=…, trace=False, progress=None)`` runs the same
behaviour generators as the reference interpreter, with time: values are identical by
construction, only timing and arrival-order choices differ (``check.check_against_interpreter``).

Timing model (all integer cycles; parameters are fields of ``HardwareConfig``):

* **Channels** (§7.1). One bounded FIFO per (stream, consumer port), depth ``hw.fifo_depth``
  unless ``program.set_fifo_depth`` / a feedback depth says otherwise; a broadcast put waits for
  a slot in every consumer's FIFO. A token put at cycle p is visible from
  ``p + channel_latency_cycles``. Data items and standalone stop tokens take a slot; a stop
  token directly after a data item is attached to it and free, as is Done ([Choice] §7.1). A
  slot freed at cycle g (by a get, or see *Held operands*) can be refilled at
  g + ``channel_credit_latency_cycles``.
* **Ports.** Every input and output port moves at most one slot-taking token per cycle; so
  routing and shape operators forward one item per cycle (§7.2 [Choice]) and a standalone
  stop token costs a cycle at each operator.
* **Higher-order operators** (§7.2). Per element (each ``COMPUTE``): ``max(⌈resident input
  bytes / onchip_bytes_per_cycle⌉, ⌈FLOPs / C⌉)`` cycles, and a write-back node's data put
  extends it to ``⌈result bytes / onchip_bytes_per_cycle⌉`` if that is larger. Results are
  visible ``pipeline_latency_cycles`` later than other tokens (latency, not throughput). C is
  the node's ``compute_bw`` or ``hw.compute_flops_per_cycle``; C = 0 with FLOPs is a
  ConfigError. Input bytes count when they are memory-resident: produced by an off-chip load,
  Streamify or a write-back node, and forwarded unchanged by routing/shape operators (Zip keeps
  one flag per component).
* **Bufferize / Streamify** write / read every tile at ``onchip_bytes_per_cycle``.
* **Port switches**: Partition pays ``switch_cost_cycles`` (a bubble: nothing else moves) when
  its target output changes; Reassemble and EagerMerge when the input they take a chunk from
  changes.
* **ANY** (Reassemble, EagerMerge) serves the input whose next chunk's *first token* arrived
  earliest, ties to the lower input index. [Choice] the head, not the complete chunk: a chunk
  longer than a FIFO could never be complete in it; the operator then takes the chunk whole.
* **Off-chip operators** (§7.3): each tile is issued once fewer than
  ``offchip_outstanding_tiles`` of the node's tiles are in flight, reserves the shared HBM
  (``hbm.py``) and is visible one channel latency after it completes; a store finishes when its
  last write completes. A tile of r rows costs ``r · ⌈row bytes / hbm_request_bytes⌉`` HBM
  requests (whole requests per tile row, as the reference issues them), while
  ``offchip_bytes`` counts the useful tile bytes (= the symbolic traffic metric). With
  ``offchip_requests_per_cycle`` > 0 (the presets) the requests of concurrent tiles interleave
  (``hbm_stream.py``) and a tile's completion is fixed at a second synchronisation point.
* **Held operands** (``compute_holds_inputs``, ``holding.py``): a compute node frees an input
  slot when the element's compute ends, an Expand when it moves to its next element; a freed
  slot reaches the producer ``channel_credit_latency_cycles`` later (the reference simulator's
  overheads: ``step_lab/hw/overheads.py``, docs/FIDELITY.md).
* **Shared units** (placement, §8.2): nodes on one unit serialise their compute; switching node
  costs ``reconfiguration_cycles``.
* ``cycles`` is when the last node finished. Per node, ``busy`` is the union of its port cycles
  and compute/move intervals (off-chip nodes: cycles with a tile in flight), ``stall_in`` the
  waits for inputs, ``stall_out`` the waits for output slots, ``idle`` the rest.

``values=False`` runs timing only (``ghost.py``): identical cycles, no tile data.

Fast paths, each against the per-token reference that ``simulate(coalesce=False)`` runs (the
tests compare every observable): chains of Maps move tokens as one segment (``coalesce.py``),
linear loads and stores run as generator-free drivers (``drivers.py``), and the elementwise
Maps of a segment reading a linear load compute a chunk of tiles per numpy call (``batch.py``).
"""
from .api import simulate
from .check import check_against_interpreter
from .hbm import HBM
from .result import SimResult
from .trace import FifoTrace, Trace

__all__ = ["simulate", "SimResult", "Trace", "FifoTrace", "HBM", "check_against_interpreter"]
