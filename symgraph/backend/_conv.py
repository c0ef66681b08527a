"""Convolution and pooling with TF 2.2 ``tf.keras.backend`` semantics (plus Keras 2.3.1's
``conv3d_transpose`` and ``separable_conv1d``).

Every function builds one node of an op of :mod:`symgraph.ops.conv` or
:mod:`symgraph.ops.pool` (separable
convolutions build two: depthwise, then a 1x1 convolution). ``data_format=None`` reads
``image_data_format()`` when the function is called. Kernel layouts never depend on
``data_format``: ``(k..., in, out)`` for convolutions, ``(k..., out, in)`` for transposed
ones, ``(k..., in, multiplier)`` for depthwise ones.

Dtypes: float16, float32 and float64 (x and kernel alike); integer and bool tensors
raise ``TypeError`` (cast them first). Deviations from TF 2.2, both extensions: strides
and dilation rates above 1 may be combined in ``conv*``/``depthwise_conv2d`` (TF refuses
the combination), and a 'valid' window may never be larger than the input (TF lets a
few such cases through with an empty output).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from .. import config, ops
from ..core.tensor import Tensor
from ..errors import DTypeError, GraphError, ShapeError, op_error
from ..ops import conv as _ops
from ..ops import dims as _dims
from ..ops import pool as _pool_ops

_IntOrTuple = int | Sequence[int]


# -- argument checks ------------------------------------------------------------------------
def _data_format(data_format, label, inputs) -> str:
    if data_format is None:
        data_format = config.image_data_format()
    if data_format not in _ops.DATA_FORMATS:
        raise op_error(GraphError, label, inputs,
                       f"Unknown data_format: {data_format!r} (expected 'channels_last' or "
                       "'channels_first')")
    return str(data_format)


def _ints(value, n, what, label, inputs, minimum=1) -> tuple:
    if isinstance(value, Tensor):
        raise op_error(DTypeError, label, inputs,
                       f"{what} must be Python ints (a tuple of {n}), not a tensor")
    items = (value,) * n if isinstance(value, (int, np.integer)) else value
    try:
        items = tuple(items)
        ok = len(items) == n and all(
            isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= minimum
            for v in items)
    except TypeError:
        ok = False
    if not ok:
        raise op_error(GraphError, label, inputs,
                       f"{what} must be an int or a tuple of {n} ints >= {minimum}, "
                       f"got {value!r}")
    return tuple(int(v) for v in items)


def _padding(padding, label, inputs, allowed=("valid", "same")) -> str:
    if padding not in allowed:
        names = " or ".join(repr(p) for p in allowed)
        raise op_error(GraphError, label, inputs,
                       f"Invalid padding: {padding!r} (expected {names})")
    return str(padding)


def _make(label, op, inputs, attrs) -> Tensor:
    """Check the shape rule first so a build-time error names the Keras function."""
    try:
        op.infer([t.shape for t in inputs], [t.dtype for t in inputs], attrs)
    except TypeError as exc:
        raise op_error(DTypeError, label, inputs, str(exc)) from None
    except ValueError as exc:
        raise op_error(ShapeError, label, inputs, str(exc)) from None
    return inputs[0].graph.make(op, tuple(inputs), attrs)


def _tensors(x, kernel=None):
    x = ops.as_tensor(x)
    if kernel is None:
        return x
    return x, ops.as_tensor(kernel, like=x)


def _conv(label, rank, x, kernel, strides, padding, data_format, dilation_rate,
          allowed=("valid", "same")):
    x, kernel = _tensors(x, kernel)
    inputs = [x, kernel]
    fmt = _data_format(data_format, label, inputs)
    attrs = {"rank": rank, "strides": _ints(strides, rank, "strides", label, inputs),
             "padding": _padding(padding, label, inputs, allowed), "data_format": fmt,
             "dilation": _ints(dilation_rate, rank, "dilation_rate", label, inputs)}
    if attrs["padding"] == "causal" and fmt != "channels_last":
        raise op_error(GraphError, label, inputs,
                       "When using causal padding in `conv1d`, `data_format` must be "
                       "'channels_last' (temporal data).")
    return _make(label, _ops.CONV, inputs, attrs)


def _depthwise(label, rank, x, kernel, strides, padding, data_format, dilation_rate):
    x, kernel = _tensors(x, kernel)
    inputs = [x, kernel]
    attrs = {"rank": rank, "strides": _ints(strides, rank, "strides", label, inputs),
             "padding": _padding(padding, label, inputs),
             "data_format": _data_format(data_format, label, inputs),
             "dilation": _ints(dilation_rate, rank, "dilation_rate", label, inputs)}
    return _make(label, _ops.DEPTHWISE_CONV, inputs, attrs)


def _separable(label, rank, x, depthwise_kernel, pointwise_kernel, strides, padding,
               data_format, dilation_rate):
    x, depthwise_kernel = _tensors(x, depthwise_kernel)
    pointwise_kernel = ops.as_tensor(pointwise_kernel, like=x)
    inputs = [x, depthwise_kernel, pointwise_kernel]
    pshape = pointwise_kernel.shape
    if pshape is None or len(pshape) != rank + 2 or any(
            d not in (1, None) for d in pshape[:rank]):
        raise op_error(ShapeError, label, inputs,
                       f"the pointwise kernel must have shape ({'1, ' * rank}in*multiplier, "
                       f"out), got {pshape}")
    fmt = _data_format(data_format, label, inputs)
    depthwise = _depthwise(label, rank, x, depthwise_kernel, strides, padding, fmt,
                           dilation_rate)
    try:
        return _conv(label, rank, depthwise, pointwise_kernel, 1, "valid", fmt, 1)
    except ShapeError as exc:
        raise op_error(ShapeError, label, inputs,
                       f"the pointwise kernel does not fit the depthwise output "
                       f"{depthwise.shape}: {exc}") from None


def _output_shape(output_shape, rank, label, inputs, fmt) -> tuple[tuple, tuple]:
    """``(entries, sources)``: ints, or dim entries for tensors computed from shapes
    (Keras passes ``K.shape(x)[0]`` and sizes computed from ``K.shape(x)``); a ``None``
    batch is the input's batch."""
    col = _dims.Collector(inputs)
    if isinstance(output_shape, (list, tuple)) and len(output_shape) != rank + 2:
        raise op_error(ShapeError, label, inputs,
                       f"output_shape must be (batch, {rank} spatial dims, channels) in the "
                       f"data_format's order, got {output_shape!r}")
    entries = _dims.shape_argument(output_shape, col, label, allow_none=True,
                                   what="output_shape")
    if len(entries) != rank + 2 or any(e is None for e in entries[1:]):
        raise op_error(ShapeError, label, inputs,
                       f"output_shape must be (batch, {rank} spatial dims, channels) in the "
                       f"data_format's order, with only the batch allowed to be None; "
                       f"got {output_shape!r}")
    if entries[0] is None:
        entries[0] = ((0, 0),)  # the batch axis is first in both data formats
    return tuple(entries), col.sources


