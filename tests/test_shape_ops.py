"""Shape manipulation and indexing against independent NumPy expressions.

Every case checks the static shape (``K.int_shape``) before any data exists, then runs
one compiled ``K.function`` (and the NumPy reference interpreter) on several fed shapes,
including two batch sizes and an empty batch, for float32, float64 and int32.
"""

import numpy as np
import pytest

import symgraph.backend as K
from symgraph.errors import ShapeError
from tests.helpers import assert_close, random_array, run_both

RNG = np.random.default_rng(7)
DTYPES = ["float32", "float64", "int32"]


def _data(shape, dtype):
    return random_array(RNG, shape, dtype, int_bound=50)


def _fed_shapes(static, sizes):
    """One concrete shape per size: every None dim takes that size."""
    return [tuple(n if d is None else d for d in static) for n in sizes]


def _static_matches(static, concrete):
    return static is not None and len(static) == len(concrete) and all(
        s is None or s == c for s, c in zip(static, concrete))


# (id, static input shape, expected static output, K builder, NumPy builder, None sizes)
CASES = [
    # reshape
    ("reshape_minus1", (None, 3, 4), (None, 12), lambda x: K.reshape(x, (-1, 12)),
     lambda a: a.reshape(-1, 12), (2, 5, 0)),
    ("reshape_none_entry", (None, 3, 4), (None, 4, 3), lambda x: K.reshape(x, (None, 4, 3)),
     lambda a: a.reshape(-1, 4, 3), (2, 5, 0)),
    ("reshape_known", (2, 3, 4), (4, 6), lambda x: K.reshape(x, (4, -1)),
     lambda a: a.reshape(4, 6), (1,)),
    ("reshape_list_target", (2, 6), (3, 2, 2), lambda x: K.reshape(x, [3, 2, 2]),
     lambda a: a.reshape(3, 2, 2), (1,)),
    ("reshape_int_target", (2, 6), (12,), lambda x: K.reshape(x, 12),
     lambda a: a.reshape(12), (1,)),
    ("reshape_to_scalar", (1, 1), (), lambda x: K.reshape(x, ()),
     lambda a: a.reshape(()), (1,)),
    ("reshape_shape_entry", (None, 3, 4), (None, 2, 6),
     lambda x: K.reshape(x, (K.shape(x)[0], 2, 6)),
     lambda a: a.reshape(a.shape[0], 2, 6), (2, 5, 0)),
    ("reshape_shape_entry_negative", (None, 3, 4), (None, 4),
     lambda x: K.reshape(x, (-1, K.shape(x)[-1])), lambda a: a.reshape(-1, 4), (2, 5, 0)),
    ("reshape_shape_entry_none_dim", (None, None), (None, None, 1),
     lambda x: K.reshape(x, (K.shape(x)[1], K.shape(x)[0], 1)),
     lambda a: a.reshape(a.shape[1], a.shape[0], 1), (2, 5, 0)),
    ("reshape_of_transposed_view", (None, 3), (3, None),
     lambda x: K.reshape(K.transpose(x), (3, -1)), lambda a: a.T.reshape(3, -1), (2, 5, 0)),
    ("reshape_empty_dim", (0, 3), (3, 0), lambda x: K.reshape(x, (3, -1)),
     lambda a: a.reshape(3, 0), (1,)),
    # flatten / batch_flatten
    ("flatten", (None, 3, 4), (None,), K.flatten, lambda a: a.reshape(-1), (2, 5, 0)),
    ("flatten_known", (2, 3), (6,), K.flatten, lambda a: a.ravel(), (1,)),
    ("flatten_scalar", (), (1,), K.flatten, lambda a: a.reshape(1), (1,)),
    ("batch_flatten", (None, 3, 4), (None, 12), K.batch_flatten,
     lambda a: a.reshape(a.shape[0], 12), (2, 5, 0)),
    ("batch_flatten_4d", (None, 2, 3, 2), (None, 12), K.batch_flatten,
     lambda a: a.reshape(a.shape[0], 12), (2, 5, 0)),
    ("batch_flatten_none_inner", (None, None, 3), (None, None), K.batch_flatten,
     lambda a: a.reshape(a.shape[0], a.shape[1] * 3), (2, 5, 0)),
    ("batch_flatten_1d", (None,), (None, 1), K.batch_flatten,
     lambda a: a.reshape(a.shape[0], 1), (2, 5, 0)),
    ("batch_flatten_empty_inner", (None, 0, 3), (None, 0), K.batch_flatten,
     lambda a: a.reshape(a.shape[0], 0), (2, 5)),
    # expand_dims
    ("expand_dims_default", (None, 3), (None, 3, 1), K.expand_dims,
     lambda a: a[..., np.newaxis], (2, 5, 0)),
    ("expand_dims_0", (None, 3), (1, None, 3), lambda x: K.expand_dims(x, 0),
     lambda a: np.expand_dims(a, 0), (2, 5, 0)),
    ("expand_dims_1", (None, 3), (None, 1, 3), lambda x: K.expand_dims(x, 1),
     lambda a: np.expand_dims(a, 1), (2, 5, 0)),
    ("expand_dims_neg2", (None, 3), (None, 1, 3), lambda x: K.expand_dims(x, -2),
     lambda a: np.expand_dims(a, -2), (2, 5, 0)),
    ("expand_dims_neg3", (2, 3), (1, 2, 3), lambda x: K.expand_dims(x, -3),
     lambda a: np.expand_dims(a, 0), (1,)),
    ("expand_dims_scalar", (), (1,), K.expand_dims, lambda a: np.expand_dims(a, -1), (1,)),
    # squeeze
    ("squeeze_1", (None, 1, 3), (None, 3), lambda x: K.squeeze(x, 1),
     lambda a: np.squeeze(a, 1), (2, 5, 0)),
    ("squeeze_neg1", (None, 3, 1), (None, 3), lambda x: K.squeeze(x, -1),
     lambda a: np.squeeze(a, -1), (2, 5, 0)),
    ("squeeze_to_scalar", (1,), (), lambda x: K.squeeze(x, 0), lambda a: a[0], (1,)),
    ("squeeze_none_dim_fed_1", (None, 4), (4,), lambda x: K.squeeze(x, 0),
     lambda a: a[0], (1,)),
    # concatenate
    ("concat_last", (None, 3), (None, 4), lambda x: K.concatenate([x, x[:, :1]]),
     lambda a: np.concatenate([a, a[:, :1]], axis=-1), (2, 5, 0)),
    ("concat_axis0", (None, 3), (None, 3), lambda x: K.concatenate([x, x[::-1], x], axis=0),
     lambda a: np.concatenate([a, a[::-1], a], axis=0), (2, 5, 0)),
    ("concat_neg2", (None, 2, 3), (None, 4, 3),
     lambda x: K.concatenate([x, x[:, ::-1]], axis=-2),
     lambda a: np.concatenate([a, a[:, ::-1]], axis=-2), (2, 5, 0)),
    ("concat_with_empty_part", (None, 3), (None, 3),
     lambda x: K.concatenate([x[:, :0], x], axis=1),
     lambda a: np.concatenate([a[:, :0], a], axis=1), (2, 5, 0)),
    ("concat_transposed_views", (2, 3), (6, 2),
     lambda x: K.concatenate([K.transpose(x), K.transpose(x)[::-1]], axis=0),
     lambda a: np.concatenate([a.T, a.T[::-1]], axis=0), (1,)),
    # stack
    ("stack_default", (None, 3), (2, None, 3), lambda x: K.stack([x, x[::-1]]),
     lambda a: np.stack([a, a[::-1]]), (2, 5, 0)),
    ("stack_1", (None, 3), (None, 3, 3), lambda x: K.stack([x, x, x[:, ::-1]], axis=1),
     lambda a: np.stack([a, a, a[:, ::-1]], axis=1), (2, 5, 0)),
    ("stack_neg1", (None, 3), (None, 3, 2), lambda x: K.stack([x, x[:, ::-1]], axis=-1),
     lambda a: np.stack([a, a[:, ::-1]], axis=-1), (2, 5, 0)),
    ("stack_single", (None, 3), (1, None, 3), lambda x: K.stack([x]),
     lambda a: np.stack([a]), (2, 5, 0)),
    # permute_dimensions / transpose
    ("permute_201", (None, 3, 4), (4, None, 3), lambda x: K.permute_dimensions(x, (2, 0, 1)),
     lambda a: a.transpose(2, 0, 1), (2, 5, 0)),
    ("permute_021_list", (None, 3, 4), (None, 4, 3),
     lambda x: K.permute_dimensions(x, [0, 2, 1]), lambda a: a.transpose(0, 2, 1), (2, 5, 0)),
    ("permute_identity", (None, 3), (None, 3), lambda x: K.permute_dimensions(x, (0, 1)),
     lambda a: a, (2, 5, 0)),
    ("transpose_3d", (None, 3, 4), (4, 3, None), K.transpose,
     lambda a: a.transpose(2, 1, 0), (2, 5, 0)),
    ("transpose_4d", (2, 3, 1, 4), (4, 1, 3, 2), K.transpose,
     lambda a: np.transpose(a), (1,)),
    ("transpose_2d", (None, 3), (3, None), K.transpose, lambda a: a.T, (2, 5, 0)),
    ("transpose_1d", (None,), (None,), K.transpose, lambda a: a, (2, 5, 0)),
    # tile / repeat_elements / repeat
    ("tile_2d", (None, 3), (None, 6), lambda x: K.tile(x, (2, 2)),
     lambda a: np.tile(a, (2, 2)), (2, 5, 0)),
    ("tile_3d_list", (None, 2, 3), (None, 6, 3), lambda x: K.tile(x, [1, 3, 1]),
     lambda a: np.tile(a, (1, 3, 1)), (2, 5, 0)),
    ("tile_zero", (None, 3), (None, 0), lambda x: K.tile(x, (3, 0)),
     lambda a: np.tile(a, (3, 0)), (2, 5, 0)),
    ("tile_1d_int", (None,), (None,), lambda x: K.tile(x, 3), lambda a: np.tile(a, 3),
     (2, 5, 0)),
    ("repeat_elements_1", (None, 3), (None, 6), lambda x: K.repeat_elements(x, 2, 1),
     lambda a: np.repeat(a, 2, axis=1), (2, 5, 0)),
    ("repeat_elements_batch_axis", (None, 3), (None, 3), lambda x: K.repeat_elements(x, 3, 0),
     lambda a: np.repeat(a, 3, axis=0), (2, 5, 0)),
    ("repeat_elements_neg", (None, 2, 3), (None, 2, 12),
     lambda x: K.repeat_elements(x, 4, -1), lambda a: np.repeat(a, 4, axis=-1), (2, 5, 0)),
    ("repeat_elements_zero", (None, 3), (None, 0), lambda x: K.repeat_elements(x, 0, 1),
     lambda a: np.repeat(a, 0, axis=1), (2, 5, 0)),
    ("repeat", (None, 3), (None, 4, 3), lambda x: K.repeat(x, 4),
     lambda a: np.stack([a] * 4, axis=1), (2, 5, 0)),
    ("repeat_once", (None, 3), (None, 1, 3), lambda x: K.repeat(x, 1),
     lambda a: a[:, None, :], (2, 5, 0)),
    # indexing through Tensor.__getitem__
    ("slice_cols", (None, 5), (None, 2), lambda x: x[:, 1:3], lambda a: a[:, 1:3], (2, 5, 0)),
    ("newaxis_last", (None, 5), (None, 5, 1), lambda x: x[..., None],
     lambda a: a[..., None], (2, 5, 0)),
    ("newaxis_first", (None, 5), (1, None, 5), lambda x: x[None],
     lambda a: a[None], (2, 5, 0)),
    ("newaxis_middle", (None, 5), (None, 1, 5), lambda x: x[:, None, :],
     lambda a: a[:, None, :], (2, 5, 0)),
    ("int_batch_negative", (None, 5), (5,), lambda x: x[-1], lambda a: a[-1], (2, 5)),
    ("int_col_negative", (None, 5), (None,), lambda x: x[:, -2], lambda a: a[:, -2],
     (2, 5, 0)),
    ("ellipsis_int", (None, 3, 4), (None, 3), lambda x: x[..., 1], lambda a: a[..., 1],
     (2, 5, 0)),
    ("int_then_ellipsis_newaxis", (None, 3, 4), (3, 4, 1), lambda x: x[0, ..., None],
     lambda a: a[0, ..., None], (2, 5)),
    ("negative_start", (None, 5), (None, 2), lambda x: x[:, -2:], lambda a: a[:, -2:],
     (2, 5, 0)),
    ("negative_stop", (None, 5), (None, 5), lambda x: x[:-1], lambda a: a[:-1], (2, 5, 0)),
    ("step_2", (None, 5), (None, 3), lambda x: x[::2, ::2], lambda a: a[::2, ::2],
     (2, 5, 0)),
    ("step_neg1_rows", (None, 5), (None, 5), lambda x: x[::-1], lambda a: a[::-1],
     (2, 5, 0)),
    ("step_neg2_cols", (None, 5), (None, 3), lambda x: x[:, ::-2], lambda a: a[:, ::-2],
     (2, 5, 0)),
    ("step_neg_bounds", (None, 5), (None, 3), lambda x: x[:, -1:-4:-1],
     lambda a: a[:, -1:-4:-1], (2, 5, 0)),
    ("step_neg_start_stop", (None, 5), (None, 2), lambda x: x[3:0:-2, 4:1:-2],
     lambda a: a[3:0:-2, 4:1:-2], (2, 5, 0)),
    ("out_of_range_slice", (None, 5), (None, 0), lambda x: x[:, 7:], lambda a: a[:, 7:],
     (2, 5, 0)),
    ("clipped_slice", (None, 5), (None, 5), lambda x: x[-10:10, -10:10],
     lambda a: a[-10:10, -10:10], (2, 5, 0)),
    ("slice_of_slice", (None, 6), (None, 2), lambda x: x[1:, ::2][:, 1:],
     lambda a: a[1:, ::2][:, 1:], (2, 5, 0)),
    ("numpy_int_index", (None, 5), (None,), lambda x: x[:, np.int64(3)], lambda a: a[:, 3],
     (2, 5, 0)),
    ("slice_then_reshape", (None, 4), (None, 2, 1),
     lambda x: K.reshape(x[:, ::2], (-1, 2, 1)), lambda a: a[:, ::2].reshape(-1, 2, 1),
     (2, 5, 0)),
]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("name, static, expected_static, build, ref, sizes", CASES,
                         ids=[c[0] for c in CASES])
