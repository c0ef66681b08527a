"""Sparse tensors (COO) made of graph tensors, and the scatter op that densifies them.

A :class:`SparseTensor` is three graph tensors, as in TensorFlow: ``indices`` (int64,
``(n, rank)``), ``values`` (``(n,)``) and ``dense_shape`` (int64, ``(rank,)``).

Two limits come from the runtime, which fixes every node's concrete shape from the
fed shapes *before* any kernel runs (``runtime/function.py``):

* The dense shape must be computable from shapes: it is given as ints, or refers to
  dims of other tensors (``ctc_label_dense_to_sparse`` uses the labels' shape). A
  ``dense_shape`` tensor whose *values* are only known at run time is refused.
* An entry count that depends on data (the labels shorter than their padded row)
  cannot be an array size. Such a sparse tensor has a fixed *capacity* ``n`` and an
  int64 scalar ``num_entries``: rows ``>= num_entries`` of ``indices`` and ``values``
  are unused padding (index ``-1``, value ``0``). ``to_dense`` and
  :meth:`SparseTensor.eval` ignore them. Sparse tensors built from explicit indices
  have ``num_entries=None`` (every row is an entry).

``to_dense`` follows ``tf.sparse.to_dense(validate_indices=True)``: every index must
lie inside the dense shape and the indices must be in row-major order without
repeats. This is checked in Python before anything is written, so a bad index is a
clear error, never an out-of-bounds write.
"""

from __future__ import annotations

from collections import namedtuple

import numpy as np

from ..core import dtypes, services
from ..core.shapes import normalize_shape
from ..core.tensor import Constant, Tensor
from ..errors import DTypeError, ShapeError, op_error
from .elementwise import cast
from .leaves import as_tensor, constant
from .registry import GRAD_PENDING, KERNEL, NOT_DIFFERENTIABLE, Op, define_grad, register
from .shape import shape_of
from .shape_defs import refs_of, resolve_target

#: the value of a sparse tensor: NumPy arrays, padding rows removed (TF's name)
SparseTensorValue = namedtuple("SparseTensorValue", ["indices", "values", "dense_shape"])


# -- to_dense: a validated scatter ---------------------------------------------------
def _to_dense_infer(in_shapes, in_dtypes, attrs):
    idx, val = in_shapes[0], in_shapes[1]
    target = attrs["target"]
    if idx is None or len(idx) != 2:
        raise ValueError("indices must have rank 2 (entries, rank)")
    if val is None or len(val) != 1:
        raise ValueError("values must have rank 1")
    if idx[0] is not None and val[0] is not None and idx[0] != val[0]:
        raise ValueError(f"indices has {idx[0]} rows but values has {val[0]} entries")
    if idx[1] is not None and idx[1] != len(target):
        raise ValueError(f"indices have {idx[1]} columns, the dense shape has rank "
                         f"{len(target)}")
    if not dtypes.is_int(in_dtypes[0]):
        raise TypeError(f"indices must be integers, got {in_dtypes[0]}")
    if attrs["counted"]:
        if in_shapes[2] not in ((), None):
            raise ValueError("num_entries must be a scalar")
        if not dtypes.is_int(in_dtypes[2]):
            raise TypeError(f"num_entries must be an integer, got {in_dtypes[2]}")
    return tuple(resolve_target(target, in_shapes)), in_dtypes[1]


def check_sparse_indices(indices, count, dense_shape) -> np.ndarray:
    """Validate the first ``count`` rows of ``indices`` against ``dense_shape`` (bounds,
    row-major order, no repeats) and return their flat offsets (int64)."""
    n = indices.shape[0]
    if not 0 <= count <= n:
        raise ValueError(f"num_entries {count} is outside [0, {n}]")
    idx = np.asarray(indices[:count], dtype=np.int64)
    dims = np.asarray(dense_shape, dtype=np.int64)
    bad = (idx < 0) | (idx >= dims)
    if bad.any():
        row = int(np.nonzero(bad.any(axis=1))[0][0])
        raise IndexError(f"sparse index {idx[row].tolist()} (entry {row}) is out of bounds "
                         f"for dense shape {tuple(int(d) for d in dims)}")
    if count == 0:
        return np.zeros(0, dtype=np.int64)
    flat = np.ravel_multi_index(tuple(idx.T), tuple(int(d) for d in dims)).astype(np.int64)
    if count > 1:
        step = np.diff(flat)
        if (step <= 0).any():
            row = int(np.nonzero(step <= 0)[0][0]) + 1
            what = "repeated" if step[row - 1] == 0 else "out of order"
            raise ValueError(f"sparse index {idx[row].tolist()} (entry {row}) is {what}; "
                             "indices must be unique and in row-major order")
    return flat