def _transpose(label, rank, x, kernel, output_shape, strides, padding, data_format,
               dilation_rate):
    x, kernel = _tensors(x, kernel)
    inputs = [x, kernel]
    fmt = _data_format(data_format, label, inputs)
    dilation = _ints(dilation_rate, rank, "dilation_rate", label, inputs)
    strides = _ints(strides, rank, "strides", label, inputs)
    if dilation != (1,) * rank:
        if len(set(dilation)) != 1:
            raise op_error(GraphError, label, inputs,
                           f"Expected the {rank} dimensions of the `dilation_rate` argument "
                           f"to be equal to each other. Received: {dilation}")
        strides = (1,) * rank  # TF's atrous transpose ignores strides
    target, sources = _output_shape(output_shape, rank, label, inputs, fmt)
    attrs = {"rank": rank, "strides": strides, "dilation": dilation,
             "padding": _padding(padding, label, inputs), "data_format": fmt,
             "output_shape": target}
    return _make(label, _ops.CONV_TRANSPOSE, inputs + list(sources), attrs)


def _pool(label, rank, x, pool_size, strides, padding, data_format, pool_mode):
    x = _tensors(x)
    inputs = [x]
    if pool_mode not in _pool_ops.POOL_MODES:
        raise op_error(GraphError, label, inputs,
                       f"Invalid pooling mode: {pool_mode!r} (expected 'max' or 'avg')")
    attrs = {"rank": rank, "pool_size": _ints(pool_size, rank, "pool_size", label, inputs),
             "strides": _ints(strides, rank, "strides", label, inputs),
             "padding": _padding(padding, label, inputs),
             "data_format": _data_format(data_format, label, inputs), "mode": str(pool_mode)}
    return _make(label, _pool_ops.POOL, inputs, attrs)


