"""CTC ops: the loss (forward algorithm in log space) and the Theano backend's CTC
helpers (decoding is in ``ctc_decode``). Kernels are numba functions in source strings
loaded through the kernel cache; every length, label and index is validated in Python
before a kernel runs (the kernels do not bounds-check).

How multi-output computations are packed (an op produces one array):

* ``ctc_update_log_p`` produces ``(S + 1,)``: ``[0]`` is ``active_next``, ``[1:]``
  the new log-probabilities. ``ctc_path_probs`` produces ``(2, T, S)``: the log
  probabilities and the mask (0./1.).

Sizes: TF 2.2's ``ctc_decode`` densifies to ``(batch, time)`` (not to the longest
decode), so its sizes follow from the input's shape. Theano's
``ctc_create_skip_idxs`` returns a data-dependent number of indices; the runtime
fixes shapes before kernels run, so here it returns its capacity
``max((S - 3) // 2, 0)`` with unused slots set to ``S`` (never ``< active``, so
``ctc_update_log_p`` ignores them exactly as it ignores inactive skips).

Semantics (TF 2.2 ``tf.keras.backend``):

* ``ctc_loss``: inputs ``x = log(y_pred + eps)``; TF's ``ctc_loss`` treats them as
  logits and normalises each step with a log-softmax; blank = last class;
  ``ctc_merge_repeated=True`` (a repeated label needs a blank between its copies),
  ``preprocess_collapse_repeated=False``. No valid alignment gives ``inf``.

Gradients (each backward pass is its own op with a NumPy reference; their own rules
raise ``GradientError``: no second order):

* ``ctc_loss_grad``: ``g[b] * d loss[b] / d y_pred`` by forward-backward (alpha-beta)
  in log space, recomputed from y_pred (the loss op keeps nothing). Steps past
  ``input_length`` get 0. A sequence without alignment (loss ``inf``, whatever y_pred
  is) has no derivative: NaN in the steps it reads, so the problem shows instead of
  the sequence being silently dropped; 0 if ``g[b] == 0`` (masked out). TF 2.2 raises
  for labels longer than the input and, when repeats leave no alignment, logs "No
  valid path found" and returns the softmax as the logits' gradient.
* ``ctc_update_log_p_grad``: adjoint of one step w.r.t. zeros, log_p_curr and
  log_p_prev (``active_next`` is piecewise constant), packed ``(3, S)``.
* ``ctc_path_probs_grad``: reverse mode through both recursions, w.r.t. predict.
"""

from __future__ import annotations

import numpy as np

from ..core import dtypes
from ..errors import GradientError
from ..kernels import cache
from .registry import GRAD_PENDING, KERNEL, NOT_DIFFERENTIABLE, Op, define_grad, register

_PRELUDE = '''import math
import numpy as np
from numba import njit

NEG_INF = -np.inf


@njit(cache=CACHE, nogil=True, error_model='numpy')
def _log_norm(x, b, t):
    # log(sum(exp(x[b, t, :]))): the log-softmax normaliser of one step (TF's CTC ops
    # take logits and normalise each step)
    m = NEG_INF
    for c in range(x.shape[2]):
        if x[b, t, c] > m:
            m = x[b, t, c]
    total = 0.0
    for c in range(x.shape[2]):
        total += math.exp(x[b, t, c] - m)
    return m + math.log(total)


@njit(cache=CACHE, nogil=True, error_model='numpy')
def _lse(a, b):
    if a == NEG_INF:
        return b
    if b == NEG_INF:
        return a
    if a > b:
        return a + math.log1p(math.exp(b - a))
    return b + math.log1p(math.exp(a - b))


'''

# one module per family: loading one compiles only its own kernels
_LOSS_SOURCE = _PRELUDE + '''
@njit('void(float64[:, :, ::1], int64[:, ::1], int64[::1], int64[::1], float64[::1])',
      cache=CACHE, nogil=True, error_model='numpy')
def ctc_loss(x, labels, in_len, lab_len, out):
    n_batch, n_time, n_class = x.shape
    blank = n_class - 1
    s_max = 2 * labels.shape[1] + 1
    alpha = np.empty(s_max)
    nxt = np.empty(s_max)
    ext = np.empty(s_max, dtype=np.int64)
    for b in range(n_batch):
        n_states = 2 * lab_len[b] + 1
        for s in range(n_states):
            ext[s] = blank if s % 2 == 0 else labels[b, s // 2]
        if in_len[b] == 0:
            out[b] = 0.0 if n_states == 1 else np.inf
            continue
        for t in range(in_len[b]):
            norm = _log_norm(x, b, t)
            if t == 0:
                for s in range(n_states):
                    alpha[s] = NEG_INF
                alpha[0] = x[b, 0, blank] - norm
                if n_states > 1:
                    alpha[1] = x[b, 0, ext[1]] - norm
                continue
            for s in range(n_states):
                a = alpha[s]
                if s >= 1:
                    a = _lse(a, alpha[s - 1])
                if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                    a = _lse(a, alpha[s - 2])
                nxt[s] = a + (x[b, t, ext[s]] - norm)
            for s in range(n_states):
                alpha[s] = nxt[s]
        total = alpha[n_states - 1]
        if n_states > 1:
            total = _lse(total, alpha[n_states - 2])
        out[b] = -total
'''

