"""Graph exports (symgraph.inspect.export): networkx, JSON, DOT, render, Model Explorer."""

import doctest
import json
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import symgraph
import symgraph.backend as K
from symgraph.inspect import dot, export, graphdata, model_explorer
from symgraph.inspect.export import render, to_dot, to_json, to_model_explorer, to_networkx
from symgraph.inspect.view import graph_view

HERE = Path(__file__).name


def mlp():
    """x -> dense_1 (matmul, bias, relu) -> dense_2 (matmul, softmax), under name scopes."""
    x = K.placeholder((None, 3), name="x")
    with K.name_scope("dense_1"):
        w1 = K.variable(np.ones((3, 4)), name="kernel")
        b1 = K.variable(np.zeros(4), name="bias")
        h = K.relu(K.dot(x, w1) + b1)
    with K.name_scope("dense_2"):
        w2 = K.variable(np.ones((4, 2)), name="kernel")
        y = K.softmax(K.dot(h, w2) * 2.0 + 1.0)
    return x, y


def rnn_graph():
    x = K.placeholder((None, 4, 3), name="seq")
    w = K.variable(np.ones((3, 3)), name="w")
    h0 = K.zeros_like(x[:, 0, :])

    def step(inputs, states):
        h = K.tanh(K.dot(inputs, w) + states[0])
        return h, [h]

    with K.name_scope("cell"):
        last, _, _ = K.rnn(step, x, [h0])
    return x, last


def plan_of(f):
    return getattr(f, "fn", f).plan  # K.function's one-output wrapper holds the Function


def scopes_of(nodes) -> set:
    """Every name scope of the nodes, with the enclosing scopes."""
    found = set()
    for n in nodes:
        parts = n.name.split("/")[:-1]
        found.update("/".join(parts[:k]) for k in range(1, len(parts) + 1))
    return found


# -- DOT text checks ----------------------------------------------------------------------
DOT_STRING = re.compile(r'"(?:[^"\\\n]|\\.)*"')


def dot_structure_ok(text: str) -> str:
    """The DOT text without its quoted strings, after checking they are well formed: no
    stray quote outside them, balanced braces and brackets."""
    bare = DOT_STRING.sub('""', text)
    assert '"' not in bare.replace('""', ""), "a quote outside a well-formed DOT string"
    depth = 0
    for ch in bare:
        depth += {"{": 1, "}": -1}.get(ch, 0)
        assert depth >= 0
    assert depth == 0
    assert bare.count("[") == bare.count("]")
    return bare


def dot_unescape(quoted: str) -> str:
    return re.sub(r"\\(.)", lambda m: "\n" if m.group(1) == "n" else m.group(1), quoted[1:-1])


def dot_labels(text: str) -> dict:
    """Node id -> its label, unescaped."""
    return {int(m.group(1)): dot_unescape(m.group(2)) for m in re.finditer(
        r'^\s*n(\d+) \[label=("(?:[^"\\\n]|\\.)*")', text, flags=re.M)}


# -- DOT ----------------------------------------------------------------------------------
def test_to_dot_golden():
    x = K.placeholder((None, 3), name="x")
    with K.name_scope("blk"):
        z = K.zeros_like(K.exp(x))
    assert to_dot(z) == "\n".join([
        "digraph symgraph {",
        '  graph [rankdir=TB, fontname="Helvetica", fontsize=11];',
        '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=8, color="#555555"];',
        '  n0 [label="x\\nplaceholder (None, 3) float32", fillcolor="#fff2cc", '
        'shape=ellipse];',
        "  subgraph cluster_0 {",
        '    graph [label="blk", tooltip="blk", style="rounded", color="#999999"];',
        '    n1 [label="blk/exp\\nexp (None, 3) float32", fillcolor="#cfe2f3"];',
        '    n2 [label="blk/fill\\nfill (None, 3) float32", fillcolor="#cfe2f3", '
        "peripheries=2];",
        "  }",
        '  n0 -> n1 [label="(None, 3)"];',
        '  n1 -> n2 [label="(None, 3)", style=dashed];',
        "}",
        "",
    ])


