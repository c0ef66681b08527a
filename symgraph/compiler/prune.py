"""Prune a graph to what requested outputs need, separating data from shape needs.

A node is needed for its *value* when an output is it or a value-needed node reads
its data. It is needed for its *shape* only when a consumer reads just its shape
(``zeros_like``, ``shape``, reshape targets): then nothing is computed for it, and
if its static shape is fully known not even its inputs are visited. So
``K.eval(K.zeros_like(expensive))`` runs nothing of ``expensive``.
"""

from __future__ import annotations

from ..core.shapes import is_fully_known


def prune(outputs) -> tuple[dict, dict]:
    """Return ``(value_nodes, shape_nodes)``: id -> node maps of what the outputs need."""
    value: dict[int, object] = {}
    shape: dict[int, object] = {}
    stack = [(t, True) for t in outputs]
    while stack:
        node, needs_value = stack.pop()
        if needs_value:
            if node.id in value:
                continue
            value[node.id] = node
            shape.pop(node.id, None)
            for i, src in enumerate(node.inputs):
                stack.append((src, node.op.reads_data(i)))
        else:
            if node.id in value or node.id in shape:
                continue
            shape[node.id] = node
            if not is_fully_known(node.shape):
                stack.extend((src, False) for src in node.inputs)
    return value, shape
