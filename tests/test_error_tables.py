"""Tables of malformed constructions and bad feeds (issue 14, families 2, 5 and 7).

Every row must raise the given symgraph error class, never a crash or a silent wrong
answer, and its message must name the op (or the placeholder) and, where the user built
something, the user's line.
"""

from __future__ import annotations

import numpy as np
import pytest

import symgraph.backend as K
from symgraph.errors import DTypeError, FeedError, GraphError, ShapeError, SymgraphError

HERE = "test_error_tables.py"


def _x(shape=(2, 3), dtype="float32"):
    return K.placeholder(shape, dtype=dtype)


MALFORMED = [
    # (id, build, error class, fragment of the message)
    ("add_broadcast", lambda: _x((2, 3)) + _x((4, 3)), ShapeError, "add"),
    ("mul_broadcast", lambda: _x((2, 3)) * _x((2, 4)), ShapeError, "multiply"),
    ("dot_inner", lambda: K.dot(_x((2, 3)), _x((4, 5))), ShapeError, "dot"),
    ("batch_dot", lambda: K.batch_dot(_x((2, 3, 4)), _x((3, 5, 6))), ShapeError, "batch_dot"),
    ("concat_rank", lambda: K.concatenate([_x((2, 3)), _x((2, 3, 1))]), ShapeError,
     "concatenate"),
    ("concat_dims", lambda: K.concatenate([_x((2, 3)), _x((4, 3))], axis=1), ShapeError,
     "concatenate"),
    ("stack_shapes", lambda: K.stack([_x((2, 3)), _x((3, 2))]), ShapeError, "stack"),
    ("sum_axis", lambda: K.sum(_x(), axis=2), ShapeError, "sum"),
    ("mean_axis", lambda: K.mean(_x(), axis=-3), ShapeError, "mean"),
    ("max_axis_float", lambda: K.max(_x(), axis=1.5), ShapeError, "max"),
    ("argmax_axis", lambda: K.argmax(_x(), axis=5), ShapeError, "argmax"),
    ("reshape_size", lambda: K.reshape(_x((2, 3)), (4, 2)), ShapeError, "reshape"),
    ("reshape_two_minus_one", lambda: K.reshape(_x((2, 3)), (-1, -1)), ShapeError, "reshape"),
    ("reshape_float", lambda: K.reshape(_x((2, 3)), (2.9, 3)), DTypeError, "reshape"),
    ("reshape_negative", lambda: K.reshape(_x((2, 3)), (-2, 3)), ShapeError, "reshape"),
    ("reshape_data_float", lambda: K.reshape(_x((2, 3)), [K.sum(_x((2, 3))), -1]),
     DTypeError, "reshape"),
    ("permute_short", lambda: K.permute_dimensions(_x(), (0,)), ShapeError, "permute"),
    ("permute_repeat", lambda: K.permute_dimensions(_x(), (0, 0)), ShapeError, "permute"),
    ("expand_dims_axis", lambda: K.expand_dims(_x(), 5), ShapeError, "expand_dims"),
    ("squeeze_not_one", lambda: K.squeeze(_x((2, 3)), 0), ShapeError, "squeeze"),
    ("tile_float", lambda: K.tile(_x(), 2.5), DTypeError, "tile"),
    ("tile_negative", lambda: K.tile(_x(), (1, -1)), ShapeError, "tile"),
    ("tile_tensor_rank", lambda: K.tile(_x(), [K.shape(_x()), 1]), ShapeError, "tile"),
    ("repeat_rank", lambda: K.repeat(_x((2, 3, 4)), 2), ShapeError, "repeat"),
    ("repeat_elements_float", lambda: K.repeat_elements(_x(), 1.5, 1), DTypeError,
     "repeat_elements"),
    ("repeat_elements_negative", lambda: K.repeat_elements(_x(), -1, 1), ShapeError,
     "repeat_elements"),
    ("repeat_elements_axis", lambda: K.repeat_elements(_x(), 2, 4), ShapeError,
     "repeat_elements"),
    ("slice_float_start", lambda: K.slice(_x(), (0.5, 0), (1, 1)), DTypeError, "slice"),
    ("slice_past_end", lambda: K.slice(_x(), (0, 2), (1, 2)), ShapeError, "slice"),
    ("slice_entries", lambda: K.slice(_x(), (0,), (1,)), ShapeError, "slice"),
    ("getitem_too_many", lambda: _x()[0, 0, 0], ShapeError, "getitem"),
    ("getitem_out_of_range", lambda: _x()[5], ShapeError, "getitem"),
    ("getitem_step_zero", lambda: _x()[::0], ShapeError, "getitem"),
    ("getitem_float", lambda: _x()[1.5], DTypeError, "getitem"),
    ("getitem_tensor_float", lambda: _x()[K.constant(1.0)], DTypeError, "getitem"),
    ("gather_float", lambda: K.gather(_x(), K.constant([0.5])), DTypeError, "gather"),
    ("one_hot_float", lambda: K.one_hot(_x((2,), "int32"), 2.5), ShapeError, "one_hot"),
    ("one_hot_negative", lambda: K.one_hot(_x((2,), "int32"), -1), ShapeError, "one_hot"),
    ("zeros_unknown", lambda: K.zeros((None, 2)), ValueError, "zeros"),
    ("zeros_negative", lambda: K.zeros([K.shape(_x())[0], -3]), ShapeError, "zeros"),
    ("random_shape_rank", lambda: K.random_uniform(K.reshape(K.shape(_x()), (1, 2))),
     ShapeError, "random_uniform"),
    ("random_shape_float", lambda: K.random_normal([K.sum(_x()), 2]), DTypeError,
     "random_normal"),
    ("dropout_level", lambda: K.dropout(_x(), 1.5), ValueError, "dropout"),
    ("dropout_noise_rank", lambda: K.dropout(_x(), 0.5, noise_shape=(2,)), ShapeError,
     "dropout"),
    ("dropout_noise_mismatch", lambda: K.dropout(_x(), 0.5, noise_shape=(2, 4)), ShapeError,
     "dropout"),
    ("variable_none", lambda: K.variable(None), DTypeError, "variable"),
    ("variable_text", lambda: K.variable("abc"), DTypeError, "variable"),
    ("variable_ragged", lambda: K.variable([[1, 2], [3]]), DTypeError, "variable"),
    ("constant_none", lambda: K.constant(None), DTypeError, "constant"),
    ("constant_shape", lambda: K.constant([1, 2, 3], shape=(2, 2)), ValueError, "constant"),
    ("bool_subtract", lambda: _x(dtype="bool") - _x(dtype="bool"), DTypeError, "subtract"),
    ("int_pow_negative", lambda: K.pow(K.constant([2, 3], dtype="int32"), -1), ShapeError,
     "power"),
    ("conv2d_kernel", lambda: K.conv2d(_x((1, 5, 5, 3)), K.ones((3, 3, 4, 2))), ShapeError,
     "conv2d"),
    ("conv2d_window", lambda: K.conv2d(_x((1, 2, 2, 3)), K.ones((3, 3, 3, 2))), ShapeError,
     "conv2d"),
    ("conv2d_padding", lambda: K.conv2d(_x((1, 5, 5, 3)), K.ones((3, 3, 3, 2)),
                                        padding="full"), GraphError, "conv2d"),
    ("conv_transpose_shape", lambda: K.conv2d_transpose(_x((1, 5, 5, 3)),
                                                        K.ones((3, 3, 2, 3)), (1, 10, 10)),
     ShapeError, "conv2d_transpose"),
    ("conv_transpose_float_shape", lambda: K.conv2d_transpose(
        _x((1, 5, 5, 3)), K.ones((3, 3, 2, 3)), K.constant([1, 7, 7, 2])), DTypeError,
     "conv2d_transpose"),
    ("pool_mode", lambda: K.pool2d(_x((1, 4, 4, 2)), (2, 2), pool_mode="sum"), GraphError,
     "pool"),
    ("pool_window", lambda: K.pool2d(_x((1, 4, 4, 2)), (6, 2)), ShapeError, "pool"),
    ("bias_add_rank", lambda: K.bias_add(_x((2, 3, 4)), K.zeros((1, 1, 4))), ShapeError,
     "bias_add"),
    ("bias_add_channels", lambda: K.bias_add(_x((2, 3, 4)), K.zeros((5,))), ShapeError,
     "bias_add"),
    ("update_shape", lambda: K.update(K.variable(np.zeros((2, 3))), _x((None, 4))),
     ShapeError, "update"),
    ("update_not_variable", lambda: K.update(_x(), _x()), GraphError, "variable"),
    ("switch_rank", lambda: K.switch(K.cast(_x((2, 3, 1)), "bool"), _x((2, 3)), _x((2, 3))),
     ShapeError, "switch"),
    ("function_input_not_placeholder", lambda: K.function([K.variable(1.0)], []), GraphError,
     "placeholders"),
    ("function_session_kwargs", lambda: K.function([], [], options=1), ValueError,
     "unsupported"),
    ("in_top_k_float_targets", lambda: K.in_top_k(_x((2, 3)), K.constant([0.0, 1.0]), 1),
     DTypeError, "in_top_k"),
    ("in_top_k_negative", lambda: K.in_top_k(_x((2, 3)), _x((2,), "int32"), -1), ShapeError,
     "in_top_k"),
]


