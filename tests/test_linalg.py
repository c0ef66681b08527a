"""``dot`` and ``batch_dot`` against NumPy (numpy.dot and einsum), with static shapes,
None dims fed at run time, empty dims and the documented errors (§7.3)."""

import string

import numpy as np
import pytest

import symgraph.backend as K
from symgraph.errors import ShapeError
from tests.helpers import assert_close, random_array, run_both

RNG = np.random.default_rng(11)
DTYPES = ["float32", "float64", "int32"]


def _data(shape, dtype):
    return random_array(RNG, shape, dtype, int_bound=9)


def _close(got, expected, dtype):
    tol = {"float32": 1e-4, "float64": 1e-10}.get(dtype)
    assert_close(got, expected, dtype=dtype, rtol=tol, atol=tol)


def _fill(static, n):
    return tuple(n if d is None else d for d in static)


# -- dot -------------------------------------------------------------------------------------
DOT_CASES = [  # (x shape, y shape, expected static output shape)
    ((3, 4), (4, 5), (3, 5)),
    ((4,), (4, 5), (5,)),
    ((3, 4), (4,), (3,)),
    ((4,), (4,), ()),
    ((1, 1), (1, 1), (1, 1)),
    ((3, 4), (2, 4, 5), (3, 2, 5)),  # the Theano rule of §7.3
    ((2, 3, 4), (3, 4, 5), (2, 3, 3, 5)),  # the Theano rule of §7.3
    ((2, 3, 4), (4, 5), (2, 3, 5)),
    ((2, 3, 4), (4,), (2, 3)),
    ((4,), (2, 4, 5), (2, 5)),
    ((2, 1, 3, 4), (4, 2), (2, 1, 3, 2)),
    ((2, 3), (2, 2, 3, 4), (2, 2, 2, 4)),
    ((2, 2, 3), (2, 1, 3, 2), (2, 2, 2, 1, 2)),
    ((0, 4), (4, 5), (0, 5)),
    ((3, 0), (0, 5), (3, 5)),
    ((0,), (0,), ()),
    ((2, 0, 4), (3, 4, 2), (2, 0, 3, 2)),
    ((2, 3, 4), (0, 4, 2), (2, 3, 0, 2)),
    ((2, 3, 0), (4, 0, 2), (2, 3, 4, 2)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sx, sy, expected_shape", DOT_CASES, ids=str)
def test_dot_follows_numpy_dot(sx, sy, expected_shape, dtype):
    a, b = _data(sx, dtype), _data(sy, dtype)
    x, y = K.placeholder(sx, dtype=dtype), K.placeholder(sy, dtype=dtype)
    out = K.dot(x, y)
    expected = np.dot(a, b)
    assert expected.shape == expected_shape
    assert K.int_shape(out) == expected_shape and K.dtype(out) == dtype
    (got,), (ref,) = run_both([x, y], [out], [a, b])
    _close(got, expected, dtype)
    _close(ref, expected, dtype)


DOT_NONE_CASES = [  # (x static, y static, expected static output)
    ((None, 4), (4, 5), (None, 5)),
    ((None, 4), (4,), (None,)),
    ((None, None, 4), (3, 4, 5), (None, None, 3, 5)),
    ((None, 3, 4), (4,), (None, 3)),
    ((None, 3, 4), (4, None), (None, 3, None)),
    ((3, 4), (None, 4, 5), (3, None, 5)),
    ((4,), (None, 4, 2), (None, 2)),
    ((None, 2, 4), (None, 4, 3), (None, 2, None, 3)),
    ((None, None), (None, None), (None, None)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sx, sy, expected_static", DOT_NONE_CASES, ids=str)
def test_dot_with_none_dims_fed_at_run_time(sx, sy, expected_static, dtype):
    x, y = K.placeholder(sx, dtype=dtype), K.placeholder(sy, dtype=dtype)
    out = K.dot(x, y)
    assert K.int_shape(out) == expected_static
    f = K.function([x, y], [out])
    # every None dim takes n (so the contracted dims agree), three sizes, one function
    for n in (4, 2, 0):
        a, b = _data(_fill(sx, n), dtype), _data(_fill(sy, n), dtype)
        (got,) = f([a, b])
        expected = np.dot(a, b)
        _close(got, expected, dtype)
        assert all(s is None or s == g for s, g in zip(K.int_shape(out), got.shape))


def test_dot_with_a_variable_weight_and_different_batch_sizes():
    w_value = _data((4, 3), "float32")
    w = K.variable(w_value)
    x = K.placeholder((None, 4))
    out = K.dot(x, w)
    assert K.int_shape(out) == (None, 3)
    f = K.function([x], [out])
    for n in (1, 9, 0):
        a = _data((n, 4), "float32")
        _close(f([a])[0], a @ w_value, "float32")


def test_dot_of_strided_views_and_numpy_operands():
    x = K.placeholder((None, 5), dtype="float64")
    w = _data((3, 4), "float64")
    out = K.dot(x[:, ::-1][:, 1:4], K.constant(w, dtype="float64")[:, ::2])
    assert K.int_shape(out) == (None, 2)
    t = K.placeholder((5, None), dtype="float64")
    v = _data((5, 2), "float64")
    out_t = K.dot(K.transpose(t), v)  # a NumPy array as an operand
    assert K.int_shape(out_t) == (None, 2)
    f = K.function([x, t], [out, out_t])
    for n in (6, 1):
        a, b = _data((n, 5), "float64"), _data((5, n), "float64")
        got, got_t = f([a, b])
        _close(got, np.dot(a[:, ::-1][:, 1:4], w[:, ::2]), "float64")
        _close(got_t, b.T @ v, "float64")
    y = K.placeholder((None, 3), dtype="float64")
    out2 = K.dot(y, w)
    assert K.int_shape(out2) == (None, 4)
    c = _data((2, 3), "float64")
    _close(K.function([y], [out2])([c])[0], c @ w, "float64")


def test_dot_result_feeds_zeros_like_with_the_run_time_batch():
    p = K.placeholder((None, 4))
    w = K.variable(np.ones((4, 2)))
    z = K.zeros_like(K.dot(p, w))
    assert K.int_shape(z) == (None, 2)
    f = K.function([p], [z])
    for n in (3, 6):
        assert_close(f([np.ones((n, 4))])[0], np.zeros((n, 2), "float32"), dtype="float32")


@pytest.mark.parametrize("sx, sy", [
    ((3, 4), (5, 6)), ((3, 4), (2, 5, 6)), ((3, 4), (5,)), ((4,), (5,)), ((2, 3, 4), (3, 5)),
    ((2, 3, 4), (2, 3, 5, 6)), ((5,), (2, 4, 5)),
], ids=str)
def test_dot_contracted_dim_mismatch_is_a_build_time_value_error(sx, sy):
    with pytest.raises(ShapeError, match="contracted") as info:
        K.dot(K.placeholder(sx), K.placeholder(sy))
    assert isinstance(info.value, ValueError)


def test_dot_needs_rank_at_least_one():
    with pytest.raises(ShapeError):
        K.dot(K.placeholder(()), K.placeholder((3,)))
    with pytest.raises(ShapeError):
        K.dot(K.placeholder((3,)), K.constant(2.0))
    with pytest.raises(ShapeError):
        K.dot(K.placeholder(), K.placeholder((3, 2)))


@pytest.mark.parametrize("sx, sy, fx, fy", [
    ((None, None), (None, 5), (2, 3), (4, 5)),
    ((None, None, None), (None, None, 5), (2, 3, 3), (2, 4, 5)),
    ((None, None), (None,), (2, 3), (4,)),
], ids=str)
def test_dot_contracted_dim_mismatch_of_none_dims_fails_at_run_time(sx, sy, fx, fy):
    x, y = K.placeholder(sx), K.placeholder(sy)
    f = K.function([x, y], [K.dot(x, y)])
    with pytest.raises(ShapeError) as info:
        f([np.ones(fx), np.ones(fy)])
    assert isinstance(info.value, ValueError)


# -- batch_dot -------------------------------------------------------------------------------
def _np_batch_dot(x, y, axes):
    """Independent reference: einsum over the batch letter, contracting axes[0]/axes[1]."""
    a0, a1 = axes
    letters = iter(string.ascii_lowercase[2:])
    xs = ["b"] + [next(letters) for _ in range(x.ndim - 1)]
    ys = ["b"] + [next(letters) for _ in range(y.ndim - 1)]
    ys[a1] = xs[a0]
    out = ["b"] + [c for i, c in enumerate(xs) if i not in (0, a0)] + [
        c for i, c in enumerate(ys) if i not in (0, a1)]
    res = np.einsum(f"{''.join(xs)},{''.join(ys)}->{''.join(out)}", x, y)
    return res.reshape(-1, 1) if res.ndim == 1 else res


BATCH_DOT_CASES = [  # (x shape, y shape, axes, normalized axes, expected output shape)
    ((32, 20, 1), (32, 30, 20), (1, 2), (1, 2), (32, 1, 30)),  # the Keras docstring
    ((3, 3, 4), (3, 4), None, (2, 1), (3, 3)),  # (B, 3, 4)·(B, 4) -> (B, 3)
    ((3, 2), (3, 2), None, (1, 1), (3, 1)),  # two 2-D -> (B, 1)
    ((3, 2, 3, 4), (3, 4, 5), None, (3, 1), (3, 2, 3, 5)),  # (B, 2, 3, 4)·(B, 4, 5)
    ((3, 3, 5), (3, 5, 2), None, (2, 1), (3, 3, 2)),
    ((3, 4), (3, 4, 3), None, (1, 1), (3, 3)),
    ((3, 3, 5), (3, 3, 2), 1, (1, 1), (3, 5, 2)),
    ((3, 2), (3, 2), 1, (1, 1), (3, 1)),
    ((3, 2), (3, 2), -1, (1, 1), (3, 1)),
    ((3, 3, 5), (3, 2, 5), (-1, -1), (2, 2), (3, 3, 2)),
    ((3, 3, 5), (3, 2, 5), [2, 2], (2, 2), (3, 3, 2)),
    ((3, 3, 4), (3, 4, 5), (2, -2), (2, 1), (3, 3, 5)),
    ((3, 4, 5), (3, 4), (1, 1), (1, 1), (3, 5)),
    ((3, 2, 3, 4), (3, 5, 4, 6), (3, 2), (3, 2), (3, 2, 3, 5, 6)),
    ((3, 2, 3), (3, 3, 2), (1, 2), (1, 2), (3, 3, 3)),
    ((3, 0, 4), (3, 4, 2), None, (2, 1), (3, 0, 2)),
    ((3, 2, 0), (3, 0, 2), None, (2, 1), (3, 2, 2)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sx, sy, axes, norm, expected_shape", BATCH_DOT_CASES, ids=str)
def test_batch_dot_static_batch(sx, sy, axes, norm, expected_shape, dtype):
    a, b = _data(sx, dtype), _data(sy, dtype)
    x, y = K.placeholder(sx, dtype=dtype), K.placeholder(sy, dtype=dtype)
    out = K.batch_dot(x, y, axes=axes)
    assert K.int_shape(out) == expected_shape and K.dtype(out) == dtype
    expected = _np_batch_dot(a, b, norm)
    assert expected.shape == expected_shape
    (got,), (ref,) = run_both([x, y], [out], [a, b])
    _close(got, expected, dtype)
    _close(ref, expected, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("sx, sy, axes, norm, expected_shape", BATCH_DOT_CASES, ids=str)
def test_batch_dot_none_batch_fed_at_run_time(sx, sy, axes, norm, expected_shape, dtype):
    x = K.placeholder((None,) + sx[1:], dtype=dtype)
    y = K.placeholder((None,) + sy[1:], dtype=dtype)
    out = K.batch_dot(x, y, axes=axes)
    assert K.int_shape(out) == (None,) + expected_shape[1:]
    f = K.function([x, y], [out])
    for n in (2, 5, 0):
        a, b = _data((n,) + sx[1:], dtype), _data((n,) + sy[1:], dtype)
        (got,) = f([a, b])
        assert got.shape == (n,) + expected_shape[1:]
        _close(got, _np_batch_dot(a, b, norm), dtype)


def test_batch_dot_with_none_inner_dims():
    x, y = K.placeholder((None, None, 4)), K.placeholder((None, 4, None))
    out = K.batch_dot(x, y)
    assert K.int_shape(out) == (None, None, None)
    f = K.function([x, y], [out])
    for n, i, j in ((2, 3, 5), (4, 1, 0)):
        a, b = _data((n, i, 4), "float32"), _data((n, 4, j), "float32")
        _close(f([a, b])[0], np.matmul(a, b), "float32")


def test_batch_dot_one_static_batch_and_one_none():
    x, y = K.placeholder((3, 2, 4)), K.placeholder((None, 4))
    out = K.batch_dot(x, y)
    assert K.int_shape(out) == (3, 2)
    a, b = _data((3, 2, 4), "float32"), _data((3, 4), "float32")
    _close(K.function([x, y], [out])([a, b])[0], np.einsum("bij,bj->bi", a, b), "float32")


@pytest.mark.parametrize("axes", [0, (0, 1), (1, 0), (0, 0), -2, (-2, 1)], ids=str)
def test_batch_dot_cannot_contract_the_batch_axis(axes):
    with pytest.raises(ShapeError, match="axis 0") as info:
        K.batch_dot(K.placeholder((4, 4)), K.placeholder((4, 4)), axes=axes)
    assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("sx, sy, axes, match", [
    ((4, 3), (5, 3), None, "batch sizes differ"),
    ((4, 3, 2), (5, 2, 3), None, "batch sizes differ"),
    ((4, 3, 2), (4, 3, 2), None, "contracted dimensions differ"),
    ((4, 3), (4, 2), None, "contracted dimensions differ"),
    ((4, 3, 5), (4, 3, 2), (2, 1), "contracted dimensions differ"),
    ((4,), (4, 3), None, "rank >= 2"),
    ((4, 3), (4,), None, "rank >= 2"),
    ((4, 3, 2), (4, 2, 3), (3, 1), "out of range"),
    ((4, 3, 2), (4, 2, 3), (1, -4), "out of range"),
    ((4, 3, 2), (4, 2, 3), (1, 2, 3), "pair"),
    ((4, 3, 2), (4, 2, 3), ((1,), (2,)), "pair"),
], ids=str)
def test_batch_dot_build_time_errors(sx, sy, axes, match):
    with pytest.raises(ShapeError, match=match) as info:
        K.batch_dot(K.placeholder(sx), K.placeholder(sy), axes=axes)
    assert isinstance(info.value, ValueError)


def test_batch_dot_mismatches_of_none_dims_fail_at_run_time():
    x, y = K.placeholder((None, 3)), K.placeholder((None, 3))
    f = K.function([x, y], [K.batch_dot(x, y)])
    _close(f([np.ones((2, 3)), np.ones((2, 3))])[0], np.full((2, 1), 3.0, "float32"), "float32")
    with pytest.raises(ShapeError):
        f([np.ones((2, 3)), np.ones((3, 3))])  # batch sizes differ
    u, v = K.placeholder((None, None, None)), K.placeholder((None, None))
    g = K.function([u, v], [K.batch_dot(u, v)])
    with pytest.raises(ShapeError):
        g([np.ones((2, 3, 3)), np.ones((2, 4))])  # contracted dims differ


def test_batch_dot_accepts_numpy_integer_axes():
    x, y = K.placeholder((None, 3, 4)), K.placeholder((None, 5, 4))
    out = K.batch_dot(x, y, axes=np.int64(2))
    assert K.int_shape(out) == (None, 3, 5)
    out2 = K.batch_dot(x, y, axes=(np.int32(-1), np.int64(2)))
    a, b = _data((2, 3, 4), "float32"), _data((2, 5, 4), "float32")
    got, got2 = K.function([x, y], [out, out2])([a, b])
    _close(got, np.einsum("bij,bkj->bik", a, b), "float32")
    _close(got2, got, "float32")
