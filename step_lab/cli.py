"""The ``step-lab`` command line: ``demo`` and ``simulate``.

Every failure is one line ``step-lab: error: …`` on stderr, never a raw traceback (set
STEP_LAB_DEBUG=1 to see one). User mistakes — arguments, paths (``--out``, ``--cache``,
``--output``: checked before any computation; output folders are created and probed), a malformed
``--scheduler`` address, a script with a syntax or run-time error, an output that cannot be
written — exit 2; a StepError raised by a run (bad bindings or inputs, deadlock, work limit)
exits 1 naming its class; Ctrl-C exits 130 with ``step-lab: interrupted``.

[Choice] ``reproduce`` checks every trace file the requested figures read before anything runs (a
malformed or, under ``--traces`` without ``--allow-standins``, missing file is exit 2 naming it),
and ends with exit 1 when a simulated point of a figure failed: its FIG.json is still written,
with the failure in its notes and the affected checks "no value".
"""
from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import os
import runpy
import sys
import time
from pathlib import Path

from .cli_usage import UsageError
from .errors import StepError

__all__ = ["main", "REPRODUCE_OUT"]

# [Choice] ``reproduce`` writes to ``out/reproduce`` (beside the demo's ``out/``, git-ignored)
# unless ``--out`` says otherwise: the committed ``reproduction/quick`` and ``reproduction/full``
# are rewritten only on purpose, and a trial run leaves no untracked files in a checkout.
REPRODUCE_OUT = "out/reproduce"


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # argparse would print usage + exit 2; keep it to one line
        raise UsageError(message)


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="step-lab", description="Model, analyse and simulate STeP programs.")
    sub = p.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    d = sub.add_parser("demo", help="simulate a real-trace MoE layer and write a report")
    d.add_argument("--out", default="out", help="output folder (default: out)")
    d.add_argument("--hw", default="paper", help="hardware preset (default: paper)")
    s = sub.add_parser("simulate", help="simulate a program defined in a Python file")
    s.add_argument("file", nargs="?", default=None,
                   help="a .py file defining `prog` (or `program`, or build())")
    s.add_argument("--hw", default="paper", help="hardware preset (default: paper)")
    s.add_argument("--json", action="store_true", help="print the result as JSON")
    s.add_argument("--report", metavar="OUT.html", default=None,
                   help="also write a self-contained HTML report with the occupancy player")
    _workload_cli().add_workload_arguments(s)
    _workload_cli().add_traces_command(sub)
    r = sub.add_parser("reproduce", help="reproduce a figure of the paper's evaluation")
    r.add_argument("figure", help="figure id (fig8, fig9, …) or 'all'")
    r.add_argument("--quick", action="store_true", help="subsampled sweep (minutes)")
    r.add_argument("--out", default=REPRODUCE_OUT,
                   help=f"output folder (default: {REPRODUCE_OUT}, git-ignored)")
    r.add_argument("--jobs", type=int, default=None,
                   help="N dask worker processes (default: 'all' runs a light local pool of one "
                        "process per CPU core, one figure runs in this process)")
    r.add_argument("--scheduler", default=None, help="dask scheduler address (tcp://host:port)")
    r.add_argument("--traces", default=None, help="folder laid out like data/traces")
    r.add_argument("--allow-standins", action="store_true",
                   help="under --traces: use a labelled synthetic stand-in for a missing file")
    r.add_argument("--cache", default=None, help="result cache folder (resume a killed sweep)")
    m = sub.add_parser("reproduction", help="write REPRODUCTION.md from FIG.json files")
    m.add_argument("--quick-dir", default=None, help="folder of a --quick run")
    m.add_argument("--full-dir", default=None, help="folder of a full run")
    m.add_argument("--output", default="REPRODUCTION.md", help="markdown file to write")
    return p


