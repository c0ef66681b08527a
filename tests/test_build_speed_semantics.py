"""Behaviour the fast graph-building paths must keep: hash-consing, weak Python scalars
(looked up by value before any array is built), -0.0 and NaN constants, remembered
shape/dtype rules that still follow floatx and still raise, and errors that name the
op and the user's line."""

from __future__ import annotations

import math

import numpy as np
import pytest

import symgraph.backend as K
from symgraph.backend._updates import control_dependencies, update_add
from symgraph.errors import DTypeError, GraphError, ShapeError
from symgraph.ops import as_tensor, constant


def test_same_op_same_inputs_is_one_node():
    x = K.placeholder((None,))
    assert x * 0.5 is x * 0.5
    assert K.tanh(x) is K.tanh(x)
    assert (x + 1) is not (x + 2)
    assert K.relu(x) is K.relu(x)


def test_keras_tagged_nodes_are_not_reused():
    x = K.placeholder((None,))
    a = x * 3.0
    a._keras_history = ("layer", 0, 0)
    b = x * 3.0
    assert b is not a and b.name != a.name


@pytest.mark.parametrize("dtype, scalar, expected", [
    ("float32", 2.0, "float32"), ("float16", 2.0, "float16"), ("float64", 2, "float64"),
    ("int32", 2, "int32"), ("int8", 3, "int8"), ("int32", 0.5, "float32"),
    ("bool", 1, "int64"), ("bool", 1.5, "float32"),
])
def test_weak_python_scalars(dtype, scalar, expected):
    x = K.placeholder((None,), dtype=dtype)
    for y in (x * scalar, scalar * x, x + scalar, scalar - x):
        assert y.dtype == expected
    if expected != dtype:  # the tensor was lifted to the scalar's wider kind
        assert (x * scalar).inputs[0].op.name == "cast"


def test_weak_float_follows_floatx_after_it_changes():
    x = K.placeholder((None,), dtype="int32")
    assert (x * 0.5).dtype == "float32"
    assert K.tanh(x).dtype == "float32"
    K.set_floatx("float64")
    assert (x * 0.5).dtype == "float64"
    # a new input of the same shape and dtype: the remembered rule is keyed on floatx
    assert K.tanh(K.placeholder((None,), dtype="int32")).dtype == "float64"


def test_negative_zero_and_nan_constants_stay_distinct_and_correct():
    x = K.placeholder((None,))
    pos, neg = as_tensor(0.0, like=x), as_tensor(-0.0, like=x)
    assert pos is not neg
    assert not np.signbit(K.eval(pos)) and np.signbit(K.eval(neg))
    assert as_tensor(-0.0, like=x) is neg and as_tensor(0.0, like=x) is pos
    assert as_tensor(0, like=x) is pos  # int 0 is +0.0
    out = K.function([x], [x * -0.0, x * 0.0])([np.array([1.0], "float32")])
    assert np.signbit(out[0][0]) and not np.signbit(out[1][0])
    nan1, nan2 = float("nan"), float("nan")
    c1, c2 = as_tensor(nan1, like=x), as_tensor(nan2, like=x)
    assert math.isnan(K.eval(c1)) and c1 is c2  # same bytes: one node
    assert as_tensor(math.inf, like=x) is not as_tensor(-math.inf, like=x)


def test_scalar_constants_by_type_and_value():
    x = K.placeholder((None,))
    i = K.placeholder((None,), dtype="int32")
    assert as_tensor(1, like=x) is as_tensor(1.0, like=x)  # both float32 1.0
    assert as_tensor(True, like=x) is as_tensor(1.0, like=x)
    assert as_tensor(1, like=i).dtype == "int32"
    assert as_tensor(1, like=i) is not as_tensor(1, like=x)
    assert constant(2.5, "float") is constant(2.5, "float32")  # an alias: the same node
    assert constant(2.5, "float64").dtype == "float64"
    for _ in range(2):  # an out-of-range int is refused every time, never remembered
        with pytest.raises((OverflowError, ValueError)):
            constant(2**40, "int32")
    named = constant(0.5, "float32", name="half")
    assert named.name == "half" and named is constant(0.5, "float32", name="half")
    assert constant(0.5, "float32") is not named


def test_constants_are_per_graph():
    c = as_tensor(0.25, like=K.placeholder((None,)))
    K.clear_session()
    x = K.placeholder((None,))
    d = as_tensor(0.25, like=x)
    assert d is not c and d.graph is x.graph
    with pytest.raises(GraphError, match="another graph"):
        x * c


def test_shape_errors_name_the_op_and_line_every_time():
    x = K.placeholder((None, 3))
    y = K.placeholder((None, 4))
    for _ in range(2):  # a failing rule is never remembered
        with pytest.raises(ShapeError, match=r"add: .*test_build_speed_semantics\.py:\d+"):
            x + y
    with pytest.raises(DTypeError, match="subtract"):
        K.placeholder((2,), dtype="bool") - K.placeholder((2,), dtype="bool")


def test_nodes_record_the_users_line():
    x = K.placeholder((None,))
    y = K.tanh(x * 7.0)
    assert y.location[0].endswith("test_build_speed_semantics.py")
    assert y.inputs[0].location == y.location


def test_names_are_unique_and_scoped():
    x = K.placeholder((None,))
    a, b = K.tanh(x), K.tanh(x * 2.0)
    assert a.name == "tanh" and b.name == "tanh_1"
    with K.name_scope("blk"):
        c = K.tanh(x * 3.0)
    assert c.name == "blk/tanh"


def test_non_tensor_inputs_are_refused():
    x = K.placeholder((None,))
    with pytest.raises(GraphError, match="expected tensors"):
        x.graph.make(x.op, (x, 3))


def test_control_dependencies_still_apply_to_scalar_ops():
    v = K.variable(np.zeros(2))
    outside = v * 2.0
    with control_dependencies([update_add(v, np.ones(2))]):
        inside = v * 2.0
    assert inside is not outside
    np.testing.assert_array_equal(K.function([], [inside])([])[0], [2.0, 2.0])


def test_fills_of_signed_zeros_are_distinct_nodes():
    from symgraph import ops

    x = K.placeholder((3,))
    pos, neg = ops.fill_like(x, 0.0), ops.fill_like(x, -0.0)
    assert pos is not neg
    f = K.function([x], [pos, neg])
    a, b = f([np.ones(3, np.float32)])
    assert not np.signbit(a).any() and np.signbit(b).all()
