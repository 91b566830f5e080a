"""Workloads of the paper's evaluation, their model configurations and input traces."""
from .attention import attention_decode
from .base import Workload
from .e2e import end_to_end, qkv_generation
from .models import GALLERY, MODELS, ModelConfig, model, model_choices, model_names
from .moe import moe_layer
from .swiglu import swiglu
from .synthetic import KvLengthModel, RoutingModel, fit_kv_lengths, fit_routing
from .toy import simplified_moe
from .trace_folder import scan_traces
from .traces import (
                     expert_counts,
                     load_kv_lengths,
                     load_routing,
                     synthetic_kv_lengths,
                     synthetic_routing,
                     trace_path,
)

__all__ = ["attention_decode", "swiglu", "end_to_end", "qkv_generation",
           "Workload", "MODELS", "ModelConfig", "model", "moe_layer", "simplified_moe",
           "expert_counts", "load_kv_lengths", "load_routing", "synthetic_kv_lengths",
           "synthetic_routing", "trace_path", "GALLERY", "model_names", "model_choices",
           "RoutingModel", "KvLengthModel", "fit_routing", "fit_kv_lengths", "scan_traces"]
