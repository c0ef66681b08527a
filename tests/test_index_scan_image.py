"""gather, cumsum/cumprod, size, pattern_broadcast, random variables, padding,
resizing, batch normalization, bias_add and dropout against NumPy."""

import numpy as np
import pytest

import symgraph.backend as K
from symgraph.errors import ShapeError

from .helpers import assert_close, random_array, run_both


# -- gather -------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "int32", "float64"])
@pytest.mark.parametrize("ref_shape,idx_shape", [((5,), (3,)), ((5, 3), (2, 2)), ((4, 2, 3), ()),
                                                 ((5, 3), (0,)), ((0, 3), (0,))])
def test_gather(ref_shape, idx_shape, dtype):
    rng = np.random.default_rng(0)
    ref = random_array(rng, ref_shape, dtype)
    idx = rng.integers(0, max(ref_shape[0], 1), size=idx_shape).astype("int32")
    r = K.placeholder((None,) + ref_shape[1:], dtype=dtype)
    i = K.placeholder((None,) * len(idx_shape), dtype="int32")
    (got,), (ref_out,) = run_both([r, i], [K.gather(r, i)], [ref, idx])
    assert_close(got, ref[idx], dtype)
    assert_close(ref_out, ref[idx], dtype)


def test_gather_validates_indices_before_the_kernel():
    table = K.constant([[1.0], [2.0]])
    for bad in ([2], [-1]):
        with pytest.raises(ValueError, match="out of range"):
            K.eval(K.gather(table, K.constant(bad, dtype="int32")))
    with pytest.raises(TypeError, match="integers"):
        K.gather(table, K.constant([0.0]))
    with pytest.raises(ShapeError, match="scalar"):
        K.gather(K.constant(1.0), K.constant([0], dtype="int32"))
    assert K.int_shape(K.gather(K.placeholder((None, 7)), K.placeholder((3, None),
                                                                         dtype="int64"))) \
        == (3, None, 7)


# -- cumsum / cumprod -------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32", "float16"])
@pytest.mark.parametrize("shape,axis", [((5,), 0), ((3, 4), 0), ((3, 4), 1), ((3, 4), -1),
                                        ((2, 3, 4), 1), ((2, 0, 3), 1), ((2, 0, 3), 2)])
def test_cumsum_cumprod(shape, axis, dtype):
    rng = np.random.default_rng(1)
    data = random_array(rng, shape, dtype, int_bound=3)
    x = K.placeholder((None,) + shape[1:], dtype=dtype)
    (s, p), refs = run_both([x], [K.cumsum(x, axis), K.cumprod(x, axis)], [data])
    tol = {"rtol": 2e-3, "atol": 2e-3} if dtype == "float16" else {}
    assert_close(s, np.cumsum(data, axis=axis, dtype=dtype), dtype, **tol)
    assert_close(p, np.cumprod(data, axis=axis, dtype=dtype), dtype, **tol)
    assert_close(refs[0], s, dtype, **tol)


def test_cumsum_defaults_and_errors():
    data = np.arange(6, dtype=np.float32).reshape(2, 3)
    assert_close(K.eval(K.cumsum(K.constant(data))), np.cumsum(data, axis=0))  # axis=0 default
    big = K.constant(np.full(3, 2**30, dtype=np.int32), dtype="int32")
    assert K.eval(K.cumsum(big)).dtype == np.int32  # keeps the dtype (TF)
    with pytest.raises(ShapeError, match="cumsum"):
        K.cumsum(K.constant([1.0]), axis=1)
    with pytest.raises(TypeError, match="bool"):
        K.cumsum(K.constant([True], dtype="bool"))
    with pytest.raises(ShapeError):
        K.cumprod(K.constant(1.0))


