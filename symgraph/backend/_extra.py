"""More of the Keras API built from the same primitives: identity, reverse, slice,
arange, one_hot, l2_normalize, uids and small predicates."""

from __future__ import annotations

import builtins

import numpy as np

from .. import ops
from ..core.graph import get_default_graph
from ..core.shapes import normalize_axes
from ..core.tensor import Tensor
from ..errors import ShapeError, op_error
from ..ops import dims as _dims
from ..ops.reduce import reduce as _reduce
from ..ops.scan import cumulative

_py_slice = builtins.slice  # this module defines Keras's ``slice``


def identity(x, name: str | None = None) -> Tensor:
    """A new tensor (a graph node of its own) with the same value as ``x``.

    Example:
        >>> import symgraph.backend as K
        >>> x = K.placeholder((2,))
        >>> K.identity(x) is x
        False
    """
    return ops.unary("identity", x, label=name)


def reverse(x, axes) -> Tensor:
    """Reverse the order of entries along one axis or a list of axes (a view).

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.reverse(K.constant([[1, 2], [3, 4]], dtype='int32'), axes=1))
        array([[2, 1],
               [4, 3]], dtype=int32)
    """
    x = ops.as_tensor(x)
    if x.shape is None:
        raise op_error(ShapeError, "reverse", [x], "the input's rank is unknown")
    try:
        axes = normalize_axes(axes, len(x.shape))
    except ValueError as exc:
        raise op_error(ShapeError, "reverse", [x], str(exc)) from None
    key = tuple(_py_slice(None, None, -1) if a in axes else _py_slice(None)
                for a in range(len(x.shape)))
    return ops.getitem(x, key)


def slice(x, start, size) -> Tensor:  # noqa: A001  (Keras's name)
    """The sub-tensor starting at index tuple ``start`` with extent ``size`` per axis
    (``-1`` in ``size``: to the end).

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.slice(K.constant([[1, 2, 3], [4, 5, 6]]), (0, 1), (2, 2)))
        array([[2., 3.],
               [5., 6.]], dtype=float32)
    """
    x = ops.as_tensor(x)
    if isinstance(start, Tensor) or isinstance(size, Tensor) or builtins.any(
            isinstance(v, Tensor) for v in (*start, *size)):
        return _slice_tensors(x, start, size)
    start, size = (tuple(_dims.shape_argument(list(v), _dims.Collector(context=[x]), "slice",
                                              allow_negative=True, what=what))
                   for v, what in ((start, "start"), (size, "size")))
    if x.shape is None or len(start) != len(x.shape) or len(size) != len(x.shape):
        raise op_error(ShapeError, "slice", [x], "start and size need one entry per axis")
    if any(s < 0 for s in start) or any(n < -1 for n in size):
        raise op_error(ShapeError, "slice", [x], f"bad start {start} or size {size}")
    for a, (s, n) in enumerate(zip(start, size)):
        d = x.shape[a]
        if d is not None and (s > d or (n >= 0 and s + n > d)):
            raise op_error(ShapeError, "slice", [x],
                           f"start {s} with size {n} is out of range for axis {a} of size {d}")
    # checked again when the function runs, for the dims known only then (TF's rule:
    # out of range is an error, never a shorter result)
    index = tuple(("slice", s, None if n == -1 else s + n, 1, "strict")
                  for s, n in zip(start, size))
    return ops.getitem_parsed(x, index, label="slice")


def _slice_tensors(x: Tensor, start, size) -> Tensor:
    """``K.slice`` with scalar int tensors in ``start`` (any values, a loop counter
    included) or ``size`` (computed from shapes): a gather of ``start + arange(size)``
    on each such axis; out-of-range positions are a run-time error."""
    if x.shape is None:
        raise op_error(ShapeError, "slice", [x], "the input's rank is unknown")
    ndim = len(x.shape)
    start = [start[i] for i in range(ndim)] if isinstance(start, Tensor) else list(start)
    size = [size[i] for i in range(ndim)] if isinstance(size, Tensor) else list(size)
    if len(start) != ndim or len(size) != ndim:
        raise op_error(ShapeError, "slice", [x], "start and size need one entry per axis")
    out = x
    for a, (s, n) in enumerate(zip(start, size)):
        if not isinstance(s, Tensor) and not isinstance(n, Tensor):
            n = int(n)
            key = [builtins.slice(None)] * ndim
            key[a] = builtins.slice(int(s), None if n == -1 else int(s) + n)
            out = ops.getitem(out, tuple(key))
            continue
        if not isinstance(n, Tensor) and int(n) == -1:
            n = ops.shape_of(x)[a] - s  # to the end: needs a start known from shapes
        _dims.shape_argument([n], _dims.Collector(context=[x]), "slice", what="slice size")
        positions = arange(n, dtype="int64") + ops.cast(ops.as_tensor(s), "int64")
        perm = (a,) + tuple(b for b in range(ndim) if b != a)
        back = tuple(perm.index(b) for b in range(ndim))
        out = ops.transpose(ops.gather(ops.transpose(out, perm), positions), back)
    return out


