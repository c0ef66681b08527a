"""Symbolic tensors: graph nodes with a static shape and dtype, and no data.

``Tensor`` is the node type of every op result; ``Placeholder``, ``Variable`` and
``Constant`` are the leaves. Nodes are treated as immutable once built (their
structural fields never change) and are stored once per graph (hash-consing), so
``x + y`` built twice is the same node. Python attributes may still be attached
(Keras sets ``_keras_history`` and friends).

``==`` and ``!=`` compare identity, as for TensorFlow graph tensors and Theano
variables, so tensors work as dict keys; use ``K.equal`` for elementwise equality.
"""

from __future__ import annotations

import hashlib
import threading
import types

import numpy as np

from . import services
from .shapes import shape_str

# attrs of the many nodes that have none share one read-only empty mapping
_NO_ATTRS = types.MappingProxyType({})


# The operators' builders are ops' (which stands above core: ``services``), rebound to
# ``ops.binary``/``ops.unary`` on their first call so that ``x * 2`` costs no lookup
# afterwards.
def _binary(name, a, b):
    global _binary
    _binary = services.provided("binary")
    return _binary(name, a, b)


def _unary(name, x):
    global _unary
    _unary = services.provided("unary")
    return _unary(name, x)


class Tensor:
    """A symbolic tensor: a node of a :class:`~symgraph.core.graph.Graph`.

    Attributes:
        shape: static shape, a tuple of ``int | None`` (``None`` if the rank is unknown).
        dtype: dtype name, e.g. ``'float32'``.
        name: unique name within the graph.
        op: the registry entry (``symgraph.ops.registry.Op``) that computes it.
        inputs: the tensors it is computed from.
        attrs: the op's static attributes (read-only mapping).

    Example:
        >>> import numpy as np, symgraph.backend as K
        >>> x = K.placeholder((None, 3), name="x")
        >>> y = K.sum(x * 2.0, axis=1)
        >>> y.shape, y.dtype, y.op.name, [t.op.name for t in y.inputs]
        ((None,), 'float32', 'sum', ['multiply'])
        >>> (K.constant([1.0, 2.0]) * 3 - 1).eval()   # operators build nodes too
        array([2., 5.], dtype=float32)
    """

    __array_ufunc__ = None  # numpy defers to our reflected operators
    __array_priority__ = 1000

    def __init__(self, graph, op, inputs, attrs, attrs_key, shape, dtype, name, location):
        self.graph = graph
        self.op = op
        self.inputs = inputs
        self.attrs = types.MappingProxyType(dict(attrs)) if attrs else _NO_ATTRS
        self.attrs_key = attrs_key
        self.shape = shape
        self.dtype = dtype
        self.name = name
        self.location = location
        self.id = -1

    # -- Keras/TF style accessors -------------------------------------------------
    @property
    def ndim(self) -> int | None:
        return None if self.shape is None else len(self.shape)

    def get_shape(self):
        return self.shape

    def __repr__(self) -> str:
        return (f"<symgraph.{type(self).__name__} '{self.name}' shape={shape_str(self.shape)} "
                f"dtype={self.dtype}>")

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other) -> bool:
        return self is other

    def __ne__(self, other) -> bool:
        return self is not other

    def __bool__(self) -> bool:
        from ..errors import docs_hint

        raise TypeError(
            f"the truth value of symbolic tensor '{self.name}' is not known at graph-build "
            "time; use K.switch or evaluate it with K.eval; "
            f"{docs_hint('errors', 'symbolic-tensors-in-python-code')}"
        )

    def __iter__(self):
        from ..errors import docs_hint

        raise TypeError(f"symbolic tensor '{self.name}' is not iterable; index it instead; "
                        f"{docs_hint('errors', 'symbolic-tensors-in-python-code')}")

    def __len__(self) -> int:
        if not self.shape or self.shape[0] is None:
            raise TypeError(f"len() of tensor '{self.name}' with shape {shape_str(self.shape)} "
                            "is not known at graph-build time")
        return self.shape[0]

    def eval(self):
        """Evaluate this tensor (``K.eval(self)``)."""
        return services.evaluate(self)

    # -- operators ------------------------------------------------------------------
    def __add__(self, other):
        return _binary("add", self, other)

    def __radd__(self, other):
        return _binary("add", other, self)

    def __sub__(self, other):
        return _binary("subtract", self, other)

    def __rsub__(self, other):
        return _binary("subtract", other, self)

    def __mul__(self, other):
        return _binary("multiply", self, other)

    def __rmul__(self, other):
        return _binary("multiply", other, self)

    def __truediv__(self, other):
        return _binary("true_divide", self, other)

    def __rtruediv__(self, other):
        return _binary("true_divide", other, self)

    def __floordiv__(self, other):
        return _binary("floor_divide", self, other)

    def __rfloordiv__(self, other):
        return _binary("floor_divide", other, self)

    def __mod__(self, other):
        return _binary("mod", self, other)

    def __rmod__(self, other):
        return _binary("mod", other, self)

    def __pow__(self, other):
        return _binary("power", self, other)

    def __rpow__(self, other):
        return _binary("power", other, self)

    def __matmul__(self, other):
        return services.provided("matmul")(self, other)

    def __rmatmul__(self, other):
        return services.provided("matmul")(other, self)

    def __neg__(self):
        return _unary("negative", self)

    def __pos__(self):
        return self

    def __abs__(self):
        return _unary("abs", self)

    def __invert__(self):
        return _unary("logical_not", self)

    def __and__(self, other):
        return _binary("logical_and", self, other)

    def __rand__(self, other):
        return _binary("logical_and", other, self)

    def __or__(self, other):
        return _binary("logical_or", self, other)

    def __ror__(self, other):
        return _binary("logical_or", other, self)

    def __lt__(self, other):
        return _binary("less", self, other)

    def __le__(self, other):
        return _binary("less_equal", self, other)

    def __gt__(self, other):
        return _binary("greater", self, other)

    def __ge__(self, other):
        return _binary("greater_equal", self, other)

    def __getitem__(self, key):
        return services.provided("getitem")(self, key)

    @property
    def T(self):  # noqa: N802  (NumPy's name)
        return services.provided("transpose")(self)

