"""``step-lab simulate --workload moe|attention --model NAME|config.json`` and ``step-lab traces``.

Kept apart from ``cli.py`` (which only registers the arguments and dispatches here).

* ``simulate --workload moe --model M --batch N``: one MoE layer (``--dense`` its dense FFN),
  ``--tiling static|dynamic``, ``--tile``, ``--regions R`` (time-multiplexing);
* ``simulate --workload attention --model M --batch N``: one attention decode step,
  ``--strategy``, ``--parallel``, ``--window`` (sliding-window layer);
* ``--traces DIR`` (docs/TRACES.md): the MoE layer takes the first routing trace of
  ``expert_routing/<model>_b<N>/``, attention the first KV trace of ``kv_lengths/b<N>/``.
  [Choice] Without it the MoE layer uses the seeded uniform routing (``moe_layer``'s default) and
  attention the KV-length model fitted to the vendored traces (seed 0): both are printed;
* ``--report OUT.html`` writes the report (and ``OUT.json``) with ``report.write_report``.
"""
from __future__ import annotations

import json
import shutil
import sys
import tempfile
from pathlib import Path

from .cli_usage import UsageError

__all__ = ["add_workload_arguments", "run_workload", "add_traces_command", "cmd_traces"]

WORKLOADS = ("moe", "attention")


def add_workload_arguments(s) -> None:
    """The ``--workload`` options of ``step-lab simulate``."""
    s.add_argument("--workload", choices=WORKLOADS, default=None,
                   help="simulate a built-in workload instead of FILE")
    s.add_argument("--model", default=None, help="model name (paper or gallery) or config.json")
    s.add_argument("--batch", type=int, default=64, help="tokens (moe) or requests (attention)")
    s.add_argument("--traces", default=None, help="trace folder (docs/TRACES.md)")
    s.add_argument("--tiling", default="dynamic", help="moe: static or dynamic")
    s.add_argument("--tile", type=int, default=None, help="moe: static tile rows (default 32)")
    s.add_argument("--regions", type=int, default=None, help="moe: time-multiplexed regions")
    s.add_argument("--dense", action="store_true", help="moe: the model's dense FFN layer")
    s.add_argument("--strategy", default="dynamic", help="attention: coarse|interleaved|dynamic")
    s.add_argument("--parallel", type=int, default=4, help="attention: parallel regions")
    s.add_argument("--window", type=int, default=None, help="attention: sliding window tokens")
    if not any("--report" in a.option_strings for a in s._actions):
        s.add_argument("--report", default=None, help="write an HTML report (OUT.html)")


def _usage(message: str) -> UsageError:
    return UsageError(message)


def _routing_trace(traces: Path, cfg, batch: int):
    from .workloads.trace_folder import SHORT_NAMES
    names = [short for short, full in SHORT_NAMES.items() if full == cfg.name] + [cfg.name]
    for name in names:
        files = sorted((traces / "expert_routing" / f"{name}_b{batch}").glob("*.npz"))
        if files:
            return files[0]
    raise _usage(f"--traces {str(traces)!r} has no routing trace for {cfg.name} at batch "
                 f"{batch} (expected expert_routing/{names[-1]}_b{batch}/*.npz)")


def _kv_trace(traces: Path, batch: int):
    files = sorted((traces / "kv_lengths" / f"b{batch}").glob("*.npy"))
    if not files:
        raise _usage(f"--traces {str(traces)!r} has no KV-length trace for batch {batch} "
                     f"(expected kv_lengths/b{batch}/*.npy)")
    return files[0]


def build_workload(args):
    """``(workload, description of its input)`` for the parsed arguments."""
    from .workloads import attention_decode, model, moe_layer
    if args.model is None:
        raise _usage("--workload needs --model NAME or --model PATH/config.json")
    if args.file is not None:
        raise _usage(f"give either FILE ({args.file!r}) or --workload, not both")
    if args.batch < 1:
        raise _usage(f"--batch {args.batch} (expected an int >= 1)")
    cfg = model(args.model)
    traces = Path(args.traces) if args.traces else None
    if traces is not None and not traces.is_dir():
        raise _usage(f"--traces {args.traces!r} is not a folder (expected one laid out like "
                     "data/traces, see docs/TRACES.md)")
    if args.workload == "moe":
        routing, source = None, "seeded uniform synthetic routing (seed 0)"
        if traces is not None and not (args.dense or cfg.is_dense):
            routing = _routing_trace(traces, cfg, args.batch)
            source = f"routing trace {routing}"
        if args.dense or cfg.is_dense:
            source = "dense FFN layer: every token visits the one FFN"
        regions = args.regions
        wl = moe_layer(cfg, batch=args.batch, routing=routing, tiling=args.tiling,
                       tile=args.tile if args.tiling == "static" else None,
                       time_multiplex=regions is not None, regions=regions, values=False,
                       dense=args.dense)
        return wl, source
    if traces is not None:
        lengths = _kv_trace(traces, args.batch)
        source = f"KV-length trace {lengths}"
    else:
        from .workloads.synthetic import fitted_models
        lengths = fitted_models(kv_only=True)["kv_lengths"].generate(args.batch, seed=0)
        source = "KV lengths drawn from the model fitted to the vendored traces (seed 0)"
    wl = attention_decode(cfg, kv_lengths=lengths, parallel=args.parallel,
                          strategy=args.strategy, data="none", window=args.window)
    return wl, source


