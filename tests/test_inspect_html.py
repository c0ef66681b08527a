"""The interactive HTML view (symgraph.inspect.html) and kernel profiles
(symgraph.inspect.profile).

The page is checked twice: as data (self-contained, the embedded JSON says what the
exports and the compiled function say) and in a real headless Chromium driven over the
DevTools pipe (tests/browser.py): it loads from file:// without console errors, draws
scope boxes, expands them on click, searches, shows kernel sources, switches between the
graph as written and as compiled, and opens a 10,000-node graph quickly. Those tests skip
when no Chromium is installed.
"""

from __future__ import annotations

import doctest
import importlib
import json
import re
import time
from pathlib import Path

import numpy as np
import pytest

import symgraph
import symgraph.backend as K
from symgraph.demo import build_model
from symgraph.inspect import html as sg_html
from symgraph.inspect.export import to_json
from symgraph.inspect.html import page_data, show, to_html
from symgraph.inspect.profile import profile

from .browser import Browser, find_chromium
from .helpers import scoped_chain

# the module (a package attribute named `profile` may be the function re-exported)
sg_profile = importlib.import_module("symgraph.inspect.profile")

CHROMIUM = find_chromium()
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no Chromium on PATH (apt-get install chromium) for the "
    "real-browser tests of the HTML view")
SCOPES = ["dense_1", "dense_2"]


def mlp():
    """The demo MLP (``symgraph.demo.build_model``): (x, compiled function of the
    probabilities and the labels)."""
    x, _, _, probs, label = build_model()
    return x, K.function([x], [probs, label])


def embedded(page: str) -> dict:
    found = re.search(r'<script type="application/json" id="symgraph-data">(.*?)</script>',
                      page, re.S)
    assert found, "no embedded graph data"
    return json.loads(found.group(1))


# -- the page as data ------------------------------------------------------------------------
def test_page_is_one_self_contained_file(tmp_path):
    _, f = mlp()
    path = tmp_path / "mlp.html"
    assert to_html(f, path) == str(path)
    page = path.read_text(encoding="utf-8")
    assert page.startswith("<!DOCTYPE html>") and page.count("<script") == 2
    assert not re.search(r"<(link|img|iframe)\b|\bsrc=|@import|url\(\s*['\"]?(https?:)?//",
                         page)
    # the only URL is the SVG namespace (an identifier, never fetched)
    assert set(re.findall(r"https?://[^\s\"')]+", page)) == {"http://www.w3.org/2000/svg"}
    assert "function layered(" in page and "#canvas" in page  # script and style inlined
    assert to_html(f) == page  # path=None returns the same text


def test_embedded_data_is_what_the_exports_and_the_function_say():
    _, f = mlp()
    data = embedded(to_html(f))
    assert data["written"] == json.loads(to_json(f))
    assert data["compiled"] == json.loads(to_json(f, compiled=True))
    assert data["initial_view"] == "written"
    names = [k.name for k in f.kernels()]
    assert list(data["kernel_sources"]) == names
    assert data["kernel_sources"]["k1"] == f.source("k1")
    plan = f.memory_plan(batch_size=32)
    assert data["memory"]["peak_bytes"] == plan.peak_bytes
    assert [b["name"] for b in data["memory"]["buffers"]] == [b.node.name for b in plan.buffers]
    # the user's source line that created a node (here: the call of symgraph's demo
    # model builder in this file) is embedded for the details panel
    loc = next(n["location"] for n in data["written"]["nodes"] if n["name"] == "dense_1/bias")
    assert loc.startswith(__file__) and "build_model()" in data["sources"][loc]


def test_tensors_give_the_written_view_only_unless_compiled_is_asked():
    x, f = mlp()
    probs = f.outputs[0]
    data = page_data(probs)
    assert data["compiled"] is None and data["memory"] is None
    data = page_data(probs, compiled=True)
    assert data["initial_view"] == "compiled" and data["compiled"]["graph"]["compiled"]
    assert page_data(f, compiled=False)["compiled"] is None


def test_graph_files_open_with_both_views(tmp_path):
    _, f = mlp()
    path = tmp_path / "mlp.sg"
    symgraph.save(f, path)
    data = page_data(path)
    assert data["title"] == str(path) and data["compiled"] is not None
    assert {n["id"] for n in data["compiled"]["nodes"]} <= {n["id"] for n in
                                                           data["written"]["nodes"]}


def test_names_cannot_end_the_data_script():
    x = K.placeholder((2,), name="x")
    y = K.exp(x)
    y_name = y.name
    page = to_html(y)
    assert page.count("</script>") == 2
    assert [n["name"] for n in embedded(page)["written"]["nodes"]] == ["x", y_name]
    data = page_data(y)
    data["written"]["nodes"][0]["name"] = "</script><script>alert(1)</script>"
    assert "</" not in sg_html._script_json(data)


