"""Reductions against NumPy: axes (None, int, tuple, negative), keepdims, dtypes,
None dims fed at run time, empty inputs, NaN, and the Keras rules."""

import numpy as np
import pytest

import symgraph.backend as K
from tests.helpers import assert_close, run_both

RNG = np.random.default_rng(1)
REDUCTIONS = [
    ("sum", K.sum, np.sum), ("max", K.max, np.max), ("min", K.min, np.min),
    ("prod", K.prod, np.prod), ("mean", K.mean, np.mean),
    ("var", K.var, np.var), ("std", K.std, np.std),
    ("logsumexp", K.logsumexp,
     lambda x, axis=None, keepdims=False: np.log(np.sum(np.exp(x), axis=axis,
                                                        keepdims=keepdims))),
]
AXES = [None, 0, 1, -1, (0, 2), [1, -1], (0, 1, 2)]


@pytest.mark.parametrize("name, fn, ref", REDUCTIONS, ids=[r[0] for r in REDUCTIONS])
@pytest.mark.parametrize("axis", AXES, ids=str)
@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_float_reductions_match_numpy(name, fn, ref, axis, keepdims, dtype):
    data = RNG.normal(size=(2, 3, 4)).astype(dtype)
    x = K.placeholder((None, 3, 4), dtype=dtype)
    y = fn(x, axis=axis, keepdims=keepdims)
    axis_np = tuple(axis) if isinstance(axis, list) else axis
    expected = np.asarray(ref(data.astype(np.float64), axis=axis_np, keepdims=keepdims))
    static = tuple(None if (d is None) else d for d in K.int_shape(y))
    assert len(static) == expected.ndim
    assert all(s is None or s == e for s, e in zip(static, expected.shape))
    assert K.dtype(y) == dtype
    (got,), (ref_out,) = run_both([x], [y], [data])
    assert_close(got, expected.astype(dtype), dtype=dtype, rtol=1e-5 if dtype == "float32"
                 else 1e-10, atol=1e-5 if dtype == "float32" else 1e-12)
    assert_close(got, ref_out, rtol=1e-5, atol=1e-5)


def test_int_reductions_keep_dtype_and_truncate_the_mean():
    data = np.array([[1, 2], [3, 5], [-3, -4]], np.int32)
    x = K.placeholder((None, 2), dtype="int32")
    outs = [K.sum(x, axis=1), K.mean(x, axis=1), K.max(x, axis=0), K.prod(x), K.min(x)]
    got = K.function([x], outs)([data])
    assert [g.dtype for g in got] == [np.int32] * 5
    np.testing.assert_array_equal(got[0], [3, 8, -7])
    np.testing.assert_array_equal(got[1], [1, 4, -3])  # truncation toward zero
    np.testing.assert_array_equal(got[2], [3, 5])
    assert got[3] == np.prod(data) and got[4] == -4


def test_bool_reductions():
    data = np.array([[True, False], [True, True]])
    x = K.placeholder((2, 2), dtype="bool")
    outs = [K.mean(x, axis=0), K.any(x, axis=1), K.all(x, 1)]
    mean, any_, all_ = K.function([x], outs)([data])
    assert mean.dtype == np.float32
    np.testing.assert_allclose(mean, [1.0, 0.5])
    np.testing.assert_array_equal(any_, [True, True])
    np.testing.assert_array_equal(all_, [False, True])


@pytest.mark.parametrize("fn, np_fn", [(K.any, np.any), (K.all, np.all)])
@pytest.mark.parametrize("axis", [None, 0, -1])
def test_any_all_cast_nonzero_to_true(fn, np_fn, axis):
    data = np.array([[0.0, 2.0, np.nan], [0.0, 0.0, -1.0]], np.float32)
    x = K.placeholder((None, 3))
    (got,) = K.function([x], [fn(x, axis=axis, keepdims=True)])([data])
    assert got.dtype == np.bool_
    np.testing.assert_array_equal(got, np_fn(data != 0, axis=axis, keepdims=True))