# -- size, pattern_broadcast, random variables ----------------------------------------------
def test_size_and_pattern_broadcast():
    x = K.placeholder((None, 3))
    f = K.function([x], [K.size(x)])
    assert f([np.zeros((5, 3))])[0] == 15
    assert f([np.zeros((0, 3))])[0] == 0
    assert K.dtype(K.size(x)) == "int32"
    y = K.pattern_broadcast(x, [True, False])
    assert K.int_shape(y) == (1, 3)
    assert_close(K.function([x], [y + K.zeros((4, 3))])([np.ones((1, 3))])[0], np.ones((4, 3)))
    with pytest.raises(ValueError, match="size"):
        K.function([x], [y])([np.ones((2, 3))])
    with pytest.raises(ShapeError, match="not 1"):
        K.pattern_broadcast(x, [False, True])


def test_random_variables():
    u = K.random_uniform_variable((200, 5), -1, 2, seed=4)
    n = K.random_normal_variable((4000,), 1.0, 3.0, dtype="float64", seed=5)
    assert K.is_variable(u) and K.dtype(u) == "float32" and K.dtype(n) == "float64"
    values = K.get_value(u)
    assert values.min() >= -1 and values.max() < 2
    assert_close(K.get_value(u), values)  # sampled once
    assert abs(K.get_value(n).mean() - 1.0) < 0.2 and abs(K.get_value(n).std() - 3.0) < 0.2
    again = K.random_uniform_variable((200, 5), -1, 2, seed=4)
    assert_close(K.get_value(again), values)  # same seed, same numbers


# -- padding and resizing -------------------------------------------------------------------
def test_paddings():
    rng = np.random.default_rng(2)
    a3 = rng.normal(size=(2, 3, 4)).astype(np.float32)
    x3 = K.placeholder((None, None, 4))
    (t,), _ = run_both([x3], [K.temporal_padding(x3, (2, 1))], [a3])
    assert_close(t, np.pad(a3, ((0, 0), (2, 1), (0, 0))))
    a4 = rng.normal(size=(2, 3, 4, 5)).astype(np.float32)
    x4 = K.placeholder((None, 3, 4, 5))
    pads = ((1, 0), (2, 3))
    (last, first), _ = run_both([x4], [K.spatial_2d_padding(x4, pads),
                                      K.spatial_2d_padding(x4, pads, "channels_first")], [a4])
    assert_close(last, np.pad(a4, ((0, 0), (1, 0), (2, 3), (0, 0))))
    assert_close(first, np.pad(a4, ((0, 0), (0, 0), (1, 0), (2, 3))))
    a5 = rng.normal(size=(1, 2, 2, 2, 3)).astype(np.float64)
    x5 = K.constant(a5, dtype="float64")
    p3 = ((0, 1), (1, 1), (2, 0))
    assert_close(K.eval(K.spatial_3d_padding(x5, p3)), np.pad(a5, ((0, 0),) + p3 + ((0, 0),)))
    assert_close(K.eval(K.spatial_3d_padding(x5, p3, "channels_first")),
                 np.pad(a5, ((0, 0), (0, 0)) + p3))
    assert K.int_shape(K.spatial_2d_padding(K.placeholder((None, None, 4, 1)))) == \
        (None, None, 6, 1)
    with pytest.raises(ShapeError, match="4-D"):
        K.spatial_2d_padding(x3)
    with pytest.raises(ShapeError, match="pairs"):
        K.spatial_2d_padding(x4, ((1, -1), (0, 0)))


def np_bilinear(img, fh, fw):
    """TF 2 half-pixel-centre bilinear resize of (N, H, W, C), written directly."""
    n, h, w, c = img.shape
    out = np.zeros((n, h * fh, w * fw, c))
    for i in range(h * fh):
        for j in range(w * fw):
            y = max((i + 0.5) / fh - 0.5, 0.0)
            x = max((j + 0.5) / fw - 0.5, 0.0)
            y0, x0 = min(int(np.floor(y)), h - 1), min(int(np.floor(x)), w - 1)
            y1, x1 = min(y0 + 1, h - 1), min(x0 + 1, w - 1)
            dy, dx = y - np.floor(y), x - np.floor(x)
            top = img[:, y0, x0] * (1 - dx) + img[:, y0, x1] * dx
            bottom = img[:, y1, x0] * (1 - dx) + img[:, y1, x1] * dx
            out[:, i, j] = top * (1 - dy) + bottom * dy
    return out


