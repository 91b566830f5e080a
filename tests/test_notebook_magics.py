"""The %%step and %step_config magics inside a real IPython shell (step_lab.notebook.magics)."""
from IPython.utils.capture import capture_output
from test_notebook_support import GEMM_CELL, STATIC_CELL

import step_lab as sl

BAD_SHAPE = """\
X = prog.tensor("X", (64, 64))
x = ops.LinearOffChipLoad(X, tile=(16, 64))
y = ops.Map(x, "not a function")
"""


def run(ip, cell: str):
    with capture_output() as cap:
        result = ip.run_cell(cell)
    return result, cap


def test_a_step_cell_binds_the_program_and_its_result(shell):
    result, cap = run(shell, "%%step gemm\n" + STATIC_CELL)
    assert result.success, cap.stderr
    assert isinstance(shell.user_ns["gemm"], sl.Program)
    assert shell.user_ns["gemm"].name == "gemm"
    sim = shell.user_ns["gemm_result"]
    assert sim.cycles > 0 and sim.offchip_bytes == 851_968


def test_a_step_cell_displays_summary_latex_metrics_and_the_svg_graph(shell):
    _, cap = run(shell, "%%step gemm\n" + STATIC_CELL)
    kinds = [sorted(o.data) for o in cap.outputs]
    assert kinds == [["text/html", "text/plain"], ["text/latex", "text/plain"],
                     ["text/html", "text/plain"]]
    summary, latex, graph = (o.data for o in cap.outputs)
    assert "cycles" in summary["text/html"] and "851,968" in summary["text/html"]
    assert (r"\text{off-chip traffic} &= 3328 \cdot M\ \mathrm{B} &&= 851{,}968\ \mathrm{B}"
            in latex["text/latex"])                # never "3328 M" (reads as "3328 mega")
    assert r"\\ &\text{at M = 256}\end{aligned}" in latex["text/latex"]   # its own row
    assert "Why is it slow?" in summary["text/html"] and "step-lab-why" in summary["text/html"]
    assert "<svg" in graph["text/html"] and "busy" in graph["text/html"]


def test_no_sim_skips_the_simulation_and_shows_symbolic_numbers(shell):
    result, cap = run(shell, "%%step gemm --no-sim\n" + STATIC_CELL)
    assert result.success
    assert shell.user_ns["gemm_result"] is None
    assert "off-chip traffic (symbolic)" in cap.outputs[0].data["text/html"]


def test_the_default_name_is_prog(shell):
    run(shell, "%%step --no-sim\n" + STATIC_CELL)
    assert isinstance(shell.user_ns["prog"], sl.Program)
    assert "prog_result" in shell.user_ns


def test_a_shape_error_is_one_short_usage_error_naming_the_cell_line(shell):
    result, cap = run(shell, "%%step oops --no-sim\n" + BAD_SHAPE)
    assert not result.success
    lines = cap.stderr.strip().splitlines()
    assert lines[0].startswith("UsageError: ShapeError at line 4 of %%step 'oops': Map")
    assert lines[1].strip() == 'y = ops.Map(x, "not a function")'
    assert len(lines) <= 3 and "Traceback" not in cap.stderr and "File " not in cap.stderr
    assert "oops" not in shell.user_ns


def test_a_syntax_error_is_one_short_usage_error_with_a_caret(shell):
    result, cap = run(shell, "%%step oops\nx = 1\ny = = 2\n")
    assert not result.success
    lines = cap.stderr.strip().splitlines()
    assert lines[0].startswith("UsageError: SyntaxError at line 3 of %%step 'oops'")
    assert lines[1].strip() == "y = = 2" and lines[2].strip() == "^"
    assert "Traceback" not in cap.stderr


def test_the_kernel_stays_usable_after_an_error(shell):
    run(shell, "%%step oops --no-sim\n" + BAD_SHAPE)
    result, _ = run(shell, "after = 40 + 2")
    assert result.success and shell.user_ns["after"] == 42
    result, cap = run(shell, "%%step fine --no-sim\n" + STATIC_CELL)
    assert result.success, cap.stderr


def test_an_unknown_hardware_preset_suggests_the_closest_one(shell):
    result, cap = run(shell, "%%step gemm --hw papr\n" + STATIC_CELL)
    assert not result.success
    assert "unknown hardware preset 'papr'" in cap.stderr and "did you mean 'paper'" in cap.stderr


