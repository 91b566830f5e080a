"""``reproduce all`` over a shared pool of workers: every figure at once (issue 15).

Run one after the other, figures leave workers idle: a figure's sweep ends with its slowest
point while the other workers wait, and a figure's own work (its plot, its scoring) runs while
no point does. With a parallel executor (``--jobs N`` with dask, or ``--scheduler``) the figures
therefore run concurrently, each in a thread of this process submitting its points to the same
workers, which stay busy until the last point; points that several figures share are simulated
once (:mod:`.memo`). Results and files are the same as one after the other.

[Choice] Figures are reported (``fig9 done in …``) in their usual order, each as soon as it and
every figure before it are done; a figure's ``elapsed_s`` is its own wall time, which overlaps
the others'.
"""
from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from .runner import reproduce

__all__ = ["reproduce_figures"]


def reproduce_figures(ids: list[str], out_dir, ctx, report: Callable[[str, dict], None], *,
                      concurrent: bool) -> list[dict]:
    """``reproduce(f, out_dir, ctx)`` for every figure id; ``report(f, record)`` in order."""
    if not concurrent or len(ids) < 2:
        records = []
        for f in ids:
            records.append(reproduce(f, out_dir, ctx))
            report(f, records[-1])
        return records
    pool = ThreadPoolExecutor(max_workers=len(ids), thread_name_prefix="step-lab-figure")
    futures = [pool.submit(reproduce, f, out_dir, ctx) for f in ids]
    records = []
    try:
        for f, future in zip(ids, futures, strict=True):
            records.append(future.result())
            report(f, records[-1])
    finally:        # on an error or Ctrl-C: do not wait here for the figures still running
        pool.shutdown(wait=False, cancel_futures=True)   # (closing the executor ends them)
    return records
