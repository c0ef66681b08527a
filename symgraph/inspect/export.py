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

from .dot import render, to_dot
from .graphdata import (
    COLOURS,
    _body_edges,
    _collect,
    _Export,
    _input_edges,
    _json_shape,
    _node_facts,
)
from .model_explorer import to_model_explorer

__all__ = ["COLOURS", "render", "to_dot", "to_json", "to_model_explorer", "to_networkx"]

FORMAT = "symgraph.inspect"
VERSION = 1


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


