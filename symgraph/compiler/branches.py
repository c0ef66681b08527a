"""Whole-branch selection: a ``where`` whose condition is a fed rank-0 bool placeholder
(``K.switch`` / ``K.in_train_phase`` on ``K.learning_phase()``) picks one branch per
call, so a plan compiled for one value of that placeholder computes only that branch.

TF 2.2's ``K.switch`` with a scalar condition is a ``tf.cond``: the other branch does
not run. Without this pass a symgraph plan computes both and selects, which for a
BatchNormalization layer means the inference normalization and its gradients run in
every training step. :class:`symgraph.runtime.function.Function` compiles one plan
per value such placeholders take (:func:`selector_inputs`), and this pass rewrites
``where(p, a, b)`` into ``a`` or ``b``. The values computed are the same bits (``where``
selects exactly); what changes is that the other branch is not computed, so its
run-time errors do not surface. A branch holding ops with effects (random draws,
assignments, printing) that the taken one does not share is kept, with the ``where``
(dropping a draw would change the random stream of later calls).
"""

from __future__ import annotations

from ..core.graph import ancestors
from ..core.tensor import Placeholder
from .passes import _pure


def selector_inputs(inputs, outputs) -> list[int]:
    """Positions in ``inputs`` of rank-0 bool placeholders that some ``where`` among
    the ancestors of ``outputs`` takes as its condition."""
    conditions = {node.inputs[0].id for node in ancestors(outputs)
                  if node.op.name == "where"}
    return [i for i, ph in enumerate(inputs)
            if isinstance(ph, Placeholder) and ph.dtype == "bool" and ph.shape == ()
            and ph.id in conditions]


def _fits(chosen, other, node) -> bool:
    """Whether ``chosen`` alone has ``node``'s shape: the other branch broadcasts into
    it without changing it (0-d, or dims of 1 or of ``chosen``'s known size)."""
    if chosen.shape is None or other.shape is None or chosen.shape != node.shape:
        return False
    if len(other.shape) > len(chosen.shape):
        return False
    tail = chosen.shape[len(chosen.shape) - len(other.shape):]
    return all(o == 1 or (o is not None and o == c) for o, c in zip(other.shape, tail))


def _effects(node) -> set[int]:
    return {n.id for n in ancestors([node]) if not _pure(n)}


#: gradient ops that are exactly zero when any one data input is (products) ...
_ZERO_IF_ANY = {"multiply", "matmul", "conv_input_grad", "conv_kernel_grad",
                "depthwise_input_grad", "depthwise_kernel_grad"}
#: ... and when their first input is (linear in it)
_ZERO_IF_FIRST = {"true_divide", "negative", "cast", "sum", "mean", "sum_to",
                  "broadcast_to", "reshape", "transpose", "getitem", "scatter_index",
                  "scatter_rows", "expand_dims", "squeeze", "identity"}


def _in_gradients(node_id: int, spans) -> bool:
    return any(start <= node_id < end for start, end in spans)


def _zero_gradient(node, zeros: set):
    """For a node built by ``gradients()`` (original inputs mapped), whether it is an
    exact zero or reduces to one of its inputs, given which inputs are the dropped
    branch's zeros: ``("zero", None)``, ``("same", input)`` or None."""
    name = node.op.name
    data = [s for i, s in enumerate(node.inputs) if node.op.reads_data(i)]
    if not data or not any(s.id in zeros for s in data):
        return None
    if name in _ZERO_IF_ANY or (name in _ZERO_IF_FIRST and node.inputs[0].id in zeros):
        return ("zero", None)
    if name in ("add", "subtract", "concatenate", "where"):
        live = [s for s in data if s.id not in zeros]
        if not live:
            return ("zero", None)
        if name in ("add", "subtract") and len(live) == 1:
            other = live[0]
            if name == "subtract" and other is node.inputs[1]:
                return None  # 0 - x is -x: left as it is
            if other.shape == node.shape and other.dtype == node.dtype and \
                    other.shape is not None and None not in other.shape:
                return ("same", other)
    return None


def select_branches(outputs, values: dict[int, bool]) -> list:
    """Rewrite ``where(p, a, b)`` for each placeholder id ``p`` in ``values`` so that
    only the branch its value picks is computed:

    * the branch itself (cast to the ``where``'s dtype) where it alone has the
      ``where``'s shape (the other broadcasts into it);
    * a fill of the other branch's shape where the branch is a 0-d constant (the
      gradient ``where(p, 0, g)``: the other branch's shape is read, not its values);
    * else ``where(value, branch, zeros of the other's shape)``: the ``where``'s
      shape whatever the run-time sizes, and an elementwise op that fuses into the
      loops around it.

    Gradients flowing back through the branch not taken are exact zeros, as with
    TF's ``tf.cond``, which never runs that branch's backward: gradient nodes
    (those ``gradients()`` built) that are linear in such zeros become zeros, and
    a sum with one becomes its other operand.

    Example:
        >>> import numpy as np, symgraph.backend as K
        >>> p = K.placeholder((), dtype="bool")
        >>> x = K.placeholder((None, 3))
        >>> y = K.switch(p, x * 2.0, K.exp(x))
        >>> z = select_branches([y], {p.id: True})[0]
        >>> [n.op.name for n in z.inputs[1:]], [n.op.name for n in z.inputs[2].inputs]
        (['multiply', 'fill'], ['exp'])
    """
    from ..ops import cast, constant, fill_like, where
    from .passes import _constant_value, _rebuild

    if not outputs:
        return outputs
    spans = outputs[0].graph.gradient_spans
    zeros: set[int] = set()  # ids of exact zeros of a branch not taken

    def select(node):
        value = values[node.inputs[0].id]
        chosen, other = (node.inputs[1], node.inputs[2]) if value else \
            (node.inputs[2], node.inputs[1])
        if _effects(other) - _effects(chosen):
            return None
        if chosen.dtype != node.dtype:
            chosen = cast(chosen, node.dtype)
        if _fits(chosen, other, node):
            return chosen
        uniform = _constant_value(chosen)
        if chosen.shape == () and uniform is not None and other.shape == node.shape:
            filled = fill_like(other, uniform, dtype=node.dtype)
            if uniform == 0:
                zeros.add(filled.id)
            return filled
        blank = fill_like(other, 0, dtype=other.dtype)
        condition = constant(bool(value), "bool", graph=node.graph)
        return where(condition, chosen, blank) if value else where(condition, blank, chosen)

    mapped: dict[int, object] = {}
    for node in ancestors(outputs):
        new = _rebuild(node, [mapped[s.id] for s in node.inputs])
        replacement = None
        if new.op.name == "where" and new.inputs[0].id in values:
            replacement = select(new)
        elif zeros and _in_gradients(node.id, spans):
            found = _zero_gradient(new, zeros)
            if found is not None:
                kind, same = found
                if kind == "same":
                    replacement = same
                else:
                    replacement = fill_like(new, 0, dtype=new.dtype)
                    zeros.add(replacement.id)
        mapped[node.id] = new if replacement is None else replacement
    return [mapped[t.id] for t in outputs]
