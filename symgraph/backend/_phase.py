"""The learning phase and branch choice: ``learning_phase``, ``set_learning_phase``,
``learning_phase_scope``, ``switch``, ``in_train_phase``, ``in_test_phase``.

The learning phase is a scalar bool placeholder with default ``False`` (TF's
``placeholder_with_default``): a function that does not take it as an input sees 0;
one that lists it in its inputs is fed 0/1 per call. ``set_learning_phase`` fixes it
to a Python int instead, and then ``in_train_phase`` picks its branch while the graph
is built.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np

from .. import ops
from ..core import graph as _graph
from ..core.tensor import Tensor
from ..errors import ShapeError, op_error


def learning_phase():
    """The learning phase flag: 0 = test, 1 = train.

    Returns:
        The Python int fixed by :func:`set_learning_phase`, or else a scalar bool
        placeholder that defaults to 0 and can be fed (list it in ``K.function``'s
        inputs and pass ``0`` or ``1``).

    Example:
        >>> import symgraph.backend as K
        >>> x = K.constant([1.0, 2.0])
        >>> y = K.in_train_phase(x * 10, x)
        >>> K.function([K.learning_phase()], [y])([1])[0]
        array([10., 20.], dtype=float32)
        >>> K.eval(y)  # not fed: the default, test phase
        array([1., 2.], dtype=float32)
    """
    graph = _graph.get_default_graph()
    if graph.learning_phase_value is not None:
        return graph.learning_phase_value
    if graph.learning_phase_tensor is None:
        scopes, graph._scopes = graph._scopes, []  # one graph-wide flag: no name scope
        try:
            ph = ops.placeholder((), "bool", name="keras_learning_phase")
        finally:
            graph._scopes = scopes
        ph.default = np.array(False)
        graph.learning_phase_tensor = ph
    return graph.learning_phase_tensor


def _check_phase(value) -> int:
    if isinstance(value, (bool, np.bool_)) or value in (0, 1):
        return int(value)
    raise ValueError(f"Expected learning phase to be 0 or 1, got {value!r}")


def set_learning_phase(value) -> None:
    """Fix the learning phase to the Python int 0 (test) or 1 (train).

    Args:
        value: 0 or 1.

    Raises:
        ValueError: for any other value.

    Example:
        >>> import symgraph.backend as K
        >>> K.set_learning_phase(1)
        >>> K.learning_phase()
        1
    """
    _graph.get_default_graph().learning_phase_value = _check_phase(value)


@contextlib.contextmanager
def learning_phase_scope(value) -> Iterator[None]:
    """Context manager fixing the learning phase to ``value`` inside the block.

    Args:
        value: 0 or 1.

    Example:
        >>> import symgraph.backend as K
        >>> with K.learning_phase_scope(1):
        ...     K.learning_phase()
        1
        >>> K.is_placeholder(K.learning_phase())
        True
    """
    value = _check_phase(value)
    graph = _graph.get_default_graph()
    previous = graph.learning_phase_value
    graph.learning_phase_value = value
    try:
        yield
    finally:
        graph.learning_phase_value = previous


def switch(condition, then_expression, else_expression) -> Tensor:
    """Choose between two expressions.

    A Python bool or a rank-0 ``condition`` picks a whole branch (callables are
    called; with a Python condition only the taken one). A tensor condition of
    higher rank selects entrywise: a rank-1 condition broadcasts NumPy-style, one
    of rank > 1 lower than the expressions' is extended with trailing size-1 axes.
    Non-bool conditions are cast to bool.

    Args:
        condition: bool tensor (or Python bool).
        then_expression: tensor, or a callable returning one.
        else_expression: tensor, or a callable returning one.

    Returns:
        The selected tensor. A rank-0 bool placeholder fed to a compiled function
        (``K.learning_phase()``) picks one branch per call, as TF's ``tf.cond``
        does: the function runs a plan for the fed value that computes only that
        branch, and gradients through the other are zero
        (``Function.branch_for``). Other tensor conditions compute both branches
        (fused into one loop where possible) and select.

    Example:
        >>> import symgraph.backend as K
        >>> c = K.constant([True, False, True], dtype='bool')
        >>> K.eval(K.switch(c, K.constant([1., 2., 3.]), K.constant([-1., -2., -3.])))
        array([ 1., -2.,  3.], dtype=float32)
    """
    if not isinstance(condition, Tensor):
        branch = then_expression if bool(condition) else else_expression
        return ops.as_tensor(branch() if callable(branch) else branch)
    then_t = ops.as_tensor(then_expression() if callable(then_expression) else then_expression)
    else_t = ops.as_tensor(else_expression() if callable(else_expression) else else_expression,
                           like=then_t)
    cond = condition if condition.dtype == "bool" else ops.cast(condition, "bool")
    c_rank, e_rank = cond.ndim, then_t.ndim
    if c_rank is None or e_rank is None:
        raise op_error(ShapeError, "switch", [cond, then_t, else_t], "ranks must be known")
    if c_rank > e_rank:
        raise op_error(ShapeError, "switch", [cond, then_t, else_t],
                       f"the condition's rank ({c_rank}) exceeds the expressions' ({e_rank})")
    if c_rank > 1 and c_rank < e_rank:
        cond = ops.reshape(cond, tuple(((0, i),) for i in range(c_rank)) +
                           (1,) * (e_rank - c_rank))
    return ops.where(cond, then_t, else_t)


def _mark(x, training) -> object:
    if isinstance(x, Tensor) and training is _graph.get_default_graph().learning_phase_tensor:
        x._uses_learning_phase = True  # what Keras 2 looks for
    return x


def in_train_phase(x, alt, training=None):
    """``x`` in the training phase, ``alt`` otherwise.

    Args:
        x: what to return in training (tensor or callable returning one).
        alt: what to return otherwise (tensor or callable returning one).
        training: Python 0/1/bool (picks now, calling only that callable), a scalar
            bool tensor (a :func:`switch`), or None for :func:`learning_phase`.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.in_train_phase(K.constant(1.0), K.constant(0.0), training=1))
        array(1., dtype=float32)
    """
    if training is None:
        training = learning_phase()
    if not isinstance(training, Tensor):
        if _check_phase(training):
            return x() if callable(x) else x
        return alt() if callable(alt) else alt
    return _mark(switch(training, x, alt), training)


def in_test_phase(x, alt, training=None):
    """``x`` in the test phase, ``alt`` otherwise (:func:`in_train_phase` swapped).

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.in_test_phase(K.constant(1.0), K.constant(0.0), training=0))
        array(1., dtype=float32)
    """
    return in_train_phase(alt, x, training=training)
