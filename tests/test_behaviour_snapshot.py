"""tools/behaviour_snapshot.py: --compare reports every differing number and exits 1 on any."""
import json
import runpy
from pathlib import Path

import numpy as np

TOOL = runpy.run_path(str(Path(__file__).resolve().parents[1] / "tools" /
                          "behaviour_snapshot.py"))


def test_differences_name_each_changed_number_and_skip_timings():
    before = {"figures": {"fig9": {"headline": {"pid": 1.33, "memory": [1, 2]},
                                   "_elapsed_s": 3.0}}}
    after = {"figures": {"fig9": {"headline": {"pid": 1.34, "memory": [1, 3]},
                                  "_elapsed_s": 9.0}}}
    assert TOOL["differences"](before, before) == []
    assert TOOL["differences"](before, after) == ["figures.fig9.headline.memory[1]: 2 -> 3",
                                                  "figures.fig9.headline.pid: 1.33 -> 1.34"]
    gone = TOOL["differences"](before, {"figures": {}})
    assert gone == ["figures.fig9: {'headline': {'pid': 1.33, 'memory': [1, 2]}, '_elapsed_s':"
                    " 3.0} -> 'missing'"]


def test_compare_exits_1_on_a_difference_and_0_without(tmp_path, capsys):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    a.write_text(json.dumps({"workloads": {"swiglu": {"sim": {"cycles": 10}}}}))
    b.write_text(json.dumps({"workloads": {"swiglu": {"sim": {"cycles": 11}}}}))
    assert TOOL["compare"](a, a) == 0
    assert TOOL["compare"](a, b) == 1
    out = capsys.readouterr().out
    assert "workloads.swiglu.sim.cycles: 10 -> 11" in out and "1 difference(s)" in out


def test_snapshot_values_are_plain_json():
    value = {"a": np.int64(3), "b": np.array([1.5, 2.0]), "c": (1, 2), "elapsed_s": 4.0}
    assert TOOL["_plain"](value) == {"a": 3, "b": [1.5, 2.0], "c": [1, 2]}
