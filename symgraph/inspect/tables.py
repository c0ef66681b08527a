"""``summary(x)``: a table of a graph — shapes, bytes, parameters, FLOPs and kernels —
grouped by name scope (Keras layers), with totals and the plan's peak memory.

FLOPs are counted as multiply-adds x 2 for matmul and convolutions, one per output
element for elementwise ops (casts, fills and identities: none), one per input element
for reductions, five per element for softmax and, for loops, the steps times the FLOPs
of one step of the body. Views and leaves cost none. They are estimates for comparing
layers, like those of Keras's and TensorFlow's profilers.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field

import numpy as np

from ..core.shapes import shape_str
from .view import GraphView, graph_view

_FREE = {"fill", "cast", "identity", "stop_gradient", "after", "shape"}


def _elements(shape) -> int:
    return int(np.prod(shape, dtype=np.int64)) if shape is not None else 0


def node_flops(node, in_shapes, out_shape, batch: int) -> int:
    """Estimated FLOPs of ``node`` for concrete input and output shapes (module notes)."""
    op, kind = node.op.name, node.op.kind
    if kind in ("leaf", "view") or op in _FREE or out_shape is None:
        return 0
    if kind == "elementwise":
        return _elements(out_shape)
    if kind == "reduce":
        return _elements(in_shapes[0])
    if op == "matmul":
        return 2 * _elements(out_shape) * int(in_shapes[0][-1])
    if op in ("conv", "local_conv"):
        k = in_shapes[1]
        return 2 * _elements(out_shape) * (_elements(k) // max(int(k[-1]), 1))
    if op == "depthwise_conv":
        k = in_shapes[1]
        return 2 * _elements(out_shape) * _elements(k[:-2])
    if op == "conv_transpose":
        k = in_shapes[1]
        return 2 * _elements(in_shapes[0]) * (_elements(k) // max(int(k[-1]), 1))
    if op == "softmax":
        return 5 * _elements(out_shape)
    if op == "pool":
        return _elements(out_shape) * _elements(node.attrs.get("pool_size", (1,)))
    if op == "scan":
        body = node.attrs["body"]
        steps = in_shapes[0][0] if in_shapes and in_shapes[0] else 0
        per_step = sum(node_flops(n, [_fill(s.shape, batch) for s in n.inputs],
                                  _fill(n.shape, batch), batch) for n in body.nodes)
        return int(steps) * per_step
    return 0


def _fill(shape, batch: int):
    return None if shape is None else tuple(batch if d is None else d for d in shape)


def concrete_shapes(view: GraphView, batch: int) -> dict:
    """Node id -> shape with the inputs' ``None`` dims set to ``batch``, through the
    ops' shape rules (a node whose rule cannot say keeps its static shape, with
    ``None`` dims set to ``batch``)."""
    shapes: dict[int, tuple] = {}
    for node in view.nodes:
        if not node.inputs or any(s.id not in shapes for s in node.inputs):
            value = getattr(node, "value", None) if node.op.name == "variable" else None
            shapes[node.id] = tuple(value.shape) if value is not None else \
                _fill(node.shape, batch)
            continue
        try:
            shape, _ = node.op.infer([shapes[s.id] for s in node.inputs],
                                     [s.dtype for s in node.inputs], node.attrs)
            shapes[node.id] = None if shape is None else tuple(shape)
        except (ValueError, TypeError, KeyError, IndexError):  # a rule needing more: say less
            shapes[node.id] = _fill(node.shape, batch)
    return shapes


@dataclass
class Row:
    """One line of a summary: a node, or a collapsed name scope (``nodes`` > 1)."""

    name: str
    op: str
    shape: tuple | None
    dtype: str
    nbytes: int
    params: int
    flops_row: int
    flops_batch: int
    kernel: str
    depth: int = 0
    nodes: int = 1


@dataclass
class Summary:
    """The table :func:`summary` returns: ``str()`` is the text, ``_repr_html_`` the
    same table for Jupyter.

    Attributes:
        rows: the table's rows, in graph order.
        batch_size: the batch the bytes and per-batch FLOPs are for.
        params: parameters (elements of the variables) in all.
        flops_row / flops_batch: FLOPs of one row and of one batch.
        peak_bytes: the compiled plan's peak memory for one batch (None when the graph
            could not be compiled).
        kernels: kernels of the compiled plan.
        title: what was summarized.

    Example:
        >>> import numpy as np, symgraph.backend as K
        >>> x = K.placeholder((None, 3), name="x")
        >>> w = K.variable(np.ones((3, 2), "float32"), name="w")
        >>> table = summary(K.function([x], [K.softmax(K.dot(x, w))]), batch_size=8)
        >>> table.params, table.kernels, table.flops_row, table.peak_bytes
        (6, 2, 22, 128)
        >>> print(str(table).splitlines()[-1])  # doctest: +ELLIPSIS
        parameters: 6   FLOPs: 22 per row, 176 per batch of 8   kernels: 2   peak memory...
    """

    rows: list
    batch_size: int
    params: int
    flops_row: int
    flops_batch: int
    peak_bytes: int | None
    kernels: int
    title: str = ""
    columns: tuple = field(default=("name", "op", "output shape", "dtype", "bytes", "params",
                                    "FLOPs/row", "FLOPs/batch", "kernel"))

    def _cells(self, r: Row) -> list[str]:
        name = "  " * r.depth + r.name
        return [name, r.op, shape_str(r.shape), r.dtype, _num(r.nbytes), _num(r.params),
                _num(r.flops_row), _num(r.flops_batch), r.kernel]

    def totals(self) -> str:
        peak = "?" if self.peak_bytes is None else f"{self.peak_bytes:,} bytes"
        return (f"parameters: {self.params:,}   FLOPs: {self.flops_row:,} per row, "
                f"{self.flops_batch:,} per batch of {self.batch_size}   kernels: "
                f"{self.kernels}   peak memory of the plan: {peak}")

    def __str__(self) -> str:
        table = [list(self.columns)] + [self._cells(r) for r in self.rows]
        widths = [max(len(row[c]) for row in table) for c in range(len(self.columns))]
        right = {4, 5, 6, 7}

        def line(cells):
            return "  ".join(c.rjust(w) if k in right else c.ljust(w)
                             for k, (c, w) in enumerate(zip(cells, widths))).rstrip()

        out = [self.title] if self.title else []
        out += [line(table[0]), "  ".join("-" * w for w in widths)]
        out += [line(cells) for cells in table[1:]]
        out.append(self.totals())
        return "\n".join(out)

    def __repr__(self) -> str:
        return str(self)

    def _repr_html_(self) -> str:
        head = "".join(f"<th>{html.escape(c)}</th>" for c in self.columns)
        body = []
        for r in self.rows:
            cells = self._cells(r)
            cells[0] = "&nbsp;" * (2 * r.depth) + html.escape(r.name)
            tds = "".join(f"<td>{c if k == 0 else html.escape(c)}</td>"
                          for k, c in enumerate(cells))
            body.append(f"<tr>{tds}</tr>")
        caption = f"<caption>{html.escape(self.title)}</caption>" if self.title else ""
        return (f"<table class='symgraph-summary'>{caption}<thead><tr>{head}</tr></thead>"
                f"<tbody>{''.join(body)}</tbody></table><p>{html.escape(self.totals())}</p>")


def _num(n: int) -> str:
    return f"{n:,}" if n else ("0" if n == 0 else "")


def _scope(name: str) -> str:
    return name.split("/")[0] if "/" in name else ""


def summary(x, *, batch_size: int = 32, expand=False) -> Summary:
    """A table of ``x``'s nodes grouped by name scope (Keras layers), with totals.

    Args:
        x: a tensor, a list of tensors, a compiled Function or a graph file path.
        batch_size: the batch the bytes, the per-batch FLOPs and the peak memory are for
            (the ``None`` dims of the inputs).
        expand: ``False``: one row per top-level name scope (a Keras layer), nodes
            outside scopes on their own rows; ``True``: every node, under its scope's
            row; or a list of scope names to expand.

    Returns:
        A :class:`Summary`: ``print()`` it, or let Jupyter show it.

    Example:
        >>> import numpy as np, symgraph.backend as K
        >>> from symgraph.inspect import summary
        >>> x = K.placeholder((None, 4), name="x")
        >>> with K.name_scope("dense"):
        ...     y = K.relu(K.dot(x, K.variable(np.ones((4, 2)), name="kernel")))
        >>> s = summary(y, batch_size=10)
        >>> s.params, s.flops_row, s.flops_batch
        (8, 18, 180)
    """
    view = graph_view(x)
    body_ids = _loop_body_ids(view)
    nodes = [n for n in view.nodes if n.id not in body_ids]
    per_row, per_batch = concrete_shapes(view, 1), concrete_shapes(view, batch_size)
    fn = view.function or compile_view(view)
    kernel_of = {} if fn is None else {m.id: k for k in GraphView(
        nodes, view.outputs, view.inputs, fn).kernels() for m in k.members}
    node_rows = []
    for n in nodes:
        shape_b = per_batch.get(n.id)
        flops = [node_flops(n, [sh.get(s.id) for s in n.inputs], sh.get(n.id), b)
                 for sh, b in ((per_row, 1), (per_batch, batch_size))]
        params = int(n.value.size) if n.op.name == "variable" else 0
        kernel = kernel_of.get(n.id)
        label = kernel.name if kernel is not None else (
            "view" if n.op.kind == "view" else "")
        node_rows.append(Row(n.name, n.op.name, shape_b, n.dtype,
                             _elements(shape_b) * np.dtype(n.dtype).itemsize
                             if shape_b is not None else 0,
                             params, flops[0], flops[1], label))
    rows = _group(node_rows, expand)
    peak = None
    if fn is not None:
        try:
            peak = fn.memory_plan(batch_size=batch_size).peak_bytes
        except (ValueError, TypeError):  # shapes the plan cannot take at this batch size
            peak = None
    return Summary(rows, batch_size, sum(r.params for r in node_rows),
                   sum(r.flops_row for r in node_rows), sum(r.flops_batch for r in node_rows),
                   peak, 0 if fn is None else len(fn.kernels()), view.label)


def _loop_body_ids(view: GraphView) -> set:
    """Nodes that live only inside loop bodies (listed with their loop, not alone)."""
    from ..core.graph import ancestors

    outer = {n.id for n in ancestors(view.outputs + view.inputs)}
    return {n.id for n in view.nodes if n.id not in outer}


def compile_view(view: GraphView):
    """A Function of the view's tensors, for the kernel column and the peak memory."""
    from ..runtime.function import Function

    feed = [p for p in view.inputs if p.default is None]
    try:
        return Function(feed, view.outputs)
    except (ValueError, TypeError):  # an unfed placeholder or the like: say less
        return None


