"""Padding and resizing of sequences, images and volumes: ``temporal_padding``,
``spatial_2d_padding``, ``spatial_3d_padding``, ``resize_images``,
``resize_volumes``, and ``normalize_data_format``."""

from __future__ import annotations

from .. import config, ops
from ..core.tensor import Tensor
from ..errors import ShapeError, op_error
from ..ops.image import pad, resize_bilinear
from ._shape import repeat_elements

_FORMATS = ("channels_first", "channels_last")


def normalize_data_format(value) -> str:
    """Validate a data_format string; None gives :func:`image_data_format`.

    Example:
        >>> import symgraph.backend as K
        >>> K.normalize_data_format('Channels_First')
        'channels_first'
        >>> K.normalize_data_format(None)
        'channels_last'
    """
    if value is None:
        return config.image_data_format()
    fmt = str(value).lower()
    if fmt not in _FORMATS:
        raise ValueError('The `data_format` argument must be one of "channels_first", '
                         f'"channels_last". Received: {value!r}')
    return fmt


def _pairs(padding, n: int, label: str, x: Tensor) -> tuple:
    try:
        pairs = tuple((int(lo), int(hi)) for lo, hi in padding)
    except (TypeError, ValueError):
        raise op_error(ShapeError, label, [x],
                       f"padding must be {n} (before, after) pairs, got {padding!r}") from None
    if len(pairs) != n or any(lo < 0 or hi < 0 for lo, hi in pairs):
        raise op_error(ShapeError, label, [x],
                       f"padding must be {n} non-negative (before, after) pairs, got {padding!r}")
    return pairs


def _check_rank(x: Tensor, rank: int, label: str) -> None:
    if x.ndim != rank:
        raise op_error(ShapeError, label, [x], f"expects a {rank}-D tensor, got rank {x.ndim}")


def _spatial_pad(x, padding, data_format, rank: int, label: str) -> Tensor:
    x = ops.as_tensor(x)
    _check_rank(x, rank, label)
    pairs = _pairs(padding, rank - 2, label, x)
    if normalize_data_format(data_format) == "channels_first":
        return pad(x, ((0, 0), (0, 0)) + pairs)
    return pad(x, ((0, 0),) + pairs + ((0, 0),))


def temporal_padding(x, padding=(1, 1)) -> Tensor:
    """Zero-pad the middle (time) axis of a 3-D tensor.

    Args:
        x: tensor ``(batch, time, features)``.
        padding: ``(before, after)`` counts.

    Example:
        >>> import symgraph.backend as K
        >>> K.int_shape(K.temporal_padding(K.placeholder((None, 5, 3)), (1, 2)))
        (None, 8, 3)
    """
    return _spatial_pad(x, (tuple(padding),), "channels_last", 3, "temporal_padding")


def spatial_2d_padding(x, padding=((1, 1), (1, 1)), data_format=None) -> Tensor:
    """Zero-pad rows and columns of a 4-D tensor.

    Args:
        x: 4-D tensor.
        padding: ``((top, bottom), (left, right))``.
        data_format: 'channels_last' or 'channels_first' (None: the global default).

    Example:
        >>> import symgraph.backend as K
        >>> y = K.spatial_2d_padding(K.ones((1, 1, 1, 1)), ((1, 0), (0, 1)))
        >>> K.eval(y)[0, :, :, 0]
        array([[0., 0.],
               [1., 0.]], dtype=float32)
    """
    return _spatial_pad(x, padding, data_format, 4, "spatial_2d_padding")


def spatial_3d_padding(x, padding=((1, 1), (1, 1), (1, 1)), data_format=None) -> Tensor:
    """Zero-pad the three spatial axes of a 5-D tensor.

    Args:
        x: 5-D tensor.
        padding: three ``(before, after)`` pairs (depth, rows, columns).
        data_format: 'channels_last' or 'channels_first' (None: the global default).

    Example:
        >>> import symgraph.backend as K
        >>> K.int_shape(K.spatial_3d_padding(K.placeholder((None, 2, 2, 2, 3))))
        (None, 4, 4, 4, 3)
    """
    return _spatial_pad(x, padding, data_format, 5, "spatial_3d_padding")


def _factor(value, label, x) -> int:
    if isinstance(value, bool) or not hasattr(value, "__index__") or int(value) < 1:
        raise op_error(ShapeError, label, [x], f"factors must be positive ints, got {value!r}")
    return int(value)


def resize_images(x, height_factor, width_factor, data_format,
                  interpolation: str = "nearest") -> Tensor:
    """Upsample the rows and columns of a 4-D tensor by integer factors.

    Args:
        x: 4-D tensor.
        height_factor, width_factor: positive ints.
        data_format: 'channels_last' or 'channels_first' (required, as in Keras).
        interpolation: 'nearest' (repetition) or 'bilinear' (TF 2's half-pixel
            centres; the result is float: x's float dtype, else float32).

    Example:
        >>> import symgraph.backend as K
        >>> K.eval(K.resize_images(K.constant([[[[1.], [2.]]]]), 1, 2, 'channels_last'))[0, 0, :, 0]
        array([1., 1., 2., 2.], dtype=float32)
    """
    x = ops.as_tensor(x)
    _check_rank(x, 4, "resize_images")
    fh = _factor(height_factor, "resize_images", x)
    fw = _factor(width_factor, "resize_images", x)
    first = normalize_data_format(data_format) == "channels_first"
    rows, cols = (2, 3) if first else (1, 2)
    if interpolation == "nearest":
        return repeat_elements(repeat_elements(x, fh, rows), fw, cols)
    if interpolation != "bilinear":
        raise op_error(ValueError, "resize_images", [x],
                       f"interpolation must be 'nearest' or 'bilinear', got {interpolation!r}")
    if first:
        return ops.transpose(resize_bilinear(ops.transpose(x, (0, 2, 3, 1)), fh, fw),
                             (0, 3, 1, 2))
    return resize_bilinear(x, fh, fw)


def resize_volumes(x, depth_factor, height_factor, width_factor, data_format) -> Tensor:
    """Upsample the three spatial axes of a 5-D tensor by repetition.

    Args:
        x: 5-D tensor.
        depth_factor, height_factor, width_factor: positive ints.
        data_format: 'channels_last' or 'channels_first'.

    Example:
        >>> import symgraph.backend as K
        >>> K.int_shape(K.resize_volumes(K.placeholder((None, 2, 3, 4, 1)), 2, 2, 1,
        ...                              'channels_last'))
        (None, 4, 6, 4, 1)
    """
    x = ops.as_tensor(x)
    _check_rank(x, 5, "resize_volumes")
    factors = [_factor(f, "resize_volumes", x)
               for f in (depth_factor, height_factor, width_factor)]
    first_axis = 2 if normalize_data_format(data_format) == "channels_first" else 1
    for i, f in enumerate(factors):
        x = repeat_elements(x, f, first_axis + i)
    return x