def test_profile_argument_is_checked():
    _, f = mlp()
    with pytest.raises(ValueError, match="kernels this function does not have"):
        page_data(f, profile={"k99": 1.0})
    with pytest.raises(ValueError, match="compiled function"):
        page_data(f.outputs[0], profile={"k0": 1.0})
    assert page_data(f, profile={"k0": 2e-6})["profile"] == {"k0": 2e-6}


def test_show_prints_the_path_without_a_browser(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sg_html, "can_open_browser", lambda: False)
    opened = []
    monkeypatch.setattr(sg_html.webbrowser, "open", lambda url: opened.append(url) or True)
    _, f = mlp()
    path = show(f, tmp_path / "a.html")
    assert capsys.readouterr().out.strip() == path and not opened
    assert embedded(open(path, encoding="utf-8").read())["compiled"] is not None
    temp = show(f)  # no path: a temporary file
    assert temp.endswith(".html") and capsys.readouterr().out.strip() == temp


def test_show_opens_the_file_in_a_browser_when_there_is_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(sg_html, "can_open_browser", lambda: True)
    opened = []
    monkeypatch.setattr(sg_html.webbrowser, "open", lambda url: opened.append(url) or True)
    path = show(K.exp(K.placeholder((2,))), tmp_path / "b c.html")
    assert opened == [(tmp_path / "b c.html").resolve().as_uri()]
    assert capsys.readouterr().out == "" and path == str(tmp_path / "b c.html")


