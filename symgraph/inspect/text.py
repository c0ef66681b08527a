"""A typed text listing of the part of a graph that some outputs depend on, in the
spirit of ``jax.make_jaxpr``: one line per node, with its shape, dtype, op, inputs
and (for shape-only inputs) a ``shape:`` marker."""

from __future__ import annotations

from ..core.shapes import shape_str
from ..core.tensor import Constant, ConstValue, Placeholder, Variable


def _attrs(node) -> str:
    items = [f"{k}={v!r}" for k, v in node.attrs.items() if not isinstance(v, ConstValue)]
    return f" {{{', '.join(items)}}}" if items else ""


def format_graph(outputs) -> str:
    """Return the listing of what ``outputs`` (a tensor or a list) depend on.

    Example:
        >>> import symgraph.backend as K
        >>> from symgraph.inspect import format_graph
        >>> K.clear_session()
        >>> x = K.placeholder((None, 3), name='x')
        >>> print(format_graph(K.exp(x)))
        x: (None, 3) float32 = placeholder
        exp: (None, 3) float32 = exp(x)
        outputs: exp
    """
    outputs = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    graph = outputs[0].graph
    lines = []
    for node in graph.ancestors(outputs):
        head = f"{node.name}: {shape_str(node.shape)} {node.dtype} = "
        if isinstance(node, Placeholder):
            lines.append(head + "placeholder")
        elif isinstance(node, Variable):
            lines.append(head + "variable")
        elif isinstance(node, Constant):
            lines.append(head + f"constant {node.attrs['value']!r}")
        else:
            args = ", ".join(src.name if node.op.reads_data(i) else f"shape:{src.name}"
                             for i, src in enumerate(node.inputs))
            lines.append(head + f"{node.op.name}({args}){_attrs(node)}")
    lines.append("outputs: " + ", ".join(t.name for t in outputs))
    return "\n".join(lines)
