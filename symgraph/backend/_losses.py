"""Losses with TF 2.2's semantics: ``categorical_crossentropy``,
``sparse_categorical_crossentropy``, ``binary_crossentropy`` and ``in_top_k``.

Probabilities are clipped to ``[epsilon, 1 - epsilon]`` before the log; logits go
through a stable log-softmax (``x - max - log(sum(exp(x - max)))``) or the stable
sigmoid form ``max(x, 0) - x*t + log1p(exp(-|x|))``. As TF does, when ``output`` is
literally the result of ``K.softmax`` (``K.sigmoid`` for the binary loss) and
``from_logits=False``, the logits are read back and the stable path is used.
"""

from __future__ import annotations

from .. import config, ops
from ..core import dtypes
from ..core.shapes import normalize_axis
from ..core.tensor import Tensor
from ..errors import ShapeError, op_error
from ..ops.indexing import in_top_k as _in_top_k
from ..ops.indexing import pick
from ..ops.reduce import reduce as _reduce


def _log_softmax(x: Tensor, axis: int) -> Tensor:
    shifted = x - ops.unary("stop_gradient", _reduce("max", x, axis, True))
    return shifted - ops.unary("log", _reduce("sum", ops.unary("exp", shifted), axis, True))


def _float_output(output, label: str) -> Tensor:
    output = ops.as_tensor(output)
    if not dtypes.is_float(output.dtype):
        output = ops.cast(output, config.floatx())
    if output.shape is None:
        raise op_error(ShapeError, label, [output], "the output's rank must be known")
    return output


def _axis(output: Tensor, axis: int, label: str) -> int:
    try:
        return normalize_axis(axis, len(output.shape))
    except ValueError as exc:
        raise op_error(ShapeError, label, [output], str(exc)) from None


def _softmax_logits(output: Tensor, axis: int):
    source = getattr(output, "_softmax_of", None)
    if source is not None and normalize_axis(source[1], len(output.shape)) == axis:
        return source[0]
    return None


def _clip_eps(p: Tensor) -> Tensor:
    eps = config.epsilon()
    return ops.binary("minimum", ops.binary("maximum", p, eps), 1.0 - eps)


def categorical_crossentropy(target, output, from_logits: bool = False,
                             axis: int = -1) -> Tensor:
    """Categorical crossentropy between a target and an output tensor.

    Args:
        target: one-hot (or soft) targets, the shape of ``output``.
        output: class probabilities (renormalized to sum 1 along ``axis``, then
            clipped to ``[epsilon, 1 - epsilon]``), or logits with ``from_logits``.
        from_logits: whether ``output`` holds logits.
        axis: the class axis (``1`` for channels-first layouts).

    Returns:
        The loss, with ``output``'s shape minus the class axis.

    Example:
        >>> import symgraph.backend as K
        >>> t = K.constant([[0., 1., 0.]])
        >>> p = K.constant([[0.1, 0.8, 0.1]])
        >>> K.eval(K.categorical_crossentropy(t, p))
        array([0.22314353], dtype=float32)
    """
    output = _float_output(output, "categorical_crossentropy")
    target = ops.as_tensor(target, like=output)
    axis = _axis(output, axis, "categorical_crossentropy")
    if target.shape is not None and len(target.shape) != len(output.shape):
        raise op_error(ShapeError, "categorical_crossentropy", [target, output],
                       "target and output must have the same rank")
    if not from_logits:
        logits = _softmax_logits(output, axis)
        if logits is None:
            p = output / _reduce("sum", output, axis, True)
            return -_reduce("sum", target * ops.unary("log", _clip_eps(p)), axis, False)
        output = logits
    return -_reduce("sum", target * _log_softmax(output, axis), axis, False)


