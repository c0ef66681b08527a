"""Creating tensors: variables, constants, placeholders, fills, random draws, casts."""

from __future__ import annotations

import numpy as np

from .. import ops
from ..core import dtypes as _dtypes
from ..core.shapes import is_fully_known, normalize_shape
from ..core.tensor import Tensor
from ..ops import dims as _dims
from ..ops import random as _random
from ..ops.leaves import numeric_value


def _dtype(dtype) -> str:
    return _dtypes.normalize(dtype)  # None means floatx


def variable(value, dtype=None, name: str | None = None, constraint=None) -> Tensor:
    """Instantiate a variable holding ``value``.

    Args:
        value: NumPy array, list or number (a tensor is evaluated first).
        dtype: dtype of the variable; ``None`` means ``floatx()`` whatever the value's dtype.
        name: name of the variable (made unique).
        constraint: accepted for Keras compatibility; applied by optimizers, not here.

    Returns:
        A variable with a fully known static shape.

    Example:
        >>> import numpy as np
        >>> import symgraph.backend as K
        >>> v = K.variable(np.array([[1, 2], [3, 4]]), name='v')
        >>> K.dtype(v), K.int_shape(v)
        ('float32', (2, 2))
    """
    var = ops.variable(value, _dtype(dtype), name)
    var.constraint = constraint
    return var


def constant(value, dtype=None, shape=None, name: str | None = None) -> Tensor:
    """Create a constant tensor.

    Args:
        value: a number or array.
        dtype: ``None`` means ``floatx()``.
        shape: optional shape; a scalar value fills it, an array of the same size is reshaped.
        name: optional name.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.constant(1.5, shape=(2, 2)))
        array([[1.5, 1.5],
               [1.5, 1.5]], dtype=float32)
    """
    dtype = _dtype(dtype)
    numeric_value(value, "constant")
    array = np.asarray(value, dtype=dtype)
    if shape is not None:
        shape = normalize_shape(shape)
        if not is_fully_known(shape):
            raise ValueError(f"constant: shape must be fully known, got {shape}")
        if array.size == 1:
            array = np.full(shape, array.reshape(()), dtype=dtype)
        elif array.size == int(np.prod(shape, dtype=object)):
            array = array.reshape(shape)
        else:
            raise ValueError(f"constant: a value of shape {array.shape} does not fit shape {shape}")
    return ops.constant(array, dtype, name)


def placeholder(shape=None, ndim: int | None = None, dtype=None, sparse: bool = False,
                name: str | None = None, ragged: bool = False) -> Tensor:
    """Instantiate a placeholder: a graph input fed when a function runs.

    Args:
        shape: tuple with ``None`` for unknown dims.
        ndim: number of dims, all unknown, when ``shape`` is not given.
        dtype: ``None`` means ``floatx()``.
        sparse, ragged: not supported (a clear error).
        name: optional name.

    Example:
        >>> import symgraph.backend as K
        >>> K.int_shape(K.placeholder(shape=(None, 784)))
        (None, 784)
        >>> K.int_shape(K.placeholder(ndim=2))
        (None, None)
    """
    if sparse or ragged:
        raise ValueError("symgraph has no sparse or ragged placeholders; use a dense placeholder "
                         "(sparse tensors come only from K.ctc_label_dense_to_sparse)")
    if shape is None and ndim is not None:
        shape = (None,) * int(ndim)
    x = ops.placeholder(shape, _dtype(dtype), name)
    # What Keras 2 reads off an input tensor (its InputLayer takes the shape from here).
    x._keras_shape = x.shape
    x._uses_learning_phase = False
    return x


def _has_tensor(shape) -> bool:
    return isinstance(shape, Tensor) or (isinstance(shape, (list, tuple)) and any(
        isinstance(d, Tensor) for d in shape))


def _shape_entries(shape, label: str, offset: int = 0):
    """``(target, sources)`` of a shape argument holding tensors (see ``ops.dims``); the
    op built from them has ``offset`` inputs of its own before the sources."""
    col = _dims.Collector(offset=offset)
    return tuple(_dims.shape_argument(shape, col, label)), col.sources


def _filled(shape, value, dtype: str, label: str) -> Tensor:
    """A tensor of a shape known at run time filled with ``value``: a broadcast view of
    one scalar (what TF returns, not a variable, when the shape is not static)."""
    target, sources = _shape_entries(shape, label, offset=1)  # input 0: the scalar
    static = ops.resolve_target(target, [(), *(s.shape for s in sources)])
    if None not in static:
        return variable(np.full(tuple(static), value, dtype=dtype), dtype)
    scalar = ops.constant(np.asarray(value, dtype=dtype), dtype)
    return ops.broadcast_to(scalar, target, sources)


def zeros(shape, dtype=None, name: str | None = None) -> Tensor:
    """Variable of the given shape filled with zeros. With a shape computed at run time
    (entries like ``K.shape(x)[0]``) it is a tensor, as in TF.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.zeros((2, 2)))
        array([[0., 0.],
               [0., 0.]], dtype=float32)
    """
    if _has_tensor(shape):
        return _filled(shape, 0, _dtype(dtype), "zeros")
    return variable(np.zeros(_known(shape, "zeros"), dtype=_dtype(dtype)), _dtype(dtype), name)