def test_shape_op_matches_numpy(name, static, expected_static, build, ref, sizes, dtype):
    x = K.placeholder(static, dtype=dtype)
    out = build(x)
    assert K.int_shape(out) == expected_static
    assert K.dtype(out) == dtype
    f = K.function([x], [out])
    for i, shape in enumerate(_fed_shapes(static, sizes)):
        data = _data(shape, dtype)
        expected = np.asarray(ref(data))
        (got,) = f([data])
        assert_close(got, expected, dtype=dtype)
        assert _static_matches(K.int_shape(out), got.shape)
        if i == 0:  # the NumPy reference interpreter agrees too
            (ref_out,) = run_both([x], [out], [data])[1]
            assert_close(ref_out, expected)


# -- indexing: static shapes equal NumPy's for many keys on a fully known shape -------------
KEYS = [
    0, -1, 3, -4, slice(None), slice(1, 3), slice(-2, None), slice(None, -1), slice(None, None, 2),
    slice(None, None, -1), slice(None, None, -3), slice(3, 0, -1), slice(-1, -5, -2),
    slice(10, None), slice(-10, 2), slice(2, 2), slice(3, 1), slice(None, None, 5),
    (slice(None), 1), (Ellipsis, 2), (None, Ellipsis), (Ellipsis, None), (1, None, -1),
    (slice(None, None, -1), slice(1, None, 2)), (None, 0, None, 1, None), (Ellipsis,),
    (-4, Ellipsis, -3), (slice(4, None, -2), Ellipsis, slice(None, 0, -1)),
]


