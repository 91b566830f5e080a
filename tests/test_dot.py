"""to_dot() DOT text and the notebook mimebundle (with and without the Graphviz binary)."""
import re
import shutil
import subprocess
import warnings

import numpy as np
import pytest

import step_lab as sl
from step_lab import ops
from step_lab.ir import dot as dot_module
from step_lab.ir import render as render_module
from step_lab.ir.dot import PALETTE, TENSOR_COLOUR, mimebundle, to_dot

ROW = sl.Tile(1, 64, "bf16")
NODE = re.compile(r'^\s*"([^"]+)" \[label="([^"]*)", fillcolor="([^"]+)"\];$', re.M)
EDGE = re.compile(r'^\s*"([^"]+)" -> "([^"]+)" \[(.*)\];$', re.M)


def _routed():
    prog = sl.Program("routed")
    x = prog.input("x", ROW, (10, 1))
    sel = prog.input("sel", sl.Selector(2), (10,))
    a, b = ops.Partition(x, sel, 2)
    prog.output("a", ops.Flatten(a, 0, 1))
    prog.output("b", ops.Flatten(b, 0, 1))
    return prog


def _with_tensors():
    prog = sl.Program("copy")
    X = prog.tensor("X", (4, 64), "bf16")
    Y = prog.tensor("Y", (4, 64), "bf16", role="output")
    x = ops.LinearOffChipLoad(X, tile=(1, 64))
    ops.LinearOffChipStore(ops.Flatten(x, 0, 1), Y)
    return prog


def _nodes(text):
    return {name: (label, colour) for name, label, colour in NODE.findall(text)}


def _edges(text):
    return [(a, b, attrs) for a, b, attrs in EDGE.findall(text)]


def test_every_operator_is_one_dot_node_coloured_by_its_family():
    prog = _routed()
    nodes = _nodes(to_dot(prog))
    assert set(nodes) == {n.name for n in prog.nodes}
    for n in prog.nodes:
        assert nodes[n.name][1] == PALETTE[n.group]
    assert nodes["partition0"][1] == PALETTE["routing"] != PALETTE["shape"]


def test_a_node_label_shows_name_type_and_parameters():
    label = _nodes(to_dot(_routed()))["partition0"][0]
    assert label == r"partition0\nPartition\nrank=1, num_consumers=2"


def test_every_stream_edge_is_labelled_with_its_stream_type():
    prog = _routed()
    edges = _edges(to_dot(prog))
    assert len(edges) == sum(len(n.inputs) for n in prog.nodes)
    labels = {(a, b): re.search(r'label="([^"]*)"', attrs).group(1) for a, b, attrs in edges}
    assert labels[("partition0", "flatten0")] == "Stream<Tile[1,64] bf16>[sel_x0, 1]"
    assert labels[("sel", "partition0")] == "Stream<Selector[2]>[10]"


def test_symbolic_dims_in_edge_labels_are_readable():
    prog = sl.Program("p")
    x = prog.input("x", ROW, (sl.dim("N"),))
    data, _ = ops.Reshape(x, 0, 4, pad=np.zeros((1, 64)))
    prog.output("o", data)
    assert '"reshape0" -> "out_o" [label="Stream<Tile[1,64] bf16>[⌈N/4⌉, 4]"];' in to_dot(prog)


def test_tensors_are_cylinders_joined_to_their_loads_and_stores():
    text = to_dot(_with_tensors())
    assert re.search(r'"tensor:X" \[shape=cylinder, style=filled, fillcolor="'
                     + TENSOR_COLOUR + r'", label="X\[4, 64\] bf16"\];', text)
    assert '"tensor:X" -> "linearoffchipload0"' in text
    assert '"linearoffchipstore0" -> "tensor:Y"' in text


def test_feedback_edges_are_dashed():
    prog = sl.Program("loop")
    x = prog.input("x", ROW, (4,))
    fb = prog.feedback(ROW, (4,), name="back")
    prog.output("o", ops.Zip(x, fb))
    prog.connect(fb, ops.Flatten(x, 0, 0))
    edges = {(a, b): attrs for a, b, attrs in _edges(to_dot(prog))}
    assert "style=dashed" in edges[("flatten0", "back")]
    assert "dashed" not in edges[("x", "flatten0")]