def test_to_dot_mlp_nodes_clusters_edges():
    x, y = mlp()
    z = K.zeros_like(y)  # a shape-only input
    nodes = graph_view(z).nodes
    text = to_dot(z, rankdir="LR")
    bare = dot_structure_ok(text)
    labels = dot_labels(text)
    assert sorted(labels) == [n.id for n in nodes]
    for n in nodes:
        name, rest = labels[n.id].split("\n")
        assert name == n.name and rest.startswith(n.op.name + " ") and rest.endswith(n.dtype)
    assert bare.count("subgraph cluster_") == len(scopes_of(nodes)) == 2
    shape_only = sum(not n.op.reads_data(i) for n in nodes for i in range(len(n.inputs)))
    assert shape_only >= 1 and text.count("style=dashed") == shape_only
    data_edges = sum(len(n.inputs) for n in nodes)
    assert len(re.findall(r"^\s*n\d+ -> n\d+ ", text, flags=re.M)) == data_edges
    assert "rankdir=LR" in text
    # leaves are told apart; outputs have a double border
    assert 'fillcolor="#fff2cc", shape=ellipse' in text  # placeholder
    assert text.count("shape=cylinder") == 3  # the three variables
    assert "shape=note" in text  # constants
    assert re.search(rf"^\s*n{z.id} \[.*peripheries=2\];$", text, flags=re.M)
    with pytest.raises(ValueError, match="rankdir"):
        to_dot(z, rankdir="sideways")


def test_to_dot_nested_scopes_are_nested_clusters():
    x = K.placeholder((2,), name="x")
    with K.name_scope("outer"):
        a = K.exp(x)
        with K.name_scope("inner"):
            b = K.log(a)
    text = to_dot(b)
    outer = text.index('label="outer"')
    inner = text.index('label="inner"')
    assert outer < inner < text.index("}", inner) < text.rindex("  }\n")
    assert 'tooltip="outer/inner"' in text
    dot_structure_ok(text)


@pytest.mark.parametrize("scope", ['a"b', "back\\slash", "trail\\", 'q"\\"x'])
def test_to_dot_escapes_names(scope):
    with K.name_scope(scope):
        y = K.exp(K.placeholder((2,), name='in"put'))
    text = to_dot(y)
    dot_structure_ok(text)
    labels = dot_labels(text)
    assert labels[y.id] == f"{scope}/exp\nexp (2,) float32"
    assert labels[y.inputs[0].id].startswith(f'{scope}/in"put\n')
    clusters = [dot_unescape(q) for q in re.findall(r'graph \[label=("(?:[^"\\\n]|\\.)*")',
                                                     text)]
    assert clusters == [scope]


def test_to_dot_newline_in_a_name_stays_on_one_line():
    y = K.exp(K.placeholder((2,), name="two\nlines\r"))
    text = to_dot(y)
    dot_structure_ok(text)
    assert dot_labels(text)[y.inputs[0].id].startswith("two\nlines\n\n")


def test_to_dot_compiled_shows_fused_kernels_as_clusters():
    x, y = mlp()
    f = K.function([x], [y])
    kernels = graph_view(f).kernels()
    fused = [k for k in kernels if len(k.members) > 1]
    assert fused
    text = to_dot(f, compiled=True)
    dot_structure_ok(text)
    for k in fused:
        start = text.index(f"subgraph cluster_{k.name} {{")
        body = text[start:text.index("}", start)]
        assert f'label="{k.name} {k.kind}"' in body and "filled" in body
        assert sorted(int(i) for i in re.findall(r"^\s*n(\d+) \[", body, flags=re.M)) == \
            sorted(m.id for m in k.members)
    single = [k for k in kernels if len(k.members) == 1]
    labels = dot_labels(text)
    for k in single:
        assert labels[k.node.id].endswith(f"\n{k.name} {k.kind}")
    assert "cluster_k" not in to_dot(f)  # as written: no kernels


def test_to_dot_loop_has_body_edges():
    _, last = rnn_graph()
    text = to_dot(last)
    dot_structure_ok(text)
    scan = next(n for n in graph_view(last).nodes if n.op.name == "scan")
    body = scan.attrs["body"]
    expected = {out.id for out in body.outputs}
    got = {int(m) for m in re.findall(rf"^\s*n(\d+) -> n{scan.id} \[label=\"body\", "
                                      r"style=dotted\];", text, flags=re.M)}
    assert got == expected