_UPDATE_FN = '''
@njit(cache=CACHE, nogil=True, error_model='numpy')
def _update(skip, zeros, active, cur, prev, out):
    # one step of the Theano backend's ctc_update_log_p (probability space with a
    # common factor, exactly as written there); returns active_next
    n_states = cur.shape[0]
    top = -1
    for s in skip:
        if s < active and s > top:
            top = s
    active_next = min(max(active + 1, top + 3), n_states)
    common = prev[0]
    for i in range(1, active):
        if prev[i] > common:
            common = prev[i]
    p = np.empty(active_next)
    for i in range(active_next):
        p[i] = math.exp(prev[i] - common) if i < active else zeros[i]
    q = p.copy()
    for i in range(1, active_next):
        q[i] = p[i] + p[i - 1]
    for s in skip:
        if s < active:
            q[s + 2] += math.exp(prev[s] - common)
    for i in range(n_states):
        out[i] = zeros[i]
    for i in range(active_next):
        out[i] = cur[i] + (math.log(q[i]) + common)
    return active_next
'''

_THEANO_SOURCE = _PRELUDE + _UPDATE_FN + '''

@njit('void(int64[::1], float64[::1], int64, float64[::1], float64[::1], float64[::1])',
      cache=CACHE, nogil=True, error_model='numpy')
def update_log_p(skip, zeros, active, cur, prev, out):
    out[0] = _update(skip, zeros, active, cur, prev, out[1:])


@njit('void(float64[:, ::1], int64[::1], int64[::1], float64[:, :, ::1])',
      cache=CACHE, nogil=True, error_model='numpy')
def path_probs(log_sm, f_skip, b_skip, out):
    n_time, n_states = log_sm.shape
    zeros = np.zeros(n_states)
    log_f = np.zeros((n_time, n_states))
    log_b = np.zeros((n_time, n_states))
    f_active = np.empty(n_time, dtype=np.int64)
    b_active = np.empty(n_time, dtype=np.int64)
    prev_f = np.zeros(n_states)
    prev_b = np.zeros(n_states)
    cur_b = np.empty(n_states)
    fa = 1
    ba = 1
    for t in range(n_time):
        fa = _update(f_skip, zeros, fa, log_sm[t], prev_f, log_f[t])
        f_active[t] = fa
        prev_f[:] = log_f[t]
        for s in range(n_states):
            cur_b[s] = log_sm[n_time - 1 - t, n_states - 1 - s]
        ba = _update(b_skip, zeros, ba, cur_b, prev_b, log_b[t])
        b_active[t] = ba
        prev_b[:] = log_b[t]
    for t in range(n_time):
        for s in range(n_states):
            tb = n_time - 1 - t
            sb = n_states - 1 - s
            out[0, t, s] = log_f[t, s] + log_b[tb, sb] - log_sm[t, s]
            ok = s < f_active[t] and sb < b_active[tb]
            out[1, t, s] = 1.0 if ok else 0.0
'''


def _module(source):
    return cache.load(source)


# -- shared validation -----------------------------------------------------------------
def _arg(a, dtype):
    """A C-contiguous, writable, native array: the only layout the kernels compile for."""
    return np.require(a, dtype=dtype, requirements=["C", "W"])


def _log_inputs(y_pred, eps):
    """``log(y_pred + eps)`` computed in y_pred's dtype (as TF does), then float64."""
    y = np.asarray(y_pred)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.log(y + y.dtype.type(eps))
    return _arg(x, np.float64)


def _lengths(values, limit, what, limit_name):
    values = np.asarray(values)
    bad = (values < 0) | (values > limit)
    if bad.any():
        row = int(np.nonzero(bad)[0][0])
        raise ValueError(f"{what}[{row}] = {int(values[row])} is outside [0, {limit}] "
                         f"({limit_name})")
    return _arg(values, np.int64)


def _check_labels(labels, label_length, n_class):
    labels = _arg(labels, np.int64)
    used = np.arange(labels.shape[1])[None, :] < label_length[:, None]
    bad = used & ((labels < 0) | (labels >= n_class - 1))
    if bad.any():
        b, j = (int(v[0]) for v in np.nonzero(bad))
        raise ValueError(f"label {int(labels[b, j])} at [{b}, {j}] is not a class in "
                         f"[0, {n_class - 1}) (class {n_class - 1} is the blank)")
    return labels


def _float_dtype(dtype, what):
    if not dtypes.is_float(dtype):
        raise TypeError(f"{what} must be floating point, got {dtype}")


def _int_dtype(dtype, what):
    if not dtypes.is_int(dtype):
        raise TypeError(f"{what} must be integers, got {dtype}")


def _same(a, b, what):
    if a is not None and b is not None and a != b:
        raise ValueError(what.format(a, b))


