"""The interactive view: one self-contained HTML page of a graph.

:func:`to_html` writes a single file (no CDN, no server: it works offline from
``file://``) holding the viewer's script and style (package data in ``static/``) and
the graph data as JSON: the graph as written and, for a compiled function, the graph
as compiled (both from :func:`symgraph.inspect.export.to_json`), every kernel's
generated source, the memory plan of one call, optional kernel times and the source
lines that created the nodes. The page lays the graph out itself (name scopes collapse
into boxes that expand on click), with pan, zoom, search and a details panel.
:func:`show` writes one and opens it in a browser.
"""

from __future__ import annotations

import json
import linecache
import os
import re
import sys
import tempfile
import webbrowser
from importlib import resources
from pathlib import Path

from .export import COLOURS, to_json
from .view import graph_view

__all__ = ["can_open_browser", "page_data", "show", "to_html", "viewer_script"]

_MARKER = re.compile(r"\{\{(TITLE|CSS|DATA|JS)\}\}")
_SOURCE_LINE_MAX = 400  # characters of a source line kept for the details panel
#: the viewer's script files, in the order they are joined (later ones use earlier ones)
_SCRIPTS = ("common.js", "model.js", "layout.js", "draw.js", "viewer.js")


def _static(name: str) -> str:
    return resources.files(__package__).joinpath("static", name).read_text(encoding="utf-8")


def viewer_script() -> str:
    """The page's script: the viewer's parts (``static/*.js``) joined in one function
    scope, in strict mode.

    Returns:
        JavaScript text.

    Example:
        >>> "function layered(" in viewer_script()
        True
    """
    parts = []
    for name in _SCRIPTS:
        text = _static(name)
        if "</script" in text.lower():  # it would end the page's script element
            raise RuntimeError(f"static/{name} must not contain '</script'")
        parts.append(f"// ---- {name}\n{text}")
    return '(function () {\n"use strict";\n' + "\n".join(parts) + "})();\n"


def _function_of(x, compiled):
    """The compiled Function to show next to the graph as written (None: none)."""
    view = graph_view(x)
    if compiled is False:
        return view, None
    if view.function is not None:
        return view, view.function
    if compiled:
        from .tables import compile_view

        fn = compile_view(view)
        if fn is None:
            raise ValueError("compiled=True: these tensors cannot be compiled into a function "
                             "(is a placeholder without a default not among the inputs?)")
        return view, fn
    return view, None


def _memory(fn, batch_size: int) -> dict:
    from .compiled import memory_plan

    try:
        plan = memory_plan(fn, batch_size=batch_size)
    except Exception as exc:  # an unknown rank, a shape the plan cannot take: say why
        return {"error": f"no memory plan for batch size {batch_size}: {exc}"}
    return {"batch_size": batch_size, "steps": len(fn.plan.steps),
            "input_shapes": [list(s) for s in plan.input_shapes],
            "peak_bytes": plan.peak_bytes, "peak_step": plan.peak_step,
            "output_bytes": plan.output_bytes,
            "buffers": [{"node": b.node.id, "name": b.node.name,
                         "kernel": None if b.kernel is None else b.kernel.name,
                         "shape": list(b.shape), "dtype": b.dtype, "bytes": b.nbytes,
                         "born": b.born, "dies": b.dies,
                         "reuses": None if b.reuses is None else b.reuses.name}
                        for b in plan.buffers]}


def _sources(graphs: list) -> dict:
    """``"file:line"`` -> that line of the user's code, for every node location."""
    out = {}
    for graph in graphs:
        for node in graph["nodes"]:
            loc = node.get("location")
            if not loc or loc in out:
                continue
            path, _, line = loc.rpartition(":")
            text = linecache.getline(path, int(line)) if line.isdigit() else ""
            if text.strip():
                out[loc] = text.strip()[:_SOURCE_LINE_MAX]
    return out


