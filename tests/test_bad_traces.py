"""Bad trace data and bad report inputs (issue 13, trace part): every case is a named error —
the error class and the key words of its message, or exit code 2 with one line and no
traceback — never exit 0 with headline values of None."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest

from step_lab.cli import main
from step_lab.errors import StepError, TraceError
from step_lab.reproduce import RunContext, get_figure
from step_lab.reproduce.inputs import check_folder, expected, plan, resolve
from step_lab.workloads.traces import MAX_KV_LENGTH, load_kv_lengths, load_routing, trace_path

MIXTRAL = "expert_routing/mixtral_b64/008_010.npz"
QWEN = "expert_routing/qwen_b64/032_012.npz"
KV = "kv_lengths/b64/conv_stdev0996_4007_4070.npy"
ROOT = Path(__file__).resolve().parents[1]


# -- malformed routing files: load_routing names the file and what was expected ---------------
def _npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def _bad_routing(tmp: Path, case: str) -> Path:
    p = tmp / "008_010.npz"
    good = np.load(trace_path(MIXTRAL))["data"]
    if case == "floats":
        return _npz(p, data=good.astype(np.float64))
    if case == "nan":
        return _npz(p, data=np.full((64, 2), np.nan))
    if case == "bool":
        return _npz(p, data=good > 3)
    if case == "strings":
        return _npz(p, data=good.astype(str))
    if case == "complex":
        return _npz(p, data=good.astype(np.complex64))
    if case == "object":
        return _npz(p, data=np.array([[1, 2], "x"], dtype=object))
    if case == "text":
        p.write_text("0,1\n2,3\n")
        return p
    if case == "empty_file":
        p.write_bytes(b"")
        return p
    if case == "truncated":
        p.write_bytes(trace_path(MIXTRAL).read_bytes()[:120])
        return p
    if case == "npy_inside":
        with open(p, "wb") as f:
            np.save(f, good)
        return p
    if case == "no_data_key":
        return _npz(p, routing=good)
    if case == "three_d":
        return _npz(p, data=good[:, :, None])
    if case == "empty_array":
        return _npz(p, data=np.zeros((0, 2), dtype=np.int64))
    if case == "negative":
        bad = good.copy()
        bad[3, 1] = -1
        return _npz(p, data=bad)
    if case == "too_large_id":
        bad = good.copy()
        bad[0, 0] = 8 if bad[0, 1] != 8 else 9
        return _npz(p, data=bad)
    if case == "duplicate":
        bad = good.copy()
        bad[5] = [4, 4]
        return _npz(p, data=bad)
    if case == "wrong_batch":
        return _npz(p, data=good[:32])
    if case == "wrong_k":
        return _npz(p, data=np.array([[0, 1, 2]] * 64))
    if case == "corrupt_member":
        with zipfile.ZipFile(p, "w") as z:
            z.writestr("data.npy", b"\x93NUMPY garbage")
        return p
    raise AssertionError(case)


ROUTING_CASES = {
    "floats": "dtype float64", "nan": "dtype float64", "bool": "dtype bool",
    "strings": "dtype <U", "complex": "dtype complex64", "object": "unreadable",
    "text": "not a readable .npz", "empty_file": "not a readable .npz",
    "truncated": "not a readable .npz", "npy_inside": "single .npy array",
    "no_data_key": "has no array 'data'", "three_d": r"shape \[64, 2, 1\]",
    "empty_array": "is empty", "negative": "negative expert id -1",
    "too_large_id": "expected ids < 8", "duplicate": "lists an expert twice",
    "wrong_batch": r"expected \[tokens, k\] = \[64, 2\]",
    "wrong_k": r"expected \[tokens, k\] = \[64, 2\]", "corrupt_member": "npz|unreadable",
}


@pytest.mark.parametrize("case", sorted(ROUTING_CASES))
def test_a_malformed_routing_file_is_a_trace_error_naming_it(tmp_path, case):
    path = _bad_routing(tmp_path, case)
    with pytest.raises(TraceError, match=ROUTING_CASES[case]) as err:
        load_routing(path, experts=8, batch=64, top_k=2)
    assert str(path) in str(err.value) and "expected" in str(err.value)
    assert isinstance(err.value, StepError)


# -- malformed KV-length files ------------------------------------------------------------------
KV_CASES = {
    "floats": (lambda p: np.save(p, np.linspace(1, 2, 64)), "dtype float64"),
    "two_d": (lambda p: np.save(p, np.ones((8, 8), dtype=np.int64)), r"shape \[8, 8\]"),
    "scalar": (lambda p: np.save(p, np.int64(5)), r"shape \[\]"),
    "negative": (lambda p: np.save(p, np.r_[np.ones(63, dtype=np.int64), -3]),
                 "negative KV length -3"),
    "too_long": (lambda p: np.save(p, np.r_[np.ones(63, dtype=np.int64), MAX_KV_LENGTH + 1]),
                 f"expected <= {MAX_KV_LENGTH}"),
    "wrong_batch": (lambda p: np.save(p, np.ones(10, dtype=np.int64)),
                    r"holds 10 lengths \(expected 64"),
    "empty": (lambda p: np.save(p, np.zeros(0, dtype=np.int64)), "is empty"),
    "bool": (lambda p: np.save(p, np.ones(64, dtype=bool)), "dtype bool"),
    "object": (lambda p: np.save(p, np.array([1, "a"], dtype=object)), "not a readable .npy"),
    "text": (lambda p: p.write_text("1 2 3\n"), "not a readable .npy"),
    "npz": (lambda p: open(p, "wb").write(trace_path(MIXTRAL).read_bytes()),
            "is an .npz archive"),
}


@pytest.mark.parametrize("case", sorted(KV_CASES))
def test_a_malformed_kv_file_is_a_trace_error_naming_it(tmp_path, case):
    path = tmp_path / "conv_stdev0996_4007_4070.npy"
    make, message = KV_CASES[case]
    make(path)
    with pytest.raises(TraceError, match=message) as err:
        load_kv_lengths(path, batch=64)
    assert str(path) in str(err.value)


@pytest.mark.parametrize("make", ["missing", "folder"])
def test_a_missing_or_non_file_trace_is_named(tmp_path, make):
    path = tmp_path / "x.npy"
    if make == "folder":
        path.mkdir()
    with pytest.raises(TraceError, match="does not exist|not a regular file") as err:
        load_kv_lengths(path)
    assert str(path) in str(err.value)


def test_an_unknown_trace_name_is_rejected():
    with pytest.raises(TraceError, match="unknown trace name 'foo/bar.npy'"):
        expected("foo/bar.npy")


# -- resolution under --traces: real, missing, stand-in -----------------------------------------
def _copy(tmp: Path, *relatives) -> Path:
    root = tmp / "traces"
    for rel in relatives:
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(trace_path(rel), root / rel)
    return root


def test_a_file_missing_under_traces_is_an_error_without_allow_standins(tmp_path):
    root = _copy(tmp_path, QWEN)
    with pytest.raises(TraceError, match="missing under --traces.*--allow-standins") as err:
        resolve(RunContext(traces=root), KV, "x")
    assert KV in str(err.value) and "64 KV lengths" in str(err.value)


def test_allow_standins_records_a_labelled_synthetic_stand_in(tmp_path):
    root = _copy(tmp_path, QWEN)
    ctx = RunContext(traces=root, allow_standins=True)
    assert resolve(ctx, KV, "seeded σ996") == (None, None)
    assert ctx.inputs[KV]["source"] == "synthetic" and ctx.inputs[KV]["standin"] == "seeded σ996"
    path, arr = resolve(ctx, QWEN, "unused")
    assert path == root / QWEN and arr.shape == (64, 8)
    assert ctx.inputs[QWEN] == {"source": "real", "from": "--traces"}


def test_the_vendored_traces_are_real_and_the_withheld_ones_stand_ins():
    ctx = RunContext()
    resolve(ctx, MIXTRAL, "x")
    resolve(ctx, "expert_routing/qwen_b1024/022_016.npz", "standin_routing")
    assert ctx.inputs[MIXTRAL] == {"source": "real", "from": "vendored"}
    withheld = ctx.inputs["expert_routing/qwen_b1024/022_016.npz"]
    assert withheld["source"] == "synthetic" and "withheld" in withheld["reason"]


def test_plan_checks_every_declared_trace_before_running(tmp_path):
    root = _copy(tmp_path, MIXTRAL)
    (root / QWEN).parent.mkdir(parents=True)
    np.savez(root / QWEN, data=np.zeros((64, 8)))
    with pytest.raises(TraceError, match="qwen_b64/032_012.npz.*dtype float64"):
        plan([get_figure("fig9")], RunContext(traces=root))


def test_plan_without_traces_marks_the_withheld_files():
    used = plan([get_figure("fig10"), get_figure("fig21"), get_figure("fig9")], RunContext())
    assert set(used["fig10"].values()) != {"real"}
    assert sum(v != "real" for v in used["fig21"].values()) == 9
    assert set(used["fig9"].values()) == {"real"}


@pytest.mark.parametrize("layout", ["empty", "only_text", "not_a_folder"])
def test_an_empty_or_missing_traces_folder_is_an_error(tmp_path, layout):
    folder = tmp_path / "t"
    if layout != "not_a_folder":
        folder.mkdir()
    if layout == "only_text":
        (folder / "README.md").write_text("nothing here")
    with pytest.raises(TraceError, match="holds no trace file|is not a folder"):
        check_folder(folder)


# -- the command line: one line, exit 2, nothing computed ---------------------------------------
def _cli(argv, capsys) -> tuple:
    code = main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _corrupt_kv(root: Path, content) -> Path:
    path = root / KV
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        np.save(path, content)
    return path


@pytest.mark.parametrize("content,words", [
    (np.linspace(0, 1, 64), "dtype float64"),
    (b"just text", "not a readable .npy"),
    (np.array([1, None], dtype=object), "not a readable .npy"),
    (np.arange(-1, 63), "negative KV length -1"),
    (np.arange(63), "holds 63 lengths"),
])
def test_cli_a_malformed_kv_file_under_traces_exits_2_naming_it(tmp_path, capsys, content,
                                                                words):
    root = tmp_path / "traces"
    path = _corrupt_kv(root, content)
    out = tmp_path / "out"
    code, stdout, err = _cli(["reproduce", "fig15", "--quick", "--traces", str(root), "--out",
                              str(out)], capsys)
    assert code == 2 and err.startswith("step-lab: error: ") and err.count("\n") == 1
    assert str(path) in err and words in err and "Traceback" not in err
    assert not (out / "fig15.json").exists() and "done" not in stdout


@pytest.mark.parametrize("case", ["floats", "text", "object"])
def test_cli_a_malformed_routing_file_under_traces_exits_2_naming_it(tmp_path, capsys, case):
    root = _copy(tmp_path, MIXTRAL)
    path = _bad_routing(tmp_path, case)
    (root / QWEN).parent.mkdir(parents=True)
    shutil.copy(path, root / QWEN)
    code, _, err = _cli(["reproduce", "fig9", "--quick", "--traces", str(root), "--out",
                         str(tmp_path / "o")], capsys)
    assert code == 2 and "qwen_b64/032_012.npz" in err and err.count("\n") == 1


def test_cli_a_kv_file_missing_under_traces_exits_2_and_names_the_option(tmp_path, capsys):
    root = _copy(tmp_path, QWEN)
    code, _, err = _cli(["reproduce", "fig15", "--quick", "--traces", str(root)], capsys)
    assert code == 2 and KV in err and "--allow-standins" in err


@pytest.mark.parametrize("argv,words", [
    (["--traces", "{empty}"], "holds no trace file"),
    (["--traces", "{missing}"], "is not a folder"),
    (["--traces", "{file}"], "is not a folder"),
    (["--allow-standins"], "--allow-standins needs --traces"),
])
def test_cli_bad_traces_options_exit_2(tmp_path, capsys, argv, words):
    (tmp_path / "empty").mkdir()
    (tmp_path / "file").write_text("x")
    paths = {"empty": tmp_path / "empty", "missing": tmp_path / "nope",
             "file": tmp_path / "file"}
    argv = [a.format(**paths) for a in argv]
    code, _, err = _cli(["reproduce", "fig15", "--quick", *argv], capsys)
    assert code == 2 and words in err and err.count("\n") == 1


def test_cli_allow_standins_runs_and_labels_the_stand_in_everywhere(tmp_path, capsys):
    root = _copy(tmp_path, QWEN)               # fig15's KV file is missing
    out = tmp_path / "out"
    code, _, err = _cli(["reproduce", "fig15", "--quick", "--traces", str(root),
                         "--allow-standins", "--out", str(out)], capsys)
    assert code == 0 and "stand-in" in err and KV in err
    rec = json.loads((out / "fig15.json").read_text())
    assert rec["standins"] == [KV] and rec["inputs"][KV]["source"] == "synthetic"
    assert {c["inputs"] for c in rec["checks"].values()} == {"synthetic"}
    assert "synthetic stand-in" in (out / "fig15.html").read_text()
    md = tmp_path / "R.md"
    assert main(["reproduction", "--quick-dir", str(out), "--output", str(md)]) == 0
    head = "\n".join(md.read_text().splitlines()[:8])
    assert KV in head and "0 of 0" in md.read_text()


def test_cli_real_files_under_traces_are_reported_real(tmp_path, capsys):
    root = _copy(tmp_path, KV)
    out = tmp_path / "out"
    code, _, err = _cli(["reproduce", "fig15", "--quick", "--traces", str(root), "--out",
                         str(out)], capsys)
    assert code == 0 and "stand-in" not in err
    rec = json.loads((out / "fig15.json").read_text())
    assert rec["inputs"] == {KV: {"source": "real", "from": "--traces"}}
    assert rec["traces"] == str(root) and rec["standins"] == []
    md = tmp_path / "R.md"
    assert main(["reproduction", "--quick-dir", str(out), "--output", str(md)]) == 0
    text = md.read_text()
    assert f"`--traces {root}`" in text and "every trace was real" in text
    assert "**3 of 3**" in text


def test_cli_failed_points_make_a_nonzero_exit(tmp_path, capsys, monkeypatch):
    from step_lab.reproduce.figures import _attention
    monkeypatch.setattr(_attention, "simulate_point",
                        lambda **kw: (_ for _ in ()).throw(StepError("boom")))
    code, stdout, err = _cli(["reproduce", "fig15", "--quick", "--out", str(tmp_path)], capsys)
    assert code == 1 and "8 point(s) failed" in err and "boom" in err
    rec = json.loads((tmp_path / "fig15.json").read_text())
    assert {c["status"] for c in rec["checks"].values()} == {"no value"}


def test_cli_bad_trace_in_a_subprocess_has_no_traceback(tmp_path):
    root = tmp_path / "traces"
    _corrupt_kv(root, np.array([[1.5]]))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run([sys.executable, "-m", "step_lab.cli", "reproduce", "fig15", "--quick",
                           "--traces", str(root), "--out", str(tmp_path / "o")],
                          capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "dtype float64" in done.stderr and KV in done.stderr


# -- step-lab reproduction over bad folders and outputs -----------------------------------------
def _fig_dir(tmp: Path) -> Path:
    folder = tmp / "quick"
    folder.mkdir()
    shutil.copy(ROOT / "reproduction" / "quick" / "fig15.json", folder / "fig15.json")
    return folder


@pytest.mark.parametrize("content,words", [
    ("{not json", "is not readable JSON"),
    ("[1, 2]", "is not a FIG.json record"),
    ('{"figure": "fig15"}', "is not a FIG.json record"),
    ("\udcff", "is not readable JSON"),
])
def test_reproduction_over_a_corrupt_fig_json_exits_2_naming_it(tmp_path, capsys, content,
                                                                  words):
    folder = _fig_dir(tmp_path)
    bad = folder / "fig9.json"
    bad.write_bytes(content.encode("utf-8", "surrogateescape"))
    code, _, err = _cli(["reproduction", "--quick-dir", str(folder), "--output",
                         str(tmp_path / "R.md")], capsys)
    assert code == 2 and str(bad) in err and words in err and err.count("\n") == 1
    assert not (tmp_path / "R.md").exists()


@pytest.mark.parametrize("which", ["empty", "missing", "none"])
def test_reproduction_without_fig_json_files_exits_2(tmp_path, capsys, which):
    (tmp_path / "empty").mkdir()
    argv = {"empty": ["--quick-dir", str(tmp_path / "empty")],
            "missing": ["--full-dir", str(tmp_path / "nope")], "none": []}[which]
    code, _, err = _cli(["reproduction", *argv, "--output", str(tmp_path / "R.md")], capsys)
    assert code == 2 and err.startswith("step-lab: error: ")
    assert ("holds no fig*.json" in err or "is not a folder" in err
            or "needs --quick-dir" in err)
    assert "0 of 0" not in err and not (tmp_path / "R.md").exists()


@pytest.mark.parametrize("target", ["in_missing_folder", "a_folder", "under_a_file"])
def test_reproduction_to_an_unwritable_output_exits_2(tmp_path, capsys, target):
    folder = _fig_dir(tmp_path)
    (tmp_path / "plain").write_text("x")
    output = {"in_missing_folder": tmp_path / "no" / "R.md", "a_folder": folder,
              "under_a_file": tmp_path / "plain" / "R.md"}[target]
    code, _, err = _cli(["reproduction", "--quick-dir", str(folder), "--output", str(output)],
                        capsys)
    assert code == 2 and "--output" in err and "not a writable file path" in err


def test_reproduction_with_a_malformed_known_misses_file_exits_2(tmp_path, capsys):
    folder = _fig_dir(tmp_path)
    (tmp_path / "KNOWN_MISSES.json").write_text('[{"figure": "fig15", "key": "x"}]')
    code, _, err = _cli(["reproduction", "--quick-dir", str(folder), "--output",
                         str(tmp_path / "R.md")], capsys)
    assert code == 2 and "KNOWN_MISSES.json" in err and "reason" in err


# -- stand-ins for every kind of missing file -------------------------------------------------
def test_a_missing_b64_kv_file_becomes_seeded_lengths_with_its_sigma(tmp_path):
    from step_lab.reproduce.figures._attention import kv_trace
    ctx = RunContext(traces=_copy(tmp_path, QWEN), allow_standins=True)
    notes: list = []
    lengths, label = kv_trace(ctx, 64, "medium", 0, notes)
    again, _ = kv_trace(ctx, 64, "medium", 0, [])
    assert lengths.shape == (64,) and (lengths == again).all() and lengths.min() >= 0
    assert 600 < np.std(lengths, ddof=1) < 1400           # σ996 from the file name
    assert label == "b64.medium.standin1" and notes[0].startswith("SYNTHETIC INPUT")
    assert ctx.inputs[KV]["source"] == "synthetic"


def test_fig17_inputs_fall_back_to_stand_in_lists_only_when_allowed(tmp_path):
    from step_lab.reproduce.figures.fig17 import _input
    root = _copy(tmp_path, MIXTRAL)
    with pytest.raises(TraceError, match="vendored step_lab/data/traces has it"):
        _input(RunContext(traces=root), KV, [])
    ctx = RunContext(traces=root, allow_standins=True)
    notes: list = []
    kv = _input(ctx, KV, notes)
    routing = _input(ctx, QWEN, notes)
    assert isinstance(kv, list) and len(kv) == 64
    assert np.asarray(routing).shape == (64, 8) and len(notes) == 2
    assert _input(ctx, MIXTRAL, notes) == str(root / MIXTRAL)
    assert {k: v["source"] for k, v in ctx.inputs.items()} == {
        KV: "synthetic", QWEN: "synthetic", MIXTRAL: "real"}


@pytest.mark.parametrize("lengths,words", [
    (np.linspace(1, 100, 64), "dtype float64"), (np.full(64, -2), "negative KV length -2"),
    (["x"] * 64, "dtype <U1"), ("/nonexistent/kv.npy", "does not exist"),
])
def test_end_to_end_rejects_bad_kv_lengths_instead_of_truncating(lengths, words):
    from step_lab.workloads.e2e import end_to_end
    with pytest.raises(TraceError, match=words):
        end_to_end("mixtral-8x7b", kv_lengths=lengths)


@pytest.mark.parametrize("routing,words", [
    (np.array([[0.0, 1.0]] * 4), "dtype float64"), (np.array([[0, 0]] * 4), "twice"),
    (np.array([[0, 9]] * 4), "expected ids < 8"), ("/nonexistent/r.npz", "does not exist"),
])
def test_moe_layer_rejects_bad_routing(routing, words):
    from step_lab.workloads import moe_layer
    with pytest.raises(TraceError, match=words):
        moe_layer("mixtral-8x7b", batch=4, routing=routing)
