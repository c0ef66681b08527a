"""Less common dtypes through every kind of step: float16 (computed in float32 inside
kernels), bool and unsigned ints."""

import numpy as np

import symgraph.backend as K


def test_float16_through_fused_loops_reductions_blas_and_copies():
    x = K.placeholder((None, 3), dtype="float16")
    w = K.variable(np.ones((3, 2)), dtype="float16")
    outs = [K.exp(x) + 1, K.sum(x, axis=1), K.softmax(x), K.dot(x, w),
            K.concatenate([x, x]), K.argmax(x)]
    data = np.arange(6, dtype=np.float16).reshape(2, 3)
    got = K.function([x], outs)([data])
    assert [g.dtype.name for g in got] == ["float16"] * 5 + ["int64"]
    np.testing.assert_allclose(got[0], np.exp(data.astype(np.float32)) + 1, rtol=2e-3)
    np.testing.assert_allclose(got[1], data.sum(1), rtol=2e-3)
    e = np.exp(data - data.max(1, keepdims=True)).astype(np.float32)
    np.testing.assert_allclose(got[2], e / e.sum(1, keepdims=True), rtol=3e-3)
    np.testing.assert_allclose(got[3], data.astype(np.float32) @ np.ones((3, 2)), rtol=2e-3)
    np.testing.assert_array_equal(got[4], np.concatenate([data, data], axis=-1))
    np.testing.assert_array_equal(got[5], [2, 2])


def test_bool_tensors():
    b = K.placeholder((None, 2), dtype="bool")
    outs = [K.any(b, axis=1), K.cast(b, "float32"), K.max(b, axis=0), K.argmax(b), ~b,
            b & b, b | ~b]
    data = np.array([[True, False], [False, False]])
    got = K.function([b], outs)([data])
    np.testing.assert_array_equal(got[0], [True, False])
    np.testing.assert_array_equal(got[1], data.astype(np.float32))
    np.testing.assert_array_equal(got[2], [True, False])
    np.testing.assert_array_equal(got[3], [0, 0])
    np.testing.assert_array_equal(got[4], ~data)
    np.testing.assert_array_equal(got[5], data)
    assert got[6].all()


def test_unsigned_ints_wrap_like_numpy():
    u = K.placeholder((3,), dtype="uint8")
    data = np.array([1, 2, 10], np.uint8)
    add, total, mean = K.function([u], [u + 250, K.sum(u), K.mean(u)])([data])
    np.testing.assert_array_equal(add, (data + np.uint8(250)))
    assert total.dtype == np.uint8 and total == 13
    assert mean.dtype == np.uint8 and mean == 4


def test_big_endian_feeds_are_normalized():
    x = K.placeholder((None,), dtype="float32")
    data = np.arange(4, dtype=">f4")
    (got,) = K.function([x], [x * 2])([data])
    np.testing.assert_array_equal(got, np.arange(4) * 2)
    assert got.dtype == np.float32 and got.dtype.isnative
