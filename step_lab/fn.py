"""Per-element hardware functions for Map / Accum / Scan / FlatMap (STEP.md §4.4)."""
from .ops.functions import *  # noqa: F401,F403
from .ops.functions import __all__  # noqa: F401


def __getattr__(name: str):
    """``fn.matmul`` -> an error suggesting ``Matmul``."""
    from .errors import missing_attribute
    raise missing_attribute("step_lab.fn", __all__, name, "function")
