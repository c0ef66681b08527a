"""SparseTensor, is_sparse, to_dense and ctc_label_dense_to_sparse against NumPy."""

import numpy as np
import pytest

import symgraph.backend as K
from symgraph.backend._ctc import ctc_label_dense_to_sparse
from symgraph.backend._sparse import SparseTensor, SparseTensorValue, is_sparse, to_dense
from symgraph.errors import ShapeError
from tests.helpers import assert_close, run_both


def _scatter(indices, values, shape, dtype):
    out = np.zeros(shape, dtype=dtype)
    for idx, v in zip(indices, values):
        out[tuple(idx)] = v
    return out


def _padded_rows(labels, lengths):
    """TF's ctc_label_dense_to_sparse: entries (b, j) with j < lengths[b], row-major."""
    entries = [(b, j) for b in range(labels.shape[0]) for j in range(labels.shape[1])
               if j < lengths[b]]
    indices = np.array(entries, dtype=np.int64).reshape(-1, 2)
    values = np.array([labels[b, j] for b, j in entries], dtype=labels.dtype)
    dense = np.zeros_like(labels)
    for b, j in entries:
        dense[b, j] = labels[b, j]
    return indices, values, dense


@pytest.mark.parametrize("shape,indices", [
    ((5,), [[0], [3], [4]]),
    ((2, 3), [[0, 1], [1, 0], [1, 2]]),
    ((2, 2, 3), [[0, 0, 2], [0, 1, 0], [1, 1, 1]]),
    ((3, 4), []),
    ((0, 4), []),
])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int32"])
def test_to_dense_matches_numpy(shape, indices, dtype):
    values = (np.arange(len(indices)) + 1.5).astype(dtype)
    idx = np.array(indices, dtype=np.int64).reshape(-1, len(shape))
    sp = SparseTensor(idx, K.constant(values, dtype=dtype), shape)
    assert is_sparse(sp) and K.int_shape(sp) == shape and sp.dtype == dtype
    expected = _scatter(idx, values, shape, dtype)
    dense = to_dense(sp)
    assert K.int_shape(dense) == shape
    assert_close(K.eval(dense), expected, dtype=dtype)
    assert_close(K.eval(sp), expected, dtype=dtype)  # K.eval densifies (TF rule)
    value = sp.eval()
    assert isinstance(value, SparseTensorValue)
    assert_close(value.indices, idx, dtype="int64")
    assert_close(value.values, values, dtype=dtype)
    assert_close(value.dense_shape, np.array(shape, dtype=np.int64), dtype="int64")


def test_dense_input_is_returned_unchanged():
    x = K.placeholder((None, 3))
    assert to_dense(x) is x
    assert not is_sparse(x) and not is_sparse(np.zeros(3))