def test_regions_become_clusters_holding_their_nodes():
    text = to_dot(_routed(), regions={"expert 0": ["flatten0"], "expert 1": ["flatten1"]})
    clusters = re.findall(r'subgraph "cluster_\d+" \{\n\s*label="([^"]*)";[^\n]*\n(.*?)\n\s*\}',
                          text, re.S)
    assert [(label, list(_nodes(body))) for label, body in clusters] == [
        ("expert 0", ["flatten0"]), ("expert 1", ["flatten1"])]
    assert len(_nodes(text)) == 7


def test_a_region_parameter_on_a_node_is_used_as_its_cluster():
    prog = _routed()
    prog.node("flatten1").params["region"] = "r1"
    assert 'label="r1"' in to_dot(prog)
    assert "subgraph" not in to_dot(_routed())


def test_unknown_or_duplicated_region_members_are_graph_errors():
    with pytest.raises(sl.GraphError, match="'flaten0'.*did you mean 'flatten0'"):
        to_dot(_routed(), regions={"r": ["flaten0"]})
    with pytest.raises(sl.GraphError, match="'flatten0' is in regions 'a' and 'b'"):
        to_dot(_routed(), regions={"a": ["flatten0"], "b": ["flatten0"]})


def test_an_annotation_appends_a_label_line():
    nodes = _nodes(to_dot(_routed(), annotate={"flatten0": "busy 73%"}))
    assert nodes["flatten0"][0].endswith(r"\nbusy 73%")
    assert "busy" not in nodes["flatten1"][0]
    with pytest.raises(sl.GraphError, match="annotate"):
        to_dot(_routed(), annotate={"nope": "x"})


def test_quotes_and_backslashes_are_escaped():
    prog = sl.Program('say "hi"\\')
    prog.output("o", prog.input("x", ROW, (2,)))
    text = to_dot(prog)
    assert text.startswith('digraph "say \\"hi\\"\\\\" {')


def test_rankdir_is_configurable_and_the_text_is_deterministic():
    assert 'rankdir="TB";' in to_dot(_routed(), rankdir="TB")
    assert to_dot(_routed()) == to_dot(_routed())
    assert _routed().to_dot() == to_dot(_routed())


@pytest.mark.needs_dot
@pytest.mark.skipif(shutil.which("dot") is None, reason="needs the Graphviz dot binary")
def test_the_dot_binary_accepts_the_text_and_the_bundle_is_svg():
    prog = _with_tensors()
    subprocess.run(["dot", "-Tsvg"], input=to_dot(prog, regions={"r": ["flatten0"]}).encode(),
                   check=True, capture_output=True)
    bundle = prog._repr_mimebundle_()
    assert set(bundle) == {"text/html", "image/svg+xml", "text/plain"}
    assert "step-lab-graph-legend" in bundle["text/html"]
    assert "<svg" in bundle["image/svg+xml"] and "linearoffchipload0" in bundle["image/svg+xml"]


def test_without_dot_the_bundle_is_text_and_one_warning_names_the_fix(monkeypatch):
    monkeypatch.setattr(dot_module.shutil, "which", lambda name: None)
    monkeypatch.setattr(dot_module, "_WARNED", False)
    prog = _routed()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        first = mimebundle(prog)
        second = mimebundle(prog)
    assert first == second and set(first) == {"text/plain"}
    assert "partition0 = Partition(x, sel, rank=1, num_consumers=2)" in first["text/plain"]
    assert len(caught) == 1 and "apt-get install graphviz" in str(caught[0].message)


def test_a_failing_dot_binary_falls_back_to_text(monkeypatch):
    def broken(*args, **kwargs):
        raise subprocess.CalledProcessError(1, "dot", stderr=b"syntax error")
    monkeypatch.setattr(dot_module.shutil, "which", lambda name: "/usr/bin/dot")
    monkeypatch.setattr(render_module.subprocess, "run", broken)
    with pytest.warns(RuntimeWarning, match="syntax error"):
        bundle = mimebundle(_routed())
    assert set(bundle) == {"text/plain"}
