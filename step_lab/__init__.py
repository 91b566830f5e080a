"""step_lab — model, analyse and simulate Streaming Tensor Programs (STeP, ASPLOS '26).

``import step_lab as sl`` loads only the standard library, numpy and sympy; the notebook layer
(IPython, ipywidgets, bokeh, graphviz) is imported lazily by ``%load_ext step_lab``.
"""
import os as _os
import sys as _sys

# BLAS threads: the simulator multiplies many small tiles, which a multi-threaded OpenBLAS/MKL
# makes slower, not faster (a 16×4096×64 matmul took 35 ms instead of 0.38 ms on a loaded
# machine); sweeps run one process per core anyway. Only effective when numpy is not imported
# yet (BLAS reads these once, at load); user settings win (setdefault). Child processes (sweep
# workers, a dask LocalCluster) inherit the variables.
if "numpy" not in _sys.modules:
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        _os.environ.setdefault(_var, "1")
    del _var

# first: importing native installs the finder of the compiled simulator core (native.py)
from . import native as _native  # noqa: F401  isort: skip
from . import fn, hw, ops
from .errors import (
    BindingError,
    ConfigError,
    DeadlockError,
    GraphError,
    InputError,
    ShapeError,
    StepError,
    TraceError,
)
from .hw import HardwareConfig
from .interpret import RunResult, interpret
from .ir import (
    DONE,
    Addr,
    Bool,
    Buffer,
    Program,
    Run,
    S,
    Scalar,
    Selector,
    Stream,
    StreamType,
    Tensor,
    Tile,
    Tuple,
    decode,
    encode,
)
from .sim import SimResult, simulate
from .symbolic import ceil_div, dim

__version__ = "0.1.0"

__all__ = ["fn", "ops", "dim", "ceil_div", "Program", "Run", "Stream", "StreamType", "Tensor",
           "Tile", "Scalar", "Selector", "Buffer", "Tuple", "Bool", "Addr", "DONE", "S", "encode",
           "decode", "interpret", "RunResult", "StepError", "ShapeError", "GraphError",
           "BindingError", "DeadlockError", "ConfigError", "InputError", "TraceError", "metrics",
           "Metrics", "hw", "HardwareConfig", "simulate", "SimResult",
           "load_ipython_extension"]


# Subpackages loaded on first attribute access (`sl.workloads`, `sl.dse`, ...), so that
# `import step_lab` stays light while the README's spelling works.
_LAZY_MODULES = ("workloads", "dse", "analysis", "reproduce", "validate", "tutor")


def __getattr__(name):
    # Analysis is imported on first use to keep `import step_lab` light.
    if name in ("metrics", "Metrics"):
        from .analysis.metrics import Metrics, metrics
        return metrics if name == "metrics" else Metrics
    if name in _LAZY_MODULES:
        import importlib
        module = importlib.import_module(f"{__name__}.{name}")
        globals()[name] = module
        return module
    from .errors import did_you_mean
    raise AttributeError(f"module 'step_lab' has no attribute {name!r}"
                         + did_you_mean(name, __all__ + list(_LAZY_MODULES)))


def __dir__():
    return sorted(set(globals()) | set(__all__) | set(_LAZY_MODULES))


def load_ipython_extension(ipython):  # pragma: no cover - exercised by notebook tests
    # The allowed exception to the layering: `%load_ext step_lab` loads the notebook layer lazily,
    # so that `import step_lab` stays light.
    from .notebook.magics import load_ipython_extension as _load
    _load(ipython)
