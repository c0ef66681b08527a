"""Shape ops, indexing, dot and batch_dot against NumPy, with static shapes checked."""

import numpy as np
import pytest

import symgraph.backend as K
from symgraph.errors import ShapeError
from tests.helpers import assert_close, run_both

RNG = np.random.default_rng(2)


def _check(inputs, out, feeds, expected):
    """Compiled == reference == expected, and the static shape matches where known."""
    static = K.int_shape(out)
    assert len(static) == expected.ndim
    assert all(s is None or s == e for s, e in zip(static, expected.shape)), (static,
                                                                              expected.shape)
    (got,), (ref,) = run_both(inputs, [out], feeds)
    assert_close(got, expected)
    assert_close(ref, expected)


CASES = [  # (name, static input shape, fed shape, K builder, NumPy builder)
    ("reshape", (None, 3, 4), (2, 3, 4), lambda x: K.reshape(x, (-1, 12)),
     lambda a: a.reshape(-1, 12)),
    ("reshape_shape_entry", (None, 3, 4), (5, 3, 4),
     lambda x: K.reshape(x, (K.shape(x)[0], 4, 3)), lambda a: a.reshape(a.shape[0], 4, 3)),
    ("reshape_transposed", (None, 3), (4, 3), lambda x: K.reshape(K.transpose(x), (3, 2, -1)),
     lambda a: a.T.reshape(3, 2, -1)),
    ("flatten", (None, 3, 4), (2, 3, 4), K.flatten, lambda a: a.reshape(-1)),
    ("batch_flatten", (None, 3, 4), (2, 3, 4), K.batch_flatten, lambda a: a.reshape(2, 12)),
    ("expand_dims", (None, 3), (2, 3), K.expand_dims, lambda a: a[..., None]),
    ("expand_dims_0", (None, 3), (2, 3), lambda x: K.expand_dims(x, 0), lambda a: a[None]),
    ("expand_dims_neg", (None, 3), (2, 3), lambda x: K.expand_dims(x, -2),
     lambda a: a[:, None, :]),
    ("squeeze", (None, 1, 3), (2, 1, 3), lambda x: K.squeeze(x, 1), lambda a: a[:, 0]),
    ("squeeze_neg", (None, 3, 1), (2, 3, 1), lambda x: K.squeeze(x, -1), lambda a: a[..., 0]),
    ("transpose", (None, 3, 4), (2, 3, 4), K.transpose, lambda a: a.T),
    ("permute", (None, 3, 4), (2, 3, 4), lambda x: K.permute_dimensions(x, (2, 0, 1)),
     lambda a: a.transpose(2, 0, 1)),
    ("concat", (None, 3), (2, 3), lambda x: K.concatenate([x, x * 2], axis=-1),
     lambda a: np.concatenate([a, a * 2], -1)),
    ("concat_0", (None, 3), (2, 3), lambda x: K.concatenate([x, x[:1]], axis=0),
     lambda a: np.concatenate([a, a[:1]], 0)),
    ("stack", (None, 3), (2, 3), lambda x: K.stack([x, -x]), lambda a: np.stack([a, -a])),
    ("stack_1", (None, 3), (2, 3), lambda x: K.stack([x, -x], axis=1),
     lambda a: np.stack([a, -a], 1)),
    ("stack_last", (None, 3), (2, 3), lambda x: K.stack([x, -x], axis=-1),
     lambda a: np.stack([a, -a], -1)),
    ("tile", (None, 3), (2, 3), lambda x: K.tile(x, (2, 3)), lambda a: np.tile(a, (2, 3))),
    ("tile_1d", (3,), (3,), lambda x: K.tile(x, 2), lambda a: np.tile(a, 2)),
    ("repeat_elements", (None, 3), (2, 3), lambda x: K.repeat_elements(x, 2, 1),
     lambda a: np.repeat(a, 2, 1)),
    ("repeat_elements_0", (None, 3), (2, 3), lambda x: K.repeat_elements(x, 3, 0),
     lambda a: np.repeat(a, 3, 0)),
    ("repeat", (None, 3), (2, 3), lambda x: K.repeat(x, 4),
     lambda a: np.repeat(a[:, None, :], 4, 1)),
    ("slice", (None, 5), (3, 5), lambda x: x[:, 1:3], lambda a: a[:, 1:3]),
    ("slice_newaxis", (None, 5), (3, 5), lambda x: x[..., None], lambda a: a[..., None]),
    ("slice_negative", (None, 5), (3, 5), lambda x: x[-1, -2:], lambda a: a[-1, -2:]),
    ("slice_steps", (None, 5), (4, 5), lambda x: x[::2, ::-2], lambda a: a[::2, ::-2]),
    ("slice_then_math", (None, 5), (4, 5), lambda x: K.exp(x[1:, ::-1]) + x[:-1, :],
     lambda a: np.exp(a[1:, ::-1]) + a[:-1, :]),
]