def _to_dense_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    indices, values = args[0], args[1]
    count = int(args[2]) if attrs["counted"] else indices.shape[0]
    flat = check_sparse_indices(indices, count, out_shape)
    out = np.zeros(int(np.prod(out_shape, dtype=object)), dtype=out_dtype)
    out[flat] = values[:count]
    return out.reshape(out_shape)


def _to_dense_reference(arrays, attrs, out_shape, out_dtype):
    indices, values = arrays[0], arrays[1]
    count = int(arrays[2]) if attrs["counted"] else len(indices)
    out = np.zeros(out_shape, dtype=out_dtype)
    for row in range(count):
        position = tuple(int(i) for i in indices[row])
        if any(not 0 <= p < d for p, d in zip(position, out_shape)):
            raise IndexError(f"sparse index {list(position)} is out of bounds")
        out[position] = values[row]
    return out


SPARSE_TO_DENSE = register(Op(
    "sparse_to_dense", KERNEL, _to_dense_infer, _to_dense_reference,
    kernel=_to_dense_kernel, grad=GRAD_PENDING,
    doc="scatter a COO sparse tensor into zeros (indices validated first)"))


class SparseTensor:
    """A COO sparse tensor of graph tensors (TF's ``SparseTensor``).

    Args:
        indices: ``(n, rank)`` integer tensor or array (stored as int64).
        values: ``(n,)`` tensor or array.
        dense_shape: a tuple of ints (or a constant tensor): the dense shape.

    Attributes:
        indices, values, dense_shape: graph tensors (``dense_shape`` int64).
        shape: the static dense shape (``K.int_shape`` reads it).
        dtype: the values' dtype.
        num_entries: int64 scalar tensor of used rows, or None when all rows are used.
    """

    def __init__(self, indices, values, dense_shape, *, _target=None, _sources=(),
                 _num_entries=None):
        values = as_tensor(values)
        indices = cast(as_tensor(indices), "int64")
        if _target is None:
            if isinstance(dense_shape, Tensor):
                if not isinstance(dense_shape, Constant):
                    raise op_error(ShapeError, "SparseTensor", [indices, values, dense_shape],
                                   "dense_shape must be known when the graph is built (ints "
                                   "or a constant): symgraph fixes shapes before kernels run")
                dense_shape = dense_shape.value.tolist()
            try:
                static = normalize_shape(dense_shape, "dense_shape")
            except ValueError as exc:
                raise op_error(ShapeError, "SparseTensor", [indices, values], str(exc)) from None
            if None in static:
                raise op_error(ShapeError, "SparseTensor", [indices, values],
                               f"dense_shape {dense_shape} has an unknown dim")
            _target = static
            shape_tensor = constant(np.array(static, dtype=np.int64), "int64")
        else:
            shape_tensor = None
        self.indices = indices
        self.values = values
        self.num_entries = _num_entries
        self._target = tuple(_target)
        self._sources = tuple(_sources)
        inputs = (indices, values) + ((_num_entries,) if _num_entries is not None else ())
        self._dense = indices.graph.make(
            SPARSE_TO_DENSE, inputs + self._sources,
            {"target": self._target, "counted": _num_entries is not None})
        if shape_tensor is None:
            shape_tensor = cast(shape_of(self._dense), "int64")
        self.dense_shape = shape_tensor

    # -- TF-style accessors -----------------------------------------------------------
    @property
    def shape(self) -> tuple:
        return self._dense.shape

    @property
    def dtype(self) -> str:
        return self.values.dtype

    @property
    def ndim(self) -> int:
        return len(self._dense.shape)

    @property
    def graph(self):
        return self.indices.graph

    def get_shape(self) -> tuple:
        return self.shape

    def to_dense(self) -> Tensor:
        """The dense tensor (zeros where there is no entry): a graph node."""
        return self._dense

    def eval(self) -> SparseTensorValue:
        """Evaluate to NumPy ``(indices, values, dense_shape)``, padding rows removed."""
        idx, val, shape = (services.evaluate(t)
                           for t in (self.indices, self.values, self.dense_shape))
        if self.num_entries is not None:
            count = int(services.evaluate(self.num_entries))
            idx, val = idx[:count], val[:count]
        return SparseTensorValue(idx, val, shape)

    def __array__(self, dtype=None, copy=None):
        # K.eval(sparse) goes through np.asarray: a sparse tensor comes back dense (TF rule)
        out = services.evaluate(self._dense)
        return out if dtype is None else out.astype(dtype)

    def __repr__(self) -> str:
        shape = "(" + ", ".join("?" if d is None else str(d) for d in self.shape) + ")"
        return f"<symgraph.SparseTensor dense_shape={shape} dtype={self.dtype}>"


