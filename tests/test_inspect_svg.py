"""to_svg: a valid SVG document with every node, scope regions, kernel bands, both
directions; looked at in headless Chromium when it is installed."""

from __future__ import annotations

import shutil
import subprocess
import xml.etree.ElementTree as ET

import numpy as np
import pytest

import symgraph
import symgraph.backend as K
from symgraph.core.graph import ancestors
from symgraph.inspect.layout import layered_layout
from symgraph.inspect.svg import to_svg

NS = {"s": "http://www.w3.org/2000/svg"}


def _mlp():
    x = K.placeholder((None, 20), name="x")
    with K.name_scope("dense_1"):
        h = K.relu(K.dot(x, K.variable(np.ones((20, 32), "float32"), name="kernel")) +
                   K.variable(np.zeros(32, "float32"), name="bias"))
    with K.name_scope("dense_2"):
        p = K.softmax(K.dot(h, K.variable(np.ones((32, 4), "float32"), name="kernel")))
    return x, p


def _parse(svg: str):
    root = ET.fromstring(svg)
    assert root.tag == "{http://www.w3.org/2000/svg}svg"
    return root


def test_every_node_is_drawn_once_with_its_name():
    x, p = _mlp()
    root = _parse(to_svg(p))
    names = [g.get("data-name") for g in root.iterfind(".//s:g[@class='node']", NS)]
    assert sorted(names) == sorted(n.name for n in ancestors([p]))
    scopes = {g.get("data-scope") for g in root.iterfind(".//s:g[@class='scope']", NS)}
    assert scopes == {"dense_1", "dense_2"}
    edges = root.findall(".//s:path[@class='edge']", NS)
    assert len(edges) == sum(len(n.inputs) for n in ancestors([p]))


def test_shape_only_inputs_are_dashed_and_edges_carry_shapes():
    x = K.placeholder((None, 3), name="x")
    root = _parse(to_svg(K.zeros_like(x) + K.exp(x)))
    dashed = [e for e in root.iterfind(".//s:path[@class='edge']", NS)
              if e.get("stroke-dasharray")]
    assert len(dashed) == 1
    labels = [t.text for t in root.iterfind(".//s:text[@class='edge-label']", NS)]
    assert "(None, 3)" in labels


def test_compiled_view_shades_each_kernel(tmp_path):
    x, p = _mlp()
    f = K.function([x], [p])
    path = tmp_path / "g.svg"
    root = _parse(to_svg(f, path, compiled=True, direction="LR", title="compiled"))
    assert path.read_text().startswith("<svg")
    bands = {r.get("data-kernel") for r in root.iterfind(".//s:rect[@class='kernel']", NS)}
    assert bands == {k.name for k in f.kernels()}
    labels = [t.text for t in root.iterfind(".//s:text[@class='kernel-label']", NS)]
    assert "k1 fused elementwise" in labels
    saved = tmp_path / "m.sg"
    symgraph.save(f, saved)
    assert _parse(to_svg(saved, compiled=True)).findall(".//s:g[@class='node']", NS)


def test_layout_has_no_overlaps_and_respects_layers():
    x, p = _mlp()
    nodes = ancestors([p])
    sizes = {n.id: (60.0 + len(n.name), 30.0) for n in nodes}
    edges = [(s.id, n.id, i) for n in nodes for i, s in enumerate(n.inputs)]
    for direction in ("TB", "LR"):
        lay = layered_layout([n.id for n in nodes], sizes, edges, direction=direction)
        boxes = list(lay.boxes.values())
        for i, a in enumerate(boxes):
            for b in boxes[i + 1:]:
                apart = (a[0] + a[2] <= b[0] or b[0] + b[2] <= a[0] or
                         a[1] + a[3] <= b[1] or b[1] + b[3] <= a[1])
                assert apart, (a, b)
        axis = 1 if direction == "TB" else 0
        for s, t, _ in edges:  # every edge goes forward along the layers
            assert lay.boxes[s][axis] < lay.boxes[t][axis]
    with pytest.raises(ValueError, match="direction"):
        layered_layout([], {}, [], direction="up")


@pytest.mark.skipif(shutil.which("chromium") is None, reason="needs Debian's chromium")
def test_chromium_renders_the_svg(tmp_path):
    x, p = _mlp()
    svg = tmp_path / "g.svg"
    to_svg(K.function([x], [p]), svg, compiled=True)
    png = tmp_path / "g.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                    "--disable-quic", "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={png}",
                    "--window-size=800,900", svg.as_uri()],
                   capture_output=True, timeout=120, check=True)
    data = png.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 10_000


def test_scalar_constants_are_drawn_next_to_each_reader():
    x = K.placeholder((None, 3), name="x")
    y = K.tanh(x * 2.0) * 2.0  # one constant node, two readers
    root = _parse(to_svg(y))
    names = [g.get("data-name") for g in root.iterfind(".//s:g[@class='node']", NS)]
    constant = next(n.name for n in ancestors([y]) if n.op.name == "constant")
    assert names.count(constant) == 2 and len(names) == len(ancestors([y])) + 1
