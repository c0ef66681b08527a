"""Gradients of the convolution and pooling functions: central finite differences in
float64 of ``sum(f(inputs) * p)`` (p random) against ``K.gradients``, computed in one
``K.function`` with the forward pass; second order through the backward ops; the
backward ops' kernels against their NumPy references; max-pool tie rule."""

import numpy as np
import pytest

import symgraph.backend as K
from symgraph.backend._conv import (
    conv1d,
    conv2d,
    conv2d_transpose,
    conv3d,
    conv3d_transpose,
    depthwise_conv2d,
    local_conv1d,
    local_conv2d,
    pool2d,
    pool3d,
    separable_conv1d,
    separable_conv2d,
)
from symgraph.errors import ShapeError
from symgraph.ops import conv_grad, pool_grad
from tests.helpers import assert_close, run_both

H = 1e-6
CL, CF = "channels_last", "channels_first"


def _numeric_grad(loss, values, i):
    """Central differences of ``loss(values)`` with respect to ``values[i]``."""
    flat = values[i].reshape(-1)  # a view: perturb in place
    out = np.zeros(flat.size)
    for j in range(flat.size):
        old = flat[j]
        flat[j] = old + H
        plus = loss(values)
        flat[j] = old - H
        minus = loss(values)
        flat[j] = old
        out[j] = (plus - minus) / (2 * H)
    return out.reshape(values[i].shape)


def check_gradients(build, values, batch_free=(0,), rtol=1e-6, atol=3e-8, seed=0):
    """FD-check ``K.gradients(sum(build(*phs) * p), phs)``; the inputs listed in
    ``batch_free`` are placeholders with a None batch dim (fed at run time)."""
    rng = np.random.default_rng(seed)
    values = [np.array(v, dtype=np.float64) for v in values]
    phs = [K.placeholder(shape=(None,) + v.shape[1:] if i in batch_free else v.shape,
                         dtype="float64") for i, v in enumerate(values)]
    y = build(*phs)
    forward = K.function(phs, [y])
    y_value = forward(values)[0]
    p = K.placeholder(shape=y.shape, dtype="float64")
    p_value = rng.normal(size=y_value.shape)
    grads = K.gradients(K.sum(y * p), phs)
    present = [g for g in grads if g is not None]
    both = K.function(phs + [p], [y] + present)(values + [p_value])  # one function
    assert_close(both[0], y_value)
    got = iter(both[1:])

    def loss(vals):
        return float(np.sum(forward(vals)[0] * p_value))

    for i, (ph, g) in enumerate(zip(phs, grads)):
        numeric = _numeric_grad(loss, values, i)
        if g is None:  # no dependence (e.g. a gradient reads its input's shape only)
            np.testing.assert_allclose(numeric, 0, atol=atol)
            continue
        assert g.shape == ph.shape, (g.shape, ph.shape)
        np.testing.assert_allclose(next(got), numeric, rtol=rtol, atol=atol,
                                   err_msg=f"gradient of input {i}")


def _normal(shape, seed=1):
    return np.random.default_rng(seed).normal(size=shape)


def _distinct(shape, seed=2):
    """Values 0.05 apart (no max-pool ties within many H), shuffled, plus negatives."""
    rng = np.random.default_rng(seed)
    n = int(np.prod(shape))
    return (rng.permutation(n) * 0.05 - n * 0.02).reshape(shape)


def _x(fmt, batch, spatial, channels, seed=1):
    shape = (batch, *spatial, channels) if fmt == CL else (batch, channels, *spatial)
    return _normal(shape, seed)


# -- convolutions ---------------------------------------------------------------------------------
CONV1D = [(fmt, pad, s, d) for fmt in (CL, CF) for pad in ("valid", "same")
          for s, d in ((1, 1), (2, 1), (1, 2))] + [(CL, "causal", 1, 1), (CL, "causal", 2, 1),
                                                   (CL, "causal", 1, 2), (CL, "same", 2, 2)]


