"""A misspelt operator or function names the right one (step_lab.ops / step_lab.fn
``__getattr__``, errors.missing_attribute)."""
import pytest

import step_lab as sl
from step_lab import fn, ops
from step_lab.errors import ConfigError, UnknownNameError


@pytest.mark.parametrize("module, name, suggestion", [
    (ops, "linearoffchipload", "LinearOffChipLoad"), (ops, "LinearOffchipLoad",
                                                      "LinearOffChipLoad"),
    (ops, "Mapp", "Map"), (ops, "flatten", "Flatten"), (ops, "Reasemble", "Reassemble"),
    (fn, "matmul", "Matmul"), (fn, "Silu", "SiLU"), (fn, "MatMulAccumulate",
                                                      "MatmulAccumulate")])
def test_a_misspelt_name_suggests_the_right_one(module, name, suggestion):
    with pytest.raises(UnknownNameError, match=f"did you mean '{suggestion}'") as info:
        getattr(module, name)
    assert name in str(info.value)
    assert isinstance(info.value, AttributeError) and isinstance(info.value, ConfigError)
    assert isinstance(info.value, sl.StepError)


def test_an_unrelated_name_lists_the_names_without_a_guess():
    with pytest.raises(UnknownNameError) as info:
        _ = ops.Frobnicate
    text = str(info.value)
    assert "did you mean" not in text and "step_lab.ops has no operator 'Frobnicate'" in text
    assert "LinearOffChipLoad" in text and "Zip" in text


def test_attribute_protocols_keep_working():
    assert not hasattr(ops, "nothing_here") and getattr(fn, "nope", 7) == 7
    with pytest.raises(AttributeError) as info:
        _ = ops.__wrapped__
    assert not isinstance(info.value, UnknownNameError)
    assert ops.Map is not None and fn.Matmul is not None


def test_a_misspelt_operator_in_a_step_cell_is_one_line_with_the_suggestion():
    pytest.importorskip("IPython")
    from IPython.core.interactiveshell import InteractiveShell
    from IPython.utils.capture import capture_output
    ip = InteractiveShell.instance()
    ip.run_line_magic("load_ext", "step_lab")
    with capture_output() as cap:
        result = ip.run_cell("%%step typo --no-sim\nX = prog.tensor('X', (8, 8))\n"
                             "x = ops.linearoffchipload(X, tile=(8, 8))\n")
    assert not result.success
    assert "did you mean 'LinearOffChipLoad'" in cap.stderr and "Traceback" not in cap.stderr
