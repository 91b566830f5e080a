"""The paper sweeps run unchanged on a Dask cluster (issue: scale-out)."""
import json
import sys

import pytest

from step_lab.cli import main


def _headline(folder, fig):
    return json.loads((folder / f"{fig}.json").read_text())["headline"]


def test_a_figure_sweep_on_a_two_worker_cluster_equals_the_local_run(tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed", reason="dask extra not installed")
    # IPython's test shell (tests/test_notebook_*) swaps in a __main__ without __spec__, which
    # multiprocessing's spawn needs; a real `step-lab` process always has one.
    monkeypatch.setattr(sys.modules["__main__"], "__spec__", None, raising=False)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        assert main(["reproduce", "fig13", "--quick", "--out", str(tmp_path / "dask"),
                     "--scheduler", cluster.scheduler_address]) == 0
    assert main(["reproduce", "fig13", "--quick", "--out", str(tmp_path / "local")]) == 0
    assert _headline(tmp_path / "dask", "fig13") == _headline(tmp_path / "local", "fig13")
    points = json.loads((tmp_path / "dask" / "fig13.json").read_text())["points"]
    assert points and all(p.get("error") in (None, "") for p in points if isinstance(p, dict))
