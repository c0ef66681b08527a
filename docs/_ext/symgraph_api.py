"""The API reference's checks and the pages of ``symgraph.backend``.

* Before reading, writes one page per group of ``symgraph.backend`` functions (grouped
  by the module that defines them, titles in :data:`BACKEND_GROUPS`) under
  ``docs/api/backend/`` (generated: not in git). A public backend name whose module has
  no group is a warning, so a new module cannot drop out of the reference silently.
* Records every object autodoc documents. A public name (:func:`public_names`) that no
  page documents, or documents without a docstring, is a warning.
* After reading, runs the examples of every documented docstring as doctests (the
  standard library's ``doctest``, each docstring in a copy of its module's globals,
  with ``ELLIPSIS`` and ``NORMALIZE_WHITESPACE`` as the test suite uses them). A
  failing example is a warning, and so is a public name whose docstring has no example
  that runs (skipped ones and bare imports do not count), unless ``api_no_example``
  (conf.py) names it with a reason. Doctests run with tiered execution off, as the
  test suite runs them, so results are the kernels' bit for bit.
* Runs the ``pycon`` blocks of the guides ``guide_doctests`` (conf.py) names.
* Resolves a reference by a short name (``:exc:`FeedError```) when exactly one
  documented object has that name (:func:`resolve_short_name`).

``python docs/build.py`` turns warnings into errors.
"""

from __future__ import annotations

import doctest
import importlib
import inspect
import io
import re
import sys
import time
import types
from pathlib import Path

try:
    from sphinx.util import logging
except ImportError:  # tests/test_docs_site.py imports this module without Sphinx
    import logging

logger = logging.getLogger(__name__)

#: backend module -> (page slug, title, one line on what is there)
BACKEND_GROUPS = {
    "symgraph.backend._creation": ("creation", "Tensors, variables and random values",
                                   "Placeholders, variables, constants, filled and random "
                                   "tensors, casts."),
    "symgraph.backend._session": ("session", "Evaluation, values and introspection",
                                  "Compiling and evaluating, variable values, static "
                                  "shapes and dtypes, name scopes, the session."),
    "symgraph.backend._math": ("math", "Elementwise math and comparisons",
                               "Elementwise functions; compiled, chains of them fuse into "
                               "one numba loop."),
    "symgraph.backend._reduce": ("reduce", "Reductions", "Sums, means, extrema, "
                                 "variances, arg-reductions and logical reductions."),
    "symgraph.backend._linalg": ("linalg", "Matrix products", "``dot`` and ``batch_dot``."),
    "symgraph.backend._shape": ("shape", "Shapes: reshaping, joining, repeating",
                                "Reshapes, transposes, concatenation, stacking, tiling."),
    "symgraph.backend._misc": ("misc", "Indexing, cumulative ops and sizes",
                               "Gathering, cumulative sums and products, sizes, random "
                               "variables."),
    "symgraph.backend._extra": ("extra", "Keras 2.3.1 extras",
                                "Names Keras 2.3.1's backends have beyond the TF 2.2 "
                                "contract."),
    "symgraph.backend._nn": ("nn", "Activations", "relu, elu, softmax, hard sigmoid."),
    "symgraph.backend._losses": ("losses", "Losses and metrics",
                                 "Crossentropies and ``in_top_k``."),
    "symgraph.backend._normalization": ("normalization", "Normalization, bias and dropout",
                                        "Batch normalization, ``bias_add``, ``dropout``."),
    "symgraph.backend._conv": ("conv", "Convolution and pooling",
                               "1-D, 2-D and 3-D convolutions (plain, transposed, "
                               "separable, depthwise, locally connected) and pooling."),
    "symgraph.backend._image": ("image", "Images: resizing and padding",
                                "Resizing and zero padding of image and volume batches."),
    "symgraph.backend._control": ("control", "Loops: rnn, map_fn, foldl, foldr",
                                  "Loops over a tensor's first axis, compiled as one scan "
                                  "kernel."),
    "symgraph.backend._gradients": ("gradients", "Gradients",
                                    "Reverse-mode symbolic gradients."),
    "symgraph.backend._updates": ("updates", "Updates and effects",
                                  "Variable updates, control dependencies, printing, "
                                  "stopping gradients."),
    "symgraph.backend._phase": ("phase", "Learning phase",
                                "Training versus inference branches."),
    "symgraph.backend._ctc": ("ctc", "Connectionist temporal classification",
                              "CTC loss and decoding."),
    "symgraph.backend._sparse": ("sparse", "Sparse tensors", "``is_sparse`` and "
                                 "``to_dense``; the sparse tensor type is "
                                 ":class:`symgraph.ops.sparse.SparseTensor`."),
    "symgraph.backend._compat": ("compat", "Compatibility: sessions, eager and v1 names",
                                 "Names of TF's v1 API and Keras's Theano backend."),
    "symgraph.config": ("settings", "Settings: floatx, epsilon, image data format",
                        "The Keras settings, re-exported from :mod:`symgraph.config`."),
}

