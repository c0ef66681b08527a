"""Losses and in_top_k against NumPy formulas written here (TF 2.2 semantics)."""

import numpy as np
import pytest

import symgraph.backend as K
from symgraph.errors import ShapeError

from .helpers import assert_close, run_both

EPS = 1e-7


def np_softmax(x, axis):
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def np_log_softmax(x, axis):
    s = x - x.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def np_cce_probs(t, p, axis):
    p = p / p.sum(axis=axis, keepdims=True)
    p = np.clip(p, EPS, 1 - EPS)
    return -(t * np.log(p)).sum(axis=axis)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("shape,axis", [((4, 3), -1), ((2, 3, 5), -1), ((2, 3, 5), 1),
                                        ((0, 3), -1)])
def test_categorical_crossentropy(shape, axis, dtype):
    rng = np.random.default_rng(0)
    probs = rng.uniform(0.01, 1.0, size=shape).astype(dtype)
    logits = rng.normal(size=shape).astype(dtype)
    labels = np_softmax(rng.normal(size=shape), axis).astype(dtype)
    t = K.placeholder(shape=(None,) + shape[1:], dtype=dtype)
    p = K.placeholder(shape=(None,) + shape[1:], dtype=dtype)
    outs = [K.categorical_crossentropy(t, p, axis=axis),
            K.categorical_crossentropy(t, p, from_logits=True, axis=axis)]
    (a, b), refs = run_both([t, p], outs, [labels, probs])
    assert_close(a, np_cce_probs(labels, probs, axis), dtype, rtol=1e-5)
    (_, b), _ = run_both([t, p], outs, [labels, logits])
    assert_close(b, -(labels * np_log_softmax(logits, axis)).sum(axis=axis), dtype, rtol=1e-5)
    assert refs[0].shape == a.shape


def test_categorical_crossentropy_reads_softmax_logits():
    # a softmax output saturates to exact 0/1 in float32; the logits path stays finite
    logits = np.array([[200.0, 0.0, -200.0]], dtype=np.float32)
    target = np.array([[0.0, 0.0, 1.0]], dtype=np.float32)
    x = K.constant(logits)
    loss = K.eval(K.categorical_crossentropy(K.constant(target), K.softmax(x)))
    assert_close(loss, [400.0])
    clipped = K.eval(K.categorical_crossentropy(K.constant(target),
                                                K.constant(np_softmax(logits, -1))))
    assert_close(clipped, [-np.log(np.float32(EPS))], rtol=1e-4)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_sparse_categorical_crossentropy(dtype):
    rng = np.random.default_rng(1)
    probs = rng.uniform(0.01, 1.0, size=(5, 4)).astype(dtype)
    labels = rng.integers(0, 4, size=5).astype("int32")
    t = K.placeholder(shape=(None,), dtype="int32")
    p = K.placeholder(shape=(None, 4), dtype=dtype)
    f = K.function([t, p], [K.sparse_categorical_crossentropy(t, p),
                            K.sparse_categorical_crossentropy(t, p, from_logits=True)])
    a, b = f([labels, probs])
    # TF: log of the clipped probabilities, then a log-softmax (renormalizes)
    logp = np.log(np.clip(probs, EPS, 1 - EPS))
    assert_close(a, -np_log_softmax(logp, -1)[np.arange(5), labels], dtype, rtol=1e-5)
    assert_close(b, -np_log_softmax(probs, -1)[np.arange(5), labels], dtype, rtol=1e-5)
    a2, _ = f([labels[:2], probs[:2]])  # another batch size, same function
    assert a2.shape == (2,)