def main(argv=None) -> int:
    try:
        args = _parser().parse_args(argv)
        if args.command is None:
            raise UsageError("missing COMMAND (expected demo, simulate, reproduce, reproduction "
                             "or traces; see --help)")
        return _COMMANDS[args.command](args)
    except UsageError as e:
        print(f"step-lab: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("step-lab: interrupted", file=sys.stderr)
        return 130
    except StepError as e:
        if os.environ.get("STEP_LAB_DEBUG"):
            raise
        print(f"step-lab: error: {type(e).__name__}: {_one_line(e)}", file=sys.stderr)
        return 1
    except OSError as e:          # an output that cannot be written (disk full, permissions)
        if os.environ.get("STEP_LAB_DEBUG"):
            raise
        where = f" {e.filename!r}" if getattr(e, "filename", None) else ""
        print(f"step-lab: error: cannot access{where}: {e.strerror or e}", file=sys.stderr)
        return 2
    except Exception as e:  # noqa: BLE001 - last resort: one line, never a traceback
        if os.environ.get("STEP_LAB_DEBUG"):
            raise
        print(f"step-lab: error: internal {type(e).__name__}: {_one_line(e)} (set "
              "STEP_LAB_DEBUG=1 for the traceback)", file=sys.stderr)
        return 1


def _one_line(error: BaseException) -> str:
    """The message of ``error`` on one line (multi-line messages joined with ' | ')."""
    return " | ".join(line.strip() for line in str(error).splitlines() if line.strip())


def _check_out_dir(path: str, option: str) -> Path:
    """An output folder: usable as is, or creatable (no regular file on the way, writable).

    Checked before any computation so a bad path fails in a second, not after a sweep.
    """
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"{option} {path!r} is a file, not a folder (expected a folder to "
                         "write into)")
    probe = folder
    while not probe.exists():
        if probe.parent == probe:
            break
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise UsageError(f"{option} {path!r} lies under {str(probe)!r}, which is a regular "
                         "file (expected a folder path)")
    if not os.access(probe, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path!r} is not writable (no write permission on "
                         f"{str(probe)!r})")
    return folder


def _prepare_out_dir(path: str, option: str) -> Path:
    """Create a checked output folder now and probe it with a temporary file (root ignores
    permission bits, and /proc or a read-only mount only fail on an actual write)."""
    folder = _check_out_dir(path, option)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        import tempfile
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as e:
        raise UsageError(f"{option} {path!r} is not writable ({e.strerror or e})") from None
    return folder


_SCHEMES = ("tcp", "tls", "inproc", "ucx", "ws", "wss")


def _check_scheduler(address: str) -> None:
    """``--scheduler``: ``[tcp://]host:port`` (a dask scheduler address)."""
    import re
    scheme, sep, rest = address.partition("://")
    if not sep:
        scheme, rest = "tcp", address
    match = re.fullmatch(r"(\[[0-9a-fA-F:]+\]|[A-Za-z0-9._-]+):(\d{1,5})", rest)
    if scheme not in _SCHEMES or match is None or not 0 < int(match.group(2)) < 65536:
        raise UsageError(f"--scheduler {address!r} is not a dask scheduler address (expected "
                         "tcp://HOST:PORT, e.g. tcp://127.0.0.1:8786)")


def _check_report_path(report: str) -> None:
    """``--report OUT.html``: an .html file name in a writable folder (checked before any run)."""
    if not report.endswith((".html", ".htm")):
        raise UsageError(f"--report {report!r} is not an .html file name (expected e.g. "
                         "--report out/run.html)")
    if Path(report).is_dir():
        raise UsageError(f"--report {report!r} is a folder (expected an .html file name)")
    _prepare_out_dir(str(Path(report).parent), "--report folder")


def _hardware(name: str):
    from . import hw
    from .errors import ConfigError
    try:
        return hw.preset(name)
    except ConfigError as e:
        raise UsageError(str(e)) from None


def _workload_cli():
    from . import cli_workload
    return cli_workload


