"""Elementwise ops against NumPy: shapes, dtypes, broadcasting, None dims, empty dims,
NaN/inf/-0.0, and the Keras edge semantics."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import symgraph.backend as K
from symgraph.runtime.reference import reference_eval
from tests.helpers import assert_close, run_both

RNG = np.random.default_rng(0)


def _data(shape, dtype):
    if np.dtype(dtype).kind == "f":
        return RNG.normal(size=shape).astype(dtype)
    if dtype == "bool":
        return RNG.random(shape) > 0.5
    return RNG.integers(-5, 6, size=shape).astype(dtype)


def _sigmoid(x):
    return 1 / (1 + np.exp(-x))


UNARY = [  # (name, K function, NumPy function, float-only?)
    ("abs", K.abs, np.abs, False),
    ("sign", K.sign, np.sign, False),
    ("square", K.square, np.square, False),
    ("sqrt", K.sqrt, lambda x: np.sqrt(np.maximum(x, 0)), True),
    ("exp", K.exp, np.exp, True),
    ("log", K.log, np.log, True),
    ("sin", K.sin, np.sin, True),
    ("cos", K.cos, np.cos, True),
    ("tanh", K.tanh, np.tanh, True),
    ("sigmoid", K.sigmoid, _sigmoid, True),
    ("hard_sigmoid", K.hard_sigmoid, lambda x: np.clip(0.2 * x + 0.5, 0, 1), True),
    ("softplus", K.softplus, lambda x: np.log1p(np.exp(-np.abs(x))) + np.maximum(x, 0), True),
    ("softsign", K.softsign, lambda x: x / (1 + np.abs(x)), True),
    ("elu", K.elu, lambda x: np.where(x > 0, x, np.expm1(x)), True),
    ("elu_alpha", lambda x: K.elu(x, 0.3), lambda x: np.where(x > 0, x, 0.3 * np.expm1(x)),
     True),
    ("relu", K.relu, lambda x: np.maximum(x, 0), False),
    ("round", K.round, np.rint, True),
    ("negative", lambda x: -x, np.negative, False),
]


FLOAT_ACTIVATIONS = ("hard_sigmoid", "elu", "elu_alpha", "round")  # not run on int inputs
UNARY_CASES = [pytest.param(*u, dtype, id=f"{u[0]}-{dtype}") for u in UNARY
               for dtype in ("float32", "float64", "int32")
               if not (dtype == "int32" and u[0] in FLOAT_ACTIVATIONS)]


@pytest.mark.parametrize("name, fn, ref, float_only, dtype", UNARY_CASES)
@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (2, 0, 3)])
def test_unary_matches_numpy(name, fn, ref, float_only, shape, dtype):
    data = _data(shape, dtype)
    x = K.placeholder(shape, dtype=dtype)
    y = fn(x)
    expected_dtype = "float32" if (float_only and dtype == "int32") else dtype
    assert K.int_shape(y) == shape and K.dtype(y) == expected_dtype
    (got,), (ref_out,) = run_both([x], [y], [data])
    with np.errstate(all="ignore"):
        expected = np.asarray(ref(data.astype(np.float64) if float_only and dtype == "int32"
                                  else data)).astype(expected_dtype)
    assert_close(got, expected, dtype=expected_dtype)
    assert_close(got, ref_out, dtype=expected_dtype)


BINARY = [
    ("add", lambda a, b: a + b, np.add),
    ("subtract", lambda a, b: a - b, np.subtract),
    ("multiply", lambda a, b: a * b, np.multiply),
    ("divide", lambda a, b: a / b, np.true_divide),
    ("floor_divide", lambda a, b: a // b, np.floor_divide),
    ("mod", lambda a, b: a % b, np.mod),
    ("maximum", K.maximum, np.maximum),
    ("minimum", K.minimum, np.minimum),
    ("pow", lambda a, b: K.pow(K.abs(a) + 1, b), lambda a, b: np.power(np.abs(a) + 1, b)),
    ("equal", K.equal, np.equal),
    ("not_equal", K.not_equal, np.not_equal),
    ("greater", K.greater, np.greater),
    ("greater_equal", K.greater_equal, np.greater_equal),
    ("less", K.less, np.less),
    ("less_equal", K.less_equal, np.less_equal),
    ("op_lt", lambda a, b: a < b, np.less),
    ("op_ge", lambda a, b: a >= b, np.greater_equal),
]
BROADCASTS = [((3, 4), (3, 4)), ((3, 1), (1, 4)), ((2, 3, 4), (4,)), ((), (2, 2)),
              ((0, 3), (1, 3))]


@pytest.mark.parametrize("name, fn, ref", BINARY, ids=[b[0] for b in BINARY])
@pytest.mark.parametrize("shapes", BROADCASTS, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_binary_matches_numpy_with_broadcasting(name, fn, ref, shapes, dtype):
    sa, sb = shapes
    a, b = _data(sa, dtype), _data(sb, dtype)
    if name in ("floor_divide", "mod") and dtype == "int32":
        b = np.where(b == 0, 3, b).astype(dtype)
    if name == "pow" and dtype == "int32":
        b = np.abs(b).astype(dtype)
    pa, pb = K.placeholder(sa, dtype=dtype), K.placeholder(sb, dtype=dtype)
    y = fn(pa, pb)
    with np.errstate(all="ignore"):
        expected = ref(a, b)
    assert K.int_shape(y) == expected.shape
    assert K.dtype(y) == expected.dtype.name
    (got,), (ref_out,) = run_both([pa, pb], [y], [a, b])
    assert_close(got, expected, dtype=expected.dtype)
    assert_close(got, ref_out)


@pytest.mark.parametrize("fn", [lambda x: K.exp(x) * 2 + 1, lambda x: K.softmax(x),
                                lambda x: K.maximum(x, K.transpose(x)[:1, :].T * 0 + 1)])
def test_none_dims_fed_at_run_time(fn):
    x = K.placeholder((None, 3))
    y = fn(x)
    assert K.int_shape(y)[1] == 3
    f = K.function([x], [y])
    for n in (1, 4, 0):
        data = _data((n, 3), "float32")
        (got,) = f([data])
        (ref_out,) = run_both([x], [y], [data])[1]
        assert_close(got, ref_out)


SPECIAL = np.array([np.nan, np.inf, -np.inf, -0.0, 0.0, 1.0, -1.0, 1e30, -1e30],
                   dtype=np.float32)


@pytest.mark.parametrize("name, fn, ref, float_only", UNARY, ids=[u[0] for u in UNARY])
def test_special_values_match_numpy(name, fn, ref, float_only):
    x = K.placeholder((None,))
    (got,) = K.function([x], [fn(x)])([SPECIAL])
    with np.errstate(all="ignore"):
        expected = np.asarray(ref(SPECIAL)).astype(np.float32)
    np.testing.assert_allclose(got, expected, rtol=1e-6, equal_nan=True)


def test_keras_edge_semantics():
    c = K.constant
    np.testing.assert_array_equal(K.eval(K.sqrt(c([-4.0, 4.0]))), [0, 2])
    assert K.eval(K.log(c([0.0])))[0] == -np.inf
    assert K.eval(K.exp(c([100.0])))[0] == np.inf
    np.testing.assert_array_equal(K.eval(K.round(c([-2.5, 0.5, 1.5, 2.5]))), [-2, 0, 2, 2])
    np.testing.assert_array_equal(K.eval(K.cast(c([-1.7, 2.9, -0.5]), "int32")), [-1, 2, 0])
    np.testing.assert_array_equal(K.eval(K.cast(c([0.0, -2.0]), "bool")), [False, True])
    np.testing.assert_allclose(K.eval(K.clip(c([-2.0, 0.5, 3.0]), 1.0, 0.0)), [1, 1, 1])
    np.testing.assert_allclose(K.eval(K.clip(c([-2.0, 3.0]), None, 1.0)), [-2, 1])
    np.testing.assert_allclose(K.eval(K.clip(c([-2.0, 3.0]), 0.0, None)), [0, 3])
    np.testing.assert_allclose(K.eval(K.softplus(c([1000.0, -1000.0]))), [1000, 0])
    np.testing.assert_allclose(K.eval(K.softmax(c([[1000.0, 0.0]]))), [[1, 0]])
    np.testing.assert_allclose(K.eval(K.hard_sigmoid(c([-3.0, 1.0]))), [0, 0.7], rtol=1e-6)


@pytest.mark.parametrize("kwargs", [
    {}, {"alpha": 0.1}, {"max_value": 6}, {"max_value": 2.5}, {"threshold": 0.5},
    {"alpha": 0.2, "max_value": 3.0}, {"alpha": 0.3, "threshold": -1.0},
    {"alpha": 0.1, "max_value": 2.0, "threshold": 1.0},
])
def test_relu_options_follow_tf(kwargs):
    data = np.linspace(-5, 8, 27).astype(np.float32)
    alpha = kwargs.get("alpha", 0.0)
    max_value = kwargs.get("max_value")
    threshold = kwargs.get("threshold", 0.0)
    expected = np.where(data > threshold, data, alpha * (data - threshold))
    if max_value is not None:
        expected = np.where(data >= max_value, max_value, expected)
    got = K.eval(K.relu(K.constant(data), **kwargs))
    np.testing.assert_allclose(got, expected, rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("axis", [-1, 0, 1])
def test_softmax_axis(axis):
    data = _data((3, 4), "float64")
    got = K.eval(K.softmax(K.constant(data, dtype="float64"), axis=axis))
    e = np.exp(data - data.max(axis, keepdims=True))
    assert_close(got, e / e.sum(axis, keepdims=True), dtype="float64")


def test_python_scalars_are_weak():
    x = K.placeholder((2,), dtype="float32")
    assert K.dtype(x * 2.0) == "float32"
    assert K.dtype(2 * x + 1) == "float32"
    i = K.placeholder((2,), dtype="int32")
    assert K.dtype(i + 1) == "int32"
    assert K.dtype(i * 0.5) == "float32"
    assert K.dtype(i / i) == "float64"  # NumPy's rule for int / int
    assert K.dtype(x + K.placeholder((2,), dtype="float64")) == "float64"  # NumPy promotion
    f = K.function([i], [i * 0.5, i // 2, -i])
    got = f([np.array([3, -3])])
    np.testing.assert_array_equal(got[0], [1.5, -1.5])
    np.testing.assert_array_equal(got[1], [1, -2])
    np.testing.assert_array_equal(got[2], [-3, 3])


def test_numpy_arrays_on_the_left_defer_to_tensors():
    x = K.placeholder((3,))
    y = np.ones(3, np.float32) + x
    assert K.is_tensor(y)
    np.testing.assert_array_equal(K.function([x], [y])([np.arange(3.0)])[0], [1, 2, 3])


def test_int_overflow_wraps_like_numpy():
    a = np.array([2**31 - 1], np.int32)
    x = K.placeholder((1,), dtype="int32")
    (got,) = K.function([x], [x + 1])([a])
    with np.errstate(all="ignore"):
        np.testing.assert_array_equal(got, a + np.int32(1))


_UNARY_FNS = [K.exp, K.tanh, K.sigmoid, K.square, K.abs, K.softsign, K.relu, K.sin]
_BINARY_FNS = [lambda a, b: a + b, lambda a, b: a * b, K.maximum, K.minimum,
               lambda a, b: a - b]


def _chain(program, dtype):
    x = K.placeholder((None, 3), dtype=dtype)
    b = K.placeholder((3,), dtype=dtype)
    nodes = [x, b]
    for u, bi, pick in program:
        src = nodes[pick % len(nodes)]
        nodes.append(_UNARY_FNS[u](src))
        nodes.append(_BINARY_FNS[bi](nodes[-1], nodes[(pick * 7) % len(nodes)]))
    return [x, b], nodes[-1]


@settings(max_examples=25, deadline=None, derandomize=True)  # same examples in CI
@given(st.lists(st.tuples(st.integers(0, 7), st.integers(0, 4), st.integers(0, 20)),
                min_size=1, max_size=6),
       st.integers(1, 6), st.sampled_from(["float32", "float64"]), st.integers(0, 2**16))
def test_random_elementwise_chains_match_numpy(program, n, dtype, seed):
    rng = np.random.default_rng(seed)
    data = [rng.normal(size=(n, 3)).astype(dtype), rng.normal(size=3).astype(dtype)]
    inputs, out = _chain(program, dtype)
    (got,), (ref_out,) = run_both(inputs, [out], data)
    if dtype == "float64":
        np.testing.assert_allclose(got, ref_out, rtol=1e-10, atol=1e-12, equal_nan=True)
        return
    # float32: deep exp chains amplify 1-ulp differences between numba's and NumPy's
    # libm, so judge both against float64 truth: ours may not be much worse than NumPy's.
    inputs64, out64 = _chain(program, "float64")
    (truth,) = reference_eval([out64], {p: d.astype(np.float64) for p, d in zip(inputs64, data)})
    with np.errstate(all="ignore"):
        finite = np.isfinite(truth) & np.isfinite(ref_out)
        ours = np.abs(got[finite] - truth[finite])
        numpy_err = np.abs(ref_out[finite].astype(np.float64) - truth[finite])
    bound = 4 * numpy_err + 1e-5 * np.abs(truth[finite]) + 1e-5
    assert (ours <= bound).all(), (got, ref_out, truth)
