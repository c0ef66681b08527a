"""Session-level names: graph reset, scopes, evaluation, variable values, introspection."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

from ..config import (  # noqa: F401  (re-exported)
    epsilon,
    floatx,
    image_data_format,
    set_epsilon,
    set_floatx,
    set_image_data_format,
)
from ..core import graph as _graph
from ..core.shapes import num_elements
from ..core.tensor import Placeholder, Tensor, Variable
from ..runtime import function as _function
from ..runtime.evaluate import evaluate


def backend() -> str:
    """Return the name of the backend: ``'symgraph'``.

    Example:
        >>> import symgraph.backend as K
        >>> K.backend()
        'symgraph'
    """
    return "symgraph"


def clear_session() -> None:
    """Start a new default graph and reset uids and compiled plans.

    Tensors created before stay usable only with each other (their old graph);
    the on-disk kernel cache is kept.

    Example:
        >>> import symgraph.backend as K
        >>> K.clear_session()
    """
    from ._compat import reset

    _graph.reset_default_graph()
    reset()


def get_graph() -> _graph.Graph:
    """Return the current default graph (the one new nodes are added to).

    Example:
        >>> import symgraph.backend as K
        >>> x = K.placeholder((None, 2))
        >>> x.graph is K.get_graph()
        True
    """
    return _graph.get_default_graph()


@contextlib.contextmanager
def name_scope(name: str) -> Iterator[str]:
    """Context manager that prefixes the names of nodes created inside it.

    Example:
        >>> import symgraph.backend as K
        >>> with K.name_scope('block1'):
        ...     x = K.placeholder((None, 3), name='x')
        >>> x.name
        'block1/x'
    """
    with _graph.get_default_graph().name_scope(name) as scope:
        yield scope


def eval(x) -> np.ndarray:  # noqa: A001  (Keras's name)
    """Evaluate a tensor and return its value as a NumPy array.

    Only what ``x`` needs is computed; tensors whose shape alone is needed are not run.

    Args:
        x: a tensor that needs no placeholder feeds.

    Returns:
        A NumPy array of ``x``'s dtype and shape.

    Example:
        >>> import numpy as np
        >>> import symgraph.backend as K
        >>> K.eval(K.zeros_like(K.variable(np.ones((2, 3)))))
        array([[0., 0., 0.],
               [0., 0., 0.]], dtype=float32)
    """
    return evaluate(x)


def function(inputs, outputs, updates=None, name: str | None = None, **kwargs):
    """Compile placeholders -> outputs into a callable taking a list of arrays.

    Args:
        inputs: list of placeholders, fed in this order.
        outputs: list of tensors (or a single tensor) to compute.
        updates: ``(variable, new_value)`` pairs applied after each call.
        name: optional label.

    Returns:
        A callable ``f(list_of_arrays) -> list_of_arrays``. It is compiled once and is
        polymorphic in ``None`` dims: a new batch size does not recompile.

    Example:
        >>> import numpy as np
        >>> import symgraph.backend as K
        >>> x = K.placeholder((None, 2))
        >>> f = K.function([x], [K.sum(x, axis=1)])
        >>> f([np.ones((3, 2))])[0]
        array([2., 2., 2.], dtype=float32)
    """
    return _function.function(inputs, outputs, updates=updates, name=name, **kwargs)


def get_value(x) -> np.ndarray:
    """Return the value of a variable (or any feed-free tensor) as a NumPy array.

    Example:
        >>> import symgraph.backend as K
        >>> K.get_value(K.variable([1.0, 2.0]))
        array([1., 2.], dtype=float32)
    """
    return evaluate(x)


def set_value(x: Variable, value) -> None:
    """Assign a NumPy value to a variable, cast to its dtype (the shape must match).

    Example:
        >>> import symgraph.backend as K
        >>> v = K.variable([1.0, 2.0])
        >>> K.set_value(v, [3, 4])
        >>> K.get_value(v)
        array([3., 4.], dtype=float32)
    """
    if not isinstance(x, Variable):
        raise TypeError(f"set_value needs a variable, got {type(x).__name__}")
    x.assign(value)


def batch_get_value(tensors) -> list:
    """Return the values of a list of tensors as a list of NumPy arrays.

    Example:
        >>> import symgraph.backend as K
        >>> a, b = K.variable([1.0, 2.0]), K.variable(3.0)
        >>> K.batch_get_value([a, b * 2])
        [array([1., 2.], dtype=float32), array(6., dtype=float32)]
    """
    return [evaluate(t) for t in tensors]


def batch_set_value(tuples) -> None:
    """Assign values to several variables from ``(variable, value)`` pairs.

    Example:
        >>> import symgraph.backend as K
        >>> a, b = K.variable([1.0, 2.0]), K.variable(3.0)
        >>> K.batch_set_value([(a, [5.0, 6.0]), (b, 0.5)])
        >>> K.get_value(a), K.get_value(b)
        (array([5., 6.], dtype=float32), array(0.5, dtype=float32))
    """
    for var, value in tuples:
        set_value(var, value)


def int_shape(x) -> tuple | None:
    """Return the static shape of a tensor as a tuple of ints with ``None`` for
    unknown dims (``None`` when the rank is unknown).

    Example:
        >>> import symgraph.backend as K
        >>> K.int_shape(K.placeholder((None, 3, 4)))
        (None, 3, 4)
    """
    if isinstance(x, Tensor):
        return x.shape
    return tuple(np.shape(x))


def ndim(x) -> int | None:
    """Return the rank of a tensor as an int (``None`` when unknown).

    Example:
        >>> import symgraph.backend as K
        >>> K.ndim(K.placeholder(ndim=3))
        3
    """
    shape = int_shape(x)
    return None if shape is None else len(shape)


def dtype(x) -> str:
    """Return the dtype of a tensor as a string.

    Example:
        >>> import symgraph.backend as K
        >>> K.dtype(K.placeholder((2,), dtype='int32'))
        'int32'
    """
    if isinstance(x, Tensor):
        return x.dtype
    return np.asarray(x).dtype.name


def count_params(x) -> int:
    """Return the number of elements of a tensor, from its static shape.

    Example:
        >>> import symgraph.backend as K
        >>> K.count_params(K.zeros((2, 3)))
        6
    """
    n = num_elements(int_shape(x))
    if n is None:
        raise ValueError(f"count_params needs a fully known shape, got {int_shape(x)}")
    return n


def is_tensor(x) -> bool:
    """Whether ``x`` is a symgraph tensor (variables included; arrays are not).

    Example:
        >>> import numpy as np, symgraph.backend as K
        >>> K.is_tensor(K.variable(1.0)), K.is_tensor(np.ones(2))
        (True, False)
    """
    return isinstance(x, Tensor)


def is_placeholder(x) -> bool:
    """Whether ``x`` is a placeholder.

    Example:
        >>> import symgraph.backend as K
        >>> K.is_placeholder(K.placeholder((None, 2))), K.is_placeholder(K.variable(1.0))
        (True, False)
    """
    return isinstance(x, Placeholder)


def is_variable(x) -> bool:
    """Whether ``x`` is a variable.

    Example:
        >>> import symgraph.backend as K
        >>> v = K.variable([1.0, 2.0])
        >>> K.is_variable(v), K.is_variable(v * 2)
        (True, False)
    """
    return isinstance(x, Variable)