@pytest.mark.parametrize("fmt", ["channels_last", "channels_first"])
def test_resize_images(fmt):
    rng = np.random.default_rng(3)
    img = rng.normal(size=(2, 3, 4, 2)).astype(np.float32)
    data = img if fmt == "channels_last" else img.transpose(0, 3, 1, 2)
    shape = (None, 3, 4, 2) if fmt == "channels_last" else (None, 2, 3, 4)
    x = K.placeholder(shape)
    (near, bil), (near_ref, bil_ref) = run_both(
        [x], [K.resize_images(x, 2, 3, fmt), K.resize_images(x, 2, 3, fmt, "bilinear")], [data])
    expect_near = img.repeat(2, axis=1).repeat(3, axis=2)
    expect_bil = np_bilinear(img.astype(np.float64), 2, 3).astype(np.float32)
    if fmt == "channels_first":
        expect_near = expect_near.transpose(0, 3, 1, 2)
        expect_bil = expect_bil.transpose(0, 3, 1, 2)
    assert_close(near, expect_near)
    assert_close(bil, expect_bil, rtol=1e-5, atol=1e-5)
    assert_close(bil_ref, expect_bil, rtol=1e-5, atol=1e-5)
    with pytest.raises(ValueError, match="interpolation"):
        K.resize_images(x, 2, 2, fmt, "cubic")
    with pytest.raises(ShapeError, match="positive"):
        K.resize_images(x, 0, 2, fmt)


def test_resize_volumes():
    a = np.arange(2 * 2 * 3 * 1 * 2, dtype=np.float32).reshape(2, 2, 3, 1, 2)
    x = K.placeholder((None, 2, 3, 1, 2))
    out = K.function([x], [K.resize_volumes(x, 2, 1, 3, "channels_last")])([a])[0]
    assert_close(out, a.repeat(2, 1).repeat(1, 2).repeat(3, 3))
    cf = K.eval(K.resize_volumes(K.constant(a), 1, 2, 2, "channels_first"))
    assert_close(cf, a.repeat(2, 3).repeat(2, 4))


# -- normalization, bias, dropout -------------------------------------------------------------
def test_batch_normalization_axis_rules():
    rng = np.random.default_rng(4)
    x4 = rng.normal(size=(2, 3, 4, 5))
    mean, var = rng.normal(size=3), rng.uniform(0.5, 2, size=3)
    beta, gamma = rng.normal(size=3), rng.normal(size=3)
    out = K.eval(K.batch_normalization(K.constant(x4, dtype="float64"), mean, var, beta, gamma,
                                       axis=1, epsilon=1e-3))
    b = (slice(None), None, None)
    expected = (x4 - mean[b]) / np.sqrt(var[b] + 1e-3) * gamma[b] + beta[b]
    assert_close(out, expected)
    # rank 3: statistics broadcast from the right whatever axis says
    x3 = rng.normal(size=(2, 4, 3)).astype(np.float32)
    out3 = K.eval(K.batch_normalization(K.constant(x3), K.constant(mean), K.constant(var),
                                        None, None, axis=1))
    assert_close(out3, (x3 - mean) / np.sqrt(var + 1e-3), rtol=1e-5)
    with pytest.raises(ShapeError, match="batch_normalization"):
        K.batch_normalization(K.constant(x3), K.zeros((4,)), K.ones((4,)), None, None, axis=1)


