"""The command line's usage error, in its own module so that ``cli`` and ``cli_workload`` share
one class without importing each other."""
from __future__ import annotations

__all__ = ["UsageError"]


class UsageError(Exception):
    """A bad command-line argument: exit code 2."""
