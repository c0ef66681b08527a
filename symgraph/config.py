"""Global settings of the Keras backend contract: floatx, epsilon, image data format."""

from __future__ import annotations

_FLOATX = "float32"
_EPSILON = 1e-7
_IMAGE_DATA_FORMAT = "channels_last"
_FLOAT_TYPES = ("float16", "float32", "float64")


def floatx() -> str:
    """Return the default float type as a string, e.g. ``'float32'``.

    Example:
        >>> import symgraph.backend as K
        >>> K.floatx()
        'float32'
    """
    return _FLOATX


def set_floatx(value: str) -> None:
    """Set the default float type: ``'float16'``, ``'float32'`` or ``'float64'``.

    New variables, placeholders and constants created afterwards use it.

    Raises:
        ValueError: for any other value.
    """
    global _FLOATX
    value = str(value)
    if value not in _FLOAT_TYPES:
        raise ValueError(f"Unknown floatx type: {value!r}; expected one of {_FLOAT_TYPES}")
    _FLOATX = value


def epsilon() -> float:
    """Return the fuzz factor used to keep logs and divisions finite (default ``1e-7``)."""
    return _EPSILON


def set_epsilon(value: float) -> None:
    """Set the fuzz factor returned by :func:`epsilon`."""
    global _EPSILON
    _EPSILON = float(value)


def image_data_format() -> str:
    """Return the default image data format, ``'channels_last'`` or ``'channels_first'``."""
    return _IMAGE_DATA_FORMAT


def set_image_data_format(data_format: str) -> None:
    """Set the default image data format (``'channels_last'`` or ``'channels_first'``)."""
    global _IMAGE_DATA_FORMAT
    if data_format not in ("channels_last", "channels_first"):
        raise ValueError(f"Unknown data_format: {data_format!r}")
    _IMAGE_DATA_FORMAT = str(data_format)
