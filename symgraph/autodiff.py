"""Reverse-mode differentiation on symgraph graphs.

``gradients(loss, wrt)`` walks the nodes between ``loss`` and ``wrt`` from the
loss back, asking each node's registry entry for its gradient rule
(``op.grad(node, g) -> one gradient per input, or None``) and summing the
contributions that reach each node. The result is ordinary graph nodes: they can
be inspected, compiled, fused and differentiated again.

Only float tensors carry gradients; a path through an integer or bool node, a
``NOT_DIFFERENTIABLE`` op or a shape-only input carries none. A target the loss does
not depend on gets ``None`` (Keras's rule).
"""

from __future__ import annotations

from .core import dtypes, services
from .core.graph import ancestors
from .core.tensor import Tensor
from .errors import GradientError, GraphError, created_at
from .ops.registry import GRAD_PENDING, NOT_DIFFERENTIABLE

__all__ = ["GradientError", "gradients"]


def gradients(loss: Tensor, wrt) -> list:
    """Gradients of ``loss`` (summed first if not a scalar) with respect to each
    tensor of ``wrt``; ``None`` where ``loss`` does not depend on it."""
    from .ops.reduce import reduce

    if not isinstance(loss, Tensor):
        raise GraphError(f"gradients: the loss must be a tensor, got {type(loss).__name__}")
    wrt = list(wrt)
    for t in wrt:
        if not isinstance(t, Tensor):
            raise GraphError(f"gradients: can only differentiate with respect to tensors, "
                             f"got {type(t).__name__}")
        if t.graph is not loss.graph:
            raise GraphError("gradients: the loss and the variables belong to different graphs")
    if not dtypes.is_float(loss.dtype):
        raise GradientError(f"gradients: the loss '{loss.name}' has dtype {loss.dtype}; "
                            "only float losses have gradients")
    if loss.shape != ():
        loss = reduce("sum", loss)

    nodes = ancestors([loss], data_only=True)  # values the loss reads
    reach = _reaching(nodes, {t.id for t in wrt})
    if loss.id not in reach:
        return [None] * len(wrt)
    start = len(loss.graph.nodes)
    try:
        return _backward(loss, nodes, reach, wrt)
    finally:
        loss.graph.gradient_spans.append((start, len(loss.graph.nodes)))


def _backward(loss, nodes: list, reach: set, wrt: list) -> list:
    from . import ops

    grads: dict[int, Tensor] = {loss.id: ops.fill_like(loss, 1.0)}
    for node in reversed(nodes):
        g = grads.get(node.id)
        if g is None or not node.inputs:
            continue
        rule = node.op.grad
        if rule is NOT_DIFFERENTIABLE:
            continue
        if rule is GRAD_PENDING or not callable(rule):
            raise GradientError(f"gradients: op '{node.op.name}' of '{node.name}'"
                                f"{created_at(node)} has no gradient rule")
        in_grads = rule(node, g)
        if len(in_grads) != len(node.inputs):
            raise GraphError(f"gradient rule of {node.op.name} returned {len(in_grads)} "
                             f"gradients for {len(node.inputs)} inputs")
        for i, (src, gi) in enumerate(zip(node.inputs, in_grads)):
            if gi is None or src.id not in reach or not node.op.reads_data(i):
                continue
            if gi.dtype != src.dtype:
                gi = ops.cast(gi, src.dtype)
            previous = grads.get(src.id)
            grads[src.id] = gi if previous is None else previous + gi
    return [grads.get(t.id) for t in wrt]


def _reaching(nodes: list, targets: set) -> set:
    """Ids of float nodes with a data path from a target (gradients can flow)."""
    reach: set[int] = set()
    for node in nodes:
        if not dtypes.is_float(node.dtype):
            continue
        if node.id in targets or any(
                src.id in reach for i, src in enumerate(node.inputs) if node.op.reads_data(i)):
            reach.add(node.id)
    return reach


services.lend(gradients=gradients)  # what ops differentiating loop bodies call