@pytest.mark.parametrize("fn, np_fn", [(K.argmax, np.argmax), (K.argmin, np.argmin)])
@pytest.mark.parametrize("axis", [0, 1, -1])
def test_arg_reductions(fn, np_fn, axis):
    data = np.array([[1.0, 3.0, 3.0], [2.0, -1.0, -1.0], [5.0, 5.0, 0.0]], np.float32)
    x = K.placeholder((None, 3))
    y = fn(x, axis=axis)
    assert K.dtype(y) == "int64"
    (got,) = K.function([x], [y])([data])
    np.testing.assert_array_equal(got, np_fn(data, axis=axis))  # first index wins ties


def test_arg_reductions_default_axis_and_nan():
    data = np.array([[1.0, np.nan, 7.0], [4.0, 4.0, 1.0]], np.float32)
    got = K.eval(K.argmax(K.constant(data)))
    np.testing.assert_array_equal(got, np.argmax(data, axis=-1))
    np.testing.assert_array_equal(K.eval(K.argmin(K.constant(data))), np.argmin(data, -1))


def test_empty_reductions_follow_tf():
    x = K.placeholder((None, 3))
    outs = [K.sum(x, axis=0), K.prod(x, axis=0), K.max(x, axis=0), K.min(x, axis=0),
            K.mean(x, axis=0), K.any(x, axis=0), K.all(x, axis=0)]
    got = K.function([x], outs)([np.zeros((0, 3), np.float32)])
    np.testing.assert_array_equal(got[0], [0, 0, 0])
    np.testing.assert_array_equal(got[1], [1, 1, 1])
    assert (got[2] == -np.inf).all() and (got[3] == np.inf).all()
    assert np.isnan(got[4]).all()
    assert not got[5].any() and got[6].all()


def test_nan_propagates_through_max_and_sum():
    data = np.array([[1.0, np.nan], [2.0, 3.0]], np.float32)
    x = K.placeholder((2, 2))
    got = K.function([x], [K.max(x, axis=1), K.sum(x, axis=1), K.min(x, 0)])([data])
    np.testing.assert_array_equal(np.isnan(got[0]), [True, False])
    np.testing.assert_array_equal(np.isnan(got[1]), [True, False])
    np.testing.assert_array_equal(np.isnan(got[2]), [False, True])


def test_static_shape_inference_example():
    p = K.placeholder((None, 3, 4))
    assert K.int_shape(K.sum(K.exp(p), axis=1)) == (None, 4)
    assert K.int_shape(K.mean(p, axis=(0, -1), keepdims=True)) == (1, 3, 1)
    assert K.int_shape(K.max(p)) == ()
    assert K.int_shape(K.argmax(p)) == (None, 3)


def test_logsumexp_is_stable_and_handles_infinities():
    data = np.array([[1000.0, 1000.0], [-np.inf, -np.inf], [np.inf, 0.0]], np.float32)
    got = K.eval(K.logsumexp(K.constant(data), axis=1))
    np.testing.assert_allclose(got[0], 1000 + np.log(2), rtol=1e-6)
    assert got[1] == -np.inf and got[2] == np.inf


def test_variance_of_constant_rows_is_zero_and_std_uses_ddof0():
    data = np.array([[2.0, 2.0, 2.0], [1.0, 2.0, 3.0]], np.float32)
    v, s = K.function([], [K.var(K.constant(data), axis=1), K.std(K.constant(data), 1)])([])
    np.testing.assert_allclose(v, [0, 2 / 3], rtol=1e-6)
    np.testing.assert_allclose(s, np.sqrt([0, 2 / 3]), rtol=1e-6)


def test_new_batch_sizes_reuse_the_reduction_kernels():
    x = K.placeholder((None, 5))
    f = K.function([x], [K.softmax(x), K.sum(x, axis=0)])
    for n in (1, 3, 17, 0):
        data = RNG.normal(size=(n, 5)).astype(np.float32)
        sm, total = f([data])
        e = np.exp(data - data.max(1, keepdims=True)) if n else data
        if n:
            np.testing.assert_allclose(sm, e / e.sum(1, keepdims=True), rtol=1e-5)
        np.testing.assert_allclose(total, data.sum(0), rtol=1e-5, atol=1e-6)