@pytest.mark.skipif(shutil.which("dot") is None, reason="Graphviz's dot is not installed")
def test_dot_binary_accepts_the_text(tmp_path):
    x, y = mlp()
    f = K.function([x], [y])
    with K.name_scope('a"b\\'):
        odd = K.exp(K.placeholder((2,), name="odd\nname"))
    _, last = rnn_graph()
    for text in (to_dot(f), to_dot(f, compiled=True), to_dot(odd), to_dot(last)):
        done = subprocess.run([shutil.which("dot"), "-Tsvg"], input=text.encode(),
                              capture_output=True, timeout=120)
        assert done.returncode == 0, done.stderr.decode()
        assert b"<svg" in done.stdout
    assert render(f, tmp_path / "g.svg") == str(tmp_path / "g.svg")
    assert (tmp_path / "g.svg").read_bytes().lstrip().startswith(b"<")


# -- render -------------------------------------------------------------------------------
def test_render_dot_and_gv_write_text(tmp_path):
    x, y = mlp()
    for name in ("g.dot", "g.gv"):
        path = render(y, tmp_path / name)
        assert path == str(tmp_path / name)
        assert Path(path).read_text(encoding="utf-8") == to_dot(y)
    render(y, tmp_path / "noext", format="dot")
    assert (tmp_path / "noext").read_text(encoding="utf-8") == to_dot(y)
    with pytest.raises(ValueError, match="format"):
        render(y, tmp_path / "noext")
    with pytest.raises(ValueError, match="Graphviz output format"):
        render(y, tmp_path / "g.png", format="png; rm -rf /")


def test_render_image_without_dot_raises_a_clear_error(tmp_path, monkeypatch):
    y = K.exp(K.placeholder((2,)))
    monkeypatch.setattr(dot.shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError) as err:
        render(y, tmp_path / "g.png")
    message = str(err.value)
    assert "`dot`" in message and "not on PATH" in message and "graph.dot" in message
    assert "to_dot" in message
    assert not (tmp_path / "g.png").exists()


def test_render_runs_dot_with_an_argument_list(tmp_path, monkeypatch):
    y = K.exp(K.placeholder((2,)))
    calls = []

    def fake_run(argv, **kwargs):
        calls.append((argv, kwargs))
        return subprocess.CompletedProcess(argv, 0, b"", b"")

    monkeypatch.setattr(dot.shutil, "which", lambda name: "/opt/graphviz/bin/dot")
    monkeypatch.setattr(dot.subprocess, "run", fake_run)
    render(y, tmp_path / "g.svg")
    render(y, tmp_path / "g.out", format="pdf")
    (argv, kwargs), (argv2, _) = calls
    assert argv == ["/opt/graphviz/bin/dot", "-Tsvg", "-o", str(tmp_path / "g.svg")]
    assert argv2[1] == "-Tpdf"
    assert kwargs["input"] == to_dot(y).encode() and kwargs["timeout"] > 0
    assert not kwargs.get("shell")

    def failing(argv, **kwargs):
        return subprocess.CompletedProcess(argv, 1, b"", b"Error: syntax error in line 1")

    monkeypatch.setattr(dot.subprocess, "run", failing)
    with pytest.raises(RuntimeError, match="syntax error"):
        render(y, tmp_path / "g.svg")

    def slow(argv, **kwargs):
        raise subprocess.TimeoutExpired(argv, kwargs["timeout"])

    monkeypatch.setattr(dot.subprocess, "run", slow)
    with pytest.raises(RuntimeError, match="did not finish"):
        render(y, tmp_path / "g.svg")