def arange(start, stop=None, step=1, dtype="int32") -> Tensor:
    """A 1-D tensor ``start, start+step, ...`` below ``stop`` (numpy.arange rules; int32
    unless ``dtype`` is given). The arguments may be scalar int tensors computed from
    shapes (``K.shape(x)[0]``): the length is then known at run time.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.arange(2, 8, 2))
        array([2, 4, 6], dtype=int32)
        >>> K.int_shape(K.arange(-3))
        (0,)
        >>> K.int_shape(K.arange(K.shape(K.placeholder((None, 2)))[0]))
        (None,)
    """
    if stop is None:
        start, stop = 0, start
    args = (start, stop, step)
    if not builtins.any(isinstance(a, Tensor) for a in args):
        if step == 0:
            raise ValueError("arange: step cannot be zero")
        return ops.constant(np.arange(start, stop, step), dtype)
    col = _dims.Collector(offset=1, context=[a for a in args if isinstance(a, Tensor)])
    first, last, stride = _dims.shape_argument(list(args), col, "arange", allow_negative=True,
                                                what="arange argument")
    if stride == 0:
        raise op_error(ValueError, "arange", col.context, "step cannot be zero")
    # ceil((stop - start) / step) elements, none when that is negative
    length = _dims.combine("max", _dims.combine("ceil", _dims.combine("-", last, first),
                                                stride), 0)
    ones = ops.broadcast_to(ops.constant(np.ones((), "int64"), "int64"), (length,),
                            col.sources)
    counts = cumulative("cumsum", ones, 0) - 1  # 0, 1, ..., length - 1
    start_t, step_t = (a if isinstance(a, Tensor) else ops.constant(np.int64(a), "int64")
                       for a in (start, step))
    values = ops.cast(start_t, "int64") + counts * ops.cast(step_t, "int64")
    return ops.cast(values, dtype)


def one_hot(indices, num_classes) -> Tensor:
    """One-hot encode integer ``indices`` into a new trailing axis of length
    ``num_classes`` (float32; out-of-range indices give all-zero rows). ``num_classes``
    is an int or a scalar int tensor computed from shapes.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.one_hot(K.constant([0, 2], dtype='int32'), 3))
        array([[1., 0., 0.],
               [0., 0., 1.]], dtype=float32)
    """
    indices = ops.as_tensor(indices)
    if indices.shape is None:
        raise op_error(ShapeError, "one_hot", [indices], "the input's rank is unknown")
    if isinstance(num_classes, Tensor):
        classes = arange(num_classes, dtype="int64")
    else:
        if isinstance(num_classes, bool) or not hasattr(num_classes, "__index__") or \
                int(num_classes) < 0:
            raise op_error(ShapeError, "one_hot", [indices],
                           f"num_classes must be an int >= 0, got {num_classes!r}")
        classes = ops.constant(np.arange(int(num_classes)), "int64")
    expanded = ops.reshape(indices, tuple(((0, a),) for a in range(len(indices.shape))) + (1,))
    return ops.cast(ops.binary("equal", expanded, classes), "float32")


def l2_normalize(x, axis=None) -> Tensor:
    """``x / sqrt(max(sum(x**2, axis), 1e-12))``; a zero row stays zero.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.l2_normalize(K.constant([[3.0, 4.0], [0.0, 0.0]]), axis=1))
        array([[0.6, 0.8],
               [0. , 0. ]], dtype=float32)
    """
    x = ops.as_tensor(x)
    squares = _reduce("sum", ops.unary("square", x), axis, True)
    return x / ops.unary("sqrt", ops.binary("maximum", squares, 1e-12))


def get_uid(prefix: str = "") -> int:
    """Bump and return a counter kept per prefix (1, 2, ...) in the current graph.

    Example:
        >>> import symgraph.backend as K
        >>> K.reset_uids()
        >>> K.get_uid('dense'), K.get_uid('dense'), K.get_uid('conv')
        (1, 2, 1)
    """
    uids = get_default_graph().uids
    uids[prefix] = uids.get(prefix, 0) + 1
    return uids[prefix]


def reset_uids() -> None:
    """Reset every :func:`get_uid` counter.

    Example:
        >>> import symgraph.backend as K
        >>> K.get_uid("dense") >= 1
        True
        >>> K.reset_uids()
        >>> K.get_uid("dense")
        1
    """
    get_default_graph().uids.clear()


def get_variable_shape(x) -> tuple:
    """Static shape of a variable (same as ``int_shape``).

    Example:
        >>> import symgraph.backend as K
        >>> K.get_variable_shape(K.zeros((2, 3)))
        (2, 3)
    """
    return x.shape


def is_keras_tensor(x) -> bool:
    """Whether ``x`` came out of a Keras layer (it carries ``_keras_history``);
    ``ValueError`` for anything that is not a tensor.

    Example:
        >>> import symgraph.backend as K
        >>> K.is_keras_tensor(K.placeholder((2,)))
        False
    """
    if not isinstance(x, Tensor):
        raise ValueError(f"Unexpectedly found an instance of type {type(x)}; expected a "
                         "symbolic tensor")
    return hasattr(x, "_keras_history")
