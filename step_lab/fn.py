"""Per-element hardware functions for Map / Accum / Scan / FlatMap (STEP.md §4.4)."""
from .ops.functions import *  # noqa: F401,F403
from .ops.functions import __all__  # noqa: F401