def _cmd_simulate(args) -> int:
    from .sim import simulate
    if getattr(args, "workload", None) is None:
        if args.file is None:
            raise UsageError("simulate needs FILE (a .py file) or --workload moe|attention")
        if not Path(args.file).is_file():
            raise UsageError(f"file {args.file!r} does not exist (expected a .py file)")
    if args.report is not None:
        _check_report_path(args.report)
    if getattr(args, "workload", None) is not None:
        hw = _hardware(args.hw) if args.hw != "paper" else None
        return _workload_cli().run_workload(args, hw)
    path = Path(args.file)
    hw = _hardware(args.hw)
    scope = _run_script(path)
    prog, inputs, bindings = _program_from(scope, path)
    result = simulate(prog, hw=hw, inputs=inputs, bindings=bindings,
                      trace=args.report is not None)
    if args.json:
        print(json.dumps(result.to_dict(), default=str))
    else:
        print(result.summary())
    if args.report is not None:
        written = _simulate_report(Path(args.report), path, prog, result)
        print(f"step-lab: wrote {written}", file=sys.stderr if args.json else sys.stdout)
    return 0


def _run_script(path: Path) -> dict:
    """Run a user's program file; its own mistakes are one-line usage errors (exit 2)."""
    if path.suffix != ".py":
        raise UsageError(f"file {str(path)!r} is not a .py file (expected a Python script "
                         "defining `prog`)")
    try:
        return runpy.run_path(str(path))
    except SyntaxError as e:
        raise UsageError(f"{str(path)!r} line {e.lineno}: {type(e).__name__}: {e.msg}") \
            from None
    except (StepError, KeyboardInterrupt, SystemExit):
        raise
    except Exception as e:  # noqa: BLE001 - the user's script failed while building
        line = _script_line(e, path)
        raise UsageError(f"{str(path)!r}{line} raised {type(e).__name__}: {_one_line(e)}") \
            from None


def _script_line(error: BaseException, path: Path) -> str:
    import traceback
    frames = [f for f in traceback.extract_tb(error.__traceback__)
              if Path(f.filename).resolve() == path.resolve()]
    return f" line {frames[-1].lineno}" if frames else ""


def _simulate_report(out: Path, source: Path, prog, result) -> Path:
    """The report of ``simulate --report``: summary, graph (small programs) and the player."""
    from .report import write_html
    from .report.html import result_rows
    try:
        from .notebook.export import report_fragments
    except ImportError as e:                   # the notebook extra (bokeh) is not installed
        raise UsageError(f"--report needs bokeh ({e}; pip install 'step-lab[notebook]')") from None
    sections = report_fragments(prog, result, title=prog.name)   # graph, player, why slow
    return write_html(out, f"step-lab simulate {source.name}: {prog.name}", result_rows(result),
                      sections)


def _program_from(scope: dict, path: Path):
    from .ir import Program
    from .ir.run import as_run, carries_run
    obj = scope.get("prog") or scope.get("program") or scope.get("run")
    if obj is None and callable(scope.get("build")):
        try:
            obj = scope["build"]()
        except StepError:
            raise
        except Exception as e:  # noqa: BLE001 - the user's build() failed
            raise UsageError(f"{str(path)!r}{_script_line(e, path)}: build() raised "
                             f"{type(e).__name__}: {_one_line(e)}") from None
    if isinstance(obj, tuple):
        obj, inputs, bindings = (tuple(obj) + (None, None))[:3]
    else:
        inputs, bindings = scope.get("inputs"), scope.get("bindings")
    if carries_run(obj):                    # a Run, or a Workload (which builds one)
        run = as_run(obj)
        return run.program, run.inputs, run.bindings
    if not isinstance(obj, Program):
        raise UsageError(f"{str(path)!r} defines no Program (expected a variable `prog`, "
                         "`program` or `run` (a Program, Run or Workload), or a function build() "
                         "returning one)")
    return obj, inputs, bindings