def test_fed_indices_and_values_with_unknown_count():
    idx = K.placeholder((None, 2), dtype="int64")
    val = K.placeholder((None,), dtype="float64")
    sp = SparseTensor(idx, val, (3, 4))
    f = K.function([idx, val], [to_dense(sp), sp.dense_shape])
    for n in (0, 2, 5):
        flat = np.sort(np.random.default_rng(n).choice(12, size=n, replace=False))
        indices = np.stack([flat // 4, flat % 4], axis=1)
        values = np.arange(n) + 1.0
        dense, shape = f([indices, values])
        assert_close(dense, _scatter(indices, values, (3, 4), "float64"), dtype="float64")
        assert_close(shape, np.array([3, 4]))
    compiled, ref = run_both([idx, val], [to_dense(sp)], [np.array([[0, 1], [2, 3]]),
                                                          np.array([5.0, 6.0])])
    assert_close(compiled[0], ref[0])


@pytest.mark.parametrize("bad,pattern", [
    ([[0, 1], [2, 0]], "out of bounds"),
    ([[0, 1], [1, -1]], "out of bounds"),
    ([[0, 1], [0, 1]], "repeated"),
    ([[1, 0], [0, 1]], "out of order"),
])
def test_invalid_indices_are_clear_errors(bad, pattern):
    idx = K.placeholder((None, 2), dtype="int64")
    sp = SparseTensor(idx, K.constant([1.0, 2.0]), (2, 3))
    f = K.function([idx], [to_dense(sp)])
    with pytest.raises(ValueError, match=pattern):
        f([np.array(bad)])
    assert_close(f([np.array([[0, 0], [1, 2]])])[0], np.array([[1, 0, 0], [0, 0, 2.0]]))


def test_build_time_errors():
    with pytest.raises(ShapeError, match="columns"):
        SparseTensor(np.zeros((2, 3), dtype=np.int64), K.constant([1.0, 2.0]), (4, 4))
    with pytest.raises(ShapeError, match="values has 3"):
        SparseTensor(np.zeros((2, 2), dtype=np.int64), K.constant([1.0, 2.0, 3.0]), (4, 4))
    with pytest.raises(ShapeError, match="dense_shape must be known"):
        SparseTensor(np.zeros((1, 2), dtype=np.int64), K.constant([1.0]),
                     K.placeholder((2,), dtype="int64"))
    with pytest.raises(ShapeError, match="negative"):
        SparseTensor(np.zeros((1, 2), dtype=np.int64), K.constant([1.0]), (2, -1))
    # a constant tensor is a known dense shape
    sp = SparseTensor([[1, 1]], K.constant([4.0]), K.constant([2, 2], dtype="int64"))
    assert_close(K.eval(sp), np.array([[0, 0], [0, 4.0]], dtype=np.float32))


@pytest.mark.parametrize("dtype", ["int32", "float32"])
def test_ctc_label_dense_to_sparse_matches_tf_rule(dtype):
    labels = np.array([[1, 2, 3, 4], [5, 6, 7, 8], [9, 10, 11, 12]], dtype=dtype)
    lab = K.placeholder((None, 4), dtype=dtype)
    ln = K.placeholder((None,), dtype="int32")
    sp = ctc_label_dense_to_sparse(lab, ln)
    assert is_sparse(sp) and K.int_shape(sp) == (None, 4) and sp.dtype == dtype
    f = K.function([lab, ln], [to_dense(sp), sp.indices, sp.values, sp.num_entries,
                               sp.dense_shape])
    for lengths in ([2, 0, 4], [4, 4, 4], [0, 0, 0]):
        lengths = np.array(lengths)
        indices, values, dense = _padded_rows(labels, lengths)
        got_dense, got_idx, got_val, count, shape = f([labels, lengths])
        n = len(values)
        assert int(count) == n
        assert_close(got_dense, dense, dtype=dtype)
        assert_close(got_idx[:n], indices, dtype="int64")
        assert_close(got_val[:n], values, dtype=dtype)
        assert_close(shape, np.array([3, 4]), dtype="int64")
    # a different batch size with the same function
    indices, values, dense = _padded_rows(labels[:1], np.array([3]))
    assert_close(f([labels[:1], np.array([3])])[0], dense)


def test_ctc_label_dense_to_sparse_eval_and_lengths_column():
    labels = np.array([[3, 1, 2], [4, 4, 0]], dtype=np.int32)
    sp = ctc_label_dense_to_sparse(K.constant(labels, dtype="int32"),
                                   K.constant([[1], [2]], dtype="int32"))
    value = sp.eval()
    assert value.indices.tolist() == [[0, 0], [1, 0], [1, 1]]
    assert value.values.tolist() == [3, 4, 4]
    assert value.dense_shape.tolist() == [2, 3]
    assert_close(K.eval(sp), np.array([[3, 0, 0], [4, 4, 0]], dtype=np.int32))
    compiled, ref = run_both([], [sp.indices, sp.values, sp.num_entries, to_dense(sp)], [])
    for c, r in zip(compiled, ref):
        assert_close(c, r)


@pytest.mark.parametrize("lengths", [[1, 4], [-1, 2]])
def test_ctc_label_dense_to_sparse_rejects_bad_lengths(lengths):
    lab = K.placeholder((None, 3), dtype="int32")
    ln = K.placeholder((None,), dtype="int32")
    f = K.function([lab, ln], [to_dense(ctc_label_dense_to_sparse(lab, ln))])
    with pytest.raises(ValueError, match=r"outside \[0, 3\]"):
        f([np.ones((2, 3), dtype=np.int32), np.array(lengths)])


def test_ctc_label_dense_to_sparse_shape_errors():
    with pytest.raises(ShapeError, match="rank 2"):
        ctc_label_dense_to_sparse(K.placeholder((None,), dtype="int32"), [1])
    with pytest.raises(ShapeError, match="rows"):
        ctc_label_dense_to_sparse(K.placeholder((2, 3), dtype="int32"),
                                  K.placeholder((3,), dtype="int32"))