# -- networkx -----------------------------------------------------------------------------
def test_networkx_mlp_nodes_and_attributes():
    x, y = mlp()
    view = graph_view(y)
    g = to_networkx(y)
    assert sorted(g.nodes) == [n.id for n in view.nodes]
    assert g.number_of_edges() == len({(s.id, n.id) for n in view.nodes for s in n.inputs})
    by_name = {d["name"]: d for _, d in g.nodes(data=True)}
    kernel = by_name["dense_1/kernel"]
    assert (kernel["op"], kernel["kind"], kernel["scope"], kernel["shape"], kernel["dtype"],
            kernel["bytes"]) == ("variable", "leaf", "dense_1", (3, 4), "float32", 48)
    assert by_name["x"]["is_input"] and not by_name["x"]["is_output"]
    assert by_name["x"]["scope"] == "" and by_name["x"]["bytes"] is None
    assert g.nodes[y.id]["is_output"] and g.nodes[y.id]["op"] == "softmax"
    assert g.nodes[y.id]["kind"] == "kernel" and g.nodes[y.id]["scope"] == "dense_2"
    assert g.nodes[y.id]["attrs"] == {"axis": 1}
    assert all(d["kernel"] is None and d["loop"] is None for _, d in g.nodes(data=True))
    assert by_name["x"]["location"].endswith(HERE + ":" + by_name["x"]["location"]
                                             .rsplit(":", 1)[1])
    assert all(d["location"].rsplit(":", 1)[0].endswith(HERE) for _, d in g.nodes(data=True))
    const = next(d for _, d in g.nodes(data=True) if d["op"] == "constant")
    assert set(const["attrs"]["value"]) == {"value", "shape", "dtype"}
    matmul = next(n for n in view.nodes if n.op.name == "matmul")
    edge = g.edges[matmul.inputs[1].id, matmul.id]
    assert edge == {"kind": "input", "index": 1, "indices": [1], "data": True}
    json.dumps([d["attrs"] for _, d in g.nodes(data=True)], allow_nan=False)


def test_networkx_shape_only_and_repeated_inputs():
    x = K.placeholder((None, 3), name="x")
    sq = x * x
    z = K.zeros_like(sq)
    g = to_networkx(z)
    assert g.edges[x.id, sq.id]["indices"] == [0, 1]
    assert g.edges[sq.id, z.id]["data"] is False
    assert g.nodes[z.id]["attrs"] == {"value": 0.0, "dtype": "float32"}


def test_networkx_loop_bodies_are_nodes():
    x, last = rnn_graph()
    view = graph_view(last)
    g = to_networkx(last)
    assert sorted(g.nodes) == [n.id for n in view.nodes]
    scan = next(n for n in view.nodes if n.op.name == "scan")
    body = scan.attrs["body"]
    assert g.nodes[scan.id]["attrs"]["body"] == {"loop": "rnn", "uid": body.uid}
    inner = {n.id for n in body.nodes} | {t.id for t in body.leaves}
    assert inner and all(g.nodes[i]["loop"] == body.uid for i in inner)
    assert g.nodes[scan.id]["loop"] is None and g.nodes[x.id]["loop"] is None
    body_edges = [(s, t) for s, t, d in g.edges(data=True) if d["kind"] == "body"]
    assert body_edges == [(out.id, scan.id) for out in dict.fromkeys(body.outputs)]
    # zeros_like(x[:, 0, :]) reads only the shape
    fill = next(n for n in view.nodes if n.op.name == "fill")
    assert g.edges[fill.inputs[0].id, fill.id]["data"] is False


def test_nested_loops_and_shared_constants(tmp_path):
    x = K.placeholder((3, 4, 5), name="x")
    y = K.map_fn(lambda row: K.map_fn(lambda v: K.exp(v) * 2.0, row), x) * 2.0
    g = to_networkx(y)
    scans = sorted((n for n in graph_view(y).nodes if n.op.name == "scan"), key=lambda n: n.id)
    inner_scan, outer_scan = scans  # the inner loop is built first, inside the outer step
    inner, outer = inner_scan.attrs["body"], outer_scan.attrs["body"]
    by_op = {d["op"]: d for _, d in g.nodes(data=True)}
    assert by_op["exp"]["loop"] == inner.uid and g.nodes[inner_scan.id]["loop"] == outer.uid
    assert g.nodes[outer_scan.id]["loop"] is None
    const = next(n for n, d in g.nodes(data=True) if d["op"] == "constant")
    assert g.nodes[const]["loop"] is None  # 2.0 is shared by the inner body and the outside
    doc = to_model_explorer(y, tmp_path / "nested.json")
    check_model_explorer(doc)
    graphs = {gr["id"]: gr for gr in doc["graphs"]}
    main = graphs["main"]
    outer_id = next(n for n in main["nodes"] if n["label"] == "scan")["subgraphIds"][0]
    inner_id = next(n for n in graphs[outer_id]["nodes"]
                    if n["label"] == "scan")["subgraphIds"][0]
    assert {n["label"] for n in graphs[inner_id]["nodes"]} == {"placeholder", "exp",
                                                              "constant", "multiply"}
    assert "constant" in {n["label"] for n in main["nodes"]}
    links = json.loads(to_json(y))["links"]
    assert {(lk["source"], lk["target"]) for lk in links if lk["kind"] == "body"} == {
        (outer.outputs[0].id, outer_scan.id), (inner.outputs[0].id, inner_scan.id)}


