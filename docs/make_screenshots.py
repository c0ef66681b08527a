"""Screenshots of the interactive view for docs/inspecting.md, taken in headless Chromium.

    python docs/make_screenshots.py [--out docs/images]

Writes ``interactive_collapsed.png`` (the demo MLP as it opens), ``interactive_expanded.png``
(its scopes expanded, a node's details), ``interactive_compiled.png`` (as compiled, with
kernel times and a kernel's source), ``interactive_memory.png`` (the memory plan),
``interactive_10k.png`` (a graph of 10,001 nodes in 100 name scopes, as it opens) and
``interactive_search.png`` (a search in it), and prints how long the 10,001-node page took
to build in Python and to draw in the browser. Needs Debian's ``chromium`` (or
``$SYMGRAPH_CHROMIUM``); drives it with ``tests/browser.py``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import symgraph.backend as K  # noqa: E402
from symgraph.demo import build_model  # noqa: E402
from symgraph.inspect.html import to_html  # noqa: E402
from symgraph.inspect.profile import profile  # noqa: E402
from tests.browser import Browser, find_chromium  # noqa: E402
from tests.helpers import scoped_chain  # noqa: E402

WIDTH, HEIGHT = 1400, 820


def demo_mlp():
    """The demo MLP (``symgraph.demo.build_model``), compiled."""
    x, _, _, probs, label = build_model()
    return K.function([x], [probs, label], name="demo MLP")


def expand_layers(page) -> None:
    """Open the demo MLP's two layer scopes."""
    for scope in ("dense_1", "dense_2"):
        page.evaluate(f"symgraphViewer.expand('{scope}')")


def open_page(browser, path):
    page = browser.open(Path(path).as_uri(), WIDTH, HEIGHT)
    page.wait_for("window.symgraphViewer && symgraphViewer.firstPaintMs")
    return page


def check(page) -> None:
    problems = page.problems()
    if problems:
        raise SystemExit("the page reported problems:\n" + "\n".join(problems))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "images"))
    out = Path(parser.parse_args().out)
    out.mkdir(parents=True, exist_ok=True)
    if find_chromium() is None:
        raise SystemExit("no chromium on PATH (apt-get install chromium)")
    tmp = Path(tempfile.mkdtemp(prefix="symgraph-shots-"))
    K.clear_session()
    f = demo_mlp()
    times = profile(f, [np.random.default_rng(1).normal(size=(4096, 20)).astype("float32")])
    to_html(f, tmp / "mlp.html", profile=times, batch_size=64)
    K.clear_session()
    start = time.perf_counter()
    to_html(scoped_chain(), tmp / "big.html")
    build_s = time.perf_counter() - start
    with Browser() as browser:
        page = open_page(browser, tmp / "mlp.html")
        page.screenshot(str(out / "interactive_collapsed.png"))
        expand_layers(page)
        page.evaluate("symgraphViewer.select('dense_1/bias')")
        page.click("#btn-fit")
        page.screenshot(str(out / "interactive_expanded.png"))
        page.click('#view-toggle button[data-view="compiled"]')
        expand_layers(page)
        page.click(".container.kernel .ghead .head")
        page.click("#btn-fit")
        page.screenshot(str(out / "interactive_compiled.png"))
        page.click("#btn-memory")
        page.screenshot(str(out / "interactive_memory.png"))
        check(page)
        big = open_page(browser, tmp / "big.html")
        drawn = big.evaluate("symgraphViewer.firstDrawMs")
        painted = big.evaluate("symgraphViewer.firstPaintMs")
        big.screenshot(str(out / "interactive_10k.png"))
        big.type_text("#search", "block_57/add_20")
        big.wait_for("document.getElementById('search-count').textContent === '1 match'")
        big.press("Enter", 13)
        big.wait_for("!!document.querySelector('#panel-body h2')")
        big.screenshot(str(out / "interactive_search.png"))
        check(big)
    print(f"10,001 nodes: HTML built in {build_s:.2f} s; in the browser drawn {drawn:.0f} ms "
          f"and painted {painted:.0f} ms after the navigation started")
    print(f"screenshots in {out}")


if __name__ == "__main__":
    main()
