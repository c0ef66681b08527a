"""Creation functions, variables, casts, introspection, configuration, random draws,
name scopes and clear_session (§7.1, §7.4, §7.9, §7.12)."""

import numpy as np
import pytest

import symgraph.backend as K
from symgraph.errors import GraphError, ShapeError
from tests.helpers import assert_close

DTYPES = ["float32", "float64", "int32"]


# -- variable --------------------------------------------------------------------------------
@pytest.mark.parametrize("value", [
    [[1, 2], [3, 4]], np.arange(6, dtype="int64").reshape(2, 3), np.ones(3, "float64"),
    np.array([True, False]), 3, 2.5, np.float64(1.5), np.zeros((0, 3), "int32"),
], ids=["int_list", "int64_array", "float64_array", "bool_array", "int", "float",
        "np_float64", "empty_int32"])
def test_variable_dtype_defaults_to_floatx_whatever_the_value(value):
    v = K.variable(value)
    expected = np.asarray(value).astype("float32")
    assert K.dtype(v) == "float32" and K.is_variable(v) and K.is_tensor(v)
    assert K.int_shape(v) == expected.shape
    assert_close(K.eval(v), expected, dtype="float32")
    assert_close(K.get_value(v), expected, dtype="float32")


@pytest.mark.parametrize("dtype", DTYPES + ["bool", "float16"])
def test_variable_with_an_explicit_dtype(dtype):
    value = np.array([[1.7, -2.2, 0.0]])
    v = K.variable(value, dtype=dtype)
    assert K.dtype(v) == dtype and K.int_shape(v) == (1, 3)
    assert_close(K.eval(v), value.astype(dtype), dtype=dtype)


def test_variable_names_are_honoured_and_made_unique():
    a, b, c = (K.variable(1.0, name="w") for _ in range(3))
    assert (a.name, b.name, c.name) == ("w", "w_1", "w_2")
    d = K.variable(1.0, name="w_1")  # an existing name is never reused
    assert d.name not in ("w", "w_1", "w_2")
    assert K.variable(0.0).name != K.variable(0.0).name  # default names too
    assert a is not b


def test_variable_of_a_tensor_takes_its_value():
    v = K.variable(K.constant([1.0, 2.0]) * 3)
    assert K.is_variable(v)
    assert_close(K.eval(v), np.array([3.0, 6.0], "float32"), dtype="float32")


@pytest.mark.parametrize("dtype", DTYPES)
def test_set_value_and_get_value_round_trip(dtype):
    v = K.variable(np.zeros((2, 3)), dtype=dtype)
    new = np.arange(6).reshape(2, 3) * 1.5
    K.set_value(v, new)
    got = K.get_value(v)
    assert_close(got, new.astype(dtype), dtype=dtype)
    got[...] = 0  # the returned array is a copy
    new[...] = 0  # and so is the stored one
    assert_close(K.get_value(v), (np.arange(6).reshape(2, 3) * 1.5).astype(dtype))
    assert_close(K.eval(v), (np.arange(6).reshape(2, 3) * 1.5).astype(dtype))


def test_set_value_checks_shape_and_target():
    v = K.variable([1.0, 2.0])
    with pytest.raises(ShapeError) as info:
        K.set_value(v, [1.0, 2.0, 3.0])
    assert isinstance(info.value, ValueError)
    with pytest.raises(TypeError):
        K.set_value(K.placeholder((2,)), [1.0, 2.0])
    with pytest.raises(TypeError):
        K.set_value(K.constant([1.0, 2.0]), [1.0, 2.0])


def test_set_value_is_seen_by_compiled_functions():
    v = K.variable(np.ones((2, 2)))
    x = K.placeholder((None, 2))
    f = K.function([x], [K.dot(x, v)])
    data = np.arange(6.0).reshape(3, 2)
    assert_close(f([data])[0], (data @ np.ones((2, 2))).astype("float32"))
    K.set_value(v, np.eye(2))
    assert_close(f([data])[0], data.astype("float32"))