def _group(rows: list, expand) -> list:
    """Rows under their top-level scope: a collapsed row per scope, or a heading row
    followed by the scope's nodes."""
    out: list[Row] = []
    by_scope: dict[str, list] = {}
    order: list = []  # unscoped rows in place, each scope where its first node is
    for r in rows:
        scope = _scope(r.name)
        if not scope:
            order.append(r)
        elif scope not in by_scope:
            by_scope[scope] = [r]
            order.append(scope)
        else:
            by_scope[scope].append(r)
    for scope in order:
        if isinstance(scope, Row):
            out.append(scope)
            continue
        members = by_scope[scope]
        last = members[-1]
        count = f"({len(members)} node{'s' if len(members) > 1 else ''})"
        head = Row(scope, count, last.shape, last.dtype, last.nbytes,
                   sum(m.params for m in members), sum(m.flops_row for m in members),
                   sum(m.flops_batch for m in members),
                   ", ".join(dict.fromkeys(m.kernel for m in members if m.kernel.startswith(
                       "k"))), nodes=len(members))
        out.append(head)
        if expand is True or (isinstance(expand, (list, tuple, set)) and scope in expand):
            out += [Row(**{**m.__dict__, "name": m.name[len(scope) + 1:], "depth": 1})
                    for m in members]
    return out
