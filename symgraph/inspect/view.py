"""What the inspection tools look at: a graph as written, and what the compiler made of it.

:func:`graph_view` accepts every kind of thing a user may want to look at — a tensor,
a list of tensors, a compiled ``Function`` (or ``K.function``'s one-output wrapper) or
the path of a graph file — and returns a :class:`GraphView`: the nodes (loop bodies
included), the inputs and outputs, and, when there is a compiled function, its
:class:`Kernel` list: which nodes run in which kernel.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from ..core.tensor import Tensor

#: what each kind of plan step is called in listings
KERNEL_KINDS = {"group": "fused elementwise", "reduce": "fused reduction",
                "op": "kernel", "fill": "fill"}


@dataclass
class Kernel:
    """One kernel of a compiled plan: a fused loop, a reduction, a BLAS call or an op's
    kernel (views, leaves and scalar fills run no kernel and are not listed).

    Attributes:
        index: position in the plan's kernel order (``k0``, ``k1``...).
        name: ``k<index>``.
        kind: ``'fused elementwise'``, ``'fused reduction'``, ``'reduction'``,
            ``'matmul (BLAS)'`` or ``'kernel'`` (an op's own numba kernel).
        node: the node whose value it stores.
        members: the nodes it computes (several for a fused loop).
        inputs: the nodes it reads arrays from.
        scalars: the nodes it reads as scalars (fills, 0-d constants).
        step: the plan step (compiler internals).

    Example:
        >>> import numpy as np, symgraph.backend as K
        >>> x = K.placeholder((None, 3), name="x")
        >>> w = K.variable(np.ones((3, 2), "float32"), name="w")
        >>> f = K.function([x], [K.softmax(K.tanh(K.dot(x, w)) * x[:, :2])])
        >>> [(k.name, k.kind) for k in f.kernels()]
        [('k0', 'matmul (BLAS)'), ('k1', 'fused elementwise'), ('k2', 'kernel')]
        >>> fused = f.kernels()[1]
        >>> [m.op.name for m in fused.members], [t.op.name for t in fused.inputs]
        (['tanh', 'multiply'], ['matmul', 'getitem'])
    """

    index: int
    name: str
    kind: str
    node: Tensor
    members: list
    inputs: list
    scalars: list = field(default_factory=list)
    step: object = None

    def __repr__(self) -> str:
        ops = ", ".join(m.op.name for m in self.members)
        return f"<Kernel {self.name} {self.kind} '{self.node.name}' [{ops}]>"


def plan_kernels(plan) -> list[Kernel]:
    """The kernels of a compiled plan, in execution order."""
    kernels = []
    for step in plan.steps:
        node = step.node
        if step.kind == "group":
            fused_reduce = node.op.kind == "reduce"
            kind = "fused reduction" if fused_reduce else "fused elementwise"
            members = list(step.members)
        elif step.kind == "op" and node.op.kind != "view":
            kind = ("matmul (BLAS)" if node.op.name == "matmul" else
                    "reduction" if node.op.kind == "reduce" else "kernel")
            members = [node]
        else:
            continue
        k = len(kernels)
        kernels.append(Kernel(k, f"k{k}", kind, node, members, list(step.array_inputs),
                              list(step.scalar_inputs), step))
    return kernels


@dataclass
class GraphView:
    """A graph to look at.

    Attributes:
        nodes: every node the outputs need (loop bodies included), in creation order.
        outputs: the requested tensors.
        inputs: the function's placeholders (or every placeholder among ``nodes``).
        function: the compiled Function, when one was given (or loaded).
        label: a title (a file name, a function name).
        targets: what is computed: the outputs, then a function's update values and
            update ops.

    Example:
        >>> import symgraph.backend as K
        >>> x = K.placeholder((None, 3), name="x")
        >>> f = K.function([x], [K.exp(x) * x])
        >>> view = graph_view(f)
        >>> [n.op.name for n in view.nodes], view.outputs == f.outputs
        (['placeholder', 'exp', 'multiply'], True)
        >>> view.function is f, len(view.kernels())
        (True, 1)
    """

    nodes: list
    outputs: list
    inputs: list
    function: object = None
    label: str = ""
    targets: list = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.targets:
            self.targets = list(self.outputs)

    def kernels(self) -> list[Kernel]:
        """The compiled plan's kernels ([] without a function)."""
        return plan_kernels(self.function.plan) if self.function is not None else []

    def kernel_of(self) -> dict[int, Kernel]:
        """Node id -> the kernel computing it, for the nodes of the compiled plan."""
        return {m.id: k for k in self.kernels() for m in k.members}


def graph_view(x) -> GraphView:
    """A :class:`GraphView` of ``x``: a tensor, a list of tensors, a compiled Function
    or a graph file path (``str`` / ``os.PathLike``, loaded with :func:`symgraph.load`).

    Example:
        >>> import symgraph.backend as K
        >>> x = K.placeholder((None, 3), name="x")
        >>> view = graph_view(K.function([x], [K.exp(x) + 1.0]))
        >>> [n.op.name for n in view.nodes], [k.kind for k in view.kernels()]
        (['placeholder', 'exp', 'constant', 'add'], ['fused elementwise'])
    """
    from ..ops.control import closure
    from ..runtime.function import Function

    label = ""
    if isinstance(x, (str, os.PathLike)):
        from ..io import load

        label = os.fspath(x)
        x = load(x)
    fn = getattr(x, "fn", x)
    if isinstance(fn, Function):
        outputs = list(fn.outputs) + [v for _, v in fn.updates] + list(fn.update_ops)
        nodes = closure(outputs + list(fn.inputs))
        return GraphView(nodes, list(fn.outputs), list(fn.inputs), fn, label or fn.name or "",
                         outputs)
    outputs = [x] if isinstance(x, Tensor) else list(x) if isinstance(x, (list, tuple)) \
        else None
    if not outputs or not all(isinstance(t, Tensor) for t in outputs):
        raise TypeError("expected a tensor, a list of tensors, a compiled function or a "
                        f"graph file path, got {type(x).__name__}")
    nodes = closure(outputs)
    inputs = [n for n in nodes if n.op.name == "placeholder"]
    return GraphView(nodes, outputs, inputs, None, label)
