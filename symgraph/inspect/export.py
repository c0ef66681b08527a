"""Graph exports: a networkx graph, node-link JSON, Graphviz DOT text (and images through
Graphviz's ``dot`` program, when it is installed) and Google Model Explorer's graph JSON.

Every exporter takes what :func:`~symgraph.inspect.view.graph_view` accepts (a tensor, a
list of tensors, a compiled ``Function`` or a graph file path) and ``compiled``:

* ``compiled=False`` (default): the graph as written, loop bodies included.
* ``compiled=True`` (``x`` must be or hold a compiled function): the graph after the
  compiler's passes, i.e. the nodes the plan needs (``plan.shape_order``, with the
  function's inputs and the nodes of the loop bodies they run), each with the kernel
  computing it. Inputs the plan never reads (the input of a shape-only node whose static
  shape is known) are not part of it, so their edges are left out.

The same facts reach every format: per node its id, name, op, family (the registry's
``kind``), static shape and dtype, name scope, static size in bytes, source location,
JSON-safe attributes, kernel, and whether it is an input or an output; per input edge
its position and whether the consumer reads the values or only the shape. Nothing here
imports graphviz or pydot: the DOT text is written by symgraph.
"""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from ..core.graph import ancestors
from ..core.shapes import shape_str
from ..core.tensor import ConstValue, Tensor
from ..ops.control import LoopBody
from .view import GraphView, Kernel, graph_view

__all__ = ["render", "to_dot", "to_json", "to_model_explorer", "to_networkx"]

FORMAT = "symgraph.inspect"
VERSION = 1

#: fill colour of a node by op family (leaves by leaf op), shared by DOT and Model Explorer
COLOURS = {
    "elementwise": "#cfe2f3",
    "reduce": "#d9ead3",
    "view": "#eeeeee",
    "kernel": "#fce5cd",
    "placeholder": "#fff2cc",
    "variable": "#f4cccc",
    "constant": "#ffffff",
}
_LEAF_SHAPES = {"placeholder": "ellipse", "variable": "cylinder", "constant": "note"}
_KERNEL_FILL, _KERNEL_BORDER = "#e6e6f5", "#7f7fbf"
_RENDER_TIMEOUT_S = 120


# -- what every exporter reads ------------------------------------------------------------
@dataclass
class _Export:
    view: GraphView
    compiled: bool
    nodes: list  # creation order (a topological order)
    inputs: list
    outputs: list
    kernels: list = field(default_factory=list)
    kernel_of: dict = field(default_factory=dict)  # node id -> Kernel
    loops: list = field(default_factory=list)  # LoopBody, outer ones first
    loop_of: dict = field(default_factory=dict)  # node id -> the LoopBody holding it
    scan_of: dict = field(default_factory=dict)  # id(LoopBody) -> the scan node running it

    def __post_init__(self) -> None:
        self.ids = {n.id for n in self.nodes}
        self.input_ids = {n.id for n in self.inputs}
        self.output_ids = {n.id for n in self.outputs}


def _loop_bodies(node) -> list:
    return [v for v in node.attrs.values() if isinstance(v, LoopBody)]


def _body_nodes(body: LoopBody) -> list:
    """The inner graph of one loop (not the nested loops' inner graphs), in creation order."""
    return ancestors(body.leaves + body.outputs)


def _collect(x, compiled: bool) -> _Export:
    view = graph_view(x)
    if not compiled:
        ex = _Export(view, False, list(view.nodes), list(view.inputs), list(view.outputs))
    else:
        fn = view.function
        if fn is None:
            raise ValueError("compiled=True exports what the compiler made of a function: pass "
                             "a compiled function (K.function(inputs, outputs)) or a graph "
                             "file, not tensors")
        plan = fn.plan
        found = {n.id: n for n in plan.shape_order}
        found.update((t.id, t) for t in fn.inputs)
        stack = [b for n in found.values() for b in _loop_bodies(n)]
        seen: set[int] = set()
        while stack:  # loop bodies run as their own (lazily compiled) functions: as written
            body = stack.pop()
            if id(body) in seen:
                continue
            seen.add(id(body))
            for n in _body_nodes(body):
                found.setdefault(n.id, n)
                stack.extend(_loop_bodies(n))
        nodes = [found[i] for i in sorted(found)]
        kernels = view.kernels()
        ex = _Export(view, True, nodes, list(fn.inputs), list(plan.outputs[:len(fn.outputs)]),
                     kernels, {m.id: k for k in kernels for m in k.members})
    _assign_loops(ex)
    return ex


