"""Every operator of STEP.md §4 under its paper name.

Calling an operator adds a node to the program of its inputs and returns its output stream(s).
"""
from .offchip import LinearOffChipLoad, LinearOffChipStore, RandomOffChipLoad, RandomOffChipStore
from .onchip import Bufferize, Streamify
from .routing import EagerMerge, Partition, Reassemble
from .higher_order import Accum, FlatMap, Map, Scan
from .shape import Assume, Expand, Flatten, Promote, Reshape, Zip
from .. import fn as _functions
from . import _guide

_guide.apply(globals())     # docstrings open with what the operator does and an example
_guide.apply(vars(_functions), _guide.FUNCTIONS)

__all__ = ["LinearOffChipLoad", "LinearOffChipStore", "RandomOffChipLoad", "RandomOffChipStore",
           "Bufferize", "Streamify", "Partition", "Reassemble", "EagerMerge", "Map", "Accum",
           "Scan", "FlatMap", "Flatten", "Reshape", "Promote", "Expand", "Zip", "Assume"]


def __getattr__(name: str):
    """``ops.linearoffchipload`` -> an error suggesting ``LinearOffChipLoad``."""
    from ..errors import missing_attribute
    raise missing_attribute("step_lab.ops", __all__, name, "operator")
