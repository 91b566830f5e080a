"""Knob settings answered from memory and evaluated ahead (notebook/cache.py, speculate.py)."""
from __future__ import annotations

import threading
import time

import pytest

import step_lab as sl
from step_lab.notebook.cache import OutcomeCache, drawn, options_key, values_key
from step_lab.notebook.constraints import Rule
from step_lab.notebook.knobs import Knob
from step_lab.notebook.outcome import Options
from step_lab.notebook.panel import StepPanel
from step_lab.notebook.speculate import Speculator, neighbours, settle

NO_SIM = Options(simulate=False, show_graph=False)
SIM = Options(simulate=True, animate=True, show_graph=False, values=False)


def counting_builder(log: list, gate: dict | None = None):
    """A small program of ``n`` rows; every build is logged (and may wait at a gate)."""
    def build(values: dict):
        n = values["n"]
        log.append(n)
        if gate and n in gate:
            gate[n].wait(10)
        prog = sl.Program(f"tiny{n}")
        X = prog.tensor("X", (16 * n, 16))
        sl.ops.LinearOffChipStore(sl.ops.LinearOffChipLoad(X, tile=(16, 16)), "Y")
        return prog, {}, {}
    return build


KNOBS = {"n": Knob("n", 2, choices=(1, 2, 3, 4, 5))}


def test_keys_ignore_knob_order_and_include_the_options_that_change_results():
    assert values_key({"a": 1, "b": [2]}) == values_key({"b": [2], "a": 1})
    assert options_key(Options(hw="paper")) != options_key(Options(hw="paper", values=False))
    assert options_key(Options(show_graph=True)) == options_key(Options(show_graph=False))


def test_a_setting_seen_before_is_answered_from_memory_without_building():
    log = []
    panel = StepPanel(counting_builder(log), KNOBS, NO_SIM, background=False)
    panel.set(n=3)
    panel.set(n=2)
    assert log == [2, 3]                                   # 2 came from memory
    assert panel.outcome.cached and "remembered" in panel.summary.value
    assert "tiny2" in panel.summary.value and panel.cache.hits == 1


def test_failures_are_not_remembered():
    log = []

    def build(values):
        log.append(values["n"])
        raise sl.errors.ShapeError("bad n")
    cache = OutcomeCache(build, NO_SIM)
    assert cache.get({"n": 1}).error and cache.get({"n": 1}).error
    assert log == [1, 1] and len(cache) == 0


def test_the_cache_keeps_the_most_recently_used_entries():
    cache = OutcomeCache(counting_builder([]), NO_SIM, max_entries=2)
    for n in (1, 2, 1, 3):
        cache.get({"n": n})
    assert {"n": 1} in cache and {"n": 3} in cache and {"n": 2} not in cache


def test_neighbours_step_each_knob_up_then_down_within_the_offered_choices():
    knobs = {"n": Knob("n", 2, choices=(1, 2, 3, 4)), "on": Knob("on", True),
             "x": Knob("x", 5, range=(0, 10, 5)), "t": Knob("t", "a", choices=("a", "b"))}
    values = {"n": 2, "on": True, "x": 10, "t": "a"}
    got = neighbours(knobs, values, {"n": Rule(choices=(2, 4)), "t": Rule(disabled="n/a")})
    assert got == [{**values, "n": 4}, {**values, "on": False}, {**values, "x": 5}]
    assert len(neighbours(knobs, values, limit=2)) == 2


def test_neighbours_move_other_knobs_as_the_constraints_do():
    knobs = {"batch": Knob("batch", 64, choices=(16, 64)),
             "tile": Knob("tile", 32, choices=(8, 32))}

    def offers(v):
        return {"tile": [t for t in (8, 32) if t <= v["batch"]]}
    assert settle(offers, {"batch": 16, "tile": 32}, knobs) == {"batch": 16, "tile": 8}
    assert {"batch": 16, "tile": 8} in neighbours(knobs, {"batch": 64, "tile": 32},
                                                  constraints=offers)


