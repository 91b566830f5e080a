"""Workloads of the paper's evaluation, their model configurations and input traces."""
from .base import Workload
from .models import MODELS, ModelConfig, model
from .toy import simplified_moe
from .traces import (expert_counts, load_kv_lengths, load_routing, synthetic_kv_lengths,
                     synthetic_routing, trace_path)

__all__ = ["Workload", "MODELS", "ModelConfig", "model", "simplified_moe", "expert_counts",
           "load_kv_lengths", "load_routing", "synthetic_kv_lengths", "synthetic_routing",
           "trace_path"]