def _cmd_demo(args) -> int:
    from .report.demo import run_demo
    _prepare_out_dir(args.out, "--out")
    hw = _hardware(args.hw)
    start = time.perf_counter()
    html_path, _ = run_demo(args.out, hw=hw)
    print(f"step-lab: wrote {html_path} in {time.perf_counter() - start:.1f} s")
    return 0


def _cmd_reproduce(args) -> int:
    from .reproduce import RunContext, figure_ids, get_figure, memo
    from .reproduce.batch import default_jobs, reproduce_figures
    from .reproduce.console import run_summary, standin_notes
    from .reproduce.known import known_misses_path, load_known_misses
    from .reproduce.pool import default_executor
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs {args.jobs} (expected an int >= 1)")
    if args.allow_standins and args.traces is None:
        raise UsageError("--allow-standins needs --traces DIR (without it, only the withheld "
                         "traces are replaced by stand-ins, always)")
    _check_out_dir(args.out, "--out")
    if args.cache is not None:
        _check_out_dir(args.cache, "--cache")
    if args.scheduler is not None:
        _check_scheduler(args.scheduler)
    ids = figure_ids() if args.figure == "all" else [args.figure]
    for f in ids:
        try:
            get_figure(f)
        except StepError as e:
            raise UsageError(str(e)) from None
    plain = RunContext(quick=args.quick, traces=Path(args.traces) if args.traces else None,
                       allow_standins=args.allow_standins)
    _check_traces([get_figure(f) for f in ids], plain)
    where = known_misses_path(args.out)
    try:
        known = load_known_misses(where)        # a malformed list fails now, not after the run
    except StepError as e:
        raise UsageError(str(e)) from None
    _prepare_out_dir(args.out, "--out")
    if args.cache is not None:
        _prepare_out_dir(args.cache, "--cache")
    failed = []
    start = time.perf_counter()
    chosen = args.jobs is not None or args.scheduler is not None
    with (_executor(args.scheduler, args.jobs) if chosen
          else default_executor(default_jobs(ids))) as (executor, jobs):
        ctx = dataclasses.replace(plain, executor=executor, jobs=jobs,
                                  cache=Path(args.cache) if args.cache else None)
        def report(f: str, rec: dict) -> None:
            print(f"step-lab: {f} done in {rec['elapsed_s']:.1f} s -> {args.out}/{f}.json",
                  flush=True)
            for line in standin_notes(rec):   # the stand-ins this run used, not all it may
                print(line, file=sys.stderr, flush=True)
            if rec["failed_points"]:
                failed.append(f"{f}: {len(rec['failed_points'])} point(s) failed, first: "
                              f"{rec['failed_points'][0]}")
        with memo.session():                   # figures share the points they have in common
            records = reproduce_figures(ids, args.out, ctx, report,
                                        concurrent=executor is not None)
    for line in failed:
        print(f"step-lab: error: {line} (see the notes in the FIG.json)", file=sys.stderr)
    for line in run_summary(records, args.out, time.perf_counter() - start, known, where):
        print(line, flush=True)
    return 1 if failed else 0


def _check_traces(figures, ctx) -> None:
    """Every trace the figures declare, checked before anything runs (a malformed file, or a
    missing one under --traces without --allow-standins, is a usage error naming it). The
    stand-ins a run actually uses are named after each figure (``standin_notes``)."""
    from .errors import TraceError
    from .reproduce.inputs import plan
    try:
        plan(figures, ctx)
    except TraceError as e:
        raise UsageError(str(e)) from None