class Placeholder(Tensor):
    """A graph input: a shape with ``None`` for unknown dims, fed when a function runs.

    ``default`` (a NumPy array or ``None``) is the value used when a function does not
    take the placeholder as an input (TF's ``placeholder_with_default``; the learning
    phase is one).
    """

    default = None

class Constant(Tensor):
    """A tensor with a fixed value known at build time (stored read-only)."""

    @property
    def value(self) -> np.ndarray:
        return self.attrs["value"].array

class Variable(Tensor):
    """A mutable tensor holding data from creation on. Read with ``K.get_value``,
    write with ``K.set_value`` or through updates. ``trainable`` is True, as for a TF
    variable: Keras 2 tracks a variable set as a layer attribute by it."""

    def __init__(self, *args, value: np.ndarray, **kwargs):
        super().__init__(*args, **kwargs)
        self._value = value
        self._lock = threading.Lock()
        self.trainable = True

    @property
    def value(self) -> np.ndarray:
        return self._value

    def assign(self, value, take: bool = False) -> None:
        """Replace the variable's value (cast to its dtype; the shape must match).
        ``take``: ``value`` is a fresh buffer nobody else holds, so it is stored
        without a copy when it already has the right dtype, shape and layout."""
        if take and isinstance(value, np.ndarray) and value.dtype == self._value.dtype and \
                value.shape == self.shape and value.flags.c_contiguous and \
                value.flags.writeable and value.base is None:
            with self._lock:
                self._value = value
            return
        arr = np.array(value, dtype=self.dtype, copy=True)
        if arr.shape != self.shape:
            from ..errors import ShapeError

            raise ShapeError(
                f"cannot assign a value of shape {arr.shape} to variable '{self.name}' "
                f"of shape {shape_str(self.shape)}"
            )
        with self._lock:
            self._value = arr

class ConstValue:
    """A hashable wrapper of a constant's array: equal when dtype, shape and bytes are."""

    __slots__ = ("array", "_key")

    def __init__(self, array: np.ndarray):
        array = np.array(array, order="C", copy=True)  # ascontiguousarray makes 0-d 1-d
        array.flags.writeable = False
        self.array = array
        data = array.tobytes()
        if len(data) > 64:
            data = hashlib.sha256(data).digest()
        self._key = (array.dtype.str, array.shape, data)

    def __hash__(self) -> int:
        return hash(self._key)

    def __eq__(self, other) -> bool:
        return isinstance(other, ConstValue) and self._key == other._key

    def __repr__(self) -> str:
        if self.array.size <= 6:
            return np.array2string(self.array, separator=", ")
        return f"<{self.array.dtype} array {self.array.shape}>"

def is_tensor(x) -> bool:
    return isinstance(x, Tensor)