def sparse_categorical_crossentropy(target, output, from_logits: bool = False,
                                    axis: int = -1) -> Tensor:
    """Categorical crossentropy with integer targets.

    Args:
        target: integer class indices (floats are cast), shaped like ``output``
            without the class axis; any other shape (such as ``(N, 1)``) is
            flattened against ``output`` reshaped to ``(-1, classes)``.
        output: probabilities (clipped, then renormalized through a log-softmax as
            TF does) or logits with ``from_logits``.
        from_logits: whether ``output`` holds logits.
        axis: the class axis of ``output``.

    Returns:
        The loss, with ``output``'s shape minus the class axis.

    Raises:
        IndexError: at run time, for a class index outside ``[0, classes)``.

    Example:
        >>> import symgraph.backend as K
        >>> p = K.constant([[0.1, 0.8, 0.1], [0.5, 0.25, 0.25]])
        >>> K.eval(K.sparse_categorical_crossentropy(K.constant([1, 0], dtype='int32'), p))
        array([0.22314355, 0.6931472 ], dtype=float32)
    """
    output = _float_output(output, "sparse_categorical_crossentropy")
    target = ops.as_tensor(target)
    rank = len(output.shape)
    axis = _axis(output, axis, "sparse_categorical_crossentropy")
    if not from_logits:
        logits = _softmax_logits(output, axis)
        output = logits if logits is not None else ops.unary("log", _clip_eps(output))
    if axis != rank - 1:
        perm = [a for a in range(rank) if a != axis] + [axis]
        output = ops.transpose(output, perm)
    if not dtypes.is_int(target.dtype):
        target = ops.cast(target, "int64")
    log_p = _log_softmax(output, rank - 1)
    if target.shape is not None and len(target.shape) == rank - 1:
        return -pick(log_p, target)
    # TF's rule: flatten the labels against (-1, classes), then restore the leading dims
    flat_p = ops.reshape(log_p, (-1, ((0, rank - 1),)))
    flat_t = ops.reshape(target, (-1,))
    loss = -pick(flat_p, flat_t)
    if rank >= 3:
        return ops.reshape(loss, tuple(((1, a),) for a in range(rank - 1)),
                           shape_sources=(log_p,))
    return loss


def binary_crossentropy(target, output, from_logits: bool = False) -> Tensor:
    """Elementwise binary crossentropy (no reduction).

    ``-(t * log(p + eps) + (1 - t) * log(1 - p + eps))`` with ``p`` clipped to
    ``[eps, 1 - eps]``; with ``from_logits`` the stable
    ``max(x, 0) - x * t + log(1 + exp(-|x|))``.

    Args:
        target: targets in [0, 1], broadcastable to ``output``.
        output: probabilities, or logits with ``from_logits``.
        from_logits: whether ``output`` holds logits.

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.binary_crossentropy(K.constant([1., 0.]), K.constant([0.9, 0.2])))
        array([0.10536041, 0.22314338], dtype=float32)
    """
    output = _float_output(output, "binary_crossentropy")
    target = ops.as_tensor(target, like=output)
    if not from_logits and output.op.name == "sigmoid":
        output, from_logits = output.inputs[0], True
    if from_logits:
        x = output
        return (ops.binary("maximum", x, 0) - x * target +
                ops.unary("log1p", ops.unary("exp", -ops.unary("abs", x))))
    eps = config.epsilon()
    p = _clip_eps(output)
    bce = target * ops.unary("log", p + eps) + (1 - target) * ops.unary("log", 1 - p + eps)
    return -bce


def in_top_k(predictions, targets, k: int) -> Tensor:
    """Whether each target class is among the ``k`` largest predictions of its row.

    Predictions tied with the k-th largest all count as in the top k (TF's rule); a
    row with a non-finite prediction or an out-of-range target gives False.

    Args:
        predictions: float tensor ``(batch, classes)``.
        targets: int tensor ``(batch,)`` of class indices.
        k: how many top classes count.

    Returns:
        A bool tensor ``(batch,)``.

    Example:
        >>> import symgraph.backend as K
        >>> p = K.constant([[0.1, 0.7, 0.2], [0.5, 0.3, 0.2]])
        >>> K.eval(K.in_top_k(p, K.constant([2, 1], dtype='int32'), 2))
        array([ True,  True])
    """
    return _in_top_k(predictions, targets, k)