def _local(label, rank, inputs_, kernel, kernel_size, strides, output_shape, data_format):
    x, kernel = _tensors(inputs_, kernel)
    inputs = [x, kernel]
    attrs = {"rank": rank,
             "kernel_size": _ints(kernel_size, rank, "kernel_size", label, inputs),
             "strides": _ints(strides, rank, "strides", label, inputs),
             "output_shape": _ints(output_shape, rank, "output_shape", label, inputs, 0),
             "data_format": _data_format(data_format, label, inputs)}
    return _make(label, _ops.LOCAL_CONV, inputs, attrs)


# -- the Keras functions --------------------------------------------------------------------
def conv1d(x, kernel, strides: int = 1, padding: str = "valid", data_format: str | None = None,
           dilation_rate: int = 1) -> Tensor:
    """1-D convolution (cross-correlation, as TF).

    Args:
        x: input tensor of shape ``(batch, steps, in)`` (``(batch, in, steps)`` for
            channels_first).
        kernel: kernel tensor of shape ``(k, in, out)``.
        strides: stride (int).
        padding: ``'valid'``, ``'same'`` or ``'causal'`` (left-pads ``dilation_rate*(k-1)``
            so output step t sees only inputs up to t; channels_last only).
        data_format: ``'channels_last'``, ``'channels_first'`` or None (``image_data_format()``).
        dilation_rate: dilation rate (int).

    Returns:
        A tensor of shape ``(batch, new_steps, out)`` (channels_last).

    Raises:
        ValueError: for a channel mismatch, a 'valid' window larger than the input, a bad
            padding or data_format, or tensors of the wrong rank.
        TypeError: for non-float tensors or differing dtypes.

    Example:
        >>> import numpy as np
        >>> import symgraph.backend as K
        >>> from symgraph.backend._conv import conv1d
        >>> x = K.constant(np.arange(5.0).reshape(1, 5, 1))
        >>> y = conv1d(x, K.constant(np.ones((2, 1, 1))), padding='causal')
        >>> K.int_shape(y)
        (1, 5, 1)
        >>> K.eval(y)[0, :, 0]
        array([0., 1., 3., 5., 7.], dtype=float32)
    """
    return _conv("conv1d", 1, x, kernel, strides, padding, data_format, dilation_rate,
                 allowed=_ops.PADDINGS)