def test_no_display_means_no_browser(monkeypatch):
    monkeypatch.setattr(sg_html.sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert sg_html.can_open_browser() is False


def test_the_guides_example_runs(tmp_path, monkeypatch):
    guide = (Path(__file__).parent.parent / "docs" / "inspecting.md").read_text()
    (block,) = re.findall(r"## The interactive view.*?```python\n(.*?)```", guide, flags=re.S)
    monkeypatch.chdir(tmp_path)
    exec(compile(block, "docs/inspecting.md", "exec"), {})
    data = embedded((tmp_path / "graph.html").read_text(encoding="utf-8"))
    assert set(data["profile"]) == set(data["kernel_sources"]) and data["compiled"]


@pytest.mark.parametrize("module", [sg_html, sg_profile], ids=lambda m: m.__name__)
def test_docstring_examples_run(module):
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0 and result.attempted > 0


# -- profiles -------------------------------------------------------------------------------
def test_profile_times_every_kernel_and_leaves_the_call_path_alone():
    x, f = mlp()
    batch = np.random.default_rng(1).normal(size=(256, 20)).astype(np.float32)
    expected = f([batch])
    times = profile(f, [batch], repeat=3)
    assert list(times) == [k.name for k in f.kernels()]
    assert all(isinstance(t, float) and t > 0 for t in times.values())
    # ordinary calls keep their timer-free runner and their results
    runner = f._runner_for([batch])
    assert "P" not in runner.__code__.co_names and "t_" not in runner.__code__.co_varnames
    for a, b in zip(f([batch]), expected):
        np.testing.assert_array_equal(a, b)


def test_profile_assigns_no_updates_and_checks_its_arguments():
    x = K.placeholder((None, 3), name="x")
    v = K.variable(np.zeros(3), name="v")
    f = K.function([x], [K.sum(x, axis=0)], updates=[(v, v + K.sum(x, axis=0))])
    times = profile(f, [np.ones((4, 3), np.float32)])
    assert list(times) == [k.name for k in f.kernels()]
    np.testing.assert_array_equal(K.get_value(v), np.zeros(3))
    with pytest.raises(ValueError, match="repeat"):
        profile(f, [np.ones((4, 3), np.float32)], repeat=0)
    with pytest.raises(ValueError, match="takes 1 inputs"):
        profile(f, [np.ones((4, 3), np.float32)] * 2)


# -- in a real browser ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def browser():
    if CHROMIUM is None:
        pytest.skip("no Chromium on PATH")
    with Browser(CHROMIUM) as b:
        yield b


def open_page(browser, tmp_path, x, name="graph", **kwargs):
    path = tmp_path / f"{name}.html"
    to_html(x, path, **kwargs)
    page = browser.open(path.as_uri())
    page.wait_for("window.symgraphViewer && symgraphViewer.firstPaintMs")
    return page


def count(page, selector: str) -> int:
    return page.evaluate(f"document.querySelectorAll({json.dumps(selector)}).length")


def uid_of(page, path: str) -> str:
    """The data-uid of the drawn box or node called ``path``."""
    return page.evaluate(
        "(() => { for (const el of document.querySelectorAll('[data-uid]')) {"
        " const t = el.querySelector('text'); if (t && t.textContent === "
        f"{json.dumps(path)}) return el.getAttribute('data-uid'); }} return null; }})()")


@needs_chromium
def test_page_loads_from_file_and_draws_scope_boxes(browser, tmp_path):
    _, f = mlp()
    page = open_page(browser, tmp_path, f)
    assert page.problems() == []
    assert count(page, "#layer-nodes .box") == 2  # the two layer scopes, collapsed
    assert count(page, "#layer-nodes .node") == 2  # x and the argmax
    assert count(page, "#layer-edges .edge") == 3
    assert page.evaluate("document.title") == "symgraph"
    labels = page.evaluate("[...document.querySelectorAll('.box text.b')].map(t => t.textContent)")
    assert labels == SCOPES
    assert page.evaluate("symgraphViewer.firstPaintMs > 0 && symgraphViewer.view()") == "written"


@needs_chromium
def test_clicking_a_scope_expands_it_and_its_header_collapses_it(browser, tmp_path):
    _, f = mlp()
    page = open_page(browser, tmp_path, f)
    page.click(f'[data-uid="{uid_of(page, "dense_1")}"] rect.body')
    assert count(page, "#layer-nodes .node") == 2 + 6
    assert count(page, "#layer-nodes .box") == 1 and count(page, ".container.scope") == 1
    assert "dense_1" in page.evaluate("document.getElementById('panel-body').textContent")
    page.click(".container.scope .ghead .head")
    assert count(page, "#layer-nodes .node") == 2 and count(page, ".container") == 0
    assert page.problems() == []


@needs_chromium
def test_search_finds_a_node_and_expands_its_scope(browser, tmp_path):
    _, f = mlp()
    page = open_page(browser, tmp_path, f)
    page.type_text("#search", "dense_2/bias")
    page.wait_for("document.getElementById('search-count').textContent === '1 match'")
    page.press("Enter", 13)
    page.wait_for("!!document.querySelector('#panel-body h2')")
    assert page.evaluate("document.querySelector('#panel-body h2').textContent") == \
        "dense_2/bias"
    assert count(page, "#layer-nodes .node.match") == 1 and count(page, ".node.sel") == 1
    assert count(page, ".container.scope") == 1  # dense_2 opened, the rest stay closed
    assert "1 / 1" == page.evaluate("document.getElementById('search-count').textContent")
    # the panel names the user's source line that created the node
    assert "build_model()" in page.evaluate(
        "document.getElementById('panel-body').textContent")
    assert page.problems() == []


@needs_chromium
def test_compiled_view_draws_fused_kernels_and_shows_their_source(browser, tmp_path):
    _, f = mlp()
    page = open_page(browser, tmp_path, f)
    page.click('#view-toggle button[data-view="compiled"]')
    assert page.evaluate("symgraphViewer.view()") == "compiled"
    page.click(f'[data-uid="{uid_of(page, "dense_1")}"] rect.body')
    assert count(page, ".container.kernel") == 1  # add + relu fused into k1
    page.click(".container.kernel .ghead .head")
    panel = page.evaluate("document.getElementById('panel-body').textContent")
    source = page.evaluate("document.querySelector('#panel-body pre.source').textContent")
    assert source == f.source("k1") and "@njit" in source and "fused elementwise" in panel
    page.click('#view-toggle button[data-view="written"]')
    assert page.evaluate("symgraphViewer.view()") == "written"
    assert count(page, ".container.kernel") == 0
    # a node of the graph as written names its kernel in the compiled plan, with the source
    page.click(f'[data-uid="{uid_of(page, "dense_1")}"] rect.body')
    page.click(f'[data-uid="{uid_of(page, "matmul")}"] rect.body')
    assert page.evaluate("document.querySelector('#panel-body pre.source').textContent") == \
        f.source("k0")
    page.click("#btn-memory")
    panel = page.evaluate("document.getElementById('panel-body').textContent")
    assert "Memory plan" in panel and "peak" in panel
    assert page.evaluate("symgraphViewer.view()") == "compiled"
    assert page.problems() == []


@needs_chromium
def test_profile_overlay_shows_kernel_times(browser, tmp_path):
    _, f = mlp()
    times = profile(f, [np.ones((512, 20), np.float32)], repeat=3)
    page = open_page(browser, tmp_path, f, profile=times, compiled=True)
    assert page.evaluate("symgraphViewer.view()") == "compiled"
    labels = page.evaluate("[...document.querySelectorAll('.box text.k')].map(t => t.textContent)")
    assert len(labels) == 2 and all(re.search(r"kernels? · [\d.]+ (µs|ms|s)$", t) for t in labels)
    argmax = page.evaluate("[...document.querySelectorAll('.node text.k')].map(t => t.textContent)")
    assert len(argmax) == 1 and re.fullmatch(r"k\d+ · [\d.]+ (µs|ms|s)", argmax[0])
    fills = page.evaluate("[...document.querySelectorAll('.box rect.body')].map(r => r.style.fill)")
    assert all(fill.startswith("rgb(") for fill in fills)
    page.click("#btn-profile")
    rows = count(page, "#panel-body table.grid tbody tr")
    assert rows == len(f.kernels())
    assert page.problems() == []


@needs_chromium
def test_loops_layout_direction_and_zoom(browser, tmp_path):
    x = K.placeholder((None, 5, 3), name="seq")
    w = K.variable(np.ones((3, 4)), name="w")

    def step(inp, states):
        h = K.tanh(K.dot(inp, w) + states[0])
        return h, [h]

    with K.name_scope("rnn"):
        last, _, _ = K.rnn(step, x, [K.zeros_like(K.dot(x[:, 0], w))])
    page = open_page(browser, tmp_path, K.function([x], [last]))
    # the one scope wrapping the graph opens by itself; the loop body inside it is a box
    assert count(page, ".container.scope") == 1 and count(page, ".box.loop") == 1
    page.click(".box.loop rect.body")
    assert count(page, ".container.loop") == 1 and count(page, ".edge.body") == 1
    page.click("#btn-dir")
    assert page.evaluate("document.getElementById('btn-dir').textContent") == "left-right"
    before = page.evaluate("symgraphViewer.transform().k")
    page.click("#btn-zoom-in")
    assert page.evaluate("symgraphViewer.transform().k") == pytest.approx(before * 1.25)
    assert page.problems() == []


@needs_chromium
def test_ten_thousand_nodes_open_collapsed_and_pan(browser, tmp_path):
    y = scoped_chain(100, 100)
    start = time.perf_counter()
    page_text = to_html(y)
    build_s = time.perf_counter() - start
    path = tmp_path / "big.html"
    path.write_text(page_text, encoding="utf-8")
    page = browser.open(path.as_uri())
    page.wait_for("window.symgraphViewer && symgraphViewer.firstPaintMs")
    drawn = page.evaluate("symgraphViewer.firstDrawMs")
    painted = page.evaluate("symgraphViewer.firstPaintMs")
    assert len(embedded(page_text)["written"]["nodes"]) == 10_001
    assert count(page, "#layer-nodes .box") == 100 and count(page, "#layer-nodes .node") == 1
    # a real drag: 30 mouse moves, each repainting the transform
    before = page.evaluate("symgraphViewer.transform()")
    page.send("Input.dispatchMouseEvent", {"type": "mousePressed", "x": 300, "y": 100,
                                           "button": "left", "clickCount": 1})
    start = time.perf_counter()
    for i in range(1, 31):
        page.send("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": 300 + 4 * i,
                                               "y": 100 + 10 * i, "button": "left",
                                               "buttons": 1})
    pan_s = time.perf_counter() - start
    page.send("Input.dispatchMouseEvent", {"type": "mouseReleased", "x": 420, "y": 400,
                                           "button": "left", "clickCount": 1})
    after = page.evaluate("symgraphViewer.transform()")
    assert after["ty"] == pytest.approx(before["ty"] + 300) and after["tx"] == \
        pytest.approx(before["tx"] + 120)
    page.click(f'[data-uid="{uid_of(page, "block_0")}"] rect.body')
    assert count(page, "#layer-nodes .node") == 101
    layout_ms = page.evaluate("symgraphViewer.stats.layoutMs")
    print(f"\n10,001 nodes: HTML built in {build_s:.2f} s, first draw {drawn:.0f} ms, painted "
          f"{painted:.0f} ms after navigation start, 30-step drag {pan_s * 1e3:.0f} ms, "
          f"expanding a 100-node scope: layout {layout_ms:.1f} ms")
    # generous bounds (a shared CI machine): the point is no quadratic work
    assert build_s < 20 and painted < 10_000 and pan_s < 10
    assert page.problems() == []


@needs_chromium
def test_screenshots(browser, tmp_path):
    _, f = mlp()
    page = open_page(browser, tmp_path, f)
    shots = [page.screenshot(str(tmp_path / "collapsed.png"))]
    for scope in SCOPES:
        page.evaluate(f"symgraphViewer.expand({json.dumps(scope)})")
    page.click("#btn-fit")
    shots.append(page.screenshot(str(tmp_path / "expanded.png")))
    page.click('#view-toggle button[data-view="compiled"]')
    shots.append(page.screenshot(str(tmp_path / "compiled.png")))
    big = open_page(browser, tmp_path, scoped_chain(100, 100), name="big")
    shots.append(big.screenshot(str(tmp_path / "big.png")))
    for shot in shots:
        data = open(shot, "rb").read()
        assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
    assert page.problems() == [] and big.problems() == []