def test_the_worker_evaluates_the_neighbours_so_the_next_move_is_a_hit():
    log = []
    panel = StepPanel(counting_builder(log), KNOBS, SIM, background=False, speculate=True)
    assert panel.speculator.wait_idle(60)
    assert sorted(log) == [1, 2, 3]                         # shown, then both neighbours
    panel.set(n=3)
    assert panel.cache.hits == 1 and panel.outcome.cached
    assert "player" in panel.outcome.drawn                  # drawn ahead by the worker
    assert "data-step-player" in panel.plots.children[0].outputs[0]["data"]["text/html"]
    assert panel.speculator.wait_idle(60)
    assert sorted(log) == [1, 2, 3, 4]                      # then 4 (3's new neighbour)
    panel.close()


def test_a_shown_player_gets_a_fresh_element_id_each_time_and_names_the_one_it_replaces():
    panel = StepPanel(counting_builder([]), KNOBS, SIM, background=False)

    def shown() -> str:
        return panel.plots.children[0].outputs[0]["data"]["text/html"]
    first = shown()
    panel.set(n=3)
    middle = shown()
    panel.set(n=2)                                          # from memory
    again = shown()
    ids = [html.split("id='", 1)[1].split("'", 1)[0] for html in (first, middle, again)]
    assert len(set(ids)) == 3 and "data-replaces=" not in first
    assert f"data-replaces='{ids[0]}'" in middle and f"data-replaces='{ids[1]}'" in again
    assert again.replace(f" data-replaces='{ids[1]}'", "").replace(ids[2], ids[0]) == first


def test_the_worker_pauses_while_the_foreground_works():
    cache = OutcomeCache(counting_builder([]), NO_SIM)
    worker = Speculator(cache)
    with cache.foreground():
        worker.schedule([{"n": 4}])
        assert not worker.wait_idle(0.3)                    # held at its checkpoint
        assert {"n": 4} not in cache
    assert worker.wait_idle(30) and {"n": 4} in cache
    worker.close()


def test_a_foreground_request_for_a_setting_being_speculated_waits_for_it():
    log, gate = [], {4: threading.Event()}
    cache = OutcomeCache(counting_builder(log, gate), NO_SIM)
    worker = Speculator(cache)
    worker.schedule([{"n": 4}])
    for _ in range(500):                                    # the worker is at the gate
        if log:
            break
        time.sleep(0.01)
    threading.Timer(0.3, gate[4].set).start()
    outcome = cache.get({"n": 4})                           # the worker is building it
    assert outcome.cached and "tiny4" == outcome.program.name
    assert log == [4]                                       # built once
    worker.close()


def test_a_failed_guess_is_dropped_and_shown_when_the_user_picks_it():
    def build(values):
        if values["n"] == 3:
            raise sl.errors.ShapeError("n=3 does not fit")
        return counting_builder([])(values)
    panel = StepPanel(build, KNOBS, NO_SIM, background=False, speculate=True)
    assert panel.speculator.wait_idle(60)
    panel.set(n=3)
    assert "n=3 does not fit" in panel.error.value
    panel.close()


def test_a_guess_is_remembered_once_simulated_and_its_metrics_are_computed_once(monkeypatch):
    """A foreground move to a setting being guessed gets its numbers as soon as the worker has
    simulated it; the metrics follow, computed once for the worker's and the shown copy."""
    from step_lab.notebook import outcome as oc
    calls, real = [], oc._metrics
    monkeypatch.setattr(oc, "_metrics", lambda *a: calls.append(1) or real(*a))
    cache = OutcomeCache(counting_builder([]), SIM)
    guess = cache.get({"n": 4}, speculative=True)
    assert guess.result is not None and guess.metrics is None and calls == []
    hit = cache.get({"n": 4})                              # the user moves there: a hit
    assert hit.cached and hit is not guess and not oc.is_complete(hit)
    assert oc.complete(hit) is None and oc.is_complete(hit) and calls == [1]
    assert oc.complete(guess) is None and oc.is_complete(guess) and calls == [1]
    assert guess.metric_values == hit.metric_values == real(hit.program, hit.bindings)[1]
    assert cache.get({"n": 4}).metric_values == hit.metric_values and calls == [1]