#: more objects a group's page documents (not functions of symgraph.backend)
BACKEND_EXTRAS = {
    "sparse": [".. automodule:: symgraph.ops.sparse",
               ".. autoclass:: symgraph.ops.sparse.SparseTensor\n   :members: eval",
               ".. autoclass:: symgraph.ops.sparse.SparseTensorValue"],
    "compat": [".. autoclass:: symgraph.backend._compat.Session\n   :members: run"],
}

BACKEND_INTRO = """\
# `symgraph.backend`

```{eval-rst}
.. module:: symgraph.backend
   :no-index:
```

`import symgraph.backend as K`: the Keras backend API (TF 2.2's `tf.keras.backend` and
its v1 compat names, plus what Keras 2.3.1's backends add). Every function builds graph
nodes with a static shape and dtype; nothing runs until {func}`K.eval
<symgraph.backend.eval>` or a {func}`K.function <symgraph.backend.function>` is called.
[The API status table](../../api.md) lists the contract's 146 names and the semantics
chosen where TF and Keras left room.

"""


def backend_public() -> list[str]:
    """The public callables of ``symgraph.backend`` (as ``tests/test_docs.py`` lists them)."""
    import symgraph.backend as K

    return sorted(n for n in dir(K) if not n.startswith("_") and callable(getattr(K, n)))


def public_names() -> list[str]:
    """Every public name the reference must document, fully qualified."""
    import symgraph.config
    import symgraph.dask
    import symgraph.errors
    import symgraph.inspect
    import symgraph.io
    from symgraph.runtime.function import Function

    names = [f"symgraph.backend.{n}" for n in backend_public()]
    # symgraph.save / symgraph.load are symgraph.io's save / load (documented there)
    names += ["symgraph.function", "symgraph.runtime.function.Function",
              "symgraph.runtime.function.Function.__call__"]
    names += [f"symgraph.runtime.function.Function.{n}" for n in vars(Function)
              if not n.startswith("_")]
    names += [f"symgraph.inspect.{n}" for n, v in vars(symgraph.inspect).items()
              if not n.startswith("_") and not isinstance(v, types.ModuleType)]
    names += [f"symgraph.io.{n}" for n in symgraph.io.__all__
              if inspect.isfunction(getattr(symgraph.io, n))]
    names += [f"symgraph.errors.{n}" for n, v in vars(symgraph.errors).items()
              if inspect.isclass(v) and issubclass(v, Exception) and v.__module__ ==
              "symgraph.errors"]
    # symgraph's own top-level names (symgraph.Tensor is symgraph.core.tensor.Tensor...)
    names += ["symgraph.core.tensor.Tensor", "symgraph.core.graph.Graph",
              "symgraph.core.graph.get_default_graph"]
    names += [f"symgraph.dask.{n}" for n in symgraph.dask.__all__]
    names += [f"symgraph.config.{n}" for n, v in vars(symgraph.config).items()
              if not n.startswith("_") and inspect.isfunction(v)
              and v.__module__ == "symgraph.config"]
    return names


