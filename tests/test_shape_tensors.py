"""Shape tensors (issue 12): APIs that take a shape or a count accept tensors computed
from shapes (``K.shape(x)[0]``, arithmetic on it, ``K.stack``/``K.concatenate`` of it,
``K.size``, a whole ``K.shape(x)``). Static shapes keep every dim that can be known; the
rest resolve from the shapes fed at run time, without computing the shape tensor.
"""

from __future__ import annotations

import numpy as np
import pytest

import symgraph.backend as K
from symgraph.errors import DTypeError, ShapeError
from symgraph.ops import dims

BATCHES = (0, 1, 3)


def _run(inputs, outputs, feeds):
    return K.function(inputs, outputs)(feeds)


def _x(batch, *rest, dtype="float32"):
    return np.arange(batch * int(np.prod(rest or (1,))), dtype=dtype).reshape(batch, *rest)


# -- reshape ------------------------------------------------------------------------------
@pytest.mark.parametrize("make, static, expected", [
    (lambda x: [K.shape(x)[0], -1], (None, 12), lambda b: (b, 12)),
    (lambda x: K.stack([K.shape(x)[0], 2, -1]), (None, 2, 6), lambda b: (b, 2, 6)),
    (lambda x: [K.shape(x)[0] * 2, -1], (None, 6), lambda b: (2 * b, 6)),
    (lambda x: K.concatenate([K.shape(x)[:1], K.constant([3, 4], dtype="int32")]),
     (None, 3, 4), lambda b: (b, 3, 4)),
    (lambda x: [-1, K.shape(x)[1] * K.shape(x)[2]], (None, 12), lambda b: (b, 12)),
    (lambda x: K.shape(x), (None, 3, 4), lambda b: (b, 3, 4)),
    (lambda x: [K.size(x) // 4, 4], (None, 4), lambda b: (3 * b, 4)),
])
def test_reshape_to_shape_tensors(make, static, expected):
    x = K.placeholder((None, 3, 4))
    y = K.reshape(x, make(x))
    assert K.int_shape(y) == static
    for b in BATCHES:
        a = _x(b, 3, 4)
        (got,) = _run([x], [y], [a])
        np.testing.assert_array_equal(got, a.reshape(expected(b)))


def test_reshape_keeps_the_rest_when_the_batch_cancels():
    x = K.placeholder((None, 6, 4))
    assert K.int_shape(K.reshape(x, [K.shape(x)[0], 3, -1])) == (None, 3, 8)
    assert K.int_shape(K.reshape(x, [K.shape(x)[0], 5, -1])) == (None, 5, None)  # 24 % 5


def test_shape_tensor_is_never_computed():
    x = K.placeholder((None, 3))
    expensive = K.exp(K.dot(x, K.variable(np.ones((3, 3)))))  # read only for its shape
    y = K.zeros(K.stack([K.shape(expensive)[0], 2]))
    f = K.function([x], [y])
    assert f.n_kernels == 0  # the zeros are a broadcast view; no dot, no exp
    assert f([np.ones((4, 3), "float32")])[0].shape == (4, 2)


# -- tile and repeat ----------------------------------------------------------------------
def test_tile_with_tensor_counts_and_numpy_rank_rules():
    x = K.placeholder((None, 3))
    cases = [
        (lambda: K.tile(x, [1, K.shape(x)[0]]), (None, None), lambda a: np.tile(a, (1, len(a)))),
        (lambda: K.tile(x, K.stack([2, 1])), (None, 3), lambda a: np.tile(a, (2, 1))),
        (lambda: K.tile(x, 2), (None, 6), lambda a: np.tile(a, 2)),  # shorter: leading 1s
        (lambda: K.tile(x, (2, 1, 2)), (2, None, 6), lambda a: np.tile(a, (2, 1, 2))),
    ]
    for make, static, ref in cases:
        y = make()
        assert K.int_shape(y) == static
        for b in BATCHES:
            a = _x(b, 3)
            np.testing.assert_array_equal(_run([x], [y], [a])[0], ref(a))


def test_tile_like_keras_confusion_matrix():
    # keras.utils.metrics_utils: K.tile(thresholds, K.cast(K.stack([1, K.size(y)]), ...))
    y = K.placeholder((None, 2))
    thresholds = K.expand_dims(K.constant([0.2, 0.7]), 1)
    tiled = K.tile(thresholds, K.cast(K.stack([1, K.size(y)]), "int32"))
    assert K.int_shape(tiled) == (2, None)
    (got,) = _run([y], [tiled], [np.zeros((3, 2), "float32")])
    np.testing.assert_allclose(got, np.tile([[0.2], [0.7]], (1, 6)))


def test_repeat_with_a_tensor_count():
    x, z = K.placeholder((None, 3)), K.placeholder((None, 5))
    y = K.repeat(x, K.shape(z)[1] - 1)
    assert K.int_shape(y) == (None, 4, 3)  # z's dim 1 is static: folded at build time
    y = K.repeat(x, K.shape(z)[0])
    assert K.int_shape(y) == (None, None, 3)
    a = _x(2, 3)
    (got,) = _run([x, z], [y], [a, np.zeros((4, 5), "float32")])
    np.testing.assert_array_equal(got, np.repeat(a[:, None, :], 4, axis=1))


# -- creation, random, dropout ------------------------------------------------------------
@pytest.mark.parametrize("fn, value", [(K.zeros, 0.0), (K.ones, 1.0)])
def test_zeros_ones_with_run_time_shapes(fn, value):
    x = K.placeholder((None, 3))
    y = fn([K.shape(x)[0], 2], dtype="int32")
    assert K.int_shape(y) == (None, 2) and K.dtype(y) == "int32"
    assert not K.is_variable(y)  # a tensor, as TF returns for a non-static shape
    for b in BATCHES:
        (got,) = _run([x], [y], [_x(b, 3)])
        np.testing.assert_array_equal(got, np.full((b, 2), value, "int32"))
        got[...] = 7  # a fresh, writable array each call
    static = fn(K.shape(K.placeholder((2, 3))))  # every entry known: a variable as usual
    assert K.is_variable(static) and K.int_shape(static) == (2, 3)


@pytest.mark.parametrize("draw", [
    lambda s: K.random_uniform(s, seed=1), lambda s: K.random_normal(s, seed=1),
    lambda s: K.truncated_normal(s, seed=1), lambda s: K.random_binomial(s, p=0.5, seed=1),
])
def test_random_with_shape_tensors(draw):
    x = K.placeholder((None, 3, 4))
    for shape in (K.shape(x), [K.shape(x)[0], 1, 4], K.stack([K.shape(x)[0] + 1, 2])):
        r = draw(shape)
        static = K.int_shape(r)
        assert static[0] is None and len(static) in (2, 3)
        for b in BATCHES:
            (got,) = _run([x], [r], [_x(b, 3, 4)])
            assert got.shape[0] in (b, b + 1) and got.shape[1:] == tuple(static[1:])


def test_dropout_noise_shape_from_keras_layers():
    # keras.layers.Dropout: noise_shape entries are K.shape(inputs)[axis] or ints
    x = K.placeholder((None, 3, 4))
    y = K.dropout(x, 0.5, noise_shape=[K.shape(x)[0], 1, K.shape(x)[2]], seed=3)
    assert K.int_shape(y) == (None, 3, 4)
    (got,) = _run([x], [y], [np.ones((50, 3, 4), "float32")])
    assert set(np.unique(got)) <= {0.0, 2.0}
    assert (got == got[:, :1, :]).all()  # one mask for every entry of axis 1
    with pytest.raises(ShapeError, match="dropout"):
        K.dropout(x, 0.5, noise_shape=[K.shape(x)[0], 1])


# -- conv transpose -----------------------------------------------------------------------
@pytest.mark.parametrize("rank", [2, 3])
def test_conv_transpose_output_shape_tensors(rank):
    # keras.layers.Conv2DTranspose passes (K.shape(inputs)[0], out_h, out_w, filters)
    # with out_h computed from K.shape(inputs)[1] when the spatial dims are None
    x = K.placeholder((None,) * (rank + 1) + (2,))
    w = K.variable(np.random.RandomState(0).rand(*(3,) * rank, 4, 2))
    shape = K.shape(x)
    spatial = [(shape[1 + i] - 1) * 2 + 3 for i in range(rank)]  # stride 2, 'valid'
    out = [shape[0], *spatial, 4]
    conv_t = K.conv2d_transpose if rank == 2 else K.conv3d_transpose
    y = conv_t(x, w, out, strides=(2,) * rank, padding="valid")
    assert K.int_shape(y) == (None,) * (rank + 1) + (4,)
    a = np.random.RandomState(1).rand(2, *(3,) * rank, 2).astype("float32")
    (got,) = _run([x], [y], [a])
    fixed = conv_t(K.constant(a), w, (2, *(7,) * rank, 4), strides=(2,) * rank,
                   padding="valid")
    np.testing.assert_allclose(got, K.eval(fixed), rtol=1e-5)
    g = K.gradients(K.sum(y), [x])[0]  # differentiable through the shape-only inputs
    assert K.function([x], [g])([a])[0].shape == a.shape


# -- arange, one_hot, slice, indexing ----------------------------------------------------
def test_arange_and_one_hot_with_tensor_arguments():
    x = K.placeholder((None, 2))
    n = K.shape(x)[0]
    cases = [((n,), lambda b: (b,)), ((1, n), lambda b: (1, b)),
             ((n, 0, -1), lambda b: (b, 0, -1)), ((0, n * 3, 2), lambda b: (0, 3 * b, 2)),
             ((n - 4,), lambda b: (b - 4,))]
    for args, ref in cases:
        t = K.arange(*args)
        assert K.int_shape(t) == (None,) and K.dtype(t) == "int32"
        for b in BATCHES:
            np.testing.assert_array_equal(_run([x], [t], [_x(b, 2)])[0], np.arange(*ref(b)))
    oh = K.one_hot(K.constant([0, 2], dtype="int32"), n)
    assert K.int_shape(oh) == (2, None)
    np.testing.assert_array_equal(_run([x], [oh], [_x(3, 2)])[0], np.eye(3)[[0, 2]])


def test_slice_with_tensor_start_and_size():
    x = K.placeholder((None, 5))
    i = K.placeholder((), dtype="int32")
    a = _x(4, 5)
    y = K.slice(x, [i, 1], [K.shape(x)[0] - 2, 3])
    assert K.int_shape(y) == (None, 3)
    np.testing.assert_array_equal(_run([x, i], [y], [a, np.int32(1)])[0], a[1:3, 1:4])
    g = K.gradients(K.sum(y * y), [x])[0]
    expected = np.zeros_like(a)
    expected[1:3, 1:4] = 2 * a[1:3, 1:4]
    np.testing.assert_array_equal(_run([x, i], [g], [a, np.int32(1)])[0], expected)
    with pytest.raises(ShapeError, match="gather index 5 is out of range"):
        _run([x, i], [K.slice(x, [0, i], [-1, 2])], [a, np.int32(4)])
    # a size computed from data (i is fed): a data-dependent shape, resolved at run time
    y = K.slice(x, [i, 1], [K.shape(x)[0] - i, 3])
    assert K.int_shape(y) == (None, 3)
    np.testing.assert_array_equal(_run([x, i], [y], [a, np.int32(1)])[0], a[1:, 1:4])


@pytest.mark.parametrize("key", [(0,), (slice(None), 0), (Ellipsis, 0), (1, 0),
                                 (0, slice(1, 3), 0)])
def test_indexing_with_a_scalar_int_tensor(key):
    x = K.placeholder((None, 4, 5))
    i = K.placeholder((), dtype="int32")
    sym = tuple(i if k == 0 and type(k) is int else k for k in key)
    y = x[sym]
    a = _x(3, 4, 5)
    for value in (1, -1, 0):
        npkey = tuple(value if k == 0 and type(k) is int else k for k in key)
        np.testing.assert_array_equal(_run([x, i], [y], [a, np.int32(value)])[0], a[npkey])
    with pytest.raises(ShapeError, match="out of range"):
        _run([x, i], [y], [a, np.int32(7)])


# -- bad input ----------------------------------------------------------------------------
def test_bad_shape_tensors_are_clear_errors():
    x = K.placeholder((None, 3))
    with pytest.raises(DTypeError, match=r"reshape: shape tensors must have an integer dtype"):
        K.reshape(x, [K.sum(x), -1])
    with pytest.raises(ShapeError, match="1-D with a known length"):
        K.random_uniform(K.reshape(K.shape(x), (1, 2)))
    with pytest.raises(ShapeError, match="scalar int tensors"):
        K.tile(x, [K.shape(x), 1])
    with pytest.raises(ShapeError, match="negative dimension"):
        K.zeros([K.shape(x)[0], -2])
    with pytest.raises(DTypeError, match="entries must be ints"):
        K.tile(x, [1.5, 2])
    with pytest.raises(ShapeError, match="created at .*test_shape_tensors.py"):
        K.zeros([K.shape(x)[0], -3])
    # a size computed from shapes that is negative at run time
    y = K.zeros([K.shape(x)[0] - 5])
    f = K.function([x], [y])
    assert f([_x(6, 3)])[0].shape == (1,)
    with pytest.raises(ShapeError, match="not a size >= 0"):
        f([_x(2, 3)])


def test_dim_entries_are_plain_data():
    x = K.placeholder((None, 3))
    col = dims.Collector()
    entries = dims.entries_of(K.stack([K.shape(x)[0] * 2 + 1, K.shape(x)[1]]), col)
    assert entries == [("expr", "+", ("expr", "*", ((0, 0),), 2), 1), 3]
    assert col.sources == (x,)
    assert dims.resolve_entry(entries[0], [(5, 3)]) == 11
    assert dims.resolve_entry(entries[0], [(None, 3)]) is None
    assert dims.entries_of(K.sum(x), dims.Collector()) is None  # data, not shapes


# -- shapes computed from data ------------------------------------------------------------
def test_data_dependent_shapes_are_resolved_after_their_values():
    labels = K.placeholder((None,), dtype="int32")
    classes = K.max(labels) + 1  # data, not a shape
    z = K.zeros([classes, 2])
    oh = K.one_hot(labels, classes)
    assert K.int_shape(z) == (None, 2) and K.int_shape(oh) == (None, None)
    f = K.function([labels], [z, oh])
    for value in ([0, 3, 1], [1], [0, 0, 0, 5]):
        a = np.array(value, "int32")
        got_z, got_oh = f([a])
        assert got_z.shape == (a.max() + 1, 2)
        np.testing.assert_array_equal(got_oh, np.eye(a.max() + 1)[a])
    with pytest.raises(ShapeError, match="data-dependent shape"):
        f.output_shapes([(3,)])  # cannot be known from input shapes alone
    bad = K.function([labels], [K.zeros([K.min(labels)])])
    with pytest.raises(ShapeError, match="not a size >= 0"):
        bad([np.array([-2], "int32")])


def test_data_dependent_shapes_read_values_before_updates():
    v = K.variable(np.array([3.0]))
    draws = K.random_uniform([K.cast(v[0], "int32"), 2], seed=0)
    f = K.function([], [draws], updates=[K.update_add(v, 1.0)])
    assert f([])[0].shape == (3, 2)
    assert f([])[0].shape == (4, 2)  # the update of the first call is seen by the second
    x = K.placeholder((None, 6))
    half = K.cast(K.sum(K.ones_like(x[0])), "int32") // 2  # 3, computed by kernels
    r = K.reshape(x, [-1, half])
    assert K.int_shape(r) == (None, None)
    np.testing.assert_array_equal(_run([x], [r], [_x(2, 6)])[0], _x(2, 6).reshape(4, 3))


# -- slicing with tensor bounds ----------------------------------------------------------
_I, _J = "i", "j"


@pytest.mark.parametrize("key", [
    (slice(_I, _J),), (slice(None), slice(_I, None)), (slice(None, _J, 2),),
    (slice(_J, _I, -1),), (_I, slice(_I, _J)), (slice(None), slice(None, _J, -1)),
    (slice(None), slice(_I, None, -2)),
])
def test_slicing_with_data_bounds_follows_python(key):
    x = K.placeholder((None, 5))
    i, j = K.placeholder((), dtype="int32"), K.placeholder((), dtype="int32")

    def bind(k, vi, vj):
        pick = {_I: vi, _J: vj}.get
        if isinstance(k, slice):
            return slice(*(pick(v, v) if isinstance(v, str) else v
                           for v in (k.start, k.stop, k.step)))
        return pick(k, k) if isinstance(k, str) else k

    f = K.function([x, i, j], [x[tuple(bind(k, i, j) for k in key)]])
    a = _x(4, 5)
    for vi in range(-6, 7):
        for vj in range(-6, 7):
            npkey = tuple(bind(k, vi, vj) for k in key)
            try:
                expected = a[npkey]
            except IndexError:
                continue
            np.testing.assert_array_equal(f([a, np.int32(vi), np.int32(vj)])[0], expected)


def test_slicing_with_bounds_from_shapes_needs_no_data():
    x = K.placeholder((None, 5))
    n = K.shape(x)[0]
    a = _x(4, 5)
    for y, expected in [(x[1:n - 1], a[1:3]), (x[:, -n:], a[:, -4:]), (x[n - 6::-1], a[-2::-1])]:
        f = K.function([x], [y])
        assert f._values_fn is None  # resolved by shape propagation alone
        np.testing.assert_array_equal(f([a])[0], expected)
        for b in BATCHES:
            f([_x(b, 5)])  # any batch size, empty included


def test_indexing_and_slicing_inside_map_fn():
    x = K.placeholder((None, 5))
    a = _x(4, 5)
    rows = K.map_fn(lambda i: K.sum(x[i]), K.arange(0, K.shape(x)[0]), dtype="float32")
    np.testing.assert_allclose(_run([x], [rows], [a])[0], a.sum(axis=1))
    pairs = K.map_fn(lambda i: K.sum(x[i:i + 2]), K.arange(0, 3), dtype="float32")
    np.testing.assert_allclose(_run([x], [pairs], [a])[0],
                               [a[k:k + 2].sum() for k in range(3)])
    grad = K.gradients(K.sum(x[1:K.shape(x)[0] - 1] ** 2), [x])[0]
    expected = np.zeros_like(a)
    expected[1:3] = 2 * a[1:3]
    np.testing.assert_allclose(_run([x], [grad], [a])[0], expected)


def test_graph_files_keep_shape_tensors_and_refuse_bad_entries():
    import io
    import json
    import zipfile

    import symgraph
    from symgraph.io import GraphFileError

    x = K.placeholder((None, 3, 4))
    labels = K.placeholder((None,), dtype="int32")
    f = K.function([x, labels], [K.reshape(x, [K.shape(x)[0] * 2, -1]),
                                 K.zeros([K.max(labels) + 1, 2])])
    data = symgraph.io.dumps(f)
    loaded = symgraph.io.loads(data)
    feeds = [_x(2, 3, 4), np.array([0, 3], "int32")]
    for got, want in zip(loaded(feeds), f(feeds)):
        np.testing.assert_array_equal(got, want)
    with zipfile.ZipFile(io.BytesIO(data)) as zf:
        members = {n: zf.read(n) for n in zf.namelist()}
    text = members["graph.json"].decode()
    assert '"*"' in text
    members["graph.json"] = text.replace('"*"', '"evil"', 1).encode()
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as zf:
        for name, blob in members.items():
            zf.writestr(name, blob)
    json.loads(members["graph.json"])  # still valid JSON: the shape rule refuses it
    with pytest.raises(GraphFileError, match="unknown function 'evil' in a dim entry"):
        symgraph.io.loads(out.getvalue())
