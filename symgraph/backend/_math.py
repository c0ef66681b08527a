"""Elementwise math and comparisons (all fused into numba loops when compiled)."""

from __future__ import annotations

from .. import ops
from ..core.tensor import Tensor


def _unary(name: str, doc_example: str):
    def fn(x) -> Tensor:
        return ops.unary(name, x)

    fn.__name__ = name
    fn.__doc__ = doc_example
    return fn


abs = _unary("abs", """Elementwise absolute value; the dtype is kept (ints stay ints).

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.abs(K.constant([-1.0, 2.0])))
        array([1., 2.], dtype=float32)
    """)  # noqa: A001
sign = _unary("sign", """Elementwise -1, 0 or +1 by sign (NaN stays NaN); dtype kept.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.sign(K.constant([-3.0, 0.0, 2.0])))
        array([-1.,  0.,  1.], dtype=float32)
    """)
square = _unary("square", """Elementwise ``x * x``.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.square(K.constant([3.0])))
        array([9.], dtype=float32)
    """)
exp = _unary("exp", """Elementwise e**x (``exp(100)`` is inf in float32).

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.exp(K.constant([0.0])))
        array([1.], dtype=float32)
    """)
log = _unary("log", """Elementwise natural log: ``log(0) = -inf``, negatives give NaN.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.log(K.constant([1.0])))
        array([0.], dtype=float32)
    """)
sin = _unary("sin", """Elementwise sine.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.sin(K.constant([0.0])))
        array([0.], dtype=float32)
    """)
cos = _unary("cos", """Elementwise cosine.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.cos(K.constant([0.0])))
        array([1.], dtype=float32)
    """)
round = _unary("round", """Round to the nearest integer, halves to even.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.round(K.constant([-2.5, 0.5, 1.5])))
        array([-2.,  0.,  2.], dtype=float32)
    """)  # noqa: A001
tanh = _unary("tanh", """Elementwise hyperbolic tangent.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.tanh(K.constant([0.0])))
        array([0.], dtype=float32)
    """)
sigmoid = _unary("sigmoid", """Elementwise ``1 / (1 + exp(-x))``.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.sigmoid(K.constant([0.0])))
        array([0.5], dtype=float32)
    """)
softplus = _unary("softplus", """Elementwise ``log(1 + exp(x))``, computed without overflow.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.softplus(K.constant([1000.0])))
        array([1000.], dtype=float32)
    """)
softsign = _unary("softsign", """Elementwise ``x / (1 + |x|)``.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.softsign(K.constant([1.0])))
        array([0.5], dtype=float32)
    """)


def sqrt(x) -> Tensor:
    """Elementwise square root after clipping negatives to 0 (``sqrt(-4) = 0``, NaN stays NaN).

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.sqrt(K.constant([-4.0, 4.0])))
        array([0., 2.], dtype=float32)
    """
    x = ops.as_tensor(x)
    return ops.unary("sqrt", ops.binary("maximum", x, 0))


def pow(x, a) -> Tensor:  # noqa: A001
    """Elementwise ``x ** a``; ``a`` is a number or a tensor.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.pow(K.constant([2.0, 3.0]), 2))
        array([4., 9.], dtype=float32)
    """
    return ops.binary("power", x, a)


def maximum(x, y) -> Tensor:
    """Elementwise larger of x and y with broadcasting (NaN propagates).

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.maximum(K.constant([1.0, 5.0]), 3.0))
        array([3., 5.], dtype=float32)
    """
    return ops.binary("maximum", x, y)


def minimum(x, y) -> Tensor:
    """Elementwise smaller of x and y with broadcasting (NaN propagates).

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.minimum(K.constant([1.0, 5.0]), 3.0))
        array([1., 3.], dtype=float32)
    """
    return ops.binary("minimum", x, y)


def clip(x, min_value, max_value) -> Tensor:
    """Clamp entries into ``[min_value, max_value]``. A ``None`` bound is unbounded;
    numeric ``max_value < min_value`` means ``max_value := min_value`` (Keras rule).

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.clip(K.constant([-2.0, 0.5, 3.0]), 0.0, 1.0))
        array([0. , 0.5, 1. ], dtype=float32)
    """
    x = ops.as_tensor(x)
    if isinstance(min_value, (int, float)) and isinstance(max_value, (int, float)) \
            and max_value < min_value:
        max_value = min_value
    if min_value is not None:
        x = ops.binary("maximum", x, min_value)
    if max_value is not None:
        x = ops.binary("minimum", x, max_value)
    return x


def _comparison(name: str, symbol: str):
    def fn(x, y) -> Tensor:
        return ops.binary(name, x, y)

    fn.__name__ = name
    fn.__doc__ = f"""Elementwise ``x {symbol} y`` with broadcasting; returns a bool tensor.

    Example:
        >>> import symgraph.backend as K
        >>> K.dtype(K.{name}(K.constant([1.0]), K.constant([2.0])))
        'bool'
    """
    return fn


equal = _comparison("equal", "==")
not_equal = _comparison("not_equal", "!=")
greater = _comparison("greater", ">")
greater_equal = _comparison("greater_equal", ">=")
less = _comparison("less", "<")
less_equal = _comparison("less_equal", "<=")