def test_networkx_compiled_function():
    x = K.placeholder((None, 3), name="x")
    with K.name_scope("blk"):
        y = K.exp(x * 1.0) + 2.0  # x * 1.0 is simplified away by the passes
    f = K.function([x], [y])
    written = to_networkx(f)
    assert "multiply" in {d["op"] for _, d in written.nodes(data=True)}
    assert all(d["kernel"] is None for _, d in written.nodes(data=True))
    g = to_networkx(f, compiled=True)
    plan = plan_of(f)
    assert set(g.nodes) == {n.id for n in plan.shape_order}
    assert "multiply" not in {d["op"] for _, d in g.nodes(data=True)}
    kernels = graph_view(f).kernels()
    for k in kernels:
        assert all(g.nodes[m.id]["kernel"] == k.name for m in k.members)
    out = plan.outputs[0]
    assert g.nodes[out.id]["is_output"] and g.nodes[x.id]["is_input"]
    assert g.graph["compiled"] is True
    with pytest.raises(ValueError, match="compiled function"):
        to_networkx(y, compiled=True)


def test_compiled_leaves_out_inputs_the_plan_never_reads():
    x = K.placeholder((2, 3), name="x")
    z = K.zeros_like(K.exp(x))  # known static shape: exp and x are never computed
    f = K.function([x], [z])
    g = to_networkx(f, compiled=True)
    for s, t in g.edges:
        assert s in g and t in g
    doc = json.loads(to_json(f, compiled=True))
    ids = {n["id"] for n in doc["nodes"]}
    assert all(link["source"] in ids and link["target"] in ids for link in doc["links"])
    assert x.id in ids  # the function's input is listed even when it is not read


def test_graph_file_path(tmp_path):
    x, y = mlp()
    path = tmp_path / "mlp.sgraph"
    symgraph.save(K.function([x], [y]), path)
    g = to_networkx(str(path))
    assert g.graph["label"] == str(path)
    assert {d["op"] for _, d in g.nodes(data=True)} >= {"matmul", "softmax", "variable"}
    compiled = json.loads(to_json(path, compiled=True))
    assert compiled["kernels"] and compiled["graph"]["compiled"] is True


# -- JSON ---------------------------------------------------------------------------------
def check_json_document(doc: dict, nodes_expected: set):
    assert (doc["format"], doc["version"], doc["directed"]) == ("symgraph.inspect", 1, True)
    assert {n["id"] for n in doc["nodes"]} == nodes_expected
    keys = {"id", "name", "op", "kind", "shape", "dtype", "scope", "bytes", "location",
            "attrs", "kernel", "is_input", "is_output", "loop"}
    for n in doc["nodes"]:
        assert set(n) == keys
        assert n["shape"] is None or all(d is None or isinstance(d, int) for d in n["shape"])
        assert n["scope"] == n["name"].rpartition("/")[0]
    ids = nodes_expected
    for link in doc["links"]:
        assert link["source"] in ids and link["target"] in ids
        assert link["kind"] in ("input", "body") and isinstance(link["data"], bool)
    for k in doc["kernels"]:
        assert {k["node"], *k["members"], *k["inputs"], *k["scalars"]} <= ids
    assert set(doc["inputs"]) <= ids and set(doc["outputs"]) <= ids


