"""Grid sweeps over local processes or a Dask cluster, with a resumable cache and error records.

``sweep(fn, grid)`` runs ``fn(**point)`` for every point of the product grid. ``fn`` returns a
dict (or anything JSON-serialisable); each record is ``{**point, **result}`` plus ``"error"``
(None, or ``"Type: message"`` when the point failed — a failing point never aborts the sweep).
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
import pickle
import sys
import threading
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from typing import Any

from ..errors import ConfigError
from .cache import ResultCache, point_key

__all__ = ["sweep", "grid_points"]


def grid_points(grid: dict) -> list[dict]:
    if not isinstance(grid, dict) or not grid:
        raise ConfigError(f"grid {grid!r:.80} (expected a non-empty dict of name -> list of "
                          "values)")
    for k, v in grid.items():
        if not isinstance(v, (list, tuple)) or not v:
            raise ConfigError(f"grid entry {k!r} = {v!r:.60} (expected a non-empty list)")
    names = list(grid)
    return [dict(zip(names, combo, strict=True))
            for combo in itertools.product(*(grid[n] for n in names))]


def _run_point(fn, point: dict) -> dict:
    try:
        out = fn(**point)
        result = dict(out) if isinstance(out, dict) else {"result": out}
        return {**point, **result, "error": None}
    except Exception as e:  # recorded, not fatal
        tb = traceback.extract_tb(e.__traceback__)
        where = f" at {tb[-1].filename}:{tb[-1].lineno}" if tb else ""
        return {**point, "error": f"{type(e).__name__}: {e}{where}"}


def _fn_key(fn) -> str:
    """Module and qualified name; a lambda or local function adds a hash of its code, so two
    lambdas never share cache records."""
    name = f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"
    code = getattr(fn, "__code__", None)
    if code is not None and "<" in name:
        blob = code.co_code + repr(code.co_consts).encode() + repr(code.co_names).encode()
        name += "#" + hashlib.sha256(blob).hexdigest()[:12]
    return name


def sweep(fn: Callable[..., Any], grid: dict, *, executor: Any = None,
          cache: str | os.PathLike[str] | None = None, progress: bool = True,
          jobs: int | None = None, key: str | None = None,
          desc: str | None = None) -> list[dict]:
    """Run ``fn`` over the grid and return one record per point, in grid order.

    ``executor``: None (local processes, ``jobs`` workers; 1 job runs inline), a
    ``concurrent.futures.Executor``, or a ``dask.distributed.Client``. ``cache``: a folder; finished
    points are stored as they complete and reused on the next call (resume after a kill). Failed
    points are not cached, so they are retried. ``key`` names the function in cache keys (default:
    its qualified name) — include anything that changes results, e.g. a program fingerprint.
    ``progress``: a ``tqdm.auto`` bar labelled ``desc`` (points done, rate, ETA) in a notebook
    or on a terminal; none when stderr is redirected (``step_lab.progress_bar``).
    """
    if not callable(fn):
        raise ConfigError(f"sweep: fn = {fn!r:.60} (expected a callable taking the grid's "
                          "names as keyword arguments)")
    _check_jobs(jobs)
    points = grid_points(grid)
    if cache is not None and not isinstance(cache, (str, os.PathLike)):
        raise ConfigError(f"sweep: cache = {cache!r:.60} (expected None or a folder path)")
    store = ResultCache(cache) if cache is not None else None
    fkey = key or _fn_key(fn)
    records: list = [None] * len(points)
    todo = []
    for i, p in enumerate(points):
        hit = store.get(point_key(fkey, p)) if store else None
        if store is not None and hit is not None and not _matches(hit, p):
            store.rejected.append((f"{point_key(fkey, p)}.json", "record is of another point"))
            hit = None
        if hit is not None:
            records[i] = hit
        else:
            todo.append(i)
    if store is not None and store.rejected:
        _report_rejected(store)
    from ..progress_bar import progress_bar
    bar = progress_bar(len(points), desc or "sweep", unit="point", initial=len(points) - len(todo),
                       enabled=progress and bool(todo))

    def finish(i, rec):
        records[i] = rec
        if store is not None and rec.get("error") is None:
            store.put(point_key(fkey, points[i]), rec)
        bar.update(1)

    try:
        _execute(fn, points, todo, executor, jobs, finish)
    finally:
        bar.close()
    return records


def _matches(record, point: dict) -> bool:
    """A cached record belongs to ``point`` (its grid values are the point's)."""
    try:
        return isinstance(record, dict) and all(
            json.dumps(record.get(k), sort_keys=True, default=str)
            == json.dumps(v, sort_keys=True, default=str) for k, v in point.items())
    except (TypeError, ValueError):
        return False


def _report_rejected(store) -> None:
    shown = "; ".join(f"{name}: {why}" for name, why in store.rejected[:3])
    more = f" (+{len(store.rejected) - 3} more)" if len(store.rejected) > 3 else ""
    sys.stderr.write(f"step-lab: cache {str(store.folder)!r}: {len(store.rejected)} invalid "
                     f"record(s) ignored and recomputed: {shown}{more}\n")


def _check_jobs(jobs) -> None:
    if jobs is not None and (isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 1):
        raise ConfigError(f"sweep: jobs = {jobs!r:.40} (expected None or an int >= 1)")


def _shippable(fn):
    """``fn`` as something a worker process can unpickle: itself, or cloudpickle bytes for a
    lambda / local function (shipped by value); else a ConfigError saying why."""
    try:
        pickle.dumps(fn)
        return fn
    except Exception as first:  # noqa: BLE001 - pickling raises many types
        try:
            import cloudpickle
            return _ByValue(cloudpickle.dumps(fn))
        except Exception as e:  # noqa: BLE001
            reason = e if "cloudpickle" not in str(type(e)) else first
            raise ConfigError(
                f"sweep: fn {getattr(fn, '__qualname__', fn)!r:.60} cannot be sent to worker "
                f"processes ({type(reason).__name__}: {str(reason)[:120]}); expected a "
                "module-level function (or jobs=1 to run in this process)") from None


class _ByValue:
    """A cloudpickled function: unpickled (once per call) in the worker."""

    def __init__(self, blob: bytes):
        self.blob = blob

    def __call__(self, **point):
        return pickle.loads(self.blob)(**point)


def _execute(fn, points, todo, executor, jobs, finish) -> None:
    if not todo:
        return
    if executor is None and (jobs is None or jobs <= 1):
        for i in todo:
            finish(i, _run_point(fn, points[i]))
        return
    fn = _shippable(fn)
    if _is_dask_client(executor):
        futures = {executor.submit(_run_point, fn, points[i], pure=False): i for i in todo}
        from dask.distributed import as_completed as dask_completed
        for fut in dask_completed(futures):
            finish(futures[fut], fut.result())
        return
    own = executor is None
    ex = ProcessPoolExecutor(max_workers=jobs, initializer=watch_parent,
                             initargs=(os.getpid(),)) if own else executor
    if not isinstance(ex, Executor):
        raise ConfigError(f"executor {executor!r:.60} (expected a concurrent.futures.Executor "
                          "or a dask.distributed.Client)")
    try:
        futures = {ex.submit(_run_point, fn, points[i]): i for i in todo}
        for fut in as_completed(futures):
            finish(futures[fut], fut.result())
    finally:
        if own:
            ex.shutdown(cancel_futures=True)


def watch_parent(parent: int) -> None:
    """Worker initializer: end this process when ``parent`` dies, even by SIGKILL.

    Linux: ``prctl(PR_SET_PDEATHSIG, SIGKILL)``; everywhere: a daemon thread polling the parent
    pid twice a second (a reparented worker sees another ppid).
    """
    if sys.platform.startswith("linux"):
        try:
            import ctypes
            import signal
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)      # 1 = PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent:
        os._exit(1)

    def poll():
        while True:
            time.sleep(0.5)
            if os.getppid() != parent:
                os._exit(1)
    threading.Thread(target=poll, name="step-lab-parent-watch", daemon=True).start()


def watch_own_parent() -> int:
    """For dask workers, via ``client.run``: :func:`watch_parent` on this process's current
    parent, and Ctrl-C left to the parent (which shuts the workers down without a worker
    traceback). Returns the watched pid."""
    import signal
    parent = os.getppid()
    watch_parent(parent)
    try:
        signal.signal(signal.SIGINT, signal.SIG_IGN)
    except ValueError:                   # not the worker's main thread: the mask must do
        pass
    return parent


def _is_dask_client(obj) -> bool:
    """A ``dask.distributed.Client`` (if distributed is not imported, ``obj`` cannot be one)."""
    distributed = sys.modules.get("distributed")
    return distributed is not None and isinstance(obj, distributed.Client)
