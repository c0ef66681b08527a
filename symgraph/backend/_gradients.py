"""``K.gradients``: symbolic reverse-mode gradients (see ``symgraph.autodiff``)."""

from __future__ import annotations

from .. import autodiff, ops


def gradients(loss, variables) -> list:
    """Symbolic gradients of ``loss`` with respect to ``variables``.

    The gradients are graph nodes like any other: inspect them, compile them with
    ``K.function``, differentiate them again.

    Args:
        loss: a float tensor; a non-scalar loss is summed first.
        variables: a tensor or a list of tensors (variables, placeholders or any
            intermediate node).

    Returns:
        A list with one gradient per entry of ``variables`` (same shape), or
        ``None`` where ``loss`` does not depend on it.

    Example:
        >>> import symgraph.backend as K
        >>> w = K.variable([1.0, 2.0])
        >>> loss = K.sum(K.square(w) * 3)
        >>> K.eval(K.gradients(loss, [w])[0])
        array([ 6., 12.], dtype=float32)
        >>> K.gradients(loss, [K.variable(0.0)])
        [None]
    """
    if not isinstance(variables, (list, tuple)):
        variables = [variables]
    return autodiff.gradients(ops.as_tensor(loss), list(variables))
