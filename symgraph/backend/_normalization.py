"""Normalization, bias and dropout: ``batch_normalization``,
``normalize_batch_in_training``, ``bias_add``, ``dropout`` — compositions of fused
elementwise ops and reductions."""

from __future__ import annotations

from .. import config, ops
from ..core import dtypes
from ..core.shapes import broadcast_shapes, normalize_axes
from ..core.tensor import Tensor
from ..errors import ShapeError, op_error
from ..ops import dims as _dims
from ..ops import random as _random
from ..ops.reduce import reduce as _reduce
from ._image import normalize_data_format


def _flat(t: Tensor) -> Tensor:
    return ops.reshape(t, (-1,)) if t.ndim != 1 else t


def batch_normalization(x, mean, var, beta, gamma, axis: int = -1,
                        epsilon: float = 1e-3) -> Tensor:
    """``(x - mean) / sqrt(var + epsilon) * gamma + beta`` with given statistics.

    For a 4-D ``x``, ``axis`` 1/-3 (channels first) or 3/-1 (channels last) places
    the (flattened) statistics on that axis. For any other rank the statistics
    broadcast NumPy-style from the right (TF 2.2's rule: 1-D statistics apply to
    the last axis whatever ``axis`` says).

    Args:
        x: input tensor.
        mean, var: statistics.
        beta, gamma: shift and scale, or None (0 and 1).
        axis: the feature axis (see above).
        epsilon: added to ``var``.

    Example:
        >>> import symgraph.backend as K
        >>> x = K.constant([[1.0, 2.0], [3.0, 6.0]])
        >>> K.eval(K.batch_normalization(x, K.constant([2.0, 4.0]), K.constant([1.0, 4.0]),
        ...                              None, None, epsilon=0.0))
        array([[-1., -1.],
               [ 1.,  1.]], dtype=float32)
    """
    x = ops.as_tensor(x)
    stats = [ops.as_tensor(t, like=x) if t is not None else None
             for t in (mean, var, beta, gamma)]
    if x.ndim == 4 and axis in (1, -3, 3, -1):
        channel = 1 if axis in (1, -3) else 3
        target = tuple(-1 if a == channel else 1 for a in range(4))
        stats = [None if t is None else ops.reshape(_flat(t), target) for t in stats]
    mean, var, beta, gamma = stats
    for name, t in (("mean", mean), ("var", var), ("beta", beta), ("gamma", gamma)):
        if t is None or t.shape is None or x.shape is None:
            continue
        try:
            if len(broadcast_shapes(t.shape, x.shape)) != len(x.shape):
                raise ValueError
        except ValueError:
            raise op_error(ShapeError, "batch_normalization", [x, t],
                           f"{name} of shape {t.shape} does not broadcast to x") from None
    scale = ops.unary("sqrt", var + epsilon)
    scale = (gamma / scale) if gamma is not None else (1.0 / scale)
    out = (x - mean) * scale
    return out + beta if beta is not None else out


def normalize_batch_in_training(x, gamma, beta, reduction_axes,
                                epsilon: float = 1e-3) -> tuple:
    """Normalize ``x`` with its batch mean and variance over ``reduction_axes``.

    Args:
        x: input tensor.
        gamma, beta: scale and shift of the features (or None), shaped like the
            statistics (the non-reduced dims).
        reduction_axes: the axes to average over (e.g. ``[0, 1, 2]``).
        epsilon: added to the variance.

    Returns:
        ``(normed, mean, var)``; ``mean``/``var`` have the non-reduced dims and
        ``var`` is the biased (population) variance in every case (TF's fused 4-D
        path reports the Bessel-corrected one; we keep one rule).

    Example:
        >>> import symgraph.backend as K
        >>> x = K.constant([[1.0, 10.0], [3.0, 30.0]])
        >>> normed, mean, var = K.normalize_batch_in_training(x, None, None, [0], 0.0)
        >>> K.eval(normed)
        array([[-1., -1.],
               [ 1.,  1.]], dtype=float32)
        >>> K.eval(var)
        array([  1., 100.], dtype=float32)
    """
    x = ops.as_tensor(x)
    if x.shape is None:
        raise op_error(ShapeError, "normalize_batch_in_training", [x], "rank must be known")
    if not dtypes.is_float(x.dtype):
        x = ops.cast(x, config.floatx())
    try:
        axes = normalize_axes(list(reduction_axes), len(x.shape))
    except ValueError as exc:
        raise op_error(ShapeError, "normalize_batch_in_training", [x], str(exc)) from None
    mean_k = _reduce("mean", x, axes, True)
    centered = x - mean_k
    var_k = _reduce("mean", ops.unary("square", centered), axes, True)
    stat_shape = tuple(1 if a in axes else ((1, a),) for a in range(len(x.shape)))

    def widen(t):
        if t is None:
            return None
        t = ops.as_tensor(t, like=x)
        return ops.reshape(t, stat_shape, shape_sources=(x,))

    gamma, beta = widen(gamma), widen(beta)
    scale = ops.unary("sqrt", var_k + epsilon)
    normed = centered * (gamma / scale if gamma is not None else 1.0 / scale)
    if beta is not None:
        normed = normed + beta
    kept = tuple(((0, a),) for a in range(len(x.shape)) if a not in axes)
    return normed, ops.reshape(mean_k, kept), ops.reshape(var_k, kept)