def conv2d(x, kernel, strides: _IntOrTuple = (1, 1), padding: str = "valid",
           data_format: str | None = None, dilation_rate: _IntOrTuple = (1, 1)) -> Tensor:
    """2-D convolution (cross-correlation, as TF).

    Args:
        x: input tensor, ``(batch, rows, cols, in)`` for channels_last, ``(batch, in, rows,
            cols)`` for channels_first.
        kernel: kernel tensor of shape ``(kh, kw, in, out)`` (whatever the data_format).
        strides: a pair of strides (or one int for both).
        padding: ``'valid'`` or ``'same'`` (TF's rule: the extra padding unit goes at the
            bottom/right).
        data_format: ``'channels_last'``, ``'channels_first'`` or None (``image_data_format()``).
        dilation_rate: a pair of dilation rates (or one int).

    Returns:
        A tensor of shape ``(batch, new_rows, new_cols, out)`` (channels_last); unknown
        dims are None at build time.

    Raises:
        ValueError: for a channel mismatch, a 'valid' window larger than the input, a bad
            padding or data_format, or tensors of the wrong rank.
        TypeError: for non-float tensors or differing dtypes.

    Example:
        >>> import numpy as np
        >>> import symgraph.backend as K
        >>> from symgraph.backend._conv import conv2d
        >>> x = K.placeholder(shape=(None, 4, 4, 1))
        >>> y = conv2d(x, K.constant(np.ones((2, 2, 1, 3))), strides=(2, 2))
        >>> K.int_shape(y)
        (None, 2, 2, 3)
        >>> f = K.function([x], [y])
        >>> f([np.arange(16.0).reshape(1, 4, 4, 1)])[0][0, :, :, 0]
        array([[10., 18.],
               [42., 50.]], dtype=float32)
    """
    return _conv("conv2d", 2, x, kernel, strides, padding, data_format, dilation_rate)


def conv3d(x, kernel, strides: _IntOrTuple = (1, 1, 1), padding: str = "valid",
           data_format: str | None = None,
           dilation_rate: _IntOrTuple = (1, 1, 1)) -> Tensor:
    """3-D convolution (cross-correlation, as TF).

    Args:
        x: input tensor, ``(batch, d, h, w, in)`` or ``(batch, in, d, h, w)``.
        kernel: kernel tensor of shape ``(kd, kh, kw, in, out)``.
        strides: a triple of strides (or one int).
        padding: ``'valid'`` or ``'same'``.
        data_format: ``'channels_last'``, ``'channels_first'`` or None.
        dilation_rate: a triple of dilation rates (or one int).

    Returns:
        A 5-D tensor.

    Example:
        >>> import numpy as np
        >>> import symgraph.backend as K
        >>> from symgraph.backend._conv import conv3d
        >>> y = conv3d(K.ones((1, 3, 3, 3, 2)), K.ones((2, 2, 2, 2, 1)), padding='same')
        >>> K.int_shape(y)
        (1, 3, 3, 3, 1)
        >>> K.eval(y)[0, :, :, 2, 0]
        array([[8., 8., 4.],
               [8., 8., 4.],
               [4., 4., 2.]], dtype=float32)
    """
    return _conv("conv3d", 3, x, kernel, strides, padding, data_format, dilation_rate)


def conv2d_transpose(x, kernel, output_shape, strides: _IntOrTuple = (1, 1),
                     padding: str = "valid", data_format: str | None = None,
                     dilation_rate: _IntOrTuple = (1, 1)) -> Tensor:
    """2-D transposed convolution (the gradient of ``conv2d`` with respect to its input).

    Args:
        x: input tensor (``in`` channels).
        kernel: kernel tensor of shape ``(kh, kw, out, in)``.
        output_shape: the result's shape in the data_format's layout, a tuple of ints; its
            batch entry may be None (taken from x at run time). It must be a shape that
            ``conv2d`` with the same arguments maps back to x's spatial shape.
        strides: a pair of strides (or one int).
        padding: ``'valid'`` or ``'same'``.
        data_format: ``'channels_last'``, ``'channels_first'`` or None.
        dilation_rate: a pair of equal rates; with rates above 1 ``strides`` is ignored
            (TF 2.2's atrous transpose).

    Returns:
        A tensor of shape ``output_shape``.

    Raises:
        ValueError: for an output_shape that conv2d does not map back to x, channel
            mismatches, unequal dilation rates, bad padding or data_format.

    Example:
        >>> import numpy as np
        >>> import symgraph.backend as K
        >>> from symgraph.backend._conv import conv2d_transpose
        >>> x = K.placeholder(shape=(None, 2, 2, 1))
        >>> y = conv2d_transpose(x, K.constant(np.ones((2, 2, 1, 1))), (None, 4, 4, 1),
        ...                      strides=(2, 2))
        >>> K.int_shape(y)
        (None, 4, 4, 1)
        >>> K.function([x], [y])([np.array([[[[1.0], [2.0]], [[3.0], [4.0]]]])])[0][0, :, :, 0]
        array([[1., 1., 2., 2.],
               [1., 1., 2., 2.],
               [3., 3., 4., 4.],
               [3., 3., 4., 4.]], dtype=float32)
    """
    return _transpose("conv2d_transpose", 2, x, kernel, output_shape, strides, padding,
                      data_format, dilation_rate)