@pytest.mark.parametrize("fmt,padding,stride,dilation", CONV1D)
def test_conv1d(fmt, padding, stride, dilation):
    check_gradients(lambda x, k: conv1d(x, k, stride, padding, fmt, dilation),
                    [_x(fmt, 2, (7,), 2), _normal((3, 2, 3), 3)])


CONV2D = [(fmt, pad, s, d) for fmt in (CL, CF) for pad in ("valid", "same")
          for s, d in ((1, 1), (2, 1), (1, 2))] + [(CF, "valid", 2, 2)]


@pytest.mark.parametrize("fmt,padding,stride,dilation", CONV2D)
def test_conv2d(fmt, padding, stride, dilation):
    check_gradients(lambda x, k: conv2d(x, k, stride, padding, fmt, dilation),
                    [_x(fmt, 2, (6, 5), 2), _normal((3, 2, 2, 3), 3)])


@pytest.mark.parametrize("fmt,padding,stride,dilation", [
    (CL, "valid", 1, 1), (CF, "same", 2, 1), (CL, "same", 1, 2), (CF, "valid", 1, 2)])
def test_conv3d(fmt, padding, stride, dilation):
    check_gradients(lambda x, k: conv3d(x, k, stride, padding, fmt, dilation),
                    [_x(fmt, 1, (4, 5, 3), 2), _normal((2, 2, 1, 2, 2), 3)])


@pytest.mark.parametrize("fmt,padding,stride,dilation", [
    (fmt, pad, s, d) for fmt in (CL, CF) for pad in ("valid", "same")
    for s, d in ((1, 1), (2, 1), (1, 2))])
def test_conv2d_transpose(fmt, padding, stride, dilation):
    spatial = (5, 6) if stride == 1 or padding == "same" else (7, 8)
    target = (None, *spatial, 2) if fmt == CL else (None, 2, *spatial)
    probe = K.placeholder(shape=target)  # the input size that conv2d maps target to
    back = K.int_shape(conv2d(probe, K.zeros((3, 2, 2, 3)), stride, padding, fmt, dilation))
    x_spatial = back[1:3] if fmt == CL else back[2:]
    check_gradients(
        lambda x, k: conv2d_transpose(x, k, target, stride, padding, fmt, dilation),
        [_x(fmt, 2, x_spatial, 3), _normal((3, 2, 2, 3), 3)])


@pytest.mark.parametrize("fmt,padding,stride", [(CL, "valid", 1), (CF, "same", 2),
                                                (CL, "same", 2)])
