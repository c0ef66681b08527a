"""Activations, as compositions of elementwise primitives and reductions (fused when
compiled: ``relu(x @ w + b)`` is one matmul and one loop)."""

from __future__ import annotations

from .. import ops
from ..core import dtypes
from ..core.shapes import normalize_axis
from ..core.tensor import Tensor
from ..errors import ShapeError, op_error
from ..ops.reduce import reduce as _reduce
from ..ops.softmax import softmax as softmax_op
from ._math import sigmoid, softplus, softsign, tanh  # noqa: F401  (re-exported)


def relu(x, alpha: float = 0.0, max_value=None, threshold: float = 0) -> Tensor:
    """Rectified linear unit with TF 2.2's options.

    ``f(x) = max_value`` for ``x >= max_value``, ``x`` for ``threshold < x < max_value``,
    ``alpha * (x - threshold)`` otherwise.

    Args:
        x: a tensor.
        alpha: slope of the negative part.
        max_value: saturation threshold (``None``: none).
        threshold: activation threshold.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.relu(K.constant([-2.0, 1.0, 8.0]), alpha=0.5, max_value=6))
        array([-1.,  1.,  6.], dtype=float32)
    """
    x = ops.as_tensor(x)
    if alpha != 0.0 and max_value is None and threshold == 0:
        return ops.where(x > 0, x, x * alpha)  # leaky relu
    negative_part = None
    if alpha != 0.0:
        shifted = -x + threshold if threshold != 0 else -x
        negative_part = ops.binary("maximum", shifted, 0)
    if threshold != 0:
        out = x * ops.cast(x > threshold, x.dtype)
    else:
        out = ops.binary("maximum", x, 0)
    if max_value is not None:
        out = ops.binary("minimum", ops.binary("maximum", out, 0), max_value)
    if negative_part is not None:
        out = out - negative_part * alpha
    return out


def elu(x, alpha: float = 1.0) -> Tensor:
    """Exponential linear unit: ``x`` for ``x > 0``, ``alpha * (exp(x) - 1)`` otherwise.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.elu(K.constant([-1.0, 2.0]), alpha=1.0))
        array([-0.63212055,  2.        ], dtype=float32)
    """
    x = ops.as_tensor(x)
    negative = ops.unary("expm1", x)
    if alpha != 1:
        negative = negative * alpha
    return ops.where(x > 0, x, negative)


def hard_sigmoid(x) -> Tensor:
    """Piecewise-linear sigmoid ``clip(0.2 * x + 0.5, 0, 1)`` (TF 2.2 rule).

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.hard_sigmoid(K.constant([-5.0, 0.0, 5.0])))
        array([0. , 0.5, 1. ], dtype=float32)
    """
    x = ops.as_tensor(x)
    y = x * 0.2 + 0.5
    return ops.binary("minimum", ops.binary("maximum", y, 0), 1)


def softmax(x, axis: int = -1) -> Tensor:
    """Softmax along ``axis`` (default -1), stable for large logits.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.softmax(K.constant([[1000.0, 1000.0]])))
        array([[0.5, 0.5]], dtype=float32)
    """
    x = ops.as_tensor(x)
    if x.shape and dtypes.is_float(x.dtype):  # one row-wise kernel (ops/softmax.py)
        try:
            out = softmax_op(x, normalize_axis(axis, len(x.shape)))
        except ValueError as exc:
            raise op_error(ShapeError, "softmax", [x], str(exc)) from None
    else:
        shifted = x - _reduce("max", x, axis, True)
        e = ops.unary("exp", shifted)
        out = e / _reduce("sum", e, axis, True)
    out._softmax_of = (x, axis)  # crossentropies read the logits back (stable path)
    return out
