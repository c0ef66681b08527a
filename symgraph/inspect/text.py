"""A typed text listing of the part of a graph that some outputs depend on, in the
spirit of ``jax.make_jaxpr``: one line per node, with its shape, dtype, op, inputs
and (for shape-only inputs) a ``shape:`` marker. Like PyTensor's ``debugprint`` it
marks shared nodes (read by several consumers); with ``fused=True`` it marks the
kernel each node runs in."""

from __future__ import annotations

from ..core.shapes import shape_str
from ..core.tensor import Constant, ConstValue, Placeholder, Variable


def _attrs(node) -> str:
    items = [f"{k}={v!r}" for k, v in node.attrs.items() if not isinstance(v, ConstValue)]
    return f" {{{', '.join(items)}}}" if items else ""


def format_graph(outputs, *, fused: bool = False, shared: bool = True) -> str:
    """Return the listing of what ``outputs`` depend on.

    Args:
        outputs: a tensor, a list of tensors, a compiled Function or a graph file path.
        fused: list what the compiler made instead: the nodes of the compiled plan
            (after its passes), each with the kernel it runs in (``[k1]``), and the
            kernels at the end.
        shared: mark nodes that several nodes read (``# shared by 3``).

    Example:
        >>> import symgraph.backend as K
        >>> from symgraph.inspect import format_graph
        >>> K.clear_session()
        >>> x = K.placeholder((None, 3), name='x')
        >>> print(format_graph(K.exp(x)))
        x: (None, 3) float32 = placeholder
        exp: (None, 3) float32 = exp(x)
        outputs: exp
        >>> print(format_graph(K.exp(x) * K.exp(x), fused=True))
        x: (None, 3) float32 = placeholder
        exp: (None, 3) float32 = exp(x)  [k0]  # shared by 2
        multiply: (None, 3) float32 = multiply(exp, exp)  [k0]
        outputs: multiply
        kernels: k0 fused elementwise [exp, multiply] -> multiply
    """
    from ..core.graph import ancestors
    from .tables import compile_view
    from .view import graph_view

    view = graph_view(outputs)
    kernel_of: dict = {}
    kernels = []
    if fused:
        fn = view.function or compile_view(view)
        if fn is None:
            raise ValueError("format_graph(fused=True): these outputs do not compile "
                             "(a placeholder they need has no value)")
        targets = fn.plan.outputs
        kernels = _kernels(fn)
        kernel_of = {m.id: k for k in kernels for m in k.members}
        nodes = ancestors(targets)
        shown = targets[:len(view.outputs)]
    else:
        nodes = ancestors(view.outputs)
        shown = view.outputs
    readers: dict[int, int] = {}
    for node in nodes:
        for src in node.inputs:
            readers[src.id] = readers.get(src.id, 0) + 1
    lines = []
    for node in nodes:
        head = f"{node.name}: {shape_str(node.shape)} {node.dtype} = "
        if isinstance(node, Placeholder):
            line = head + "placeholder"
        elif isinstance(node, Variable):
            line = head + "variable"
        elif isinstance(node, Constant):
            line = head + f"constant {node.attrs['value']!r}"
        else:
            args = ", ".join(src.name if node.op.reads_data(i) else f"shape:{src.name}"
                             for i, src in enumerate(node.inputs))
            line = head + f"{node.op.name}({args}){_attrs(node)}"
        if node.id in kernel_of:
            line += f"  [{kernel_of[node.id].name}]"
        if shared and readers.get(node.id, 0) > 1 and not isinstance(node, Constant):
            line += f"  # shared by {readers[node.id]}"
        lines.append(line)
    lines.append("outputs: " + ", ".join(t.name for t in shown))
    if kernels:
        lines.append("kernels: " + "; ".join(
            f"{k.name} {k.kind} [{', '.join(m.op.name for m in k.members)}] -> {k.node.name}"
            for k in kernels))
    return "\n".join(lines)


def _kernels(fn) -> list:
    from .view import plan_kernels

    return plan_kernels(fn.plan)
