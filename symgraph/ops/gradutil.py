"""Helpers for gradient rules of several op families.

* ``unbroadcast(g, x)``: sum a broadcast result's gradient back to ``x``'s shape.
  Statically when the shapes tell which axes were broadcast; otherwise with the
  ``sum_to`` op, which decides at run time (``None`` dims may be 1 or not).
* ``zeros_like(x)``: the zero gradient of ``x``'s shape (reads only the shape).

Gradient rules stand with their ops unless they need ops built above their family:
the elementwise and shape ops' rules call ``unbroadcast``, which reduces, so they are
in ``ops.elementwise_grad`` and ``ops.shape_grad``, which import the ops they
differentiate and register the rules.
"""

from __future__ import annotations

import numpy as np

from ..core.tensor import Tensor
from .elementwise import fill_like
from .reduce import reduce
from .registry import VIEW, Op, register
from .shape import broadcast_to, reshape
from .shape_defs import refs_of


def zeros_like(x: Tensor) -> Tensor:
    """Zeros of ``x``'s shape and dtype (a ``fill`` node reading only the shape)."""
    return fill_like(x, 0)


def unbroadcast(g: Tensor, x: Tensor) -> Tensor:
    """``g`` (of a broadcast shape) summed down to ``x``'s shape."""
    gs, xs = g.shape, x.shape
    if gs == xs and None not in gs:
        return g
    lead = len(gs) - len(xs)
    axes = list(range(lead))
    for i, d in enumerate(xs):
        gd = gs[lead + i]
        if d == 1 and gd != 1:
            axes.append(lead + i)
        elif d is None and gd != 1:
            return g.graph.make(SUM_TO, (g, x))  # 1 or not: only the run time knows
    if not axes:
        return g
    out = reduce("sum", g, axes, True)
    return reshape(out, refs_of(1, len(xs)), shape_sources=(x,)) if lead else out


def _sum_to_infer(in_shapes, in_dtypes, attrs):
    g, x = in_shapes
    lead = len(g) - len(x)
    if lead < 0:
        raise ValueError("sum_to: the target has a higher rank than the gradient")
    for gd, xd in zip(g[lead:], x):
        if gd is not None and xd is not None and xd != 1 and gd != xd:
            raise ValueError(f"cannot sum shape {tuple(g)} to {tuple(x)}")
    return tuple(x), in_dtypes[0]


def _sum_to_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    g = args[0]
    lead = g.ndim - len(out_shape)
    axes = tuple(range(lead)) + tuple(lead + i for i, d in enumerate(out_shape)
                                      if d == 1 and g.shape[lead + i] != 1)
    if not axes:
        return g
    return np.sum(g, axis=axes, keepdims=True, dtype=out_dtype).reshape(out_shape)


SUM_TO = register(Op(
    "sum_to", VIEW, _sum_to_infer,
    lambda arrays, attrs, out_shape, out_dtype: _sum_to_kernel(arrays, None, attrs, out_shape,
                                                              out_dtype),
    data_inputs=(0,), kernel=_sum_to_kernel,
    grad=lambda node, g: (broadcast_to(g, refs_of(1, len(node.inputs[0].shape)),
                                       shape_sources=(node.inputs[0],)), None),
    doc="sum a gradient down to the run-time shape of input 1 (read for its shape)"))