def test_batch_get_value_and_batch_set_value():
    a = K.variable(np.zeros((2, 2)))
    b = K.variable(np.zeros(3), dtype="int32")
    c = K.variable(0.0, dtype="float64")
    K.batch_set_value([(a, np.eye(2)), (b, [5.7, -1.2, 3]), (c, 2.5)])
    got = K.batch_get_value([a, b, c])
    assert isinstance(got, list) and len(got) == 3
    assert_close(got[0], np.eye(2, dtype="float32"), dtype="float32")
    assert_close(got[1], np.array([5, -1, 3], "int32"), dtype="int32")
    assert_close(got[2], np.float64(2.5), dtype="float64")
    assert K.batch_get_value([]) == []
    K.batch_set_value([])
    x = K.constant([1.0, 2.0])
    assert_close(K.batch_get_value([x * 2])[0], np.array([2.0, 4.0], "float32"))


# -- constant / placeholder ------------------------------------------------------------------
@pytest.mark.parametrize("value, dtype, shape", [
    (1.5, None, (2, 3)), (7, "int32", (4,)), (-2.25, "float64", (1, 2, 2)), (0.5, None, ()),
    (3, None, (0, 3)), ([2.0], "float64", (3, 1)), (np.float32(4), "int32", (2, 2)),
    (1.0, None, [2]),
], ids=str)
def test_constant_fills_a_shape(value, dtype, shape):
    c = K.constant(value, dtype=dtype, shape=shape)
    dt = dtype or "float32"
    expected = np.full(tuple(shape), np.asarray(value).item(), dtype=dt)
    assert K.int_shape(c) == expected.shape and K.dtype(c) == dt
    assert not K.is_variable(c) and not K.is_placeholder(c)
    assert_close(K.eval(c), expected, dtype=dt)


def test_constant_values_reshape_and_dtype_defaults():
    assert_close(K.eval(K.constant([1, 2, 3, 4], shape=(2, 2))),
                 np.array([[1, 2], [3, 4]], "float32"), dtype="float32")
    assert K.dtype(K.constant(3)) == "float32"
    assert K.dtype(K.constant(np.arange(3, dtype="int64"))) == "float32"
    assert K.dtype(K.constant(np.ones(2, "float64"))) == "float32"
    assert K.dtype(K.constant([1, 2], dtype="int32")) == "int32"
    with pytest.raises(ValueError):
        K.constant([1, 2, 3], shape=(2, 2))
    with pytest.raises(ValueError):
        K.constant(1.0, shape=(None, 2))
    assert K.constant(1.0, name="c").name == "c"
    assert K.constant(2.0, name="c").name != "c"  # another node, a unique name


@pytest.mark.parametrize("shape, ndim, dtype, expected_shape, expected_dtype", [
    ((None, 3), None, None, (None, 3), "float32"),
    ((2, 3), None, "int32", (2, 3), "int32"),
    ((None, None, 4), None, "float64", (None, None, 4), "float64"),
    ((), None, None, (), "float32"),
    ((0, 3), None, "int32", (0, 3), "int32"),
    ([None, 2], None, None, (None, 2), "float32"),
    (None, 3, None, (None, None, None), "float32"),
    (None, 0, "int32", (), "int32"),
    ((2, 3), 3, None, (2, 3), "float32"),  # shape wins over ndim
    (None, None, None, None, "float32"),  # unknown rank
])
def test_placeholder_shape_ndim_dtype(shape, ndim, dtype, expected_shape, expected_dtype):
    p = K.placeholder(shape=shape, ndim=ndim, dtype=dtype)
    assert K.is_placeholder(p) and not K.is_variable(p)
    assert K.int_shape(p) == expected_shape
    assert K.ndim(p) == (None if expected_shape is None else len(expected_shape))
    assert K.dtype(p) == expected_dtype


def test_placeholder_name_and_errors():
    assert K.placeholder((1,), name="inp").name == "inp"
    assert K.placeholder((1,), name="inp").name == "inp_1"
    with pytest.raises(ValueError):
        K.placeholder((2,), sparse=True)
    with pytest.raises(ValueError):
        K.placeholder((2,), ragged=True)
    with pytest.raises(ValueError):
        K.placeholder((-1, 2))