def test_two_threads_completing_copies_of_one_outcome_compute_its_metrics_once(monkeypatch):
    from step_lab.notebook import outcome as oc
    calls, real = [], oc._metrics

    def slow(*args):
        calls.append(1)
        time.sleep(0.2)
        return real(*args)
    monkeypatch.setattr(oc, "_metrics", slow)
    cache = OutcomeCache(counting_builder([]), SIM)
    guess = cache.get({"n": 4}, speculative=True)
    hit = cache.get({"n": 4})
    threads = [threading.Thread(target=oc.complete, args=(o,)) for o in (guess, hit)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert calls == [1] and oc.is_complete(guess) and oc.is_complete(hit)


def test_the_worker_completes_its_guesses_also_when_the_panel_hides_the_metrics():
    options = Options(simulate=True, animate=False, show_metrics=False, show_graph=False,
                      values=False)
    panel = StepPanel(counting_builder([]), KNOBS, options, background=False, speculate=True)
    assert panel.speculator.wait_idle(60)
    guesses = [panel.cache.get(v, speculative=True) for v in ({"n": 1}, {"n": 3})]
    from step_lab.notebook.outcome import is_complete
    assert all(g is not None and is_complete(g) for g in guesses)
    panel.close()


def test_without_a_simulation_a_guess_keeps_its_metrics():
    guess = OutcomeCache(counting_builder([]), NO_SIM).get({"n": 4}, speculative=True)
    assert guess.metrics is not None and guess.metric_values["offchip_traffic"] > 0


def test_drawn_views_are_shared_by_remembered_copies():
    cache = OutcomeCache(counting_builder([]), NO_SIM)
    first = cache.get({"n": 1})
    calls = []
    drawn(first, "view", lambda: calls.append(1) or "v")
    copy = cache.get({"n": 1})
    assert copy is not first and drawn(copy, "view", lambda: calls.append(2)) == "v"
    assert calls == [1]


@pytest.mark.parametrize("background", [True, False])
def test_speculation_follows_the_background_setting_unless_given(background):
    panel = StepPanel(counting_builder([]), KNOBS, NO_SIM, background=background)
    assert (panel.speculator is not None) is background
    panel.close()


def test_explore_can_turn_speculation_off():
    from step_lab.notebook import explore

    def tiny(n=2):
        return counting_builder([])({"n": n})
    assert explore(tiny, n=[1, 2, 3], background=True, speculate=False).panel.speculator is None
    box = explore(tiny, n=[1, 2, 3], background=True, simulate=False)
    assert box.panel.speculator is not None
    box.panel.close()
    assert len(box.panel.cache) == 0                       # closing frees the remembered runs


def test_the_worker_waits_while_the_kernel_runs_a_cell_unless_a_cell_waits_for_it():
    from step_lab.notebook import speculate
    cache = OutcomeCache(counting_builder([]), NO_SIM)
    worker = Speculator(cache)
    speculate._cell_starts()                                # IPython's pre_run_cell
    try:
        worker.schedule([{"n": 4}])
        time.sleep(0.3)
        assert {"n": 4} not in cache and worker.pending() == 1
        assert worker.wait_idle(30) and {"n": 4} in cache   # a cell waiting for it: runs
        worker.schedule([{"n": 5}])
        time.sleep(0.3)
        assert {"n": 5} not in cache
    finally:
        speculate._cell_ends()                              # post_run_cell
    assert worker.wait_idle(30) and {"n": 5} in cache
    worker.close()