def page_data(x, *, compiled: bool | None = None, profile: dict | None = None,
              batch_size: int = 32) -> dict:
    """The data the page shows (what :func:`to_html` embeds), as a dict of JSON data.

    Args:
        x: a tensor, a list of tensors, a compiled Function or a graph file path.
        compiled: ``None``: add the compiled view when ``x`` is or holds a function;
            ``True``: add it (compiling tensors into a function if need be) and open the
            page on it; ``False``: the graph as written only.
        profile: kernel name -> seconds (:func:`symgraph.inspect.profile.profile`).
        batch_size: the batch (``None`` dims of the inputs) of the memory plan.

    Returns:
        ``{"title", "initial_view", "colours", "written", "compiled", "kernel_sources",
        "memory", "profile", "sources"}``: the two graphs are :func:`to_json` documents
        (``compiled`` None without a function).

    Example:
        >>> import symgraph.backend as K
        >>> x = K.placeholder((None, 3), name="x")
        >>> data = page_data(K.function([x], [K.exp(x) + 1.0]))
        >>> data["initial_view"], sorted(data["kernel_sources"])
        ('written', ['k0'])
    """
    view, fn = _function_of(x, compiled)
    written = json.loads(to_json(fn if fn is not None and view.function is not None else x))
    graphs = [written]
    data = {"title": view.label or (fn.name if fn is not None and fn.name else ""),
            "initial_view": "compiled" if compiled else "written",
            "colours": dict(COLOURS), "written": written, "compiled": None,
            "kernel_sources": {}, "memory": None, "profile": None}
    if fn is not None:
        from .compiled import kernel_source

        data["compiled"] = json.loads(to_json(fn, compiled=True))
        graphs.append(data["compiled"])
        # the memory plan prepares a call's loops first, so that the sources are those a
        # call runs (a kernel's source lists the variants used so far)
        data["memory"] = _memory(fn, batch_size)
        data["kernel_sources"] = {k.name: kernel_source(fn, k) for k in fn.kernels()}
    if profile is not None:
        if fn is None:
            raise ValueError("profile= gives kernel times: show a compiled function")
        names = set(data["kernel_sources"])
        unknown = sorted(set(profile) - names)
        if unknown:
            raise ValueError(f"profile has kernels this function does not have: {unknown}")
        data["profile"] = {str(k): float(v) for k, v in profile.items()}
    data["sources"] = _sources(graphs)
    return data


def _script_json(data: dict) -> str:
    # inside <script>, "</script>" or "<!--" in a name would end the element: no "<" at all
    return json.dumps(data, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def to_html(x, path=None, *, compiled: bool | None = None, profile: dict | None = None,
            batch_size: int = 32) -> str:
    """Write the interactive view of ``x`` as one self-contained HTML file.

    The page works offline (``file://``, no server, nothing fetched). Name scopes start
    collapsed into boxes (click to expand, click the header to collapse); drag to pan,
    wheel or buttons to zoom; search by name or op (Enter: next match); click a node for
    its shape, dtype, bytes, attributes, the source line that created it and its
    kernel's generated source. For a compiled function a toggle switches between the
    graph as written and as compiled (fused kernels drawn as shaded groups), and panels
    show the memory plan and, with ``profile``, kernel times (kernels tinted by their
    share).

    Args:
        x: a tensor, a list of tensors, a compiled Function or a graph file path.
        path: the file to write; ``None``: return the HTML text instead.
        compiled: as in :func:`page_data` (``True`` opens the page on the compiled view).
        profile: kernel name -> seconds, e.g. ``symgraph.inspect.profile.profile(f, [x])``.
        batch_size: the batch size of the memory plan.

    Returns:
        ``path`` (as a string), or the HTML text when ``path`` is None.

    Example:
        >>> import symgraph.backend as K
        >>> x = K.placeholder((None, 3), name="x")
        >>> with K.name_scope("dense"):
        ...     y = K.relu(x * 2.0)
        >>> page = to_html(K.function([x], [y]))
        >>> page.startswith("<!DOCTYPE html>"), "symgraph-data" in page
        (True, True)
    """
    data = page_data(x, compiled=compiled, profile=profile, batch_size=batch_size)
    script = viewer_script()
    title = "symgraph" + (f" \u2014 {data['title']}" if data["title"] else "")
    parts = {"TITLE": _escape_text(title), "CSS": _static("viewer.css"),
             "DATA": _script_json(data), "JS": script}
    # one pass, so that nothing substituted is scanned for markers again
    page = _MARKER.sub(lambda mt: parts[mt.group(1)], _static("viewer.html"))
    if path is None:
        return page
    path = os.fspath(path)
    with open(path, "w", encoding="utf-8") as f:
        f.write(page)
    return path


def _escape_text(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def can_open_browser() -> bool:
    """Whether :func:`show` can open a graphical browser here: one is registered with
    :mod:`webbrowser` and, on Linux and the BSDs, a display is available (without one,
    ``webbrowser`` would pick a text browser in the terminal).

    Returns:
        True when :func:`show` would open a browser window.

    Example:
        >>> isinstance(can_open_browser(), bool)
        True
    """
    try:
        webbrowser.get()
    except webbrowser.Error:
        return False
    if sys.platform.startswith(("linux", "freebsd", "openbsd", "netbsd")):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def show(x, path=None, **kwargs) -> str:
    """Write the interactive view of ``x`` (:func:`to_html`) and open it in a browser.

    Without a browser or a display (a server, CI) it prints the file's path instead.

    Args:
        x: a tensor, a list of tensors, a compiled Function or a graph file path.
        path: the file to write (default: a new temporary ``symgraph-*.html``).
        **kwargs: passed to :func:`to_html` (``compiled``, ``profile``, ``batch_size``).

    Returns:
        The path of the file written.

    Example:
        >>> import symgraph.backend as K
        >>> path = show(K.exp(K.placeholder((2,))))  # doctest: +SKIP
    """
    if path is None:
        fd, path = tempfile.mkstemp(prefix="symgraph-", suffix=".html")
        os.close(fd)
    path = to_html(x, path, **kwargs)
    url = Path(path).resolve().as_uri()
    if not (can_open_browser() and webbrowser.open(url)):
        print(path)
    return path