@pytest.mark.parametrize("key", KEYS, ids=repr)
def test_getitem_static_shape_and_values_on_known_dims(key):
    data = np.arange(12, dtype="float64").reshape(4, 3)
    x = K.placeholder((4, 3), dtype="float64")
    out = x[key]
    expected = data[key]
    assert K.int_shape(out) == expected.shape
    (got,), (ref,) = run_both([x], [out], [data])
    assert_close(got, expected, dtype="float64")
    assert_close(ref, expected)


@pytest.mark.parametrize("key", [4, -5, (slice(None), 3), (slice(None), -4), (0, 0, 0)],
                         ids=repr)
def test_getitem_out_of_range_is_a_build_time_error(key):
    with pytest.raises(ShapeError):
        K.placeholder((4, 3))[key]


def test_getitem_out_of_range_on_a_none_dim_fails_at_run_time():
    x = K.placeholder((None, 3))
    f = K.function([x], [x[2], x[-3]])
    got = f([np.arange(9.0).reshape(3, 3)])
    assert_close(got[0], [6.0, 7.0, 8.0])
    assert_close(got[1], [0.0, 1.0, 2.0])
    for n in (2, 0):
        with pytest.raises(ShapeError) as info:
            f([np.zeros((n, 3))])
        assert isinstance(info.value, ValueError)


