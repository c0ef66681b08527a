"""Shape manipulation: reshapes and views (no copies unless needed), joins, repeats."""

from __future__ import annotations

from .. import ops
from ..core.shapes import normalize_axis
from ..core.tensor import Tensor
from ..errors import ShapeError, op_error
from ..ops import dims


def _refs(axes):
    return tuple(((0, a),) for a in axes)


def _rank(x: Tensor, what: str) -> int:
    if x.shape is None:
        raise op_error(ShapeError, what, [x], "the input's rank is unknown")
    return len(x.shape)


def _axis(x: Tensor, axis, ndim: int, what: str) -> int:
    try:
        return normalize_axis(axis, ndim)
    except ValueError as exc:
        raise op_error(ShapeError, what, [x], str(exc)) from None


def shape(x) -> Tensor:
    """The run-time shape of ``x`` as an int32 1-D tensor (reads only the shape).

    Example:
        >>> import numpy as np
        >>> import symgraph.backend as K
        >>> K.eval(K.shape(K.variable(np.zeros((2, 3)))))
        array([2, 3], dtype=int32)
    """
    return ops.shape_of(x)


def reshape(x, shape) -> Tensor:
    """Reshape ``x`` to ``shape`` (one ``-1`` allowed). ``shape`` may mix ints with
    scalar int tensors computed from shapes (``K.shape(y)[0]``, ``K.shape(y)[1] * 2``)
    or be one such 1-D tensor (``K.shape(y)``, ``K.stack([...])``): those dims stay
    symbolic and are resolved from the shapes fed at run time.

    Example:
        >>> import symgraph.backend as K
        >>> K.int_shape(K.reshape(K.placeholder((None, 3, 4)), (-1, 12)))
        (None, 12)
        >>> x = K.placeholder((None, 3, 4))
        >>> K.int_shape(K.reshape(x, [K.shape(x)[0], -1]))
        (None, 12)
    """
    x = ops.as_tensor(x)
    col = dims.Collector([x])
    target = dims.shape_argument(shape, col, "reshape", allow_none=True, allow_minus_one=True)
    target = [-1 if e is None else e for e in target]
    return ops.reshape(x, tuple(target), col.sources)


def flatten(x) -> Tensor:
    """Flatten to 1-D.

    Example:
        >>> import symgraph.backend as K
        >>> K.int_shape(K.flatten(K.placeholder((2, 3))))
        (6,)
    """
    x = ops.as_tensor(x)
    return ops.reshape(x, (tuple((0, a) for a in range(_rank(x, "flatten"))),))


def batch_flatten(x) -> Tensor:
    """Reshape to ``(batch, product of the other dims)``.

    Example:
        >>> import symgraph.backend as K
        >>> K.int_shape(K.batch_flatten(K.placeholder((None, 3, 4))))
        (None, 12)
    """
    x = ops.as_tensor(x)
    ndim = _rank(x, "batch_flatten")
    if ndim < 1:
        raise op_error(ShapeError, "batch_flatten", [x], "needs a tensor of rank >= 1")
    rest = tuple((0, a) for a in range(1, ndim)) or 1
    return ops.reshape(x, (((0, 0),), rest))


def expand_dims(x, axis: int = -1) -> Tensor:
    """Insert a size-1 axis at ``axis`` (default -1: last).

    Example:
        >>> import symgraph.backend as K
        >>> K.int_shape(K.expand_dims(K.placeholder((None, 3)), 1))
        (None, 1, 3)
    """
    x = ops.as_tensor(x)
    ndim = _rank(x, "expand_dims")
    axis = _axis(x, axis, ndim + 1, "expand_dims")
    target = list(_refs(range(ndim)))
    target.insert(axis, 1)
    return ops.reshape(x, tuple(target))


def squeeze(x, axis: int) -> Tensor:
    """Remove the size-1 axis ``axis``.

    Example:
        >>> import symgraph.backend as K
        >>> K.int_shape(K.squeeze(K.placeholder((None, 1, 3)), 1))
        (None, 3)
    """
    x = ops.as_tensor(x)
    ndim = _rank(x, "squeeze")
    axis = _axis(x, axis, ndim, "squeeze")
    if x.shape[axis] not in (None, 1):
        raise op_error(ShapeError, "squeeze", [x], f"axis {axis} has size {x.shape[axis]}, not 1")
    return ops.reshape(x, _refs(a for a in range(ndim) if a != axis),
                       unit_axes=(axis,))


def transpose(x) -> Tensor:
    """Reverse the order of all axes.

    Example:
        >>> import symgraph.backend as K
        >>> K.int_shape(K.transpose(K.placeholder((2, None, 4))))
        (4, None, 2)
    """
    return ops.transpose(x)


def permute_dimensions(x, pattern) -> Tensor:
    """Reorder axes by ``pattern`` (a permutation).

    Example:
        >>> import symgraph.backend as K
        >>> K.int_shape(K.permute_dimensions(K.placeholder((None, 3, 4)), (2, 0, 1)))
        (4, None, 3)
    """
    x = ops.as_tensor(x)
    pattern = tuple(int(p) for p in pattern)
    ndim = _rank(x, "permute_dimensions")
    if sorted(pattern) != list(range(ndim)):
        raise op_error(ShapeError, "permute_dimensions", [x],
                       f"pattern {pattern} is not a permutation of {ndim} axes")
    return ops.transpose(x, pattern)