def _assign_loops(ex: _Export) -> None:
    """Which loop body each node belongs to: outer nodes to none, the others to the
    outermost body reaching them (a constant may be shared by a body and the outside)."""
    inner: dict[int, list] = {}  # id(body) -> its nodes
    bodies: dict[int, LoopBody] = {}
    for n in ex.nodes:
        for body in _loop_bodies(n):
            if id(body) not in bodies:
                bodies[id(body)] = body
                inner[id(body)] = [m for m in _body_nodes(body) if m.id in ex.ids]
            if n.op.name == "scan":
                ex.scan_of[id(body)] = n
    in_some_body = {m.id for members in inner.values() for m in members}
    roots = [n for n in ex.nodes if n.id not in in_some_body]
    outer = {n.id for n in ancestors(roots)}
    queue = [b for n in ex.nodes if n.id in outer for b in _loop_bodies(n)]
    done: set[int] = set()
    while queue:  # breadth first: outer bodies claim shared nodes before nested ones
        body = queue.pop(0)
        if id(body) in done:
            continue
        done.add(id(body))
        ex.loops.append(body)
        for m in inner[id(body)]:
            if m.id not in outer and m.id not in ex.loop_of:
                ex.loop_of[m.id] = body
            queue.extend(_loop_bodies(m))


# -- per-node facts -----------------------------------------------------------------------
def _scope(name: str) -> str:
    return name.rpartition("/")[0]


def _family(node: Tensor) -> str:
    """The op family, with leaves told apart (placeholder, variable, constant)."""
    return node.op.name if node.op.kind == "leaf" and node.op.name in COLOURS else node.op.kind


def _nbytes(node: Tensor) -> int | None:
    shape = node.shape
    if shape is None or any(d is None for d in shape):
        return None
    try:
        itemsize = np.dtype(node.dtype).itemsize
    except TypeError:
        return None
    return math.prod(shape) * itemsize


def _location(node: Tensor) -> str | None:
    loc = node.location
    return None if loc is None else f"{loc[0]}:{loc[1]}"


def _json_value(value):
    """An attribute value as JSON data (see :func:`to_json`)."""
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else repr(value)  # 'nan', 'inf', '-inf'
    if isinstance(value, (tuple, list)):
        return [_json_value(v) for v in value]
    if isinstance(value, np.generic):
        return _json_value(value.item())
    if isinstance(value, ConstValue):
        arr = value.array
        return {"value": repr(value), "shape": list(arr.shape), "dtype": str(arr.dtype)}
    if isinstance(value, LoopBody):
        return {"loop": value.kind, "uid": value.uid}
    if isinstance(value, Tensor):
        return {"tensor": value.id}
    return repr(value)  # anything else a future op may carry: readable, never fatal


def _json_shape(shape) -> list | None:
    return None if shape is None else list(shape)


def _node_facts(ex: _Export, node: Tensor) -> dict:
    kernel = ex.kernel_of.get(node.id)
    loop = ex.loop_of.get(node.id)
    return {
        "name": node.name,
        "op": node.op.name,
        "kind": node.op.kind,
        "shape": node.shape,
        "dtype": node.dtype,
        "scope": _scope(node.name),
        "bytes": _nbytes(node),
        "location": _location(node),
        "attrs": {k: _json_value(v) for k, v in node.attrs.items()},
        "kernel": None if kernel is None else kernel.name,
        "is_input": node.id in ex.input_ids,
        "is_output": node.id in ex.output_ids,
        "loop": None if loop is None else loop.uid,
    }


def _input_edges(ex: _Export, node: Tensor) -> Iterable[tuple[int, Tensor, bool]]:
    """``(position, source, reads data)`` of the inputs that are part of the export."""
    for i, src in enumerate(node.inputs):
        if src.id in ex.ids:
            yield i, src, node.op.reads_data(i)