def test_a_bad_program_name_is_a_usage_error(shell):
    _, cap = run(shell, "%%step 3bad\n" + STATIC_CELL)
    assert "program name '3bad' is not a Python identifier" in cap.stderr


def test_knobs_turn_the_output_into_one_widget_panel(shell):
    _, cap = run(shell, "%%step gemm --no-sim\n" + GEMM_CELL)
    assert len(cap.outputs) == 1
    assert "application/vnd.jupyter.widget-view+json" in cap.outputs[0].data
    panel = shell.magics_manager.registry["StepMagics"].last
    assert sorted(panel.controls) == ["M", "col_tile", "tile"]


def test_step_config_and_config_set_the_same_traits(shell):
    magics = shell.magics_manager.registry["StepMagics"]
    run(shell, "%step_config hw=validation annotate='bytes'")
    assert (magics.hw, magics.annotate) == ("validation", "bytes")
    run(shell, "%config StepMagics.hw = 'paper'")
    assert magics.hw == "paper"
    _, cap = run(shell, "%step_config")
    assert "StepMagics.hw = 'paper'" in cap.stdout


def test_step_config_rejects_unknown_settings_and_bad_presets(shell):
    _, cap = run(shell, "%step_config hww=paper")
    assert "'hww=paper' is not a setting" in cap.stderr and "did you mean 'hw'" in cap.stderr
    _, cap = run(shell, "%step_config hw=nonsense")
    assert "unknown hardware preset 'nonsense'" in cap.stderr


def test_full_traceback_mode_re_raises_the_original_error(shell):
    run(shell, "%step_config full_traceback=True")
    _, cap = run(shell, "%%step oops --no-sim\n" + BAD_SHAPE)
    assert "ShapeError" in cap.stdout + cap.stderr and "Traceback" in cap.stdout + cap.stderr


def test_loading_the_extension_twice_is_harmless(shell):
    shell.run_line_magic("load_ext", "step_lab")
    result, _ = run(shell, "%%step --no-sim\n" + STATIC_CELL)
    assert result.success


def test_animate_shows_the_player_with_bokehjs_inline_every_time(shell):
    for _ in range(2):                                   # e.g. after a page reload: again
        run(shell, "%%step gemm --animate\n" + STATIC_CELL)
        panel = shell.magics_manager.registry["StepMagics"].last
        assert len(panel.plots.children) == 2           # the player, BokehJS (sent once)
        assert panel.animation.count >= 1
        assert "data-step-player" in panel.plots.children[0].outputs[0]["data"]["text/html"]
        text = panel.plots.children[1].outputs[0]["data"]["text/html"]
        assert "step-lab-bokehjs" in text and "cdn.bokeh.org" not in text   # INLINE, not CDN
        assert len(text) > 1_000_000


def test_timing_only_simulation_is_a_setting(shell):
    run(shell, "%step_config values=False")
    result, cap = run(shell, "%%step gemm\n" + STATIC_CELL)
    assert result.success, cap.stderr
    assert shell.user_ns["gemm_result"].offchip_bytes == 851_968


DEADLOCK = """\
X = prog.tensor("X", (16, 16))
x = ops.LinearOffChipLoad(X, tile=(16, 16))
back = prog.feedback(x.dtype, x.shape)
y = ops.Map([x, back], fn.Add())
prog.connect(back, y)
ops.LinearOffChipStore(y, "Y")
"""


def test_a_deadlock_is_one_usage_error_naming_the_blocked_nodes(shell):
    result, cap = run(shell, "%%step stuck\n" + DEADLOCK)
    assert not result.success
    assert cap.stderr.startswith("UsageError: DeadlockError while simulating 'stuck': ")
    assert "'map0' (Map) at cycle 0 waits for a token" in cap.stderr
    assert "Traceback" not in cap.stderr and "stuck" not in shell.user_ns
    assert run(shell, "after = 1 + 1")[0].success and shell.user_ns["after"] == 2


def test_bound_symbols_are_listed_in_natural_order():
    from step_lab.notebook.outcome import _natural
    names = ["sel_x10", "sel_x2", "sel_x100", "sel_x0", "M"]
    assert sorted(names, key=_natural) == ["M", "sel_x0", "sel_x2", "sel_x10", "sel_x100"]