SHAPE_CASES = [pytest.param(*c, dtype, id=f"{c[0]}-{dtype}") for c in CASES
               for dtype in ("float32", "int32")
               if not (dtype == "int32" and c[0] == "slice_then_math")]  # exp of ints is float


@pytest.mark.parametrize("name, static, fed, build, ref, dtype", SHAPE_CASES)
def test_shape_ops_match_numpy(name, static, fed, build, ref, dtype):
    data = (RNG.normal(size=fed) * 5).astype(dtype)
    x = K.placeholder(static, dtype=dtype)
    out = build(x)
    assert K.dtype(out) == dtype
    _check([x], out, [data], np.asarray(ref(data)))


@pytest.mark.parametrize("name, static, fed, build, ref",
                         [c for c in CASES if c[1][0] is None and c[0] not in (
                             "squeeze", "squeeze_neg", "slice_negative")],
                         ids=lambda v: v if isinstance(v, str) else "")
def test_shape_ops_with_another_and_an_empty_batch(name, static, fed, build, ref):
    x = K.placeholder(static)
    f = K.function([x], [build(x)])
    for n in (1, 6, 0):
        if name in ("batch_flatten",):
            data = RNG.normal(size=(n,) + fed[1:]).astype("float32")
            expected = data.reshape(n, int(np.prod(fed[1:])))
        else:
            data = RNG.normal(size=(n,) + fed[1:]).astype("float32")
            try:
                expected = np.asarray(ref(data))
            except (ValueError, IndexError):
                continue
        (got,) = f([data])
        assert_close(got, expected)


def test_shape_of_reads_run_time_dims():
    x = K.placeholder((None, None, 3))
    s = K.shape(x)
    assert K.int_shape(s) == (3,) and K.dtype(s) == "int32"
    (got,) = K.function([x], [s])([np.zeros((4, 2, 3))])
    np.testing.assert_array_equal(got, [4, 2, 3])
    np.testing.assert_array_equal(K.function([x], [s[0] * 2])([np.zeros((5, 1, 3))])[0], 10)


def test_squeeze_checks_the_axis():
    with pytest.raises(ShapeError, match="squeeze"):
        K.squeeze(K.placeholder((2, 3)), 1)
    x = K.placeholder((None, None))
    f = K.function([x], [K.squeeze(x, 0)])
    np.testing.assert_array_equal(f([np.ones((1, 3))])[0], [1, 1, 1])
    with pytest.raises(ShapeError):
        f([np.ones((2, 3))])
    with pytest.raises(ShapeError):
        f([np.ones((3, 0))])


def test_views_of_stored_data_never_leak():
    v = K.variable(np.arange(6.0).reshape(2, 3))
    out = K.eval(v[:, ::-1])
    out[:] = 0
    np.testing.assert_array_equal(K.get_value(v), np.arange(6.0).reshape(2, 3))


DOT_CASES = [
    ((3, 4), (4, 5)), ((4,), (4, 5)), ((3, 4), (4,)), ((4,), (4,)),
    ((3, 4), (2, 4, 5)), ((2, 3, 4), (3, 4, 5)), ((2, 3, 4), (4,)), ((2, 3, 4), (4, 5)),
    ((4,), (2, 4, 5)), ((0, 4), (4, 5)), ((3, 0), (0, 5)),
]


