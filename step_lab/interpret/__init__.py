"""Running programs on real values: the reference interpreter and its run context."""
from .context import RunContext, Unchecked, normalize_value
from .interpreter import RunResult, interpret
from .memory import OffChipMemory

__all__ = ["RunContext", "Unchecked", "normalize_value", "RunResult", "interpret", "OffChipMemory"]