def run_workload(args, hw) -> int:
    """Simulate the workload (timing only), print the result and write the report."""
    from .errors import StepError
    try:
        wl, source = build_workload(args)
    except StepError as e:          # a bad --model, config or trace: an argument mistake
        raise _usage(f"{type(e).__name__}: {e}") from None
    result = wl.simulate(hw=hw, values=False, trace=bool(args.report))
    metrics = _metrics(wl, result)
    rows = _rows(wl, result, metrics, source)
    if args.json:
        print(json.dumps({"rows": rows, "result": result.to_dict()}, default=str))
    else:
        for key, value in rows.items():
            print(f"{key:>24}: {value}")
    if args.report:
        path = write_workload_report(args.report, wl, rows, result)
        print(f"step-lab: wrote {path}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _metrics(wl, result) -> dict:
    """Off-chip traffic and on-chip memory ("artifact" preset) at the run's bindings (the
    numeric mode of ``sl.metrics``)."""
    if "kv_tiles" not in wl.meta:
        from .workloads.moe import moe_analysis
        return moe_analysis(wl)
    from .analysis.metrics import metrics
    from .workloads.attention import attention_bindings
    bindings = attention_bindings(wl, (result.values or {}).get("assignment"))
    return metrics(wl.program, preset="artifact", bindings=bindings).totals


def _rows(wl, result, metrics: dict, source: str) -> dict:
    return {"program": wl.program.name, "model": str(wl.params["model"] if isinstance(
                wl.params["model"], str) else wl.params["model"].name),
            "input": source, "cycles": f"{result.cycles:,}",
            "off-chip bytes": f"{result.offchip_bytes:,}",
            "off-chip bytes (symbolic)": f"{int(metrics['offchip_traffic']):,}",
            "on-chip memory (symbolic)": f"{int(metrics['onchip_memory']):,} B",
            "FLOPs": f"{result.flops:,}",
            "HBM utilization": f"{result.offchip_bandwidth_utilization:.1%}",
            "notes": wl.meta.get("notes") or "(none)"}


def write_workload_report(out, wl, rows: dict, result) -> Path:
    """``OUT.html`` and ``OUT.json`` (``out`` ending in .html; else a folder with report.*):
    the summary, the approximations and input, then the same views as ``simulate FILE
    --report`` (collapsed graph, occupancy player when ``result`` has a trace, why is it slow)."""
    import html

    from .report import write_report
    out = Path(out)
    sections = [("Input", f"<p class='note'>{html.escape(rows['input'])}</p>")]
    if wl.meta.get("notes"):
        sections.insert(0, ("Approximations", f"<p class='note'>{html.escape(rows['notes'])}</p>"))
    sections += _views(wl.program, result, rows["program"])
    data = {"summary": rows, "result": result.to_dict(), "params": {
        k: v for k, v in wl.params.items() if k not in ("kv_lengths", "routing")}}
    title = f"step-lab simulate — {rows['program']}"
    table = [{"quantity": k, "value": v} for k, v in rows.items() if k != "notes"]
    if out.suffix.lower() not in (".html", ".htm"):
        return write_report(out, title, table, sections, data)[0]
    with tempfile.TemporaryDirectory() as tmp:
        html_path, json_path = write_report(tmp, title, table, sections, data)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(html_path), out)
        shutil.move(str(json_path), out.with_suffix(".json"))
    return out


def _views(program, result, name: str) -> list:
    """Graph, player and "why is it slow?" (needs bokeh); without bokeh, the graph alone."""
    try:
        from .notebook.export import report_fragments
    except ImportError:                    # the notebook extra (bokeh) is not installed
        from .report import graph_fragment
        return [("The program", graph_fragment(program))]
    return report_fragments(program, result, title=name)


# -- step-lab traces ---------------------------------------------------------------------------
def add_traces_command(sub) -> None:
    t = sub.add_parser("traces", help="check a trace folder and fit the synthetic generators")
    t.add_argument("action", choices=("check", "fit"), help="check: validate; fit: print the "
                   "fitted generator parameters")
    t.add_argument("--traces", default=None, help="trace folder (default: the vendored one)")


def cmd_traces(args) -> int:
    from .workloads.synthetic import fitted_models
    from .workloads.trace_folder import scan_traces
    if args.traces is not None and not Path(args.traces).is_dir():
        raise _usage(f"--traces {args.traces!r} is not a folder")
    folder = scan_traces(args.traces)
    if args.action == "check":
        for line in folder.summary():
            print(line)
        print(f"step-lab: {len(folder.routing)} routing and {len(folder.kv_lengths)} KV-length "
              f"traces in {folder.root} are valid")
        return 0
    for line in format_fit(fitted_models(args.traces)):
        print(line)
    return 0


def format_fit(fits: dict) -> list[str]:
    """The fitted parameters as text lines (the CLI's and docs/TRACES.md's)."""
    lines = []
    for rel, m in fits["routing"].items():
        lines.append(f"{rel}: RoutingModel(experts={m.experts}, top_k={m.top_k}, "
                     f"skew={m.skew}, correlation={m.correlation}, active={m.active})")
    kv = fits.get("kv_lengths")
    if kv is not None:
        lines.append(f"kv_lengths (pooled): KvLengthModel(weights={kv.weights}, "
                     f"medians={kv.medians}, log_stds={kv.log_stds}, low={kv.low}, "
                     f"high={kv.high})")
    return lines