def conv3d_transpose(x, kernel, output_shape, strides: _IntOrTuple = (1, 1, 1),
                     padding: str = "valid", data_format: str | None = None) -> Tensor:
    """3-D transposed convolution (Keras 2.3.1), kernel ``(kd, kh, kw, out, in)``.

    Args:
        x: input tensor (``in`` channels).
        kernel: kernel tensor of shape ``(kd, kh, kw, out, in)``.
        output_shape: the result's shape in the data_format's layout (batch may be None).
        strides: a triple of strides (or one int).
        padding: ``'valid'`` or ``'same'``.
        data_format: ``'channels_last'``, ``'channels_first'`` or None.

    Returns:
        A tensor of shape ``output_shape``.

    Example:
        >>> import numpy as np
        >>> import symgraph.backend as K
        >>> from symgraph.backend._conv import conv3d_transpose
        >>> y = conv3d_transpose(K.ones((1, 1, 1, 1, 1)), K.ones((2, 2, 2, 1, 1)),
        ...                      (1, 2, 2, 2, 1))
        >>> float(K.eval(y).sum())
        8.0
    """
    return _transpose("conv3d_transpose", 3, x, kernel, output_shape, strides, padding,
                      data_format, (1, 1, 1))


def depthwise_conv2d(x, depthwise_kernel, strides: _IntOrTuple = (1, 1),
                     padding: str = "valid", data_format: str | None = None,
                     dilation_rate: _IntOrTuple = (1, 1)) -> Tensor:
    """2-D depthwise convolution: each input channel is convolved on its own.

    Args:
        x: input tensor with ``in`` channels.
        depthwise_kernel: kernel of shape ``(kh, kw, in, multiplier)``; output channel
            ``c * multiplier + m`` is input channel c convolved with
            ``depthwise_kernel[:, :, c, m]``.
        strides: a pair of strides (or one int).
        padding: ``'valid'`` or ``'same'``.
        data_format: ``'channels_last'``, ``'channels_first'`` or None.
        dilation_rate: a pair of dilation rates (or one int).

    Returns:
        A tensor with ``in * multiplier`` channels.

    Example:
        >>> import numpy as np
        >>> import symgraph.backend as K
        >>> from symgraph.backend._conv import depthwise_conv2d
        >>> x = K.constant(np.ones((1, 3, 3, 2)) * [1.0, 10.0])
        >>> k = K.constant(np.ones((2, 2, 2, 2)) * [1.0, -1.0])
        >>> y = depthwise_conv2d(x, k)
        >>> K.int_shape(y)
        (1, 2, 2, 4)
        >>> K.eval(y)[0, 0, 0]
        array([  4.,  -4.,  40., -40.], dtype=float32)
    """
    return _depthwise("depthwise_conv2d", 2, x, depthwise_kernel, strides, padding,
                      data_format, dilation_rate)


