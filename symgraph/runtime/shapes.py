"""Concrete shapes of a plan's nodes for one call: the static shape rules run again on
the fed shapes (and, for data-dependent shapes, on computed values)."""

from __future__ import annotations

from ..core.shapes import dims_compatible, is_fully_known, shape_str
from ..core.tensor import Placeholder, Variable
from ..errors import ShapeError, created_at, docs_hint
from ..ops import dims

__all__ = ["Shaped", "concrete_shapes"]


def concrete_shapes(plan, value_nodes: dict, feeds: dict, values: dict | None = None) -> dict:
    """Every node's concrete shape for these feeds.

    Args:
        plan: the compiled plan (its ``shape_order`` lists every node whose shape is needed).
        value_nodes: node id -> {input index: source id} of data-dependent shapes.
        feeds: placeholder id -> its array (or a :class:`Shaped` stand-in).
        values: source id -> computed value that data-dependent shapes read, or None.

    Returns:
        Node id -> shape tuple.

    Raises:
        ShapeError: naming the node and the user's line when a shape rule rejects the fed
            shapes or a data-dependent shape has no values.
    """
    shapes = {}
    for node in plan.shape_order:
        if isinstance(node, Placeholder):
            shapes[node.id] = feeds[node.id].shape if node.id in feeds else node.shape
        elif isinstance(node, Variable):
            shapes[node.id] = node.value.shape
        elif not node.inputs or (is_fully_known(node.shape) and all(
                shapes.get(s.id, s.shape) == s.shape for s in node.inputs)):
            shapes[node.id] = node.shape
        elif is_fully_known(node.shape) and any(s.id not in shapes for s in node.inputs):
            # read for its shape only, which is static: prune did not visit its inputs
            # (x + K.zeros_like(v + x) never computes, nor re-shapes, v + x)
            shapes[node.id] = node.shape
        elif node.id in value_nodes:
            if values is None:
                raise ShapeError(
                    f"{node.op.name} '{node.name}'{created_at(node)}: its shape depends "
                    "on computed values (a data-dependent shape), known only when the "
                    f"function runs, not from input shapes alone; {_SHAPES}")
            by_input = {i: values[v] for i, v in value_nodes[node.id].items()}
            with dims.input_values(by_input):
                shapes[node.id] = _infer_concrete(node, shapes)
        else:
            shapes[node.id] = _infer_concrete(node, shapes)
    return shapes


class Shaped:
    """A stand-in feed for shape propagation: only ``.shape`` is read."""

    __slots__ = ("shape",)

    def __init__(self, shape: tuple):
        self.shape = shape


_SHAPES = docs_hint("errors", "shapes")  # build-time and run-time checks, and the fixes


def _infer_concrete(node, shapes):
    in_shapes = [shapes[s.id] for s in node.inputs]
    try:
        shape, _ = node.op.infer(in_shapes, [s.dtype for s in node.inputs], node.attrs)
    except (ValueError, TypeError) as exc:
        detail = ", ".join(f"{shape_str(s)} {t.dtype}" for s, t in zip(in_shapes, node.inputs))
        raise ShapeError(f"{node.op.name} '{node.name}'{created_at(node)}: {exc} "
                         f"[run-time inputs: {detail}]; {_SHAPES}") from None
    if None in shape:  # e.g. a division by zero inside a shape expression
        raise ShapeError(f"{node.op.name} '{node.name}'{created_at(node)}: a size could not "
                         f"be computed at run time (got {shape_str(tuple(shape))}); {_SHAPES}")
    if not dims_compatible(node.shape, shape):
        raise ShapeError(f"{node.op.name} '{node.name}'{created_at(node)}: run-time shape "
                         f"{shape_str(shape)} does not match its static shape "
                         f"{shape_str(node.shape)}; {_SHAPES}")
    return tuple(shape)