def test_json_mlp_round_trips():
    x, y = mlp()
    z = K.zeros_like(y)
    view = graph_view(z)
    doc = json.loads(to_json(z, indent=1))
    check_json_document(doc, {n.id for n in view.nodes})
    assert doc["inputs"] == [x.id] and doc["outputs"] == [z.id] and doc["kernels"] == []
    links = [(link["source"], link["target"], link["index"], link["data"])
             for link in doc["links"]]
    assert links == [(s.id, n.id, i, n.op.reads_data(i)) for n in view.nodes
                     for i, s in enumerate(n.inputs)]
    by_name = {n["name"]: n for n in doc["nodes"]}
    assert by_name["dense_1/kernel"]["shape"] == [3, 4]
    assert by_name["dense_1/kernel"]["bytes"] == 48
    assert by_name["x"]["shape"] == [None, 3]


def test_json_attribute_values_are_json_safe():
    x = K.placeholder((None, 3), name="x")
    y = K.maximum(K.reshape(x, (-1, 3)) * np.float32(np.inf), K.constant(np.full((10, 3), np.nan)))
    doc = json.loads(to_json(y))
    consts = [n["attrs"]["value"] for n in doc["nodes"] if n["op"] == "constant"]
    assert {c["value"] for c in consts} >= {"inf", "<float32 array (10, 3)>"}
    assert {(tuple(c["shape"]), c["dtype"]) for c in consts} >= {((), "float32"),
                                                                 ((10, 3), "float32")}
    value = graphdata._json_value
    assert [value(float("nan")), value(float("inf")), value(-float("inf"))] == \
        ["nan", "inf", "-inf"]
    assert value((1, (2, None), "a", np.int64(3), np.float32(0.5))) == \
        [1, [2, None], "a", 3, 0.5]
    assert value(object()).startswith("<object")


def test_json_rnn_and_compiled_function():
    x, last = rnn_graph()
    view = graph_view(last)
    doc = json.loads(to_json(last))
    check_json_document(doc, {n.id for n in view.nodes})
    (loop,) = doc["loops"]
    scan = next(n for n in doc["nodes"] if n["op"] == "scan")
    assert loop["scan"] == scan["id"] and scan["attrs"]["body"] == {"loop": "rnn",
                                                                     "uid": loop["uid"]}
    body_links = [link for link in doc["links"] if link["kind"] == "body"]
    assert {link["source"] for link in body_links} == set(loop["outputs"])
    assert all(link["target"] == scan["id"] for link in body_links)
    f = K.function([x], [last])
    compiled = json.loads(to_json(f, compiled=True))
    plan_ids = {n.id for n in plan_of(f).shape_order}
    body_ids = {n["id"] for n in doc["nodes"] if n["loop"] is not None}
    check_json_document(compiled, plan_ids | body_ids | {x.id})
    assert [k["name"] for k in compiled["kernels"]] == [k.name for k in graph_view(f).kernels()]
    kernel_of = {n["id"]: n["kernel"] for n in compiled["nodes"]}
    assert all(kernel_of[m] == k["name"] for k in compiled["kernels"] for m in k["members"])


# -- Model Explorer -----------------------------------------------------------------------
def check_model_explorer(doc: dict):
    """What Model Explorer's loadGraphsJson and input_graph.ts need."""
    assert isinstance(doc["label"], str) and isinstance(doc["graphs"], list)
    graph_ids = [g["id"] for g in doc["graphs"]]
    assert len(set(graph_ids)) == len(graph_ids)
    for graph in doc["graphs"]:
        assert isinstance(graph["id"], str) and isinstance(graph["nodes"], list)
        ids = [n["id"] for n in graph["nodes"]]
        assert len(set(ids)) == len(ids)
        for node in graph["nodes"]:
            assert isinstance(node["id"], str) and isinstance(node["label"], str)
            assert isinstance(node["namespace"], str)
            for kv in node["attrs"]:
                assert set(kv) == {"key", "value"} and isinstance(kv["key"], str)
                assert isinstance(kv["value"], str)
            for edge in node["incomingEdges"]:
                assert set(edge) == {"sourceNodeId", "sourceNodeOutputId", "targetNodeInputId"}
                assert edge["sourceNodeId"] in ids
                assert all(isinstance(v, str) for v in edge.values())
            for item in node["outputsMetadata"] + node["inputsMetadata"]:
                assert isinstance(item["id"], str)
                assert all(set(kv) == {"key", "value"} and isinstance(kv["value"], str)
                           for kv in item["attrs"])
            assert all(s in graph_ids for s in node["subgraphIds"])
            attrs = {kv["key"]: kv["value"] for kv in node["attrs"]}
            assert node["namespace"] == attrs["name"].rpartition("/")[0]
            assert node["label"] == attrs["op"]