def concatenate(tensors, axis: int = -1) -> Tensor:
    """Join tensors along ``axis`` (a negative axis counts from the first tensor's rank).

    Example:
        >>> import symgraph.backend as K
        >>> a, b = K.placeholder((None, 2)), K.placeholder((None, 3))
        >>> K.int_shape(K.concatenate([a, b]))
        (None, 5)
    """
    return ops.concatenate(tensors, axis)


def stack(x, axis: int = 0) -> Tensor:
    """Stack same-shape tensors along a new axis (default 0).

    Example:
        >>> import symgraph.backend as K
        >>> a = K.placeholder((None, 2))
        >>> K.int_shape(K.stack([a, a], axis=1))
        (None, 2, 2)
    """
    tensors = [ops.as_tensor(t) for t in x]
    if not tensors:
        raise ValueError("stack needs at least one tensor")
    ndim = _rank(tensors[0], "stack")
    axis = _axis(tensors[0], axis, ndim + 1, "stack")
    for t in tensors[1:]:
        if t.shape is None or len(t.shape) != ndim or any(
                a is not None and b is not None and a != b for a, b in zip(t.shape,
                                                                          tensors[0].shape)):
            raise op_error(ShapeError, "stack", tensors, "all tensors must have the same shape")
    return ops.concatenate([expand_dims(t, axis) for t in tensors], axis)


def tile(x, n) -> Tensor:
    """Repeat the whole tensor ``n[i]`` times along axis i. ``n`` is an int, a list of
    ints or scalar int tensors, or a 1-D int tensor computed from shapes. As in NumPy, a
    shorter ``n`` is padded with leading 1s, and a longer one adds leading axes to ``x``.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.tile(K.constant([[1, 2]], dtype='int32'), (2, 2)))
        array([[1, 2, 1, 2],
               [1, 2, 1, 2]], dtype=int32)
        >>> x = K.placeholder((None, 3))
        >>> K.int_shape(K.tile(x, [1, K.shape(x)[0]]))
        (None, None)
    """
    x = ops.as_tensor(x)
    ndim = _rank(x, "tile")
    col = dims.Collector(offset=1, context=[x])  # input 0: x with interleaved unit axes
    reps = dims.shape_argument(n, col, "tile", what="repeat count")
    if len(reps) > ndim:  # NumPy: x gains leading axes
        x = ops.reshape(x, (1,) * (len(reps) - ndim) + tuple(_refs(range(ndim))))
        ndim = len(reps)
    reps = [1] * (ndim - len(reps)) + list(reps)
    interleaved = []
    for a in range(ndim):
        interleaved += [1, ((0, a),)]
    expanded = ops.reshape(x, tuple(interleaved))
    target = []
    for a, r in enumerate(reps):
        target += [r, ((0, 2 * a + 1),)]
    big = ops.broadcast_to(expanded, tuple(target), col.sources)
    return ops.reshape(big, tuple(((0, 2 * a), (0, 2 * a + 1)) for a in range(ndim)))


def repeat_elements(x, rep, axis: int) -> Tensor:
    """Repeat each entry ``rep`` times along ``axis`` (numpy.repeat); ``rep`` is an int
    or a scalar int tensor (computed from shapes, or data).

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.repeat_elements(K.constant([1, 2], dtype='int32'), 2, 0))
        array([1, 1, 2, 2], dtype=int32)
    """
    x = ops.as_tensor(x)
    ndim = _rank(x, "repeat_elements")
    axis = _axis(x, axis, ndim, "repeat_elements")
    col = dims.Collector(offset=1, context=[x])  # input 0: x with a new axis
    (rep,) = dims.shape_argument([rep], col, "repeat_elements", allow_negative=True,
                                 what="rep")
    if type(rep) is int and rep < 0:
        raise op_error(ShapeError, "repeat_elements", [x], f"rep must be >= 0, got {rep}")
    expanded = expand_dims(x, axis + 1)
    target = list(_refs(range(ndim + 1)))
    target[axis + 1] = rep
    big = ops.broadcast_to(expanded, tuple(target), col.sources)
    merged = list(_refs(range(ndim + 1)))
    merged[axis:axis + 2] = [((0, axis), (0, axis + 1))]
    return ops.reshape(big, tuple(merged))


def repeat(x, n) -> Tensor:
    """Repeat a 2-D tensor ``(batch, d)`` ``n`` times on a new axis 1: ``(batch, n, d)``;
    ``n`` is an int or a scalar int tensor computed from shapes.

    Example:
        >>> import symgraph.backend as K
        >>> K.int_shape(K.repeat(K.placeholder((None, 3)), 4))
        (None, 4, 3)
    """
    x = ops.as_tensor(x)
    if _rank(x, "repeat") != 2:
        raise op_error(ShapeError, "repeat", [x], "needs a 2-D tensor")
    col = dims.Collector(offset=1, context=[x])  # input 0: x with a new axis 1
    (count,) = dims.shape_argument([n], col, "repeat", what="repeat count")
    return ops.broadcast_to(expand_dims(x, 1), (((0, 0),), count, ((0, 2),)), col.sources)
