"""Points of earlier figures first: an executor that hands its calls to a pool in figure order.

``reproduce all`` runs its figures concurrently, each in a thread submitting its points to the
same workers (:mod:`.batch`). A process pool runs submissions first come, first served, so the
figures' points interleave at random and every figure finishes near the end: the progress lines
(``fig8 done …``) come all at once, and each figure's own work (scoring, plot, HTML) runs after
the last point, while the workers are idle. :class:`OrderedExecutor` keeps at most one call per
worker in the pool and hands it the pending call of the earliest figure (its *rank*, set per
figure thread by :func:`ranked`), in submission order within a figure.

[Choice] (issue 15) Figures complete in their usual order, each as early as the workers allow,
so the progress lines arrive one by one and a finished figure's plotting overlaps the later
figures' points. Points shared by figures (:mod:`.memo`) are simulated at the rank of the first
figure that asked.
"""
from __future__ import annotations

import contextlib
import functools
import heapq
import itertools
import threading
from collections.abc import Iterator
from concurrent.futures import CancelledError, Executor, Future

__all__ = ["OrderedExecutor", "ranked"]

_RANK = threading.local()


@contextlib.contextmanager
def ranked(rank: int) -> Iterator[None]:
    """Calls submitted by this thread inside the block have priority ``rank`` (lower first)."""
    previous = getattr(_RANK, "value", None)
    _RANK.value = rank
    try:
        yield
    finally:
        _RANK.value = previous


class OrderedExecutor(Executor):
    """At most ``slots`` calls in flight on ``inner``; pending calls wait in a heap ordered by
    (rank of the submitting thread, submission order). ``shutdown`` does not shut ``inner``
    down (its owner does)."""

    def __init__(self, inner: Executor, slots: int):
        self._inner, self._slots = inner, max(1, int(slots))
        self._heap: list = []
        self._seq = itertools.count()
        self._running = 0
        self._closed = False
        self._cond = threading.Condition()
        self._thread = threading.Thread(target=self._dispatch, name="step-lab-dispatch",
                                        daemon=True)
        self._thread.start()

    def submit(self, fn, /, *args, **kwargs) -> Future:
        outer: Future = Future()
        rank = getattr(_RANK, "value", None)
        with self._cond:
            if self._closed:
                raise RuntimeError("cannot schedule new calls after shutdown")
            heapq.heappush(self._heap, (1 << 30 if rank is None else rank, next(self._seq),
                                        outer, fn, args, kwargs))
            self._cond.notify_all()
        return outer

    def _dispatch(self) -> None:
        """The one thread that hands calls to ``inner`` (never a pool's callback thread); after
        ``shutdown`` it hands over what is still pending, waits for the calls running, ends."""
        while True:
            with self._cond:
                while (self._heap and self._running >= self._slots) \
                        or (not self._heap and not self._closed):
                    self._cond.wait()
                if not self._heap:                    # shut down and nothing left to hand over
                    while self._running:
                        self._cond.wait()
                    return
                _, _, outer, fn, args, kwargs = heapq.heappop(self._heap)
                if not outer.set_running_or_notify_cancel():
                    continue
                self._running += 1
            try:
                inner = self._inner.submit(fn, *args, **kwargs)
            except BaseException as e:  # noqa: BLE001 - a broken pool: the caller sees it
                self._finished()
                outer.set_exception(e)
                continue
            inner.add_done_callback(functools.partial(self._relay, outer=outer))

    def _relay(self, inner: Future, *, outer: Future) -> None:
        self._finished()
        if inner.cancelled():
            outer.set_exception(CancelledError())
            return
        error = inner.exception()
        if error is not None:
            outer.set_exception(error)
        else:
            outer.set_result(inner.result())

    def _finished(self) -> None:
        with self._cond:
            self._running -= 1
            self._cond.notify_all()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """No more calls; ``cancel_futures``: cancel those not handed to ``inner`` yet (else
        they still run); ``wait``: return when every call handed over has finished."""
        with self._cond:
            self._closed = True
            pending: list = []
            if cancel_futures:
                pending, self._heap = self._heap, []
            self._cond.notify_all()
        for item in pending:           # never handed to the pool: cancelled, and waiters told
            item[2].cancel()
            item[2].set_running_or_notify_cancel()
        if wait:
            self._thread.join()