def test_sparse_categorical_crossentropy_label_shapes_and_axis():
    rng = np.random.default_rng(2)
    logits = rng.normal(size=(2, 3, 4)).astype("float32")
    labels = rng.integers(0, 4, size=(2, 3))
    expected = -np_log_softmax(logits, -1)[np.arange(2)[:, None], np.arange(3), labels]
    out = K.sparse_categorical_crossentropy(K.constant(labels, dtype="int64"),
                                            K.constant(logits), from_logits=True)
    assert K.int_shape(out) == (2, 3)
    assert_close(K.eval(out), expected)
    # (N, 1) labels are flattened against (N, C)
    flat = K.sparse_categorical_crossentropy(K.constant(labels[:, :1].astype(float)),
                                             K.constant(logits[:, 0]), from_logits=True)
    assert_close(K.eval(flat), -np_log_softmax(logits[:, 0], -1)[np.arange(2), labels[:, 0]])
    # channels-first class axis
    cf = K.sparse_categorical_crossentropy(K.constant(labels, dtype="int32"),
                                           K.constant(np.moveaxis(logits, -1, 1)),
                                           from_logits=True, axis=1)
    assert_close(K.eval(cf), expected)
    # a rank-3 output with flattened labels is reshaped back to (2, 3)
    flat3 = K.sparse_categorical_crossentropy(K.constant(labels.reshape(-1), dtype="int32"),
                                              K.constant(logits), from_logits=True)
    assert_close(K.eval(flat3), expected)


def test_sparse_categorical_crossentropy_rejects_bad_labels_at_run_time():
    loss = K.sparse_categorical_crossentropy(K.constant([3], dtype="int32"),
                                             K.constant([[0.2, 0.3, 0.5]]))
    with pytest.raises(ValueError, match="class index 3 is out of range"):
        K.eval(loss)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_binary_crossentropy(dtype):
    rng = np.random.default_rng(3)
    p = rng.uniform(0, 1, size=(3, 4)).astype(dtype)
    p[0, 0], p[0, 1] = 0.0, 1.0
    t = rng.integers(0, 2, size=(3, 4)).astype(dtype)
    x = rng.normal(size=(3, 4)).astype(dtype) * 30
    tp = K.placeholder((None, 4), dtype=dtype)
    pp = K.placeholder((None, 4), dtype=dtype)
    f = K.function([tp, pp], [K.binary_crossentropy(tp, pp),
                              K.binary_crossentropy(tp, pp, from_logits=True)])
    a, _ = f([t, p])
    eps = np.asarray(EPS, dtype)
    pc = np.clip(p, eps, 1 - eps)
    assert_close(a, -(t * np.log(pc + eps) + (1 - t) * np.log(1 - pc + eps)), dtype, rtol=1e-5)
    _, b = f([t, x])
    assert_close(b, np.logaddexp(0, x) - x * t, dtype, rtol=1e-5)
    # the sigmoid output is looked through: finite for saturated logits
    big = K.binary_crossentropy(K.constant([0.0]), K.sigmoid(K.constant([100.0])))
    assert_close(K.eval(big), [100.0])


def test_loss_shape_errors_at_build_time():
    with pytest.raises(ShapeError, match="categorical_crossentropy"):
        K.categorical_crossentropy(K.placeholder((None, 3)), K.placeholder((None, 3)), axis=2)
    with pytest.raises(ShapeError, match="same rank"):
        K.categorical_crossentropy(K.placeholder((None,)), K.placeholder((None, 3)))


def test_in_top_k():
    pred = np.array([[0.1, 0.7, 0.2, 0.0], [0.5, 0.5, 0.2, 0.1], [0.3, np.nan, 0.2, 0.1],
                     [0.1, 0.2, 0.3, 0.4]], dtype=np.float32)
    targets = np.array([2, 1, 0, 7], dtype=np.int32)
    p = K.placeholder((None, 4))
    t = K.placeholder((None,), dtype="int32")
    for k, expected in [(1, [False, True, False, False]), (2, [True, True, False, False]),
                        (0, [False, False, False, False]), (4, [True, True, False, False])]:
        (got,), (ref,) = run_both([p, t], [K.in_top_k(p, t, k)], [pred, targets])
        assert got.dtype == bool
        np.testing.assert_array_equal(got, expected)
        np.testing.assert_array_equal(ref, expected)
    (empty,), _ = run_both([p, t], [K.in_top_k(p, t, 1)], [pred[:0], targets[:0]])
    assert empty.shape == (0,)
    with pytest.raises(ShapeError, match="batch sizes differ"):
        K.in_top_k(K.zeros((2, 3)), K.constant([1, 2, 0], dtype="int32"), 1)
    with pytest.raises(TypeError, match="targets must be integers"):
        K.in_top_k(K.zeros((2, 3)), K.zeros((2,)), 1)
