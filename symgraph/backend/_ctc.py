"""CTC: loss, decoding and dense-to-sparse labels (TF 2.2 ``tf.keras.backend``), plus
the Keras 2.3.1 Theano backend's CTC helpers. The ops and their packing are described
in :mod:`symgraph.ops.ctc`.

Gradients (``K.gradients``): ``ctc_batch_cost`` w.r.t. ``y_pred`` (forward-backward in
log space; none w.r.t. labels or lengths); ``ctc_update_log_p`` w.r.t. ``zeros``,
``log_p_curr`` and ``log_p_prev``; ``ctc_path_probs`` and ``ctc_cost`` w.r.t.
``predict``. Second-order gradients through these ops raise ``GradientError``."""

from __future__ import annotations

import numpy as np

from .. import config, ops
from ..core import dtypes
from ..core.tensor import Tensor
from ..errors import DTypeError, ShapeError, op_error
from ..ops import ctc as _ctc
from ..ops import ctc_decode as _ctc_decode
from ..ops.reduce import reduce as _reduce
from ..ops.sparse import SparseTensor, padded_rows_to_sparse


def _as_int(x, what: str, label: str, rows_of: Tensor | None = None) -> Tensor:
    """An integer vector ``(batch,)``: ``(batch, 1)`` is squeezed, floats truncated."""
    x = ops.as_tensor(x)
    if x.shape is None:
        raise op_error(ShapeError, label, [x], f"{what} has unknown rank")
    if len(x.shape) == 2:
        if x.shape[1] not in (None, 1):
            raise op_error(ShapeError, label, [x], f"{what} must be (batch,) or (batch, 1)")
        x = ops.reshape(x, (((0, 0),),), unit_axes=(1,), label=label)
    elif len(x.shape) != 1:
        raise op_error(ShapeError, label, [x], f"{what} must be (batch,) or (batch, 1)")
    if dtypes.is_bool(x.dtype):
        raise op_error(DTypeError, label, [x], f"{what} must be numeric, got bool")
    return ops.cast(x, "int64")


