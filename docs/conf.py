"""Sphinx configuration of symgraph's documentation site.

Build it with ``python docs/build.py`` (warnings are errors; see that file).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

DOCS = Path(__file__).resolve().parent
ROOT = DOCS.parent
sys.path.insert(0, str(DOCS / "_ext"))
sys.path.insert(0, str(ROOT))

# the docstring examples and the HTML views run in this process: never open a browser,
# never wait for a display
os.environ.pop("DISPLAY", None)
os.environ.pop("WAYLAND_DISPLAY", None)

import symgraph  # noqa: E402

project = "symgraph"
author = "the symgraph authors"
copyright = "symgraph authors"
release = symgraph.__version__
version = release

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "symgraph_api",       # docs/_ext: backend reference pages, public-name and doctest checks
    "symgraph_gallery",   # docs/_ext: runs examples/*.py, one page each with its output
    "symgraph_views",     # docs/_ext: the interactive HTML views embedded in the guides
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "_generated", "Thumbs.db", ".DS_Store", "README.md"]
templates_path = []
# unlabelled code blocks in the guides are listings and program output, not Python
highlight_language = "text"

# -- MyST: the guides stay plain markdown ---------------------------------------------------
myst_enable_extensions = ["colon_fence", "deflist", "attrs_inline"]
myst_heading_anchors = 3          # [text](page.md#a-heading) links work
myst_links_external_new_tab = False

# -- autodoc / napoleon: Google-style docstrings ---------------------------------------------
autodoc_default_options = {"member-order": "bysource"}
autodoc_typehints = "signature"
autodoc_preserve_defaults = True
autosummary_generate = False
napoleon_google_docstring = True
napoleon_numpy_docstring = False
napoleon_use_rtype = False

# broken references are errors (build.py passes -W): every :func:/:class:/:meth: must
# resolve. Names from outside symgraph that signatures and docstrings mention are listed
# here rather than fetched (the build needs no network).
nitpicky = True
nitpick_ignore_regex = [
    (r"py:.*", r"(np|numpy|numba|networkx|nx|dask|da|distributed|keras|tqdm)(\..*)?"),
    (r"py:.*", r"(collections\.abc|typing|os|io|json|threading|concurrent\.futures|"
               r"pathlib|webbrowser)\..*"),
    (r"py:.*", r".*\._\w+"),  # private helpers in signatures (K.function's _Single)
    (r"py:class", r"(Iterable|Iterator|Sequence|Callable|Mapping|Any|PathLike|"
                  r"ndarray|ArrayLike|optional|array-like|array|arrays)"),
]

# -- HTML -----------------------------------------------------------------------------------
html_theme = "pydata_sphinx_theme"
html_title = f"symgraph {release}"
(DOCS / "_generated" / "static").mkdir(parents=True, exist_ok=True)  # views, gallery files
html_static_path = ["_static", "_generated/static"]
html_css_files = ["symgraph.css"]
html_show_sourcelink = False
html_theme_options = {
    "navigation_with_keys": False,
    "show_toc_level": 2,
    "header_links_before_dropdown": 6,
    "secondary_sidebar_items": ["page-toc"],
    "footer_start": ["copyright"],
    "footer_end": ["sphinx-version"],
}
html_context = {"default_mode": "light"}
html_sidebars = {"index": [], "getting-started": []}  # pages without a section to navigate

# -- symgraph_gallery: how each example runs during the build ---------------------------------
# small, fast arguments (seconds each); an example missing here fails the build
gallery_examples = {
    "batched_inference.py": [],
    "train_mlp.py": ["--epochs", "8"],
    "batch_predict.py": ["--rows", "20000"],
    "graph_files.py": [],
    "command_line.py": ["--rows", "5000"],
    "dask_mlp.py": ["--rows", "20000", "--chunk", "5000", "--workers", "1,2"],
    "inspect_graph.py": [],
}
# set for every example's run (and shown in its command): the outputs shown come from
# the compiled kernels, as in the test suite, and no background compile child
# (docs/api/environment.md) outlives the build to compete with what CI runs next
gallery_env = {"SYMGRAPH_TIERED": "0"}

# -- symgraph_api: docstrings and guides run as doctests -----------------------------------
# public names whose docstring may go without a runnable example, with the reason
api_no_example = {
    "symgraph.inspect.show": "opens a browser window; to_html, which writes the page it "
                             "opens, has a runnable example",
}
# guides whose ```pycon blocks run, in order, as one doctest per page
guide_doctests = ["getting-started.md", "deferred-models.md", "training.md"]