# -- zeros / ones / eye ----------------------------------------------------------------------
@pytest.mark.parametrize("fn, np_fn", [(K.zeros, np.zeros), (K.ones, np.ones)],
                         ids=["zeros", "ones"])
@pytest.mark.parametrize("shape", [(2, 3), (4,), (), (0, 3), (2, 1, 2), 3], ids=str)
@pytest.mark.parametrize("dtype", [None] + DTYPES)
def test_zeros_and_ones_are_variables(fn, np_fn, shape, dtype):
    v = fn(shape, dtype=dtype)
    dt = dtype or "float32"
    expected = np_fn(shape, dtype=dt)
    assert K.is_variable(v) and K.dtype(v) == dt and K.int_shape(v) == expected.shape
    assert_close(K.eval(v), expected, dtype=dt)
    K.set_value(v, np.full(expected.shape, 7))  # assignable
    assert_close(K.get_value(v), np.full(expected.shape, 7, dt))


@pytest.mark.parametrize("fn", [K.zeros, K.ones, K.random_uniform, K.random_normal])
def test_fills_need_a_fully_known_shape(fn):
    with pytest.raises(ValueError):
        fn((None, 3))


@pytest.mark.parametrize("size, dtype", [
    (3, None), (1, "int32"), ((2, 3), None), ((3, 2), "float64"), (0, None), ([2, 4], "int32"),
    (np.int64(2), None),
], ids=str)
def test_eye(size, dtype):
    v = K.eye(size, dtype=dtype)
    dt = dtype or "float32"
    rows, cols = (size, size) if np.ndim(size) == 0 else size
    expected = np.eye(rows, cols, dtype=dt)
    assert K.is_variable(v) and K.dtype(v) == dt and K.int_shape(v) == expected.shape
    assert_close(K.eval(v), expected, dtype=dt)


def test_fill_names():
    assert K.zeros((2,), name="z").name == "z"
    assert K.ones((2,), name="z").name == "z_1"
    assert K.eye(2, name="I").name == "I"


