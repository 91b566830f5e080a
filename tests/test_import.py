"""`import step_lab` must stay light: no notebook or scale-out libraries (STYLE.md §1)."""
import json
import subprocess
import sys

HEAVY = ["IPython", "ipywidgets", "bokeh", "graphviz", "dask", "jupyter_bokeh", "simpy"]


def test_import_step_lab_loads_no_notebook_or_dask_modules():
    code = ("import json, sys, step_lab as sl\n"
            "p = sl.Program('x'); sl.dim('B')\n"
            f"print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_public_names_of_the_api_contract_exist():
    import step_lab as sl
    for name in ["dim", "Program", "ops", "fn", "metrics", "interpret", "StepError", "ShapeError",
                 "GraphError", "BindingError", "DeadlockError", "ConfigError"]:
        assert hasattr(sl, name), name
    for op in ["Partition", "Reassemble", "EagerMerge", "Map", "Accum", "Scan", "FlatMap",
               "Flatten", "Reshape", "Promote", "Expand", "Zip", "Bufferize", "Streamify",
               "LinearOffChipLoad", "LinearOffChipStore", "RandomOffChipLoad",
               "RandomOffChipStore"]:
        assert hasattr(sl.ops, op), op
    assert issubclass(sl.ShapeError, sl.StepError)


def _blas_env_after(code: str, **env) -> list:
    import os
    clean = {k: v for k, v in os.environ.items()
             if k not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}
    code += ("\nimport os, json\nprint(json.dumps([os.environ.get(v) for v in "
             "('OPENBLAS_NUM_THREADS', 'OMP_NUM_THREADS', 'MKL_NUM_THREADS')]))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**clean, **env})
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_step_lab_makes_blas_single_threaded_unless_numpy_came_first_or_user_set_it():
    assert _blas_env_after("import step_lab") == ["1", "1", "1"]
    assert _blas_env_after("import step_lab", OPENBLAS_NUM_THREADS="4") == ["4", "1", "1"]
    # numpy loaded first: BLAS has read its settings already, so step_lab leaves them alone
    assert _blas_env_after("import numpy, step_lab") == [None, None, None]
