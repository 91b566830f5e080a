"""Progress bars for long work (sweeps, reproductions, long simulations), via ``tqdm.auto``.

``progress_bar(total, desc)`` is a notebook bar (ipywidgets, with rate and ETA) inside Jupyter,
a terminal bar when stderr is a terminal, and nothing at all when stderr is neither (a log file,
CI): tqdm's ``disable=None``. tqdm is imported only when a bar is made, so ``import step_lab``
stays light; without tqdm installed the work runs without a bar.

[Choice] When stderr is not a terminal (redirected to a log) no bar is drawn: a bar redrawn with
carriage returns fills log files with partial lines. Notebooks always get their widget bar.
"""
from __future__ import annotations

__all__ = ["progress_bar", "NoBar"]


class NoBar:
    """The do-nothing bar (``progress=False``, or tqdm missing)."""

    total = None
    n = 0

    def update(self, n: int = 1) -> None:
        self.n += n

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def progress_bar(total: int | None, desc: str, *, unit: str = "it", initial: int = 0,
                 enabled: bool = True, leave: bool = True):
    """A ``tqdm.auto`` bar of ``total`` steps (``initial`` already done), or :class:`NoBar`."""
    if not enabled:
        return NoBar()
    try:
        from tqdm.auto import tqdm
    except ImportError:                    # tqdm is a dependency; an odd environment may lack it
        return NoBar()
    return tqdm(total=total, desc=desc, unit=unit, initial=initial, disable=None, leave=leave,
                dynamic_ncols=True, smoothing=0.1)