# -- ctc_loss ------------------------------------------------------------------------
def _loss_infer(in_shapes, in_dtypes, attrs):
    pred, labels, in_len, lab_len = in_shapes
    if pred is None or len(pred) != 3:
        raise ValueError("y_pred must have rank 3 (batch, time, classes)")
    if labels is None or len(labels) != 2:
        raise ValueError("labels must have rank 2 (batch, max_label_length)")
    for s, name in ((in_len, "input_length"), (lab_len, "label_length")):
        if s is None or len(s) != 1:
            raise ValueError(f"{name} must have rank 1 (batch,) here")
    if pred[2] is not None and pred[2] < 1:
        raise ValueError("y_pred needs at least one class (the blank)")
    _float_dtype(in_dtypes[0], "y_pred")
    for d, name in zip(in_dtypes[1:], ("labels", "input_length", "label_length")):
        _int_dtype(d, name)
    batch = None
    for s in (pred, labels, in_len, lab_len):
        _same(batch, s[0], "batch sizes differ: {} vs {}")
        batch = batch if batch is not None else s[0]
    return (batch,), in_dtypes[0]


def _loss_prepare(arrays):
    pred, labels, in_len, lab_len = arrays
    _, n_time, n_class = pred.shape
    in_len = _lengths(in_len, n_time, "input_length", "the time steps of y_pred")
    lab_len = _lengths(lab_len, labels.shape[1], "label_length", "the padded label width")
    labels = _check_labels(labels, lab_len, n_class)
    return labels, in_len, lab_len


def _loss_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    labels, in_len, lab_len = _loss_prepare(args)
    out = np.empty(out_shape[0], dtype=np.float64)
    if out.size:
        x = _log_inputs(args[0], attrs["eps"])
        _module(_LOSS_SOURCE).ctc_loss(x, labels, in_len, lab_len, out)
    return out.astype(out_dtype)


def _loss_reference(arrays, attrs, out_shape, out_dtype):
    labels, in_len, lab_len = _loss_prepare(arrays)
    x = _log_inputs(arrays[0], attrs["eps"])
    out = np.empty(len(x))
    for b in range(len(x)):
        steps = x[b, :in_len[b]]
        logp = steps - np.logaddexp.reduce(steps, axis=1, keepdims=True)
        blank = x.shape[2] - 1
        ext = [blank]
        for lab in labels[b, :lab_len[b]]:
            ext += [int(lab), blank]
        if len(logp) == 0:
            out[b] = 0.0 if len(ext) == 1 else np.inf
            continue
        alpha = np.full(len(ext), -np.inf)
        alpha[:2] = logp[0, ext[:2]]
        for row in logp[1:]:
            new = np.full(len(ext), -np.inf)
            for s in range(len(ext)):
                terms = [alpha[s]]
                if s >= 1:
                    terms.append(alpha[s - 1])
                if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                    terms.append(alpha[s - 2])
                new[s] = np.logaddexp.reduce(terms) + row[ext[s]]
            alpha = new
        out[b] = -np.logaddexp.reduce(alpha[-2:])
    return out.astype(out_dtype)


CTC_LOSS = register(Op(
    "ctc_loss", KERNEL, _loss_infer, _loss_reference, kernel=_loss_kernel, grad=GRAD_PENDING,
    doc="CTC negative log-likelihood per sequence (forward algorithm in log space)"))