@pytest.mark.parametrize("key, error", [
    (slice(None, None, 0), ShapeError), ((Ellipsis, Ellipsis), ShapeError),
    (1.5, TypeError), (True, TypeError), ([0, 1], TypeError),
])
def test_getitem_rejects_bad_keys(key, error):
    with pytest.raises(error):
        K.placeholder((None, 3))[key]


# -- squeeze ---------------------------------------------------------------------------------
def test_squeeze_of_a_known_dim_other_than_one_is_a_build_time_error():
    with pytest.raises(ShapeError, match="squeeze") as info:
        K.squeeze(K.placeholder((None, 2, 3)), 1)
    assert isinstance(info.value, ValueError)
    with pytest.raises(ShapeError):
        K.squeeze(K.placeholder((None, 3)), -1)
    with pytest.raises(ShapeError):
        K.squeeze(K.placeholder((None, 1)), 2)  # axis out of range


def test_squeeze_of_a_none_dim_is_checked_at_run_time():
    x = K.placeholder((None, None), dtype="int32")
    out = K.squeeze(x, -1)
    assert K.int_shape(out) == (None,)
    f = K.function([x], [out])
    for n in (3, 7, 0):
        data = _data((n, 1), "int32")
        assert_close(f([data])[0], data[:, 0], dtype="int32")
    for bad in ((3, 2), (2, 0)):
        with pytest.raises(ShapeError) as info:
            f([np.zeros(bad, "int32")])
        assert isinstance(info.value, ValueError)


