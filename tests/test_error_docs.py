"""Messages that name a fix name the docs page that explains it (``errors.docs_hint``),
and those pages and sections exist, so the hints cannot rot."""

from __future__ import annotations

import ast
import doctest
import os
import re
import warnings
from pathlib import Path

import numpy as np
import pytest

import symgraph.backend as K
from symgraph import errors
from symgraph.errors import FeedError, GraphFileError, ShapeError, docs_hint

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _slug(heading: str) -> str:
    """A heading's anchor as GitHub and MyST (``myst_heading_anchors``) make it."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def _anchors(page: str) -> set[str]:
    """The anchors of a page's headings, levels 1-3 (the site's ``myst_heading_anchors``)."""
    text = re.sub(r"^```.*?^```", "", (DOCS / f"{page}.md").read_text(), flags=re.S | re.M)
    return {_slug(h) for h in re.findall(r"^#{1,3} (.+)$", text, flags=re.M)}


def _hints_in_the_sources() -> list[tuple[str, str, str]]:
    """``(file:line, page, anchor)`` of every ``docs_hint(...)`` call in symgraph."""
    found = []
    for path in sorted((ROOT / "symgraph").rglob("*.py")):
        tree = ast.parse(path.read_text(), filename=str(path))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "docs_hint":
                where = f"{path.relative_to(ROOT)}:{node.lineno}"
                args = [a.value if isinstance(a, ast.Constant) else None for a in node.args]
                assert args and all(isinstance(a, str) for a in args), \
                    f"{where}: docs_hint takes literal strings (so this test can check them)"
                found.append((where, args[0], args[1] if len(args) > 1 else ""))
    return found


HINTS = _hints_in_the_sources()


def test_the_sources_hint_at_the_four_topics_of_the_errors_page():
    hinted = {(page, anchor) for _, page, anchor in HINTS}
    assert {("errors", "feeds"), ("errors", "shapes"), ("errors", "keras-2-set-up"),
            ("errors", "cache-directories")} <= hinted
    assert len(HINTS) >= 15


@pytest.mark.parametrize("where, page, anchor", HINTS, ids=[h[0] for h in HINTS])
def test_every_hinted_page_and_section_exists(where, page, anchor):
    assert (DOCS / f"{page}.md").is_file(), f"{where}: docs/{page}.md does not exist"
    if anchor:
        assert anchor in _anchors(page), f"{where}: docs/{page}.md has no section #{anchor}"


def test_the_errors_page_links_resolve():
    text = (DOCS / "errors.md").read_text()
    links = re.findall(r"\]\(([\w./-]+\.md)(?:#([\w-]+))?\)", text)
    assert len(links) >= 6
    for target, anchor in links:
        page = os.path.normpath(target).removesuffix(".md")
        assert (DOCS / f"{page}.md").is_file(), target
        if anchor:
            assert anchor in _anchors(page), f"{target}#{anchor}"


def test_the_site_url_is_the_documentation_url_of_the_package():
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert f'Documentation = "{errors.DOCS_URL}"' in pyproject
    assert docs_hint("errors", "feeds") == \
        f"see {errors.DOCS_URL}errors.html#feeds (docs/errors.md)"
    assert docs_hint("graph-files").endswith("graph-files.html (docs/graph-files.md)")
    assert doctest.testmod(errors).failed == 0


# -- the messages themselves ---------------------------------------------------------------

FEEDS = re.escape(docs_hint("errors", "feeds"))
SHAPES = re.escape(docs_hint("errors", "shapes"))


def test_feed_errors_name_the_feeds_section():
    x = K.placeholder(shape=(None, 3), name="x")
    y = K.placeholder(shape=(None, 3), name="y")
    f = K.function([x], [K.sum(x, axis=1)])
    for bad in ([np.ones((2, 4), "float32")], [np.ones((2, 3), "complex64")], [x], []):
        with pytest.raises(FeedError, match=FEEDS + "$"):
            f(bad)
    with pytest.raises(FeedError, match=r"pass it in the inputs of K\.function; " + FEEDS):
        K.function([x], [x + y])
    with pytest.raises(FeedError, match=FEEDS):
        f({y: np.ones((2, 3), "float32")})
    fixed = K.placeholder(shape=(4, 3), name="fixed")
    with pytest.raises(FeedError, match=r"divides the rows.*" + FEEDS):
        K.function([fixed], [fixed * 2]).predict(np.ones((10, 3), "float32"), batch_size=4)


def test_run_time_shape_errors_name_the_shapes_section():
    x = K.placeholder(shape=(None, 3))
    y = K.placeholder(shape=(None, 3))
    f = K.function([x, y], [x + y])
    with pytest.raises(ShapeError, match=r"run-time inputs: .*\]; " + SHAPES + "$"):
        f([np.ones((2, 3), "float32"), np.ones((3, 3), "float32")])
    g = K.function([x], [K.mean(x)])
    with pytest.raises(ShapeError, match=r"use f\.map.*" + SHAPES):
        g.predict(np.ones((8, 3), "float32"), batch_size=4)


def test_symbolic_tensors_in_python_control_flow_name_their_section():
    x = K.placeholder(shape=(2,))
    hint = re.escape(docs_hint("errors", "symbolic-tensors-in-python-code"))
    with pytest.raises(TypeError, match=r"use K\.switch.*" + hint):
        bool(x > 0)
    with pytest.raises(TypeError, match=r"index it instead; " + hint):
        iter(x)


def test_keras_set_up_errors_name_their_section(monkeypatch, tmp_path):
    from symgraph.io import keras2

    hint = re.escape(docs_hint("errors", "keras-2-set-up"))

    class NotOurs:  # a model whose tensors come from another backend
        inputs, outputs, name = [object()], [object()], "m"

    with pytest.raises(GraphFileError, match=r"KERAS_BACKEND=symgraph\.backend.*" + hint):
        keras2.inference_function(NotOurs())
    monkeypatch.setenv("KERAS_BACKEND", "tensorflow")
    with pytest.raises(GraphFileError, match=r"convert-keras needs 'symgraph.backend'; " + hint):
        keras2.convert_keras(tmp_path / "m.h5", tmp_path / "m.sg")


def test_cache_directory_warnings_name_their_section(monkeypatch, tmp_path):
    from symgraph.kernels import cache

    hint = re.escape(docs_hint("errors", "cache-directories"))
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    shared = tmp_path / "shared"
    shared.mkdir()
    shared.chmod(0o777)
    try:
        for directory, why in ((blocker / "cache", "is not writable"),
                               (shared, "is writable by other users")):
            monkeypatch.setenv("SYMGRAPH_CACHE_DIR", str(directory))
            cache.reset()
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                assert cache._usable_dir() is None
            assert len(caught) == 1
            assert re.search(why + ".*" + hint, str(caught[0].message)), caught[0].message
    finally:
        monkeypatch.undo()
        cache.reset()
