"""Reductions over axes (``axis`` is None, an int, a list or a tuple; negatives ok)."""

from __future__ import annotations

from .. import config, ops
from ..core import dtypes
from ..core.tensor import Tensor
from ..ops.reduce import reduce as _reduce


def _reduction(kind: str, doc: str):
    def fn(x, axis=None, keepdims: bool = False) -> Tensor:
        return _reduce(kind, x, axis, keepdims)

    fn.__name__ = kind
    fn.__doc__ = doc
    return fn


sum = _reduction("sum", """Sum over ``axis`` (None: every axis); keeps the dtype.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.sum(K.constant([[1.0, 2.0], [3.0, 4.0]]), axis=1))
        array([3., 7.], dtype=float32)
    """)  # noqa: A001
prod = _reduction("prod", """Product over ``axis``; an empty product is 1.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.prod(K.constant([2.0, 3.0])))
        array(6., dtype=float32)
    """)
max = _reduction("max", """Maximum over ``axis`` (NaN propagates; empty gives -inf).

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.max(K.constant([[1.0, 5.0], [7.0, 2.0]]), axis=0))
        array([7., 5.], dtype=float32)
    """)  # noqa: A001
min = _reduction("min", """Minimum over ``axis`` (NaN propagates; empty gives +inf).

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.min(K.constant([[1.0, 5.0], [7.0, 2.0]]), axis=-1, keepdims=True))
        array([[1.],
               [2.]], dtype=float32)
    """)  # noqa: A001


def mean(x, axis=None, keepdims: bool = False) -> Tensor:
    """Mean over ``axis``. Bool input is cast to floatx first; int input stays int with
    the result truncated toward zero (TF rule); the mean of nothing is NaN.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.mean(K.constant([[1, 2], [3, 5]], dtype='int32'), axis=1))
        array([1, 4], dtype=int32)
    """
    return _reduce("mean", x, axis, keepdims)


def any(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Logical OR over ``axis`` after casting to bool (nonzero is True).

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.any(K.constant([0.0, 2.0])))
        array(True)
    """
    return _reduce("any", x, axis, keepdims)


def all(x, axis=None, keepdims: bool = False) -> Tensor:  # noqa: A001
    """Logical AND over ``axis`` after casting to bool.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.all(K.constant([0.0, 2.0])))
        array(False)
    """
    return _reduce("all", x, axis, keepdims)


def argmax(x, axis: int = -1) -> Tensor:
    """Index (int64) of the largest entry along ``axis``; the first index wins ties.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.argmax(K.constant([[1.0, 3.0, 3.0]])))
        array([1])
    """
    return _reduce("argmax", x, axis, False)


def argmin(x, axis: int = -1) -> Tensor:
    """Index (int64) of the smallest entry along ``axis``; the first index wins ties.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.argmin(K.constant([[4.0, 1.0, 1.0]])))
        array([1])
    """
    return _reduce("argmin", x, axis, False)


def _float_input(x) -> Tensor:
    x = ops.as_tensor(x)
    return ops.cast(x, config.floatx()) if not dtypes.is_float(x.dtype) else x


def var(x, axis=None, keepdims: bool = False) -> Tensor:
    """Population variance (ddof=0) over ``axis``; bool/int input cast to floatx.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.var(K.constant([1.0, 2.0, 3.0, 4.0])))
        array(1.25, dtype=float32)
    """
    x = _float_input(x)
    centered = x - _reduce("mean", x, axis, True)
    return _reduce("mean", ops.unary("square", centered), axis, keepdims)


def std(x, axis=None, keepdims: bool = False) -> Tensor:
    """Population standard deviation (ddof=0) over ``axis``.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.std(K.constant([1.0, 3.0])))
        array(1., dtype=float32)
    """
    return ops.unary("sqrt", var(x, axis, keepdims))


def logsumexp(x, axis=None, keepdims: bool = False) -> Tensor:
    """``log(sum(exp(x)))`` over ``axis``, computed stably (the max is subtracted first;
    infinite maxima are handled as TF does).

    Example:
        >>> import symgraph.backend as K
        >>> float(K.eval(K.logsumexp(K.constant([1000.0, 1000.0]))))
        1000.6931...
    """
    x = _float_input(x)
    raw_max = _reduce("max", x, axis, True)
    shift = ops.where(ops.unary("isfinite", raw_max), raw_max, ops.fill_like(raw_max, 0))
    total = _reduce("sum", ops.unary("exp", x - shift), axis, True)
    out = ops.unary("log", total) + shift
    if not keepdims:
        from ..core.shapes import normalize_axes

        axes = normalize_axes(axis, len(x.shape))
        out = _squeeze_axes(out, axes)
    return out


def _squeeze_axes(x: Tensor, axes) -> Tensor:
    target = tuple(((0, i),) for i in range(len(x.shape)) if i not in axes)
    return ops.reshape(x, target)