def _body_edges(ex: _Export) -> Iterable[tuple[int, Tensor, Tensor]]:
    """``(position in body.outputs, body output, scan node)`` for every exported loop."""
    for body in ex.loops:
        scan = ex.scan_of.get(id(body))
        if scan is None:
            continue
        for k, out in enumerate(body.outputs):
            if out.id in ex.ids:
                yield k, out, scan


# -- networkx -----------------------------------------------------------------------------
def to_networkx(x, *, compiled: bool = False):
    """A :class:`networkx.DiGraph` of ``x`` (what :func:`graph_view` accepts).

    Args:
        x: a tensor, a list of tensors, a compiled function or a graph file path.
        compiled: export the compiled plan's graph (after the passes, with kernels)
            instead of the graph as written; ``x`` must be or hold a compiled function.

    Returns:
        A DiGraph keyed by node id. Node attributes: ``name, op, kind`` (op family: the
        registry kind), ``shape`` (tuple, or None for unknown rank), ``dtype, scope``
        (the name up to its last ``/``), ``bytes`` (static size, None when a dim is
        unknown), ``location`` (``"file:line"`` or None), ``attrs`` (JSON-safe, as in
        :func:`to_json`), ``kernel`` (``"k3"``, only with ``compiled=True``), ``is_input,
        is_output`` and ``loop`` (uid of the loop body the node belongs to, or None).
        Edge attributes: ``kind`` (``"input"``, or ``"body"`` from a loop body's output
        to the ``scan`` node running it), ``index`` (first input position, or the
        position in the body's outputs), ``indices`` (every input position: ``x * x``
        is one edge with ``indices=[0, 1]``) and ``data`` (True when the consumer reads
        values, False when it reads only the shape).

    Example:
        >>> import symgraph.backend as K
        >>> K.clear_session()
        >>> x = K.placeholder((None, 3), name="x")
        >>> g = to_networkx(K.zeros_like(K.exp(x)))
        >>> [g.nodes[n]["op"] for n in g], [d["data"] for *_, d in g.edges(data=True)]
        (['placeholder', 'exp', 'fill'], [True, False])
    """
    import networkx as nx

    ex = _collect(x, compiled)
    g = nx.DiGraph(label=ex.view.label, compiled=ex.compiled)
    for node in ex.nodes:
        g.add_node(node.id, **_node_facts(ex, node))
    for node in ex.nodes:
        for i, src, data in _input_edges(ex, node):
            if g.has_edge(src.id, node.id):
                edge = g.edges[src.id, node.id]
                edge["indices"].append(i)
                edge["data"] = edge["data"] or data
            else:
                g.add_edge(src.id, node.id, kind="input", index=i, indices=[i], data=data)
    for k, out, scan in _body_edges(ex):
        if not g.has_edge(out.id, scan.id):
            g.add_edge(out.id, scan.id, kind="body", index=k, indices=[k], data=True)
    return g


# -- JSON ---------------------------------------------------------------------------------
def _json_document(ex: _Export) -> dict:
    nodes = []
    for node in ex.nodes:
        facts = _node_facts(ex, node)
        facts["shape"] = _json_shape(facts["shape"])
        nodes.append({"id": node.id, **facts})
    links = []
    for node in ex.nodes:
        for i, src, data in _input_edges(ex, node):
            links.append({"source": src.id, "target": node.id, "key": i, "kind": "input",
                          "index": i, "data": data})
    for k, out, scan in _body_edges(ex):
        links.append({"source": out.id, "target": scan.id, "key": f"body{k}", "kind": "body",
                      "index": k, "data": True})
    kernels = [{"name": k.name, "kind": k.kind, "node": k.node.id,
                "members": [m.id for m in k.members], "inputs": [s.id for s in k.inputs],
                "scalars": [s.id for s in k.scalars]} for k in ex.kernels]
    loops = []
    for body in ex.loops:
        scan = ex.scan_of.get(id(body))
        loops.append({"uid": body.uid, "kind": body.kind,
                      "scan": None if scan is None else scan.id,
                      "inputs": [t.id for t in body.leaves if t.id in ex.ids],
                      "outputs": [t.id for t in body.outputs if t.id in ex.ids]})
    return {"format": FORMAT, "version": VERSION, "directed": True, "multigraph": True,
            "graph": {"label": ex.view.label, "compiled": ex.compiled},
            "nodes": nodes, "links": links,
            "inputs": [t.id for t in ex.inputs if t.id in ex.ids],
            "outputs": [t.id for t in ex.outputs if t.id in ex.ids],
            "kernels": kernels, "loops": loops}


