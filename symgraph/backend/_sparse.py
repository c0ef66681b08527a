"""Sparse tensors in the Keras backend API: ``is_sparse`` and ``to_dense``. The
:class:`~symgraph.ops.sparse.SparseTensor` type and its limits are described in
:mod:`symgraph.ops.sparse`; ``K.eval`` of a sparse tensor returns it dense."""

from __future__ import annotations

from ..core.tensor import Tensor
from ..ops import sparse as _sparse
from ..ops.sparse import SparseTensor, SparseTensorValue  # noqa: F401  (re-exported)


def is_sparse(tensor) -> bool:
    """Whether ``tensor`` is a sparse tensor.

    Args:
        tensor: any object.

    Returns:
        True for a :class:`~symgraph.ops.sparse.SparseTensor`, False otherwise.

    Example:
        >>> import symgraph.backend as K
        >>> from symgraph.backend._sparse import SparseTensor, is_sparse
        >>> is_sparse(SparseTensor([[0, 1]], K.constant([2.0]), (2, 2)))
        True
        >>> is_sparse(K.constant([2.0]))
        False
    """
    return _sparse.is_sparse(tensor)


def to_dense(tensor) -> Tensor:
    """The dense version of a sparse tensor (zeros where it has no entry); a dense
    tensor is returned unchanged.

    Indices are checked before anything is written: an index outside the dense shape,
    a repeated index or indices out of row-major order raise an error naming the entry
    (TF's ``validate_indices=True``).

    Args:
        tensor: a sparse or dense tensor.

    Returns:
        A dense tensor of the values' dtype and the dense shape.

    Example:
        >>> import symgraph.backend as K
        >>> from symgraph.backend._sparse import SparseTensor, to_dense
        >>> sp = SparseTensor([[0, 0], [1, 2]], K.constant([1.0, 2.0]), (2, 3))
        >>> K.eval(to_dense(sp))
        array([[1., 0., 0.],
               [0., 0., 2.]], dtype=float32)
    """
    return _sparse.to_dense(tensor)
