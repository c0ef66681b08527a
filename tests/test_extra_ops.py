"""identity, reverse, slice, arange, one_hot, l2_normalize, uids and predicates."""

import numpy as np
import pytest

import symgraph.backend as K
from symgraph.errors import ShapeError
from tests.helpers import assert_close, run_both

RNG = np.random.default_rng(4)


def test_identity_is_a_new_node_with_the_same_value():
    x = K.placeholder((None, 3))
    y = K.identity(x, name="copy")
    assert y is not x and y.name == "copy" and K.int_shape(y) == (None, 3)
    data = RNG.normal(size=(2, 3)).astype(np.float32)
    (got,), (ref,) = run_both([x], [y], [data])
    assert_close(got, data)
    assert_close(ref, data)


@pytest.mark.parametrize("axes", [0, 1, -1, [0, 1], (0, 2)])
def test_reverse(axes):
    data = RNG.normal(size=(2, 3, 4)).astype(np.float32)
    x = K.placeholder((None, 3, 4))
    y = K.reverse(x, axes)
    assert K.int_shape(y) == (None, 3, 4)
    expected = np.flip(data, axis=axes if isinstance(axes, int) else tuple(axes))
    (got,), (ref,) = run_both([x], [y], [data])
    assert_close(got, expected)
    assert_close(ref, expected)


def test_reverse_bad_axis():
    with pytest.raises(ShapeError, match="reverse"):
        K.reverse(K.placeholder((2, 3)), 2)


@pytest.mark.parametrize("start, size", [((0, 1), (2, 2)), ((1, 0), (1, -1)), ((0, 0), (0, 3))])
def test_slice(start, size):
    data = np.arange(12.0, dtype=np.float32).reshape(3, 4)
    x = K.placeholder((3, 4))
    y = K.slice(x, start, size)
    index = tuple(slice(s, None if n == -1 else s + n) for s, n in zip(start, size))
    expected = data[index]
    assert K.int_shape(y) == expected.shape
    (got,), _ = run_both([x], [y], [data])
    assert_close(got, expected)


def test_slice_errors():
    with pytest.raises(ShapeError, match="out of range"):
        K.slice(K.placeholder((3, 4)), (2, 0), (2, 2))
    with pytest.raises(ShapeError, match="one entry per axis"):
        K.slice(K.placeholder((3, 4)), (0,), (1,))


@pytest.mark.parametrize("args, kwargs", [((5,), {}), ((2, 8, 2), {}), ((-3,), {}),
                                          ((1, 2, 0.25), {"dtype": "float32"}),
                                          ((5, 0, -1), {})])
def test_arange(args, kwargs):
    got = K.eval(K.arange(*args, **kwargs))
    expected = np.arange(*args).astype(kwargs.get("dtype", "int32"))
    assert_close(got, expected, dtype=kwargs.get("dtype", "int32"))


def test_arange_zero_step():
    with pytest.raises(ValueError):
        K.arange(0, 3, 0)


@pytest.mark.parametrize("shape", [(4,), (2, 3), (0,)])
def test_one_hot(shape):
    K.set_floatx("float64")  # one_hot stays float32 whatever floatx is
    idx = RNG.integers(0, 5, size=shape).astype(np.int32)
    x = K.placeholder(shape, dtype="int32")
    y = K.one_hot(x, 5)
    assert K.int_shape(y) == shape + (5,) and K.dtype(y) == "float32"
    (got,), (ref,) = run_both([x], [y], [idx])
    expected = np.eye(5, dtype=np.float32)[idx]
    assert_close(got, expected, dtype="float32")
    assert_close(ref, expected)


def test_one_hot_with_none_dims_and_out_of_range():
    x = K.placeholder((None,), dtype="int32")
    (got,) = K.function([x], [K.one_hot(x, 3)])([np.array([2, 7, -1])])
    np.testing.assert_array_equal(got, [[0, 0, 1], [0, 0, 0], [0, 0, 0]])


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_l2_normalize(axis):
    data = RNG.normal(size=(3, 4)).astype(np.float32)
    data[1] = 0
    x = K.placeholder((None, 4))
    y = K.l2_normalize(x, axis=axis)
    norm = np.sqrt(np.maximum(np.sum(data ** 2, axis=axis, keepdims=True), 1e-12))
    (got,), _ = run_both([x], [y], [data])
    assert_close(got, data / norm)
    assert np.isfinite(got).all()


def test_uids_count_per_prefix_and_reset_with_the_session():
    K.reset_uids()
    assert [K.get_uid("a"), K.get_uid("a"), K.get_uid("b"), K.get_uid()] == [1, 2, 1, 1]
    K.reset_uids()
    assert K.get_uid("a") == 1
    K.get_uid("a")
    K.clear_session()
    assert K.get_uid("a") == 1


def test_predicates():
    x = K.placeholder((2,))
    assert K.get_variable_shape(K.zeros((2, 5))) == (2, 5)
    assert not K.is_keras_tensor(x)
    x._keras_history = ("layer", 0, 0)
    assert K.is_keras_tensor(x)
    with pytest.raises(ValueError):
        K.is_keras_tensor(np.zeros(2))