@contextlib.contextmanager
def _executor(address, jobs):
    """``--scheduler``: a dask Client to that cluster; ``--jobs N`` (N > 1): a dask LocalCluster
    of N single-threaded worker processes (local processes when dask is not installed); else
    inline. Yields ``(executor, jobs)`` and shuts down what it started."""
    if address is None and (jobs is None or jobs <= 1):
        yield None, None
        return
    try:
        from dask.distributed import Client, LocalCluster
    except ImportError:
        if address is not None:
            raise UsageError("--scheduler needs the dask extra (pip install 'step-lab[dask]')") \
                from None
        yield None, jobs                     # concurrent.futures process pool in sweep()
        return
    if address is not None:
        try:
            client = Client(address, timeout="10s")
        except (OSError, TimeoutError, ValueError) as e:
            raise UsageError(f"--scheduler {address!r} is unreachable ({_one_line(e)})") \
                from None
        with client:
            yield client, None
        return
    _quiet_dask()

    previous = _block_sigint()
    try:
        # no dashboard, and its HTTP endpoint on a free port: a busy 8787 (another cluster,
        # JupyterLab's dask extension) would otherwise print a UserWarning
        cluster = LocalCluster(n_workers=jobs, threads_per_worker=1, processes=True,
                               dashboard_address=None,
                               scheduler_kwargs={"dashboard": False, "dashboard_address": ":0"})
        client = Client(cluster)
        client.wait_for_workers(jobs, timeout=120)     # every worker spawned while blocked
    except BaseException:
        _restore_sigmask(previous)
        raise
    with cluster, client:
        _restore_sigmask(previous)             # a Ctrl-C during the start is raised here
        from .dse.sweep import watch_own_parent
        client.run(watch_own_parent)           # workers end if this process is killed
        yield client, None


def _quiet_dask() -> None:
    """No ``distributed`` warnings on stderr, here (for the rest of this command: a shutdown
    after Ctrl-C logs from background threads) and in the worker processes (which read
    ``DASK_LOGGING__DISTRIBUTED``): an interrupt ends with our one line."""
    import logging
    os.environ.setdefault("DASK_LOGGING__DISTRIBUTED", "critical")   # workers: no heartbeat errors
    for name in ("distributed", "tornado", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _block_sigint():
    """Ignore SIGINT while the cluster starts, so the worker processes spawned now inherit the
    ignored disposition (it survives exec; a blocked mask did not reach dask's workers): Ctrl-C
    then interrupts only this process, which shuts them down without a worker traceback.
    [Choice] A Ctrl-C during those few seconds of start-up is ignored (press it again).
    Returns the previous handler."""
    import signal
    return signal.signal(signal.SIGINT, signal.SIG_IGN)


def _restore_sigmask(previous) -> None:
    import signal
    signal.signal(signal.SIGINT, previous)


def _cmd_reproduction(args) -> int:
    from .reproduce.summary import reproduction_markdown
    if args.quick_dir is None and args.full_dir is None:
        raise UsageError("reproduction needs --quick-dir and/or --full-dir (folders of "
                         "FIG.json files written by `step-lab reproduce`)")
    out = Path(args.output)
    if out.is_dir() or not out.parent.is_dir() or (out.exists() and not os.access(out, os.W_OK)) \
            or not os.access(out.parent, os.W_OK):
        raise UsageError(f"--output {args.output!r} is not a writable file path (expected a file "
                         "in an existing, writable folder)")
    try:
        text = reproduction_markdown(args.quick_dir, args.full_dir)
    except StepError as e:
        raise UsageError(str(e)) from None
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as e:
        raise UsageError(f"--output {args.output!r} cannot be written ({e.strerror})") from None
    print(f"step-lab: wrote {args.output}")
    return 0


_COMMANDS = {"demo": _cmd_demo, "simulate": _cmd_simulate, "reproduce": _cmd_reproduce,
             "reproduction": _cmd_reproduction,
             "traces": lambda args: _workload_cli().cmd_traces(args)}

if __name__ == "__main__":  # pragma: no cover
    # `python -m step_lab.cli`: run the imported module's main, so that the UsageError raised by
    # step_lab.cli_workload is the class main() catches (this file is __main__ here)
    from step_lab.cli import main as _main
    sys.exit(_main())
