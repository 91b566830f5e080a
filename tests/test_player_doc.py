"""The player's bokeh document from a cached template equals bokeh's own (notebook._player_doc).

The fast path writes a run's values into a serialised document of the same structure; the
reference builds the figures and lets bokeh serialise them. Equal up to model ids, for players
of every shape (one run, two runs, no placed units, no FIFOs, thinned heatmap labels), whatever
player built the template.
"""
import json
from dataclasses import replace

import numpy as np
import pytest
from test_notebook_support import synthetic_occupancy

from step_lab.notebook import _player_doc
from step_lab.notebook.occupancy import Occupancy
from step_lab.notebook.player import Player


def _normal(item: dict, player: Player) -> dict:
    """``item`` as plain JSON with model ids numbered in order of first appearance, and every
    run-dependent property that bokeh left out (at its default) written with its default."""
    from bokeh.core.serialization import Serializer

    from step_lab.notebook._player_figures import path_steps, targets
    item = json.loads(json.dumps(item))
    values = player.figure_values()
    layout = player.layout("ref")
    defaults = {(model, path): target.lookup(attr).class_default(type(target))
                for (model, path), (target, attr, _) in zip(
                    [(m, p) for m, props in values.items() for p in props],
                    targets(layout, "ref", values), strict=True)}
    by_id, named = _player_doc.models(item)
    names = {name.split(":", 1)[1]: m for name, m in named.items()}
    for (model, path), default in defaults.items():
        *steps, last = path_steps(path)
        attributes = _player_doc.holder(by_id, names[model], steps).setdefault("attributes", {})
        if last not in attributes:
            attributes[last] = json.loads(json.dumps(Serializer(deferred=False).encode(default)))
    ids: dict[str, str] = {}

    def rename(node):
        if isinstance(node, dict):
            return {k: (ids.setdefault(v, f"m{len(ids)}") if k in ("id", "root_id")
                        and isinstance(v, str) else rename(v)) for k, v in node.items()}
        if isinstance(node, list):
            return [rename(v) for v in node]
        return node
    return rename(item)


def _players() -> dict:
    many = synthetic_occupancy(units=160, cycles=700, fifos=5, seed=3)
    many.units = [replace(unit, name=f"e{i // 2}_{unit.name}")     # 80 groups: heatmap
                  for i, unit in enumerate(many.units)]            # labels thinned
    return {"one run": Player([synthetic_occupancy(seed=1)]),
            "other run": Player([synthetic_occupancy(units=9, cycles=1300, fifos=0, seed=2,
                                                       label="other")]),
            "many groups": Player([many]),
            "no units": Player([Occupancy(100, [], [])]),
            "two runs": Player([synthetic_occupancy(seed=4, label="static"),
                                synthetic_occupancy(units=3, cycles=900, seed=5,
                                                    label="dynamic")]),
            "two other runs": Player([synthetic_occupancy(units=12, seed=6, label="a"),
                                      synthetic_occupancy(cycles=250, seed=7, label="b")])}


@pytest.fixture(autouse=True)
def _no_templates():
    _player_doc.clear_templates()
    yield
    _player_doc.clear_templates()


def _item(player: Player, pid: str, fast: bool) -> dict:
    make = _player_doc.document_item if fast else _player_doc.fresh_item
    return make(len(player.runs), pid, player.width, player.figure_values())


@pytest.mark.parametrize("template_of", ["one run", "other run", "many groups", "no units"])
def test_every_one_run_player_equals_bokehs_document_whichever_player_made_the_template(
        template_of):
    players = _players()
    _item(players[template_of], "pid-0", fast=True)             # builds the template
    for name in ("one run", "other run", "many groups", "no units"):
        fast = _item(players[name], "pid-1", fast=True)
        fresh = _item(players[name], "pid-1", fast=False)
        assert _normal(fast, players[name]) == _normal(fresh, players[name]), name


def test_two_run_players_equal_bokehs_document_legend_labels_included():
    players = _players()
    _item(players["two runs"], "x", fast=True)
    fast = _item(players["two other runs"], "y", fast=True)
    fresh = _item(players["two other runs"], "y", fast=False)
    assert _normal(fast, players["two other runs"]) == _normal(fresh, players["two other runs"])
    text = json.dumps(fast, separators=(",", ":"))
    assert '"value":"a"' in text and '"value":"static"' not in text


def test_a_template_is_built_once_per_structure_and_reused(monkeypatch):
    players = _players()
    _item(players["one run"], "a", fast=True)
    _item(players["two runs"], "b", fast=True)
    monkeypatch.setattr(_player_doc, "fresh_item", lambda *a: pytest.fail("rebuilt"))
    _item(players["many groups"], "c", fast=True)
    _item(players["two other runs"], "d", fast=True)


def test_two_players_from_one_template_share_no_model_ids_and_name_their_own_models():
    players = _players()
    a = _item(players["one run"], "step-player-a", fast=True)
    b = _item(players["other run"], "step-player-b", fast=True)
    assert set(_player_doc.models(a)[0]).isdisjoint(_player_doc.models(b)[0])
    text = json.dumps(b, separators=(",", ":"))
    assert "step-player-a" not in text and "step-player-b:segments_0" in text
    assert "drill('step-player-b', 0" in text                   # the tap callback's player


