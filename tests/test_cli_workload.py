"""``step-lab simulate --workload moe|attention --model NAME|config.json`` prints and reports."""
import json

from step_lab.cli import main
from step_lab.workloads.models import gallery_path


def test_moe_workload_of_a_gallery_model_prints_and_writes_the_report(capsys, tmp_path):
    out = tmp_path / "r" / "ds.html"
    assert main(["simulate", "--workload", "moe", "--model", "deepseek-v2-lite", "--batch", "16",
                 "--report", str(out)]) == 0
    text = capsys.readouterr().out
    rows = {k.strip(): v for k, v in (line.split(": ", 1) for line in text.splitlines()
                                      if ": " in line and not line.startswith("step-lab"))}
    assert rows["program"] == "moe_deepseek-v2-lite_b16_dynamic"
    assert rows["off-chip bytes"] == rows["off-chip bytes (symbolic)"]
    # an MoE layer makes no attention approximation: the MLA note is the attention layer's
    assert "latent" not in rows["notes"] and "uniform synthetic routing" in rows["input"]
    page = out.read_text(encoding="utf-8")
    assert "multi-head latent attention" not in page
    assert "data-step-player" in page and "Why is it slow?" in page   # the views of FILE reports
    assert "nodes drawn" in page                                # the collapsed graph view
    data = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))
    assert data["result"]["cycles"] > 0 and data["params"]["batch"] == 16


def test_attention_workload_from_a_config_path_and_a_trace_folder(capsys, tmp_path):
    cfg = tmp_path / "oss" / "config.json"
    cfg.parent.mkdir()
    cfg.write_text(gallery_path("gpt-oss-20b").read_text())
    kv = tmp_path / "traces" / "kv_lengths" / "b8"
    kv.mkdir(parents=True)
    import numpy as np
    np.save(kv / "mine.npy", np.array([10, 500, 90, 3000, 7, 64, 129, 1000]))
    assert main(["simulate", "--workload", "attention", "--model", str(cfg), "--batch", "8",
                 "--traces", str(tmp_path / "traces"), "--window", "128", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["rows"]["model"] == "oss" and "mine.npy" in data["rows"]["input"]
    assert "capped at 128" in data["rows"]["notes"]


def test_the_mla_approximation_is_stated_on_attention_layers(capsys, tmp_path):
    out = tmp_path / "attn.html"
    assert main(["simulate", "--workload", "attention", "--model", "deepseek-v2-lite",
                 "--batch", "8", "--report", str(out), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)          # --json: stdout is JSON only
    assert "multi-head latent attention" in data["rows"]["notes"]
    page = out.read_text(encoding="utf-8")
    assert "Approximations" in page and page.count("multi-head latent attention") == 1


def test_workload_usage_errors_exit_2_with_one_line(capsys, tmp_path):
    cases = [(["simulate", "--workload", "moe"], "needs --model"),
             (["simulate"], "needs FILE"),
             (["simulate", "--workload", "moe", "--model", "mixtral-8x7b", "--batch", "0"],
              "--batch 0"),
             (["simulate", "--workload", "moe", "--model", "mixtral-8x7b", "--batch", "16",
               "--traces", str(tmp_path)], "no routing trace for mixtral-8x7b at batch 16"),
             (["simulate", "--workload", "gemm", "--model", "x"], "invalid choice")]
    for argv, message in cases:
        assert main(argv) == 2, argv
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    for argv, message in [(["--model", "deepseek-v4"], "unknown model 'deepseek-v4'"),
                          (["--model", str(tmp_path / "none" / "config.json")], "config.json")]:
        assert main(["simulate", "--workload", "moe", *argv]) == 2       # an argument mistake
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err


def test_a_bad_report_path_fails_before_simulating(capsys, tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    argv = ["simulate", "--workload", "moe", "--model", "deepseek-v3", "--batch", "64",
            "--report", str(blocker / "r.html")]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert "--report folder" in captured.err and "cycles" not in captured.out   # nothing ran


def test_python_m_cli_reports_workload_mistakes_as_usage_errors(tmp_path):
    import subprocess
    import sys
    proc = subprocess.run([sys.executable, "-m", "step_lab.cli", "simulate", "--workload", "moe",
                           "--model", "qwen3-30b-a3b", "--batch", "-3"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "internal" not in proc.stderr
    assert proc.stderr.strip() == "step-lab: error: --batch -3 (expected an int >= 1)"
