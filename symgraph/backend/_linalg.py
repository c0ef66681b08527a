"""``dot`` and ``batch_dot``: compositions of one BLAS-backed matmul with views."""

from __future__ import annotations

import numbers

from .. import ops
from ..core.tensor import Tensor
from ..errors import ShapeError, op_error


def _check_contracted(what, x, y, d1, d2):
    if d1 is not None and d2 is not None and d1 != d2:
        raise op_error(ShapeError, what, [x, y], f"contracted dimensions differ: {d1} vs {d2}")


def dot(x, y) -> Tensor:
    """Multiply two tensors. For ranks above 2 the last axis of ``x`` is contracted
    with the second-to-last of ``y`` (numpy.dot / Theano rule, not matmul
    broadcasting): ``(3, 4)·(2, 4, 5) -> (3, 2, 5)``.

    Args:
        x, y: tensors of rank >= 1.

    Returns:
        A tensor of shape ``x.shape[:-1] + y.shape[:-2] + y.shape[-1:]``.

    Example:
        >>> import symgraph.backend as K
        >>> x = K.placeholder((None, 784))
        >>> w = K.variable(K.eval(K.random_uniform((784, 10), seed=0)))
        >>> K.int_shape(K.dot(x, w))
        (None, 10)
    """
    x = ops.as_tensor(x, like=y if isinstance(y, Tensor) else None)
    y = ops.as_tensor(y, like=x)
    if x.shape is None or y.shape is None or not x.shape or not y.shape:
        raise op_error(ShapeError, "dot", [x, y], "needs operands of known rank >= 1")
    nx, ny = len(x.shape), len(y.shape)
    contracted = y.shape[0] if ny == 1 else y.shape[-2]
    _check_contracted("dot", x, y, x.shape[-1], contracted)
    if nx <= 2 and ny <= 2:
        return ops.matmul(x, y)
    x2 = ops.reshape(x, (tuple((0, a) for a in range(nx - 1)) or 1, ((0, nx - 1),)))
    if ny == 1:
        out = ops.matmul(x2, y)
        return ops.reshape(out, tuple(((1, a),) for a in range(nx - 1)), (x,))
    perm = (ny - 2, *range(ny - 2), ny - 1)
    yt = ops.transpose(y, perm)
    y2 = ops.reshape(yt, (((0, 0),), tuple((0, a) for a in range(1, ny))))
    out = ops.matmul(x2, y2)
    target = tuple(((1, a),) for a in range(nx - 1)) + tuple(
        ((2, a),) for a in range(ny - 2)) + (((2, ny - 1),),)
    return ops.reshape(out, target, (x, y))


def batch_dot(x, y, axes=None) -> Tensor:
    """Batchwise dot product: axis 0 is the batch; ``axes`` names the pair of axes
    contracted (default ``(x.ndim-1, y.ndim-2)``, or ``(x.ndim-1, y.ndim-1)`` when y
    is 2-D; an int ``a`` means ``(a, a)``). The output holds the batch, then x's
    remaining dims, then y's; two 2-D inputs give ``(batch, 1)``.

    Example:
        >>> import symgraph.backend as K
        >>> x, y = K.placeholder((32, 20, 1)), K.placeholder((32, 30, 20))
        >>> K.int_shape(K.batch_dot(x, y, axes=(1, 2)))
        (32, 1, 30)
    """
    x = ops.as_tensor(x, like=y if isinstance(y, Tensor) else None)
    y = ops.as_tensor(y, like=x)
    if x.shape is None or y.shape is None or len(x.shape) < 2 or len(y.shape) < 2:
        raise op_error(ShapeError, "batch_dot", [x, y], "needs operands of rank >= 2")
    nx, ny = len(x.shape), len(y.shape)
    if x.shape[0] is not None and y.shape[0] is not None and x.shape[0] != y.shape[0]:
        raise op_error(ShapeError, "batch_dot", [x, y],
                       f"batch sizes differ: {x.shape[0]} vs {y.shape[0]}")
    if axes is None:
        axes = (nx - 1, ny - 1) if ny == 2 else (nx - 1, ny - 2)
    elif isinstance(axes, numbers.Integral):  # NumPy ints too
        axes = (axes, axes)
    if len(axes) != 2 or any(isinstance(a, (list, tuple)) for a in axes):
        raise op_error(ShapeError, "batch_dot", [x, y],
                       f"axes must be an int or a pair of ints, got {axes!r}")
    a0, a1 = int(axes[0]), int(axes[1])
    a0 = a0 + nx if a0 < 0 else a0
    a1 = a1 + ny if a1 < 0 else a1
    if not (0 <= a0 < nx and 0 <= a1 < ny):
        raise op_error(ShapeError, "batch_dot", [x, y], f"axes {axes} out of range")
    if a0 == 0 or a1 == 0:
        raise op_error(ShapeError, "batch_dot", [x, y], "cannot contract over axis 0 (batch)")
    _check_contracted("batch_dot", x, y, x.shape[a0], y.shape[a1])
    x_rest = [a for a in range(1, nx) if a != a0]
    y_rest = [a for a in range(1, ny) if a != a1]
    xt = ops.transpose(x, (0, *x_rest, a0))
    x3 = ops.reshape(xt, (((0, 0),), tuple((0, a) for a in range(1, nx - 1)) or 1,
                          ((0, nx - 1),)))
    yt = ops.transpose(y, (0, a1, *y_rest))
    y3 = ops.reshape(yt, (((0, 0),), ((0, 1),), tuple((0, a) for a in range(2, ny)) or 1))
    out = ops.matmul(x3, y3)
    if not x_rest and not y_rest:
        return ops.reshape(out, (((0, 0),), 1))
    target = (((0, 0),),) + tuple(((1, a),) for a in x_rest) + tuple(((2, a),) for a in y_rest)
    return ops.reshape(out, target, (x, y))