def separable_conv1d(x, depthwise_kernel, pointwise_kernel, strides: int = 1,
                     padding: str = "valid", data_format: str | None = None,
                     dilation_rate: int = 1) -> Tensor:
    """1-D separable convolution (Keras 2.3.1): depthwise, then a pointwise convolution.

    Args:
        x: input tensor ``(batch, steps, in)`` (channels_last).
        depthwise_kernel: ``(k, in, multiplier)``.
        pointwise_kernel: ``(1, in * multiplier, out)``.
        strides: stride of the depthwise step (int).
        padding: ``'valid'`` or ``'same'``.
        data_format: ``'channels_last'``, ``'channels_first'`` or None.
        dilation_rate: dilation of the depthwise step (int).

    Returns:
        A 3-D tensor with ``out`` channels.

    Example:
        >>> import numpy as np
        >>> import symgraph.backend as K
        >>> from symgraph.backend._conv import separable_conv1d
        >>> x = K.constant(np.arange(4.0).reshape(1, 4, 1))
        >>> y = separable_conv1d(x, K.ones((2, 1, 1)), K.constant([[[2.0]]]))
        >>> K.eval(y)[0, :, 0]
        array([ 2.,  6., 10.], dtype=float32)
    """
    return _separable("separable_conv1d", 1, x, depthwise_kernel, pointwise_kernel, strides,
                      padding, data_format, dilation_rate)


def separable_conv2d(x, depthwise_kernel, pointwise_kernel, strides: _IntOrTuple = (1, 1),
                     padding: str = "valid", data_format: str | None = None,
                     dilation_rate: _IntOrTuple = (1, 1)) -> Tensor:
    """2-D separable convolution: depthwise, then a 1x1 (pointwise) convolution.

    Args:
        x: input tensor with ``in`` channels.
        depthwise_kernel: ``(kh, kw, in, multiplier)``.
        pointwise_kernel: ``(1, 1, in * multiplier, out)``.
        strides: strides of the depthwise step.
        padding: ``'valid'`` or ``'same'``.
        data_format: ``'channels_last'``, ``'channels_first'`` or None.
        dilation_rate: dilation of the depthwise step.

    Returns:
        A 4-D tensor with ``out`` channels.

    Example:
        >>> import numpy as np
        >>> import symgraph.backend as K
        >>> from symgraph.backend._conv import separable_conv2d
        >>> x = K.ones((2, 5, 5, 3))
        >>> y = separable_conv2d(x, K.ones((3, 3, 3, 2)), K.ones((1, 1, 6, 4)),
        ...                      padding='same', data_format='channels_last')
        >>> K.int_shape(y)
        (2, 5, 5, 4)
        >>> float(K.eval(y)[0, 2, 2, 0])
        54.0
    """
    return _separable("separable_conv2d", 2, x, depthwise_kernel, pointwise_kernel, strides,
                      padding, data_format, dilation_rate)


def local_conv1d(inputs, kernel, kernel_size, strides, data_format: str | None = None) -> Tensor:
    """1-D convolution with unshared weights (one kernel per output step).

    Args:
        inputs: tensor ``(batch, steps, in)`` (or ``(batch, in, steps)``).
        kernel: ``(output_steps, k * in, out)``; the patch is flattened in the input's own
            layout: (k, in) for channels_last, (in, k) for channels_first.
        kernel_size: ``(k,)`` (or an int).
        strides: ``(stride,)`` (or an int).
        data_format: ``'channels_last'``, ``'channels_first'`` or None.

    Returns:
        A tensor ``(batch, output_steps, out)`` (channels_last).

    Example:
        >>> import numpy as np
        >>> import symgraph.backend as K
        >>> from symgraph.backend._conv import local_conv1d
        >>> x = K.constant(np.arange(4.0).reshape(1, 4, 1))
        >>> k = K.constant(np.array([[[1.0], [1.0]], [[1.0], [-1.0]]]))
        >>> K.eval(local_conv1d(x, k, (2,), (2,)))[0, :, 0]
        array([ 1., -1.], dtype=float32)
    """
    kernel = ops.as_tensor(kernel)
    label = "local_conv1d"
    if kernel.shape is None or len(kernel.shape) != 3 or kernel.shape[0] is None:
        raise op_error(ShapeError, label, [kernel],
                       "the kernel must have rank 3 with a known first dim (output steps)")
    return _local(label, 1, inputs, kernel, kernel_size, strides, (kernel.shape[0],),
                  data_format)