def to_json(x, *, compiled: bool = False, indent: int | None = None) -> str:
    """Node-link JSON of ``x`` (what :func:`graph_view` accepts).

    Args:
        x: a tensor, a list of tensors, a compiled function or a graph file path.
        compiled: export the compiled plan's graph (see :func:`to_networkx`).
        indent: passed to :func:`json.dumps`.

    Returns:
        A JSON object (schema ``symgraph.inspect`` version 1, described in
        ``docs/inspecting.md``)::

            {"format": "symgraph.inspect", "version": 1, "directed": true,
             "multigraph": true, "graph": {"label": str, "compiled": bool},
             "nodes": [{"id": int, "name": str, "op": str, "kind": str,
                        "shape": [int | null] | null, "dtype": str, "scope": str,
                        "bytes": int | null, "location": "file:line" | null,
                        "attrs": {str: value}, "kernel": "k3" | null,
                        "is_input": bool, "is_output": bool, "loop": int | null}],
             "links": [{"source": id, "target": id, "key": int | "body<k>",
                        "kind": "input" | "body", "index": int, "data": bool}],
             "inputs": [id], "outputs": [id],
             "kernels": [{"name": "k0", "kind": str, "node": id, "members": [id],
                          "inputs": [id], "scalars": [id]}],
             "loops": [{"uid": int, "kind": str, "scan": id | null,
                        "inputs": [id], "outputs": [id]}]}

        One link per input position (``x * x`` has two). Attribute values: tuples as
        lists, non-finite floats as ``"nan"``/``"inf"``/``"-inf"``, a constant's value as
        ``{"value": short repr, "shape": [...], "dtype": str}``, a loop body as
        ``{"loop": kind, "uid": int}`` (see ``loops``). ``kernels`` is empty unless
        ``compiled=True``.

    Example:
        >>> import json
        >>> import symgraph.backend as K
        >>> K.clear_session()
        >>> x = K.placeholder((None, 3), name="x")
        >>> doc = json.loads(to_json(K.exp(x) + 1.0))
        >>> [(n["name"], n["shape"]) for n in doc["nodes"]][:2]
        [('x', [None, 3]), ('exp', [None, 3])]
        >>> doc["nodes"][2]["attrs"]["value"]
        {'value': '1.', 'shape': [], 'dtype': 'float32'}
    """
    return json.dumps(_json_document(_collect(x, compiled)), indent=indent, allow_nan=False)


# -- DOT ----------------------------------------------------------------------------------
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _dot_escape(text: str) -> str:
    """``text`` for the inside of a quoted DOT string: backslashes and quotes escaped (DOT
    reads ``\\n``, ``\\l``, ``\\N``... as escapes), line breaks as ``\\n``, other control
    characters as spaces (a raw line break would split the statement in the file)."""
    text = str(text).replace("\\", "\\\\").replace('"', '\\"')
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return _CONTROL.sub(" ", text)


def _dot_str(text: str) -> str:
    return '"' + _dot_escape(text) + '"'


def _dot_label(*lines: str) -> str:
    return '"' + "\\n".join(map(_dot_escape, lines)) + '"'


@dataclass
class _Cluster:
    """A scope (or, with ``kernel``, a fused kernel) and what is drawn inside it."""

    label: str
    tooltip: str
    kernel: Kernel | None = None
    nodes: list = field(default_factory=list)
    children: list = field(default_factory=list)


def _common_scope(scopes: list[str]) -> str:
    parts = [s.split("/") if s else [] for s in scopes]
    common = []
    for level in zip(*parts):
        if any(p != level[0] for p in level):
            break
        common.append(level[0])
    return "/".join(common)


