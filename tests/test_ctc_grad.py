"""Gradients of the CTC ops and of sparse_to_dense against central finite differences in
float64 (and the ops' NumPy references), the no-alignment rule, second-order errors, and a
small training loop whose CTC loss must go down."""

import numpy as np
import pytest

import symgraph.backend as K
from symgraph import ops
from symgraph.autodiff import GradientError
from symgraph.backend._ctc import (
    ctc_batch_cost,
    ctc_cost,
    ctc_label_dense_to_sparse,
    ctc_path_probs,
    ctc_update_log_p,
)
from symgraph.ops.sparse import SparseTensor
from tests.helpers import assert_close, run_both

H = 1e-6
RNG = np.random.default_rng(7)


def numeric_grad(f, arrays, k):
    """Central differences of the scalar ``f(arrays)`` w.r.t. ``arrays[k]``."""
    a = arrays[k]
    out = np.zeros_like(a)
    for idx in np.ndindex(*a.shape):
        args = [b.copy() for b in arrays]
        args[k][idx] += H
        up = f(args)
        args[k][idx] -= 2 * H
        out[idx] = (up - f(args)) / (2 * H)
    return out


def f64(shape):
    return K.placeholder(shape, dtype="float64")


def const(a, dtype):
    return K.constant(np.asarray(a), dtype=dtype)


# -- ctc_loss ------------------------------------------------------------------------------
# time 6, 4 classes (blank = 3): lengths shorter than time, repeated labels (which need a
# blank between the copies), an empty label, a full-length input
LABELS = np.array([[0, 1, 1], [2, 2, 0], [1, 0, 2], [0, 0, 0]])
IN_LEN = np.array([[6], [4], [5], [3]])
LAB_LEN = np.array([[3], [2], [3], [0]])


def test_ctc_loss_gradient_matches_finite_differences_with_unknown_batch():
    y_pred = f64((None, 6, 4))
    labels = K.placeholder((None, 3), dtype="int64")
    in_len = K.placeholder((None, 1), dtype="int32")
    lab_len = K.placeholder((None, 1), dtype="int32")
    loss = ctc_batch_cost(labels, y_pred, in_len, lab_len)
    w = const(RNG.normal(size=(1, 1)), "float64")  # broadcast over the unknown batch
    total = K.sum(loss * w + K.square(loss))
    (grad,) = K.gradients(total, [y_pred])
    assert K.int_shape(grad) == (None, 6, 4) and K.dtype(grad) == "float64"
    # unnormalised positive "probabilities": the loss normalises each step itself
    y = RNG.uniform(0.05, 1.0, size=(4, 6, 4))
    inputs = [y_pred, labels, in_len, lab_len]
    feeds = [y, LABELS, IN_LEN.astype(np.int32), LAB_LEN.astype(np.int32)]
    compiled, ref = run_both(inputs, [total, grad], feeds)
    assert_close(compiled[1], ref[1])
    f = K.function(inputs, [total])
    expected = numeric_grad(lambda a: float(f(a)[0]), feeds, 0)
    np.testing.assert_allclose(compiled[1], expected, rtol=1e-6, atol=1e-8)
    # steps past input_length do not enter the loss
    for b, n in enumerate(IN_LEN[:, 0]):
        assert (compiled[1][b, n:] == 0).all()
        assert np.abs(compiled[1][b, :n]).max() > 1e-3


def test_ctc_loss_gradient_against_a_numpy_posterior_formula():
    """d loss / d y = (softmax(x) - posterior of each class) / (y + eps), x = log(y + eps),
    with the posteriors from brute-force enumeration of every alignment (T = 4)."""
    import itertools

    eps = 1e-7
    y = RNG.uniform(0.05, 1.0, size=(1, 4, 3))
    label = [1, 1]  # a repeat: only alignments with a blank between the 1s count
    x = np.log(y[0] + eps)
    p = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    total, post = 0.0, np.zeros_like(p)
    for path in itertools.product(range(3), repeat=4):
        collapsed = [c for k, c in enumerate(path) if c != 2 and (k == 0 or c != path[k - 1])]
        if collapsed == label:
            prob = np.prod([p[t, c] for t, c in enumerate(path)])
            total += prob
            for t, c in enumerate(path):
                post[t, c] += prob
    expected = (p - post / total) / (y[0] + eps)
    y_pred = f64((1, 4, 3))
    loss = ctc_batch_cost(const([label], "int64"), y_pred, const([[4]], "int64"),
                          const([[2]], "int64"))
    (grad,) = K.gradients(loss, [y_pred])
    got = K.function([y_pred], [grad])([y])[0]
    np.testing.assert_allclose(got[0], expected, rtol=1e-9, atol=1e-12)