def local_conv2d(inputs, kernel, kernel_size, strides, output_shape,
                 data_format: str | None = None) -> Tensor:
    """2-D convolution with unshared weights (one kernel per output position).

    Args:
        inputs: 4-D tensor.
        kernel: ``(out_h * out_w, kh * kw * in, out)``, positions in row-major order; the
            patch is flattened as (kh, kw, in) for channels_last, (in, kh, kw) for
            channels_first.
        kernel_size: ``(kh, kw)``.
        strides: ``(sh, sw)``.
        output_shape: ``(out_h, out_w)``.
        data_format: ``'channels_last'``, ``'channels_first'`` or None.

    Returns:
        A 4-D tensor ``(batch, out_h, out_w, out)`` (channels_last).

    Example:
        >>> import numpy as np
        >>> import symgraph.backend as K
        >>> from symgraph.backend._conv import local_conv2d
        >>> x = K.constant(np.arange(9.0).reshape(1, 3, 3, 1))
        >>> k = K.constant(np.stack([np.full((4, 1), p + 1.0) for p in range(4)]))
        >>> K.eval(local_conv2d(x, k, (2, 2), (1, 1), (2, 2)))[0, :, :, 0]
        array([[ 8., 24.],
               [60., 96.]], dtype=float32)
    """
    return _local("local_conv2d", 2, inputs, kernel, kernel_size, strides, output_shape,
                  data_format)


def pool2d(x, pool_size, strides: _IntOrTuple = (1, 1), padding: str = "valid",
           data_format: str | None = None, pool_mode: str = "max") -> Tensor:
    """2-D max or average pooling.

    Args:
        x: 4-D tensor.
        pool_size: ``(ph, pw)``.
        strides: ``(sh, sw)``.
        padding: ``'valid'`` or ``'same'``; padded entries never count (a 'same' average
            divides by the number of real entries in its window).
        data_format: ``'channels_last'``, ``'channels_first'`` or None.
        pool_mode: ``'max'`` or ``'avg'``.

    Returns:
        A 4-D tensor.

    Example:
        >>> import numpy as np
        >>> import symgraph.backend as K
        >>> from symgraph.backend._conv import pool2d
        >>> x = K.constant(np.arange(9.0).reshape(1, 3, 3, 1))
        >>> K.eval(pool2d(x, (2, 2), (2, 2), padding='same', pool_mode='avg'))[0, :, :, 0]
        array([[2. , 3.5],
               [6.5, 8. ]], dtype=float32)
    """
    return _pool("pool2d", 2, x, pool_size, strides, padding, data_format, pool_mode)


def pool3d(x, pool_size, strides: _IntOrTuple = (1, 1, 1), padding: str = "valid",
           data_format: str | None = None, pool_mode: str = "max") -> Tensor:
    """3-D max or average pooling.

    Args:
        x: 5-D tensor.
        pool_size: ``(pd, ph, pw)``.
        strides: ``(sd, sh, sw)``.
        padding: ``'valid'`` or ``'same'`` (padded entries never count).
        data_format: ``'channels_last'``, ``'channels_first'`` or None.
        pool_mode: ``'max'`` or ``'avg'``.

    Returns:
        A 5-D tensor.

    Example:
        >>> import numpy as np
        >>> import symgraph.backend as K
        >>> from symgraph.backend._conv import pool3d
        >>> x = K.constant(np.arange(8.0).reshape(1, 2, 2, 2, 1))
        >>> K.eval(pool3d(x, (2, 2, 2), (2, 2, 2))).ravel()
        array([7.], dtype=float32)
    """
    return _pool("pool3d", 3, x, pool_size, strides, padding, data_format, pool_mode)


__all__ = ["conv1d", "conv2d", "conv2d_transpose", "conv3d", "conv3d_transpose",
           "depthwise_conv2d", "local_conv1d", "local_conv2d", "pool2d", "pool3d",
           "separable_conv1d", "separable_conv2d"]
