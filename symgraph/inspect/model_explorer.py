"""Google Model Explorer's graph JSON, so Model Explorer users can open symgraph graphs."""

from __future__ import annotations

import json
import os

from ..core.tensor import ConstValue, Tensor
from ..ops.control import LoopBody
from .graphdata import (
    COLOURS,
    _body_nodes,
    _collect,
    _Export,
    _family,
    _input_edges,
    _json_value,
    _location,
    _loop_bodies,
    _nbytes,
    _scope,
)

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