def ones(shape, dtype=None, name: str | None = None) -> Tensor:
    """Variable of the given shape filled with ones (a tensor when the shape is computed
    at run time, see :func:`zeros`).

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.ones((2,), dtype='int32'))
        array([1, 1], dtype=int32)
    """
    if _has_tensor(shape):
        return _filled(shape, 1, _dtype(dtype), "ones")
    return variable(np.ones(_known(shape, "ones"), dtype=_dtype(dtype)), _dtype(dtype), name)


def eye(size, dtype=None, name: str | None = None) -> Tensor:
    """Identity-matrix variable; ``size`` is an int or a ``(rows, cols)`` pair.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.eye(2))
        array([[1., 0.],
               [0., 1.]], dtype=float32)
    """
    rows, cols = (size, size) if np.ndim(size) == 0 else tuple(size)
    return variable(np.eye(int(rows), int(cols), dtype=_dtype(dtype)), _dtype(dtype), name)


def _known(shape, what):
    shape = normalize_shape(shape)
    if not is_fully_known(shape):
        raise ValueError(f"{what}: shape must be fully known, got {shape}")
    return shape


def zeros_like(x, dtype=None, name: str | None = None) -> Tensor:
    """Tensor of zeros with ``x``'s shape; ``dtype=None`` keeps ``x``'s dtype (TF 2.2).

    Only ``x``'s shape is read: evaluating the result never computes ``x``.

    Example:
        >>> import numpy as np
        >>> import symgraph.backend as K
        >>> kvar = K.variable(np.random.random((2, 3)))
        >>> K.eval(K.zeros_like(kvar))
        array([[0., 0., 0.],
               [0., 0., 0.]], dtype=float32)
    """
    return ops.fill_like(ops.as_tensor(x), 0, dtype, name)


def ones_like(x, dtype=None, name: str | None = None) -> Tensor:
    """Tensor of ones with ``x``'s shape; ``dtype=None`` keeps ``x``'s dtype.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.ones_like(K.placeholder((2,), dtype='int32')))
        array([1, 1], dtype=int32)
    """
    return ops.fill_like(ops.as_tensor(x), 1, dtype, name)


def _draw(dist: str, shape, a, b, dtype, seed) -> Tensor:
    if _has_tensor(shape):
        target, sources = _shape_entries(shape, f"random_{dist}")
        if sources:
            return _random.random(dist, target, a, b, _dtype(dtype), seed, like=sources)
        shape = target  # every entry was known statically
    return _random.random(dist, shape, a, b, _dtype(dtype), seed)


def random_uniform(shape, minval=0.0, maxval=1.0, dtype=None, seed=None) -> Tensor:
    """Tensor of uniform draws in ``[minval, maxval)``, re-sampled on every evaluation.

    Args:
        shape: ints, or entries computed from shapes (``K.shape(x)[0]``, or one 1-D
            tensor such as ``K.shape(x)``), resolved at run time.
        minval, maxval: bounds.
        dtype: ``None`` means ``floatx()``.
        seed: int; the same seed gives the same numbers in every run. ``None`` draws
            one from NumPy's global RNG at build time.

    Example:
        >>> import symgraph.backend as K
        >>> r = K.random_uniform((2, 3), seed=1)
        >>> K.int_shape(r), bool((K.eval(r) < 1).all())
        ((2, 3), True)
    """
    return _draw("uniform", shape, minval, maxval, dtype, seed)


def random_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None) -> Tensor:
    """Tensor of Gaussian draws, re-sampled on every evaluation (see random_uniform).

    Example:
        >>> import symgraph.backend as K
        >>> K.int_shape(K.random_normal((4, 5), seed=0))
        (4, 5)
    """
    return _draw("normal", shape, mean, stddev, dtype, seed)


def truncated_normal(shape, mean=0.0, stddev=1.0, dtype=None, seed=None) -> Tensor:
    """Gaussian draws redrawn when more than two stddevs from the mean.

    Example:
        >>> import symgraph.backend as K
        >>> x = K.eval(K.truncated_normal((1000,), seed=3))
        >>> bool((abs(x) <= 2).all())
        True
    """
    return _draw("truncated_normal", shape, mean, stddev, dtype, seed)


def random_binomial(shape, p=0.0, dtype=None, seed=None) -> Tensor:
    """Tensor of 0./1. draws with P(1) = ``p``.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.random_binomial((3,), p=1.0, seed=0))
        array([1., 1., 1.], dtype=float32)
    """
    return _draw("binomial", shape, p, 0.0, dtype, seed)


def random_bernoulli(shape, p=0.0, dtype=None, seed=None) -> Tensor:
    """Tensor of 0./1. draws with P(1) = ``p`` (tf_keras's name of
    :func:`random_binomial`; the same stream for the same seed).

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.random_bernoulli((3,), p=0.0, seed=0))
        array([0., 0., 0.], dtype=float32)
    """
    return random_binomial(shape, p, dtype, seed)


def cast(x, dtype) -> Tensor:
    """Cast a tensor to ``dtype``: float to int truncates toward zero (NaN becomes 0,
    out-of-range values saturate), nonzero to bool is True.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.cast(K.constant([-1.7, 2.5]), 'int32'))
        array([-1,  2], dtype=int32)
    """
    return ops.cast(x, dtype)


def cast_to_floatx(x):
    """Cast to ``floatx()``: a NumPy/Python input gives a NumPy array, a tensor a tensor.

    Example:
        >>> import symgraph.backend as K
        >>> K.cast_to_floatx([1, 2]).dtype
        dtype('float32')
    """
    from ..config import floatx

    if isinstance(x, Tensor):
        return ops.cast(x, floatx())
    return np.asarray(x, dtype=floatx())