def _positive_int(value, what: str, label: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise op_error(ShapeError, label, [], f"{what} must be a positive int, got {value!r}")
    return int(value)


def ctc_label_dense_to_sparse(labels, label_lengths) -> SparseTensor:
    """Convert padded dense labels to a sparse tensor.

    Row ``b`` keeps its first ``label_lengths[b]`` entries. ``K.eval`` of the result
    gives the dense labels with the positions past each length zeroed. The number of
    entries depends on the data, so the sparse tensor has capacity
    ``batch * max_label_len`` and an int64 ``num_entries`` (see
    :mod:`symgraph.ops.sparse`); lengths outside ``[0, max_label_len]`` are an error.

    Args:
        labels: ``(batch, max_label_len)`` tensor of labels.
        label_lengths: ``(batch,)`` (or ``(batch, 1)``) integer tensor of lengths.

    Returns:
        A :class:`~symgraph.ops.sparse.SparseTensor` of the labels' dtype.

    Example:
        >>> import numpy as np
        >>> import symgraph.backend as K
        >>> from symgraph.backend._ctc import ctc_label_dense_to_sparse
        >>> sp = ctc_label_dense_to_sparse(K.constant([[1, 2, 3], [4, 5, 6]], dtype='int32'),
        ...                                K.constant([2, 3], dtype='int32'))
        >>> K.eval(sp)
        array([[1, 2, 0],
               [4, 5, 6]], dtype=int32)
        >>> sp.eval().indices.tolist()
        [[0, 0], [0, 1], [1, 0], [1, 1], [1, 2]]
    """
    labels = ops.as_tensor(labels)
    lengths = _as_int(label_lengths, "label_lengths", "ctc_label_dense_to_sparse")
    if labels.shape is None or len(labels.shape) != 2:
        raise op_error(ShapeError, "ctc_label_dense_to_sparse", [labels],
                       "labels must have rank 2 (batch, max_label_len)")
    return padded_rows_to_sparse(labels, lengths)


def ctc_batch_cost(y_true, y_pred, input_length, label_length) -> Tensor:
    """CTC loss of each batch element (TF's ``ctc_loss`` as Keras calls it).

    The loss is computed on ``log(y_pred + epsilon())`` normalised per step, in log
    space; the blank is the last class; a label sequence that no alignment of the
    given input length can produce gives ``inf``.

    Gradient w.r.t. ``y_pred``: ``(softmax(x) - posterior) / (y_pred + epsilon())`` per
    step, ``x = log(y_pred + epsilon())``, zero past ``input_length``. An ``inf`` loss
    has no derivative: its sequence gets NaN in the steps it reads (TF 2.2 instead
    refuses a label longer than the input, and returns the softmax as the logits'
    gradient, with a warning, when repeats leave no alignment). Where that sequence's
    incoming gradient is exactly zero (masked out, e.g. with
    ``K.switch(loss < np.inf, loss, K.zeros_like(loss))``) its gradient is zero.

    Args:
        y_true: ``(batch, max_label_len)`` labels (entries past ``label_length`` are
            ignored; floats are truncated to ints).
        y_pred: ``(batch, time, classes)`` softmax probabilities.
        input_length: ``(batch, 1)`` number of valid time steps of each element.
        label_length: ``(batch, 1)`` number of labels of each element.

    Returns:
        ``(batch, 1)`` negative log-likelihoods, of y_pred's dtype.

    Example:
        >>> import numpy as np
        >>> import symgraph.backend as K
        >>> from symgraph.backend._ctc import ctc_batch_cost
        >>> y_pred = K.constant(np.full((1, 2, 2), 0.5))
        >>> loss = ctc_batch_cost(K.constant([[0]]), y_pred, K.constant([[2]]),
        ...                       K.constant([[1]]))
        >>> np.round(K.eval(loss), 4)  # 3 of the 4 paths emit "0": -log(0.75)
        array([[0.2877]], dtype=float32)
    """
    label = "ctc_batch_cost"
    y_pred = ops.as_tensor(y_pred)
    y_true = ops.as_tensor(y_true)
    if dtypes.is_bool(y_true.dtype):
        raise op_error(DTypeError, label, [y_true], "labels must be numeric, got bool")
    labels = ops.cast(y_true, "int64")
    in_len = _as_int(input_length, "input_length", label)
    lab_len = _as_int(label_length, "label_length", label)
    loss = y_pred.graph.make(_ctc.CTC_LOSS, (y_pred, labels, in_len, lab_len),
                             {"eps": float(config.epsilon())})
    return ops.reshape(loss, (((0, 0),), 1), label=label)


def ctc_decode(y_pred, input_length, greedy: bool = True, beam_width: int = 100,
               top_paths: int = 1, merge_repeated: bool = True):
    """Decode softmax outputs with greedy or beam search (TF 2.2 rules).

    Greedy takes the best class per step, merges repeats and drops blanks; its score
    is the negated sum of the best log-probabilities (positive). Beam search is TF's
    prefix beam search on ``log(y_pred + epsilon())``; scores are the beams' log
    totals (negative), best first. ``merge_repeated`` (a Keras 2.3.1 extension, used
    by beam search only) collapses repeated labels of a decoded sequence; TF 2.2
    always merges, so it defaults to True here.

    Args:
        y_pred: ``(batch, time, classes)`` softmax probabilities; blank = last class.
        input_length: ``(batch,)`` number of valid steps of each element.
        greedy: greedy decoding when True, beam search otherwise.
        beam_width: beams kept per step (beam search).
        top_paths: number of decodings returned (beam search; greedy returns one).
        merge_repeated: collapse repeated labels of beam-search results.

    Returns:
        ``([decoded] * top_paths, log_prob)``: each decoded is an int64
        ``(batch, time)`` tensor padded with -1 (TF 2.2 densifies to the time length);
        ``log_prob`` is ``(batch, top_paths)`` of y_pred's dtype.

    Example:
        >>> import numpy as np
        >>> import symgraph.backend as K
        >>> from symgraph.backend._ctc import ctc_decode
        >>> probs = np.array([[[0.1, 0.8, 0.1], [0.1, 0.8, 0.1], [0.2, 0.1, 0.7],
        ...                    [0.7, 0.2, 0.1]]])
        >>> decoded, log_prob = ctc_decode(K.constant(probs), K.constant([4]))
        >>> K.eval(decoded[0])
        array([[ 1,  0, -1, -1]])
    """
    label = "ctc_decode"
    y_pred = ops.as_tensor(y_pred)
    in_len = _as_int(input_length, "input_length", label)
    if greedy:
        attrs = {"greedy": True, "beam_width": 0, "top_paths": 1, "merge_repeated": True}
    else:
        width = _positive_int(beam_width, "beam_width", label)
        paths = _positive_int(top_paths, "top_paths", label)
        if paths > width:
            raise op_error(ShapeError, label, [y_pred],
                           f"top_paths={paths} is more than beam_width={width}")
        attrs = {"greedy": False, "beam_width": width, "top_paths": paths,
                 "merge_repeated": bool(merge_repeated)}
    attrs["eps"] = float(config.epsilon())
    packed = y_pred.graph.make(_ctc_decode.CTC_DECODE, (y_pred, in_len), attrs)
    decoded = [ops.cast(packed[k, :, :-1], "int64") for k in range(attrs["top_paths"])]
    log_prob = ops.cast(ops.transpose(packed[:, :, -1]), y_pred.dtype)
    return decoded, log_prob


# -- Keras 2.3.1 Theano backend helpers -------------------------------------------------
def ctc_interleave_blanks(Y) -> Tensor:  # noqa: N803  (Keras's name)
    """Put a blank (-1) before, between and after the labels of ``Y`` (Theano helper).

    Args:
        Y: 1-D label tensor of length L.

    Returns:
        A ``(2L + 1,)`` tensor of Y's dtype: ``[-1, y0, -1, y1, ..., -1]``.

    Example:
        >>> import symgraph.backend as K
        >>> from symgraph.backend._ctc import ctc_interleave_blanks
        >>> K.eval(ctc_interleave_blanks(K.constant([3, 5], dtype='int32')))
        array([-1,  3, -1,  5, -1], dtype=int32)
    """
    y = ops.as_tensor(Y)
    if y.shape is None or len(y.shape) != 1 or dtypes.is_bool(y.dtype):
        raise op_error(ShapeError, "ctc_interleave_blanks", [y], "Y must be a 1-D numeric tensor")
    column = ops.reshape(y, (((0, 0),), 1), label="ctc_interleave_blanks")
    pairs = ops.concatenate([ops.fill_like(column, -1), column], axis=1)
    tail = ops.constant(np.array([-1], dtype=y.dtype), y.dtype)
    return ops.concatenate([ops.reshape(pairs, (-1,)), tail], axis=0)


def ctc_create_skip_idxs(Y) -> Tensor:  # noqa: N803
    """Label positions of an interleaved sequence from which CTC may skip the next
    blank: odd ``i`` with ``Y[i] != Y[i + 2]`` (Theano helper).

    Theano returns only the found indices; their number depends on the data, so here
    the result has Theano's capacity ``max((len(Y) - 3) // 2, 0)`` with unused slots
    set to ``len(Y)`` (``ctc_update_log_p`` never uses them).

    Args:
        Y: 1-D interleaved label tensor (see :func:`ctc_interleave_blanks`).

    Returns:
        int64 tensor of skip indices, padded with ``len(Y)``.

    Example:
        >>> import symgraph.backend as K
        >>> from symgraph.backend._ctc import ctc_create_skip_idxs
        >>> K.eval(ctc_create_skip_idxs(K.constant([-1, 3, -1, 3, -1, 4, -1], dtype='int32')))
        array([3, 7])
    """
    y = ops.as_tensor(Y)
    return y.graph.make(_ctc.CTC_SKIP_IDXS, (y,))


def ctc_update_log_p(skip_idxs, zeros, active, log_p_curr, log_p_prev):
    """One step of the Theano backend's CTC forward recursion.

    Args:
        skip_idxs: int skip indices (:func:`ctc_create_skip_idxs`).
        zeros: ``(S,)`` float tensor the result is written into.
        active: scalar int, how many leading states are reachable so far.
        log_p_curr: ``(S,)`` log-probabilities of the states at this step.
        log_p_prev: ``(S,)`` log-probabilities after the previous step.

    Returns:
        ``(active_next, log_p_next)``: an int32 scalar and an ``(S,)`` tensor of zeros'
        dtype (entries past ``active_next`` are copied from ``zeros``).

    Example:
        >>> import numpy as np
        >>> import symgraph.backend as K
        >>> from symgraph.backend._ctc import ctc_update_log_p
        >>> active, log_p = ctc_update_log_p(K.constant([7], dtype='int64'),
        ...                                  K.zeros_like(K.constant(np.zeros(3))), 1,
        ...                                  K.constant(np.log([0.5, 0.25, 0.25])),
        ...                                  K.constant(np.zeros(3)))
        >>> int(K.eval(active)), np.round(np.exp(K.eval(log_p)), 3)
        (2, array([0.5 , 0.25, 1.  ], dtype=float32))
    """
    skip = ops.as_tensor(skip_idxs)
    zeros = ops.as_tensor(zeros)
    active = ops.as_tensor(active)
    cur, prev = ops.as_tensor(log_p_curr), ops.as_tensor(log_p_prev)
    packed = zeros.graph.make(_ctc.CTC_UPDATE_LOG_P, (skip, zeros, active, cur, prev))
    return ops.cast(packed[0], "int32"), ops.cast(packed[1:], zeros.dtype)


def ctc_path_probs(predict, Y, alpha: float = 1e-4):  # noqa: N803
    """Forward-backward state log-probabilities of one sequence (Theano helper).

    ``predict[:, Y]`` (``-1`` picks the last class, the blank) is smoothed to
    ``(1 - alpha) * p + alpha / len(Y)``; the forward and backward recursions use
    :func:`ctc_update_log_p`.

    Args:
        predict: ``(T, classes)`` probabilities.
        Y: ``(S,)`` interleaved labels.
        alpha: smoothing weight.

    Returns:
        ``(log_probs, mask)``: ``(T, S)`` tensors, log(alpha * beta / y) of predict's
        dtype and a bool mask of the states reachable from both ends.

    Example:
        >>> import numpy as np
        >>> import symgraph.backend as K
        >>> from symgraph.backend._ctc import ctc_path_probs
        >>> log_probs, mask = ctc_path_probs(K.constant(np.full((2, 2), 0.5)),
        ...                                  K.constant([-1, 0, -1], dtype='int32'))
        >>> K.eval(mask)
        array([[ True,  True, False],
               [False,  True,  True]])
    """
    pred, y = ops.as_tensor(predict), ops.as_tensor(Y)
    packed = pred.graph.make(_ctc.CTC_PATH_PROBS, (pred, y), {"alpha": float(alpha)})
    return ops.cast(packed[0], pred.dtype), ops.cast(packed[1], "bool")


def ctc_cost(predict, Y) -> Tensor:  # noqa: N803
    """CTC cost of one sequence as the Theano backend computes it.

    ``-log(sum(exp(log_probs)[mask]))`` over :func:`ctc_path_probs` of the interleaved
    labels: the forward-backward products summed over *every* time step (so it is
    the negative log-likelihood minus ``log(T)``, with Theano's smoothing).

    Args:
        predict: ``(T, classes)`` probabilities, blank = last class.
        Y: ``(L,)`` integer labels.

    Returns:
        A scalar of predict's dtype.

    Example:
        >>> import numpy as np
        >>> import symgraph.backend as K
        >>> from symgraph.backend._ctc import ctc_cost
        >>> cost = ctc_cost(K.constant(np.full((2, 2), 0.5)), K.constant([0], dtype='int32'))
        >>> round(float(K.eval(cost)), 3)  # -log(2 * 0.75)
        -0.405
    """
    pred = ops.as_tensor(predict)
    log_probs, mask = ctc_path_probs(pred, ctc_interleave_blanks(Y))
    common = _reduce("max", log_probs)
    kept = ops.where(mask, ops.unary("exp", log_probs - common), 0.0)
    return -(ops.unary("log", _reduce("sum", kept)) + common)