# -- the generated backend pages ---------------------------------------------------------------
def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def write_backend_pages(app) -> None:
    import symgraph.backend as K

    folder = Path(app.srcdir) / "api" / "backend"
    by_module: dict[str, list[str]] = {}
    for name in backend_public():
        module = getattr(getattr(K, name), "__module__", None)
        if module not in BACKEND_GROUPS:
            logger.warning(f"symgraph.backend.{name} (from {module}) is in no group of "
                           "the API reference: add its module to BACKEND_GROUPS in "
                           "docs/_ext/symgraph_api.py")
            continue
        by_module.setdefault(module, []).append(name)
    slugs = []
    for module, (slug, title, blurb) in BACKEND_GROUPS.items():
        names = by_module.get(module)
        if not names:
            continue
        slugs.append(slug)
        table = "\n".join(f"   {n}" for n in names)
        entries = "\n\n".join(f".. autofunction:: {n}" if not inspect.isclass(getattr(K, n))
                              else f".. autoclass:: {n}\n   :members:\n   :show-inheritance:"
                              for n in names)
        entries += "".join(f"\n\n{extra}" for extra in BACKEND_EXTRAS.get(slug, []))
        _write_if_changed(folder / f"{slug}.md", f"""\
<!-- generated by docs/_ext/symgraph_api.py from {module}: do not edit -->
# {title}

{blurb}

```{{eval-rst}}
.. currentmodule:: symgraph.backend

.. autosummary::
   :nosignatures:

{table}

{entries}
```
""")
    toctree = "\n".join(slugs)
    _write_if_changed(folder / "index.md", f"""\
<!-- generated by docs/_ext/symgraph_api.py: do not edit -->
{BACKEND_INTRO}
```{{toctree}}
:maxdepth: 1

{toctree}
```
""")


# -- what autodoc documented -------------------------------------------------------------------
def _record(app, what, name, obj, options, lines) -> None:
    documented = getattr(app.env, "symgraph_documented", None)
    if documented is None:
        documented = app.env.symgraph_documented = {}
    documented.setdefault(name, (what, app.env.docname))
    doc = obj.__doc__ if not isinstance(obj, property) else obj.fget.__doc__
    if not (doc and doc.strip()) and what != "module":
        logger.warning(f"{name} has no docstring", location=app.env.docname)


def _merge(app, env, docnames, other) -> None:
    env.symgraph_documented = {**getattr(other, "symgraph_documented", {}),
                               **getattr(env, "symgraph_documented", {})}


def _purge(app, env, docname) -> None:
    documented = getattr(env, "symgraph_documented", {})
    for name in [n for n, (_, d) in documented.items() if d == docname]:
        del documented[name]


def _resolve(name: str):
    """The object of a dotted name (a module attribute, or a class's member)."""
    parts = name.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ImportError:
            continue
        for part in parts[i:]:
            obj = inspect.getattr_static(obj, part) if inspect.isclass(obj) else \
                getattr(obj, part)
        return obj
    raise ImportError(name)


def _globals_of(obj) -> dict:
    target = obj.fget if isinstance(obj, property) else obj
    target = getattr(target, "__func__", target)
    target = inspect.unwrap(target) if callable(target) else target
    if isinstance(target, types.ModuleType):
        return dict(vars(target))
    if getattr(target, "__globals__", None) is not None:
        return dict(target.__globals__)
    module = sys.modules.get(getattr(target, "__module__", "") or "")
    return dict(vars(module)) if module else {}


def _location(obj) -> str | None:
    target = obj.fget if isinstance(obj, property) else getattr(obj, "__func__", obj)
    target = inspect.unwrap(target) if callable(target) else target
    try:
        return f"{inspect.getsourcefile(target)}:{inspect.getsourcelines(target)[1]}"
    except (TypeError, OSError):
        return None


def _where(obj) -> str:
    where = _location(obj)
    return f"{where}: " if where else ""


def _only_imports(source: str) -> bool:
    """Whether an example's statement does nothing but import."""
    import ast

    try:
        body = ast.parse(source).body
    except SyntaxError:
        return False
    return all(isinstance(node, (ast.Import, ast.ImportFrom)) for node in body)


def _check(app, env) -> None:
    documented = getattr(env, "symgraph_documented", {})
    exempt = app.config.api_no_example
    public = public_names()
    for name in public:
        if name not in documented:
            logger.warning(f"public name {name} is documented on no page of the API "
                           "reference (docs/api/)")
    for name in exempt:
        if name not in public:
            logger.warning(f"api_no_example names {name}, which is not a public name")
    run_doctests(documented, set(public), exempt)
    run_guide_doctests(Path(app.srcdir), app.config.guide_doctests)


