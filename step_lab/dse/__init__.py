"""Design-space exploration: grid sweeps (local or Dask), Pareto frontiers and PID."""
from .pareto import pareto, pid
from .sweep import grid_points, sweep

__all__ = ["sweep", "grid_points", "pareto", "pid"]
