"""Bad input inside a %%step cell: one short UsageError naming the error class (issue 13)."""
import pytest
from IPython.utils.capture import capture_output

CELL = """\
X = prog.tensor("X", (sl.dim("B"), 64), "f32")
ops.LinearOffChipStore(ops.LinearOffChipLoad(X, tile=(1, 64)), "Y")
"""


def run(ip, cell: str):
    with capture_output() as cap:
        result = ip.run_cell(cell)
    return result, cap


BAD = [
    ("bindings = {'B': -4}", "BindingError", "negative"),
    ("bindings = {'B': 3.5}", "BindingError", "float"),
    ("bindings = {'B': 'four'}", "BindingError", "'four'"),
    ("bindings = {'B': None}", "BindingError", "None"),
    ("bindings = {'B': True}", "BindingError", "bool"),
    ("bindings = {'b': 2}", "BindingError", "did you mean 'B'"),
    ("bindings = {'B': 10**12}", "ConfigError", "max_events"),
    ("bindings = {'B': 2}\ninputs = {'X': np.full((2, 64), 'a')}", "InputError", "strings"),
    ("bindings = {'B': 2}\ninputs = {'X': np.zeros((5, 64))}", "InputError", "(5, 64)"),
    ("bindings = {'B': 2}\ninputs = {'Z': np.zeros((2, 64))}", "BindingError", "'Z'"),
]


@pytest.mark.parametrize("extra, cls, word", BAD, ids=[b[1] + str(i) for i, b in enumerate(BAD)])
def test_a_bad_value_in_a_step_cell_is_one_short_usage_error(shell, extra, cls, word):
    shell.run_cell("%config StepMagics.background = False")
    result, cap = run(shell, "%%step bad\n" + CELL + extra + "\n")
    text = cap.stderr + "".join(str(o.data.get("text/plain", "")) for o in cap.outputs)
    assert "Traceback" not in cap.stderr and "File " not in cap.stderr
    assert cls in text and word in text, text