@pytest.mark.parametrize("sa, sb", DOT_CASES, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_dot_follows_numpy_dot(sa, sb, dtype):
    a = (RNG.normal(size=sa) * 3).astype(dtype)
    b = (RNG.normal(size=sb) * 3).astype(dtype)
    pa, pb = K.placeholder(sa, dtype=dtype), K.placeholder(sb, dtype=dtype)
    out = K.dot(pa, pb)
    expected = np.dot(a, b)
    assert K.int_shape(out) == expected.shape and K.dtype(out) == dtype
    (got,), _ = run_both([pa, pb], [out], [a, b])
    assert_close(got, expected, rtol=1e-5 if dtype == "float32" else None)


def test_dot_with_none_dims():
    x = K.placeholder((None, None, 4))
    w = K.variable(RNG.normal(size=(3, 4, 5)))
    out = K.dot(x, w)
    assert K.int_shape(out) == (None, None, 3, 5)
    f = K.function([x], [out])
    for shape in ((2, 3, 4), (1, 7, 4)):
        data = RNG.normal(size=shape).astype(np.float32)
        np.testing.assert_allclose(f([data])[0], np.dot(data, K.get_value(w)), rtol=1e-5,
                                   atol=1e-5)


BATCH_DOT_CASES = [  # (x shape, y shape, axes, expected output shape)
    ((32, 20, 1), (32, 30, 20), (1, 2), (32, 1, 30)),
    ((4, 3, 4), (4, 4), None, (4, 3)),
    ((4, 2), (4, 2), None, (4, 1)),
    ((4, 2, 3, 4), (4, 4, 5), None, (4, 2, 3, 5)),
    ((4, 3, 5), (4, 5, 2), None, (4, 3, 2)),
    ((4, 3, 5), (4, 3, 2), 1, (4, 5, 2)),
    ((4, 3, 5), (4, 2, 5), (-1, -1), (4, 3, 2)),
    ((4, 5), (4, 5, 2), (1, 1), (4, 2)),
]


def _numpy_batch_dot(x, y, a0, a1):
    out = [np.tensordot(x[i], y[i], axes=(a0 - 1, a1 - 1)) for i in range(x.shape[0])]
    out = np.stack(out)
    return out.reshape(out.shape[0], 1) if out.ndim == 1 else out


@pytest.mark.parametrize("sx, sy, axes, expected_shape", BATCH_DOT_CASES, ids=str)
def test_batch_dot_shapes_and_values(sx, sy, axes, expected_shape):
    x = RNG.normal(size=sx).astype(np.float32)
    y = RNG.normal(size=sy).astype(np.float32)
    px = K.placeholder((None,) + sx[1:])
    py = K.placeholder((None,) + sy[1:])
    out = K.batch_dot(px, py, axes=axes)
    assert K.int_shape(out) == (None,) + expected_shape[1:]
    if axes is None:
        a0, a1 = len(sx) - 1, (len(sy) - 1 if len(sy) == 2 else len(sy) - 2)
    elif isinstance(axes, int):
        a0 = a1 = axes
    else:
        a0, a1 = axes[0] % len(sx), axes[1] % len(sy)
    (got,), _ = run_both([px, py], [out], [x, y])
    assert got.shape == expected_shape
    np.testing.assert_allclose(got, _numpy_batch_dot(x, y, a0, a1), rtol=1e-5, atol=1e-5)
    static = K.batch_dot(K.placeholder(sx), K.placeholder(sy), axes=axes)
    assert K.int_shape(static) == expected_shape


@pytest.mark.parametrize("sx, sy, axes, match", [
    ((4, 3), (5, 3), None, "batch sizes differ"),
    ((4, 3, 2), (4, 3, 2), None, "contracted dimensions differ"),
    ((4, 3), (4, 3), (0, 1), "axis 0"),
    ((4,), (4, 3), None, "rank >= 2"),
])
def test_batch_dot_errors(sx, sy, axes, match):
    with pytest.raises(ShapeError, match=match):
        K.batch_dot(K.placeholder(sx), K.placeholder(sy), axes=axes)


def test_matmul_operator():
    a = RNG.normal(size=(3, 4)).astype(np.float32)
    b = RNG.normal(size=(4, 2)).astype(np.float32)
    np.testing.assert_allclose(K.eval(K.constant(a) @ K.constant(b)), a @ b, rtol=1e-5)