# -- zeros_like / ones_like ------------------------------------------------------------------
@pytest.mark.parametrize("fn, fill", [(K.zeros_like, 0), (K.ones_like, 1)],
                         ids=["zeros_like", "ones_like"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_fill_like_keeps_dtype_and_follows_run_time_shape(fn, fill, dtype):
    x = K.placeholder((None, 3, None), dtype=dtype)
    y = fn(x)
    assert K.dtype(y) == dtype  # TF 2.2: dtype=None keeps x's dtype (int32 stays int32)
    assert K.int_shape(y) == (None, 3, None)
    assert not K.is_variable(y)
    f = K.function([x], [y])
    for shape in ((2, 3, 4), (5, 3, 1), (0, 3, 2)):
        got = f([np.zeros(shape, dtype)])[0]
        assert_close(got, np.full(shape, fill, dtype), dtype=dtype)


@pytest.mark.parametrize("fn, fill", [(K.zeros_like, 0), (K.ones_like, 1)],
                         ids=["zeros_like", "ones_like"])
@pytest.mark.parametrize("dtype", DTYPES + ["bool"])
def test_fill_like_with_an_explicit_dtype(fn, fill, dtype):
    x = K.variable(np.ones((2, 3)), dtype="int32")
    y = fn(x, dtype=dtype)
    assert K.dtype(y) == dtype and K.int_shape(y) == (2, 3)
    assert_close(K.eval(y), np.full((2, 3), fill, dtype), dtype=dtype)


def test_fill_like_of_arrays_op_results_and_names():
    assert_close(K.eval(K.zeros_like(np.ones((2, 2), "float64"))), np.zeros((2, 2)),
                 dtype="float64")
    assert_close(K.eval(K.ones_like(K.constant([1, 2], dtype="int32"))),
                 np.ones(2, "int32"), dtype="int32")
    p = K.placeholder((None, 4))
    z = K.ones_like(K.dot(p, K.variable(np.ones((4, 2)))))
    assert K.int_shape(z) == (None, 2)
    assert_close(K.function([p], [z])([np.zeros((3, 4))])[0], np.ones((3, 2), "float32"))
    assert K.zeros_like(p, name="zl").name == "zl"


def test_fill_like_of_an_unknown_rank_placeholder():
    p = K.placeholder(dtype="float64")
    z, o = K.zeros_like(p), K.ones_like(p, dtype="int32")
    assert K.int_shape(z) is None and K.dtype(z) == "float64" and K.dtype(o) == "int32"
    f = K.function([p], [z, o])
    for shape in ((2, 3), (), (0,), (1, 2, 3)):
        got_z, got_o = f([np.full(shape, 5.0)])
        assert_close(got_z, np.zeros(shape), dtype="float64")
        assert_close(got_o, np.ones(shape, "int32"), dtype="int32")


# -- cast / cast_to_floatx -------------------------------------------------------------------
CAST_VALUES = np.array([[-1.7, 2.5, 0.0], [3.99, -0.2, 100.0]])


@pytest.mark.parametrize("src", DTYPES)
@pytest.mark.parametrize("dst", DTYPES + ["bool"])
def test_cast(src, dst):
    data = CAST_VALUES.astype(src)
    x = K.placeholder((None, 3), dtype=src)
    y = K.cast(x, dst)
    assert K.dtype(y) == dst and K.int_shape(y) == (None, 3)
    f = K.function([x], [y])
    expected = data.astype(dst)  # float -> int truncates toward zero; nonzero -> True
    assert_close(f([data])[0], expected, dtype=dst)
    assert_close(f([data[:1]])[0], expected[:1], dtype=dst)
    if src == dst:
        assert y is x


def test_cast_truncates_toward_zero():
    got = K.eval(K.cast(K.constant([-1.7, -0.5, 0.5, 1.7]), "int32"))
    assert_close(got, np.array([-1, 0, 0, 1], "int32"), dtype="int32")


def test_cast_to_floatx():
    arr = K.cast_to_floatx([1, 2])
    assert isinstance(arr, np.ndarray) and arr.dtype == np.float32
    assert isinstance(K.cast_to_floatx(3), np.ndarray)
    t = K.cast_to_floatx(K.placeholder((2,), dtype="int32"))
    assert K.is_tensor(t) and K.dtype(t) == "float32"
    K.set_floatx("float64")
    assert K.cast_to_floatx(np.ones(2, "float32")).dtype == np.float64
    assert K.dtype(K.cast_to_floatx(K.constant([1.0], dtype="float32"))) == "float64"


# -- introspection ---------------------------------------------------------------------------
def test_int_shape_ndim_dtype_of_tensors_and_arrays():
    x = K.placeholder((None, 3, 4), dtype="int32")
    assert K.int_shape(x) == (None, 3, 4) and K.ndim(x) == 3 and K.dtype(x) == "int32"
    s = K.sum(K.exp(K.placeholder((None, 3, 4))), axis=1)
    assert K.int_shape(s) == (None, 4) and K.ndim(s) == 2
    assert K.int_shape(np.zeros((2, 5))) == (2, 5) and K.ndim(np.zeros((2, 5))) == 2
    assert K.dtype(np.zeros(2, "int32")) == "int32"
    assert K.int_shape(K.constant(1.0)) == () and K.ndim(K.constant(1.0)) == 0
    assert isinstance(K.ndim(x), int)
    assert K.ndim(K.placeholder()) is None and K.int_shape(K.placeholder()) is None


@pytest.mark.parametrize("make, count", [
    (lambda: K.zeros((2, 3)), 6), (lambda: K.variable(3.0), 1), (lambda: K.ones((0, 5)), 0),
    (lambda: K.placeholder((4, 5, 2)), 40), (lambda: K.constant(1.0, shape=(7,)), 7),
    (lambda: K.eye(3), 9),
])
def test_count_params(make, count):
    n = K.count_params(make())
    assert n == count and isinstance(n, int)


@pytest.mark.parametrize("shape", [(None, 3), None])
def test_count_params_needs_a_fully_known_shape(shape):
    with pytest.raises(ValueError):
        K.count_params(K.placeholder(shape))


# -- configuration ---------------------------------------------------------------------------
def test_floatx_defaults_and_rejects_non_floats():
    assert K.floatx() == "float32"
    for bad in ("int32", "float", "float128", "bool", "double"):
        with pytest.raises(ValueError):
            K.set_floatx(bad)
    assert K.floatx() == "float32"


@pytest.mark.parametrize("floatx", ["float64", "float16", "float32"])
def test_set_floatx_affects_new_tensors(floatx):
    before = K.variable([1.0])
    K.set_floatx(floatx)
    assert K.floatx() == floatx
    assert K.dtype(before) == "float32"  # existing tensors keep their dtype
    made = [K.variable([1, 2]), K.variable(np.ones(2, "float32")), K.zeros((2,)), K.ones((2,)),
            K.eye(2), K.placeholder((2,)), K.constant(1.0), K.random_uniform((2,), seed=1),
            K.random_normal((2,), seed=1), K.truncated_normal((2,), seed=1),
            K.random_binomial((2,), 0.5, seed=1)]
    for t in made:
        assert K.dtype(t) == floatx, t
        if not K.is_placeholder(t):
            assert K.eval(t).dtype == np.dtype(floatx), t
    assert K.dtype(K.zeros((2,), dtype="int32")) == "int32"
    assert K.dtype(K.zeros_like(K.placeholder((2,), dtype="int32"))) == "int32"


def test_epsilon_and_set_epsilon():
    assert K.epsilon() == 1e-7
    K.set_epsilon(1e-5)
    assert K.epsilon() == 1e-5
    K.set_epsilon(np.float32(0.5))
    assert K.epsilon() == 0.5 and isinstance(K.epsilon(), float)


# -- random ----------------------------------------------------------------------------------
RANDOM = {
    "uniform": lambda shape, seed, dtype=None: K.random_uniform(shape, -2.0, 3.0, dtype, seed),
    "normal": lambda shape, seed, dtype=None: K.random_normal(shape, 1.0, 2.0, dtype, seed),
    "truncated": lambda shape, seed, dtype=None: K.truncated_normal(shape, 1.0, 2.0, dtype,
                                                                    seed),
    "binomial": lambda shape, seed, dtype=None: K.random_binomial(shape, 0.3, dtype, seed),
}


@pytest.mark.parametrize("kind", sorted(RANDOM))
def test_random_same_seed_same_numbers(kind):
    make = RANDOM[kind]
    a, b = make((4, 50), 7), make((4, 50), 7)
    assert K.int_shape(a) == (4, 50) and K.dtype(a) == "float32"
    first = K.eval(a)
    np.testing.assert_array_equal(K.eval(b), first)  # two ops, one seed: same numbers
    np.testing.assert_array_equal(K.eval(b), K.eval(a))  # and the same stream afterwards
    K.clear_session()
    np.testing.assert_array_equal(K.eval(make((4, 50), 7)), first)  # a new graph too
    assert not np.array_equal(K.eval(make((4, 50), 8)), first)


@pytest.mark.parametrize("kind", sorted(RANDOM))
def test_random_is_resampled_on_each_evaluation(kind):
    r = RANDOM[kind]((1000,), 3)
    values = [K.eval(r) for _ in range(3)]
    assert not np.array_equal(values[0], values[1])
    assert not np.array_equal(values[1], values[2])
    x = K.placeholder((1000,))
    f = K.function([x], [x + r])
    zeros = np.zeros(1000, "float32")
    assert not np.array_equal(f([zeros])[0], f([zeros])[0])


@pytest.mark.parametrize("kind", sorted(RANDOM))
def test_random_one_tensor_used_twice_in_one_evaluation_is_one_draw(kind):
    r = RANDOM[kind]((100,), 5)
    a, b = K.function([], [r, r * 1])([])
    np.testing.assert_array_equal(a, b)
    assert_close(K.eval(r - r), np.zeros(100, "float32"))


def test_random_seed_none_follows_numpy_global_seed_in_one_graph():
    np.random.seed(123)
    a = K.eval(K.random_normal((6,)))
    np.random.seed(123)
    b = K.eval(K.random_normal((6,)))
    np.testing.assert_array_equal(a, b)
    c = K.eval(K.random_normal((6,)))  # the global RNG moved on: a new seed
    assert not np.array_equal(a, c)


STATS = [  # (kind, expected mean, expected std, (lowest, highest) allowed)
    ("uniform", 0.5, 5 / np.sqrt(12), (-2.0, 3.0)),
    ("normal", 1.0, 2.0, (-np.inf, np.inf)),
    ("truncated", 1.0, 2.0 * 0.8796, (1.0 - 4.0, 1.0 + 4.0)),
    ("binomial", 0.3, np.sqrt(0.21), (0.0, 1.0)),
]


@pytest.mark.parametrize("kind, mean, std, bounds", STATS, ids=[s[0] for s in STATS])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_random_statistics(kind, mean, std, bounds, dtype):
    v = K.eval(RANDOM[kind]((100_000,), 2024, dtype))
    assert v.dtype == np.dtype(dtype) and v.shape == (100_000,)
    assert abs(v.mean() - mean) < 5 * std / np.sqrt(v.size)
    assert abs(v.std() - std) < 0.02 * std
    assert v.min() >= bounds[0] and v.max() <= bounds[1]
    if kind == "uniform":
        assert v.max() < 3.0  # [minval, maxval)
        assert v.min() < -1.99 and v.max() > 2.99
    if kind == "truncated":
        assert np.abs(v - 1.0).max() <= 4.0 and np.abs(v - 1.0).max() > 3.9
    if kind == "binomial":
        assert set(np.unique(v)) == {0.0, 1.0}


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
@pytest.mark.parametrize("low, high", [(0.0, 1.0), (-3.0, -1.0), (10.0, 12.0)])
def test_random_uniform_never_reaches_maxval(dtype, low, high):
    v = K.eval(K.random_uniform((100_000,), low, high, dtype=dtype, seed=1))
    assert v.dtype == np.dtype(dtype)
    assert v.min() >= low and v.max() < np.asarray(high, dtype)


def test_random_uniform_integer_dtype_is_uniform_in_the_half_open_range():
    v = K.eval(K.random_uniform((60_000,), -3, 2, dtype="int32", seed=4))
    assert v.dtype == np.int32
    counts = np.bincount(v + 3, minlength=5)
    assert len(counts) == 5 and counts.min() > 11_000  # -3..1, each about 12000 times


@pytest.mark.parametrize("p, value", [(0.0, 0.0), (1.0, 1.0)])
def test_random_binomial_extremes(p, value):
    assert_close(K.eval(K.random_binomial((50,), p=p, seed=0)), np.full(50, value, "float32"))


@pytest.mark.parametrize("shape", [(0, 3), (), 4, (2, 1, 3)], ids=str)
def test_random_shapes(shape):
    r = K.random_normal(shape, seed=1)
    expected = np.empty(shape).shape
    assert K.int_shape(r) == expected and K.eval(r).shape == expected


# -- name_scope / clear_session --------------------------------------------------------------
def test_name_scope_prefixes_names():
    with K.name_scope("block") as scope:
        assert scope == "block"
        v = K.variable(1.0, name="w")
        p = K.placeholder((2,), name="x")
        c = K.constant([1.0, 3.0], name="k")
        s = K.exp(p)
        with K.name_scope("inner") as inner:
            assert inner == "block/inner"
            u = K.variable(1.0)
            z = K.zeros((2,), name="z")
        w2 = K.variable(1.0, name="w")
    assert (v.name, p.name, c.name, s.name) == ("block/w", "block/x", "block/k", "block/exp")
    assert u.name.startswith("block/inner/") and z.name == "block/inner/z"
    assert w2.name == "block/w_1"
    assert K.variable(1.0, name="w").name == "w"  # outside the scope: no prefix
    with pytest.raises(ValueError):
        with K.name_scope(""):
            pass


def test_clear_session_starts_a_new_graph():
    v = K.variable(1.0, name="w")
    graph = K.get_graph()
    K.clear_session()
    assert K.get_graph() is not graph and len(K.get_graph()) == 0
    assert K.variable(1.0, name="w").name == "w"  # names restart
    assert_close(K.eval(v), np.float32(1.0))  # old tensors still evaluate on their own
    with pytest.raises(GraphError) as info:
        K.variable(2.0) + v  # but do not mix with the new graph
    assert isinstance(info.value, ValueError)
