"""The light pool of local worker processes that ``reproduce`` uses by default (issue 15).

``reproduce all`` without ``--jobs`` spreads its points over one worker process per CPU core
(:func:`~step_lab.reproduce.batch.default_jobs`). A dask LocalCluster (``--jobs N``) starts a
scheduler, a nanny and a fresh interpreter per worker, each importing dask and step_lab: about
1.4 s of wall time and 2.5 s of CPU on 2 cores, a tenth of the quick run. This pool forks the
workers from the CLI process once it has imported the figures (on Linux, from a single-threaded
process; spawned otherwise), so they start in milliseconds with everything imported, and it needs
no optional dependency.

[Choice] Workers behave as ``--jobs N``'s dask workers do: they ignore Ctrl-C (the CLI process
stops them and prints its one line), end when the CLI process dies, even by SIGKILL
(``dse.sweep.watch_parent``), and are started from the CLI's main thread before any figure
thread runs (a fork never copies a thread holding a lock). A Ctrl-C during their start-up
(milliseconds) is ignored.
"""
from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ProcessPoolExecutor, wait

from .ordered import OrderedExecutor

__all__ = ["local_pool", "default_executor"]


@contextlib.contextmanager
def local_pool(jobs: int) -> Iterator[OrderedExecutor]:
    """``jobs`` started worker processes as a ``concurrent.futures`` executor that runs earlier
    figures' points first (:class:`~.ordered.OrderedExecutor`); on leaving, the workers finish
    (normal exit) or are terminated (an error or Ctrl-C in the body)."""
    # fork only a single-threaded process (the CLI's): a thread holding a lock at the fork
    # (a notebook kernel, a test runner calling main()) would leave the copy deadlocked
    single = threading.active_count() == 1
    method = "fork" if sys.platform.startswith("linux") and single else "spawn"
    main = sys.modules.get("__main__")
    if method == "spawn" and main is not None and not hasattr(main, "__spec__"):
        # IPython's namespace module has no __spec__, which multiprocessing's spawn reads (a
        # script's __main__ has __spec__ = None: the same meaning, nothing to re-import)
        main.__spec__ = None
    pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context(method),
                               initializer=_init_worker, initargs=(os.getpid(),))
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)   # inherited by the workers
    try:
        wait([pool.submit(os.getpid) for _ in range(jobs)])   # every worker starts now
    except BaseException:
        _terminate(pool)
        raise
    finally:
        signal.signal(signal.SIGINT, previous)
    ordered = OrderedExecutor(pool, jobs + 1)      # one call waiting: no worker idles between calls
    try:
        yield ordered
    except BaseException:
        ordered.shutdown(wait=False, cancel_futures=True)
        _terminate(pool)
        raise
    ordered.shutdown()
    pool.shutdown(wait=True)


def _init_worker(parent: int) -> None:
    from ..dse.sweep import watch_parent
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    watch_parent(parent)


def _terminate(pool: ProcessPoolExecutor) -> None:
    """Stop the workers now, running points included (``shutdown`` would wait for them)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for p in processes:
        if p.is_alive():
            p.terminate()
    for p in processes:
        p.join(5)


@contextlib.contextmanager
def default_executor(jobs: int | None) -> Iterator[tuple]:
    """``(executor, None)`` for a ``reproduce`` run without ``--jobs``: a :func:`local_pool` of
    ``jobs`` workers, or None (inline) when ``jobs`` is None or the pool cannot start (a note on
    stderr says why)."""
    if not jobs or jobs < 2:
        yield None, None
        return
    with contextlib.ExitStack() as stack:
        try:
            pool = stack.enter_context(local_pool(jobs))
        except Exception as e:  # noqa: BLE001 - any failure to start: run inline instead
            sys.stderr.write(f"step-lab: note: {jobs} local worker processes did not start "
                             f"({type(e).__name__}: {e}); running in this process\n")
            pool = None
        yield pool, None
