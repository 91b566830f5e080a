"""Every operator of STEP.md §4 under its paper name.

Calling an operator adds a node to the program of its inputs and returns its output stream(s).
"""
from .. import fn as _functions
from . import _guide
from .higher_order import Accum, FlatMap, Map, Scan
from .offchip import LinearOffChipLoad, LinearOffChipStore, RandomOffChipLoad, RandomOffChipStore
from .onchip import Bufferize, Streamify
from .routing import EagerMerge, Partition, Reassemble
from .shape import Assume, Expand, Flatten, Promote, Reshape, Zip

_guide.apply(globals())     # docstrings open with what the operator does and an example
_guide.apply(vars(_functions), _guide.FUNCTIONS)

__all__ = ["LinearOffChipLoad", "LinearOffChipStore", "RandomOffChipLoad", "RandomOffChipStore",
           "Bufferize", "Streamify", "Partition", "Reassemble", "EagerMerge", "Map", "Accum",
           "Scan", "FlatMap", "Flatten", "Reshape", "Promote", "Expand", "Zip", "Assume"]


def __getattr__(name: str):
    """``ops.linearoffchipload`` -> an error suggesting ``LinearOffChipLoad``."""
    from ..errors import missing_attribute
    raise missing_attribute("step_lab.ops", __all__, name, "operator")