# -- reshape ---------------------------------------------------------------------------------
def test_reshape_with_dims_of_another_tensor():
    x = K.placeholder((None, 12))
    y = K.placeholder((None, 3, None))
    out = K.reshape(x, (K.shape(y)[0], K.shape(y)[1], -1))
    assert K.int_shape(out) == (None, 3, None)
    f = K.function([x, y], [out])
    for n in (2, 5):
        a = _data((n, 12), "float32")
        got = f([a, np.zeros((n, 3, 7), "float32")])[0]
        assert_close(got, a.reshape(n, 3, 4))


@pytest.mark.parametrize("static, target", [
    ((2, 3), (4, 2)), ((2, 3), (-1, -1)), ((2, 3), (None, None)), ((2, 3), (-1, 4)),
    ((2, 3), (-2, 3)), ((0, 3), (-1, 0)),
])
def test_reshape_bad_static_targets(static, target):
    with pytest.raises(ShapeError) as info:
        K.reshape(K.placeholder(static), target)
    assert isinstance(info.value, ValueError)


def test_reshape_errors_with_none_dims_come_at_run_time():
    x = K.placeholder((None, 3))
    out = K.reshape(x, (2, -1))
    assert K.int_shape(out) == (2, None)
    f = K.function([x], [out])
    assert_close(f([np.ones((4, 3), "float32")])[0], np.ones((2, 6), "float32"))
    with pytest.raises(ShapeError):
        f([np.ones((3, 3), "float32")])  # 9 elements into (2, -1)
    g = K.function([x], [K.reshape(x, (4, 3))])
    with pytest.raises(ShapeError):
        g([np.ones((3, 3), "float32")])


