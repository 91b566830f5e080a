"""The player's bokeh document as JSON, from a cached document of the same structure.

Building the player's ~140 bokeh models and serialising them cost ~0.15–0.25 s of every knob
change (bokeh works out each model's non-default properties one by one), yet the models
themselves depend only on the player's width and number of runs: what a run changes is a
fixed set of property values (:func:`._player_values.figure_values`). So the first player of a
structure is built and serialised by bokeh and kept as a template (JSON text, its player id and
model ids replaced by a marker); every later one parses the template, writes its own values
into it, encoded by bokeh's own serializer, and gives every model an id of its own (two players
on a page never share ids). ``tests/test_player_doc.py`` checks the result equals what bokeh
serialises for freshly built figures, up to the model ids and properties written with their
default value (which bokeh leaves out).

[Choice] Up to 8 structures are kept per process (a notebook shows one or two widths and run
counts); a template is only ever read, so panels evaluating in background threads share them.
"""
from __future__ import annotations

import json
import re
import threading
from typing import Any

from ._player_figures import path_steps, player_layout
from ._player_values import Values

__all__ = ["document_item", "fresh_item", "clear_templates", "models", "holder"]

_MARK = "@@step-player@@"
_IDS = re.compile(r'"(id|root_id)":"([^"]+)"')      # (BOKEH_SIMPLE_IDS=no: uuids)
_LIMIT = 8
_TEMPLATES: dict[tuple[int, int], str] = {}
_LOCK = threading.Lock()


def fresh_item(runs: int, pid: str, width: int, values: Values) -> dict:
    """bokeh's ``json_item`` of newly built figures (the reference; also builds templates)."""
    from bokeh.embed import json_item
    return json_item(player_layout(runs, pid, width, values))


def document_item(runs: int, pid: str, width: int, values: Values,
                  events: list | None = None) -> dict:
    """The ``json_item`` of the player's figures for ``values``: the cached template of this
    (``runs``, ``width``) written with ``values``; built by bokeh the first time.

    ``events`` (a list) receives the same values as BokehJS ``ModelChanged`` patch events: the
    browser applies them to the document of the player this one replaces, when it has the same
    structure, instead of embedding a new document (:mod:`._player_js`)."""
    key = (runs, width)
    template = _TEMPLATES.get(key)
    if template is None:
        template = _template(runs, width, values)
        with _LOCK:
            if len(_TEMPLATES) >= _LIMIT:
                _TEMPLATES.pop(next(iter(_TEMPLATES)))
            _TEMPLATES[key] = template
    item = json.loads(template.replace(_MARK, pid))
    _write(item["doc"], pid, values, events if events is not None else [])
    return item


def clear_templates() -> None:
    """Forget every cached structure (tests; a new bokeh version in a running kernel)."""
    with _LOCK:
        _TEMPLATES.clear()


def _template(runs: int, width: int, values: Values) -> str:
    """The serialised figures, their ids and player id marked."""
    text = json.dumps(fresh_item(runs, _MARK, width, values), separators=(",", ":"))
    return _IDS.sub(rf'"\1":"{_MARK}-\2"', text)


def _write(doc: dict, pid: str, values: Values, events: list) -> None:
    """Write ``values`` into the serialised document ``doc`` (models named ``{pid}:model``),
    and append each as a patch event to ``events``.

    Every value is written, also one equal to its property's default, which bokeh leaves out
    (BokehJS reads an absent property as its default: the same figure)."""
    from bokeh.core.serialization import Serializer
    by_id, named = models(doc)
    encode = Serializer(deferred=False).encode
    for model, props in values.items():
        for path, value in props.items():
            *steps, last = path_steps(path)
            target = holder(by_id, named[f"{pid}:{model}"], steps)
            encoded = encode(value)
            target.setdefault("attributes", {})[last] = encoded
            events.append({"kind": "ModelChanged", "model": {"id": target["id"]}, "attr": last,
                           "new": encoded})


def models(doc: Any) -> tuple[dict[str, dict], dict[str, dict]]:
    """``(by id, by name)``: every serialised model in ``doc`` (a name where it has one)."""
    by_id: dict[str, dict] = {}
    named: dict[str, dict] = {}
    _index(doc, by_id, named)
    return by_id, named


def holder(by_id: dict, model: dict, steps: list) -> dict:
    """The serialised model reached from ``model`` by attribute/index ``steps`` (references
    to models serialised earlier resolved through ``by_id``)."""
    target: Any = model
    for step in steps:
        target = target[step] if isinstance(step, int) else target["attributes"][step]
        if isinstance(target, dict) and target.keys() == {"id"}:
            target = by_id[target["id"]]                  # a reference to a model seen before
    return target


def _index(node: Any, by_id: dict, named: dict) -> None:
    """Every serialised model in ``node`` by id, and by name where it has one."""
    if isinstance(node, dict):
        if node.get("type") == "object" and "id" in node:
            by_id[node["id"]] = node
            name = node.get("attributes", {}).get("name")
            if isinstance(name, str):
                named[name] = node
        for value in node.values():
            _index(value, by_id, named)
    elif isinstance(node, list):
        for value in node:
            _index(value, by_id, named)