def test_the_html_carries_the_templated_document(monkeypatch):
    player = _players()["many groups"]
    html = player.html(include_bokehjs=False)
    pid = html.split("id='", 1)[1].split("'", 1)[0]
    doc = json.loads(html.split(f"id='{pid}-doc'>", 1)[1].split("</script>", 1)[0])
    assert _normal(doc, player) == _normal(_item(player, pid, fast=False), player)
    heat = player.figure_values()["heat_0"]["data"]["image"][0]
    assert heat.dtype == np.uint32 and heat.shape[0] == len(player.runs[0].groups)


def test_a_bad_property_path_is_named():
    from step_lab.notebook._player_figures import path_steps
    assert path_steps("left[0].ticker.ticks") == ["left", 0, "ticker", "ticks"]
    with pytest.raises(ValueError, match="bad property path 'x..y'"):
        path_steps("x..y")


def test_the_figures_show_each_runs_own_titles_ranges_labels_and_peak():
    from bokeh.models import Label, Span

    from step_lab.notebook._player_values import heat_ticks
    player = _players()["many groups"]
    run = player.runs[0]
    layout = player.layout("p")

    def model(name):
        return layout.select_one({"name": f"p:{name}"})
    groups, units, cycles = len(run.groups), len(run.unit_names), run.cycles
    assert model("group_grid_0").title.text == f"synthetic: {groups} groups, {units} units"
    heat = model("heatmap_0")
    assert heat.title.text.startswith("synthetic: utilization, bins of ")
    assert heat.y_range.start == -groups and heat.x_range.end == player.boundaries[-1]
    ticks = heat_ticks(groups, min(24.0, max(3.0, 420.0 / groups)))
    assert 1 < len(ticks) < groups and heat.left[0].ticker.ticks == [-g - 0.5 for g in ticks]
    assert heat.left[0].axis_label == f"groups (1 in {ticks[1]} labelled)"
    assert set(heat.left[0].major_label_overrides) == {-g - 0.5 for g in ticks}
    image = model("heat_0").data
    assert (image["y"], image["dh"], image["dw"]) == ([-groups], [groups], [cycles])
    assert image["image"][0].shape == (groups, len(run.heat_edges) - 1)
    assert model("heat_names_0").args["names"] == run.groups
    fifo = model("fifo_fill_0")
    assert fifo.visible and fifo.title.text == "synthetic: FIFO fill (this frame)"
    assert fifo.below[0].axis_label == f"all {len(run.fifo_names)} FIFOs"
    assert model("fifos_0").data["name"] == run.fifo_names
    bandwidth = model("bandwidth")
    assert isinstance(model("peak"), Span) and model("peak").location == run.peak
    assert isinstance(model("peak_label"), Label) and model("peak_label").y == run.peak
    assert model("peak_label").text == f"peak {run.peak:,.0f} bytes/cycle"
    assert bandwidth.y_range.end == run.peak * 1.3
    assert len(model("bandwidth_0").data["bandwidth"]) == player.count
    empty = Player([synthetic_occupancy(units=3, fifos=0, seed=9)]).layout("q")
    assert not empty.select_one({"name": "q:fifo_fill_0"}).visible


def test_the_patch_events_turn_another_players_document_into_this_ones():
    """What the browser does when a knob change replaces a player of the same structure: the
    replaced player's document, patched with the new player's events, is the new document."""
    players = _players()
    old = _player_doc.document_item(1, "step-player-old", 900,
                                    players["one run"].figure_values())
    events: list = []
    new = _player_doc.document_item(1, "step-player-new", 900,
                                    players["many groups"].figure_values(), events)
    assert events and all(e["kind"] == "ModelChanged" for e in events)
    patched = json.loads(json.dumps(old))
    models, _ = _player_doc.models(patched)
    for e in json.loads(json.dumps(events)):
        model_id = "step-player-old" + e["model"]["id"][len("step-player-new"):]
        models[model_id].setdefault("attributes", {})[e["attr"]] = e["new"]
    text = json.dumps(patched).replace("step-player-old", "step-player-new")
    assert _normal(json.loads(text), players["many groups"]) == \
        _normal(new, players["many groups"])


def test_only_a_replaceable_player_carries_the_patch():
    player = _players()["one run"]
    assert "-patch'" not in player.html(include_bokehjs=False)
    text = player.html(include_bokehjs=False, replaceable=True)
    pid = text.split("id='", 1)[1].split("'", 1)[0]
    patch = json.loads(text.split(f"id='{pid}-patch'>", 1)[1].split("</script>", 1)[0])
    assert {e["attr"] for e in patch["events"]} >= {"data", "text", "end", "reset_end"}
    assert f"data-structure='1x{player.width}'" in text


def test_model_ids_of_any_form_get_the_players_own_prefix(monkeypatch):
    """With ``BOKEH_SIMPLE_IDS=no`` bokeh's ids are uuids: still unique per player."""
    monkeypatch.setenv("BOKEH_SIMPLE_IDS", "no")
    players = _players()
    a = _item(players["one run"], "step-player-a", fast=True)
    b = _item(players["other run"], "step-player-b", fast=True)
    ids = [set(_player_doc.models(item)[0]) for item in (a, b)]
    assert ids[0] and ids[0].isdisjoint(ids[1])
    assert all(i.startswith("step-player-b-") for i in ids[1])