def _scope_tree(ex: _Export, fused: dict[int, Kernel]) -> _Cluster:
    """The nested scope clusters, each node in the innermost one; the members of a fused
    kernel go into the kernel's cluster, placed in the scope its members share."""
    root = _Cluster("", "")
    scopes: dict[str, _Cluster] = {"": root}

    def scope_cluster(scope: str) -> _Cluster:
        found = scopes.get(scope)
        if found is None:
            parent = scope_cluster(_scope(scope))
            found = scopes[scope] = _Cluster(scope.rpartition("/")[2], scope)
            parent.children.append(found)
        return found

    kernel_clusters: dict[str, _Cluster] = {}
    for node in ex.nodes:  # creation order: clusters appear in the order of their first node
        kernel = fused.get(node.id)
        if kernel is None:
            scope_cluster(_scope(node.name)).nodes.append(node)
            continue
        cluster = kernel_clusters.get(kernel.name)
        if cluster is None:
            where = _common_scope([_scope(m.name) for m in kernel.members])
            cluster = kernel_clusters[kernel.name] = _Cluster(
                f"{kernel.name} {kernel.kind}", f"{kernel.name}: {kernel.kind}", kernel)
            scope_cluster(where).children.append(cluster)
        cluster.nodes.append(node)
    return root


def _dot_node(ex: _Export, node: Tensor, fused: dict[int, Kernel]) -> str:
    family = _family(node)
    lines = [node.name, f"{node.op.name} {shape_str(node.shape)} {node.dtype}"]
    kernel = ex.kernel_of.get(node.id)
    if kernel is not None and node.id not in fused:  # no cluster shows it: say it here
        lines.append(f"{kernel.name} {kernel.kind}")
    attrs = [f"label={_dot_label(*lines)}", f'fillcolor="{COLOURS.get(family, "#ffffff")}"']
    if family in _LEAF_SHAPES:
        attrs.append(f"shape={_LEAF_SHAPES[family]}")
    if node.id in ex.output_ids:
        attrs.append("peripheries=2")
    return f"n{node.id} [{', '.join(attrs)}];"


def _dot_cluster(ex: _Export, cluster: _Cluster, fused: dict[int, Kernel], counter: list,
                 depth: int, out: list) -> None:
    pad = "  " * depth
    if cluster.kernel is not None:
        name = f"cluster_{cluster.kernel.name}"
        style = (f'style="filled,rounded", fillcolor="{_KERNEL_FILL}", '
                 f'color="{_KERNEL_BORDER}"')
    else:
        name = f"cluster_{counter[0]}"
        counter[0] += 1
        style = 'style="rounded", color="#999999"'
    out.append(f"{pad}subgraph {name} {{")
    out.append(f"{pad}  graph [label={_dot_str(cluster.label)}, "
               f"tooltip={_dot_str(cluster.tooltip)}, {style}];")
    _dot_body(ex, cluster, fused, counter, depth + 1, out)
    out.append(f"{pad}}}")


def _dot_body(ex: _Export, cluster: _Cluster, fused: dict[int, Kernel], counter: list,
              depth: int, out: list) -> None:
    pad = "  " * depth
    for node in cluster.nodes:
        out.append(pad + _dot_node(ex, node, fused))
    for child in cluster.children:
        _dot_cluster(ex, child, fused, counter, depth, out)