def test_ctc_loss_gradient_float32_follows_float64():
    y = RNG.uniform(0.05, 1.0, size=(4, 6, 4))
    results = {}
    for dtype in ("float32", "float64"):
        y_pred = K.placeholder((None, 6, 4), dtype=dtype)
        loss = ctc_batch_cost(const(LABELS, "int64"), y_pred, const(IN_LEN, "int64"),
                              const(LAB_LEN, "int64"))
        (grad,) = K.gradients(K.sum(loss), [y_pred])
        assert K.dtype(grad) == dtype
        results[dtype] = K.function([y_pred], [grad])([y.astype(dtype)])[0]
    assert results["float32"].dtype == np.float32
    assert_close(results["float32"], results["float64"].astype(np.float32), rtol=1e-4,
                 atol=1e-5)


def test_ctc_loss_without_alignment_has_nan_gradient_unless_masked():
    # row 0: labels [1, 1] need 3 steps, 2 given; row 1: label 0 needs a step, none given
    labels = np.array([[1, 1], [0, 0], [0, 1]])
    in_len, lab_len = np.array([[2], [0], [3]]), np.array([[2], [1], [2]])
    y = RNG.uniform(0.05, 1.0, size=(3, 3, 3))
    y_pred = f64((None, 3, 3))
    loss = ctc_batch_cost(const(labels, "int64"), y_pred, const(in_len, "int64"),
                          const(lab_len, "int64"))
    (grad,) = K.gradients(K.sum(loss), [y_pred])
    compiled, ref = run_both([y_pred], [loss, grad], [y])
    assert_close(compiled[1], ref[1])
    values, g = compiled
    assert np.isinf(values[:2]).all() and np.isfinite(values[2]).all()
    assert np.isnan(g[0, :2]).all() and (g[0, 2] == 0).all()  # read steps NaN, the rest 0
    assert (g[1] == 0).all()  # no step enters the loss of row 1
    assert np.isfinite(g[2]).all()
    # the finite row's gradient is its own, unaffected by the others
    alone = ctc_batch_cost(const(labels[2:], "int64"), y_pred, const(in_len[2:], "int64"),
                           const(lab_len[2:], "int64"))
    (g_alone,) = K.gradients(K.sum(alone), [y_pred])
    assert_close(g[2], K.function([y_pred], [g_alone])([y[2:]])[0][0])
    # masking the infinite losses out (a zero incoming gradient) gives a zero gradient
    masked = K.switch(loss < np.inf, loss, K.zeros_like(loss))
    (g_masked,) = K.gradients(K.sum(masked), [y_pred])
    got = K.function([y_pred], [g_masked])([y])[0]
    assert (got[:2] == 0).all()
    assert_close(got[2], g[2])


def test_ctc_loss_second_order_is_a_clear_error():
    y_pred = f64((2, 3, 3))
    loss = ctc_batch_cost(const([[0], [1]], "int64"), y_pred, const([[3], [3]], "int64"),
                          const([[1], [1]], "int64"))
    (grad,) = K.gradients(K.sum(loss), [y_pred])
    with pytest.raises(GradientError, match="second-order gradients through ctc_loss"):
        K.gradients(K.sum(K.square(grad)), [y_pred])


def test_ctc_labels_and_lengths_get_no_gradient():
    y_pred = f64((1, 3, 3))
    labels = f64((1, 1))
    loss = ctc_batch_cost(labels, y_pred, const([[3]], "int64"), const([[1]], "int64"))
    assert K.gradients(K.sum(loss), [labels]) == [None]


def test_training_with_ctc_batch_cost_lowers_the_loss():
    batch, time, classes = 4, 8, 5
    labels = np.array([[0, 1, 2], [3, 3, 0], [2, 0, 0], [1, 2, 1]])
    lab_len = np.array([[3], [2], [1], [3]])
    in_len = np.array([[8], [6], [5], [7]])
    logits = K.variable(np.random.default_rng(1).normal(scale=0.1,
                                                        size=(batch, time, classes)))
    y_true = K.placeholder((None, 3), dtype="int32")
    loss = K.mean(ctc_batch_cost(y_true, K.softmax(logits), const(in_len, "int32"),
                                 const(lab_len, "int32")))
    (grad,) = K.gradients(loss, [logits])
    step = K.function([y_true], [loss], updates=[(logits, logits - 0.5 * grad)])
    history = [float(step([labels])[0]) for _ in range(30)]
    assert all(np.isfinite(history))
    assert history[-1] < 0.5 * history[0], history
    assert all(b < a + 1e-6 for a, b in zip(history, history[1:])), history
    # the trained model decodes the labels greedily
    best = np.argmax(K.get_value(logits), axis=-1)
    for b in range(batch):
        path = best[b, :in_len[b, 0]]
        decoded = [int(c) for k, c in enumerate(path)
                   if c != classes - 1 and (k == 0 or c != path[k - 1])]
        assert decoded == labels[b, :lab_len[b, 0]].tolist()