def test_conv3d_transpose(fmt, padding, stride):
    spatial = (3, 4, 4)
    x_spatial = tuple(-(-n // stride) for n in spatial) if padding == "same" else \
        tuple((n - k) // stride + 1 for n, k in zip(spatial, (2, 2, 1)))
    target = (None, *spatial, 2) if fmt == CL else (None, 2, *spatial)
    check_gradients(lambda x, k: conv3d_transpose(x, k, target, stride, padding, fmt),
                    [_x(fmt, 1, x_spatial, 2), _normal((2, 2, 1, 2, 2), 3)])


@pytest.mark.parametrize("fmt,padding,stride,dilation,mult", [
    (CL, "valid", 1, 1, 1), (CF, "valid", 1, 1, 2), (CL, "same", 2, 1, 2),
    (CF, "same", 2, 1, 1), (CL, "same", 1, 2, 2), (CF, "valid", 1, 2, 1)])
def test_depthwise_conv2d(fmt, padding, stride, dilation, mult):
    check_gradients(lambda x, k: depthwise_conv2d(x, k, stride, padding, fmt, dilation),
                    [_x(fmt, 2, (5, 6), 2), _normal((3, 2, 2, mult), 3)])


@pytest.mark.parametrize("fmt,padding,stride,dilation", [
    (CL, "valid", 1, 1), (CF, "same", 2, 1), (CL, "same", 1, 2)])
def test_separable_conv1d(fmt, padding, stride, dilation):
    check_gradients(
        lambda x, d, p: separable_conv1d(x, d, p, stride, padding, fmt, dilation),
        [_x(fmt, 2, (7,), 2), _normal((3, 2, 2), 3), _normal((1, 4, 3), 4)])


@pytest.mark.parametrize("fmt,padding,stride,dilation", [
    (CF, "valid", 1, 1), (CL, "same", 2, 1), (CF, "same", 1, 2)])
def test_separable_conv2d(fmt, padding, stride, dilation):
    check_gradients(
        lambda x, d, p: separable_conv2d(x, d, p, stride, padding, fmt, dilation),
        [_x(fmt, 2, (5, 5), 2), _normal((2, 3, 2, 2), 3), _normal((1, 1, 4, 2), 4)])


@pytest.mark.parametrize("fmt,stride", [(CL, 1), (CF, 1), (CL, 2), (CF, 2)])
def test_local_conv1d(fmt, stride):
    steps = (7 - 3) // stride + 1
    check_gradients(lambda x, k: local_conv1d(x, k, (3,), (stride,), fmt),
                    [_x(fmt, 2, (7,), 2), _normal((steps, 6, 2), 3)])


@pytest.mark.parametrize("fmt,stride", [(CL, 1), (CF, 1), (CL, 2), (CF, 2)])
def test_local_conv2d(fmt, stride):
    out = ((5 - 2) // stride + 1, (6 - 2) // stride + 1)
    check_gradients(lambda x, k: local_conv2d(x, k, (2, 2), (stride, stride), out, fmt),
                    [_x(fmt, 2, (5, 6), 2), _normal((out[0] * out[1], 8, 2), 3)])


# -- pooling ---------------------------------------------------------------------------------------
POOL2D = [(fmt, pad, s, mode) for fmt in (CL, CF) for pad in ("valid", "same")
          for s in (1, 2) for mode in ("max", "avg")]


@pytest.mark.parametrize("fmt,padding,stride,mode", POOL2D)
def test_pool2d(fmt, padding, stride, mode):
    shape = (2, 5, 6, 2) if fmt == CL else (2, 2, 5, 6)
    check_gradients(lambda x: pool2d(x, (3, 2), stride, padding, fmt, mode),
                    [_distinct(shape)])


@pytest.mark.parametrize("fmt,padding,stride,mode", [
    (CL, "valid", 1, "max"), (CF, "same", 2, "max"), (CL, "same", 2, "avg"),
    (CF, "valid", 1, "avg")])
def test_pool3d(fmt, padding, stride, mode):
    shape = (1, 4, 3, 5, 2) if fmt == CL else (1, 2, 4, 3, 5)
    check_gradients(lambda x: pool3d(x, (2, 2, 3), stride, padding, fmt, mode),
                    [_distinct(shape)])


def test_max_pool_ties_go_to_the_first_max():
    """TF's rule: the first maximum of a window (row-major) takes the whole gradient;
    padded positions never win, even when every real entry is very negative."""
    x = K.placeholder(shape=(None, 3, 3, 1), dtype="float64")
    y = pool2d(x, (2, 2), (1, 1), "valid", CL, "max")
    (g,) = K.gradients(K.sum(y), [x])
    value = np.array([[1.0, 1.0, 0.0], [1.0, 1.0, 2.0], [0.0, 2.0, 2.0]])[None, :, :, None]
    got = K.function([x], [g])([value])[0][0, :, :, 0]
    # windows: (0,0) -> ties at (0,0),(0,1),(1,0),(1,1): first (0,0); (0,1) -> max 2 at (1,2);
    # (1,0) -> max 2 at (2,1); (1,1) -> ties 2 at (1,2),(2,1),(2,2): first (1,2)
    np.testing.assert_array_equal(got, [[1, 0, 0], [0, 0, 2], [0, 1, 0]])

    z = K.placeholder(shape=(1, 3, 3, 1), dtype="float64")
    (gz,) = K.gradients(K.sum(pool2d(z, (2, 2), (2, 2), "same", CL, "max")), [z])
    got = K.function([z], [gz])([np.full((1, 3, 3, 1), -1e300)])[0][0, :, :, 0]
    np.testing.assert_array_equal(got, [[1, 0, 1], [0, 0, 0], [1, 0, 1]])


def test_avg_pool_same_divides_by_valid_entries():
    x = K.placeholder(shape=(None, 3, 1), dtype="float64")  # pool1d through pool2d rows
    x4 = K.reshape(x, (-1, 3, 1, 1))
    (g,) = K.gradients(K.sum(pool2d(x4, (2, 1), (2, 1), "same", CL, "avg")), [x])
    got = K.function([x], [g])([np.zeros((1, 3, 1))])[0][0, :, 0]
    np.testing.assert_allclose(got, [0.5, 0.5, 1.0])  # windows [0,1] and [2] (+pad)


# -- second order ----------------------------------------------------------------------------------
def _grad_of(build, wrt):
    """``build(*args) -> (y, p)`` wrapper: d sum(y * p) / d args[wrt]."""
    def run(*args):
        y = build(*args)
        return K.gradients(K.sum(y * args[-1]), [args[wrt]])[0]
    return run


@pytest.mark.parametrize("wrt", [0, 1])
@pytest.mark.parametrize("fmt,padding,stride", [(CL, "same", 2), (CF, "valid", 1)])
def test_conv2d_second_order(fmt, padding, stride, wrt):
    x = _x(fmt, 2, (5, 4), 2)
    p = _x(fmt, 2, (3, 2), 3, seed=5)  # both cases give a 3x2 output
    check_gradients(_grad_of(lambda a, k, q: conv2d(a, k, stride, padding, fmt), wrt),
                    [x, _normal((3, 3, 2, 3), 3), p], batch_free=(0, 2))


@pytest.mark.parametrize("wrt", [0, 1])
def test_conv1d_causal_second_order(wrt):
    check_gradients(_grad_of(lambda a, k, q: conv1d(a, k, 1, "causal", CL, 2), wrt),
                    [_x(CL, 2, (6,), 2), _normal((2, 2, 3), 3), _x(CL, 2, (6,), 3, 5)],
                    batch_free=(0, 2))


@pytest.mark.parametrize("wrt", [0, 1])
def test_conv2d_transpose_second_order(wrt):
    check_gradients(
        _grad_of(lambda a, k, q: conv2d_transpose(a, k, (None, 5, 5, 2), 2, "same", CL), wrt),
        [_x(CL, 2, (3, 3), 3), _normal((2, 2, 2, 3), 3), _x(CL, 2, (5, 5), 2, 5)],
        batch_free=(0, 2))


@pytest.mark.parametrize("wrt", [0, 1])
def test_depthwise_second_order(wrt):
    check_gradients(
        _grad_of(lambda a, k, q: depthwise_conv2d(a, k, 2, "same", CF), wrt),
        [_x(CF, 2, (5, 4), 2), _normal((2, 3, 2, 2), 3), _x(CF, 2, (3, 2), 4, 5)],
        batch_free=(0, 2))


@pytest.mark.parametrize("wrt", [0, 1])
def test_local_conv_second_order(wrt):
    check_gradients(
        _grad_of(lambda a, k, q: local_conv2d(a, k, (2, 2), (2, 1), (2, 3), CF), wrt),
        [_x(CF, 2, (4, 4), 2), _normal((6, 8, 2), 3), _x(CF, 2, (2, 3), 2, 5)],
        batch_free=(0, 2))


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pool_second_order(mode):
    # d/dx of max_pool_grad is zero (routing is piecewise constant), d/dp is the gather
    check_gradients(
        _grad_of(lambda a, q: pool2d(a, (2, 3), (2, 1), "same", CL, mode), 0),
        [_distinct((2, 5, 4, 2)), _normal((2, 3, 4, 2), 5)], batch_free=(0, 1))


def test_max_pool_third_order():
    """The gather op's own gradient is max_pool_grad again."""
    def build(a, q, v):
        y = pool2d(a, (2, 2), (2, 2), "valid", CF, "max")
        gx = K.gradients(K.sum(y * q), [a])[0]
        return K.gradients(K.sum(gx * v), [q])[0]
    check_gradients(build, [_distinct((1, 2, 4, 4)), _normal((1, 2, 2, 2), 5),
                            _normal((1, 2, 4, 4), 6)], batch_free=(0, 1, 2))


# -- the backward ops: kernels vs references, dtypes, run-time shapes -----------------------------
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("fmt", [CL, CF])
def test_backward_kernels_match_references(dtype, fmt):
    rng = np.random.default_rng(7)
    shape = (None, 6, 5, 2) if fmt == CL else (None, 2, 6, 5)
    x = K.placeholder(shape=shape, dtype=dtype)
    k = K.placeholder(shape=(3, 2, 2, 3), dtype=dtype)
    dk = K.placeholder(shape=(2, 3, 2, 2), dtype=dtype)
    lk = K.placeholder(shape=(6, 8, 2), dtype=dtype)
    outs = [conv2d(x, k, 2, "same", fmt, 1), conv2d(x, k, 1, "valid", fmt, 2),
            depthwise_conv2d(x, dk, 2, "same", fmt), local_conv2d(x, lk, (2, 2), (2, 1),
                                                                 (3, 2), fmt),
            pool2d(x, (3, 2), (2, 2), "same", fmt, "max"),
            pool2d(x, (2, 2), (1, 2), "same", fmt, "avg")]
    loss = sum(K.sum(K.square(y)) for y in outs)
    grads = K.gradients(loss, [x, k, dk, lk])
    second = K.gradients(K.sum(K.square(grads[0])), [k, dk, lk])
    values = [rng.normal(size=(3,) + shape[1:]).astype(dtype)] + [
        rng.normal(size=t.shape).astype(dtype) for t in (k, dk, lk)]
    compiled, ref = run_both([x, k, dk, lk], grads + second, values)
    for c, r in zip(compiled, ref):
        assert_close(c, r, dtype=dtype, rtol=1e-4 if dtype == "float32" else 1e-10,
                     atol=1e-4 if dtype == "float32" else 1e-10)


def test_backward_ops_float16_and_empty_batch():
    x = K.placeholder(shape=(None, 4, 4, 2), dtype="float16")
    k = K.placeholder(shape=(2, 2, 2, 1), dtype="float16")
    y = conv2d(x, k, 1, "same") + pool2d(x[..., :1], (2, 2), (1, 1), "same", CL, "max")
    gx, gk = K.gradients(K.sum(y), [x, k])
    f = K.function([x, k], [gx, gk])
    xv = np.random.default_rng(0).normal(size=(2, 4, 4, 2)).astype("float16")
    kv = np.ones((2, 2, 2, 1), "float16")
    ax, ak = f([xv, kv])
    assert ax.dtype == np.float16 and ak.dtype == np.float16
    # 'same' with a 2x2 kernel pads at the bottom/right only, so offset (0, 0) meets every
    # input position: dk[0, 0, c, 0] is the sum of channel c
    np.testing.assert_allclose(ak[0, 0, :, 0], xv.astype(np.float64).sum(axis=(0, 1, 2)),
                               rtol=1e-2)
    ex, ek = f([np.zeros((0, 4, 4, 2), "float16"), kv])
    assert ex.shape == (0, 4, 4, 2) and not ek.any()


def test_unknown_spatial_dims_at_build_time():
    x = K.placeholder(shape=(None, None, None, 2), dtype="float64")
    k = K.placeholder(shape=(3, 3, 2, 2), dtype="float64")
    y = pool2d(conv2d(x, k, 2, "same"), (2, 2), (2, 2), "same", CL, "avg")
    gx, gk = K.gradients(K.sum(y), [x, k])
    assert K.int_shape(gx) == (None, None, None, 2) and K.int_shape(gk) == (3, 3, 2, 2)
    f = K.function([x, k], [gx, gk])
    for shape in ((1, 5, 7, 2), (2, 4, 4, 2)):
        xv = np.random.default_rng(1).normal(size=shape)
        ax, ak = f([xv, np.ones((3, 3, 2, 2))])
        assert ax.shape == shape and ak.shape == (3, 3, 2, 2)


def test_mismatched_gradient_shape_is_a_shape_error():
    x = K.placeholder(shape=(None, 5, 5, 2), dtype="float64")
    k = K.placeholder(shape=(3, 3, 2, 4), dtype="float64")
    y = conv2d(x, k)
    with pytest.raises(ShapeError, match="conv_input_grad"):
        conv_grad.conv_input_grad(K.zeros((1, 4, 4, 4), dtype="float64"), k, x, y.attrs)


@pytest.mark.parametrize("chunk_bytes", [1, 3000])
@pytest.mark.parametrize("fmt", [CL, CF])
def test_im2col_in_groups_of_images_matches_references(monkeypatch, chunk_bytes, fmt):
    """im2col columns are built a few images at a time (``conv.COLUMN_CHUNK_BYTES``):
    one image per group (1 byte) and uneven groups (3000 bytes: 2 of 5 images for the
    2-D layer) must give the references' forward pass and both gradients, for 1-3
    spatial dims, strides, dilations and paddings, with more than three input channels
    (fewer take the tap-major route)."""
    from symgraph.ops import conv

    monkeypatch.setattr(conv, "COLUMN_CHUNK_BYTES", chunk_bytes)
    rng = np.random.default_rng(11)
    causal = "causal" if fmt == CL else "same"  # causal padding is channels_last only
    cases = [(conv1d, (9,), (3, 5, 4), dict(strides=2, padding=causal, dilation_rate=2)),
             (conv2d, (6, 5), (3, 2, 5, 3), dict(strides=(2, 1), padding="same",
                                                  dilation_rate=(1, 1))),
             (conv2d, (7, 6), (2, 2, 5, 4), dict(strides=(1, 1), padding="valid",
                                                  dilation_rate=(2, 2))),
             (conv3d, (4, 4, 3), (2, 2, 2, 5, 2), dict(strides=(1, 2, 1), padding="same",
                                                        dilation_rate=(1, 1, 1)))]
    for fn, spatial, kshape, kw in cases:
        K.clear_session()
        shape = (None, *spatial, 5) if fmt == CL else (None, 5, *spatial)
        x = K.placeholder(shape=shape, dtype="float64")
        k = K.placeholder(shape=kshape, dtype="float64")
        y = fn(x, k, data_format=fmt, **kw)
        loss = K.sum(K.square(y))
        values = [rng.normal(size=(5,) + shape[1:]), rng.normal(size=kshape)]
        compiled, ref = run_both([x, k], [y, *K.gradients(loss, [x, k])], values)
        for c, r in zip(compiled, ref):
            assert_close(c, r, dtype="float64", rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("pool, strides, padding, spatial", [
    ((2, 2), (2, 2), "valid", (6, 5)), ((3, 3), (1, 1), "same", (5, 6)),
    ((3, 2), (2, 1), "same", (7, 4)), ((3,), (2,), "same", (9,)),
    ((2, 2, 2), (1, 2, 1), "valid", (3, 4, 3))])
def test_tier_zero_max_pool_gradients_choose_the_compiled_kernels_maxima(
        dtype, pool, strides, padding, spatial):
    """The strided NumPy max-pool gradient and gather of tier 0 pick the same first
    maximum as the numba kernels: ties (few distinct values), windows of -inf, NaNs,
    overlapping windows and padding; sums over overlapping windows agree to rounding."""
    rng = np.random.default_rng(3)
    x = rng.integers(0, 3, size=(2, *spatial, 3)).astype(dtype)  # many ties
    x[0, ..., 0] = -np.inf
    x.reshape(-1)[::7] = np.nan
    out, _ = conv_grad._plan(spatial, pool, strides, (1,) * len(pool), padding)
    g = rng.normal(size=(2, *out, 3)).astype(dtype)
    h = rng.normal(size=x.shape).astype(dtype)
    args = (pool, strides, padding)
    np.testing.assert_allclose(pool_grad.max_pool_grad_strided(x, g, *args),
                               pool_grad.max_pool_grad_channels_last(x, g, *args),
                               rtol=1e-6, atol=1e-6)
    np.testing.assert_array_equal(pool_grad.max_pool_gather_strided(x, h, *args),
                                  pool_grad.max_pool_gather_channels_last(x, h, *args))