def to_dot(x, *, compiled: bool = False, rankdir: str = "TB") -> str:
    """Graphviz DOT text of ``x`` (what :func:`graph_view` accepts), written by symgraph
    (no graphviz package needed; :func:`render` runs the ``dot`` program for images).

    Each name scope is a ``subgraph cluster_<n>`` (nested scopes nested, labelled with
    their last component). A node's label is ``name\\nop shape dtype``; its fill colour
    tells the op family (elementwise, reduce, view, kernel) and leaves apart
    (placeholder: ellipse, variable: cylinder, constant: note); outputs have a double
    border. Edges are labelled with the source's shape and dashed when the consumer
    reads only the shape; a dotted ``body`` edge runs from each output of a loop body
    to its ``scan`` node. With ``compiled=True`` each fused kernel (several nodes) is a
    shaded ``cluster_k<n>`` labelled with its name and kind, inside the scope its
    members share; a single-node kernel's name is the third line of its label.

    Args:
        x: a tensor, a list of tensors, a compiled function or a graph file path.
        compiled: export the compiled plan's graph (see :func:`to_networkx`).
        rankdir: Graphviz's layout direction: ``"TB"``, ``"LR"``, ``"BT"`` or ``"RL"``.

    Returns:
        The DOT text (ends with a newline).

    Example:
        >>> import symgraph.backend as K
        >>> K.clear_session()
        >>> x = K.placeholder((2,), name="x")
        >>> print(to_dot(K.exp(x)))  # doctest: +ELLIPSIS
        digraph symgraph {
          graph [rankdir=TB, ...];
        ...
          n0 [label="x\\nplaceholder (2,) float32", fillcolor="#fff2cc", shape=ellipse];
          n1 [label="exp\\nexp (2,) float32", fillcolor="#cfe2f3", peripheries=2];
          n0 -> n1 [label="(2,)"];
        }
    """
    if rankdir not in ("TB", "LR", "BT", "RL"):
        raise ValueError(f"rankdir must be 'TB', 'LR', 'BT' or 'RL', got {rankdir!r}")
    ex = _collect(x, compiled)
    fused = {m.id: k for k in ex.kernels if len(k.members) > 1 for m in k.members}
    out = ["digraph symgraph {",
           f'  graph [rankdir={rankdir}, fontname="Helvetica", fontsize=11'
           + (f", label={_dot_str(ex.view.label)}, labelloc=t" if ex.view.label else "")
           + "];",
           '  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=10];',
           '  edge [fontname="Helvetica", fontsize=8, color="#555555"];']
    _dot_body(ex, _scope_tree(ex, fused), fused, [0], 1, out)
    for node in ex.nodes:
        for _, src, data in _input_edges(ex, node):
            attrs = f"label={_dot_str(shape_str(src.shape))}" + ("" if data else ", style=dashed")
            out.append(f"  n{src.id} -> n{node.id} [{attrs}];")
    drawn = set()
    for _, body_out, scan in _body_edges(ex):
        if (body_out.id, scan.id) not in drawn:  # a step output that is also a new state
            drawn.add((body_out.id, scan.id))
            out.append(f'  n{body_out.id} -> n{scan.id} [label="body", style=dotted];')
    out.append("}")
    return "\n".join(out) + "\n"


def render(x, path, *, compiled: bool = False, format: str | None = None) -> str:
    """Write ``x`` as a picture (or as DOT text) to ``path``.

    ``.dot`` / ``.gv`` paths get the DOT text of :func:`to_dot`. Other formats (``png``,
    ``svg``, ``pdf``..., from ``format`` or the path's suffix) are drawn by Graphviz's
    ``dot`` program, which must be on ``PATH`` (it is run directly, with a timeout, never
    through a shell).

    Args:
        x: a tensor, a list of tensors, a compiled function or a graph file path.
        path: the file to write.
        compiled: draw the compiled plan's graph (see :func:`to_networkx`).
        format: a Graphviz output format (``"svg"``, ``"png"``, ``"pdf"``, ``"dot"``...);
            by default the path's suffix.

    Returns:
        ``path`` as a string.

    Raises:
        RuntimeError: ``dot`` is needed but not on PATH, fails or times out.
        ValueError: no format is given and the path has no suffix.

    Example:
        >>> import os, tempfile
        >>> import symgraph.backend as K
        >>> path = os.path.join(tempfile.mkdtemp(), "graph.dot")
        >>> render(K.exp(K.placeholder((2,))), path) == path
        True
    """
    path = os.fspath(path)
    suffix = os.path.splitext(path)[1].lower()
    fmt = (format or suffix.lstrip(".")).lower()
    if not fmt:
        raise ValueError(f"cannot tell the format of {path!r}: give format= or a suffix "
                         "such as .dot, .svg or .png")
    if not re.fullmatch(r"[a-z0-9_]+(:[a-z0-9_]+)*", fmt):
        raise ValueError(f"not a Graphviz output format: {fmt!r}")
    text = to_dot(x, compiled=compiled)
    if fmt in ("dot", "gv"):
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        return path
    dot = shutil.which("dot")
    if dot is None:
        raise RuntimeError(
            f"writing {fmt} needs Graphviz's `dot` program, which is not on PATH; install "
            "Graphviz (e.g. `apt-get install graphviz`, `brew install graphviz`, `conda "
            "install graphviz`), or write DOT text instead: render(x, 'graph.dot') or "
            "symgraph.inspect.export.to_dot(x)")
    try:
        done = subprocess.run([dot, f"-T{fmt}", "-o", path], input=text.encode("utf-8"),
                              capture_output=True, timeout=_RENDER_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired:
        raise RuntimeError(f"`dot -T{fmt}` did not finish within {_RENDER_TIMEOUT_S} s "
                           f"(a very large graph?); write DOT text instead") from None
    if done.returncode != 0:
        message = done.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"`dot -T{fmt}` failed (exit status {done.returncode}): {message}")
    return path