def is_sparse(x) -> bool:
    return isinstance(x, SparseTensor)


def to_dense(x):
    if isinstance(x, SparseTensor):
        return x.to_dense()
    if isinstance(x, Tensor):
        return x
    raise op_error(DTypeError, "to_dense", [], f"expected a tensor, got {type(x).__name__}")


# -- dense padded rows -> COO (the data-dependent count is a separate output) ---------
def _check_lengths(lengths, n_rows, width):
    lengths = np.asarray(lengths)
    if lengths.shape != (n_rows,):
        raise ValueError(f"lengths have shape {lengths.shape}, expected ({n_rows},)")
    bad = (lengths < 0) | (lengths > width)
    if bad.any():
        row = int(np.nonzero(bad)[0][0])
        raise ValueError(f"length {int(lengths[row])} of row {row} is outside [0, {width}] "
                         "(the padded label width)")
    return lengths.astype(np.int64)


def _rows_infer(what):
    def infer(in_shapes, in_dtypes, attrs):
        dense, lengths = in_shapes
        if dense is None or len(dense) != 2:
            raise ValueError("the padded matrix must have rank 2 (rows, max_length)")
        if lengths is None or len(lengths) != 1:
            raise ValueError("lengths must have rank 1 (rows,)")
        if dense[0] is not None and lengths[0] is not None and dense[0] != lengths[0]:
            raise ValueError(f"{dense[0]} rows but {lengths[0]} lengths")
        if not dtypes.is_int(in_dtypes[1]):
            raise TypeError(f"lengths must be integers, got {in_dtypes[1]}")
        rows = dense[0] if dense[0] is not None else lengths[0]
        cap = None if rows is None or dense[1] is None else rows * dense[1]
        if what == "indices":
            return (cap, 2), "int64"
        if what == "values":
            return (cap,), in_dtypes[0]
        return (), "int64"
    return infer


def _rows_compute(what, dense_shape, dense, lengths, out_dtype):
    rows, width = dense_shape
    lengths = _check_lengths(lengths, rows, width)
    mask = np.arange(width)[None, :] < lengths[:, None]
    count = int(mask.sum())
    if what == "count":
        return np.array(count, dtype=np.int64)
    if what == "indices":
        out = np.full((rows * width, 2), -1, dtype=np.int64)
        r, c = np.nonzero(mask)
        out[:count, 0] = r
        out[:count, 1] = c
        return out
    out = np.zeros(rows * width, dtype=out_dtype)
    out[:count] = dense[mask]
    return out


def _rows_kernel(what):
    def kernel(args, in_shapes, attrs, out_shape, out_dtype):
        return _rows_compute(what, in_shapes[0], args[0], args[1], out_dtype)
    return kernel


def _rows_reference(what):
    def reference(arrays, attrs, out_shape, out_dtype):
        dense, lengths = arrays
        rows, width = dense.shape
        entries = [(r, c) for r in range(rows) for c in range(width) if c < lengths[r]]
        if what == "count":
            return np.array(len(entries), dtype=np.int64)
        if what == "indices":
            out = -np.ones((rows * width, 2), dtype=np.int64)
            for k, (r, c) in enumerate(entries):
                out[k] = (r, c)
            return out
        out = np.zeros(rows * width, dtype=out_dtype)
        for k, (r, c) in enumerate(entries):
            out[k] = dense[r, c]
        return out
    return reference


ROWS_TO_SPARSE = {}
for _what, _reads in (("indices", (1,)), ("values", (0, 1)), ("count", (1,))):
    ROWS_TO_SPARSE[_what] = register(Op(
        f"padded_rows_to_sparse_{_what}", KERNEL, _rows_infer(_what), _rows_reference(_what),
        data_inputs=_reads, kernel=_rows_kernel(_what),
        grad=GRAD_PENDING if _what == "values" else NOT_DIFFERENTIABLE,
        doc=f"COO {_what} of the first lengths[r] entries of each padded row "
            "(capacity rows*max_length, padding at the end)"))