def test_reshape_takes_a_whole_shape_tensor_and_computed_entries():
    # issue 12: shape tensors computed from shapes (tests/test_shape_tensors.py)
    x = K.placeholder((2, 3))
    assert K.int_shape(K.reshape(x, K.shape(K.placeholder((3, 2))))) == (3, 2)
    assert K.int_shape(K.reshape(x, (K.shape(x)[0] * 1, 3))) == (2, 3)
    with pytest.raises(ShapeError, match="cannot reshape 6 elements"):
        K.reshape(x, K.shape(K.placeholder((4, 2))))


# -- concatenate / stack with None dims and mismatches ---------------------------------------
def test_concatenate_merges_static_dims_and_feeds_two_batch_sizes():
    a = K.placeholder((None, 3), dtype="int32")
    b = K.placeholder((2, None), dtype="int32")
    rows = K.concatenate([a, b], axis=0)
    cols = K.concatenate([b, a], axis=-1)
    assert K.int_shape(rows) == (None, 3)
    assert K.int_shape(cols) == (2, None)
    f_rows, f_cols = K.function([a, b], [rows]), K.function([a, b], [cols])
    for n in (4, 1, 0):
        da, db = _data((n, 3), "int32"), _data((2, 3), "int32")
        assert_close(f_rows([da, db])[0], np.concatenate([da, db], 0), dtype="int32")
    for n in (2, 0):
        da, db = _data((2, 3), "int32"), _data((2, n), "int32")
        assert_close(f_cols([da, db])[0], np.concatenate([db, da], -1), dtype="int32")


def test_concatenate_errors():
    a = K.placeholder((None, 3))
    with pytest.raises(ShapeError):
        K.concatenate([a, K.placeholder((None, 4))], axis=0)  # non-axis dims differ
    with pytest.raises(ShapeError):
        K.concatenate([a, K.placeholder((3,))])  # ranks differ
    with pytest.raises(ShapeError):
        K.concatenate([a, a], axis=2)
    with pytest.raises(TypeError):
        K.concatenate([a, K.placeholder((None, 3), dtype="int32")])
    b = K.placeholder((None, None))
    f = K.function([a, b], [K.concatenate([a, b], axis=0)])
    with pytest.raises(ShapeError):
        f([np.ones((2, 3)), np.ones((2, 4))])  # known only at run time


def test_concatenate_of_one_tensor_is_that_tensor():
    a = K.placeholder((None, 3))
    assert K.concatenate([a]) is a