# -- Model Explorer -----------------------------------------------------------------------
# The format follows Model Explorer's own definitions (google-ai-edge/model-explorer):
# GraphCollection / Graph / GraphNode in src/ui/src/components/visualizer/common/
# input_graph.ts, IncomingEdge / MetadataItem / KeyValue in .../common/types.ts (mirrored
# by the Python package's src/server/package/src/model_explorer/graph_builder.py), the
# file shapes `loadGraphsJson` in src/ui/src/common/utils.ts accepts, and the
# "tensor_shape" output metadata ("float32[3,2,5]", -1 for unknown dims) of
# src/builtin-adapter/direct_flatbuffer_to_json_graph_convert.cc.
_ME_VALUE_KEY = "__value"  # Model Explorer shows this attribute as the tensor's values
_ME_TAG_KEY = "__tensor_tag"  # ... and this input metadata as the input's name
_ME_RESERVED = ("name", "op", "family", "bytes", "location", "kernel", "kernel_kind",
                _ME_VALUE_KEY)
_ME_VALUE_ELEMENTS = 16


def _me_tensor_shape(node: Tensor) -> str:
    if node.shape is None:
        return f"{node.dtype} (unknown rank)"
    if not node.shape:
        return node.dtype
    return node.dtype + "[" + ",".join("-1" if d is None else str(d) for d in node.shape) + "]"


def _me_text(value) -> str:
    value = _json_value(value)
    return value if isinstance(value, str) else json.dumps(value, allow_nan=False)


def _me_graph_id(body: LoopBody) -> str:
    return f"{body.kind}_body_{body.uid}"


def _me_node(ex: _Export, node: Tensor, ids: dict[int, str], present: set) -> dict:
    kernel = ex.kernel_of.get(node.id)
    attrs = [("name", node.name), ("op", node.op.name), ("family", _family(node)),
             ("bytes", "unknown" if _nbytes(node) is None else str(_nbytes(node))),
             ("location", _location(node) or "unknown")]
    if kernel is not None:
        attrs += [("kernel", kernel.name), ("kernel_kind", kernel.kind)]
    for key, value in node.attrs.items():
        key = f"attr.{key}" if key in _ME_RESERVED else key
        attrs.append((key, _me_text(value)))
    if isinstance(node.attrs.get("value"), ConstValue):
        flat = node.attrs["value"].array.ravel()[:_ME_VALUE_ELEMENTS]
        attrs.append((_ME_VALUE_KEY, _me_text(flat.tolist())))
    edges, inputs_meta = [], []
    for i, src, data in _input_edges(ex, node):
        if src.id not in present:
            continue
        edges.append({"sourceNodeId": ids[src.id], "sourceNodeOutputId": "0",
                      "targetNodeInputId": str(i)})
        inputs_meta.append({"id": str(i), "attrs": [
            {"key": _ME_TAG_KEY, "value": src.name},
            {"key": "reads", "value": "data" if data else "shape only"}]})
    out_attrs = [{"key": "tensor_shape", "value": _me_tensor_shape(node)},
                 {"key": "tensor_name", "value": node.name}]
    if node.id in ex.output_ids:
        out_attrs.append({"key": "output", "value": "true"})
    result = {"id": ids[node.id], "label": node.op.name, "namespace": _scope(node.name),
              "subgraphIds": [_me_graph_id(b) for b in _loop_bodies(node)
                              if node.op.name == "scan" and b in ex.loops],
              "attrs": [{"key": k, "value": v} for k, v in attrs],
              "incomingEdges": edges,
              "inputsMetadata": inputs_meta,
              "outputsMetadata": [{"id": "0", "attrs": out_attrs}],
              "style": {"backgroundColor": COLOURS.get(_family(node), "#ffffff")}}
    return result