@pytest.mark.parametrize("build, cls, fragment", [row[1:] for row in MALFORMED],
                         ids=[row[0] for row in MALFORMED])
def test_malformed_constructions_are_clear_errors(build, cls, fragment):
    with pytest.raises(cls) as info:
        build()
    message = str(info.value)
    assert fragment in message, message
    if isinstance(info.value, SymgraphError) and "created at" in message:
        assert HERE in message, message  # the user's line, not symgraph's


def test_the_malformed_table_is_large():
    assert len(MALFORMED) >= 60



BAD_FEEDS = [
    # (id, placeholder shape, dtype, fed value, fragment)
    ("rank_low", (None, 3), "float32", np.zeros(3, "float32"), "shape"),
    ("rank_high", (None, 3), "float32", np.zeros((2, 3, 1), "float32"), "shape"),
    ("dim", (None, 3), "float32", np.zeros((2, 4), "float32"), "shape"),
    ("static_dim", (2, 3), "float32", np.zeros((3, 3), "float32"), "shape"),
    ("scalar_for_matrix", (2, 3), "float32", np.float32(1.0), "shape"),
    ("matrix_for_scalar", (), "float32", np.zeros((2, 2), "float32"), "shape"),
    ("float_to_int", (None,), "int32", np.zeros(3, "float32"), "does not convert"),
    ("float64_to_int64", (None,), "int64", np.zeros(3), "does not convert"),
    ("complex", (None,), "float32", np.zeros(3, "complex64"), "does not convert"),
    ("complex128", (None,), "float64", np.zeros(3, "complex128"), "does not convert"),
    ("text", (None,), "float32", np.array(["a", "b"]), "does not convert"),
    ("bytes", (None,), "float32", np.array([b"a"]), "does not convert"),
    ("object", (None,), "float32", np.array([object()], dtype=object), "does not convert"),
    ("ragged", (None, 2), "float32", [[1.0, 2.0], [3.0]], "could not convert"),
    ("none", (None,), "float32", None, "does not convert"),
    ("dict", (None,), "float32", {"a": 1}, "does not convert"),
    ("tensor", (None,), "float32", "TENSOR", "symbolic tensor"),
    ("int64_out_of_int32", (None,), "int32", np.array([2**40], "int64"), "outside int32"),
    ("negative_to_uint8", (None,), "uint8", np.array([-1], "int64"), "does not convert"),
    ("negative_int8_to_uint8", (None,), "uint8", np.array([-1], "int8"), "does not convert"),
    ("big_to_int8", (None,), "int8", np.array([300], "int32"), "outside int8"),
    ("big_to_int16", (None,), "int16", np.array([70000], "int64"), "outside int16"),
    ("uint64_to_int64", (None,), "int64", np.array([2**63], "uint64"), "outside int64"),
    ("list_out_of_int32", (None,), "int32", [2**40, 1], "outside int32"),
    ("bool_from_two", (None,), "bool", np.array([2], "int64"), "does not convert"),
    ("bool_from_float", (None,), "bool", np.array([1.0]), "does not convert"),
    ("float_list_to_int", (None,), "int32", [1.5, 2.0], "does not convert"),
    ("string_scalar", (), "float32", "1.0", "does not convert"),
    ("shape_empty_vs_static", (2,), "float32", np.zeros(0, "float32"), "shape"),
    ("rank3_none", (None, None, 2), "float32", np.zeros((2, 2), "float32"), "shape"),
    ("last_dim", (None, None, 2), "float32", np.zeros((2, 2, 3), "float32"), "shape"),
    ("float16_from_complex", (None,), "float16", np.zeros(2, "complex64"), "does not convert"),
    ("int8_from_float", (None,), "int8", np.zeros(2, "float16"), "does not convert"),
    ("int_from_bool_text", (None,), "int32", np.array(["1"]), "does not convert"),
    ("nested_none", (None,), "float32", [None, 1.0], "does not convert"),
    ("datetime", (None,), "float32", np.array(["2020-01-01"], dtype="datetime64[D]"),
     "does not convert"),
    ("timedelta", (None,), "int64", np.array([1], dtype="timedelta64[s]"),
     "does not convert"),
    ("void", (None,), "float32", np.zeros(2, dtype="V4"), "does not convert"),
    ("structured", (None,), "float32", np.zeros(2, dtype=[("a", "f4")]), "does not convert"),
    ("scalar_to_vector", (3,), "float32", 1.0, "shape"),
    ("wrong_static_rank1", (3,), "int32", np.zeros((3, 1), "int32"), "shape"),
]


