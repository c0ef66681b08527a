"""Scans, gathers and small utilities: ``cumsum``, ``cumprod``, ``gather``, ``size``,
``pattern_broadcast``, ``random_uniform_variable``, ``random_normal_variable``."""

from __future__ import annotations

from .. import ops
from ..core.tensor import Tensor
from ..errors import ShapeError, op_error
from ..ops.indexing import gather as _gather
from ..ops.reduce import reduce as _reduce
from ..ops.scan import cumulative
from ..runtime.evaluate import evaluate
from ._creation import _dtype, random_normal, random_uniform, variable


def cumsum(x, axis: int = 0) -> Tensor:
    """Cumulative sum along ``axis`` (default 0, the first axis); keeps x's dtype.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.cumsum(K.constant([[1, 2], [3, 4]], dtype='int32')))
        array([[1, 2],
               [4, 6]], dtype=int32)
    """
    return cumulative("cumsum", x, axis)


def cumprod(x, axis: int = 0) -> Tensor:
    """Cumulative product along ``axis`` (default 0, the first axis); keeps x's dtype.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.cumprod(K.constant([[1., 2.], [3., 4.]]), axis=-1))
        array([[ 1.,  2.],
               [ 3., 12.]], dtype=float32)
    """
    return cumulative("cumprod", x, axis)


def gather(reference, indices) -> Tensor:
    """Rows of ``reference`` at integer ``indices`` (along axis 0).

    Args:
        reference: tensor of rank >= 1.
        indices: int tensor (any shape) of indices in ``[0, len(reference))``.

    Returns:
        A tensor of shape ``indices.shape + reference.shape[1:]``.

    Raises:
        IndexError: at run time, for an index out of range (checked before the kernel).

    Example:
        >>> import symgraph.backend as K
        >>> table = K.constant([[0., 1.], [2., 3.], [4., 5.]])
        >>> K.eval(K.gather(table, K.constant([2, 0], dtype='int32')))
        array([[4., 5.],
               [0., 1.]], dtype=float32)
    """
    return _gather(reference, indices)


def size(x, name: str | None = None) -> Tensor:
    """The number of elements of ``x`` as an int32 scalar tensor (known at run time
    for ``None`` dims).

    Example:
        >>> import symgraph.backend as K
        >>> x = K.placeholder((None, 3))
        >>> K.function([x], [K.size(x)])([K.eval(K.zeros((4, 3)))])[0]
        array(12, dtype=int32)
    """
    x = ops.as_tensor(x)
    return _reduce("prod", ops.shape_of(x), None, False)


def pattern_broadcast(x, broadcastable) -> Tensor:
    """Mark axes of ``x`` as broadcastable (Theano): they must have size 1, and
    their static size becomes 1. Checked at build time when the size is known and
    at run time otherwise.

    Args:
        x: a tensor.
        broadcastable: one bool per axis.

    Example:
        >>> import symgraph.backend as K
        >>> K.int_shape(K.pattern_broadcast(K.placeholder((None, 3)), [True, False]))
        (1, 3)
    """
    x = ops.as_tensor(x)
    flags = [bool(b) for b in broadcastable]
    if x.ndim is None or len(flags) != x.ndim:
        raise op_error(ShapeError, "pattern_broadcast", [x],
                       f"broadcastable has {len(flags)} entries for a tensor of rank {x.ndim}")
    axes = tuple(a for a, b in enumerate(flags) if b)
    for a in axes:
        if x.shape[a] not in (None, 1):
            raise op_error(ShapeError, "pattern_broadcast", [x],
                           f"axis {a} has size {x.shape[a]}, not 1")
    if all(x.shape[a] == 1 for a in axes):
        return x
    target = tuple(1 if a in axes else ((0, a),) for a in range(x.ndim))
    return ops.reshape(x, target, unit_axes=axes)


def random_uniform_variable(shape, low, high, dtype=None, name: str | None = None,
                            seed=None) -> Tensor:
    """A variable initialized once with uniform draws in ``[low, high)``.

    Args:
        shape: fully known shape.
        low, high: bounds.
        dtype: None means floatx.
        name: variable name.
        seed: int for reproducible values (None: from NumPy's global RNG).

    Example:
        >>> import symgraph.backend as K
        >>> v = K.random_uniform_variable((2, 3), 0, 1, seed=1)
        >>> K.is_variable(v), K.int_shape(v)
        (True, (2, 3))
    """
    dtype = _dtype(dtype)
    return variable(evaluate(random_uniform(shape, low, high, dtype, seed)), dtype, name)


def random_normal_variable(shape, mean, scale, dtype=None, name: str | None = None,
                           seed=None) -> Tensor:
    """A variable initialized once with Gaussian draws (``mean``, ``scale``).

    Example:
        >>> import symgraph.backend as K
        >>> v = K.random_normal_variable((1000,), 2.0, 0.5, seed=3)
        >>> round(float(K.eval(K.mean(v))), 1)
        2.0
    """
    dtype = _dtype(dtype)
    return variable(evaluate(random_normal(shape, mean, scale, dtype, seed)), dtype, name)