def test_model_explorer_mlp(tmp_path):
    x, y = mlp()
    z = K.zeros_like(y)
    path = tmp_path / "mlp.json"
    doc = to_model_explorer(z, path)
    assert json.loads(path.read_text(encoding="utf-8")) == doc
    check_model_explorer(doc)
    (graph,) = doc["graphs"]
    view = graph_view(z)
    assert [n["id"] for n in graph["nodes"]] == [n.name for n in view.nodes]
    nodes = {n["id"]: n for n in graph["nodes"]}
    assert {n["namespace"] for n in graph["nodes"]} == {"", "dense_1", "dense_2"}
    shapes = {n["id"]: n["outputsMetadata"][0]["attrs"][0] for n in graph["nodes"]}
    assert shapes["x"] == {"key": "tensor_shape", "value": "float32[-1,3]"}
    assert shapes["dense_1/kernel"]["value"] == "float32[3,4]"
    const = next(n for n in graph["nodes"] if n["label"] == "constant")
    assert shapes[const["id"]]["value"] == "float32"
    assert any(kv["key"] == "__value" for kv in const["attrs"])
    fill = nodes[z.name]
    assert fill["inputsMetadata"][0]["attrs"] == [
        {"key": "__tensor_tag", "value": y.name}, {"key": "reads", "value": "shape only"}]
    kernel_attrs = {kv["key"]: kv["value"] for kv in nodes["dense_1/kernel"]["attrs"]}
    assert kernel_attrs["bytes"] == "48" and kernel_attrs["family"] == "variable"
    assert kernel_attrs["location"].rsplit(":", 1)[0].endswith(HERE)
    assert nodes["dense_1/kernel"]["style"]["backgroundColor"] == export.COLOURS["variable"]


def test_model_explorer_loop_and_compiled(tmp_path):
    x, last = rnn_graph()
    f = K.function([x], [last])
    for compiled in (False, True):
        doc = to_model_explorer(f, tmp_path / "rnn.json", compiled=compiled)
        check_model_explorer(doc)
        main, body = doc["graphs"]
        scan = next(n for n in main["nodes"] if n["label"] == "scan")
        assert scan["subgraphIds"] == [body["id"]] and body["id"].startswith("rnn_body_")
        assert "tanh" in {n["label"] for n in body["nodes"]}
        assert "tanh" not in {n["label"] for n in main["nodes"]}
        scan_attrs = {kv["key"]: kv["value"] for kv in scan["attrs"]}
        assert ("kernel" in scan_attrs) is compiled
        assert json.loads(scan_attrs["body"])["loop"] == "rnn"


def test_model_explorer_compiled_mlp_has_kernels(tmp_path):
    x, y = mlp()
    f = K.function([x], [y])
    doc = to_model_explorer(f, tmp_path / "plan.json", compiled=True)
    check_model_explorer(doc)
    kernels = {k.name: k for k in graph_view(f).kernels()}
    for node in doc["graphs"][0]["nodes"]:
        attrs = {kv["key"]: kv["value"] for kv in node["attrs"]}
        if "kernel" in attrs:
            assert attrs["kernel_kind"] == kernels[attrs["kernel"]].kind
    assert {kv["key"] for n in doc["graphs"][0]["nodes"] for kv in n["attrs"]} >= {"kernel"}


# -- docs ---------------------------------------------------------------------------------
@pytest.mark.parametrize("module", [export, dot, model_explorer], ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted >= 5


def test_docs_example_runs(tmp_path, monkeypatch):
    text = (Path(__file__).parent.parent / "docs" / "inspecting.md").read_text()
    (block,) = re.findall(r"## Exports.*?```python\n(.*?)```", text, flags=re.S)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "docs/inspecting.md", "exec"), {})
    assert (tmp_path / "graph.dot").read_text().startswith("digraph symgraph {")
    check_model_explorer(json.loads((tmp_path / "graph.json").read_text()))
