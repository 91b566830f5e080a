"""The core's size budget (tools/sz.py): functions <= 60 lines, modules <= 400 lines."""
import runpy
from pathlib import Path

SZ = runpy.run_path(str(Path(__file__).resolve().parents[1] / "tools" / "sz.py"))


def test_the_core_stays_within_its_size_budget():
    assert SZ["violations"]() == []


def test_every_size_exemption_is_still_needed_and_gives_a_reason():
    assert SZ["stale_exemptions"]() == []
    reasons = {**SZ["EXEMPT_MODULES"], **SZ["EXEMPT_FUNCTIONS"]}
    assert all(len(reason) > 20 for reason in reasons.values())


def test_the_function_measure_counts_def_to_end_of_body(tmp_path):
    path = tmp_path / "m.py"
    path.write_text("class A:\n    def f(self):\n        '''doc'''\n        return 1\n\n\n"
                    "def g():\n    def h():\n        pass\n    return h\n")
    assert SZ["function_lengths"](path) == [("A.f", 3), ("g", 4), ("g.h", 2)]