def test_normalize_batch_in_training():
    rng = np.random.default_rng(5)
    data = rng.normal(size=(6, 4, 3)).astype(np.float32)
    gamma, beta = rng.normal(size=3).astype(np.float32), rng.normal(size=3).astype(np.float32)
    x = K.placeholder((None, 4, 3))
    normed, mean, var = K.normalize_batch_in_training(x, K.constant(gamma), K.constant(beta),
                                                      [0, 1], epsilon=1e-3)
    assert K.int_shape(mean) == (3,) and K.int_shape(normed) == (None, 4, 3)
    n, m, v = K.function([x], [normed, mean, var])([data])
    assert_close(m, data.mean(axis=(0, 1)), rtol=1e-5)
    assert_close(v, data.var(axis=(0, 1)), rtol=1e-4)
    assert_close(n, (data - m) / np.sqrt(v + 1e-3) * gamma + beta, rtol=1e-4, atol=1e-5)
    # reduction over axes other than "all but last": statistics keep the other dims
    n2, m2, v2 = K.normalize_batch_in_training(K.constant(data), None, None, [0, 2])
    assert K.int_shape(m2) == (4,)
    assert_close(K.eval(m2), data.mean(axis=(0, 2)), rtol=1e-5)
    assert_close(K.eval(n2), (data - data.mean(axis=(0, 2), keepdims=True)) /
                 np.sqrt(data.var(axis=(0, 2), keepdims=True) + 1e-3), rtol=1e-4, atol=1e-5)


def test_bias_add():
    rng = np.random.default_rng(6)
    x = rng.normal(size=(2, 3, 4)).astype(np.float32)
    b1 = rng.normal(size=4).astype(np.float32)
    b1f = rng.normal(size=3).astype(np.float32)
    bfull = rng.normal(size=(3, 4)).astype(np.float32)
    t = K.placeholder((None, 3, 4))
    outs = [K.bias_add(t, K.constant(b1)), K.bias_add(t, K.constant(b1f), "channels_first"),
            K.bias_add(t, K.constant(bfull)), K.bias_add(t, K.constant(bfull.T),
                                                         "channels_first")]
    got, _ = run_both([t], outs, [x])
    assert_close(got[0], x + b1)
    assert_close(got[1], x + b1f[None, :, None])
    assert_close(got[2], x + bfull)
    assert_close(got[3], x + bfull.T.reshape(3, 4))  # TF 2.2 reshapes, never transposes
    # what tf_keras (TF 2.2's code) gives for a (spatial..., channels) bias, channels_first
    bias = np.arange(24, dtype=np.float32).reshape(3, 4, 2)
    out = K.eval(K.bias_add(K.zeros((1, 2, 3, 4)), K.constant(bias), "channels_first"))
    assert_close(out[0], bias.reshape(2, 3, 4))
    with pytest.raises(ShapeError, match="channels"):
        K.bias_add(t, K.zeros((5,)))
    with pytest.raises(ShapeError, match="bias rank"):
        K.bias_add(t, K.zeros((1, 1, 4)))


def test_dropout_statistics_and_noise_shape():
    x = K.placeholder((None, 200))
    y = K.dropout(x, 0.3, seed=7)
    f = K.function([x], [y])
    ones = np.ones((50, 200), dtype=np.float32)
    a, b = f([ones])[0], f([ones])[0]
    assert set(np.unique(a)) <= {0.0, np.float32(1 / 0.7)}
    assert abs((a == 0).mean() - 0.3) < 0.02
    assert not np.array_equal(a, b)  # a new mask each call
    again = K.function([x], [K.dropout(x, 0.3, seed=7)])([ones])[0]
    assert np.array_equal(again, a)  # same seed, same first mask
    shared = K.function([x], [K.dropout(x, 0.5, noise_shape=(None, 1), seed=1)])([ones])[0]
    assert all(len(set(row)) == 1 for row in shared)  # one decision per row
    assert_close(K.eval(K.dropout(K.ones((3,)), 0.0)), np.ones(3))
    with pytest.raises(ValueError, match="level"):
        K.dropout(x, 1.0)
    with pytest.raises(ShapeError, match="noise_shape"):
        K.dropout(x, 0.5, noise_shape=(None, 3))