# -- Theano helpers --------------------------------------------------------------------------
@pytest.mark.parametrize("active", [1, 2, 4, 6])
def test_ctc_update_log_p_gradient(active):
    n = 7
    zeros, cur, prev = f64((None,)), f64((None,)), f64((None,))
    skip = const([1, 3, 7], "int64")  # 3 is a skip only once active > 3; 7 is padding
    _, log_p = ctc_update_log_p(skip, zeros, active, cur, prev)
    w = const(RNG.normal(size=n), "float64")
    total = K.sum(log_p * w)
    grads = K.gradients(total, [zeros, cur, prev])
    # non-zero "zeros": they enter as probabilities of the newly reached states
    arrays = [RNG.uniform(0.1, 0.5, n), RNG.normal(size=n), RNG.normal(size=n)]
    compiled, ref = run_both([zeros, cur, prev], [total] + grads, arrays)
    f = K.function([zeros, cur, prev], [total])
    for k in range(3):
        assert_close(compiled[1 + k], ref[1 + k])
        expected = numeric_grad(lambda a: float(f(a)[0]), arrays, k)
        np.testing.assert_allclose(compiled[1 + k], expected, rtol=1e-6, atol=1e-8)


def test_ctc_path_probs_gradient():
    predict = f64((None, 4))
    y = const([-1, 0, -1, 2, -1, 2, -1], "int32")  # repeated label: no skip between them
    log_probs, mask = ctc_path_probs(predict, y)
    w = const(RNG.normal(size=(5, 7)), "float64")
    total = K.sum(log_probs * w)
    (grad,) = K.gradients(total, [predict])
    p = RNG.uniform(0.05, 1.0, size=(5, 4))
    compiled, ref = run_both([predict], [total, grad], [p])
    assert_close(compiled[1], ref[1])
    f = K.function([predict], [total])
    expected = numeric_grad(lambda a: float(f(a)[0]), [p], 0)
    np.testing.assert_allclose(compiled[1], expected, rtol=1e-6, atol=1e-8)
    with pytest.raises(GradientError, match="ctc_path_probs"):
        K.gradients(K.sum(K.square(grad)), [predict])
    assert K.gradients(K.sum(ops.cast(mask, "float64")), [predict]) == [None]


def test_theano_ctc_cost_gradient():
    predict = f64((None, 3))
    cost = ctc_cost(predict, const([0, 1, 1], "int32"))
    (grad,) = K.gradients(cost, [predict])
    p = RNG.uniform(0.05, 1.0, size=(7, 3))
    f = K.function([predict], [cost, grad])
    got = f([p])[1]
    np.testing.assert_allclose(got, numeric_grad(lambda a: float(f(a)[0]), [p], 0),
                               rtol=1e-6, atol=1e-8)


# -- sparse_to_dense -----------------------------------------------------------------------
def test_sparse_to_dense_gradient_wrt_values():
    values = f64((None,))
    sp = SparseTensor([[0, 1], [1, 0], [2, 3]], values, (3, 4))
    w = const(RNG.normal(size=(3, 4)), "float64")
    total = K.sum(K.square(sp.to_dense()) * w)
    (grad,) = K.gradients(total, [values])
    v = RNG.normal(size=3)
    compiled, ref = run_both([values], [grad], [v])
    assert_close(compiled[0], ref[0])
    f = K.function([values], [total])
    np.testing.assert_allclose(compiled[0], numeric_grad(lambda a: float(f(a)[0]), [v], 0),
                               rtol=1e-6, atol=1e-8)
    assert_close(compiled[0], 2 * v * K.eval(w)[[0, 1, 2], [1, 0, 3]])


def test_sparse_to_dense_gradient_skips_padding_rows():
    dense = f64((None, 4))
    sp = ctc_label_dense_to_sparse(dense, const([2, 0, 4], "int64"))
    w = RNG.normal(size=(3, 4))
    total = K.sum(sp.to_dense() * const(w, "float64"))
    g_values, g_dense = K.gradients(total, [sp.values, dense])
    a = RNG.normal(size=(3, 4))
    compiled, ref = run_both([dense], [g_values, g_dense], [a])
    for c, r in zip(compiled, ref):
        assert_close(c, r)
    kept = np.arange(4)[None, :] < np.array([2, 0, 4])[:, None]
    # the first num_entries rows hold w at the entries (row-major), the padding rows zero
    assert_close(compiled[0], np.concatenate([w[kept], np.zeros(12 - kept.sum())]))
    assert_close(compiled[1], np.where(kept, w, 0.0))


def test_sparse_gather_second_order():
    """d/dw of sum(grad_values * u): the gather of the dense gradient is linear in it."""
    values = f64((3,))
    w = f64((3, 4))
    sp = SparseTensor([[0, 1], [1, 0], [2, 3]], values, (3, 4))
    (g_values,) = K.gradients(K.sum(sp.to_dense() * w), [values])
    u = const([1.0, -2.0, 3.0], "float64")
    (g_w,) = K.gradients(K.sum(g_values * u), [w])
    got = K.function([values, w], [g_w])([np.ones(3), np.zeros((3, 4))])[0]
    expected = np.zeros((3, 4))
    expected[[0, 1, 2], [1, 0, 3]] = [1.0, -2.0, 3.0]
    assert_close(got, expected)