def run_guide_doctests(srcdir: Path, pages: list[str]) -> None:
    """Run the ``pycon`` blocks of these guides, each page's blocks in order in one
    namespace (as a reader would type them)."""
    import symgraph.backend as K
    from symgraph import config

    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    tiered = config.tiered()
    config.set_tiered(False)
    for page in pages:
        path = srcdir / page
        if not path.exists():
            logger.warning(f"guide_doctests names {page}, which does not exist")
            continue
        blocks = re.findall(r"^```pycon\n(.*?)^```", path.read_text(), flags=re.S | re.M)
        if not blocks:
            logger.warning(f"{page}: guide_doctests names it, but it has no pycon block")
            continue
        test = doctest.DocTestParser().get_doctest("\n".join(blocks), {}, page, str(path), 0)
        K.clear_session()
        out = io.StringIO()
        result = doctest.DocTestRunner(optionflags=flags).run(test, out=out.write)
        K.clear_session()
        if result.failed:
            logger.warning(f"{path}: a pycon example failed:\n{out.getvalue()}")
    config.set_tiered(tiered)


def run_doctests(documented: dict, public: set, exempt: dict) -> None:
    """Run every documented docstring's examples; warn on failures and on public names
    without a runnable example."""
    import symgraph.backend as K
    from symgraph import config

    flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
    parser = doctest.DocTestParser()
    tiered = config.tiered()
    config.set_tiered(False)  # as the test suite runs them: results bit for bit
    objects: dict[int, tuple] = {}     # one object documented under several names: once
    for name in sorted(documented):
        obj = _resolve(name)
        objects.setdefault(id(obj), (obj, []))[1].append(name)
    ran = examples = 0
    start = time.perf_counter()
    for obj, names in objects.values():
        name = next((n for n in names if n in public), names[0])
        raw = obj.fget.__doc__ if isinstance(obj, property) else getattr(obj, "__doc__", None)
        if not isinstance(raw, str):
            continue
        doc = inspect.cleandoc(raw)
        test = parser.get_doctest(doc, _globals_of(obj), name, _location(obj), 0)
        if not any(not e.options.get(doctest.SKIP) and not _only_imports(e.source)
                   for e in test.examples):
            if any(n in public for n in names) and not any(n in exempt for n in names):
                logger.warning(f"{_where(obj)}{name}: its docstring has no example that "
                               "runs (add an ``Example:`` section with >>> lines)")
            continue
        K.clear_session()
        out = io.StringIO()
        runner = doctest.DocTestRunner(optionflags=flags, verbose=False)
        result = runner.run(test, out=out.write, clear_globs=True)
        ran += 1
        examples += result.attempted
        if result.failed:
            logger.warning(f"{_where(obj)}doctest of {name} failed:\n{out.getvalue()}")
    K.clear_session()
    config.set_tiered(tiered)
    logger.info(f"symgraph_api: ran {examples} examples of {ran} docstrings as doctests "
                f"({time.perf_counter() - start:.1f} s)")


# -- short names in docstrings -------------------------------------------------------------
def resolve_short_name(app, env, node, contnode):
    """Resolve a Python reference that names an object by its last component only
    (``:exc:`FeedError``` in a docstring of :mod:`symgraph.dask`, napoleon's ``Raises:``
    sections) when exactly one documented object has that name; among several, the one
    in the referring module's package. Anything else stays a broken reference."""
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "")
    if not target or "." in target.strip("~."):
        return None
    target = target.strip("~.")
    domain = env.get_domain("py")
    candidates = [name for name in domain.objects if name.rsplit(".", 1)[-1] == target
                  and not domain.objects[name].aliased]
    if len(candidates) > 1:
        module = node.get("py:module") or ""
        candidates = [c for c in candidates if module and c.startswith(module + ".")] or \
            candidates
    if len(candidates) > 1:  # a name re-exported by symgraph.backend: the defining one
        candidates = [c for c in candidates if not c.startswith("symgraph.backend.")] or \
            candidates
    if len(candidates) != 1:
        return None
    name = candidates[0]
    entry = domain.objects[name]
    from sphinx.util.nodes import make_refnode

    return make_refnode(app.builder, node["refdoc"], entry.docname, entry.node_id, contnode,
                        name)


def setup(app):
    app.connect("missing-reference", resolve_short_name)
    app.add_config_value("api_no_example", {}, "env")
    app.add_config_value("guide_doctests", [], "env")
    app.connect("builder-inited", write_backend_pages)
    app.connect("autodoc-process-docstring", _record)
    app.connect("env-merge-info", _merge)
    app.connect("env-purge-doc", _purge)
    app.connect("env-check-consistency", _check)
    return {"version": "1", "parallel_read_safe": True, "parallel_write_safe": True,
            "env_version": 1}
