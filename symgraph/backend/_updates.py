"""Variable updates, ordering and graph-level utilities: ``update``, ``update_add``,
``update_sub``, ``moving_average_update``, ``control_dependencies``,
``stop_gradient``, ``print_tensor``.

Updates are lazy graph nodes: they take effect when evaluated (``K.eval(op)``), when
passed in ``K.function(..., updates=[...])``, or when any evaluated output depends on
them — always after the call's outputs are computed, from the values before it.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from .. import ops
from ..core import graph as _graph
from ..core.tensor import Tensor, Variable
from ..ops import state


def update(x: Variable, new_x) -> Tensor:
    """An op assigning ``new_x`` to the variable ``x``.

    Args:
        x: a variable.
        new_x: a tensor or value of ``x``'s shape (cast to ``x``'s dtype).

    Returns:
        The update op: evaluating it assigns ``x`` once and returns the new value.

    Example:
        >>> import symgraph.backend as K
        >>> v = K.variable([1.0, 2.0])
        >>> op = K.update(v, [5.0, 6.0])
        >>> K.eval(op)
        array([5., 6.], dtype=float32)
        >>> K.get_value(v)
        array([5., 6.], dtype=float32)
    """
    return state.assign(x, ops.as_tensor(new_x, like=x))


def update_add(x: Variable, increment) -> Tensor:
    """An op adding ``increment`` to the variable ``x``.

    Example:
        >>> import symgraph.backend as K
        >>> v = K.variable([1.0, 2.0])
        >>> step = K.function([], [], updates=[K.update_add(v, 1.0)])
        >>> _ = step([]); _ = step([])
        >>> K.get_value(v)
        array([3., 4.], dtype=float32)
    """
    return state.assign(x, x + ops.as_tensor(increment, like=x))


def update_sub(x: Variable, decrement) -> Tensor:
    """An op subtracting ``decrement`` from the variable ``x``.

    Example:
        >>> import symgraph.backend as K
        >>> v = K.variable([1.0, 2.0])
        >>> K.eval(K.update_sub(v, [1.0, 1.0]))
        array([0., 1.], dtype=float32)
    """
    return state.assign(x, x - ops.as_tensor(decrement, like=x))


def moving_average_update(x: Variable, value, momentum) -> Tensor:
    """An op setting ``x`` to ``x * momentum + value * (1 - momentum)`` (no
    zero-debiasing, as TF 2).

    Args:
        x: a variable.
        value: a tensor of ``x``'s shape.
        momentum: a float (or scalar tensor).

    Example:
        >>> import symgraph.backend as K
        >>> m = K.variable([0.0, 10.0])
        >>> K.eval(K.moving_average_update(m, K.constant([10.0, 10.0]), 0.5))
        array([ 5., 10.], dtype=float32)
    """
    value = ops.as_tensor(value, like=x)
    momentum = ops.as_tensor(momentum, like=x)
    return state.assign(x, x * momentum + value * (1 - momentum))


@contextlib.contextmanager
def control_dependencies(control_inputs) -> Iterator[None]:
    """Context manager: ops created inside are computed after ``control_inputs``.

    A node created inside that reads a variable updated by one of the control
    inputs reads the updated value (as TF orders the read after the assignment).

    Args:
        control_inputs: a list of tensors or update ops (or None).

    Example:
        >>> import symgraph.backend as K
        >>> total = K.variable(0.0)
        >>> add = K.update_add(total, 2.0)
        >>> with K.control_dependencies([add]):
        ...     result = total * 10
        >>> K.eval(result)
        array(20., dtype=float32)
        >>> K.get_value(total)
        array(2., dtype=float32)
    """
    with _graph.get_default_graph().control_dependencies(control_inputs):
        yield


def stop_gradient(variables):
    """The same values, with no gradient flowing through.

    Args:
        variables: a tensor, or a list/tuple of tensors (a list comes back).

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.stop_gradient(K.constant([1.0, 2.0])))
        array([1., 2.], dtype=float32)
    """
    if isinstance(variables, (list, tuple)):
        return [stop_gradient(v) for v in variables]
    return ops.unary("stop_gradient", ops.as_tensor(variables))


def print_tensor(x, message: str = "") -> Tensor:
    """``x``, printing ``message`` and the value each time it is computed.

    Args:
        x: a tensor.
        message: text printed before the value.

    Example:
        >>> import symgraph.backend as K
        >>> y = K.print_tensor(K.constant([1.0, 2.0]), message="y = ")
        >>> _ = K.eval(y)
        y = [1. 2.]
    """
    return state.print_tensor(ops.as_tensor(x), message)
