"""Grid sweeps over local processes or a Dask cluster, with a resumable cache and error records.

``sweep(fn, grid)`` runs ``fn(**point)`` for every point of the product grid. ``fn`` returns a
dict (or anything JSON-serialisable); each record is ``{**point, **result}`` plus ``"error"``
(None, or ``"Type: message"`` when the point failed — a failing point never aborts the sweep).
"""
from __future__ import annotations

import itertools
import traceback
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed

from ..errors import ConfigError
from .cache import ResultCache, point_key

__all__ = ["sweep", "grid_points"]


def grid_points(grid: dict) -> list[dict]:
    if not isinstance(grid, dict) or not grid:
        raise ConfigError(f"grid {grid!r:.80} (expected a non-empty dict of name -> list of values)")
    for k, v in grid.items():
        if not isinstance(v, (list, tuple)) or not v:
            raise ConfigError(f"grid entry {k!r} = {v!r:.60} (expected a non-empty list)")
    names = list(grid)
    return [dict(zip(names, combo)) for combo in itertools.product(*(grid[n] for n in names))]


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
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def sweep(fn, grid: dict, *, executor=None, cache=None, progress=True, jobs: int | None = None,
          key: str | None = None, desc: str | None = None) -> list[dict]:
    """Run ``fn`` over the grid and return one record per point, in grid order.

    ``executor``: None (local processes, ``jobs`` workers; 1 job runs inline), a
    ``concurrent.futures.Executor``, or a ``dask.distributed.Client``. ``cache``: a folder; finished
    points are stored as they complete and reused on the next call (resume after a kill). Failed
    points are not cached, so they are retried. ``key`` names the function in cache keys (default:
    its qualified name) — include anything that changes results, e.g. a program fingerprint.
    ``progress``: a ``tqdm.auto`` bar labelled ``desc`` (points done, rate, ETA) in a notebook
    or on a terminal; none when stderr is redirected (``step_lab.progress_bar``).
    """
    points = grid_points(grid)
    store = ResultCache(cache) if cache is not None else None
    fkey = key or _fn_key(fn)
    records: list = [None] * len(points)
    todo = []
    for i, p in enumerate(points):
        hit = store.get(point_key(fkey, p)) if store else None
        if hit is not None:
            records[i] = hit
        else:
            todo.append(i)
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


def _execute(fn, points, todo, executor, jobs, finish) -> None:
    if not todo:
        return
    if executor is None and (jobs is None or jobs <= 1):
        for i in todo:
            finish(i, _run_point(fn, points[i]))
        return
    if _is_dask_client(executor):
        futures = {executor.submit(_run_point, fn, points[i], pure=False): i for i in todo}
        from dask.distributed import as_completed as dask_completed
        for fut in dask_completed(futures):
            finish(futures[fut], fut.result())
        return
    own = executor is None
    ex = ProcessPoolExecutor(max_workers=jobs) if own else executor
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


def _is_dask_client(obj) -> bool:
    return type(obj).__name__ == "Client" and type(obj).__module__.startswith("distributed")