def test_stack_errors_and_static_merge():
    with pytest.raises(ShapeError):
        K.stack([K.placeholder((2, 3)), K.placeholder((2, 4))])
    with pytest.raises(ShapeError):
        K.stack([K.placeholder((2, 3)), K.placeholder((2,))])
    with pytest.raises(ShapeError):
        K.stack([K.placeholder((2, 3)), K.placeholder((2, 3))], axis=3)
    a, b = K.placeholder((None, 3)), K.placeholder((2, None))
    out = K.stack([a, b], axis=1)
    assert K.int_shape(out) == (2, 2, 3)
    da, db = _data((2, 3), "float32"), _data((2, 3), "float32")
    assert_close(K.function([a, b], [out])([da, db])[0], np.stack([da, db], 1))
    c = K.placeholder((None, 2))
    f = K.function([a, c], [K.stack([a[:, :2], c])])
    with pytest.raises(ShapeError):
        f([np.ones((2, 3)), np.ones((3, 2))])


# -- permute / expand_dims / tile / repeat errors -----------------------------------------
@pytest.mark.parametrize("call", [
    lambda x: K.permute_dimensions(x, (0, 1)),
    lambda x: K.permute_dimensions(x, (0, 0, 1)),
    lambda x: K.permute_dimensions(x, (0, 1, 3)),
    lambda x: K.expand_dims(x, 4),
    lambda x: K.expand_dims(x, -5),
    lambda x: K.tile(x, (1, -1, 1)),
    lambda x: K.repeat_elements(x, 2, 3),
    lambda x: K.repeat_elements(x, -1, 0),
    lambda x: K.repeat(x, 2),
    lambda x: K.squeeze(x, 1),
], ids=["perm_short", "perm_repeat", "perm_range", "expand_hi", "expand_lo",
        "tile_negative", "repeat_elements_axis", "repeat_elements_negative",
        "repeat_3d", "squeeze_3"])
def test_shape_op_argument_errors(call):
    with pytest.raises(ShapeError) as info:
        call(K.placeholder((None, 3, 4)))
    assert isinstance(info.value, ValueError)


# -- K.shape ---------------------------------------------------------------------------------
@pytest.mark.parametrize("dtype", DTYPES)
def test_shape_is_int32_and_reads_none_dims_at_run_time(dtype):
    x = K.placeholder((None, 3, None), dtype=dtype)
    s = K.shape(x)
    assert K.int_shape(s) == (3,) and K.dtype(s) == "int32"
    f = K.function([x], [s, s[0], s[-1]])
    for shape in ((2, 3, 4), (7, 3, 1), (0, 3, 5)):
        got, first, last = f([np.zeros(shape, dtype)])
        assert_close(got, np.array(shape, "int32"), dtype="int32")
        assert_close(first, np.int32(shape[0]), dtype="int32")
        assert_close(last, np.int32(shape[-1]), dtype="int32")


def test_shape_of_unknown_rank_variables_constants_and_arrays():
    p = K.placeholder()
    s = K.shape(p)
    assert K.int_shape(s) == (None,) and K.dtype(s) == "int32"
    f = K.function([p], [s])
    assert_close(f([np.zeros((2, 3, 4), "float32")])[0], np.array([2, 3, 4], "int32"))
    assert_close(f([np.float32(1)])[0], np.zeros(0, "int32"), dtype="int32")
    assert_close(K.eval(K.shape(K.zeros((2, 0, 3)))), np.array([2, 0, 3], "int32"),
                 dtype="int32")
    assert_close(K.eval(K.shape(K.constant(1.0))), np.zeros(0, "int32"), dtype="int32")
    assert_close(K.eval(K.shape(np.zeros((4, 1)))), np.array([4, 1], "int32"))


def test_shape_does_not_need_the_values_of_its_input():
    x = K.placeholder((None, 3))
    f = K.function([x], [K.shape(K.exp(x))])
    assert_close(f([np.zeros((5, 3), "float32")])[0], np.array([5, 3], "int32"))


def test_shape_ops_of_a_variable_never_alias_its_storage():
    v = K.variable(np.arange(6.0).reshape(2, 3))
    for view in (K.transpose(v), v[:, ::-1], K.reshape(v, (3, 2)), K.expand_dims(v, 0)):
        out = K.eval(view)
        out[...] = -1
    assert_close(K.get_value(v), np.arange(6.0, dtype="float32").reshape(2, 3))
