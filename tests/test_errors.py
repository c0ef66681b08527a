"""Bad input gets a clear error naming the op, the shapes and the user's line."""

import numpy as np
import pytest

import symgraph.backend as K
from symgraph.errors import DTypeError, FeedError, GraphError, ShapeError


def _line_of(marker):
    with open(__file__) as fh:
        for n, line in enumerate(fh, 1):
            if marker in line and "_line_of" not in line:
                return n
    raise AssertionError(marker)


def test_broadcast_mismatch_names_op_shapes_and_line():
    a = K.placeholder((2, 3))
    b = K.placeholder((4, 3))
    with pytest.raises(ShapeError) as info:
        a + b  # MARK-BROADCAST
    msg = str(info.value)
    assert "add" in msg and "(2, 3)" in msg and "(4, 3)" in msg and "float32" in msg
    assert f"test_errors.py:{_line_of('MARK-BROADCAST')}" in msg
    assert isinstance(info.value, ValueError)


def test_dot_mismatch_is_a_build_time_error():
    with pytest.raises(ShapeError, match=r"dot: contracted dimensions differ: 3 vs 4"):
        K.dot(K.placeholder((None, 3)), K.placeholder((4, 5)))


def test_concatenate_mismatch():
    with pytest.raises(ShapeError, match="concatenate"):
        K.concatenate([K.placeholder((2, 3)), K.placeholder((3, 3))], axis=1)


def test_reduction_axis_out_of_range():
    with pytest.raises(ShapeError, match=r"sum.*out of range"):
        K.sum(K.placeholder((2, 3)), axis=2)


def test_reshape_size_mismatch_at_build_time():
    with pytest.raises(ShapeError, match="reshape"):
        K.reshape(K.placeholder((2, 3)), (4, 2))


def test_bool_arithmetic_is_a_dtype_error():
    b = K.placeholder((2,), dtype="bool")
    with pytest.raises(DTypeError, match="subtract"):
        b - b
    assert issubclass(DTypeError, TypeError)


def test_unfed_placeholder_is_named():
    x = K.placeholder((None, 3), name="images")
    with pytest.raises(FeedError, match="placeholder 'images'"):
        K.eval(K.exp(x))


def test_function_missing_input_names_the_placeholder():
    x = K.placeholder((None, 3), name="a")
    y = K.placeholder((None, 3), name="b")
    with pytest.raises(FeedError, match="'b'"):
        K.function([x], [x + y])


@pytest.mark.parametrize("feed, fragment", [
    (np.zeros((2, 4)), "got an array of shape (2, 4)"),
    (np.zeros((2, 3, 1)), "got an array of shape (2, 3, 1)"),
    (np.zeros(3), "got an array of shape (3,)"),
    (np.array([["a", "b", "c"]]), "dtype <U1"),
    (np.zeros((2, 3), dtype=np.complex64), "dtype complex64"),
])
def test_wrong_feeds_say_which_placeholder_and_what_was_expected(feed, fragment):
    x = K.placeholder((None, 3), name="inp")
    f = K.function([x], [K.exp(x)])
    with pytest.raises(FeedError) as info:
        f([feed])
    msg = str(info.value)
    assert "placeholder 'inp'" in msg and "(None, 3)" in msg and "float32" in msg
    assert fragment in msg


def test_float_feed_to_int_placeholder_is_refused():
    x = K.placeholder((2,), dtype="int32", name="ids")
    f = K.function([x], [x + 1])
    with pytest.raises(FeedError, match="ids"):
        f([np.array([1.5, 2.5])])
    np.testing.assert_array_equal(f([np.array([1, 2], dtype=np.int64)])[0], [2, 3])


def test_wrong_number_of_feeds():
    x = K.placeholder((None, 3))
    f = K.function([x], [x * 2])
    with pytest.raises(FeedError, match="takes 1 inputs"):
        f([])


def test_runtime_shape_mismatch_names_the_node_and_line():
    a = K.placeholder((None, 3))
    b = K.placeholder((None, 3))
    s = a + b  # MARK-RUNTIME
    f = K.function([a, b], [s])
    with pytest.raises(ShapeError) as info:
        f([np.zeros((2, 3)), np.zeros((5, 3))])
    msg = str(info.value)
    assert "add" in msg and "(2, 3)" in msg and "(5, 3)" in msg
    assert f"test_errors.py:{_line_of('MARK-RUNTIME')}" in msg


def test_runtime_dot_mismatch_is_caught_before_the_kernel():
    x = K.placeholder((None, None))
    w = K.variable(np.ones((3, 2)))
    f = K.function([x], [K.dot(x, w)])
    with pytest.raises(ShapeError, match="contracted dimensions differ: 4 vs 3"):
        f([np.ones((2, 4))])


def test_runtime_index_out_of_range():
    x = K.placeholder((None, 3))
    f = K.function([x], [x[5]])
    with pytest.raises(ShapeError, match="out of bounds"):
        f([np.zeros((2, 3))])
    np.testing.assert_array_equal(f([np.arange(18.0).reshape(6, 3)])[0], [15, 16, 17])


def test_build_time_index_out_of_range():
    with pytest.raises(ShapeError, match="index 3 is out of bounds"):
        K.placeholder((3, 2))[3]


def test_mixing_graphs_is_refused():
    old = K.placeholder((2,))
    K.clear_session()
    new = K.placeholder((2,))
    with pytest.raises(GraphError, match="another graph"):
        old + new


def test_symbolic_tensors_have_no_truth_value():
    x = K.placeholder((2,))
    with pytest.raises(TypeError, match="truth value"):
        bool(x > 0)
    with pytest.raises(TypeError, match="not iterable"):
        list(x)


def test_set_value_with_wrong_shape():
    v = K.variable(np.zeros((2, 2)))
    with pytest.raises(ShapeError, match="variable"):
        K.set_value(v, np.zeros(3))


def test_function_rejects_tensorflow_session_kwargs():
    x = K.placeholder((2,))
    with pytest.raises(ValueError, match="options"):
        K.function([x], [x], options=object())


def test_negative_integer_power_is_refused():
    with pytest.raises(ShapeError, match="negative integer powers"):
        K.pow(K.placeholder((2,), dtype="int32"), -1)


def test_huge_shapes_are_refused_before_allocation():
    with pytest.raises(ValueError, match="elements"):
        K.random_uniform((2**30, 2**30))
