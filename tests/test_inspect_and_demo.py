"""The text listing of graphs, hash-consing, and the demo command."""

import subprocess
import sys

import numpy as np

import symgraph.backend as K
from symgraph.cli import main
from symgraph.inspect import format_graph


def test_format_graph_golden():
    x = K.placeholder((None, 3), name="x")
    w = K.variable(np.ones((3, 2)), name="w")
    y = K.zeros_like(K.dot(x, w))
    assert format_graph(y) == "\n".join([
        "x: (None, 3) float32 = placeholder",
        "w: (3, 2) float32 = variable",
        "matmul: (None, 2) float32 = matmul(x, w)",
        "fill: (None, 2) float32 = fill(shape:matmul) {value=0.0, dtype='float32'}",
        "outputs: fill",
    ])


def test_identical_nodes_are_stored_once():
    x = K.placeholder((None, 3))
    a = K.exp(x) * 2.0
    b = K.exp(x) * 2.0
    assert a is b
    graph = K.get_graph()
    assert graph.structural_hash([a]) == graph.structural_hash([b])
    assert graph.structural_hash([a]) != graph.structural_hash([K.exp(x) * 3.0])


def test_networkx_view_marks_shape_only_edges():
    x = K.placeholder((None, 3))
    z = K.zeros_like(K.exp(x))
    g = K.get_graph().to_networkx([z])
    (src, dst, data) = [e for e in g.edges(data=True) if e[1] == z.id][0]
    assert data["data"] is False
    assert g.nodes[z.id]["op"] == "fill"


def test_demo_runs_in_process(capsys):
    results = main(["demo", "--batches", "2", "--batch-size", "8"])
    out = capsys.readouterr().out
    assert results == 0
    assert "Deferred model" in out and "Compiled plan" in out and "batch 1" in out
    path = out.split("Interactive view of this model")[1].splitlines()[1].strip()
    assert path.endswith(".html") and "<script" in open(path).read()
    assert "FLOPs/batch" in out


def test_python_dash_m_symgraph_version():
    out = subprocess.run([sys.executable, "-m", "symgraph", "version"], capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0 and out.stdout.startswith("symgraph ")


def test_examples_run(capsys):
    import runpy
    from pathlib import Path

    root = Path(__file__).parent.parent / "examples"
    module = runpy.run_path(str(root / "batched_inference.py"))
    assert module["main"](n_batches=3) < 1e-5
    assert "kernels per call" in capsys.readouterr().out