@pytest.mark.parametrize("shape, dtype, value, fragment", [row[1:] for row in BAD_FEEDS],
                         ids=[row[0] for row in BAD_FEEDS])
def test_bad_feeds_name_the_placeholder_and_what_it_expects(shape, dtype, value, fragment):
    ph = K.placeholder(shape, dtype=dtype, name="the_input")
    f = K.function([ph], [K.identity(ph)])
    if isinstance(value, str) and value == "TENSOR":
        value = K.constant([1.0])
    with pytest.raises(FeedError) as info:
        f([value])
    message = str(info.value)
    assert "'the_input'" in message and fragment in message, message
    assert HERE in message  # where the placeholder was created


def test_the_bad_feed_table_is_large():
    assert len(BAD_FEEDS) >= 40


def test_a_dict_feed_missing_a_placeholder_names_it():
    x, y = K.placeholder((None,), name="first"), K.placeholder((None,), name="second")
    f = K.function([x, y], [x + y])
    with pytest.raises(FeedError, match="no value for placeholder.*'second'"):
        f({x: np.zeros(2, "float32")})


@pytest.mark.parametrize("build, fragment", [
    (lambda x: K.logsumexp(x, axis=5), "logsumexp (in max): axis 5"),
    (lambda x: K.categorical_crossentropy(K.placeholder((2, 4)), x),
     "categorical_crossentropy (in multiply): shapes do not broadcast"),
    (lambda x: K.l2_normalize(x, axis=3), "l2_normalize (in sum)"),
    (lambda x: K.std(x, axis=3), "std (in mean)"),
    (lambda x: K.switch(K.placeholder((2, 3, 4), dtype="bool"), x, x), "switch: "),
    (lambda x: x + K.placeholder((4,)), "add: shapes do not broadcast"),
])
def test_errors_name_the_keras_function_the_user_called(build, fragment):
    with pytest.raises(ShapeError) as info:
        build(K.placeholder((2, 3)))
    assert fragment in str(info.value) and HERE in str(info.value), str(info.value)


def test_log_exp_simplification_is_deliberate_and_can_be_switched_off():
    from symgraph.runtime.function import Function

    x = K.placeholder((1,))
    y = K.log(K.exp(x))
    big = np.array([1000.0], "float32")
    assert Function([x], [y])([big])[0][0] == 1000.0  # the exact value
    unsimplified = Function([x], [y], passes=("fold_constants", "cse"))([big])[0][0]
    assert np.isinf(unsimplified)
