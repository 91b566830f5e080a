"""``reproduce all`` over a shared pool of workers: every figure at once (issue 15).

Run one after the other, figures leave workers idle: a figure's sweep ends with its slowest point
while the other workers wait, and a figure's own work (its plot, its scoring) runs while no point
does. With a parallel executor (the default pool of ``reproduce all``, ``--jobs N`` with dask, or
``--scheduler``) the figures therefore run concurrently, each in a thread of this process
submitting its points to the same workers, which stay busy until the last point; points that
several figures share are simulated once (:mod:`.memo`). Results and files are the same as one
after the other.

[Choice] Figures are reported (``fig9 done in …``) in their usual order, each as soon as it and
every figure before it are done; a figure's ``elapsed_s`` is its own wall time, which overlaps
the others'.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from .ordered import ranked
from .runner import reproduce

__all__ = ["reproduce_figures", "default_jobs", "MAX_DEFAULT_JOBS"]

MAX_DEFAULT_JOBS = 8


def default_jobs(ids: list[str]) -> int | None:
    """The worker processes of a ``reproduce`` run without ``--jobs`` (None: in this process).

    [Choice] (issue 15) ``reproduce all`` spreads its points over a light pool of one worker
    process per usable CPU core (:mod:`.pool`; at most ``MAX_DEFAULT_JOBS``, none on a single
    core): the figures are a minute of independent simulations, and the targets ("``reproduce
    all --quick`` in 30 s on 2 cores") count both cores. A single figure runs in this process, as
    before (``reproduce FIG`` is also called in-process, by tests and notebooks, where forking
    is not ours to decide). ``--jobs N`` (dask) and ``--scheduler`` choose otherwise; ``--jobs 1``
    runs in this process. When the pool cannot start, a note says so and the run continues here.
    """
    if len(ids) < 2:
        return None
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:                  # not on Linux
        cores = os.cpu_count() or 1
    return min(cores, MAX_DEFAULT_JOBS) if cores > 1 else None


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
    futures = [pool.submit(_reproduce_ranked, rank, f, out_dir, ctx)
               for rank, f in enumerate(ids)]
    records = []
    try:
        for f, future in zip(ids, futures, strict=True):
            records.append(future.result())
            report(f, records[-1])
    finally:        # on an error or Ctrl-C: do not wait here for the figures still running
        pool.shutdown(wait=False, cancel_futures=True)   # (closing the executor ends them)
    return records


def _reproduce_ranked(rank: int, fig_id: str, out_dir, ctx) -> dict:
    """``reproduce`` whose points go before those of later figures (:mod:`.ordered`)."""
    with ranked(rank):
        return reproduce(fig_id, out_dir, ctx)
