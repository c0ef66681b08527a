"""What every graph export reads: the nodes of a graph (as written or as compiled), with
per node its name, op, family, shape, dtype, scope, bytes, source location, JSON-safe
attributes and kernel, and its input and loop-body edges (see
:mod:`symgraph.inspect.export` for the rules of ``compiled``)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from ..core.graph import ancestors
from ..core.tensor import ConstValue, Tensor
from ..ops.control import LoopBody
from .view import GraphView, graph_view

#: fill colour of a node by op family (leaves by leaf op), shared by every view
COLOURS = {
    "elementwise": "#cfe2f3",
    "reduce": "#d9ead3",
    "view": "#eeeeee",
    "kernel": "#fce5cd",
    "placeholder": "#fff2cc",
    "variable": "#f4cccc",
    "constant": "#ffffff",
}


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


