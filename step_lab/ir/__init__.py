"""The STeP intermediate representation: data types, stream types, nodes and programs."""
from .dtypes import Addr, Bool, Buffer, DType, Scalar, Selector, Tile, Tuple
from .node import ANY, COMPUTE, GET, OFFCHIP, PUT, Node
from .program import Feedback, Input, Output, Program, Tensor
from .run import Run, as_run
from .stream import Stream, StreamType
from .tokens import DONE, S, Stop, decode, encode, format_tokens, is_stop

__all__ = ["Addr", "Bool", "Buffer", "DType", "Scalar", "Selector", "Tile", "Tuple", "Node",
           "GET", "PUT", "ANY", "COMPUTE", "OFFCHIP", "Feedback", "Input", "Output", "Program",
           "Tensor", "Run", "as_run", "Stream", "StreamType", "DONE", "S", "Stop", "decode",
           "encode", "format_tokens", "is_stop"]