def padded_rows_to_sparse(dense: Tensor, lengths: Tensor) -> SparseTensor:
    """A sparse tensor holding, for each row ``r`` of a ``(rows, width)`` matrix, its
    first ``lengths[r]`` entries (capacity ``rows * width``; see the module notes)."""
    graph = dense.graph
    idx = graph.make(ROWS_TO_SPARSE["indices"], (dense, lengths))
    val = graph.make(ROWS_TO_SPARSE["values"], (dense, lengths))
    count = graph.make(ROWS_TO_SPARSE["count"], (dense, lengths))
    # the dense shape is the padded matrix's shape: input 3 of to_dense is `dense`
    return SparseTensor(idx, val, None, _target=(((3, 0),), ((3, 1),)), _sources=(dense,),
                        _num_entries=count)


# -- gradients -------------------------------------------------------------------------
# to_dense scatters values[:count] to distinct positions (validated), so its adjoint in
# the values gathers the dense gradient there; padding rows (>= num_entries) get zero.
# The gather's adjoint is the scatter again (both linear): any order of gradients works.
def _gather_infer(in_shapes, in_dtypes, attrs):
    dense, idx = in_shapes[0], in_shapes[1]
    if idx is None or len(idx) != 2:
        raise ValueError("indices must have rank 2 (entries, rank)")
    if dense is not None and idx[1] is not None and idx[1] != len(dense):
        raise ValueError(f"indices have {idx[1]} columns, the dense tensor has rank "
                         f"{len(dense)}")
    if not dtypes.is_int(in_dtypes[1]):
        raise TypeError(f"indices must be integers, got {in_dtypes[1]}")
    if attrs["counted"] and in_shapes[2] not in ((), None):
        raise ValueError("num_entries must be a scalar")
    return (idx[0],), in_dtypes[0]


def _gather_kernel(args, in_shapes, attrs, out_shape, out_dtype):
    dense, indices = args[0], args[1]
    count = int(args[2]) if attrs["counted"] else indices.shape[0]
    flat = check_sparse_indices(indices, count, dense.shape)
    out = np.zeros(out_shape, dtype=out_dtype)
    out[:count] = np.ravel(dense)[flat]
    return out


def _gather_reference(arrays, attrs, out_shape, out_dtype):
    dense, indices = arrays[0], arrays[1]
    count = int(arrays[2]) if attrs["counted"] else len(indices)
    out = np.zeros(out_shape, dtype=out_dtype)
    for row in range(count):
        out[row] = dense[tuple(int(i) for i in indices[row])]
    return out


SPARSE_GATHER = register(Op(
    "sparse_gather", KERNEL, _gather_infer, _gather_reference, kernel=_gather_kernel,
    doc="input 0 read at the first num_entries rows of COO indices (zeros in the padding "
        "rows): sparse_to_dense's gradient w.r.t. the values"))


def _to_dense_grad(node, g):
    counted = node.attrs["counted"]
    indices = node.inputs[0]
    inputs = (g, indices) + ((node.inputs[2],) if counted else ())
    values = node.graph.make(SPARSE_GATHER, inputs, {"counted": counted})
    return (None, values) + (None,) * (len(node.inputs) - 2)


def _gather_grad(node, g):
    counted = node.attrs["counted"]
    dense, indices = node.inputs[0], node.inputs[1]
    count = (node.inputs[2],) if counted else ()
    source = 2 + len(count)  # input index of `dense`, read for its shape
    scattered = node.graph.make(
        SPARSE_TO_DENSE, (indices, g) + count + (dense,),
        {"target": refs_of(source, len(dense.shape)), "counted": counted})
    return (scattered, None) + (None,) * len(count)


def _rows_values_grad(node, g):
    """values[k] = dense[r_k, c_k] for the first count entries: scatter g back there."""
    dense, lengths = node.inputs
    graph = node.graph
    idx = graph.make(ROWS_TO_SPARSE["indices"], (dense, lengths))
    count = graph.make(ROWS_TO_SPARSE["count"], (dense, lengths))
    scattered = graph.make(SPARSE_TO_DENSE, (idx, g, count, dense),
                           {"target": refs_of(3, 2), "counted": True})
    return scattered, None


define_grad(SPARSE_TO_DENSE, _to_dense_grad)
define_grad(SPARSE_GATHER, _gather_grad)
define_grad(ROWS_TO_SPARSE["values"], _rows_values_grad)