# -- Theano backend helpers ----------------------------------------------------------
def skip_capacity(n_states):
    return max((n_states - 3) // 2, 0)


def _skip_infer(in_shapes, in_dtypes, attrs):
    (y,) = in_shapes
    if y is None or len(y) != 1:
        raise ValueError("Y must have rank 1")
    if dtypes.is_bool(in_dtypes[0]):
        raise TypeError("Y must be numeric")
    return (None if y[0] is None else skip_capacity(y[0]),), "int64"


def _skip_compute(y):
    n = len(y)
    cand = np.arange(skip_capacity(n), dtype=np.int64) * 2 + 1
    keep = cand[y[cand] != y[cand + 2]]
    out = np.full(len(cand), n, dtype=np.int64)
    out[:len(keep)] = keep
    return out


def _skip_reference(arrays, attrs, out_shape, out_dtype):
    y = arrays[0]
    n = len(y)
    found = [i for i in range(1, n - 2, 2) if y[i] != y[i + 2]][:skip_capacity(n)]
    return np.array(found + [n] * (skip_capacity(n) - len(found)), dtype=np.int64)


CTC_SKIP_IDXS = register(Op(
    "ctc_skip_idxs", KERNEL, _skip_infer, _skip_reference, grad=NOT_DIFFERENTIABLE,
    kernel=lambda args, in_shapes, attrs, out_shape, out_dtype: _skip_compute(args[0]),
    doc="Theano CTC skip indices (odd i with Y[i] != Y[i+2]), padded with len(Y)"))


def _update_infer(in_shapes, in_dtypes, attrs):
    skip, zeros, active, cur, prev = in_shapes
    if skip is None or len(skip) != 1:
        raise ValueError("skip_idxs must have rank 1")
    if active != ():
        raise ValueError("active must be a scalar")
    n = None
    for s, name in ((zeros, "zeros"), (cur, "log_p_curr"), (prev, "log_p_prev")):
        if s is None or len(s) != 1:
            raise ValueError(f"{name} must have rank 1")
        _same(n, s[0], "zeros, log_p_curr and log_p_prev differ in length: {} vs {}")
        n = n if n is not None else s[0]
    _int_dtype(in_dtypes[0], "skip_idxs")
    _int_dtype(in_dtypes[2], "active")
    for d, name in zip((in_dtypes[1], in_dtypes[3], in_dtypes[4]),
                       ("zeros", "log_p_curr", "log_p_prev")):
        _float_dtype(d, name)
    return (None if n is None else n + 1,), "float64"


def _update_check(skip, active, n_states):
    active = int(active)
    if not 1 <= active <= n_states:
        raise ValueError(f"active = {active} is outside [1, {n_states}]")
    used = skip[skip < active]
    if (used < 0).any() or (used + 2 >= n_states).any():
        bad = int(used[(used < 0) | (used + 2 >= n_states)][0])
        raise IndexError(f"skip index {bad} is outside [0, {n_states - 3}]")
    return active


def _update_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    skip, zeros, active, cur, prev = args
    n_states = len(cur)
    skip = _arg(skip, np.int64)
    active = _update_check(skip, active, n_states)
    out = np.empty(n_states + 1, dtype=np.float64)
    f64 = [_arg(a, np.float64) for a in (zeros, cur, prev)]
    _module(_THEANO_SOURCE).update_log_p(skip, f64[0], active, f64[1], f64[2], out)
    return out


def _update_reference(arrays, attrs, out_shape, out_dtype):
    skip, zeros, active, cur, prev = (np.asarray(a) for a in arrays)
    n_states = len(cur)
    active = _update_check(skip.astype(np.int64), active, n_states)
    zeros = zeros.astype(np.float64)
    active_skip = skip[skip < active]
    active_next = min(max(active + 1, int(np.max(np.append(active_skip, -1))) + 3), n_states)
    common = np.max(prev[:active])
    with np.errstate(invalid="ignore", divide="ignore"):
        p_prev = np.exp(prev[:active].astype(np.float64) - common)
        q = zeros[:active_next].copy()
        q[:active] = p_prev
        q[1:] = q[1:] + q[:-1]
        np.add.at(q, active_skip + 2, p_prev[active_skip])
        new = zeros.copy()
        new[:active_next] = cur[:active_next] + (np.log(q) + common)
    return np.concatenate([[active_next], new]).astype(np.float64)


CTC_UPDATE_LOG_P = register(Op(
    "ctc_update_log_p", KERNEL, _update_infer, _update_reference, kernel=_update_kernel,
    grad=GRAD_PENDING,
    doc="one Theano CTC recursion step, packed (S + 1,): active_next, then log p"))


def _paths_infer(in_shapes, in_dtypes, attrs):
    pred, y = in_shapes
    if pred is None or len(pred) != 2:
        raise ValueError("predict must have rank 2 (time, classes)")
    if y is None or len(y) != 1:
        raise ValueError("Y must have rank 1")
    if y[0] == 0:
        raise ValueError("Y must not be empty")
    _float_dtype(in_dtypes[0], "predict")
    _int_dtype(in_dtypes[1], "Y")
    return (2, pred[0], y[0]), "float64"


def _paths_prepare(pred, y, alpha):
    n_class = pred.shape[1]
    y = np.asarray(y, dtype=np.int64)
    if len(y) == 0:
        raise ValueError("Y must not be empty")
    bad = (y < -n_class) | (y >= n_class)
    if bad.any():
        raise IndexError(f"Y holds class {int(y[bad][0])}, outside [-{n_class}, {n_class})")
    smoothed = (1 - alpha) * np.asarray(pred, dtype=np.float64)[:, y] + alpha / len(y)
    with np.errstate(divide="ignore", invalid="ignore"):
        return _arg(np.log(smoothed), np.float64), y


def _paths_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    log_sm, y = _paths_prepare(args[0], args[1], attrs["alpha"])
    out = np.empty(out_shape, dtype=np.float64)
    _module(_THEANO_SOURCE).path_probs(log_sm, _skip_compute(y), _skip_compute(y[::-1].copy()), out)
    return out


def _paths_reference(arrays, attrs, out_shape, out_dtype):
    log_sm, y = _paths_prepare(arrays[0], arrays[1], attrs["alpha"])
    n_time, n_states = log_sm.shape
    zeros = np.zeros(n_states)

    def run(rows, skip):
        active, prev, logs, actives = 1, zeros, [], []
        for row in rows:
            packed = _update_reference([skip, zeros, active, row, prev], {}, None, None)
            active, prev = int(packed[0]), packed[1:]
            logs.append(prev)
            actives.append(active)
        return np.array(logs).reshape(n_time, n_states), np.array(actives, dtype=np.int64)

    log_f, f_active = run(log_sm, _skip_reference([y], {}, None, None))
    log_b, b_active = run(log_sm[::-1, ::-1], _skip_reference([y[::-1]], {}, None, None))
    idx = np.arange(n_states)[None, :]
    mask = (idx < f_active[:, None]) & (idx < b_active[:, None])[::-1, ::-1]
    return np.stack([log_f + log_b[::-1, ::-1] - log_sm, mask.astype(np.float64)])


CTC_PATH_PROBS = register(Op(
    "ctc_path_probs", KERNEL, _paths_infer, _paths_reference, kernel=_paths_kernel,
    grad=GRAD_PENDING,
    doc="Theano CTC forward-backward path log-probabilities and mask, packed (2, T, S)"))


# -- gradients -----------------------------------------------------------------------
# ctc_loss: forward-backward (alpha-beta) in log space. With x = log(y_pred + eps) and
# lp = log_softmax(x) per step, d loss / d x[t, c] = softmax(x)[t, c] - gamma[t, c], where
# gamma[t, c] = sum over the states s of label c of exp(alpha[t, s] + beta[t, s] - lp[t, c]
# - log p) (alpha and beta both include the emission at t; gamma <= 1); then d x / d y_pred =
# 1 / (y_pred + eps). Steps past input_length do not enter the loss: zero gradient.
_LOSS_GRAD_SOURCE = _PRELUDE + '''
@njit('void(float64[:, :, ::1], int64[:, ::1], int64[::1], int64[::1], float64[::1], '
      'float64[:, :, ::1])', cache=CACHE, nogil=True, error_model='numpy')
def ctc_loss_grad(x, labels, in_len, lab_len, g, out):
    # out[b, t, c] = g[b] * d loss[b] / d x[b, t, c]; out must be zero on entry
    n_batch, n_time, n_class = x.shape
    blank = n_class - 1
    s_max = 2 * labels.shape[1] + 1
    lp = np.empty((max(n_time, 1), n_class))
    alpha = np.empty((max(n_time, 1), s_max))
    beta = np.empty((max(n_time, 1), s_max))
    ext = np.empty(s_max, dtype=np.int64)
    gam = np.empty(n_class)
    for b in range(n_batch):
        n_steps = in_len[b]
        n_states = 2 * lab_len[b] + 1
        if n_steps == 0:
            continue                  # no entry of y_pred[b] enters the loss
        for s in range(n_states):
            ext[s] = blank if s % 2 == 0 else labels[b, s // 2]
        for t in range(n_steps):
            norm = _log_norm(x, b, t)
            for c in range(n_class):
                lp[t, c] = x[b, t, c] - norm
        last = n_steps - 1
        for s in range(n_states):
            alpha[0, s] = NEG_INF
            beta[last, s] = NEG_INF
        alpha[0, 0] = lp[0, blank]
        beta[last, n_states - 1] = lp[last, blank]
        if n_states > 1:
            alpha[0, 1] = lp[0, ext[1]]
            beta[last, n_states - 2] = lp[last, ext[n_states - 2]]
        for t in range(1, n_steps):
            for s in range(n_states):
                a = alpha[t - 1, s]
                if s >= 1:
                    a = _lse(a, alpha[t - 1, s - 1])
                if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                    a = _lse(a, alpha[t - 1, s - 2])
                alpha[t, s] = a + lp[t, ext[s]]
        for t in range(last - 1, -1, -1):
            for s in range(n_states):
                a = beta[t + 1, s]
                if s + 1 < n_states:
                    a = _lse(a, beta[t + 1, s + 1])
                if s + 2 < n_states and ext[s + 2] != blank and ext[s + 2] != ext[s]:
                    a = _lse(a, beta[t + 1, s + 2])
                beta[t, s] = a + lp[t, ext[s]]
        log_p = alpha[last, n_states - 1]
        if n_states > 1:
            log_p = _lse(log_p, alpha[last, n_states - 2])
        scale = g[b]
        if scale == 0.0:
            continue                  # masked out: zero even where the loss is inf
        if log_p == NEG_INF:
            for t in range(n_steps):
                for c in range(n_class):
                    out[b, t, c] = np.nan   # no alignment: the loss is inf everywhere near
            continue
        for t in range(n_steps):
            for c in range(n_class):
                gam[c] = 0.0
            # state posteriors (each <= 1: summed in probability space)
            for s in range(n_states):
                c = ext[s]
                gam[c] += math.exp(alpha[t, s] + beta[t, s] - lp[t, c] - log_p)
            for c in range(n_class):
                out[b, t, c] = scale * (math.exp(lp[t, c]) - gam[c])
'''


def _loss_grad_infer(in_shapes, in_dtypes, attrs):
    (batch,), dtype = _loss_infer(in_shapes[:4], in_dtypes[:4], attrs)
    g = in_shapes[4]
    if g is None or len(g) != 1:
        raise ValueError("the loss gradient must have rank 1 (batch,)")
    _float_dtype(in_dtypes[4], "the loss gradient")
    _same(batch, g[0], "batch sizes differ: {} vs {}")
    pred = in_shapes[0]
    return (batch if batch is not None else g[0], pred[1], pred[2]), dtype


def _dx_to_dpred(dx, pred, eps):
    """Chain rule through ``x = log(y_pred + eps)``."""
    y = np.asarray(pred)
    shifted = (y + y.dtype.type(eps)).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return dx / shifted


def _loss_grad_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    labels, in_len, lab_len = _loss_prepare(args[:4])
    dx = np.zeros(args[0].shape, dtype=np.float64)
    if dx.size:
        x = _log_inputs(args[0], attrs["eps"])
        g = _arg(args[4], np.float64)
        _module(_LOSS_GRAD_SOURCE).ctc_loss_grad(x, labels, in_len, lab_len, g, dx)
    return _dx_to_dpred(dx, args[0], attrs["eps"]).astype(out_dtype)


def _loss_grad_reference(arrays, attrs, out_shape, out_dtype):
    """Probability space with per-step rescaling (Graves): the state posteriors are
    alpha * beta / y normalised over the states at each step."""
    labels, in_len, lab_len = _loss_prepare(arrays[:4])
    x = _log_inputs(arrays[0], attrs["eps"])
    g = np.asarray(arrays[4], dtype=np.float64)
    blank = x.shape[2] - 1
    dx = np.zeros(x.shape)
    for b in range(len(x)):
        n_steps = int(in_len[b])
        if n_steps == 0 or g[b] == 0:
            continue
        steps = np.exp(x[b, :n_steps] - x[b, :n_steps].max(axis=1, keepdims=True))
        y = steps / steps.sum(axis=1, keepdims=True)
        ext = np.full(2 * lab_len[b] + 1, blank)
        ext[1::2] = labels[b, :lab_len[b]]
        n = len(ext)
        skip = np.zeros(n, dtype=bool)
        skip[2:] = (ext[2:] != blank) & (ext[2:] != ext[:-2])
        emit = y[:, ext]
        alpha = np.zeros((n_steps, n))
        beta = np.zeros((n_steps, n))
        alpha[0, :2] = emit[0, :2]
        beta[-1, -2:] = emit[-1, -2:]
        alpha[0] /= alpha[0].sum()
        beta[-1] /= beta[-1].sum()
        for t in range(1, n_steps):
            a = alpha[t - 1].copy()
            a[1:] += alpha[t - 1, :-1]
            a[2:] += np.where(skip[2:], alpha[t - 1, :-2], 0.0)
            alpha[t] = a * emit[t]
            total = alpha[t].sum()
            alpha[t] = alpha[t] / total if total > 0 else np.nan
        for t in range(n_steps - 2, -1, -1):
            a = beta[t + 1].copy()
            a[:-1] += beta[t + 1, 1:]
            a[:-2] += np.where(skip[2:], beta[t + 1, 2:], 0.0)
            beta[t] = a * emit[t]
            total = beta[t].sum()
            beta[t] = beta[t] / total if total > 0 else np.nan
        post = alpha * beta / emit
        with np.errstate(invalid="ignore"):
            post = post / post.sum(axis=1, keepdims=True)
        if not np.isfinite(post).all():   # no alignment (the loss is inf)
            dx[b, :n_steps] = np.nan
            continue
        gamma = np.zeros_like(y)
        np.add.at(gamma, (slice(None), ext), post)
        dx[b, :n_steps] = g[b] * (y - gamma)
    return _dx_to_dpred(dx, arrays[0], attrs["eps"]).astype(out_dtype)


CTC_LOSS_GRAD = register(Op(
    "ctc_loss_grad", KERNEL, _loss_grad_infer, _loss_grad_reference, kernel=_loss_grad_kernel,
    grad=GRAD_PENDING,
    doc="g[b] * d ctc_loss[b] / d y_pred (forward-backward in log space); NaN for a "
        "sequence without alignment unless g[b] == 0; zero past input_length"))


# Theano helpers: the adjoint of one _update step. out[k] = cur[k] + log(q[k]) + common for
# k < active_next with q = F p (p[j] = exp(prev[j] - common) for j < active, zeros[j]
# after; F adds p[k], p[k - 1] and the active skips p[s] -> q[s + 2]); out[k] = zeros[k]
# after. common = max(prev[:active]) cancels except against the zeros' share of q.
_UPDATE_BACK_FN = '''
@njit(cache=CACHE, nogil=True, error_model='numpy')
def _update_back(skip, zeros, active, cur, prev, a, dzeros, dcur, dprev):
    # adds d L / d (zeros, cur, prev) of one _update step given a = d L / d out
    n_states = cur.shape[0]
    top = -1
    for s in skip:
        if s < active and s > top:
            top = s
    active_next = min(max(active + 1, top + 3), n_states)
    arg = 0
    common = prev[0]
    for i in range(1, active):
        if prev[i] > common:
            common = prev[i]
            arg = i
    p = np.empty(active_next)
    for i in range(active_next):
        p[i] = math.exp(prev[i] - common) if i < active else zeros[i]
    q = p.copy()
    for i in range(1, active_next):
        q[i] = p[i] + p[i - 1]
    for s in skip:
        if s < active:
            q[s + 2] += p[s]
    for i in range(active_next, n_states):
        dzeros[i] += a[i]
    r = np.empty(active_next)
    for k in range(active_next):
        dcur[k] += a[k]
        r[k] = a[k] / q[k]
    dp = r.copy()
    for k in range(1, active_next):
        dp[k - 1] += r[k]
    for s in skip:
        if s < active:
            dp[s] += r[s + 2]
    d_common = 0.0
    for k in range(active, active_next):
        dzeros[k] += dp[k]
        # zeros[k] feeds q[k] and q[k + 1]: those terms do not scale with exp(-common)
        d_common += r[k] * p[k]
        if k + 1 < active_next:
            d_common += r[k + 1] * p[k]
    for j in range(active):
        dprev[j] += dp[j] * p[j]
    if active_next > active:
        dprev[arg] += d_common
'''

_THEANO_GRAD_SOURCE = _PRELUDE + _UPDATE_FN + _UPDATE_BACK_FN + '''

@njit('void(int64[::1], float64[::1], int64, float64[::1], float64[::1], float64[::1], '
      'float64[:, ::1])', cache=CACHE, nogil=True, error_model='numpy')
def update_log_p_grad(skip, zeros, active, cur, prev, a, out):
    # out: rows d zeros, d cur, d prev (zero on entry)
    _update_back(skip, zeros, active, cur, prev, a, out[0], out[1], out[2])


@njit('void(float64[:, ::1], int64[::1], int64[::1], float64[:, ::1], float64[:, ::1])',
      cache=CACHE, nogil=True, error_model='numpy')
def path_probs_grad(log_sm, f_skip, b_skip, g, d_sm):
    # g: d L / d log_probs (T, S); d_sm: d L / d log_sm (T, S), written here
    n_time, n_states = log_sm.shape
    zeros = np.zeros(n_states)
    log_f = np.zeros((n_time + 1, n_states))     # row t + 1: after step t
    log_b = np.zeros((n_time + 1, n_states))
    f_active = np.ones(n_time + 1, dtype=np.int64)
    b_active = np.ones(n_time + 1, dtype=np.int64)
    cur_b = np.empty((n_time, n_states))
    for t in range(n_time):
        f_active[t + 1] = _update(f_skip, zeros, f_active[t], log_sm[t], log_f[t], log_f[t + 1])
        for s in range(n_states):
            cur_b[t, s] = log_sm[n_time - 1 - t, n_states - 1 - s]
        b_active[t + 1] = _update(b_skip, zeros, b_active[t], cur_b[t], log_b[t], log_b[t + 1])
    a_f = np.zeros((n_time + 1, n_states))
    a_b = np.zeros((n_time + 1, n_states))
    for t in range(n_time):
        for s in range(n_states):
            a_f[t + 1, s] = g[t, s]
            a_b[n_time - t, n_states - 1 - s] = g[t, s]
            d_sm[t, s] = -g[t, s]
    dz = np.zeros(n_states)
    dcur = np.empty(n_states)
    for t in range(n_time - 1, -1, -1):
        dcur[:] = 0.0
        _update_back(f_skip, zeros, f_active[t], log_sm[t], log_f[t], a_f[t + 1], dz, dcur,
                     a_f[t])
        for s in range(n_states):
            d_sm[t, s] += dcur[s]
        dcur[:] = 0.0
        _update_back(b_skip, zeros, b_active[t], cur_b[t], log_b[t], a_b[t + 1], dz, dcur,
                     a_b[t])
        for s in range(n_states):
            d_sm[n_time - 1 - t, n_states - 1 - s] += dcur[s]
'''


def _update_grad_infer(in_shapes, in_dtypes, attrs):
    (n1,), _ = _update_infer(in_shapes[:5], in_dtypes[:5], attrs)
    g = in_shapes[5]
    if g is None or len(g) != 1:
        raise ValueError("the output gradient must have rank 1 (S + 1,)")
    _same(n1, g[0], "the output gradient has length {1}, expected {0}")
    _float_dtype(in_dtypes[5], "the output gradient")
    n1 = n1 if n1 is not None else g[0]
    return (3, None if n1 is None else n1 - 1), "float64"


def _update_grad_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    skip, zeros, active, cur, prev, g = args
    n_states = len(cur)
    skip = _arg(skip, np.int64)
    active = _update_check(skip, active, n_states)
    out = np.zeros((3, n_states), dtype=np.float64)
    f64 = [_arg(a, np.float64) for a in (zeros, cur, prev)]
    a = _arg(np.asarray(g)[1:], np.float64)
    _module(_THEANO_GRAD_SOURCE).update_log_p_grad(skip, f64[0], active, f64[1], f64[2], a, out)
    return out


def _update_grad_reference(arrays, attrs, out_shape, out_dtype):
    """The step's Jacobian as an incidence matrix ``F`` (``q = F @ p``)."""
    skip, zeros, active, cur, prev, g = (np.asarray(a) for a in arrays)
    n = len(cur)
    active = _update_check(skip.astype(np.int64), active, n)
    zeros, prev = zeros.astype(np.float64), prev.astype(np.float64)
    a = g[1:].astype(np.float64)
    used = skip[skip < active].astype(np.int64)
    top = int(used.max()) if len(used) else -1
    nxt = min(max(active + 1, top + 3), n)
    arg = int(np.argmax(prev[:active]))
    p = zeros[:nxt].copy()
    p[:active] = np.exp(prev[:active] - prev[arg])
    incidence = np.eye(nxt) + np.eye(nxt, k=-1)
    np.add.at(incidence, (used + 2, used), 1.0)
    q = incidence @ p
    with np.errstate(divide="ignore", invalid="ignore"):
        r = a[:nxt] / q
    dp = incidence.T @ r
    out = np.zeros((3, n))
    out[0, nxt:] = a[nxt:]
    out[0, active:nxt] = dp[active:nxt]
    out[1, :nxt] = a[:nxt]
    out[2, :active] = dp[:active] * p[:active]
    if nxt > active:
        out[2, arg] += r @ (incidence[:, active:] @ p[active:])
    return out


CTC_UPDATE_LOG_P_GRAD = register(Op(
    "ctc_update_log_p_grad", KERNEL, _update_grad_infer, _update_grad_reference,
    kernel=_update_grad_kernel, grad=GRAD_PENDING,
    doc="adjoint of ctc_update_log_p, packed (3, S): d zeros, d log_p_curr, d log_p_prev "
        "(active_next is piecewise constant: no gradient)"))


def _paths_grad_infer(in_shapes, in_dtypes, attrs):
    _, n_time, n_states = _paths_infer(in_shapes[:2], in_dtypes[:2], attrs)[0]
    g = in_shapes[2]
    if g is None or len(g) != 3 or g[0] not in (2, None):
        raise ValueError("the output gradient must have shape (2, T, S)")
    _same(n_time, g[1], "time steps differ: {} vs {}")
    _same(n_states, g[2], "states differ: {} vs {}")
    _float_dtype(in_dtypes[2], "the output gradient")
    return tuple(in_shapes[0]), in_dtypes[0]


def _paths_dpred(d_sm, pred, y, alpha):
    """Chain rule through ``log((1 - alpha) * pred[:, y] + alpha / len(y))``."""
    pred = np.asarray(pred, dtype=np.float64)
    smoothed = (1 - alpha) * pred[:, y] + alpha / len(y)
    out = np.zeros(pred.shape)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.add.at(out, (slice(None), y % pred.shape[1]), d_sm * (1 - alpha) / smoothed)
    return out


def _paths_grad_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    pred, y, g = args
    log_sm, y = _paths_prepare(pred, y, attrs["alpha"])
    d_sm = np.empty(log_sm.shape)
    g0 = _arg(np.asarray(g)[0], np.float64)
    _module(_THEANO_GRAD_SOURCE).path_probs_grad(log_sm, _skip_compute(y),
                                                 _skip_compute(y[::-1].copy()), g0, d_sm)
    return _paths_dpred(d_sm, pred, y, attrs["alpha"]).astype(out_dtype)


def _paths_grad_reference(arrays, attrs, out_shape, out_dtype):
    """Reverse mode through the reference recursion, one reference step adjoint at a time."""
    pred, y, g = arrays
    log_sm, y = _paths_prepare(pred, y, attrs["alpha"])
    g = np.asarray(g, dtype=np.float64)[0]
    n_time, n_states = log_sm.shape
    zeros = np.zeros(n_states)

    def chain(rows, skip, adjoint):
        """Adjoints of the rows of one recursion given d L / d its outputs."""
        active, prev, steps = 1, zeros, []
        for row in rows:
            steps.append((active, prev))
            packed = _update_reference([skip, zeros, active, row, prev], {}, None, None)
            active, prev = int(packed[0]), packed[1:]
        d_rows = np.zeros_like(rows)
        carry = np.zeros(n_states)
        for t in range(n_time - 1, -1, -1):
            active, prev = steps[t]
            a = np.concatenate([[0.0], adjoint[t] + carry])
            back = _update_grad_reference([skip, zeros, active, rows[t], prev, a], {}, None, None)
            d_rows[t] = back[1]
            carry = back[2]
        return d_rows

    d_sm = -g.copy()
    d_sm += chain(log_sm, _skip_reference([y], {}, None, None), g)
    d_sm += chain(log_sm[::-1, ::-1], _skip_reference([y[::-1]], {}, None, None),
                  g[::-1, ::-1])[::-1, ::-1]
    return _paths_dpred(d_sm, pred, y, attrs["alpha"]).astype(out_dtype)


CTC_PATH_PROBS_GRAD = register(Op(
    "ctc_path_probs_grad", KERNEL, _paths_grad_infer, _paths_grad_reference,
    kernel=_paths_grad_kernel, grad=GRAD_PENDING,
    doc="adjoint of ctc_path_probs w.r.t. predict (the mask has no gradient)"))


def _no_second_order(what):
    def rule(node, g):
        raise GradientError(
            f"gradients: '{node.name}' is the gradient of {what}; second-order gradients "
            f"through {what} are not implemented (its backward pass is one kernel, "
            "not a composition of differentiable ops)")
    return rule


def _loss_grad(node, g):
    pred, labels, in_len, lab_len = node.inputs
    grad = node.graph.make(CTC_LOSS_GRAD, (pred, labels, in_len, lab_len, g), dict(node.attrs))
    return grad, None, None, None


def _update_log_p_grad(node, g):
    from . import getitem

    skip, zeros, active, cur, prev = node.inputs
    packed = node.graph.make(CTC_UPDATE_LOG_P_GRAD, (skip, zeros, active, cur, prev, g))
    return None, getitem(packed, 0), None, getitem(packed, 1), getitem(packed, 2)


def _path_probs_grad(node, g):
    pred, y = node.inputs
    return node.graph.make(CTC_PATH_PROBS_GRAD, (pred, y, g), dict(node.attrs)), None


define_grad(CTC_LOSS, _loss_grad)
define_grad(CTC_LOSS_GRAD, _no_second_order("ctc_loss"))
define_grad(CTC_UPDATE_LOG_P, _update_log_p_grad)
define_grad(CTC_UPDATE_LOG_P_GRAD, _no_second_order("ctc_update_log_p"))
define_grad(CTC_PATH_PROBS, _path_probs_grad)
define_grad(CTC_PATH_PROBS_GRAD, _no_second_order("ctc_path_probs"))