def bias_add(x, bias, data_format=None) -> Tensor:
    """Add a bias on the channel axis.

    Args:
        x: tensor of rank >= 2.
        bias: 1-D (one value per channel) or of rank ``ndim(x) - 1`` of shape
            ``(spatial..., channels)``; for channels_first it is reshaped (as TF 2.2
            does, not transposed) to ``(channels, spatial...)``.
        data_format: 'channels_last' or 'channels_first' (None: the global default).

    Example:
        >>> import symgraph.backend as K
        >>> x = K.zeros((1, 2, 3))
        >>> K.eval(K.bias_add(x, K.constant([1., 2.]), data_format='channels_first'))
        array([[[1., 1., 1.],
                [2., 2., 2.]]], dtype=float32)
    """
    data_format = normalize_data_format(data_format)
    x = ops.as_tensor(x)
    bias = ops.as_tensor(bias, like=x)
    if x.ndim is None or bias.ndim is None:
        raise op_error(ShapeError, "bias_add", [x, bias], "ranks must be known")
    if bias.ndim not in (1, x.ndim - 1):
        raise op_error(ShapeError, "bias_add", [x, bias],
                       f"unexpected bias rank {bias.ndim}: expected 1 or {x.ndim - 1}")
    if x.ndim < 2:
        raise op_error(ShapeError, "bias_add", [x, bias], "x must have rank >= 2")
    channel = 1 if data_format == "channels_first" else x.ndim - 1
    if bias.ndim == 1:
        c, b = x.shape[channel], bias.shape[0]
        if c is not None and b is not None and c != b:
            raise op_error(ShapeError, "bias_add", [x, bias],
                           f"bias has {b} entries but x has {c} channels on axis {channel}")
        target = tuple(((0, 0),) if a == channel else 1 for a in range(x.ndim))
        return x + ops.reshape(bias, target)
    if data_format == "channels_first":
        # TF 2.2 (and Keras 2.3.1) *reshape* the (spatial..., channels) bias to
        # (1, channels, spatial...): the values are re-read in order, not transposed
        last = bias.ndim - 1
        return x + ops.reshape(bias, (1, ((0, last),)) + tuple(((0, a),) for a in range(last)))
    return x + ops.reshape(bias, (1,) + tuple(((0, a),) for a in range(bias.ndim)))


def dropout(x, level: float, noise_shape=None, seed=None) -> Tensor:
    """Randomly zero entries of ``x`` with probability ``level``, scaling the kept
    ones by ``1 / (1 - level)``.

    Args:
        x: a float tensor.
        level: the drop rate, in ``[0, 1)``.
        noise_shape: shape of the keep/drop mask, broadcast to ``x`` (size-1 entries
            share the mask along that axis; None entries take x's dims).
        seed: int for reproducible masks (None: drawn from NumPy's global RNG at
            build time). A new mask is drawn on each evaluation.

    Example:
        >>> import symgraph.backend as K
        >>> y = K.eval(K.dropout(K.ones((1000,)), 0.5, seed=1))
        >>> sorted(set(y.tolist()))
        [0.0, 2.0]
    """
    x = ops.as_tensor(x)
    level = float(level)
    if not 0.0 <= level < 1.0:
        raise op_error(ValueError, "dropout", [x], f"level must be in [0, 1), got {level}")
    if x.shape is None:
        raise op_error(ShapeError, "dropout", [x], "the input's rank must be known")
    if level == 0.0:
        return x
    mask_sources = (x,)
    if noise_shape is None:
        target = tuple(((0, a),) for a in range(x.ndim))
    else:
        col = _dims.Collector([x])
        entries = _dims.shape_argument(noise_shape, col, "dropout", allow_none=True,
                                       what="noise_shape")
        if len(entries) != x.ndim:
            raise op_error(ShapeError, "dropout", [x],
                           f"noise_shape {noise_shape} has rank {len(entries)}, x {x.ndim}")
        target = []
        for a, d in enumerate(entries):
            if d is None:
                target.append(((0, a),))
            elif type(d) is int and d != 1 and x.shape[a] is not None and d != x.shape[a]:
                raise op_error(ShapeError, "dropout", [x],
                               f"noise_shape {noise_shape} does not broadcast to x")
            else:
                target.append(d)
        target = tuple(target)
        mask_sources = tuple(col.inputs)
    dtype = x.dtype if dtypes.is_float(x.dtype) else config.floatx()
    mask = _random.random("uniform", target, 0.0, 1.0, dtype, seed, like=mask_sources)
    keep = ops.cast(mask >= level, dtype)
    return x * keep * (1.0 / (1.0 - level))