def _me_document(ex: _Export) -> dict:
    # Node names are unique in a graph: readable ids (Model Explorer shows them).
    ids: dict[int, str] = {}
    taken: set[str] = set()
    for node in ex.nodes:
        ident = node.name if node.name not in taken else f"{node.name}#{node.id}"
        taken.add(ident)
        ids[node.id] = ident
    graphs = []
    main = [n for n in ex.nodes if n.id not in ex.loop_of]
    present = {n.id for n in main}
    graphs.append({"id": "main", "nodes": [_me_node(ex, n, ids, present) for n in main],
                   "groupNodeAttributes": {"": {
                       "format": "symgraph", "compiled": str(ex.compiled).lower(),
                       "inputs": ", ".join(t.name for t in ex.inputs),
                       "outputs": ", ".join(t.name for t in ex.outputs),
                       "kernels": str(len(ex.kernels))}}})
    for body in ex.loops:
        # Each loop body is a graph of its own, reached from its scan node's subgraphIds;
        # a constant it shares with the outside is repeated there.
        members = [n for n in _body_nodes(body) if n.id in ex.ids]
        present = {n.id for n in members}
        graphs.append({"id": _me_graph_id(body),
                       "nodes": [_me_node(ex, n, ids, present) for n in members]})
    label = ex.view.label or (ex.outputs[0].name if ex.outputs else "graph")
    return {"label": f"symgraph: {label}", "graphs": graphs}


def to_model_explorer(x, path, *, compiled: bool = False) -> dict:
    """Write ``x`` as a Google Model Explorer graph JSON file (open it in Model Explorer's
    UI, or ``model-explorer path.json``, with its built-in JSON loader).

    The file is one ``GraphCollection``: ``{"label": str, "graphs": [Graph]}``, the first
    graph (``"main"``) the outer graph and one more per loop body (``"<kind>_body_<uid>"``,
    reached from the ``scan`` node's ``subgraphIds``). Each node: ``id`` (the node's
    name), ``label`` (the op), ``namespace`` (its name scope: Model Explorer's nested
    layers), ``attrs`` (``name, op, family, bytes, location``, with ``compiled=True``
    ``kernel, kernel_kind``, then the op's attributes; a constant's first values as
    ``__value``), ``incomingEdges`` (one per input position: ``sourceNodeId``,
    ``sourceNodeOutputId`` ``"0"``, ``targetNodeInputId`` the position),
    ``inputsMetadata`` (per input: ``__tensor_tag`` the source's name, ``reads``
    ``data``/``shape only``), ``outputsMetadata`` (``tensor_shape`` like
    ``"float32[-1,3]"``, as Model Explorer's adapters write it, and ``tensor_name``) and
    a ``style.backgroundColor`` by op family.

    Field names follow Model Explorer's sources (``google-ai-edge/model-explorer``):
    ``src/ui/src/components/visualizer/common/input_graph.ts`` and ``.../common/types.ts``
    (also ``src/server/package/src/model_explorer/graph_builder.py``), the accepted file
    shapes in ``src/ui/src/common/utils.ts`` (``loadGraphsJson``), and ``tensor_shape``
    as in ``src/builtin-adapter/direct_flatbuffer_to_json_graph_convert.cc``.

    Args:
        x: a tensor, a list of tensors, a compiled function or a graph file path.
        path: the ``.json`` file to write.
        compiled: export the compiled plan's graph (see :func:`to_networkx`).

    Returns:
        The document written (a dict).

    Example:
        >>> import os, tempfile
        >>> import symgraph.backend as K
        >>> K.clear_session()
        >>> x = K.placeholder((None, 3), name="x")
        >>> with K.name_scope("dense"):
        ...     y = K.relu(x * 2.0)
        >>> doc = to_model_explorer(y, os.path.join(tempfile.mkdtemp(), "g.json"))
        >>> [(n["label"], n["namespace"]) for n in doc["graphs"][0]["nodes"]][:2]
        [('placeholder', ''), ('constant', 'dense')]
    """
    doc = _me_document(_collect(x, compiled))
    with open(os.fspath(path), "w", encoding="utf-8") as f:
        json.dump(doc, f, allow_nan=False)
    return doc
